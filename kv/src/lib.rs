//! ePHPm's built-in Redis-compatible key-value store: the storage engine and the RESP2
//! protocol layer. It is executor-agnostic (no tokio, no glommio): blocking is expressed with
//! `event-listener` and pub/sub delivery with `async-channel`.
//!
//! # Using it
//!
//! One [`Store`] is shared through `Arc` by every executor and PHP thread. A connection feeds
//! received bytes to [`resp::parse_command`], runs each command with [`Store::execute`] and a
//! per-connection [`Session`], and writes back what the [`Outcome`] says. PHP functions call the
//! typed API ([`Store::get`], [`Store::set`], ...) directly. A timer calls
//! [`Store::sweep_expired`].
//!
//! # Design: sharded mutexes
//!
//! Keys are spread by hash over N shards (16 by default); each shard is a `std::sync::Mutex`
//! over the slice of all databases whose keys hash to it. A command locks exactly the shards
//! of the keys it names (from the key positions in the command table), in ascending shard
//! order, so multi-key commands (MSET, RENAME, SINTERSTORE, LMOVE, DEL a b c...) are atomic and
//! cannot deadlock. Keyspace-wide commands (KEYS, SCAN, FLUSHDB, INFO, DBSIZE) and
//! [`Store::atomic`] (MULTI/EXEC) lock every shard, and so do EVAL/EVALSHA, which are declared as
//! touching every key. Critical sections are short
//! (hash lookups, O(1) accounting), so with more shards than cores contention stays low; a
//! lock-free map (papaya) can be measured against this later behind the same `Ctx` interface.
//!
//! Inside a shard each database is a [`dict`]-style map with O(1) access by position, which
//! gives uniform random sampling (approximate LRU eviction like Redis: sample 5 keys per
//! shard, evict the oldest; RANDOMKEY; SPOP) and a resumable walk for the expiry sweeper.
//!
//! Expiry is lazy (checked on every access) plus [`Store::sweep_expired`], which bounds its
//! work and releases each shard lock after a small chunk. Memory is accounted per entry (key +
//! value + an overhead estimate) incrementally on every mutation; `maxmemory` is checked before
//! commands that can grow memory. WATCH uses per-key version counters kept in the shard only for
//! watched keys, bumped by every modification, deletion, expiry and flush.
//!
//! With [`StoreConfig::compression`] set, large string values are held zstd-compressed (when
//! that saves space) and accounted at their compressed size; every command and API call sees
//! the original bytes.

//! # Scripting and persistence
//!
//! EVAL runs Lua 5.1 (mlua, one sandboxed state per thread, fresh globals per call, a time
//! limit) with `redis.call`/`pcall` and `cjson`. With a [`PersistenceConfig`] the store keeps
//! one append-only log of every write (by its effects: relative TTLs become absolute, scripts
//! log the commands they ran) and periodic snapshots; [`Store::open`] loads both.

mod api;
mod clock;
mod cmd;
mod config;
mod dict;
mod error;
mod glob;
mod numbers;
mod persist;
mod pubsub;
pub mod resp;
mod rng;
mod session;
mod store;
mod strval;
mod value;

pub use api::{FieldValues, Ttl};
pub use clock::{Clock, ManualClock, SystemClock};
pub use cmd::scripting::may_run_long;
pub use config::{parse_memory, Compression, EvictionPolicy, StoreConfig, UnknownPolicy};
pub use error::KvError;
pub use glob::glob_match;
pub use numbers::{format_double, parse_f64, parse_i64};
pub use persist::{AppendFsync, PersistError, PersistenceConfig, UnknownAppendFsync};
pub use resp::{parse_command, CommandParser, Limits, ProtocolError, Reply};
pub use session::{Block, Outcome, Session};
pub use store::{DbStats, Store, StoreStats, Txn};
