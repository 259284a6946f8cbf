//! maxmemory enforcement: approximate LRU / TTL eviction by sampling (like Redis: a few random
//! keys per shard, evict the best candidate), and random eviction.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Guards, Shard, Store};
use crate::config::EvictionPolicy;
use crate::error::KvError;
use crate::rng;

/// Keys sampled per shard and database when looking for an eviction candidate.
const SAMPLES: usize = 5;

/// How eviction reaches shards: locking each in turn, or through locks already held.
pub(crate) trait ShardAccess {
    /// Runs `f` on shard `index`; `None` if it is not reachable.
    fn with_shard<R>(&mut self, index: usize, f: impl FnOnce(&mut Shard) -> R) -> Option<R>;
    /// Bytes used now.
    fn used(&mut self) -> usize;
}

/// Locks one shard at a time.
pub(crate) struct LockEach<'s>(pub &'s Store);

impl ShardAccess for LockEach<'_> {
    fn with_shard<R>(&mut self, index: usize, f: impl FnOnce(&mut Shard) -> R) -> Option<R> {
        let mut guard = self.0.slots.get(index)?.lock();
        let result = f(&mut guard);
        self.0.log_gone(&mut guard);
        Some(result)
    }

    fn used(&mut self) -> usize {
        self.0.used_memory()
    }
}

impl ShardAccess for Guards<'_> {
    fn with_shard<R>(&mut self, index: usize, f: impl FnOnce(&mut Shard) -> R) -> Option<R> {
        self.get_mut(index).map(f)
    }

    fn used(&mut self) -> usize {
        self.iter().map(|s| s.used).sum()
    }
}

/// An eviction candidate: a lower score is evicted first.
struct Candidate {
    score: u64,
    shard: usize,
    db: usize,
    key: Arc<[u8]>,
}

impl Store {
    /// Evicts until used memory is within `maxmemory`, or fails with OOM when the policy forbids
    /// it or nothing is evictable.
    pub(crate) fn ensure_memory(&self, access: &mut impl ShardAccess) -> Result<(), KvError> {
        let max = self.maxmemory.load(Ordering::Relaxed);
        if max == 0 {
            return Ok(());
        }
        while access.used() as u64 > max {
            let policy = self.eviction_policy();
            let evicted = match policy {
                EvictionPolicy::NoEviction => false,
                EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom => {
                    self.evict_random(access, policy.volatile_only())
                }
                _ => self.evict_sampled(access, policy),
            };
            if !evicted {
                return Err(KvError::Oom);
            }
        }
        Ok(())
    }

    fn evict_random(&self, access: &mut impl ShardAccess, volatile: bool) -> bool {
        let shards = self.slots.len();
        let start = rng::below(shards);
        (0..shards).any(|k| {
            access
                .with_shard((start + k) % shards, |shard| {
                    evict_random_in(shard, volatile)
                })
                .unwrap_or(false)
        })
    }

    fn evict_sampled(&self, access: &mut impl ShardAccess, policy: EvictionPolicy) -> bool {
        let ttl = policy == EvictionPolicy::VolatileTtl;
        let volatile = policy.volatile_only();
        // A candidate can be touched between sampling and eviction; retry a few times.
        for _ in 0..8 {
            let mut best: Option<Candidate> = None;
            for index in 0..self.slots.len() {
                let found = access
                    .with_shard(index, |shard| sample_best(shard, index, volatile, ttl))
                    .flatten();
                if let Some(c) = found {
                    if best.as_ref().map_or(true, |b| c.score < b.score) {
                        best = Some(c);
                    }
                }
            }
            let Some(c) = best else {
                return false;
            };
            let evicted = access.with_shard(c.shard, |shard| {
                let current = shard.dbs[c.db]
                    .dict
                    .get(&c.key)
                    .map(|e| score(e.lru, e.expire_at, ttl));
                if current != Some(c.score) {
                    return false;
                }
                shard.remove(c.db, &c.key);
                shard.note_gone(c.db, c.key.clone());
                shard.stats.evicted += 1;
                true
            });
            if evicted == Some(true) {
                return true;
            }
        }
        false
    }
}

fn score(lru: u64, expire_at: Option<u64>, ttl: bool) -> u64 {
    if ttl {
        expire_at.unwrap_or(u64::MAX)
    } else {
        lru
    }
}

/// A random position in `db` holding a key with a TTL, if one can be found cheaply (random
/// probes, then a scan when TTL keys are rare).
fn volatile_position(shard: &Shard, db: usize) -> Option<usize> {
    let d = &shard.dbs[db];
    if d.volatile == 0 {
        return None;
    }
    for _ in 0..SAMPLES * 4 {
        let pos = d.dict.random_position()?;
        if d.dict.at(pos).is_some_and(|(_, e)| e.expire_at.is_some()) {
            return Some(pos);
        }
    }
    (0..d.dict.len()).find(|&pos| d.dict.at(pos).is_some_and(|(_, e)| e.expire_at.is_some()))
}

fn evict_random_in(shard: &mut Shard, volatile: bool) -> bool {
    let dbs = shard.dbs.len();
    let start = rng::below(dbs);
    for k in 0..dbs {
        let db = (start + k) % dbs;
        let pos = if volatile {
            volatile_position(shard, db)
        } else {
            shard.dbs[db].dict.random_position()
        };
        if let Some(pos) = pos {
            let (key, _) = shard.remove_at(db, pos);
            shard.note_gone(db, key);
            shard.stats.evicted += 1;
            return true;
        }
    }
    false
}

/// The best of a few sampled keys per database of `shard`.
fn sample_best(shard: &Shard, index: usize, volatile: bool, ttl: bool) -> Option<Candidate> {
    let mut best: Option<Candidate> = None;
    for (db, d) in shard.dbs.iter().enumerate() {
        if d.dict.is_empty() || (volatile && d.volatile == 0) {
            continue;
        }
        for _ in 0..SAMPLES {
            let pos = if volatile {
                volatile_position(shard, db)
            } else {
                d.dict.random_position()
            };
            let Some((key, entry)) = pos.and_then(|p| d.dict.at(p)) else {
                continue;
            };
            let s = score(entry.lru, entry.expire_at, ttl);
            if best.as_ref().map_or(true, |b| s < b.score) {
                best = Some(Candidate {
                    score: s,
                    shard: index,
                    db,
                    key: key.clone(),
                });
            }
        }
    }
    best
}
