//! Keyspace commands: DEL, EXISTS, TTLs, RENAME, KEYS/SCAN, database management.

use std::hash::BuildHasher;

use super::args::{int, is, text};
use crate::error::KvError;
use crate::glob::glob_match;
use crate::resp::Reply;
use crate::rng;
use crate::store::Ctx;
use crate::value::Value;

type Res = Result<Reply, KvError>;

/// Deletes `keys`; the number that existed.
pub(crate) fn delete(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]]) -> usize {
    keys.iter().filter(|key| ctx.remove(key).is_some()).count()
}

pub(super) fn del(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let keys: Vec<&[u8]> = args[1..].iter().map(Vec::as_slice).collect();
    Ok(Reply::Integer(delete(ctx, &keys) as i64))
}

pub(super) fn exists(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let n = args[1..].iter().filter(|key| ctx.exists(key)).count();
    Ok(Reply::Integer(n as i64))
}

/// Sets a TTL at absolute `at` (Unix ms; in the past deletes the key). Returns whether the
/// key existed and the condition held.
pub(crate) fn expire_key(ctx: &mut Ctx<'_, '_>, key: &[u8], at: i64, cond: Cond) -> bool {
    let Some(current) = ctx.expire_at(key) else {
        return false;
    };
    let allowed = match (cond, current) {
        (Cond::Always, _) => true,
        (Cond::Nx, current) => current.is_none(),
        (Cond::Xx, current) => current.is_some(),
        (Cond::Gt, None) => false,
        (Cond::Gt, Some(c)) => at > c as i64,
        (Cond::Lt, None) => true,
        (Cond::Lt, Some(c)) => at < c as i64,
    };
    if !allowed {
        return false;
    }
    if at <= ctx.now as i64 {
        ctx.remove(key);
    } else {
        ctx.set_expire(key, Some(at as u64));
    }
    true
}

/// EXPIRE's NX/XX/GT/LT condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cond {
    Always,
    Nx,
    Xx,
    Gt,
    Lt,
}

fn parse_cond(args: &[Vec<u8>]) -> Result<Cond, KvError> {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for arg in args {
        match () {
            _ if is(arg, "nx") => nx = true,
            _ if is(arg, "xx") => xx = true,
            _ if is(arg, "gt") => gt = true,
            _ if is(arg, "lt") => lt = true,
            _ => return Err(KvError::err(format!("Unsupported option {}", text(arg)))),
        }
    }
    if nx && (xx || gt || lt) {
        return Err(KvError::err(
            "NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if gt && lt {
        return Err(KvError::err(
            "GT and LT options at the same time are not compatible",
        ));
    }
    Ok(match (nx, xx, gt, lt) {
        (true, ..) => Cond::Nx,
        (_, _, true, _) => Cond::Gt,
        (_, _, _, true) => Cond::Lt,
        (_, true, ..) => Cond::Xx,
        _ => Cond::Always,
    })
}

fn expire_generic(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], ms: bool, abs: bool, cmd: &str) -> Res {
    let n = int(&args[2])?;
    let cond = parse_cond(&args[3..])?;
    let invalid = || KvError::InvalidExpire(cmd.into());
    let amount = if ms {
        n
    } else {
        n.checked_mul(1000).ok_or_else(invalid)?
    };
    let at = if abs {
        amount
    } else {
        amount.checked_add(ctx.now as i64).ok_or_else(invalid)?
    };
    Ok(Reply::Integer(i64::from(expire_key(
        ctx, &args[1], at, cond,
    ))))
}

pub(super) fn expire(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    expire_generic(ctx, args, false, false, "expire")
}

pub(super) fn pexpire(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    expire_generic(ctx, args, true, false, "pexpire")
}

pub(super) fn expireat(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    expire_generic(ctx, args, false, true, "expireat")
}

pub(super) fn pexpireat(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    expire_generic(ctx, args, true, true, "pexpireat")
}

/// TTL in ms: -2 missing, -1 no TTL.
pub(crate) fn ttl_ms(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> i64 {
    match ctx.expire_at(key) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => at.saturating_sub(ctx.now) as i64,
    }
}

fn ttl_reply(ctx: &mut Ctx<'_, '_>, key: &[u8], ms: bool, abs: bool) -> Res {
    let value = match ctx.expire_at(key) {
        None => -2,
        Some(None) => -1,
        Some(Some(at)) => {
            let t = if abs {
                at as i64
            } else {
                at.saturating_sub(ctx.now) as i64
            };
            if ms {
                t
            } else {
                (t + 500) / 1000
            }
        }
    };
    Ok(Reply::Integer(value))
}

pub(super) fn ttl(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    ttl_reply(ctx, &args[1], false, false)
}

pub(super) fn pttl(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    ttl_reply(ctx, &args[1], true, false)
}

pub(super) fn expiretime(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    ttl_reply(ctx, &args[1], false, true)
}

pub(super) fn pexpiretime(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    ttl_reply(ctx, &args[1], true, true)
}

pub(super) fn persist(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let had = matches!(ctx.expire_at(&args[1]), Some(Some(_)));
    if had {
        ctx.set_expire(&args[1], None);
    }
    Ok(Reply::Integer(i64::from(had)))
}

pub(super) fn type_cmd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(Reply::Simple(
        ctx.type_name(&args[1]).unwrap_or("none").into(),
    ))
}

fn rename_generic(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], nx: bool) -> Res {
    let (src, dst) = (&args[1], &args[2]);
    if !ctx.exists(src) {
        return Err(KvError::NoSuchKey);
    }
    if src == dst {
        return Ok(if nx { Reply::Integer(0) } else { Reply::ok() });
    }
    if nx && ctx.exists(dst) {
        return Ok(Reply::Integer(0));
    }
    let Some(entry) = ctx.remove(src) else {
        return Err(KvError::NoSuchKey);
    };
    if matches!(entry.value, Value::List(_)) {
        ctx.wake_lists();
    }
    ctx.insert(dst, entry.value, entry.expire_at);
    Ok(if nx { Reply::Integer(1) } else { Reply::ok() })
}

pub(super) fn rename(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    rename_generic(ctx, args, false)
}

pub(super) fn renamenx(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    rename_generic(ctx, args, true)
}

pub(super) fn keys(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (db, now, pattern) = (ctx.db(), ctx.now, &args[1]);
    let all = pattern.as_slice() == b"*";
    let mut found = Vec::new();
    for shard in ctx.guards().iter() {
        for (key, entry) in shard.dbs[db].dict.iter() {
            if !entry.expired(now) && (all || glob_match(pattern, key)) {
                found.push(Reply::bulk(key.to_vec()));
            }
        }
    }
    Ok(Reply::array(found))
}

/// Bits of a SCAN cursor that hold the position inside a shard.
const POS_BITS: u32 = 48;
const POS_MASK: u64 = (1 << POS_BITS) - 1;

/// One SCAN step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ScanPage {
    /// The cursor for the next call; 0 when the scan is complete.
    pub next: u64,
    /// Keys (or members) found.
    pub items: Vec<Vec<u8>>,
}

/// Takes the `count` entries with the smallest hashes at or above `from` (plus any ties of
/// the last one). Returns them and, when some were left, the last hash taken.
fn window<T>(mut items: Vec<(u64, T)>, count: usize) -> (Vec<(u64, T)>, Option<u64>) {
    if items.len() <= count || count == 0 {
        return (items, None);
    }
    items.select_nth_unstable_by_key(count - 1, |(h, _)| *h);
    let cut = items[count - 1].0;
    items.retain(|(h, _)| *h <= cut);
    (items, Some(cut))
}

/// SCAN over the current database. The cursor is a shard number (high bits) and a hash
/// position inside it: keys are visited in hash order shard by shard, so every key present
/// for the whole scan is returned exactly once however the keyspace changes in between.
pub(crate) fn scan_cursor(
    ctx: &Ctx<'_, '_>,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
    kind: Option<&[u8]>,
) -> ScanPage {
    let (db, now, store) = (ctx.db(), ctx.now, ctx.store);
    let shards = store.slots.len() as u64;
    let (mut shard, mut from) = (cursor >> POS_BITS, cursor & POS_MASK);
    let mut items = Vec::new();
    let mut examined = 0;
    while shard < shards && examined < count {
        let Some(s) = ctx.guards().get(shard as usize) else {
            break;
        };
        let candidates: Vec<(u64, _)> = s.dbs[db]
            .dict
            .iter()
            .map(|(k, e)| (store.hasher.hash_one::<&[u8]>(k) & POS_MASK, (k, e)))
            .filter(|(h, _)| *h >= from)
            .collect();
        let (taken, cut) = window(candidates, count - examined);
        examined += taken.len();
        for (_, (key, entry)) in taken {
            let type_ok = kind.map_or(true, |t| is(t, entry.value.type_name()));
            let pattern_ok = pattern.map_or(true, |p| glob_match(p, key));
            if !entry.expired(now) && type_ok && pattern_ok {
                items.push(key.to_vec());
            }
        }
        match cut {
            Some(cut) if cut < POS_MASK => from = cut + 1,
            _ => {
                shard += 1;
                from = 0;
            }
        }
    }
    let next = if shard >= shards {
        0
    } else {
        (shard << POS_BITS) | from
    };
    ScanPage { next, items }
}

/// SCAN-style paging over a collection's members, by full 64-bit hash.
pub(crate) fn scan_members<'m, T>(
    ctx: &Ctx<'_, '_>,
    members: impl Iterator<Item = (&'m [u8], T)>,
    cursor: u64,
    count: usize,
    pattern: Option<&[u8]>,
) -> (u64, Vec<(&'m [u8], T)>) {
    let hasher = &ctx.store.hasher;
    let candidates: Vec<(u64, (&[u8], T))> = members
        .map(|(m, v)| (hasher.hash_one(m), (m, v)))
        .filter(|(h, _)| *h >= cursor)
        .collect();
    let (taken, cut) = window(candidates, count);
    let next = cut.and_then(|c| c.checked_add(1)).unwrap_or(0);
    let items = taken
        .into_iter()
        .map(|(_, item)| item)
        .filter(|(m, _)| pattern.map_or(true, |p| glob_match(p, m)))
        .collect();
    (next, items)
}

/// Parsed `cursor [MATCH pattern] [COUNT n] [TYPE t]` arguments.
pub(crate) struct ScanArgs<'a> {
    pub cursor: u64,
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub kind: Option<&'a [u8]>,
}

/// Parses SCAN-family arguments (`allow_type`: only SCAN takes TYPE).
pub(crate) fn scan_args(args: &[Vec<u8>], allow_type: bool) -> Result<ScanArgs<'_>, KvError> {
    let cursor = std::str::from_utf8(&args[0])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| KvError::err("invalid cursor"))?;
    let mut parsed = ScanArgs {
        cursor,
        pattern: None,
        count: 10,
        kind: None,
    };
    let mut i = 1;
    while i < args.len() {
        let value = args.get(i + 1).ok_or(KvError::Syntax)?;
        if is(&args[i], "match") {
            parsed.pattern = (value.as_slice() != b"*").then_some(value.as_slice());
        } else if is(&args[i], "count") {
            let n = int(value)?;
            if n < 1 {
                return Err(KvError::Syntax);
            }
            parsed.count = n as usize;
        } else if allow_type && is(&args[i], "type") {
            parsed.kind = Some(value);
        } else {
            return Err(KvError::Syntax);
        }
        i += 2;
    }
    Ok(parsed)
}

pub(super) fn scan(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let a = scan_args(&args[1..], true)?;
    let page = scan_cursor(ctx, a.cursor, a.count, a.pattern, a.kind);
    Ok(Reply::array(vec![
        Reply::bulk(page.next.to_string()),
        Reply::bulks(page.items),
    ]))
}

pub(super) fn randomkey(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Res {
    let (db, now) = (ctx.db(), ctx.now);
    for _ in 0..100 {
        let sizes: Vec<usize> = ctx.guards().iter().map(|s| s.dbs[db].dict.len()).collect();
        let total: usize = sizes.iter().sum();
        if total == 0 {
            return Ok(Reply::nil());
        }
        let mut pick = rng::below(total);
        let Some(index) = sizes.iter().position(|&n| {
            let here = pick < n;
            if !here {
                pick -= n;
            }
            here
        }) else {
            break;
        };
        let Some(shard) = ctx.guards_mut().get_mut(index) else {
            break;
        };
        let Some((key, entry)) = shard.dbs[db].dict.at(pick) else {
            break;
        };
        if !entry.expired(now) {
            return Ok(Reply::bulk(key.to_vec()));
        }
        shard.remove_at(db, pick);
        shard.stats.expired += 1;
    }
    Ok(Reply::nil())
}

/// Keys in the current database.
pub(crate) fn db_size(ctx: &Ctx<'_, '_>) -> usize {
    let db = ctx.db();
    ctx.guards().iter().map(|s| s.dbs[db].dict.len()).sum()
}

pub(super) fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Res {
    Ok(Reply::Integer(db_size(ctx) as i64))
}

fn flush_mode(args: &[Vec<u8>]) -> Result<(), KvError> {
    match args {
        [] => Ok(()),
        [mode] if is(mode, "async") || is(mode, "sync") => Ok(()),
        _ => Err(KvError::Syntax),
    }
}

pub(super) fn flushdb(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    flush_mode(&args[1..])?;
    let db = ctx.db();
    for shard in ctx.guards_mut().iter_mut() {
        shard.flush(db);
    }
    Ok(Reply::ok())
}

/// Deletes every key of every database.
pub(crate) fn flush_all(ctx: &mut Ctx<'_, '_>) {
    for shard in ctx.guards_mut().iter_mut() {
        for db in 0..shard.dbs.len() {
            shard.flush(db);
        }
    }
}

pub(super) fn flushall(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    flush_mode(&args[1..])?;
    flush_all(ctx);
    Ok(Reply::ok())
}

fn db_index(ctx: &Ctx<'_, '_>, arg: &[u8], which: &str) -> Result<usize, KvError> {
    let n = int(arg).map_err(|_| KvError::err(format!("invalid {which} DB index")))?;
    usize::try_from(n)
        .ok()
        .filter(|&n| n < ctx.store.databases)
        .ok_or(KvError::DbIndex)
}

pub(super) fn swapdb(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let a = db_index(ctx, &args[1], "first")?;
    let b = db_index(ctx, &args[2], "second")?;
    if a != b {
        for shard in ctx.guards_mut().iter_mut() {
            let (lo, hi) = (a.min(b), a.max(b));
            let (left, right) = shard.dbs.split_at_mut(hi);
            let (x, y) = (&mut left[lo], &mut right[0]);
            std::mem::swap(&mut x.dict, &mut y.dict);
            std::mem::swap(&mut x.volatile, &mut y.volatile);
            std::mem::swap(&mut x.sweep_pos, &mut y.sweep_pos);
            shard.touch_all(a);
            shard.touch_all(b);
        }
        ctx.wake_db(a);
        ctx.wake_db(b);
    }
    Ok(Reply::ok())
}

pub(super) fn select(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let n = int(&args[1])?;
    let db = usize::try_from(n)
        .ok()
        .filter(|&n| n < ctx.store.databases)
        .ok_or(KvError::DbIndex)?;
    ctx.session.db = db;
    ctx.store.update_client(ctx.session);
    Ok(Reply::ok())
}

#[cfg(test)]
mod tests {
    use super::window;

    #[test]
    fn window_keeps_ties_and_reports_cut() {
        let items = vec![(5, 'a'), (1, 'b'), (3, 'c'), (3, 'd'), (9, 'e')];
        let (mut taken, cut) = window(items, 2);
        taken.sort();
        assert_eq!(taken, vec![(1, 'b'), (3, 'c'), (3, 'd')]);
        assert_eq!(cut, Some(3));
        let (all, cut) = window(vec![(1, 'x')], 5);
        assert_eq!((all.len(), cut), (1, None));
    }
}
