//! MULTI/EXEC/DISCARD and optimistic locking with WATCH.

use crate::error::KvError;
use crate::resp::Reply;
use crate::session::{Multi, Outcome, Session, Watched};
use crate::store::{Ctx, LockEach, Store, Txn};

use super::{lookup, DENYOOM};

type Res = Result<Reply, KvError>;

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

fn error(message: &str) -> Outcome {
    Outcome::Reply(Reply::error(message))
}

pub(super) fn multi(_store: &Store, session: &mut Session, _args: &[Vec<u8>]) -> Outcome {
    if session.multi.is_some() {
        return error("ERR MULTI calls can not be nested");
    }
    session.multi = Some(Multi::default());
    Outcome::Reply(Reply::ok())
}

pub(super) fn discard(store: &Store, session: &mut Session, _args: &[Vec<u8>]) -> Outcome {
    if session.multi.take().is_none() {
        return error("ERR DISCARD without MULTI");
    }
    store.unwatch_locking(session);
    Outcome::Reply(Reply::ok())
}

pub(super) fn exec(store: &Store, session: &mut Session, _args: &[Vec<u8>]) -> Outcome {
    let Some(multi) = session.multi.take() else {
        return error("ERR EXEC without MULTI");
    };
    if multi.failed {
        store.unwatch_locking(session);
        return error(EXECABORT);
    }
    let grows = multi
        .queue
        .iter()
        .any(|args| lookup(&args[0]).is_some_and(|c| c.flags & DENYOOM != 0));
    if grows {
        if let Err(err) = store.ensure_memory(&mut LockEach(store)) {
            store.unwatch_locking(session);
            return Outcome::Reply(err.to_reply());
        }
    }
    let reply = store.atomic(|txn| {
        let dirty = watched_keys_changed(txn, session);
        store.unwatch_in(txn.guards_mut(), session);
        if dirty {
            return Reply::Array(None);
        }
        let replies = multi
            .queue
            .iter()
            .map(|args| txn.execute(session, args))
            .collect();
        Reply::array(replies)
    });
    Outcome::Reply(reply)
}

/// True when a watched key was modified (or expired) since WATCH.
fn watched_keys_changed(txn: &mut Txn<'_>, session: &Session) -> bool {
    let store = txn.store();
    let now = store.now_ms();
    session.watched.iter().any(|w| {
        let Some(shard) = txn.guards_mut().get_mut(store.shard_of(&w.key)) else {
            return true;
        };
        shard.expire_if_needed(w.db, &w.key, now);
        shard.dbs[w.db]
            .watched
            .get(&w.key)
            .map_or(true, |slot| slot.version != w.version)
    })
}

pub(super) fn watch(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let db = ctx.db();
    for key in &args[1..] {
        if ctx
            .session
            .watched
            .iter()
            .any(|w| w.db == db && w.key == *key)
        {
            continue;
        }
        ctx.exists(key);
        let slot = ctx.shard_mut(key).dbs[db]
            .watched
            .entry(key.clone())
            .or_default();
        slot.watchers += 1;
        let version = slot.version;
        ctx.session.watched.push(Watched {
            db,
            key: key.clone(),
            version,
        });
    }
    Ok(Reply::ok())
}

pub(super) fn unwatch(ctx: &mut Ctx<'_, '_>, _args: &[Vec<u8>]) -> Res {
    ctx.unwatch();
    Ok(Reply::ok())
}
