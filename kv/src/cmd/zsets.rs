//! Sorted-set commands.

use super::args::{index_range, int, is, positive_count};
use super::hashes::empty_scan;
use super::keys::{scan_args, scan_members};
use crate::error::KvError;
use crate::numbers::{format_double, parse_f64};
use crate::resp::Reply;
use crate::store::Ctx;
use crate::value::ZSetValue;

type Res = Result<Reply, KvError>;

/// One end of a score range: `1.5`, `(1.5` (exclusive), `-inf`, `+inf`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ScoreBound {
    pub value: f64,
    pub exclusive: bool,
}

impl ScoreBound {
    fn parse(arg: &[u8]) -> Result<ScoreBound, KvError> {
        let (exclusive, number) = match arg.strip_prefix(b"(") {
            Some(rest) => (true, rest),
            None => (false, arg),
        };
        let value = parse_f64(number).ok_or_else(|| KvError::err("min or max is not a float"))?;
        Ok(ScoreBound { value, exclusive })
    }

    fn below(self, score: f64) -> bool {
        if self.exclusive {
            score > self.value
        } else {
            score >= self.value
        }
    }

    fn above(self, score: f64) -> bool {
        if self.exclusive {
            score < self.value
        } else {
            score <= self.value
        }
    }
}

/// What ZADD does with each pair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ZaddFlags {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// ZADD's result: elements added, elements whose score changed, and the final score of the
/// last pair (`None` when a condition skipped it).
pub(crate) struct ZaddResult {
    pub added: usize,
    pub changed: usize,
    pub score: Option<f64>,
}

/// Adds or updates members under `flags`.
pub(crate) fn zadd_pairs(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    pairs: &[(f64, &[u8])],
    flags: ZaddFlags,
) -> Result<ZaddResult, KvError> {
    let result = ctx.write::<ZSetValue, _>(key, true, |z| {
        let mut out = ZaddResult {
            added: 0,
            changed: 0,
            score: None,
        };
        for &(score, member) in pairs {
            out.score = None;
            match z.score(member) {
                Some(current) => {
                    if flags.nx {
                        continue;
                    }
                    let new = if flags.incr { current + score } else { score };
                    if new.is_nan() {
                        return Err(KvError::err("resulting score is not a number (NaN)"));
                    }
                    if (flags.gt && new <= current) || (flags.lt && new >= current) {
                        continue;
                    }
                    if new != current {
                        z.insert(member, new);
                        out.changed += 1;
                    }
                    out.score = Some(new);
                }
                None => {
                    if flags.xx {
                        continue;
                    }
                    z.insert(member, score);
                    out.added += 1;
                    out.score = Some(score);
                }
            }
        }
        Ok(out)
    })?;
    result.unwrap_or(Ok(ZaddResult {
        added: 0,
        changed: 0,
        score: None,
    }))
}

/// ZADD's flags and (score, member) pairs.
type ZaddArgs<'a> = (ZaddFlags, Vec<(f64, &'a [u8])>);

fn parse_zadd(args: &[Vec<u8>]) -> Result<ZaddArgs<'_>, KvError> {
    let mut flags = ZaddFlags::default();
    let mut i = 2;
    while i < args.len() {
        let a = &args[i];
        match () {
            _ if is(a, "nx") => flags.nx = true,
            _ if is(a, "xx") => flags.xx = true,
            _ if is(a, "gt") => flags.gt = true,
            _ if is(a, "lt") => flags.lt = true,
            _ if is(a, "ch") => flags.ch = true,
            _ if is(a, "incr") => flags.incr = true,
            _ => break,
        }
        i += 1;
    }
    let rest = &args[i..];
    if rest.is_empty() || rest.len() % 2 != 0 {
        return Err(KvError::Syntax);
    }
    if flags.nx && flags.xx {
        return Err(KvError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(KvError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if flags.incr && rest.len() > 2 {
        return Err(KvError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    let pairs = rest
        .chunks(2)
        .map(|p| Ok((parse_f64(&p[0]).ok_or(KvError::NotFloat)?, p[1].as_slice())))
        .collect::<Result<Vec<_>, KvError>>()?;
    Ok((flags, pairs))
}

pub(super) fn zadd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (flags, pairs) = parse_zadd(args)?;
    let result = zadd_pairs(ctx, &args[1], &pairs, flags)?;
    if flags.incr {
        return Ok(Reply::Bulk(
            result.score.map(|s| format_double(s).into_bytes()),
        ));
    }
    let n = result.added + if flags.ch { result.changed } else { 0 };
    Ok(Reply::Integer(n as i64))
}

pub(super) fn zincrby(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let delta = parse_f64(&args[2]).ok_or(KvError::NotFloat)?;
    let flags = ZaddFlags {
        incr: true,
        ..ZaddFlags::default()
    };
    let result = zadd_pairs(ctx, &args[1], &[(delta, &args[3])], flags)?;
    Ok(Reply::Bulk(
        result.score.map(|s| format_double(s).into_bytes()),
    ))
}

/// Removes members; how many were there.
pub(crate) fn zrem_members(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    members: &[&[u8]],
) -> Result<usize, KvError> {
    let removed = ctx.write::<ZSetValue, _>(key, false, |z| {
        members.iter().filter(|m| z.remove(m).is_some()).count()
    })?;
    Ok(removed.unwrap_or(0))
}

pub(super) fn zrem(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let members: Vec<&[u8]> = args[2..].iter().map(Vec::as_slice).collect();
    Ok(Reply::Integer(zrem_members(ctx, &args[1], &members)? as i64))
}

/// The score of `member`.
pub(crate) fn score_of(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    member: &[u8],
) -> Result<Option<f64>, KvError> {
    Ok(ctx
        .read::<ZSetValue, _>(key, |z| z.score(member))?
        .flatten())
}

fn score_reply(score: Option<f64>) -> Reply {
    Reply::Bulk(score.map(|s| format_double(s).into_bytes()))
}

pub(super) fn zscore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    Ok(score_reply(score_of(ctx, &args[1], &args[2])?))
}

pub(super) fn zmscore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let members = &args[2..];
    let scores = ctx
        .read::<ZSetValue, _>(&args[1], |z| {
            members.iter().map(|m| score_reply(z.score(m))).collect()
        })?
        .unwrap_or_else(|| members.iter().map(|_| Reply::nil()).collect());
    Ok(Reply::array(scores))
}

pub(super) fn zcard(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let len = ctx
        .read::<ZSetValue, _>(&args[1], |z| z.len())?
        .unwrap_or(0);
    Ok(Reply::Integer(len as i64))
}

/// Members with scores in `min..max`, ascending or (`rev`) descending.
fn by_score(z: &ZSetValue, min: ScoreBound, max: ScoreBound, rev: bool) -> Vec<(Vec<u8>, f64)> {
    let take = |(m, s): (&[u8], f64)| (m.to_vec(), s);
    if rev {
        z.iter()
            .rev()
            .skip_while(|(_, s)| !max.above(*s))
            .take_while(|(_, s)| min.below(*s))
            .map(take)
            .collect()
    } else {
        z.scores_from(min.value)
            .skip_while(|(_, s)| !min.below(*s))
            .take_while(|(_, s)| max.above(*s))
            .map(take)
            .collect()
    }
}

/// Members at ranks `start..=stop` (Redis indexes), ascending or (`rev`) descending.
fn by_rank(z: &ZSetValue, start: i64, stop: i64, rev: bool) -> Vec<(Vec<u8>, f64)> {
    let Some((a, b)) = index_range(start, stop, z.len()) else {
        return Vec::new();
    };
    let take = |(m, s): (&[u8], f64)| (m.to_vec(), s);
    if rev {
        z.iter().rev().skip(a).take(b - a + 1).map(take).collect()
    } else {
        z.iter().skip(a).take(b - a + 1).map(take).collect()
    }
}

/// Members at ranks `start..=stop` with their scores (typed API).
pub(crate) fn range_by_rank(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    start: i64,
    stop: i64,
) -> Result<Vec<(Vec<u8>, f64)>, KvError> {
    Ok(ctx
        .read::<ZSetValue, _>(key, |z| by_rank(z, start, stop, false))?
        .unwrap_or_default())
}

pub(super) fn zcount(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (min, max) = (ScoreBound::parse(&args[2])?, ScoreBound::parse(&args[3])?);
    let n = ctx
        .read::<ZSetValue, _>(&args[1], |z| by_score(z, min, max, false).len())?
        .unwrap_or(0);
    Ok(Reply::Integer(n as i64))
}

/// A parsed ZRANGE-family request.
#[derive(Debug, Default)]
struct RangeQuery {
    by_score: bool,
    rev: bool,
    limit: Option<(i64, i64)>,
    withscores: bool,
}

fn range_reply(items: Vec<(Vec<u8>, f64)>, withscores: bool) -> Reply {
    let mut out = Vec::with_capacity(items.len() * if withscores { 2 } else { 1 });
    for (m, s) in items {
        out.push(Reply::bulk(m));
        if withscores {
            out.push(Reply::bulk(format_double(s)));
        }
    }
    Reply::array(out)
}

/// Runs a range query; `lo`/`hi` are the two range arguments as given.
fn run_range(ctx: &mut Ctx<'_, '_>, key: &[u8], lo: &[u8], hi: &[u8], q: &RangeQuery) -> Res {
    let items = if q.by_score {
        let (min, max) = if q.rev { (hi, lo) } else { (lo, hi) };
        let (min, max) = (ScoreBound::parse(min)?, ScoreBound::parse(max)?);
        ctx.read::<ZSetValue, _>(key, |z| by_score(z, min, max, q.rev))?
    } else {
        let (start, stop) = (int(lo)?, int(hi)?);
        ctx.read::<ZSetValue, _>(key, |z| by_rank(z, start, stop, q.rev))?
    };
    let mut items = items.unwrap_or_default();
    if let Some((offset, count)) = q.limit {
        items = match usize::try_from(offset) {
            Ok(offset) => {
                let count = usize::try_from(count).unwrap_or(usize::MAX);
                items.into_iter().skip(offset).take(count).collect()
            }
            Err(_) => Vec::new(),
        };
    }
    Ok(range_reply(items, q.withscores))
}

/// Parses `[WITHSCORES] [LIMIT offset count]` (and, for ZRANGE, `BYSCORE`/`REV`).
fn parse_range_options(args: &[Vec<u8>], q: &mut RangeQuery, zrange: bool) -> Result<(), KvError> {
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if is(a, "withscores") {
            q.withscores = true;
        } else if is(a, "limit") && i + 2 < args.len() {
            q.limit = Some((int(&args[i + 1])?, int(&args[i + 2])?));
            i += 2;
        } else if zrange && is(a, "byscore") {
            q.by_score = true;
        } else if zrange && is(a, "rev") {
            q.rev = true;
        } else {
            return Err(KvError::Syntax);
        }
        i += 1;
    }
    if q.limit.is_some() && !q.by_score {
        return Err(KvError::err(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    Ok(())
}

pub(super) fn zrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let mut q = RangeQuery::default();
    parse_range_options(&args[4..], &mut q, true)?;
    run_range(ctx, &args[1], &args[2], &args[3], &q)
}

pub(super) fn zrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let mut q = RangeQuery {
        by_score: true,
        ..RangeQuery::default()
    };
    parse_range_options(&args[4..], &mut q, false)?;
    run_range(ctx, &args[1], &args[2], &args[3], &q)
}

pub(super) fn zrevrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let mut q = RangeQuery {
        by_score: true,
        rev: true,
        ..RangeQuery::default()
    };
    parse_range_options(&args[4..], &mut q, false)?;
    run_range(ctx, &args[1], &args[2], &args[3], &q)
}

pub(super) fn zrevrange(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let mut q = RangeQuery {
        rev: true,
        ..RangeQuery::default()
    };
    match &args[4..] {
        [] => {}
        [w] if is(w, "withscores") => q.withscores = true,
        _ => return Err(KvError::Syntax),
    }
    run_range(ctx, &args[1], &args[2], &args[3], &q)
}

fn rank_cmd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], rev: bool) -> Res {
    let rank = ctx
        .read::<ZSetValue, _>(&args[1], |z| {
            z.rank(&args[2])
                .map(|r| if rev { z.len() - 1 - r } else { r })
        })?
        .flatten();
    Ok(rank.map_or(Reply::nil(), |r| Reply::Integer(r as i64)))
}

pub(super) fn zrank(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    rank_cmd(ctx, args, false)
}

pub(super) fn zrevrank(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    rank_cmd(ctx, args, true)
}

fn remove_listed(z: &mut ZSetValue, items: Vec<(Vec<u8>, f64)>) -> usize {
    items.iter().filter(|(m, _)| z.remove(m).is_some()).count()
}

pub(super) fn zremrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (min, max) = (ScoreBound::parse(&args[2])?, ScoreBound::parse(&args[3])?);
    let n = ctx
        .write::<ZSetValue, _>(&args[1], false, |z| {
            let items = by_score(z, min, max, false);
            remove_listed(z, items)
        })?
        .unwrap_or(0);
    Ok(Reply::Integer(n as i64))
}

pub(super) fn zremrangebyrank(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let (start, stop) = (int(&args[2])?, int(&args[3])?);
    let n = ctx
        .write::<ZSetValue, _>(&args[1], false, |z| {
            let items = by_rank(z, start, stop, false);
            remove_listed(z, items)
        })?
        .unwrap_or(0);
    Ok(Reply::Integer(n as i64))
}

fn pop_cmd(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], max: bool) -> Res {
    let count = match args.len() {
        2 => 1,
        3 => positive_count(&args[2])?,
        _ => return Err(KvError::Syntax),
    };
    let popped = ctx
        .write::<ZSetValue, _>(&args[1], false, |z| {
            (0..count).map_while(|_| z.pop(max)).collect::<Vec<_>>()
        })?
        .unwrap_or_default();
    Ok(range_reply(popped, true))
}

pub(super) fn zpopmin(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    pop_cmd(ctx, args, false)
}

pub(super) fn zpopmax(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    pop_cmd(ctx, args, true)
}

pub(super) fn zscan(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let a = scan_args(&args[2..], false)?;
    ctx.prepare([args[1].as_slice()]);
    let Some(z) = ctx.peek::<ZSetValue>(&args[1])? else {
        return Ok(empty_scan());
    };
    let (next, items) = scan_members(ctx, z.iter(), a.cursor, a.count, a.pattern);
    let items = items.into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
    Ok(Reply::array(vec![
        Reply::bulk(next.to_string()),
        range_reply(items, true),
    ]))
}
