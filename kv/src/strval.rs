//! String values, optionally kept zstd-compressed (see [`crate::Compression`]).
//!
//! This is the only place string bytes are stored and read: commands ask a [`StrValue`] for its
//! bytes (decompressed on demand, never handed out compressed) or edit them through
//! [`StrValue::edit`], which recompresses afterwards. A value is stored compressed only when it
//! is at least `min_size` bytes and compression actually makes it smaller.

use std::borrow::Cow;

use crate::config::Compression;
use crate::error::KvError;

/// The error for stored compressed data that does not decompress (never expected: the store
/// only holds data it compressed itself, and snapshots are checksummed).
fn corrupt() -> KvError {
    KvError::err("stored string value is corrupt (decompression failed)")
}

/// A string value: raw bytes, or zstd-compressed bytes plus the original length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StrValue {
    /// Stored as is.
    Raw(Vec<u8>),
    /// A zstd frame of `len` original bytes.
    Zstd { data: Vec<u8>, len: usize },
}

impl Default for StrValue {
    fn default() -> StrValue {
        StrValue::Raw(Vec::new())
    }
}

impl StrValue {
    /// `bytes`, compressed when `policy` says so and it saves space.
    pub fn new(bytes: Vec<u8>, policy: Option<&Compression>) -> StrValue {
        match policy {
            Some(policy) if bytes.len() >= policy.min_size => compress(bytes, policy.level),
            _ => StrValue::Raw(bytes),
        }
    }

    /// A value read from a snapshot as a zstd frame of `len` bytes, checked by decompressing
    /// it; kept compressed only when `policy` is on (otherwise the raw bytes).
    pub fn from_zstd(
        data: Vec<u8>,
        len: usize,
        policy: Option<&Compression>,
    ) -> Result<StrValue, KvError> {
        let raw = decompress(&data, len)?;
        Ok(match policy {
            Some(_) => StrValue::Zstd { data, len },
            None => StrValue::Raw(raw),
        })
    }

    /// Length of the original bytes (no decompression).
    pub fn len(&self) -> usize {
        match self {
            StrValue::Raw(b) => b.len(),
            StrValue::Zstd { len, .. } => *len,
        }
    }

    /// Bytes actually held, for memory accounting.
    pub fn stored_len(&self) -> usize {
        match self {
            StrValue::Raw(b) => b.len(),
            StrValue::Zstd { data, .. } => data.len(),
        }
    }

    /// True when held compressed.
    pub fn is_compressed(&self) -> bool {
        matches!(self, StrValue::Zstd { .. })
    }

    /// The original bytes, borrowed when raw and decompressed otherwise.
    pub fn bytes(&self) -> Result<Cow<'_, [u8]>, KvError> {
        match self {
            StrValue::Raw(b) => Ok(Cow::Borrowed(b)),
            StrValue::Zstd { data, len } => decompress(data, *len).map(Cow::Owned),
        }
    }

    /// The original bytes, owned.
    pub fn to_vec(&self) -> Result<Vec<u8>, KvError> {
        self.bytes().map(Cow::into_owned)
    }

    /// Changes the original bytes with `f`, then stores them again under `policy`.
    pub fn edit<R>(
        &mut self,
        policy: Option<&Compression>,
        f: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> Result<R, KvError> {
        let mut bytes = match std::mem::take(self) {
            StrValue::Raw(b) => b,
            StrValue::Zstd { data, len } => match decompress(&data, len) {
                Ok(raw) => raw,
                Err(e) => {
                    *self = StrValue::Zstd { data, len };
                    return Err(e);
                }
            },
        };
        let result = f(&mut bytes);
        *self = StrValue::new(bytes, policy);
        Ok(result)
    }
}

/// `bytes` compressed at `level` when that is smaller, else raw.
fn compress(bytes: Vec<u8>, level: i32) -> StrValue {
    match zstd::bulk::compress(&bytes, level) {
        Ok(data) if data.len() < bytes.len() => StrValue::Zstd {
            data,
            len: bytes.len(),
        },
        Ok(_) => StrValue::Raw(bytes),
        Err(e) => {
            log::warn!("zstd compression failed, storing the value raw: {e}");
            StrValue::Raw(bytes)
        }
    }
}

/// Decompresses a frame that must yield exactly `len` bytes.
fn decompress(data: &[u8], len: usize) -> Result<Vec<u8>, KvError> {
    match zstd::bulk::decompress(data, len) {
        Ok(raw) if raw.len() == len => Ok(raw),
        _ => Err(corrupt()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ON: Compression = Compression {
        min_size: 64,
        level: 1,
    };

    fn compressible() -> Vec<u8> {
        b"hello compressible world ".repeat(100)
    }

    #[test]
    fn compresses_only_large_compressible_values() {
        let big = StrValue::new(compressible(), Some(&ON));
        assert!(big.is_compressed());
        assert!(big.stored_len() < big.len());
        assert_eq!(big.len(), compressible().len());
        assert_eq!(big.to_vec().unwrap(), compressible());
        assert!(!StrValue::new(b"short".to_vec(), Some(&ON)).is_compressed());
        let random = StrValue::new(crate::rng::noise(4096), Some(&ON));
        assert!(!random.is_compressed());
        assert_eq!(random.stored_len(), 4096);
        assert!(!StrValue::new(compressible(), None).is_compressed());
    }

    #[test]
    fn edit_decompresses_changes_and_recompresses() {
        let mut v = StrValue::new(compressible(), Some(&ON));
        let len = v.edit(Some(&ON), |b| {
            b.extend_from_slice(b"tail");
            b.len()
        });
        assert_eq!(len, Ok(compressible().len() + 4));
        assert!(v.is_compressed());
        assert!(v.to_vec().unwrap().ends_with(b"world tail"));
        v.edit(None, |b| b.truncate(3)).unwrap();
        assert_eq!(v, StrValue::Raw(b"hel".to_vec()));
    }

    #[test]
    fn corrupt_frames_are_errors_not_panics() {
        let mut v = StrValue::Zstd {
            data: b"not zstd".to_vec(),
            len: 10,
        };
        assert!(v.bytes().is_err());
        assert!(v.edit(Some(&ON), |b| b.push(1)).is_err());
        assert!(v.is_compressed(), "a failed edit keeps the stored data");
        assert!(StrValue::from_zstd(b"junk".to_vec(), 4, Some(&ON)).is_err());
        let StrValue::Zstd { data, len } = StrValue::new(compressible(), Some(&ON)) else {
            panic!("expected compression");
        };
        let raw = StrValue::from_zstd(data, len, None).unwrap();
        assert_eq!(raw, StrValue::Raw(compressible()));
    }
}
