//! Persistence settings: where files live, whether the append-only log is kept, how often it
//! is fsynced, and when snapshots are written.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use thiserror::Error;

/// When the append-only log is fsynced (Redis's `appendfsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AppendFsync {
    /// Before the reply of every write: no acknowledged write is ever lost.
    Always,
    /// From [`crate::Store::persistence_tick`], about once a second: at most about a second of
    /// writes is lost on a power failure (a process crash loses nothing the OS has).
    #[default]
    EverySec,
    /// Never explicitly: the OS decides when data reaches the disk.
    No,
}

impl AppendFsync {
    /// The Redis name (`always`, `everysec`, `no`).
    pub fn name(self) -> &'static str {
        match self {
            AppendFsync::Always => "always",
            AppendFsync::EverySec => "everysec",
            AppendFsync::No => "no",
        }
    }
}

impl fmt::Display for AppendFsync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An `appendfsync` value that names no policy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown appendfsync policy '{0}' (expected one of always, everysec, no)")]
pub struct UnknownAppendFsync(pub String);

impl FromStr for AppendFsync {
    type Err = UnknownAppendFsync;

    fn from_str(s: &str) -> Result<AppendFsync, UnknownAppendFsync> {
        [AppendFsync::Always, AppendFsync::EverySec, AppendFsync::No]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownAppendFsync(s.to_string()))
    }
}

/// How a store persists its data (see [`crate::Store::open`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersistenceConfig {
    /// Directory holding the snapshot and the log segments (created if missing).
    pub dir: PathBuf,
    /// Keep an append-only log of every write (otherwise only snapshots are written).
    pub appendonly: bool,
    /// When the log is fsynced.
    pub appendfsync: AppendFsync,
    /// Write a snapshot from [`crate::Store::persistence_tick`] once this long has passed
    /// since the last one and at least `snapshot_min_changes` writes happened; `None`: only
    /// on SAVE/BGSAVE/BGREWRITEAOF and [`crate::Store::save`].
    pub snapshot_interval: Option<Duration>,
    /// Writes needed (besides the interval) before a timed snapshot is taken; 0 counts as 1.
    pub snapshot_min_changes: u64,
}

impl PersistenceConfig {
    /// Defaults in `dir`: append-only log on, `everysec`, a snapshot every 5 minutes when
    /// anything changed.
    pub fn new(dir: impl Into<PathBuf>) -> PersistenceConfig {
        PersistenceConfig {
            dir: dir.into(),
            appendonly: true,
            appendfsync: AppendFsync::EverySec,
            snapshot_interval: Some(Duration::from_secs(300)),
            snapshot_min_changes: 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_policies_parse_and_name_bad_values() {
        assert_eq!("always".parse(), Ok(AppendFsync::Always));
        assert_eq!("EverySec".parse(), Ok(AppendFsync::EverySec));
        assert_eq!("no".parse(), Ok(AppendFsync::No));
        let err = "sometimes".parse::<AppendFsync>().unwrap_err();
        assert!(err.to_string().contains("'sometimes'"));
        assert_eq!(AppendFsync::EverySec.to_string(), "everysec");
    }
}
