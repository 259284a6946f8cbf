//! The snapshot format (`dump.ekv`), little-endian, lengths and counts as LEB128 varints:
//!
//! ```text
//! header   "EKVSNAP\0" (8 bytes) | version u32 = 1 | log generation u64 | created at ms u64
//! entry    0x01 | db varint | type u8 | has_expiry u8 | [expire-at ms u64] | key | value
//! end      0xFF | CRC-32 (IEEE) u32 of every byte before it
//! key/str  length varint | bytes
//! value    string: str | hash: count, (field str, value str)* | list: count, str*
//!          set: count, str* | zset: count, (member str, score f64 bits u64)*
//!          compressed string (type 5): original length varint | zstd frame str
//! ```
//!
//! Type 5 is written only for strings held compressed (see [`crate::Compression`]), so a
//! store without compression writes exactly the files it always did and every older snapshot
//! still loads. On load, strings follow the loading store's policy: raw ones are compressed
//! when it is on, compressed ones are checked and kept (or decompressed when it is off).
//!
//! The log generation is the first append-only log segment that is *not* covered by the
//! snapshot: the loader replays segments from that generation on.

use std::path::Path;

use super::PersistError;
use crate::config::Compression;
use crate::store::Shard;
use crate::value::{HashValue, ListValue, SetValue, StrValue, Value, ZSetValue};

const MAGIC: &[u8; 8] = b"EKVSNAP\0";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 8 + 8;
const TAG_ENTRY: u8 = 0x01;
const TAG_END: u8 = 0xFF;

const TYPE_STR: u8 = 0;
const TYPE_HASH: u8 = 1;
const TYPE_LIST: u8 = 2;
const TYPE_SET: u8 = 3;
const TYPE_ZSET: u8 = 4;
const TYPE_STR_ZSTD: u8 = 5;

/// Largest original length a compressed string may claim (a sanity bound on the allocation).
const MAX_STR_LEN: u64 = u32::MAX as u64;

/// The header of a snapshot whose log continues at `generation`.
pub(super) fn header(generation: u64, now: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 << 16);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&generation.to_le_bytes());
    out.extend_from_slice(&now.to_le_bytes());
    out
}

/// Appends every live entry of `shard` to `out`.
pub(super) fn encode_shard(out: &mut Vec<u8>, shard: &Shard, now: u64) {
    for (db, d) in shard.dbs.iter().enumerate() {
        for (key, entry) in d.dict.iter().filter(|(_, e)| !e.expired(now)) {
            out.push(TAG_ENTRY);
            varint(out, db as u64);
            out.push(type_tag(&entry.value));
            match entry.expire_at {
                Some(at) => {
                    out.push(1);
                    out.extend_from_slice(&at.to_le_bytes());
                }
                None => out.push(0),
            }
            bytes(out, key);
            encode_value(out, &entry.value);
        }
    }
}

/// Appends the end marker and the checksum.
pub(super) fn finish(out: &mut Vec<u8>) {
    out.push(TAG_END);
    let crc = crc32fast::hash(out);
    out.extend_from_slice(&crc.to_le_bytes());
}

fn type_tag(value: &Value) -> u8 {
    match value {
        Value::Str(StrValue::Raw(_)) => TYPE_STR,
        Value::Str(StrValue::Zstd { .. }) => TYPE_STR_ZSTD,
        Value::Hash(_) => TYPE_HASH,
        Value::List(_) => TYPE_LIST,
        Value::Set(_) => TYPE_SET,
        Value::ZSet(_) => TYPE_ZSET,
    }
}

fn varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn bytes(out: &mut Vec<u8>, data: &[u8]) {
    varint(out, data.len() as u64);
    out.extend_from_slice(data);
}

fn encode_value(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Str(StrValue::Raw(s)) => bytes(out, s),
        Value::Str(StrValue::Zstd { data, len }) => {
            varint(out, *len as u64);
            bytes(out, data);
        }
        Value::Hash(h) => {
            varint(out, h.len() as u64);
            for (field, v) in h.iter() {
                bytes(out, field);
                bytes(out, v);
            }
        }
        Value::List(l) => {
            varint(out, l.len() as u64);
            for item in (0..l.len()).filter_map(|i| l.get(i)) {
                bytes(out, item);
            }
        }
        Value::Set(s) => {
            varint(out, s.len() as u64);
            for member in s.iter() {
                bytes(out, member);
            }
        }
        Value::ZSet(z) => {
            varint(out, z.len() as u64);
            for (member, score) in z.iter() {
                bytes(out, member);
                out.extend_from_slice(&score.to_bits().to_le_bytes());
            }
        }
    }
}

/// One decoded entry.
pub(super) struct Item {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_at: Option<u64>,
}

/// Checks `data` (the contents of the snapshot at `path`) and feeds each entry to `each`,
/// strings stored under `policy`. Returns the log generation the snapshot continues at.
pub(super) fn decode(
    path: &Path,
    data: &[u8],
    policy: Option<&Compression>,
    mut each: impl FnMut(Item) -> Result<(), String>,
) -> Result<u64, PersistError> {
    let corrupt = |reason: String| PersistError::CorruptSnapshot {
        path: path.to_path_buf(),
        reason,
    };
    let generation = check_frame(data).map_err(corrupt)?;
    let mut reader = Reader {
        data: &data[..data.len() - 5],
        pos: HEADER_LEN,
        policy,
    };
    loop {
        match reader.u8().map_err(corrupt)? {
            TAG_ENTRY => each(reader.item().map_err(corrupt)?).map_err(corrupt)?,
            tag => return Err(corrupt(format!("unknown record tag {tag:#04x}"))),
        }
        if reader.pos == reader.data.len() {
            return Ok(generation);
        }
    }
}

/// Checks magic, version, end marker and checksum; returns the log generation.
fn check_frame(data: &[u8]) -> Result<u64, String> {
    if data.len() < HEADER_LEN + 5 || &data[..8] != MAGIC {
        return Err("not a snapshot file (bad magic or too short)".into());
    }
    let version = u32::from_le_bytes(fixed(&data[8..12]));
    if version != VERSION {
        return Err(format!("unsupported snapshot version {version}"));
    }
    let (body, crc) = data.split_at(data.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes(fixed(crc)) {
        return Err("checksum mismatch".into());
    }
    if body.last() != Some(&TAG_END) {
        return Err("missing end marker".into());
    }
    Ok(u64::from_le_bytes(fixed(&data[12..20])))
}

fn fixed<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// A bounds-checked cursor over the entry section.
struct Reader<'d> {
    data: &'d [u8],
    pos: usize,
    policy: Option<&'d Compression>,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.data.len())
            .ok_or_else(|| format!("entry runs past the end at byte {}", self.pos))?;
        let out = &self.data[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(fixed(self.take(8)?)))
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            n |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(n);
            }
        }
        Err(format!("overlong varint at byte {}", self.pos))
    }

    fn len(&mut self) -> Result<usize, String> {
        let n = self.varint()?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.data.len() - self.pos)
            .ok_or_else(|| format!("length {n} past the end at byte {}", self.pos))
    }

    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.len()?;
        Ok(self.take(n)?.to_vec())
    }

    /// A compressed string: original length, then the zstd frame.
    fn compressed(&mut self) -> Result<StrValue, String> {
        let len = self.varint()?;
        if len > MAX_STR_LEN {
            return Err(format!("compressed string claims {len} bytes"));
        }
        let data = self.bytes()?;
        StrValue::from_zstd(data, len as usize, self.policy)
            .map_err(|_| format!("compressed string does not decompress at byte {}", self.pos))
    }

    fn item(&mut self) -> Result<Item, String> {
        let db = usize::try_from(self.varint()?).map_err(|_| "db index too large")?;
        let kind = self.u8()?;
        let expire_at = match self.u8()? {
            0 => None,
            1 => Some(self.u64()?),
            flag => return Err(format!("bad expiry flag {flag}")),
        };
        let key = self.bytes()?;
        let value = self.value(kind)?;
        Ok(Item {
            db,
            key,
            value,
            expire_at,
        })
    }

    fn value(&mut self, kind: u8) -> Result<Value, String> {
        Ok(match kind {
            TYPE_STR => Value::Str(StrValue::new(self.bytes()?, self.policy)),
            TYPE_STR_ZSTD => Value::Str(self.compressed()?),
            TYPE_HASH => {
                let mut h = HashValue::default();
                for _ in 0..self.len()? {
                    let field = self.bytes()?;
                    h.insert(&field, self.bytes()?);
                }
                Value::Hash(h)
            }
            TYPE_LIST => {
                let mut l = ListValue::default();
                for _ in 0..self.len()? {
                    l.push(false, self.bytes()?);
                }
                Value::List(l)
            }
            TYPE_SET => {
                let mut s = SetValue::default();
                for _ in 0..self.len()? {
                    s.insert(&self.bytes()?);
                }
                Value::Set(s)
            }
            TYPE_ZSET => {
                let mut z = ZSetValue::default();
                for _ in 0..self.len()? {
                    let member = self.bytes()?;
                    let score = f64::from_bits(self.u64()?);
                    if score.is_nan() {
                        return Err("NaN score".into());
                    }
                    z.insert(&member, score);
                }
                Value::ZSet(z)
            }
            other => return Err(format!("unknown value type {other}")),
        })
    }
}
