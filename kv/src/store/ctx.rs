//! The view a command runs against: the shards it locked, its session, and one frozen clock
//! reading. Every read and write of the keyspace goes through here, which keeps lazy expiry,
//! LRU stamps, memory accounting, WATCH versions and hit/miss counters in one place.

use std::time::Duration;

use super::{Entry, Guards, Shard, Store};
use crate::error::KvError;
use crate::persist::Record;
use crate::session::Session;
use crate::value::{Kind, Value};

/// A running command's access to the store.
pub(crate) struct Ctx<'s, 'a> {
    pub store: &'s Store,
    pub session: &'a mut Session,
    guards: Guards<'s>,
    /// The command's notion of now (Unix ms), fixed for its whole run.
    pub now: u64,
    /// Inside MULTI/EXEC or [`Store::atomic`]: blocking commands answer at once.
    pub atomic: bool,
    /// Set by a blocking command that found nothing: its timeout (`None`: forever).
    pub block: Option<Option<Duration>>,
    woken: Vec<usize>,
    /// Append-only log records of what the command changed, written when it finishes.
    log: Vec<Record>,
}

impl<'s, 'a> Ctx<'s, 'a> {
    /// A context over `guards`.
    pub fn new(
        store: &'s Store,
        session: &'a mut Session,
        guards: Guards<'s>,
        atomic: bool,
    ) -> Ctx<'s, 'a> {
        Ctx {
            now: store.now_ms(),
            store,
            session,
            guards,
            atomic,
            block: None,
            woken: Vec::new(),
            log: Vec::new(),
        }
    }

    /// A context with a given clock reading (transactions freeze time).
    pub fn at(mut self, now: u64) -> Self {
        self.now = now;
        self
    }

    /// Releases the locks, then wakes blocked clients of lists that were pushed to. A log
    /// failure is reported by the store's logger; use [`Ctx::commit`] to see it.
    pub fn finish(self) {
        let _ = self.commit();
    }

    /// Writes the context's log records (with the locks still held), releases the locks,
    /// wakes blocked clients, and under `appendfsync always` fsyncs before returning.
    pub fn commit(self) -> Result<(), KvError> {
        let Ctx {
            store,
            mut guards,
            woken,
            log,
            ..
        } = self;
        let appended = match &store.persist {
            Some(p) => p.append(guards.iter_mut().map(|g| &mut **g), log),
            None => Ok(None),
        };
        drop(guards);
        store.wake(&woken);
        match (appended?, &store.persist) {
            (Some(end), Some(p)) => p.sync(end),
            _ => Ok(()),
        }
    }

    /// Adds a log record in the current database (no-op without persistence).
    pub fn record(&mut self, args: Vec<Vec<u8>>) {
        if self.store.logs_writes() {
            let db = self.db();
            self.log.push((db, args));
        }
    }

    /// The log records so far, for a transaction that keeps the locks.
    pub fn take_log(&mut self) -> Vec<Record> {
        std::mem::take(&mut self.log)
    }

    /// The locks and the databases to wake, for a caller that keeps the locks.
    pub fn into_parts(self) -> (Guards<'s>, Vec<usize>) {
        (self.guards, self.woken)
    }

    /// The selected database.
    pub fn db(&self) -> usize {
        self.session.db
    }

    /// Records that a list in the current database was pushed to.
    pub fn wake_lists(&mut self) {
        let db = self.db();
        if !self.woken.contains(&db) {
            self.woken.push(db);
        }
    }

    /// Records that lists in `db` may have appeared.
    pub fn wake_db(&mut self, db: usize) {
        if !self.woken.contains(&db) {
            self.woken.push(db);
        }
    }

    /// Drops the session's WATCHes (the key spec locked their shards).
    pub fn unwatch(&mut self) {
        self.store.unwatch_in(&mut self.guards, self.session);
    }

    /// The held locks.
    pub fn guards(&self) -> &Guards<'s> {
        &self.guards
    }

    /// The held locks, mutably.
    pub fn guards_mut(&mut self) -> &mut Guards<'s> {
        &mut self.guards
    }

    /// The shard of `key`. Holding it is guaranteed by the command table's key spec; a miss is a
    /// bug in the table, not something input can cause.
    pub fn shard_mut(&mut self, key: &[u8]) -> &mut Shard {
        let index = self.store.shard_of(key);
        self.guards
            .get_mut(index)
            .expect("command key spec locks every key it touches")
    }

    /// The shard of `key`, shared.
    pub fn shard(&self, key: &[u8]) -> &Shard {
        let index = self.store.shard_of(key);
        self.guards
            .get(index)
            .expect("command key spec locks every key it touches")
    }

    /// Lazily expires `key`; true when it exists afterwards.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        let (db, now) = (self.db(), self.now);
        let shard = self.shard_mut(key);
        shard.expire_if_needed(db, key, now);
        shard.dbs[db].dict.contains(key)
    }

    /// Reads `key` as a `T`: `Ok(None)` when missing, WRONGTYPE when another type.
    pub fn read<T: Kind, R>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&T) -> R,
    ) -> Result<Option<R>, KvError> {
        let (db, now) = (self.db(), self.now);
        let shard = self.shard_mut(key);
        let pos = shard.live_position(db, key, now);
        match pos.and_then(|pos| shard.dbs[db].dict.value_at_mut(pos)) {
            Some(entry) => {
                entry.lru = now;
                shard.stats.hits += 1;
                T::of(&entry.value)
                    .map(f)
                    .ok_or(KvError::WrongType)
                    .map(Some)
            }
            None => {
                shard.stats.misses += 1;
                Ok(None)
            }
        }
    }

    /// Changes `key` as a `T` in place. A missing key is created empty first when `create`
    /// (and only stored if `f` left something in it); otherwise `Ok(None)`. A collection left
    /// empty is deleted, like Redis.
    pub fn write<T: Kind, R>(
        &mut self,
        key: &[u8],
        create: bool,
        f: impl FnOnce(&mut T) -> R,
    ) -> Result<Option<R>, KvError> {
        let (db, now) = (self.db(), self.now);
        let shard = self.shard_mut(key);
        let pos = shard.live_position(db, key, now);
        let (pos, result) = match pos.and_then(|p| Some((p, shard.dbs[db].dict.value_at_mut(p)?))) {
            Some((pos, entry)) => {
                entry.lru = now;
                let value = T::of_mut(&mut entry.value).ok_or(KvError::WrongType)?;
                (pos, f(value))
            }
            None if create => {
                let mut value = T::empty();
                let Some(inner) = T::of_mut(&mut value) else {
                    return Err(KvError::WrongType);
                };
                let result = f(inner);
                if !value.is_empty_collection() {
                    shard.insert(db, key, value, None, now);
                }
                return Ok(Some(result));
            }
            None => return Ok(None),
        };
        let empty = shard.dbs[db]
            .dict
            .at(pos)
            .is_some_and(|(_, e)| e.value.is_empty_collection());
        if empty {
            shard.remove_at(db, pos);
        } else {
            shard.changed_at(db, pos);
        }
        Ok(Some(result))
    }

    /// Fails with WRONGTYPE unless `key` is missing or a `T`; true when it exists.
    pub fn check<T: Kind>(&mut self, key: &[u8]) -> Result<bool, KvError> {
        let (db, now) = (self.db(), self.now);
        self.shard_mut(key).expire_if_needed(db, key, now);
        Ok(self.peek::<T>(key)?.is_some())
    }

    /// Lazily expires each key so that [`Ctx::peek`] can borrow several at once.
    pub fn prepare<'k>(&mut self, keys: impl IntoIterator<Item = &'k [u8]>) {
        let (db, now) = (self.db(), self.now);
        for key in keys {
            self.shard_mut(key).expire_if_needed(db, key, now);
        }
    }

    /// Borrows `key` as a `T` without side effects (expired keys read as missing).
    pub fn peek<T: Kind>(&self, key: &[u8]) -> Result<Option<&T>, KvError> {
        match self.shard(key).live(self.db(), key, self.now) {
            Some(entry) => T::of(&entry.value).ok_or(KvError::WrongType).map(Some),
            None => Ok(None),
        }
    }

    /// The TYPE of `key`.
    pub fn type_name(&mut self, key: &[u8]) -> Option<&'static str> {
        self.read::<Value, _>(key, |v| v.type_name()).ok().flatten()
    }

    /// Deletes `key`; returns its entry when it existed (and had not expired).
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let (db, now) = (self.db(), self.now);
        let shard = self.shard_mut(key);
        shard.expire_if_needed(db, key, now);
        shard.remove(db, key)
    }

    /// Stores `value` under `key` with a TTL (absolute Unix ms), replacing anything there.
    pub fn insert(&mut self, key: &[u8], value: Value, expire_at: Option<u64>) {
        let (db, now) = (self.db(), self.now);
        let shard = self.shard_mut(key);
        shard.insert(db, key, value, expire_at, now);
    }

    /// The TTL of `key` (absolute Unix ms): `None` when missing, `Some(None)` without TTL.
    pub fn expire_at(&mut self, key: &[u8]) -> Option<Option<u64>> {
        let (db, now) = (self.db(), self.now);
        let shard = self.shard_mut(key);
        shard.expire_if_needed(db, key, now);
        shard.dbs[db].dict.get(key).map(|e| e.expire_at)
    }

    /// Sets or clears the TTL of an existing key; false when missing.
    pub fn set_expire(&mut self, key: &[u8], at: Option<u64>) -> bool {
        let (db, now) = (self.db(), self.now);
        let shard = self.shard_mut(key);
        shard.expire_if_needed(db, key, now);
        shard.set_expire(db, key, at)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::clock::ManualClock;
    use crate::value::{ListValue, Value};
    use crate::{Session, Store, StoreConfig};

    use super::Ctx;

    #[test]
    fn write_deletes_emptied_collections_and_accounts_memory() {
        let clock = Arc::new(ManualClock::new(1000));
        let store = Store::with_clock(StoreConfig::default(), clock.clone());
        let mut session = Session::internal(0);
        let guards = store.lock_all();
        let mut ctx = Ctx::new(&store, &mut session, guards, true);
        ctx.write::<ListValue, _>(b"l", true, |l| l.push(true, b"x".to_vec()))
            .unwrap();
        assert!(ctx.exists(b"l"));
        ctx.write::<ListValue, _>(b"l", false, |l| l.pop(true))
            .unwrap();
        assert!(!ctx.exists(b"l"));
        let v = crate::value::StrValue::Raw(b"v".to_vec());
        ctx.insert(b"s", Value::Str(v), Some(1500));
        assert_eq!(
            ctx.write::<ListValue, _>(b"s", true, |_| ()),
            Err(crate::KvError::WrongType)
        );
        ctx.now = 2000;
        assert!(!ctx.exists(b"s"));
        ctx.finish();
        assert_eq!(store.used_memory(), 0);
    }
}
