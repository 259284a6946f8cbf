//! Set commands.

use std::collections::HashSet;

use super::args::{int, positive_count};
use super::hashes::empty_scan;
use super::keys::{scan_args, scan_members};
use crate::error::KvError;
use crate::resp::{Reply, REPLY_OVERHEAD};
use crate::rng;
use crate::store::Ctx;
use crate::value::{SetValue, Value};

type Res = Result<Reply, KvError>;

/// Adds members; returns how many are new.
pub(crate) fn add(ctx: &mut Ctx<'_, '_>, key: &[u8], members: &[&[u8]]) -> Result<usize, KvError> {
    let added = ctx.write::<SetValue, _>(key, true, |s| {
        members.iter().filter(|m| s.insert(m)).count()
    })?;
    Ok(added.unwrap_or(0))
}

/// Removes members; returns how many were there.
pub(crate) fn remove(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    members: &[&[u8]],
) -> Result<usize, KvError> {
    let removed = ctx.write::<SetValue, _>(key, false, |s| {
        members.iter().filter(|m| s.remove(m)).count()
    })?;
    Ok(removed.unwrap_or(0))
}

/// Every member.
pub(crate) fn members(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> Result<Vec<Vec<u8>>, KvError> {
    Ok(ctx
        .read::<SetValue, _>(key, |s| s.iter().map(|m| m.to_vec()).collect())?
        .unwrap_or_default())
}

/// True when `member` is in the set.
pub(crate) fn is_member(ctx: &mut Ctx<'_, '_>, key: &[u8], member: &[u8]) -> Result<bool, KvError> {
    Ok(ctx
        .read::<SetValue, _>(key, |s| s.contains(member))?
        .unwrap_or(false))
}

fn members_of(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(Vec::as_slice).collect()
}

pub(super) fn sadd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::Integer(
        add(ctx, &args[1], &members_of(&args[2..]))? as i64
    ))
}

pub(super) fn srem(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::Integer(
        remove(ctx, &args[1], &members_of(&args[2..]))? as i64,
    ))
}

pub(super) fn smembers(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::bulks(members(ctx, &args[1])?))
}

pub(super) fn sismember(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::Integer(i64::from(is_member(
        ctx, &args[1], &args[2],
    )?)))
}

pub(super) fn smismember(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let wanted = &args[2..];
    let flags = ctx
        .read::<SetValue, _>(&args[1], |s| {
            wanted
                .iter()
                .map(|m| Reply::Integer(i64::from(s.contains(m))))
                .collect()
        })?
        .unwrap_or_else(|| wanted.iter().map(|_| Reply::Integer(0)).collect());
    Ok(Reply::array(flags))
}

pub(super) fn scard(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let len = ctx.read::<SetValue, _>(&args[1], |s| s.len())?.unwrap_or(0);
    Ok(Reply::Integer(len as i64))
}

pub(super) fn spop(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    match args.len() {
        2 => {
            let popped = ctx
                .write::<SetValue, _>(&args[1], false, |s| s.pop_random())?
                .flatten();
            Ok(Reply::Bulk(popped))
        }
        3 => {
            let count = positive_count(&args[2])?;
            let popped = ctx
                .write::<SetValue, _>(&args[1], false, |s| {
                    (0..count).map_while(|_| s.pop_random()).collect::<Vec<_>>()
                })?
                .unwrap_or_default();
            Ok(Reply::bulks(popped))
        }
        _ => Err(KvError::Syntax),
    }
}

/// `count` distinct random members (all of them when `count >= len`).
fn distinct_sample(set: &SetValue, count: usize) -> Vec<Vec<u8>> {
    if count >= set.len() {
        return set.iter().map(|m| m.to_vec()).collect();
    }
    let mut all: Vec<&[u8]> = set.iter().map(|m| &m[..]).collect();
    for i in 0..count {
        let j = i + rng::below(all.len() - i);
        all.swap(i, j);
    }
    all[..count].iter().map(|m| m.to_vec()).collect()
}

/// `count` random members, repeats allowed (SRANDMEMBER with a negative count). The reply is
/// made of repeats, so a small set could answer a huge count: past `budget` bytes of members
/// it is refused instead of built.
fn repeated_sample(set: &SetValue, count: u64, budget: usize) -> Result<Vec<Vec<u8>>, KvError> {
    let mut picked = Vec::new();
    let mut size = 0usize;
    for _ in 0..count {
        let Some(member) = set.random() else {
            break;
        };
        size = size.saturating_add(member.len() + REPLY_OVERHEAD);
        if size > budget {
            return Err(KvError::ReplyTooLarge(budget));
        }
        picked.push(member.to_vec());
    }
    Ok(picked)
}

pub(super) fn srandmember(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    match args.len() {
        2 => {
            let member = ctx
                .read::<SetValue, _>(&args[1], |s| s.random().map(|m| m.to_vec()))?
                .flatten();
            Ok(Reply::Bulk(member))
        }
        3 => {
            let count = int(&args[2])?;
            if count == i64::MIN {
                // Redis takes counts in -LONG_MAX..=LONG_MAX.
                return Err(KvError::err("value is out of range"));
            }
            let budget = ctx.store.limits.max_reply_bytes;
            let picked = ctx
                .read::<SetValue, _>(&args[1], |s| {
                    if count >= 0 {
                        Ok(distinct_sample(s, count as usize))
                    } else {
                        repeated_sample(s, count.unsigned_abs(), budget)
                    }
                })?
                .transpose()?
                .unwrap_or_default();
            Ok(Reply::bulks(picked))
        }
        _ => Err(KvError::Syntax),
    }
}

/// The set operation of SUNION/SINTER/SDIFF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetOp {
    Union,
    Inter,
    Diff,
}

/// Computes `op` over the sets at `keys` (missing keys are empty sets).
pub(crate) fn combine(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    op: SetOp,
) -> Result<Vec<Vec<u8>>, KvError> {
    ctx.prepare(keys.iter().copied());
    let sets = keys
        .iter()
        .map(|k| ctx.peek::<SetValue>(k))
        .collect::<Result<Vec<_>, _>>()?;
    let result: Vec<Vec<u8>> = match op {
        SetOp::Union => {
            let mut seen: HashSet<&[u8]> = HashSet::new();
            sets.iter()
                .flatten()
                .flat_map(|s| s.iter())
                .filter(|m| seen.insert(&m[..]))
                .map(|m| m.to_vec())
                .collect()
        }
        SetOp::Inter => match sets.iter().copied().collect::<Option<Vec<&SetValue>>>() {
            None => Vec::new(),
            Some(mut all) => {
                all.sort_by_key(|s| s.len());
                all[0]
                    .iter()
                    .filter(|m| all[1..].iter().all(|s| s.contains(m)))
                    .map(|m| m.to_vec())
                    .collect()
            }
        },
        SetOp::Diff => match sets[0] {
            None => Vec::new(),
            Some(first) => first
                .iter()
                .filter(|m| !sets[1..].iter().flatten().any(|s| s.contains(m)))
                .map(|m| m.to_vec())
                .collect(),
        },
    };
    Ok(result)
}

fn combine_cmd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], op: SetOp) -> Res {
    Ok(Reply::bulks(combine(ctx, &members_of(&args[1..]), op)?))
}

fn store_cmd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], op: SetOp) -> Res {
    let result = combine(ctx, &members_of(&args[2..]), op)?;
    let dst = &args[1];
    ctx.remove(dst);
    let mut set = SetValue::default();
    for m in &result {
        set.insert(m);
    }
    let len = set.len();
    if len > 0 {
        ctx.insert(dst, Value::Set(set), None);
    }
    Ok(Reply::Integer(len as i64))
}

pub(super) fn sunion(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    combine_cmd(ctx, args, SetOp::Union)
}

pub(super) fn sinter(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    combine_cmd(ctx, args, SetOp::Inter)
}

pub(super) fn sdiff(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    combine_cmd(ctx, args, SetOp::Diff)
}

pub(super) fn sunionstore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    store_cmd(ctx, args, SetOp::Union)
}

pub(super) fn sinterstore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    store_cmd(ctx, args, SetOp::Inter)
}

pub(super) fn sdiffstore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    store_cmd(ctx, args, SetOp::Diff)
}

pub(super) fn smove(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (src, dst, member) = (&args[1], &args[2], &args[3]);
    ctx.check::<SetValue>(src)?;
    ctx.check::<SetValue>(dst)?;
    if !is_member(ctx, src, member)? {
        return Ok(Reply::Integer(0));
    }
    if src != dst {
        remove(ctx, src, &[member])?;
        add(ctx, dst, &[member])?;
    }
    Ok(Reply::Integer(1))
}

pub(super) fn sscan(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let a = scan_args(&args[2..], false)?;
    ctx.prepare([args[1].as_slice()]);
    let Some(set) = ctx.peek::<SetValue>(&args[1])? else {
        return Ok(empty_scan());
    };
    let members = set.iter().map(|m| (&m[..], ()));
    let (next, items) = scan_members(ctx, members, a.cursor, a.count, a.pattern);
    Ok(Reply::array(vec![
        Reply::bulk(next.to_string()),
        Reply::bulks(items.into_iter().map(|(m, ())| m)),
    ]))
}
