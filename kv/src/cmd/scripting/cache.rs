//! The store's script cache: every script loaded with SCRIPT LOAD or run with EVAL, by SHA1,
//! plus the script time limit.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use sha1::{Digest, Sha1};

/// Redis's default busy-script threshold (`busy-reply-threshold`, formerly `lua-time-limit`).
pub(crate) const DEFAULT_TIME_LIMIT: Duration = Duration::from_secs(5);

/// Script sources by lower-case hex SHA1, shared by every connection of a store. Like Redis
/// 7.0 it only forgets scripts on SCRIPT FLUSH.
#[derive(Debug)]
pub(crate) struct ScriptCache {
    scripts: Mutex<HashMap<String, Arc<[u8]>>>,
    time_limit_ms: AtomicU64,
    /// Scripts running right now (each holds every shard).
    pub(crate) running: AtomicUsize,
}

impl Default for ScriptCache {
    fn default() -> ScriptCache {
        ScriptCache {
            scripts: Mutex::new(HashMap::new()),
            time_limit_ms: AtomicU64::new(DEFAULT_TIME_LIMIT.as_millis() as u64),
            running: AtomicUsize::new(0),
        }
    }
}

impl ScriptCache {
    fn scripts(&self) -> MutexGuard<'_, HashMap<String, Arc<[u8]>>> {
        self.scripts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Remembers `body` under its SHA1 `sha`.
    pub(crate) fn insert(&self, sha: &str, body: &[u8]) {
        let mut scripts = self.scripts();
        if !scripts.contains_key(sha) {
            scripts.insert(sha.to_owned(), Arc::from(body));
        }
    }

    /// The source of script `sha` (lower-case hex).
    pub(crate) fn get(&self, sha: &str) -> Option<Arc<[u8]>> {
        self.scripts().get(sha).cloned()
    }

    /// True when script `sha` is cached.
    pub(crate) fn contains(&self, sha: &str) -> bool {
        self.scripts().contains_key(sha)
    }

    /// Forgets every script (SCRIPT FLUSH).
    pub(crate) fn flush(&self) {
        self.scripts().clear();
    }

    /// How long a script may run before it is killed.
    pub(crate) fn time_limit(&self) -> Duration {
        Duration::from_millis(self.time_limit_ms.load(Ordering::Relaxed))
    }

    /// Changes the time limit for scripts started from now on.
    pub(crate) fn set_time_limit(&self, limit: Duration) {
        let ms = u64::try_from(limit.as_millis()).unwrap_or(u64::MAX).max(1);
        self.time_limit_ms.store(ms, Ordering::Relaxed);
    }
}

/// The lower-case hex SHA1 of `data`, as SCRIPT LOAD and `redis.sha1hex` answer it.
pub(crate) fn sha1_hex(data: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha1::digest(data);
    let mut out = String::with_capacity(40);
    for byte in digest {
        out.push(char::from(HEX[usize::from(byte >> 4)]));
        out.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_matches_redis() {
        // `redis-cli SCRIPT LOAD "return 1"` and `redis.sha1hex("")`.
        assert_eq!(
            sha1_hex(b"return 1"),
            "e0e1f9fabfc9d4800c877a703b823ac0578ff8db"
        );
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }

    #[test]
    fn insert_get_flush() {
        let cache = ScriptCache::default();
        let sha = sha1_hex(b"return 1");
        assert!(!cache.contains(&sha));
        cache.insert(&sha, b"return 1");
        assert_eq!(cache.get(&sha).as_deref(), Some(&b"return 1"[..]));
        cache.flush();
        assert!(cache.get(&sha).is_none());
    }

    #[test]
    fn time_limit_defaults_to_five_seconds() {
        let cache = ScriptCache::default();
        assert_eq!(cache.time_limit(), Duration::from_secs(5));
        cache.set_time_limit(Duration::from_millis(20));
        assert_eq!(cache.time_limit(), Duration::from_millis(20));
    }
}
