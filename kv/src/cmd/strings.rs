//! String commands.

use super::args::{int, is};
use crate::error::KvError;
use crate::numbers::{format_incr_float, parse_f64, parse_i64};
use crate::resp::Reply;
use crate::store::Ctx;
use crate::value::{StrValue, Value};

type Res = Result<Reply, KvError>;

/// How SET behaves (the typed API builds these too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SetOptions {
    /// Only set when the key does not exist.
    pub nx: bool,
    /// Only set when the key exists.
    pub xx: bool,
    /// Answer the old value.
    pub get: bool,
    /// Keep the key's current TTL.
    pub keepttl: bool,
    /// Absolute expiry, Unix ms.
    pub expire_at: Option<u64>,
}

/// The units of an expiry argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Seconds,
    Millis,
    UnixSeconds,
    UnixMillis,
}

impl Unit {
    fn parse(arg: &[u8]) -> Option<Unit> {
        [
            ("ex", Unit::Seconds),
            ("px", Unit::Millis),
            ("exat", Unit::UnixSeconds),
            ("pxat", Unit::UnixMillis),
        ]
        .into_iter()
        .find(|(name, _)| is(arg, name))
        .map(|(_, unit)| unit)
    }
}

/// An absolute expiry (Unix ms) from a positive amount in `unit`; `cmd` names the command in
/// the invalid-expire error.
pub(crate) fn deadline(unit: Unit, raw: &[u8], now: u64, cmd: &str) -> Result<u64, KvError> {
    let n = int(raw)?;
    let invalid = || KvError::InvalidExpire(cmd.into());
    if n <= 0 {
        return Err(invalid());
    }
    let ms = match unit {
        Unit::Seconds | Unit::UnixSeconds => n.checked_mul(1000).ok_or_else(invalid)?,
        Unit::Millis | Unit::UnixMillis => n,
    };
    let at = match unit {
        Unit::Seconds | Unit::Millis => (now as i64).checked_add(ms).ok_or_else(invalid)?,
        Unit::UnixSeconds | Unit::UnixMillis => ms,
    };
    Ok(at as u64)
}

fn parse_set_options(args: &[Vec<u8>], now: u64) -> Result<SetOptions, KvError> {
    let mut opts = SetOptions::default();
    let mut has_expire = false;
    let mut i = 3;
    while i < args.len() {
        let arg = &args[i];
        if is(arg, "nx") && !opts.xx {
            opts.nx = true;
        } else if is(arg, "xx") && !opts.nx {
            opts.xx = true;
        } else if is(arg, "get") {
            opts.get = true;
        } else if is(arg, "keepttl") && !has_expire {
            opts.keepttl = true;
        } else if let (Some(unit), Some(raw), false, false) =
            (Unit::parse(arg), args.get(i + 1), opts.keepttl, has_expire)
        {
            opts.expire_at = Some(deadline(unit, raw, now, "set")?);
            has_expire = true;
            i += 1;
        } else {
            return Err(KvError::Syntax);
        }
        i += 1;
    }
    Ok(opts)
}

/// The string at `key`, decompressed (WRONGTYPE for other types).
pub(crate) fn get_value(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<Vec<u8>>, KvError> {
    ctx.read::<StrValue, _>(key, StrValue::to_vec)?.transpose()
}

/// Applies `f` to the original bytes of the string at `key` (`Ok(None)` when missing).
fn read_bytes<R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&[u8]) -> R,
) -> Result<Option<R>, KvError> {
    ctx.read::<StrValue, _>(key, |v| v.bytes().map(|b| f(&b)))?
        .transpose()
}

/// Length of the original bytes of the string at `key`, without decompressing it.
fn string_len(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Option<usize>, KvError> {
    ctx.read::<StrValue, _>(key, StrValue::len)
}

/// Changes the original bytes of the string at `key` (created empty when missing) and stores
/// them again under the store's compression policy.
fn edit_bytes<R>(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    f: impl FnOnce(&mut Vec<u8>) -> R,
) -> Result<Option<R>, KvError> {
    let policy = ctx.store.compression;
    ctx.write::<StrValue, _>(key, true, |v| v.edit(policy.as_ref(), f))?
        .transpose()
}

/// `bytes` as a string value under the store's compression policy.
fn string(ctx: &Ctx<'_, '_>, bytes: Vec<u8>) -> Value {
    Value::Str(StrValue::new(bytes, ctx.store.compression.as_ref()))
}

/// SET: returns whether it stored the value, and the old value when `opts.get`.
pub(crate) fn set_value(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    value: Vec<u8>,
    opts: &SetOptions,
) -> Result<(bool, Option<Vec<u8>>), KvError> {
    let old = if opts.get { get_value(ctx, key)? } else { None };
    let exists = ctx.exists(key);
    if (opts.nx && exists) || (opts.xx && !exists) {
        return Ok((false, old));
    }
    let expire_at = if opts.keepttl {
        ctx.expire_at(key).flatten()
    } else {
        opts.expire_at
    };
    let value = string(ctx, value);
    ctx.insert(key, value, expire_at);
    Ok((true, old))
}

/// INCRBY: the new value.
pub(crate) fn incr_by(ctx: &mut Ctx<'_, '_>, key: &[u8], delta: i64) -> Result<i64, KvError> {
    let current = match read_bytes(ctx, key, parse_i64)? {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => return Err(KvError::NotInteger),
    };
    let new = current.checked_add(delta).ok_or(KvError::Overflow)?;
    edit_bytes(ctx, key, |v| *v = new.to_string().into_bytes())?;
    Ok(new)
}

pub(super) fn get(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::Bulk(get_value(ctx, &args[1])?))
}

pub(super) fn set(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let opts = parse_set_options(args, ctx.now)?;
    let (stored, old) = set_value(ctx, &args[1], args[2].clone(), &opts)?;
    Ok(match (opts.get, stored) {
        (true, _) => Reply::Bulk(old),
        (false, true) => Reply::ok(),
        (false, false) => Reply::nil(),
    })
}

fn set_with_unit(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], unit: Unit, cmd: &str) -> Res {
    let opts = SetOptions {
        expire_at: Some(deadline(unit, &args[2], ctx.now, cmd)?),
        ..SetOptions::default()
    };
    set_value(ctx, &args[1], args[3].clone(), &opts)?;
    Ok(Reply::ok())
}

pub(super) fn setex(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    set_with_unit(ctx, args, Unit::Seconds, "setex")
}

pub(super) fn psetex(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    set_with_unit(ctx, args, Unit::Millis, "psetex")
}

pub(super) fn setnx(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let opts = SetOptions {
        nx: true,
        ..SetOptions::default()
    };
    let (stored, _) = set_value(ctx, &args[1], args[2].clone(), &opts)?;
    Ok(Reply::Integer(i64::from(stored)))
}

pub(super) fn getset(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let opts = SetOptions {
        get: true,
        ..SetOptions::default()
    };
    let (_, old) = set_value(ctx, &args[1], args[2].clone(), &opts)?;
    Ok(Reply::Bulk(old))
}

pub(super) fn mget(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let values = args[1..]
        .iter()
        .map(|key| Reply::Bulk(get_value(ctx, key).ok().flatten()))
        .collect();
    Ok(Reply::array(values))
}

pub(super) fn mset(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    if args.len() % 2 == 0 {
        return Err(KvError::WrongArity("mset".into()));
    }
    for pair in args[1..].chunks(2) {
        let value = string(ctx, pair[1].clone());
        ctx.insert(&pair[0], value, None);
    }
    Ok(Reply::ok())
}

pub(super) fn msetnx(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    if args.len() % 2 == 0 {
        return Err(KvError::WrongArity("msetnx".into()));
    }
    if args[1..].chunks(2).any(|pair| ctx.exists(&pair[0])) {
        return Ok(Reply::Integer(0));
    }
    for pair in args[1..].chunks(2) {
        let value = string(ctx, pair[1].clone());
        ctx.insert(&pair[0], value, None);
    }
    Ok(Reply::Integer(1))
}

pub(super) fn incr(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    incr_by(ctx, &args[1], 1).map(Reply::Integer)
}

pub(super) fn decr(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    incr_by(ctx, &args[1], -1).map(Reply::Integer)
}

pub(super) fn incrby(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let delta = int(&args[2])?;
    incr_by(ctx, &args[1], delta).map(Reply::Integer)
}

pub(super) fn decrby(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let delta = int(&args[2])?;
    let delta = delta
        .checked_neg()
        .ok_or_else(|| KvError::err("decrement would overflow"))?;
    incr_by(ctx, &args[1], delta).map(Reply::Integer)
}

/// INCRBYFLOAT: the new value as Redis prints it.
pub(crate) fn incr_by_float(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    delta: f64,
) -> Result<Vec<u8>, KvError> {
    let current = match read_bytes(ctx, key, parse_f64)? {
        None => 0.0,
        Some(Some(n)) => n,
        Some(None) => return Err(KvError::NotFloat),
    };
    let new = current + delta;
    if !new.is_finite() {
        return Err(KvError::NanOrInfinity);
    }
    let text = format_incr_float(new).into_bytes();
    let stored = text.clone();
    edit_bytes(ctx, key, |v| *v = stored)?;
    Ok(text)
}

pub(super) fn incrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let delta = parse_f64(&args[2]).ok_or(KvError::NotFloat)?;
    incr_by_float(ctx, &args[1], delta).map(Reply::bulk)
}

pub(super) fn append(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let len = string_len(ctx, &args[1])?.unwrap_or(0);
    if len + args[2].len() > ctx.store.limits.max_bulk_len {
        return Err(KvError::TooBig);
    }
    let new_len = edit_bytes(ctx, &args[1], |v| {
        v.extend_from_slice(&args[2]);
        v.len()
    })?;
    Ok(Reply::Integer(new_len.unwrap_or(0) as i64))
}

pub(super) fn getdel(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let value = get_value(ctx, &args[1])?;
    if value.is_some() {
        ctx.remove(&args[1]);
    }
    Ok(Reply::Bulk(value))
}

pub(super) fn getex(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let key = &args[1];
    // None: leave the TTL alone; Some(None): PERSIST; Some(Some(at)): set it.
    let mut change: Option<Option<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if change.is_some() {
            return Err(KvError::Syntax);
        }
        if is(&args[i], "persist") {
            change = Some(None);
        } else if let (Some(unit), Some(raw)) = (Unit::parse(&args[i]), args.get(i + 1)) {
            change = Some(Some(deadline(unit, raw, ctx.now, "getex")?));
            i += 1;
        } else {
            return Err(KvError::Syntax);
        }
        i += 1;
    }
    let value = get_value(ctx, key)?;
    if let (Some(_), Some(at)) = (&value, change) {
        ctx.set_expire(key, at);
    }
    Ok(Reply::Bulk(value))
}

pub(super) fn strlen(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let len = string_len(ctx, &args[1])?.unwrap_or(0);
    Ok(Reply::Integer(len as i64))
}

pub(super) fn getrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (start, end) = (int(&args[2])?, int(&args[3])?);
    let value = read_bytes(ctx, &args[1], |v| substring(v, start, end))?.unwrap_or_default();
    Ok(Reply::bulk(value))
}

/// GETRANGE's index rules.
fn substring(value: &[u8], start: i64, end: i64) -> Vec<u8> {
    let len = value.len() as i64;
    if (start < 0 && end < 0 && start > end) || len == 0 {
        return Vec::new();
    }
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let end = if end < 0 {
        (len + end).max(0)
    } else {
        end.min(len - 1)
    };
    if start > end {
        return Vec::new();
    }
    value[start as usize..=end as usize].to_vec()
}

pub(super) fn setrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let offset = int(&args[2])?;
    let offset = usize::try_from(offset).map_err(|_| KvError::err("offset is out of range"))?;
    let patch = &args[3];
    let len = string_len(ctx, &args[1])?;
    if patch.is_empty() {
        return Ok(Reply::Integer(len.unwrap_or(0) as i64));
    }
    if offset.saturating_add(patch.len()) > ctx.store.limits.max_bulk_len {
        return Err(KvError::TooBig);
    }
    let new_len = edit_bytes(ctx, &args[1], |v| {
        if v.len() < offset + patch.len() {
            v.resize(offset + patch.len(), 0);
        }
        v[offset..offset + patch.len()].copy_from_slice(patch);
        v.len()
    })?;
    Ok(Reply::Integer(new_len.unwrap_or(0) as i64))
}

#[cfg(test)]
mod tests {
    use super::substring;

    #[test]
    fn getrange_indexes() {
        assert_eq!(substring(b"Hello World", 0, 4), b"Hello");
        assert_eq!(substring(b"Hello World", -3, -1), b"rld");
        assert_eq!(substring(b"Hello World", 0, -100), b"H");
        assert_eq!(substring(b"Hello World", 5, 3), b"");
        assert_eq!(substring(b"Hello World", -1, -5), b"");
        assert_eq!(substring(b"Hello World", 0, 100), b"Hello World");
    }
}
