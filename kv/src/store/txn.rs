//! [`Txn`]: a batch of commands run with every shard locked.

use super::{Ctx, Guards, Store};
use crate::persist::Record;
use crate::resp::Reply;
use crate::session::Session;

/// All shards of a store, locked: commands run through [`Txn::execute`] see and leave a
/// consistent state no other client can observe half-way. Time is frozen at the moment the
/// transaction started (like Redis inside MULTI/EXEC and scripts). Clients blocked on lists
/// pushed to inside the transaction are woken when it ends.
pub struct Txn<'s> {
    store: &'s Store,
    guards: Guards<'s>,
    woken: Vec<usize>,
    now: u64,
    log: Vec<Record>,
}

impl<'s> Txn<'s> {
    pub(crate) fn new(store: &'s Store) -> Txn<'s> {
        Txn {
            store,
            guards: store.lock_all(),
            woken: Vec::new(),
            now: store.now_ms(),
            log: Vec::new(),
        }
    }

    /// The transaction with its clock reading `now` (log replay runs at 0).
    pub(crate) fn at(mut self, now: u64) -> Txn<'s> {
        self.now = now;
        self
    }

    /// Runs one command inside the transaction as `session` and returns its reply. Blocking
    /// commands answer at once (nil when nothing is there); connection-level commands (MULTI,
    /// EXEC, SUBSCRIBE, ...) are refused.
    pub fn execute(&mut self, session: &mut Session, args: &[Vec<u8>]) -> Reply {
        crate::cmd::execute_in_txn(self, session, args)
    }

    /// The store.
    pub(crate) fn store(&self) -> &'s Store {
        self.store
    }

    /// The held locks.
    pub(crate) fn guards_mut(&mut self) -> &mut Guards<'s> {
        &mut self.guards
    }

    /// A command context over the transaction's locks; give it back with [`Txn::restore`].
    pub(crate) fn ctx<'a>(&mut self, session: &'a mut Session) -> Ctx<'s, 'a> {
        let guards = std::mem::take(&mut self.guards);
        Ctx::new(self.store, session, guards, true).at(self.now)
    }

    /// Takes the locks back from a context made by [`Txn::ctx`].
    pub(crate) fn restore(&mut self, mut ctx: Ctx<'s, '_>) {
        self.log.append(&mut ctx.take_log());
        let (guards, woken) = ctx.into_parts();
        self.guards = guards;
        for db in woken {
            if !self.woken.contains(&db) {
                self.woken.push(db);
            }
        }
    }
}

impl Drop for Txn<'_> {
    /// Logs the transaction's writes as one MULTI/EXEC group before releasing the locks;
    /// under `appendfsync always` fsyncs before the caller gets its result. A log failure
    /// is reported by the store's logger (and makes later writes fail with MISCONF).
    fn drop(&mut self) {
        let persist = self.store.persist.as_ref();
        let log = std::mem::take(&mut self.log);
        let guards = &mut self.guards;
        let appended = persist.map(|p| p.append(guards.iter_mut().map(|g| &mut **g), log));
        drop(std::mem::take(&mut self.guards));
        self.store.wake(&self.woken);
        if let (Some(p), Some(Ok(Some(end)))) = (persist, appended) {
            let _ = p.sync(end);
        }
    }
}
