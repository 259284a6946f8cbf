//! Startup: the snapshot, then the log segments it does not cover, oldest first.

use std::fs;
use std::path::{Path, PathBuf};

use super::aof::parse_segment_name;
use super::snapshot::{self, Item};
use super::{io_error, PersistError, SNAPSHOT_FILE, SNAPSHOT_TMP};
use crate::cmd::lookup;
use crate::resp::{parse_command, Limits, Reply};
use crate::session::Session;
use crate::store::{Store, Txn};

/// Loads everything in `dir` into `store` (which must be empty and not persisting yet) and
/// returns the generation the next log segment gets.
pub(super) fn load(store: &Store, dir: &Path) -> Result<u64, PersistError> {
    fs::create_dir_all(dir).map_err(|e| io_error(dir, e))?;
    let _ = fs::remove_file(dir.join(SNAPSHOT_TMP));
    let snapshot_path = dir.join(SNAPSHOT_FILE);
    let from = match fs::read(&snapshot_path) {
        Ok(data) => load_snapshot(store, &snapshot_path, &data)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
        Err(e) => return Err(io_error(&snapshot_path, e)),
    };
    let mut next = from.max(1);
    for (generation, path) in segments(dir)? {
        if generation < from {
            log::info!(
                "removing log segment {} older than the snapshot",
                path.display()
            );
            let _ = fs::remove_file(&path);
            continue;
        }
        replay(store, &path)?;
        next = next.max(generation + 1);
    }
    Ok(next)
}

/// The log segments in `dir`, by generation.
pub(super) fn segments(dir: &Path) -> Result<Vec<(u64, PathBuf)>, PersistError> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io_error(dir, e))? {
        let entry = entry.map_err(|e| io_error(dir, e))?;
        let name = entry.file_name();
        if let Some(generation) = name.to_str().and_then(parse_segment_name) {
            out.push((generation, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn load_snapshot(store: &Store, path: &Path, data: &[u8]) -> Result<u64, PersistError> {
    let now = store.now_ms();
    snapshot::decode(path, data, store.compression.as_ref(), |item: Item| {
        if item.db >= store.databases() {
            return Err(format!(
                "db index {} out of range (databases = {})",
                item.db,
                store.databases()
            ));
        }
        if item.expire_at.is_some_and(|at| now > at) || item.value.is_empty_collection() {
            return Ok(());
        }
        let mut shard = store.slots[store.shard_of(&item.key)].lock();
        shard.insert(item.db, &item.key, item.value, item.expire_at, now);
        Ok(())
    })
}

/// Limits for reading the log: as large as anything the store can hold.
fn replay_limits(store: &Store) -> Limits {
    Limits {
        max_bulk_len: store.limits().max_bulk_len.max(512 << 20),
        max_multibulk_len: 1 << 24,
        ..Limits::default()
    }
}

/// Replays one segment with the clock stopped at 0 (nothing expires during replay; expiries
/// that happened were logged as DEL). A truncated last record, or a MULTI without its EXEC at
/// the end, is dropped with a warning and cut off the file.
fn replay(store: &Store, path: &Path) -> Result<(), PersistError> {
    let data = fs::read(path).map_err(|e| io_error(path, e))?;
    let limits = replay_limits(store);
    let corrupt = |offset: usize, reason: String| PersistError::CorruptLog {
        path: path.to_path_buf(),
        offset: offset as u64,
        reason,
    };
    let mut session = Session::internal(0);
    let mut txn = Txn::new(store).at(0);
    let mut multi: Option<(usize, Vec<Vec<Vec<u8>>>)> = None;
    let mut pos = 0;
    let mut applied = 0usize;
    while pos < data.len() {
        if data[pos] != b'*' {
            return Err(corrupt(pos, "expected a RESP array".into()));
        }
        let (args, used) = match parse_command(&data[pos..], &limits) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => break,
            Err(e) => return Err(corrupt(pos, e.to_string())),
        };
        let start = pos;
        pos += used;
        let Some(name) = args
            .first()
            .map(|a| String::from_utf8_lossy(a).to_lowercase())
        else {
            continue;
        };
        match (name.as_str(), &mut multi) {
            ("multi", None) => multi = Some((start, Vec::new())),
            ("exec", Some(_)) => {
                let (_, queue) = multi.take().unwrap_or_default();
                applied += queue.len();
                for args in &queue {
                    apply(&mut txn, &mut session, args, path, start);
                }
            }
            ("multi" | "exec", _) => return Err(corrupt(start, format!("unexpected {name}"))),
            (_, _) if lookup(&args[0]).is_none() => {
                return Err(corrupt(start, format!("unknown command '{name}'")))
            }
            (_, Some((_, queue))) => queue.push(args),
            (_, None) => {
                applied += 1;
                apply(&mut txn, &mut session, &args, path, start);
            }
        }
    }
    drop(txn);
    let valid = multi.map_or(pos, |(start, _)| start);
    if valid < data.len() {
        log::warn!(
            "{}: ignoring an incomplete last record ({} bytes at offset {valid}); the server \
             probably stopped while writing it",
            path.display(),
            data.len() - valid
        );
        truncate(path, valid as u64)?;
    }
    log::info!("{}: replayed {applied} commands", path.display());
    Ok(())
}

fn apply(txn: &mut Txn<'_>, session: &mut Session, args: &[Vec<u8>], path: &Path, at: usize) {
    if let Reply::Error(message) = txn.execute(session, args) {
        log::warn!(
            "{}: command at offset {at} failed on replay: {message}",
            path.display()
        );
    }
}

fn truncate(path: &Path, len: u64) -> Result<(), PersistError> {
    let file = fs::OpenOptions::new()
        .write(true)
        .open(path)
        .map_err(|e| io_error(path, e))?;
    file.set_len(len).map_err(|e| io_error(path, e))?;
    file.sync_all().map_err(|e| io_error(path, e))
}
