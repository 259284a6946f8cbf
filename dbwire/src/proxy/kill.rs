//! `KILL` through the proxy. Clients name the thread ids ePHPm's greeting gave them, which the
//! backend does not know (and which may be the id of some other pooled connection there), so
//! the proxy answers `KILL` itself: it marks the named session killed and, when that session is
//! running a statement, kills the statement on the backend connection it runs on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use super::pool::Pool;

/// What a client session is doing, as a `KILL` from another session sees it.
#[derive(Debug, Default)]
pub struct SessionHandle {
    /// The backend connection (its pool and thread id) running the session's statement.
    running_on: Mutex<Option<(Arc<Pool>, u32)>>,
    killed: AtomicBool,
}

impl SessionHandle {
    /// Records the backend connection a statement runs on (`None` once it is done).
    pub fn set_running(&self, running: Option<(Arc<Pool>, u32)>) {
        *lock(&self.running_on) = running;
    }

    /// The backend connection running the session's statement, if one is.
    pub fn running(&self) -> Option<(Arc<Pool>, u32)> {
        lock(&self.running_on).clone()
    }

    /// Marks the session killed: its client connection ends.
    pub fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
    }

    /// True once the session was killed.
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed)
    }
}

/// Every client session of the proxy, by the thread id its greeting announced.
#[derive(Debug, Default)]
pub struct Sessions {
    by_id: Mutex<HashMap<u32, Weak<SessionHandle>>>,
}

impl Sessions {
    /// A handle for the session of thread `id` (replacing one that connection had before
    /// COM_RESET_CONNECTION or COM_CHANGE_USER).
    pub fn register(&self, id: u32) -> Arc<SessionHandle> {
        let handle = Arc::new(SessionHandle::default());
        lock(&self.by_id).insert(id, Arc::downgrade(&handle));
        handle
    }

    /// The live session of thread `id`.
    pub fn get(&self, id: u32) -> Option<Arc<SessionHandle>> {
        lock(&self.by_id).get(&id).and_then(Weak::upgrade)
    }

    /// Forgets thread `id` once its session is gone (not a successor registered under it).
    pub fn forget(&self, id: u32) {
        let mut by_id = lock(&self.by_id);
        if by_id
            .get(&id)
            .is_some_and(|handle| handle.strong_count() == 0)
        {
            by_id.remove(&id);
        }
    }
}

/// A parsed `KILL [HARD | SOFT] [CONNECTION | QUERY [ID]] id`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kill {
    /// The thread id named.
    pub id: u64,
    /// `KILL QUERY`: only the running statement.
    pub query_only: bool,
}

/// The `KILL` statement `sql` is, if it is one the proxy answers (`KILL USER` is not).
pub fn parse(sql: &str) -> Option<Kill> {
    let sql = sql.trim().trim_end_matches(';').trim_end();
    let mut words = sql.split_ascii_whitespace().peekable();
    if !words.next()?.eq_ignore_ascii_case("KILL") {
        return None;
    }
    let mut skip = |word: &str| {
        words
            .next_if(|next| next.eq_ignore_ascii_case(word))
            .is_some()
    };
    let _ = skip("HARD") || skip("SOFT");
    let query_only = if skip("QUERY") {
        let _ = skip("ID");
        true
    } else {
        let _ = skip("CONNECTION");
        false
    };
    let id = words.next()?.parse().ok()?;
    words.next().is_none().then_some(Kill { id, query_only })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kill_statements() {
        let kill = |id, query_only| Some(Kill { id, query_only });
        assert_eq!(parse("KILL 7"), kill(7, false));
        assert_eq!(parse("kill connection 7;"), kill(7, false));
        assert_eq!(parse("KILL HARD QUERY 12"), kill(12, true));
        assert_eq!(parse("KILL QUERY ID 12"), kill(12, true));
        assert_eq!(parse("KILL USER app"), None);
        assert_eq!(parse("KILL 7 8"), None);
        assert_eq!(parse("SELECT 1"), None);
    }

    #[test]
    fn a_successor_keeps_its_registration() {
        let sessions = Sessions::default();
        let first = sessions.register(3);
        let second = sessions.register(3);
        drop(first);
        sessions.forget(3);
        assert!(sessions.get(3).is_some());
        drop(second);
        sessions.forget(3);
        assert!(sessions.get(3).is_none());
    }
}
