//! The append-only log: segment files `appendonly.<generation>.aof`, each a plain sequence of
//! RESP command arrays (`*N\r\n$len\r\narg\r\n...`) exactly as a client would send them.
//!
//! A `SELECT db` record is written whenever a record's database differs from the previous
//! record's (and before the first record of a segment). Records produced by one command or
//! transaction are wrapped in `MULTI` ... `EXEC` when there is more than one of them, so the
//! loader applies them all or (for a crash mid-write) none.
//!
//! Writes go to the file with one `write` per command while the command's shard locks are
//! held (so records of one key are in execution order); fsync happens later, without any
//! shard lock, and is shared: one `fdatasync` covers every record written before it started.

use std::fs::{File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::config::AppendFsync;

/// One log record: the database it applies to and the command's arguments, name first.
pub(crate) type Record = (usize, Vec<Vec<u8>>);

/// The file name of log segment `generation`.
pub(super) fn segment_name(generation: u64) -> String {
    format!("appendonly.{generation}.aof")
}

/// The generation of a log segment file name, if it is one.
pub(super) fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("appendonly.")?
        .strip_suffix(".aof")?
        .parse()
        .ok()
}

/// Creates (or empties) segment `generation` in `dir`.
pub(super) fn create_segment(dir: &Path, generation: u64) -> io::Result<(File, PathBuf)> {
    let path = dir.join(segment_name(generation));
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(&path)?;
    Ok((file, path))
}

/// Appends one RESP array of `args` to `out`.
pub(super) fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for arg in args {
        let arg = arg.as_ref();
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// The segment being appended to.
struct Segment {
    file: Arc<File>,
    path: PathBuf,
    /// Bytes in the file.
    len: u64,
    /// The database the last record selected (`None` at the start of a segment).
    db: Option<usize>,
    /// Bytes written over all segments (the offset fsync progress is measured in).
    written: u64,
    /// Segments switched away from that still need an fsync.
    unsynced: Vec<Arc<File>>,
}

/// The open log.
pub(super) struct Aof {
    pub fsync: AppendFsync,
    segment: Mutex<Segment>,
    /// `Segment::written` as of the last completed fsync.
    synced: Mutex<u64>,
}

impl Aof {
    /// A log appending to `file` (a new, empty segment at `path`).
    pub fn new(file: File, path: PathBuf, fsync: AppendFsync) -> Aof {
        Aof {
            fsync,
            segment: Mutex::new(Segment {
                file: Arc::new(file),
                path,
                len: 0,
                db: None,
                written: 0,
                unsynced: Vec::new(),
            }),
            synced: Mutex::new(0),
        }
    }

    fn segment(&self) -> MutexGuard<'_, Segment> {
        self.segment.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `records` (wrapped in MULTI/EXEC when more than one) and returns the write
    /// offset after them, for [`Aof::sync_to`]. A failed write is cut off the file again, so
    /// the log never holds half a record followed by more records.
    pub fn append(&self, records: &[Record]) -> io::Result<u64> {
        let mut seg = self.segment();
        let before_db = seg.db;
        let mut buf = Vec::new();
        let wrap = records.len() > 1;
        if wrap {
            encode_command(&mut buf, &[b"MULTI"]);
        }
        for (db, args) in records {
            if seg.db != Some(*db) {
                encode_command(&mut buf, &[&b"SELECT"[..], db.to_string().as_bytes()]);
                seg.db = Some(*db);
            }
            encode_command(&mut buf, args);
        }
        if wrap {
            encode_command(&mut buf, &[b"EXEC"]);
        }
        if let Err(err) = (&*seg.file).write_all(&buf) {
            let _ = seg.file.set_len(seg.len);
            seg.db = before_db;
            return Err(err);
        }
        seg.len += buf.len() as u64;
        seg.written += buf.len() as u64;
        Ok(seg.written)
    }

    /// Fsyncs unless an fsync that started after offset `end` was written already finished.
    pub fn sync_to(&self, end: u64) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if *synced >= end {
            return Ok(());
        }
        let (files, target) = {
            let mut seg = self.segment();
            let mut files = std::mem::take(&mut seg.unsynced);
            files.push(seg.file.clone());
            (files, seg.written)
        };
        for file in files {
            file.sync_data()?;
        }
        *synced = target;
        Ok(())
    }

    /// Fsyncs everything written so far.
    pub fn sync_all(&self) -> io::Result<()> {
        let end = self.segment().written;
        self.sync_to(end)
    }

    /// Continues the log in a new, empty segment (called with every shard locked, so no
    /// record is in flight). The old segment is still fsynced by the next sync.
    pub fn switch(&self, file: File, path: PathBuf) {
        let mut seg = self.segment();
        let old = std::mem::replace(&mut seg.file, Arc::new(file));
        if self.fsync != AppendFsync::No {
            seg.unsynced.push(old);
        }
        seg.path = path;
        seg.len = 0;
        seg.db = None;
    }

    /// Size in bytes of the current segment.
    pub fn size(&self) -> u64 {
        self.segment().len
    }

    /// Path of the current segment.
    pub fn path(&self) -> PathBuf {
        self.segment().path.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segment_names_round_trip() {
        assert_eq!(parse_segment_name(&segment_name(42)), Some(42));
        assert_eq!(parse_segment_name("appendonly.x.aof"), None);
        assert_eq!(parse_segment_name("dump.ekv"), None);
    }

    #[test]
    fn records_are_resp_arrays_with_select_and_multi() {
        let dir = tempfile::tempdir().unwrap();
        let (file, path) = create_segment(dir.path(), 1).unwrap();
        let aof = Aof::new(file, path.clone(), AppendFsync::Always);
        let set = vec![b"SET".to_vec(), b"k".to_vec(), b"v".to_vec()];
        let end = aof.append(&[(0, set.clone())]).unwrap();
        aof.sync_to(end).unwrap();
        aof.append(&[(0, set.clone()), (2, set)]).unwrap();
        let text = String::from_utf8(std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(
            text,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *1\r\n$5\r\nMULTI\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *1\r\n$4\r\nEXEC\r\n"
        );
        assert_eq!(aof.size(), text.len() as u64);
    }
}
