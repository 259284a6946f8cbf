//! SAVE, BGSAVE, BGREWRITEAOF and LASTSAVE.
//!
//! "Background" work runs on the thread that calls [`Store::persistence_tick`]: BGSAVE and
//! BGREWRITEAOF schedule a snapshot there (a snapshot also starts a fresh log segment, which
//! is what rewriting the log means here).

use super::args::is;
use crate::error::KvError;
use crate::resp::Reply;
use crate::store::{Ctx, Store};

type Res = Result<Reply, KvError>;

fn not_configured() -> KvError {
    KvError::err("persistence is not configured")
}

pub(super) fn save(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Res {
    if ctx.guards().iter().next().is_some() {
        return Err(KvError::err(
            "SAVE is not allowed inside a transaction or script",
        ));
    }
    let store: &Store = ctx.store;
    if !store.logs_writes() {
        return Err(not_configured());
    }
    store.save().map_err(KvError::err)?;
    Ok(Reply::ok())
}

pub(super) fn bgsave(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    if args.len() > 2 || args.get(1).is_some_and(|a| !is(a, "schedule")) {
        return Err(KvError::Syntax);
    }
    if !ctx.store.schedule_snapshot() {
        return Err(not_configured());
    }
    Ok(Reply::Simple("Background saving scheduled".into()))
}

pub(super) fn bgrewriteaof(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Res {
    if !ctx.store.schedule_snapshot() {
        return Err(not_configured());
    }
    Ok(Reply::Simple(
        "Background append only file rewriting scheduled".into(),
    ))
}

pub(super) fn lastsave(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Res {
    Ok(Reply::Integer((ctx.store.last_save_ms() / 1000) as i64))
}
