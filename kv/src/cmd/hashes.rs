//! Hash commands.

use super::args::int;
use super::keys::{scan_args, scan_members};
use crate::api::FieldValues;
use crate::error::KvError;
use crate::numbers::{format_incr_float, parse_f64, parse_i64};
use crate::resp::Reply;
use crate::store::Ctx;
use crate::value::HashValue;

type Res = Result<Reply, KvError>;

/// Sets field/value pairs; returns how many fields are new.
pub(crate) fn hash_set(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    pairs: &[(&[u8], &[u8])],
) -> Result<usize, KvError> {
    let added = ctx.write::<HashValue, _>(key, true, |h| {
        pairs
            .iter()
            .filter(|(f, v)| h.insert(f, v.to_vec()))
            .count()
    })?;
    Ok(added.unwrap_or(0))
}

/// The value of `field`.
pub(crate) fn hash_get(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    field: &[u8],
) -> Result<Option<Vec<u8>>, KvError> {
    Ok(ctx
        .read::<HashValue, _>(key, |h| h.get(field).cloned())?
        .flatten())
}

/// Every field and value.
pub(crate) fn hash_all(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<FieldValues, KvError> {
    Ok(ctx
        .read::<HashValue, _>(key, |h| {
            h.iter().map(|(f, v)| (f.clone(), v.clone())).collect()
        })?
        .unwrap_or_default())
}

/// Deletes fields; returns how many existed.
pub(crate) fn hash_del(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    fields: &[&[u8]],
) -> Result<usize, KvError> {
    let removed = ctx.write::<HashValue, _>(key, false, |h| {
        fields.iter().filter(|f| h.remove(f)).count()
    })?;
    Ok(removed.unwrap_or(0))
}

fn pairs(args: &[Vec<u8>]) -> Vec<(&[u8], &[u8])> {
    args.chunks(2)
        .map(|p| (p[0].as_slice(), p[1].as_slice()))
        .collect()
}

pub(super) fn hget(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::Bulk(hash_get(ctx, &args[1], &args[2])?))
}

pub(super) fn hset(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    if args.len() % 2 == 1 {
        return Err(KvError::WrongArity("hset".into()));
    }
    let added = hash_set(ctx, &args[1], &pairs(&args[2..]))?;
    Ok(Reply::Integer(added as i64))
}

pub(super) fn hmset(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    if args.len() % 2 == 1 {
        return Err(KvError::WrongArity("hmset".into()));
    }
    hash_set(ctx, &args[1], &pairs(&args[2..]))?;
    Ok(Reply::ok())
}

pub(super) fn hsetnx(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (field, value) = (&args[2], &args[3]);
    let added = ctx.write::<HashValue, _>(&args[1], true, |h| {
        h.get(field).is_none() && h.insert(field, value.clone())
    })?;
    Ok(Reply::Integer(i64::from(added.unwrap_or(false))))
}

pub(super) fn hmget(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let fields = &args[2..];
    let values = ctx
        .read::<HashValue, _>(&args[1], |h| {
            fields
                .iter()
                .map(|f| Reply::Bulk(h.get(f).cloned()))
                .collect()
        })?
        .unwrap_or_else(|| fields.iter().map(|_| Reply::nil()).collect());
    Ok(Reply::array(values))
}

pub(super) fn hgetall(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let flat = hash_all(ctx, &args[1])?
        .into_iter()
        .flat_map(|(f, v)| [Reply::bulk(f), Reply::bulk(v)])
        .collect();
    Ok(Reply::array(flat))
}

pub(super) fn hdel(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let fields: Vec<&[u8]> = args[2..].iter().map(Vec::as_slice).collect();
    Ok(Reply::Integer(hash_del(ctx, &args[1], &fields)? as i64))
}

pub(super) fn hexists(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let found = ctx
        .read::<HashValue, _>(&args[1], |h| h.get(&args[2]).is_some())?
        .unwrap_or(false);
    Ok(Reply::Integer(i64::from(found)))
}

pub(super) fn hincrby(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let delta = int(&args[3])?;
    let field = &args[2];
    let current = ctx
        .read::<HashValue, _>(&args[1], |h| h.get(field).map(|v| parse_i64(v)))?
        .flatten();
    let current = match current {
        None => 0,
        Some(Some(n)) => n,
        Some(None) => return Err(KvError::err("hash value is not an integer")),
    };
    let new = current.checked_add(delta).ok_or(KvError::Overflow)?;
    ctx.write::<HashValue, _>(&args[1], true, |h| {
        h.insert(field, new.to_string().into_bytes())
    })?;
    Ok(Reply::Integer(new))
}

pub(super) fn hincrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let delta = parse_f64(&args[3]).ok_or(KvError::NotFloat)?;
    let field = &args[2];
    let current = ctx
        .read::<HashValue, _>(&args[1], |h| h.get(field).map(|v| parse_f64(v)))?
        .flatten();
    let current = match current {
        None => 0.0,
        Some(Some(n)) => n,
        Some(None) => return Err(KvError::err("hash value is not a float")),
    };
    let new = current + delta;
    if !new.is_finite() {
        return Err(KvError::NanOrInfinity);
    }
    let text = format_incr_float(new).into_bytes();
    ctx.write::<HashValue, _>(&args[1], true, |h| h.insert(field, text.clone()))?;
    Ok(Reply::bulk(text))
}

pub(super) fn hkeys(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let keys = hash_all(ctx, &args[1])?.into_iter().map(|(f, _)| f);
    Ok(Reply::bulks(keys))
}

pub(super) fn hvals(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let values = hash_all(ctx, &args[1])?.into_iter().map(|(_, v)| v);
    Ok(Reply::bulks(values))
}

pub(super) fn hlen(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let len = ctx
        .read::<HashValue, _>(&args[1], |h| h.len())?
        .unwrap_or(0);
    Ok(Reply::Integer(len as i64))
}

pub(super) fn hstrlen(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let len = hash_get(ctx, &args[1], &args[2])?.map_or(0, |v| v.len());
    Ok(Reply::Integer(len as i64))
}

pub(super) fn hscan(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let a = scan_args(&args[2..], false)?;
    ctx.prepare([args[1].as_slice()]);
    let Some(hash) = ctx.peek::<HashValue>(&args[1])? else {
        return Ok(empty_scan());
    };
    let members = hash.iter().map(|(f, v)| (f.as_slice(), v));
    let (next, items) = scan_members(ctx, members, a.cursor, a.count, a.pattern);
    let flat = items
        .into_iter()
        .flat_map(|(f, v)| [Reply::bulk(f), Reply::bulk(v.clone())])
        .collect();
    Ok(Reply::array(vec![
        Reply::bulk(next.to_string()),
        Reply::array(flat),
    ]))
}

/// The reply of a SCAN-family command on a missing key.
pub(super) fn empty_scan() -> Reply {
    Reply::array(vec![Reply::bulk("0"), Reply::array(vec![])])
}
