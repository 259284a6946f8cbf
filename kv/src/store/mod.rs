//! The shared store: shards, databases, configuration, counters, and the entry points the
//! connection layer and in-process callers use.

mod ctx;
mod evict;
mod shard;
mod txn;

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use event_listener::Event;

use crate::clock::{Clock, SystemClock};
use crate::config::{Compression, EvictionPolicy, StoreConfig};
use crate::pubsub::PubSub;
use crate::resp::Limits;
use crate::session::Session;

pub(crate) use ctx::Ctx;
pub(crate) use evict::LockEach;
pub(crate) use shard::{Entry, Guards, Shard};
pub use txn::Txn;

use shard::ShardSlot;

/// What CLIENT LIST shows about a connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClientInfo {
    pub addr: String,
    pub name: Option<Vec<u8>>,
    pub db: usize,
    pub created_ms: u64,
    pub sub: usize,
    pub psub: usize,
}

/// Keys in one database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DbStats {
    /// Number of keys (including ones whose TTL passed but were not reclaimed yet).
    pub keys: usize,
    /// Keys with a TTL.
    pub expires: usize,
}

/// Counters for INFO and monitoring.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Accounted bytes of all entries (compressed strings count their compressed size).
    pub used_memory: usize,
    /// String values held zstd-compressed (see [`crate::Compression`]).
    pub compressed_strings: usize,
    /// Reads that found their key.
    pub keyspace_hits: u64,
    /// Reads that did not.
    pub keyspace_misses: u64,
    /// Keys removed because their TTL passed (lazily or by the sweeper).
    pub expired_keys: u64,
    /// Keys removed by maxmemory eviction.
    pub evicted_keys: u64,
    /// Per-database key counts.
    pub dbs: Vec<DbStats>,
    /// Sessions open now.
    pub connected_clients: usize,
    /// Sessions ever opened.
    pub total_connections_received: u64,
    /// Commands executed.
    pub total_commands_processed: u64,
}

/// The Redis-compatible store, shared by every executor and PHP thread through `Arc`.
///
/// See the crate documentation for the locking design.
pub struct Store {
    pub(crate) slots: Vec<ShardSlot>,
    pub(crate) hasher: RandomState,
    pub(crate) databases: usize,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) maxmemory: AtomicU64,
    policy: AtomicU8,
    pub(crate) requirepass: RwLock<Option<String>>,
    pub(crate) limits: Limits,
    /// How string values are compressed (`None`: never).
    pub(crate) compression: Option<Compression>,
    list_events: Vec<Event>,
    pub(crate) pubsub: PubSub,
    clients: Mutex<HashMap<u64, ClientInfo>>,
    next_client_id: AtomicU64,
    pub(crate) commands_processed: AtomicU64,
    connections_received: AtomicU64,
    pub(crate) started_ms: u64,
    sweep_cursor: AtomicUsize,
    pub(crate) scripts: crate::cmd::scripting::ScriptCache,
    pub(crate) persist: Option<crate::persist::Persister>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("databases", &self.databases)
            .field("shards", &self.slots.len())
            .field("used_memory", &self.used_memory())
            .finish_non_exhaustive()
    }
}

/// Most entries the sweeper examines per lock acquisition.
const SWEEP_CHUNK: usize = 128;

impl Store {
    /// A store using the system clock. `databases` and `shards` below 1 are raised to 1.
    pub fn new(config: StoreConfig) -> Store {
        Store::with_clock(config, Arc::new(SystemClock))
    }

    /// A store reading time from `clock` (tests use [`crate::ManualClock`]).
    pub fn with_clock(config: StoreConfig, clock: Arc<dyn Clock>) -> Store {
        let databases = config.databases.max(1);
        let shards = config.shards.max(1);
        let started_ms = clock.now_ms();
        Store {
            slots: (0..shards).map(|_| ShardSlot::new(databases)).collect(),
            hasher: RandomState::new(),
            databases,
            clock,
            maxmemory: AtomicU64::new(config.maxmemory),
            policy: AtomicU8::new(config.eviction.to_u8()),
            requirepass: RwLock::new(config.requirepass),
            limits: config.limits,
            compression: config.compression,
            list_events: (0..databases).map(|_| Event::new()).collect(),
            pubsub: PubSub::default(),
            clients: Mutex::new(HashMap::new()),
            next_client_id: AtomicU64::new(1),
            commands_processed: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            started_ms,
            sweep_cursor: AtomicUsize::new(0),
            scripts: Default::default(),
            persist: None,
        }
    }

    /// Number of databases.
    pub fn databases(&self) -> usize {
        self.databases
    }

    /// The configured protocol limits (for authenticated clients).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The protocol limits for `session`'s next command: Redis's small fixed limits
    /// ([`Limits::before_auth`]) until it has authenticated, the configured ones after.
    pub fn limits_for(&self, session: &Session) -> Limits {
        if session.is_authenticated() {
            self.limits
        } else {
            Limits::before_auth()
        }
    }

    /// Current time of the store's clock, Unix ms.
    pub fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    /// The current eviction policy.
    pub fn eviction_policy(&self) -> EvictionPolicy {
        EvictionPolicy::from_u8(self.policy.load(Ordering::Relaxed))
    }

    /// Changes the eviction policy (CONFIG SET maxmemory-policy).
    pub fn set_eviction_policy(&self, policy: EvictionPolicy) {
        self.policy.store(policy.to_u8(), Ordering::Relaxed);
    }

    /// The memory limit in bytes (0: none).
    pub fn maxmemory(&self) -> u64 {
        self.maxmemory.load(Ordering::Relaxed)
    }

    /// Changes the memory limit (CONFIG SET maxmemory); takes effect at the next write.
    pub fn set_maxmemory(&self, bytes: u64) {
        self.maxmemory.store(bytes, Ordering::Relaxed);
    }

    /// True when clients must AUTH.
    pub(crate) fn requires_pass(&self) -> bool {
        self.requirepass.read().map(|p| p.is_some()).unwrap_or(true)
    }

    /// Accounted bytes of all entries (as of the last released shard lock).
    pub fn used_memory(&self) -> usize {
        self.slots
            .iter()
            .map(|s| s.used.load(Ordering::Relaxed))
            .sum()
    }

    /// The shard `key` lives in.
    pub(crate) fn shard_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) % self.slots.len() as u64) as usize
    }

    /// Locks the shards of `keys`, in ascending shard order.
    pub(crate) fn lock_keys<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Guards<'_> {
        Guards::lock(
            &self.slots,
            keys.into_iter().map(|k| self.shard_of(k)).collect(),
        )
    }

    /// Locks every shard.
    pub(crate) fn lock_all(&self) -> Guards<'_> {
        Guards::lock_all(&self.slots)
    }

    /// The event list pushes in `db` notify.
    pub(crate) fn list_event(&self, db: usize) -> &Event {
        &self.list_events[db]
    }

    /// Wakes the blocked clients of each database in `dbs`.
    pub(crate) fn wake(&self, dbs: &[usize]) {
        for &db in dbs {
            if let Some(event) = self.list_events.get(db) {
                event.notify(usize::MAX);
            }
        }
    }

    fn clients(&self) -> MutexGuard<'_, HashMap<u64, ClientInfo>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new client connection's session (authenticated already when no password is set).
    pub fn new_session(&self) -> Session {
        let id = self.next_client_id.fetch_add(1, Ordering::Relaxed);
        self.connections_received.fetch_add(1, Ordering::Relaxed);
        let now = self.now_ms();
        let mut session = Session::new(id, !self.requires_pass(), now);
        session.registered = true;
        self.clients().insert(
            id,
            ClientInfo {
                created_ms: now,
                ..ClientInfo::default()
            },
        );
        session
    }

    /// Updates what CLIENT LIST shows for `session`.
    pub(crate) fn update_client(&self, session: &Session) {
        if !session.registered {
            return;
        }
        if let Some(info) = self.clients().get_mut(&session.id) {
            info.addr.clone_from(&session.addr);
            info.name.clone_from(&session.name);
            info.db = session.db;
            info.sub = session.channels.len();
            info.psub = session.patterns.len();
        }
    }

    /// A snapshot of every registered client.
    pub(crate) fn client_list(&self) -> Vec<(u64, ClientInfo)> {
        let mut list: Vec<(u64, ClientInfo)> = self
            .clients()
            .iter()
            .map(|(id, info)| (*id, info.clone()))
            .collect();
        list.sort_by_key(|(id, _)| *id);
        list
    }

    /// Ends a connection: drops its subscriptions, WATCHes, queued MULTI and CLIENT LIST entry.
    pub fn close_session(&self, session: &mut Session) {
        for channel in std::mem::take(&mut session.channels) {
            self.pubsub.unsubscribe(false, &channel, session.id);
        }
        for pattern in std::mem::take(&mut session.patterns) {
            self.pubsub.unsubscribe(true, &pattern, session.id);
        }
        session.multi = None;
        self.unwatch_locking(session);
        if session.registered {
            self.clients().remove(&session.id);
            session.registered = false;
        }
    }

    /// Drops the session's WATCHes, locking the shards involved.
    pub(crate) fn unwatch_locking(&self, session: &mut Session) {
        if session.watched.is_empty() {
            return;
        }
        let mut guards = self.lock_keys(session.watched.iter().map(|w| w.key.as_slice()));
        self.unwatch_in(&mut guards, session);
    }

    /// Drops the session's WATCHes using held locks.
    pub(crate) fn unwatch_in(&self, guards: &mut Guards<'_>, session: &mut Session) {
        for watched in std::mem::take(&mut session.watched) {
            let Some(shard) = guards.get_mut(self.shard_of(&watched.key)) else {
                continue;
            };
            let slots = &mut shard.dbs[watched.db].watched;
            if let Some(slot) = slots.get_mut(&watched.key) {
                slot.watchers -= 1;
                if slot.watchers == 0 {
                    slots.remove(&watched.key);
                }
            }
        }
    }

    /// Runs `f` with every shard locked, so everything it does is atomic with respect to all
    /// other clients (MULTI/EXEC, and later EVAL). Blocking commands answer at once inside.
    pub fn atomic<R>(&self, f: impl FnOnce(&mut Txn<'_>) -> R) -> R {
        let mut txn = Txn::new(self);
        f(&mut txn)
    }

    /// Reclaims expired keys, examining at most about `budget` keys with a TTL and holding each
    /// shard lock for at most a small chunk of that work. Returns the number of keys removed.
    /// Call it on a timer (say every 100 ms with a budget of a few hundred); lazy expiry on
    /// access keeps answers correct between runs.
    pub fn sweep_expired(&self, budget: usize) -> usize {
        let shards = self.slots.len();
        let start = self.sweep_cursor.fetch_add(1, Ordering::Relaxed) % shards;
        let per_shard = budget.div_ceil(shards).clamp(1, SWEEP_CHUNK);
        let now = self.now_ms();
        let (mut remaining, mut removed) = (budget, 0);
        for k in 0..shards {
            if remaining == 0 {
                break;
            }
            let mut shard = self.slots[(start + k) % shards].lock();
            let (checked, gone) = sweep_shard(&mut shard, per_shard.min(remaining), now);
            self.log_gone(&mut shard);
            remaining -= checked;
            removed += gone;
        }
        removed
    }

    /// INFO counters, locking one shard at a time.
    pub fn stats(&self) -> StoreStats {
        let mut stats = StoreStats {
            dbs: vec![DbStats::default(); self.databases],
            ..StoreStats::default()
        };
        for slot in &self.slots {
            add_shard_stats(&mut stats, &slot.lock());
        }
        self.finish_stats(stats)
    }

    /// INFO counters from shards the caller holds.
    pub(crate) fn stats_from(&self, guards: &Guards<'_>) -> StoreStats {
        let mut stats = StoreStats {
            dbs: vec![DbStats::default(); self.databases],
            ..StoreStats::default()
        };
        for shard in guards.iter() {
            add_shard_stats(&mut stats, shard);
        }
        self.finish_stats(stats)
    }

    fn finish_stats(&self, mut stats: StoreStats) -> StoreStats {
        stats.connected_clients = self.clients().len();
        stats.total_connections_received = self.connections_received.load(Ordering::Relaxed);
        stats.total_commands_processed = self.commands_processed.load(Ordering::Relaxed);
        stats
    }
}

fn add_shard_stats(stats: &mut StoreStats, shard: &Shard) {
    stats.used_memory += shard.used;
    stats.compressed_strings += shard.compressed;
    stats.keyspace_hits += shard.stats.hits;
    stats.keyspace_misses += shard.stats.misses;
    stats.expired_keys += shard.stats.expired;
    stats.evicted_keys += shard.stats.evicted;
    for (db, d) in shard.dbs.iter().enumerate() {
        stats.dbs[db].keys += d.dict.len();
        stats.dbs[db].expires += d.volatile;
    }
}

/// Walks up to `limit` entries of the shard's databases that have TTLs, from where the last
/// walk stopped, deleting expired ones. Returns (entries examined, entries removed).
fn sweep_shard(shard: &mut Shard, limit: usize, now: u64) -> (usize, usize) {
    let (mut checked, mut removed) = (0, 0);
    for db in 0..shard.dbs.len() {
        let mut pos = shard.dbs[db].sweep_pos;
        while checked < limit && shard.dbs[db].volatile > 0 {
            let d = &shard.dbs[db];
            if pos >= d.dict.len() {
                pos = 0;
            }
            checked += 1;
            let expired = d.dict.at(pos).is_some_and(|(_, e)| e.expired(now));
            if expired {
                let (key, _) = shard.remove_at(db, pos);
                shard.note_gone(db, key);
                shard.stats.expired += 1;
                removed += 1;
            } else {
                pos += 1;
            }
        }
        shard.dbs[db].sweep_pos = pos;
    }
    (checked, removed)
}
