//! Optional persistence: an append-only log of every write plus periodic snapshots, in one
//! directory:
//!
//! - `dump.ekv`: the latest snapshot (format in [`snapshot`]), replaced atomically (written
//!   to `dump.ekv.tmp`, fsynced, renamed, directory fsynced).
//! - `appendonly.<generation>.aof`: log segments (format in [`aof`]). The snapshot header
//!   names the first generation it does not cover; loading replays that one and every later
//!   one, in order. One log for the whole store keeps multi-shard commands and MULTI/EXEC in
//!   a single, totally ordered stream, so they replay atomically and in execution order.
//!
//! # Logging
//!
//! Write commands add log records to their [`Ctx`](crate::store::Ctx) ([`record`] decides
//! what is logged); when the context finishes, the records (preceded by DELs for keys the
//! held shards expired or evicted) are written with one `write` *while the shard locks are
//! still held*, so two records of the same key are always in execution order. With
//! `appendfsync always` the writer then fsyncs (after releasing the locks, group-committed
//! with concurrent writers) before the reply is produced. RESP commands, MULTI/EXEC and the
//! typed API all go through this path.
//!
//! # Snapshots and the log switch
//!
//! A snapshot locks every shard (ascending order), flushes pending DELs to the old segment,
//! switches the log to a fresh segment, then serializes the shards *one at a time, releasing
//! each right after it is serialized*. Every write either finished before the switch (it is
//! in the old segment and in the snapshot) or runs after all its shards were serialized (it
//! is only in the new segment), so snapshot + new segment is exactly the state, and the old
//! segment stays valid until the snapshot file is renamed into place. Lock hold time is the
//! time to serialize (memcpy-speed encoding), decreasing from the first shard to the last;
//! file I/O happens after every lock is released.

mod aof;
mod config;
mod load;
mod record;
mod snapshot;

#[cfg(test)]
mod tests;

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::clock::{Clock, SystemClock};
use crate::config::StoreConfig;
use crate::error::KvError;
use crate::store::{Shard, Store};

pub(crate) use aof::Record;
pub use config::{AppendFsync, PersistenceConfig, UnknownAppendFsync};
pub(crate) use record::record_command;

use aof::Aof;

const SNAPSHOT_FILE: &str = "dump.ekv";
const SNAPSHOT_TMP: &str = "dump.ekv.tmp";

/// A persistence failure: loading at startup, or writing a snapshot or the log.
#[derive(Debug, Error)]
pub enum PersistError {
    /// A file operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What the OS said.
        source: io::Error,
    },
    /// The snapshot is damaged or not a snapshot; the store refuses to start rather than
    /// start empty over existing data.
    #[error("corrupt snapshot {}: {reason}", path.display())]
    CorruptSnapshot {
        /// The snapshot file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A log segment holds something other than commands before its last record.
    #[error("corrupt append-only log {} at byte {offset}: {reason}", path.display())]
    CorruptLog {
        /// The segment file.
        path: PathBuf,
        /// Where the bad record starts.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

fn io_error(path: &Path, source: io::Error) -> PersistError {
    PersistError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// The running persistence state of a store.
pub(crate) struct Persister {
    config: PersistenceConfig,
    aof: Option<Aof>,
    /// The log generation writes currently go to.
    generation: AtomicU64,
    /// Writes since the last snapshot.
    changes: AtomicU64,
    last_save_ms: AtomicU64,
    last_save_ok: AtomicBool,
    saving: Mutex<()>,
    save_running: AtomicBool,
    /// BGSAVE/BGREWRITEAOF asked for a snapshot at the next tick.
    scheduled: AtomicBool,
    /// The last log write or fsync error; while set, writes are refused (MISCONF) until a
    /// snapshot succeeds.
    broken: Mutex<Option<String>>,
    /// `broken.is_some()`, readable without the lock on every write.
    is_broken: AtomicBool,
}

impl Persister {
    fn start(
        config: PersistenceConfig,
        generation: u64,
        now: u64,
    ) -> Result<Persister, PersistError> {
        let aof = if config.appendonly {
            let (file, path) = aof::create_segment(&config.dir, generation)
                .map_err(|e| io_error(&config.dir, e))?;
            Some(Aof::new(file, path, config.appendfsync))
        } else {
            None
        };
        Ok(Persister {
            config,
            aof,
            generation: AtomicU64::new(generation),
            changes: AtomicU64::new(0),
            last_save_ms: AtomicU64::new(now),
            last_save_ok: AtomicBool::new(true),
            saving: Mutex::new(()),
            save_running: AtomicBool::new(false),
            scheduled: AtomicBool::new(false),
            broken: Mutex::new(None),
            is_broken: AtomicBool::new(false),
        })
    }

    fn broken(&self) -> Option<String> {
        if !self.is_broken.load(Ordering::Acquire) {
            return None;
        }
        self.broken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_broken(&self, err: Option<String>) {
        let mut broken = self.broken.lock().unwrap_or_else(|e| e.into_inner());
        self.is_broken.store(err.is_some(), Ordering::Release);
        *broken = err;
    }

    fn misconf(message: &str) -> KvError {
        KvError::Other(format!("MISCONF Errors writing to the AOF file: {message}"))
    }

    /// Writes `records`, preceded by DELs for keys `shards` expired or evicted. Call it with
    /// the shard locks held. Returns the offset to fsync to under `appendfsync always`.
    pub(crate) fn append<'a>(
        &self,
        shards: impl Iterator<Item = &'a mut Shard>,
        records: Vec<Record>,
    ) -> Result<Option<u64>, KvError> {
        let mut all: Vec<Record> = Vec::new();
        for shard in shards {
            all.extend(
                shard
                    .gone
                    .drain(..)
                    .map(|(db, key)| (db, vec![b"DEL".to_vec(), key.to_vec()])),
            );
        }
        if all.is_empty() && records.is_empty() {
            return Ok(None);
        }
        self.changes
            .fetch_add(records.len() as u64, Ordering::Relaxed);
        let Some(aof) = &self.aof else {
            return Ok(None);
        };
        if let Some(message) = self.broken() {
            return Err(Persister::misconf(&message));
        }
        all.extend(records);
        match aof.append(&all) {
            Ok(end) => Ok((aof.fsync == AppendFsync::Always).then_some(end)),
            Err(err) => Err(self.fail("write", &err)),
        }
    }

    /// Fsyncs up to `end` (from [`Persister::append`]).
    pub(crate) fn sync(&self, end: u64) -> Result<(), KvError> {
        match &self.aof {
            Some(aof) => aof.sync_to(end).map_err(|err| self.fail("fsync", &err)),
            None => Ok(()),
        }
    }

    fn fail(&self, what: &str, err: &io::Error) -> KvError {
        let path = self.aof.as_ref().map(|a| a.path()).unwrap_or_default();
        log::error!("append-only log {what} failed on {}: {err}", path.display());
        self.set_broken(Some(err.to_string()));
        Persister::misconf(&err.to_string())
    }

    fn snapshot_due(&self, now: u64) -> bool {
        let Some(interval) = self.config.snapshot_interval else {
            return false;
        };
        let since = now.saturating_sub(self.last_save_ms.load(Ordering::Relaxed));
        since >= interval.as_millis() as u64
            && self.changes.load(Ordering::Relaxed) >= self.config.snapshot_min_changes.max(1)
    }
}

impl Store {
    /// Opens a store, restoring its data from `persistence.dir` when given: the latest
    /// snapshot, then the append-only log written after it. A truncated last log record is
    /// dropped with a warning; a damaged snapshot or log is an error naming the file. Without
    /// `persistence` this is [`Store::new`].
    pub fn open(
        config: StoreConfig,
        persistence: Option<PersistenceConfig>,
    ) -> Result<Store, PersistError> {
        Store::open_with_clock(config, persistence, Arc::new(SystemClock))
    }

    /// [`Store::open`] reading time from `clock`.
    pub(crate) fn open_with_clock(
        config: StoreConfig,
        persistence: Option<PersistenceConfig>,
        clock: Arc<dyn Clock>,
    ) -> Result<Store, PersistError> {
        let mut store = Store::with_clock(config, clock);
        let Some(persistence) = persistence else {
            return Ok(store);
        };
        let generation = load::load(&store, &persistence.dir)?;
        let persister = Persister::start(persistence, generation, store.now_ms())?;
        if persister.aof.is_some() {
            for slot in &store.slots {
                slot.lock().track_gone = true;
            }
        }
        store.persist = Some(persister);
        Ok(store)
    }

    /// True when an append-only log is kept (CONFIG GET appendonly).
    pub(crate) fn aof_enabled(&self) -> bool {
        self.persist.as_ref().is_some_and(|p| p.aof.is_some())
    }

    /// True when writes must add log records to their context.
    pub(crate) fn logs_writes(&self) -> bool {
        self.persist.is_some()
    }

    /// Fails with MISCONF while the log is unwritable (checked before write commands run).
    pub(crate) fn check_writable(&self) -> Result<(), KvError> {
        let broken = self
            .persist
            .as_ref()
            .and_then(|p| p.aof.as_ref().and(p.broken()));
        match broken {
            Some(message) => Err(Persister::misconf(&message)),
            None => Ok(()),
        }
    }

    /// Logs the DELs for keys `shard` expired or evicted (the caller holds its lock).
    pub(crate) fn log_gone(&self, shard: &mut Shard) {
        if let Some(p) = &self.persist {
            if !shard.gone.is_empty() {
                let _ = p.append(std::iter::once(shard), Vec::new());
            }
        }
    }

    /// Persistence housekeeping; call it about once a second from a thread that may block on
    /// disk I/O (not an executor thread). Fsyncs the log under `appendfsync everysec`, and
    /// writes a snapshot when the configured interval and change count are reached, when
    /// BGSAVE/BGREWRITEAOF asked for one, or to recover from a log write error. Does nothing
    /// without persistence.
    pub fn persistence_tick(&self) -> Result<(), PersistError> {
        let Some(p) = &self.persist else {
            return Ok(());
        };
        if let Some(aof) = p.aof.as_ref().filter(|a| a.fsync == AppendFsync::EverySec) {
            if let Err(err) = aof.sync_all() {
                p.fail("fsync", &err);
            }
        }
        let scheduled = p.scheduled.swap(false, Ordering::Relaxed);
        let recover = p.aof.is_some() && p.broken().is_some();
        if scheduled || recover || p.snapshot_due(self.now_ms()) {
            self.save()?;
        }
        Ok(())
    }

    /// Writes a snapshot now (and starts a new log segment), then fsyncs the log; call it at
    /// shutdown. Waits for a snapshot already running. Does nothing without persistence.
    pub fn save(&self) -> Result<(), PersistError> {
        let Some(p) = &self.persist else {
            return Ok(());
        };
        let result = self.snapshot(p);
        p.last_save_ok.store(result.is_ok(), Ordering::Relaxed);
        if let Err(err) = &result {
            log::error!("snapshot failed: {err}");
        }
        result
    }

    fn snapshot(&self, p: &Persister) -> Result<(), PersistError> {
        let _one_at_a_time = p.saving.lock().unwrap_or_else(|e| e.into_inner());
        p.save_running.store(true, Ordering::Relaxed);
        let result = self.snapshot_locked(p);
        p.save_running.store(false, Ordering::Relaxed);
        result
    }

    fn snapshot_locked(&self, p: &Persister) -> Result<(), PersistError> {
        let dir = &p.config.dir;
        let generation = p.generation.load(Ordering::Relaxed) + 1;
        let segment = match &p.aof {
            Some(_) => Some(aof::create_segment(dir, generation).map_err(|e| io_error(dir, e))?),
            None => None,
        };
        let now = self.now_ms();
        let mut out = snapshot::header(generation, now);
        let mut guards: Vec<_> = self.slots.iter().map(|slot| slot.lock()).collect();
        let _ = p.append(guards.iter_mut().map(|g| &mut **g), Vec::new());
        if let (Some(aof), Some((file, path))) = (&p.aof, segment) {
            aof.switch(file, path);
        }
        p.generation.store(generation, Ordering::Relaxed);
        let changes = p.changes.swap(0, Ordering::Relaxed);
        for guard in guards {
            snapshot::encode_shard(&mut out, &guard, now);
        }
        snapshot::finish(&mut out);
        if let Err(err) = write_snapshot(dir, &out) {
            p.changes.fetch_add(changes, Ordering::Relaxed);
            return Err(err);
        }
        p.last_save_ms.store(now, Ordering::Relaxed);
        p.set_broken(None);
        remove_segments_before(dir, generation);
        if let Some(aof) = &p.aof {
            aof.sync_all().map_err(|e| io_error(&aof.path(), e))?;
        }
        Ok(())
    }

    /// Asks the next [`Store::persistence_tick`] for a snapshot (BGSAVE, BGREWRITEAOF); false
    /// without persistence.
    pub(crate) fn schedule_snapshot(&self) -> bool {
        match &self.persist {
            Some(p) => {
                p.scheduled.store(true, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Unix ms of the last successful snapshot (of startup when there was none yet).
    pub(crate) fn last_save_ms(&self) -> u64 {
        match &self.persist {
            Some(p) => p.last_save_ms.load(Ordering::Relaxed),
            None => self.started_ms,
        }
    }

    /// The INFO persistence section's fields.
    pub(crate) fn persistence_info(&self) -> String {
        let flag = |b: bool| u8::from(b);
        let status = |ok: bool| if ok { "ok" } else { "err" };
        let Some(p) = &self.persist else {
            return format!(
                "loading:0\r\nrdb_changes_since_last_save:0\r\nrdb_bgsave_in_progress:0\r\n\
                 rdb_last_save_time:{}\r\nrdb_last_bgsave_status:ok\r\naof_enabled:0\r\n\
                 aof_rewrite_in_progress:0\r\naof_rewrite_scheduled:0\r\n\
                 aof_last_write_status:ok\r\n",
                self.started_ms / 1000
            );
        };
        let running = p.save_running.load(Ordering::Relaxed);
        let scheduled = p.scheduled.load(Ordering::Relaxed);
        let mut out = format!(
            "loading:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\n\
             rdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\naof_enabled:{}\r\n\
             aof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\n\
             aof_last_write_status:{}\r\n",
            p.changes.load(Ordering::Relaxed),
            flag(running),
            p.last_save_ms.load(Ordering::Relaxed) / 1000,
            status(p.last_save_ok.load(Ordering::Relaxed)),
            flag(p.aof.is_some()),
            flag(running && p.aof.is_some()),
            flag(scheduled && p.aof.is_some()),
            status(p.broken().is_none()),
        );
        if let Some(aof) = &p.aof {
            out.push_str(&format!(
                "aof_current_size:{}\r\naof_fsync:{}\r\n",
                aof.size(),
                aof.fsync
            ));
        }
        out
    }
}

/// Writes `data` as the snapshot: temp file, fsync, rename, directory fsync.
fn write_snapshot(dir: &Path, data: &[u8]) -> Result<(), PersistError> {
    let tmp = dir.join(SNAPSHOT_TMP);
    let path = dir.join(SNAPSHOT_FILE);
    let write = || -> io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(data)?;
        file.sync_all()
    };
    write().map_err(|e| io_error(&tmp, e))?;
    fs::rename(&tmp, &path).map_err(|e| io_error(&path, e))?;
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Deletes the log segments the snapshot made redundant.
fn remove_segments_before(dir: &Path, generation: u64) {
    let Ok(segments) = load::segments(dir) else {
        return;
    };
    for (_, path) in segments.into_iter().filter(|(g, _)| *g < generation) {
        if let Err(err) = fs::remove_file(&path) {
            log::warn!("could not remove old log segment {}: {err}", path.display());
        }
    }
}
