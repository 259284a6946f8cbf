//! `max_connections` for a listener: a count shared by every core (and thread) accepting on
//! it, so the limit holds for the process however the kernel spreads connections.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::logging::RateLimit;

/// How a listener's connections are counted. Cheap to clone; clones share the count.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionLimit {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// What the listener is called in the log ("HTTP", "KV", ...).
    name: &'static str,
    max: usize,
    active: AtomicUsize,
    /// Connections refused for being over the limit, ever.
    refused: AtomicU64,
    /// A flood of refusals logs once a second.
    warnings: RateLimit,
}

/// One counted connection; the count goes down when it is dropped.
#[derive(Debug)]
pub(crate) struct ConnectionPermit {
    inner: Arc<Inner>,
}

impl ConnectionLimit {
    /// A limit of `max` connections (at least 1) for the listener called `name`.
    pub(crate) fn new(name: &'static str, max: usize) -> ConnectionLimit {
        ConnectionLimit {
            inner: Arc::new(Inner {
                name,
                max: max.max(1),
                active: AtomicUsize::new(0),
                refused: AtomicU64::new(0),
                warnings: RateLimit::new(),
            }),
        }
    }

    /// Counts a new connection, or returns None (and warns, at most once a second) when the
    /// listener is at its limit: the caller refuses the connection.
    pub(crate) fn try_acquire(&self) -> Option<ConnectionPermit> {
        let inner = &self.inner;
        let admitted = inner
            .active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < inner.max).then_some(n + 1)
            })
            .is_ok();
        if admitted {
            return Some(ConnectionPermit {
                inner: Arc::clone(inner),
            });
        }
        inner.refused.fetch_add(1, Ordering::Relaxed);
        self.warn();
        None
    }

    /// The listener's name, as in the log ("HTTP", "KV", "node API").
    pub(crate) fn name(&self) -> &'static str {
        self.inner.name
    }

    /// The limit.
    pub(crate) fn max(&self) -> usize {
        self.inner.max
    }

    /// Connections open now.
    pub(crate) fn active(&self) -> usize {
        self.inner.active.load(Ordering::Acquire)
    }

    /// Connections refused so far.
    pub(crate) fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    fn warn(&self) {
        if self.inner.warnings.should_log() {
            log::warn!(
                "{} listener: max_connections ({}) reached, refusing new connections",
                self.inner.name,
                self.inner.max
            );
        }
    }
}

impl Drop for ConnectionPermit {
    fn drop(&mut self) {
        self.inner.active.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_up_to_the_limit_and_frees_on_drop() {
        let limit = ConnectionLimit::new("test", 2);
        let first = limit.try_acquire().expect("first");
        let second = limit.clone().try_acquire().expect("second");
        assert!(limit.try_acquire().is_none());
        assert_eq!(limit.active(), 2);
        drop(first);
        let third = limit.try_acquire().expect("a freed slot");
        assert!(limit.try_acquire().is_none());
        drop((second, third));
        assert_eq!(limit.active(), 0);
        assert_eq!((limit.refused(), limit.max(), limit.name()), (2, 2, "test"));
    }
}
