//! MySQL's named locks (`GET_LOCK`, `RELEASE_LOCK`, `IS_FREE_LOCK`), shared by all sessions of
//! a backend. A session may hold several locks and take the same lock again (it then needs as
//! many releases); its locks go when the session ends.

use std::collections::HashMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The longest `GET_LOCK` wait; a negative timeout ("forever") waits this long.
const MAX_WAIT: Duration = Duration::from_secs(365 * 24 * 3600);

/// The lock table.
#[derive(Debug, Default)]
pub struct NamedLocks {
    held: Mutex<HashMap<String, Holder>>,
    released: Condvar,
}

/// Who holds a lock, and how many times.
#[derive(Debug, Clone, Copy)]
struct Holder {
    session: u64,
    count: u32,
}

impl NamedLocks {
    fn table(&self) -> MutexGuard<'_, HashMap<String, Holder>> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `GET_LOCK(name, timeout)`: true once `session` holds the lock, false when `timeout`
    /// (`None`: no limit) passes first.
    pub fn acquire(&self, name: &str, session: u64, timeout: Option<Duration>) -> bool {
        let key = name.to_lowercase();
        let deadline = Instant::now() + timeout.unwrap_or(MAX_WAIT).min(MAX_WAIT);
        let mut table = self.table();
        loop {
            match table.get_mut(&key) {
                None => {
                    table.insert(key, Holder { session, count: 1 });
                    return true;
                }
                Some(holder) if holder.session == session => {
                    holder.count = holder.count.saturating_add(1);
                    return true;
                }
                Some(_) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            table = match self.released.wait_timeout(table, deadline - now) {
                Ok((table, _)) => table,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
    }

    /// `RELEASE_LOCK(name)`: `Some(true)` when released (or one level of it), `Some(false)`
    /// when another session holds it, `None` when nobody does.
    pub fn release(&self, name: &str, session: u64) -> Option<bool> {
        let key = name.to_lowercase();
        let mut table = self.table();
        let holder = table.get_mut(&key)?;
        if holder.session != session {
            return Some(false);
        }
        holder.count -= 1;
        if holder.count == 0 {
            table.remove(&key);
            self.released.notify_all();
        }
        Some(true)
    }

    /// `IS_FREE_LOCK(name)`.
    pub fn is_free(&self, name: &str) -> bool {
        !self.table().contains_key(&name.to_lowercase())
    }

    /// Releases every lock `session` holds.
    pub fn release_all(&self, session: u64) {
        let mut table = self.table();
        let before = table.len();
        table.retain(|_, holder| holder.session != session);
        if table.len() != before {
            self.released.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn locks_are_exclusive_and_reentrant() {
        let locks = NamedLocks::default();
        assert!(locks.acquire("Job", 1, Some(Duration::ZERO)));
        assert!(
            locks.acquire("job", 1, Some(Duration::ZERO)),
            "same session, same lock"
        );
        assert!(!locks.acquire("JOB", 2, Some(Duration::from_millis(10))));
        assert!(!locks.is_free("job"));
        assert_eq!(locks.release("job", 2), Some(false));
        assert_eq!(locks.release("job", 1), Some(true));
        assert!(!locks.is_free("job"), "taken twice, released once");
        assert_eq!(locks.release("job", 1), Some(true));
        assert!(locks.is_free("job"));
        assert_eq!(locks.release("job", 1), None);
    }

    #[test]
    fn waiters_get_the_lock_when_it_is_released() {
        let locks = Arc::new(NamedLocks::default());
        assert!(locks.acquire("cron", 1, None));
        let waiter = {
            let locks = Arc::clone(&locks);
            std::thread::spawn(move || locks.acquire("cron", 2, Some(Duration::from_secs(10))))
        };
        std::thread::sleep(Duration::from_millis(20));
        locks.release_all(1);
        assert!(waiter.join().unwrap());
        assert!(!locks.is_free("cron"));
    }
}
