//! Store configuration.

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

use crate::resp::Limits;

/// What to do when a write arrives while used memory is over `maxmemory`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EvictionPolicy {
    /// Refuse writes with the OOM error.
    #[default]
    NoEviction,
    /// Evict the least recently used key (approximated by sampling).
    AllKeysLru,
    /// Evict the least recently used key among keys with a TTL.
    VolatileLru,
    /// Evict a random key.
    AllKeysRandom,
    /// Evict a random key among keys with a TTL.
    VolatileRandom,
    /// Evict the key with the nearest expiry.
    VolatileTtl,
}

impl EvictionPolicy {
    /// Every policy, in the order Redis lists them.
    pub const ALL: [EvictionPolicy; 6] = [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::VolatileTtl,
        EvictionPolicy::NoEviction,
    ];

    /// The Redis name (`allkeys-lru`, ...).
    pub fn name(self) -> &'static str {
        match self {
            EvictionPolicy::NoEviction => "noeviction",
            EvictionPolicy::AllKeysLru => "allkeys-lru",
            EvictionPolicy::VolatileLru => "volatile-lru",
            EvictionPolicy::AllKeysRandom => "allkeys-random",
            EvictionPolicy::VolatileRandom => "volatile-random",
            EvictionPolicy::VolatileTtl => "volatile-ttl",
        }
    }

    /// True for the policies that only consider keys with a TTL.
    pub fn volatile_only(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
        )
    }

    pub(crate) fn to_u8(self) -> u8 {
        EvictionPolicy::ALL
            .iter()
            .position(|&p| p == self)
            .unwrap_or(0) as u8
    }

    pub(crate) fn from_u8(value: u8) -> EvictionPolicy {
        EvictionPolicy::ALL
            .get(value as usize)
            .copied()
            .unwrap_or_default()
    }
}

impl fmt::Display for EvictionPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `maxmemory-policy` value that names no policy.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown maxmemory policy '{0}' (expected one of volatile-lru, allkeys-lru, volatile-random, allkeys-random, volatile-ttl, noeviction)")]
pub struct UnknownPolicy(pub String);

impl FromStr for EvictionPolicy {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<EvictionPolicy, UnknownPolicy> {
        EvictionPolicy::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownPolicy(s.to_string()))
    }
}

/// How a [`crate::Store`] is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreConfig {
    /// Number of databases (SELECT 0..databases), 16 like Redis.
    pub databases: usize,
    /// Number of lock shards keys are spread over (16).
    pub shards: usize,
    /// Memory limit in bytes of accounted data; 0 means no limit.
    pub maxmemory: u64,
    /// What to do over the limit.
    pub eviction: EvictionPolicy,
    /// Password clients must AUTH with, if any.
    pub requirepass: Option<String>,
    /// Protocol limits.
    pub limits: Limits,
    /// Transparent zstd compression of large string values; `None` (the default) is off.
    pub compression: Option<Compression>,
}

/// How string values are compressed: a value of at least `min_size` bytes is stored
/// zstd-compressed at `level` when that makes it smaller. Clients always see the original bytes;
/// memory accounting counts the stored size. Values are decompressed for every read and
/// recompressed after every in-place change, so APPEND/SETRANGE on a compressed value cost
/// O(value size) instead of amortized O(appended bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compression {
    /// Smallest value (in bytes) worth compressing; 1024 by default.
    pub min_size: usize,
    /// zstd level (1 is fast; up to 22; negative levels are faster still); 1 by default.
    pub level: i32,
}

impl Default for Compression {
    fn default() -> Compression {
        Compression {
            min_size: 1024,
            level: 1,
        }
    }
}

impl Default for StoreConfig {
    fn default() -> StoreConfig {
        StoreConfig {
            databases: 16,
            shards: 16,
            maxmemory: 0,
            eviction: EvictionPolicy::NoEviction,
            requirepass: None,
            limits: Limits::default(),
            compression: None,
        }
    }
}

/// Parses a Redis memory amount: `100`, `1kb`, `5mb`, `1gb`, `2k`, `3m`, `1g` (case-insensitive;
/// `k`/`m`/`g` are powers of 1000, `kb`/`mb`/`gb` of 1024).
pub fn parse_memory(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let units: [(&str, u64); 6] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", 1024 * 1024 * 1024),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
    ];
    for (suffix, factor) in units {
        if let Some(number) = lower.strip_suffix(suffix) {
            return number.parse::<u64>().ok()?.checked_mul(factor);
        }
    }
    lower.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_name_bad_values() {
        assert_eq!("allkeys-lru".parse(), Ok(EvictionPolicy::AllKeysLru));
        assert_eq!("VOLATILE-TTL".parse(), Ok(EvictionPolicy::VolatileTtl));
        let err = "lru-please".parse::<EvictionPolicy>().unwrap_err();
        assert!(err.to_string().contains("'lru-please'"));
        for p in EvictionPolicy::ALL {
            assert_eq!(EvictionPolicy::from_u8(p.to_u8()), p);
        }
    }

    #[test]
    fn compression_is_off_by_default() {
        assert_eq!(StoreConfig::default().compression, None);
        let c = Compression::default();
        assert_eq!((c.min_size, c.level), (1024, 1));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory("100"), Some(100));
        assert_eq!(parse_memory("1kb"), Some(1024));
        assert_eq!(parse_memory("2MB"), Some(2 * 1024 * 1024));
        assert_eq!(parse_memory("1g"), Some(1_000_000_000));
        assert_eq!(parse_memory("lots"), None);
    }
}
