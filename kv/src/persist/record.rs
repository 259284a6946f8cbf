//! What a write command puts in the log. Most commands are logged as they were sent: replayed
//! in the same order against the same state they do the same thing. The exceptions are
//! rewritten into commands that are deterministic and time-independent (the loader replays
//! with the clock stopped at 0, so nothing expires during replay):
//!
//! - SET/SETEX/PSETEX/GETEX/INCRBYFLOAT: the key's resulting state, `SET key value [PXAT ms]`
//!   or `DEL key`, so relative TTLs become absolute. The value is always the original
//!   (decompressed) bytes, so the log does not depend on the compression setting.
//! - EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT: `PEXPIREAT key ms`, or `DEL key` when the deadline
//!   was already past and the key was deleted.
//! - SPOP: `SREM key` of the members actually popped (random choice).
//! - BLPOP/BRPOP: `LPOP`/`RPOP` of the key that was popped.
//!
//! Keys that expire (lazily or in the sweeper) or are evicted are logged as `DEL` by the shard
//! that removed them, before any later record of the same shard.

use crate::resp::Reply;
use crate::store::Ctx;
use crate::value::Value;

/// Most members in one rewritten SREM (keeps records well under the loader's argument limit).
const CHUNK: usize = 1024;

/// Logs a write command `name` (lower case) that answered `reply`. Errors are not logged:
/// a command that fails changes nothing. Does nothing without an append-only log.
pub(crate) fn record_command(ctx: &mut Ctx<'_, '_>, name: &str, args: &[Vec<u8>], reply: &Reply) {
    if !ctx.store.logs_writes() || matches!(reply, Reply::Error(_)) {
        return;
    }
    match name {
        "getex" if args.len() == 2 => {}
        "set" | "setex" | "psetex" | "getex" | "incrbyfloat" => string_state(ctx, &args[1]),
        "expire" | "pexpire" | "expireat" | "pexpireat" => ttl_state(ctx, &args[1]),
        "spop" => popped_members(ctx, &args[1], reply),
        "blpop" | "brpop" => popped_key(ctx, name, reply),
        _ => ctx.record(args.to_vec()),
    }
}

fn del(key: &[u8]) -> Vec<Vec<u8>> {
    vec![b"DEL".to_vec(), key.to_vec()]
}

/// `SET key value [PXAT at]` for a string, `DEL key` when it is gone.
fn string_state(ctx: &mut Ctx<'_, '_>, key: &[u8]) {
    let db = ctx.db();
    let state = match ctx.shard(key).dbs[db].dict.get(key) {
        None => Some(del(key)),
        Some(entry) => match &entry.value {
            Value::Str(s) => {
                let Ok(bytes) = s.to_vec() else {
                    log::error!("not logging a string whose stored data is corrupt");
                    return;
                };
                let mut args = vec![b"SET".to_vec(), key.to_vec(), bytes];
                if let Some(at) = entry.expire_at {
                    args.push(b"PXAT".to_vec());
                    args.push(at.to_string().into_bytes());
                }
                Some(args)
            }
            _ => None,
        },
    };
    if let Some(args) = state {
        ctx.record(args);
    }
}

/// `PEXPIREAT key at`, or `DEL key` when the key is gone; nothing when it has no TTL.
fn ttl_state(ctx: &mut Ctx<'_, '_>, key: &[u8]) {
    let db = ctx.db();
    let state = match ctx.shard(key).dbs[db].dict.get(key) {
        None => Some(del(key)),
        Some(entry) => entry.expire_at.map(|at| {
            vec![
                b"PEXPIREAT".to_vec(),
                key.to_vec(),
                at.to_string().into_bytes(),
            ]
        }),
    };
    if let Some(args) = state {
        ctx.record(args);
    }
}

/// `SREM key members...` of the members SPOP answered.
fn popped_members(ctx: &mut Ctx<'_, '_>, key: &[u8], reply: &Reply) {
    let members: Vec<Vec<u8>> = match reply {
        Reply::Bulk(Some(m)) => vec![m.clone()],
        Reply::Array(Some(items)) => items
            .iter()
            .filter_map(|r| match r {
                Reply::Bulk(Some(m)) => Some(m.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    for chunk in members.chunks(CHUNK) {
        let mut args = vec![b"SREM".to_vec(), key.to_vec()];
        args.extend(chunk.iter().cloned());
        ctx.record(args);
    }
}

/// `LPOP key` / `RPOP key` for the key a blocking pop answered with.
fn popped_key(ctx: &mut Ctx<'_, '_>, name: &str, reply: &Reply) {
    let Reply::Array(Some(items)) = reply else {
        return;
    };
    let Some(Reply::Bulk(Some(key))) = items.first() else {
        return;
    };
    let pop = if name == "blpop" { "LPOP" } else { "RPOP" };
    ctx.record(vec![pop.as_bytes().to_vec(), key.clone()]);
}
