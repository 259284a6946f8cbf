//! List commands, including the blocking pops.

use super::args::{index_range, int, is, positive_count, timeout};
use crate::error::KvError;
use crate::resp::Reply;
use crate::store::Ctx;
use crate::value::ListValue;

type Res = Result<Reply, KvError>;

/// Pushes `values` at the head (`left`) or tail; with `existing_only` a missing key is left
/// alone (LPUSHX). Returns the new length (0 when nothing happened).
pub(crate) fn push(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    values: &[&[u8]],
    left: bool,
    existing_only: bool,
) -> Result<usize, KvError> {
    let len = ctx.write::<ListValue, _>(key, !existing_only, |l| {
        for v in values {
            l.push(left, v.to_vec());
        }
        l.len()
    })?;
    if len.is_some() {
        ctx.wake_lists();
    }
    Ok(len.unwrap_or(0))
}

/// Pops up to `count` elements; `None` when the key is missing.
pub(crate) fn pop(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    left: bool,
    count: usize,
) -> Result<Option<Vec<Vec<u8>>>, KvError> {
    ctx.write::<ListValue, _>(key, false, |l| {
        (0..count).map_while(|_| l.pop(left)).collect()
    })
}

/// Elements `start..=stop` (Redis indexes).
pub(crate) fn range(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    start: i64,
    stop: i64,
) -> Result<Vec<Vec<u8>>, KvError> {
    Ok(ctx
        .read::<ListValue, _>(key, |l| match index_range(start, stop, l.len()) {
            Some((a, b)) => l.range(a, b).cloned().collect(),
            None => Vec::new(),
        })?
        .unwrap_or_default())
}

fn push_cmd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], left: bool, existing_only: bool) -> Res {
    let values: Vec<&[u8]> = args[2..].iter().map(Vec::as_slice).collect();
    push(ctx, &args[1], &values, left, existing_only).map(|n| Reply::Integer(n as i64))
}

pub(super) fn lpush(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    push_cmd(ctx, args, true, false)
}

pub(super) fn rpush(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    push_cmd(ctx, args, false, false)
}

pub(super) fn lpushx(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    push_cmd(ctx, args, true, true)
}

pub(super) fn rpushx(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    push_cmd(ctx, args, false, true)
}

fn pop_cmd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], left: bool) -> Res {
    let name = if left { "lpop" } else { "rpop" };
    match args.len() {
        2 => {
            let popped = pop(ctx, &args[1], left, 1)?;
            Ok(Reply::Bulk(popped.and_then(|mut v| v.pop())))
        }
        3 => {
            let count = positive_count(&args[2])?;
            if count == 0 {
                return Ok(match ctx.check::<ListValue>(&args[1])? {
                    true => Reply::array(vec![]),
                    false => Reply::Array(None),
                });
            }
            Ok(match pop(ctx, &args[1], left, count)? {
                Some(items) => Reply::bulks(items),
                None => Reply::Array(None),
            })
        }
        _ => Err(KvError::WrongArity(name.into())),
    }
}

pub(super) fn lpop(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    pop_cmd(ctx, args, true)
}

pub(super) fn rpop(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    pop_cmd(ctx, args, false)
}

pub(super) fn lrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (start, stop) = (int(&args[2])?, int(&args[3])?);
    Ok(Reply::bulks(range(ctx, &args[1], start, stop)?))
}

pub(super) fn llen(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let len = ctx
        .read::<ListValue, _>(&args[1], |l| l.len())?
        .unwrap_or(0);
    Ok(Reply::Integer(len as i64))
}

/// A Redis list index (negative from the end) as a position, if inside the list.
fn position(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 { len as i64 + index } else { index };
    (0..len as i64).contains(&i).then_some(i as usize)
}

pub(super) fn lindex(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let index = int(&args[2])?;
    let item = ctx
        .read::<ListValue, _>(&args[1], |l| {
            position(index, l.len()).and_then(|i| l.get(i).cloned())
        })?
        .flatten();
    Ok(Reply::Bulk(item))
}

pub(super) fn lrem(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let count = int(&args[2])?;
    let removed = ctx
        .write::<ListValue, _>(&args[1], false, |l| l.remove_matching(&args[3], count))?
        .unwrap_or(0);
    Ok(Reply::Integer(removed as i64))
}

pub(super) fn ltrim(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (start, stop) = (int(&args[2])?, int(&args[3])?);
    ctx.write::<ListValue, _>(&args[1], false, |l| {
        match index_range(start, stop, l.len()) {
            Some((a, b)) => l.trim(a, b),
            None => l.trim(1, 0),
        }
    })?;
    Ok(Reply::ok())
}

pub(super) fn lset(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let index = int(&args[2])?;
    let value = args[3].clone();
    let done = ctx.write::<ListValue, _>(&args[1], false, |l| match position(index, l.len()) {
        Some(i) => l.set(i, value),
        None => false,
    })?;
    match done {
        None => Err(KvError::NoSuchKey),
        Some(false) => Err(KvError::IndexOutOfRange),
        Some(true) => Ok(Reply::ok()),
    }
}

pub(super) fn linsert(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let after = if is(&args[2], "after") {
        true
    } else if is(&args[2], "before") {
        false
    } else {
        return Err(KvError::Syntax);
    };
    let (pivot, value) = (&args[3], &args[4]);
    let result = ctx.write::<ListValue, _>(&args[1], false, |l| match l.position(pivot) {
        Some(i) => {
            l.insert(i + usize::from(after), value.clone());
            l.len() as i64
        }
        None => -1,
    })?;
    if result.is_some_and(|n| n > 0) {
        ctx.wake_lists();
    }
    Ok(Reply::Integer(result.unwrap_or(0)))
}

fn blocking_pop(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], left: bool) -> Res {
    let (keys, last) = args[1..].split_at(args.len() - 2);
    let wait = timeout(&last[0])?;
    for key in keys {
        if let Some(mut items) = pop(ctx, key, left, 1)? {
            if let Some(item) = items.pop() {
                return Ok(Reply::array(vec![
                    Reply::bulk(key.clone()),
                    Reply::bulk(item),
                ]));
            }
        }
    }
    if !ctx.atomic {
        ctx.block = Some(wait);
    }
    Ok(Reply::Array(None))
}

pub(super) fn blpop(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    blocking_pop(ctx, args, true)
}

pub(super) fn brpop(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    blocking_pop(ctx, args, false)
}

fn side(arg: &[u8]) -> Result<bool, KvError> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(KvError::Syntax)
    }
}

/// LMOVE: pops from `src` and pushes onto `dst`; the moved element.
pub(crate) fn move_element(
    ctx: &mut Ctx<'_, '_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> Result<Option<Vec<u8>>, KvError> {
    ctx.check::<ListValue>(src)?;
    ctx.check::<ListValue>(dst)?;
    let Some(item) = pop(ctx, src, from_left, 1)?.and_then(|mut v| v.pop()) else {
        return Ok(None);
    };
    push(ctx, dst, &[&item], to_left, false)?;
    Ok(Some(item))
}

pub(super) fn lmove(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (from_left, to_left) = (side(&args[3])?, side(&args[4])?);
    move_element(ctx, &args[1], &args[2], from_left, to_left).map(Reply::Bulk)
}

pub(super) fn rpoplpush(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    move_element(ctx, &args[1], &args[2], false, true).map(Reply::Bulk)
}
