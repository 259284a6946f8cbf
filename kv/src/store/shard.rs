//! One lock shard: the slice of every database whose keys hash to it, plus its counters.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::dict::Dict;
use crate::value::Value;

/// Estimated bytes per key beyond key and value data (entry struct, index slot, Arc header).
pub(crate) const ENTRY_OVERHEAD: usize = 96;

/// A stored key's value and metadata.
#[derive(Debug)]
pub(crate) struct Entry {
    pub value: Value,
    /// Unix ms after which the key is gone.
    pub expire_at: Option<u64>,
    /// Unix ms of the last access (approximate LRU).
    pub lru: u64,
    /// Bytes accounted for this entry.
    pub size: usize,
    /// The value is a compressed string (counted in [`Shard::compressed`]).
    pub compressed: bool,
}

impl Entry {
    /// True once the TTL has passed (Redis: `now > when`).
    pub fn expired(&self, now: u64) -> bool {
        self.expire_at.is_some_and(|at| now > at)
    }
}

/// The accounted size of an entry.
pub(crate) fn entry_size(key: &[u8], value: &Value) -> usize {
    ENTRY_OVERHEAD + key.len() + value.mem()
}

/// A watched key's modification counter and how many sessions watch it.
#[derive(Debug, Default)]
pub(crate) struct WatchSlot {
    pub version: u64,
    pub watchers: usize,
}

/// One database's keys within a shard.
#[derive(Debug, Default)]
pub(crate) struct Db {
    pub dict: Dict<Entry>,
    /// Keys with a TTL.
    pub volatile: usize,
    /// Where the expiry sweeper resumes.
    pub sweep_pos: usize,
    /// Keys some session WATCHes.
    pub watched: HashMap<Vec<u8>, WatchSlot>,
}

/// Counters reported by INFO, kept under the shard lock (no atomics on the hot path).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ShardStats {
    pub hits: u64,
    pub misses: u64,
    pub expired: u64,
    pub evicted: u64,
}

/// The data behind one shard lock.
#[derive(Debug)]
pub(crate) struct Shard {
    pub dbs: Vec<Db>,
    /// Bytes accounted for all entries of this shard.
    pub used: usize,
    /// Entries whose value is a compressed string.
    pub compressed: usize,
    pub stats: ShardStats,
    /// Keys expired or evicted since the last log write, for the append-only log's DELs.
    pub gone: Vec<(usize, Arc<[u8]>)>,
    /// Collect `gone` (only while an append-only log is kept).
    pub track_gone: bool,
}

impl Shard {
    /// An empty shard for `databases` databases.
    pub fn new(databases: usize) -> Shard {
        Shard {
            dbs: (0..databases).map(|_| Db::default()).collect(),
            used: 0,
            compressed: 0,
            stats: ShardStats::default(),
            gone: Vec::new(),
            track_gone: false,
        }
    }

    /// Notes that `key` of `db` expired or was evicted, so the log can record a DEL.
    pub fn note_gone(&mut self, db: usize, key: Arc<[u8]>) {
        if self.track_gone {
            self.gone.push((db, key));
        }
    }

    /// Marks `key` modified for WATCH.
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        let watched = &mut self.dbs[db].watched;
        if !watched.is_empty() {
            if let Some(slot) = watched.get_mut(key) {
                slot.version += 1;
            }
        }
    }

    /// Marks every watched key of `db` modified.
    pub fn touch_all(&mut self, db: usize) {
        for slot in self.dbs[db].watched.values_mut() {
            slot.version += 1;
        }
    }

    /// Stores `value` under `key`, replacing any entry; returns the old entry.
    pub fn insert(
        &mut self,
        db: usize,
        key: &[u8],
        value: Value,
        expire_at: Option<u64>,
        now: u64,
    ) -> Option<Entry> {
        let size = entry_size(key, &value);
        let compressed = value.is_compressed();
        let entry = Entry {
            value,
            expire_at,
            lru: now,
            size,
            compressed,
        };
        self.used += size;
        self.compressed += usize::from(compressed);
        let d = &mut self.dbs[db];
        d.volatile += usize::from(expire_at.is_some());
        let old = d.dict.insert(key, entry);
        if let Some(old) = &old {
            self.used -= old.size;
            self.compressed -= usize::from(old.compressed);
            d.volatile -= usize::from(old.expire_at.is_some());
        }
        self.touch(db, key);
        old
    }

    /// Removes `key`.
    pub fn remove(&mut self, db: usize, key: &[u8]) -> Option<Entry> {
        let pos = self.dbs[db].dict.position(key)?;
        Some(self.remove_at(db, pos).1)
    }

    /// Removes the entry at `pos` (which must exist).
    pub fn remove_at(&mut self, db: usize, pos: usize) -> (Arc<[u8]>, Entry) {
        let d = &mut self.dbs[db];
        let (key, entry) = d.dict.remove_at(pos);
        d.volatile -= usize::from(entry.expire_at.is_some());
        self.used -= entry.size;
        self.compressed -= usize::from(entry.compressed);
        self.touch(db, &key);
        (key, entry)
    }

    /// Deletes `key` if its TTL has passed; true if it did.
    pub fn expire_if_needed(&mut self, db: usize, key: &[u8], now: u64) -> bool {
        let d = &self.dbs[db];
        d.dict
            .position(key)
            .is_some_and(|pos| self.expire_at_if_needed(db, pos, now))
    }

    /// The position of `key` if it exists and has not expired (an expired key is deleted):
    /// one hash lookup for a command that reads and writes the same entry.
    pub fn live_position(&mut self, db: usize, key: &[u8], now: u64) -> Option<usize> {
        let pos = self.dbs[db].dict.position(key)?;
        (!self.expire_at_if_needed(db, pos, now)).then_some(pos)
    }

    fn expire_at_if_needed(&mut self, db: usize, pos: usize, now: u64) -> bool {
        let expired = self.dbs[db]
            .dict
            .at(pos)
            .is_some_and(|(_, e)| e.expired(now));
        if expired {
            let (key, _) = self.remove_at(db, pos);
            self.note_gone(db, key);
            self.stats.expired += 1;
        }
        expired
    }

    /// Recomputes the accounted size of the entry at `pos` after its value changed in place,
    /// and marks it modified for WATCH.
    pub fn changed_at(&mut self, db: usize, pos: usize) {
        let d = &mut self.dbs[db];
        let Some((key, entry)) = d.dict.at(pos) else {
            return;
        };
        let (size, old) = (entry_size(key, &entry.value), entry.size);
        let (compressed, was) = (entry.value.is_compressed(), entry.compressed);
        let watched_key = (!d.watched.is_empty()).then(|| Arc::clone(key));
        if let Some(entry) = d.dict.value_at_mut(pos) {
            entry.size = size;
            entry.compressed = compressed;
        }
        self.used = self.used + size - old;
        self.compressed = self.compressed + usize::from(compressed) - usize::from(was);
        if let Some(key) = watched_key {
            self.touch(db, &key);
        }
    }

    /// Sets or clears the TTL of an existing key; false when the key is missing.
    pub fn set_expire(&mut self, db: usize, key: &[u8], at: Option<u64>) -> bool {
        let d = &mut self.dbs[db];
        let Some(entry) = d.dict.get_mut(key) else {
            return false;
        };
        let before = usize::from(entry.expire_at.is_some());
        entry.expire_at = at;
        d.volatile = d.volatile + usize::from(at.is_some()) - before;
        self.touch(db, key);
        true
    }

    /// The live (not expired) entry of `key`, without side effects.
    pub fn live(&self, db: usize, key: &[u8], now: u64) -> Option<&Entry> {
        self.dbs[db].dict.get(key).filter(|e| !e.expired(now))
    }

    /// Deletes every key of `db`; returns how many there were.
    pub fn flush(&mut self, db: usize) -> usize {
        let d = &mut self.dbs[db];
        let drained = d.dict.drain();
        d.volatile = 0;
        d.sweep_pos = 0;
        for (_, entry) in &drained {
            self.used -= entry.size;
            self.compressed -= usize::from(entry.compressed);
        }
        self.touch_all(db);
        drained.len()
    }
}

/// A shard's lock plus a lock-free copy of its used bytes (for the maxmemory check).
#[derive(Debug)]
pub(crate) struct ShardSlot {
    pub lock: Mutex<Shard>,
    pub used: AtomicUsize,
}

impl ShardSlot {
    /// An empty slot.
    pub fn new(databases: usize) -> ShardSlot {
        ShardSlot {
            lock: Mutex::new(Shard::new(databases)),
            used: AtomicUsize::new(0),
        }
    }

    /// Locks the shard (a poisoned lock is taken over: the data is still consistent enough to
    /// serve, and one panicking command must not take the whole store down).
    pub fn lock(&self) -> ShardGuard<'_> {
        ShardGuard {
            slot: self,
            guard: self.lock.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }
}

/// A held shard lock that publishes the shard's used bytes when released.
pub(crate) struct ShardGuard<'s> {
    slot: &'s ShardSlot,
    guard: MutexGuard<'s, Shard>,
}

impl Deref for ShardGuard<'_> {
    type Target = Shard;
    fn deref(&self) -> &Shard {
        &self.guard
    }
}

impl DerefMut for ShardGuard<'_> {
    fn deref_mut(&mut self) -> &mut Shard {
        &mut self.guard
    }
}

impl Drop for ShardGuard<'_> {
    fn drop(&mut self) {
        self.slot.used.store(self.guard.used, Ordering::Relaxed);
    }
}

/// The shard locks a command holds, sorted by shard index.
#[derive(Default)]
pub(crate) struct Guards<'s> {
    held: Vec<(usize, ShardGuard<'s>)>,
    all: bool,
}

impl<'s> Guards<'s> {
    /// Locks the given shards in ascending order (the order that makes multi-shard locking
    /// deadlock-free).
    pub fn lock(slots: &'s [ShardSlot], mut indexes: Vec<usize>) -> Guards<'s> {
        indexes.sort_unstable();
        indexes.dedup();
        let all = indexes.len() == slots.len();
        let held = indexes.into_iter().map(|i| (i, slots[i].lock())).collect();
        Guards { held, all }
    }

    /// Locks every shard.
    pub fn lock_all(slots: &'s [ShardSlot]) -> Guards<'s> {
        Guards::lock(slots, (0..slots.len()).collect())
    }

    fn find(&self, index: usize) -> Option<usize> {
        if self.all {
            return Some(index);
        }
        self.held.binary_search_by_key(&index, |(i, _)| *i).ok()
    }

    /// Shard `index`, if held.
    pub fn get(&self, index: usize) -> Option<&Shard> {
        self.find(index).map(|pos| &*self.held[pos].1)
    }

    /// Shard `index` mutably, if held.
    pub fn get_mut(&mut self, index: usize) -> Option<&mut Shard> {
        self.find(index).map(move |pos| &mut *self.held[pos].1)
    }

    /// Every held shard.
    pub fn iter(&self) -> impl Iterator<Item = &Shard> {
        self.held.iter().map(|(_, g)| &**g)
    }

    /// Every held shard, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ShardGuard<'s>> {
        self.held.iter_mut().map(|(_, g)| g)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounting_follows_insert_resize_remove() {
        let mut shard = Shard::new(2);
        let abc = crate::value::StrValue::Raw(b"abc".to_vec());
        shard.insert(0, b"k", Value::Str(abc), Some(10), 0);
        assert_eq!(shard.used, ENTRY_OVERHEAD + 4);
        assert_eq!(shard.dbs[0].volatile, 1);
        if let Some(Value::Str(s)) = shard.dbs[0].dict.get_mut(b"k").map(|e| &mut e.value) {
            s.edit(None, |b| b.extend_from_slice(b"defg")).unwrap();
        }
        let pos = shard.live_position(0, b"k", 0).expect("k is live");
        shard.changed_at(0, pos);
        assert_eq!(shard.used, ENTRY_OVERHEAD + 8);
        assert!(shard.expire_if_needed(0, b"k", 11));
        assert_eq!(shard.used, 0);
        assert_eq!(shard.dbs[0].volatile, 0);
        assert_eq!(shard.stats.expired, 1);
    }
}
