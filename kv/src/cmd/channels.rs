//! Pub/sub commands.

use super::args::{is, text};
use crate::error::KvError;
use crate::resp::Reply;
use crate::session::{Outcome, Session};
use crate::store::{Ctx, Store};

type Res = Result<Reply, KvError>;

fn confirmation(kind: &str, name: Option<&[u8]>, count: usize) -> Reply {
    Reply::array(vec![
        Reply::bulk(kind),
        Reply::Bulk(name.map(<[u8]>::to_vec)),
        Reply::Integer(count as i64),
    ])
}

fn subscribe_generic(
    store: &Store,
    session: &mut Session,
    args: &[Vec<u8>],
    pattern: bool,
) -> Outcome {
    let Some(sink) = session.sink.clone() else {
        return Outcome::Reply(Reply::error(
            "ERR pub/sub is not available on this connection",
        ));
    };
    let kind = if pattern { "psubscribe" } else { "subscribe" };
    let mut replies = Vec::with_capacity(args.len() - 1);
    for name in &args[1..] {
        let set = if pattern {
            &mut session.patterns
        } else {
            &mut session.channels
        };
        if set.insert(name.clone()) {
            store.pubsub.subscribe(pattern, name, session.id, &sink);
        }
        replies.push(confirmation(kind, Some(name), session.subscriptions()));
    }
    store.update_client(session);
    Outcome::Replies(replies)
}

fn unsubscribe_generic(
    store: &Store,
    session: &mut Session,
    args: &[Vec<u8>],
    pattern: bool,
) -> Outcome {
    let kind = if pattern {
        "punsubscribe"
    } else {
        "unsubscribe"
    };
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args[1..].to_vec()
    } else if pattern {
        session.patterns.iter().cloned().collect()
    } else {
        session.channels.iter().cloned().collect()
    };
    if names.is_empty() {
        return Outcome::Replies(vec![confirmation(kind, None, session.subscriptions())]);
    }
    let mut replies = Vec::with_capacity(names.len());
    for name in names {
        let set = if pattern {
            &mut session.patterns
        } else {
            &mut session.channels
        };
        if set.remove(&name) {
            store.pubsub.unsubscribe(pattern, &name, session.id);
        }
        replies.push(confirmation(kind, Some(&name), session.subscriptions()));
    }
    store.update_client(session);
    Outcome::Replies(replies)
}

pub(super) fn subscribe(store: &Store, session: &mut Session, args: &[Vec<u8>]) -> Outcome {
    subscribe_generic(store, session, args, false)
}

pub(super) fn psubscribe(store: &Store, session: &mut Session, args: &[Vec<u8>]) -> Outcome {
    subscribe_generic(store, session, args, true)
}

pub(super) fn unsubscribe(store: &Store, session: &mut Session, args: &[Vec<u8>]) -> Outcome {
    unsubscribe_generic(store, session, args, false)
}

pub(super) fn punsubscribe(store: &Store, session: &mut Session, args: &[Vec<u8>]) -> Outcome {
    unsubscribe_generic(store, session, args, true)
}

pub(super) fn publish(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let receivers = ctx.store.pubsub.publish(&args[1], &args[2]);
    Ok(Reply::Integer(receivers as i64))
}

pub(super) fn pubsub(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let registry = &ctx.store.pubsub;
    let sub = &args[1];
    if is(sub, "channels") && args.len() <= 3 {
        let pattern = args.get(2).map(Vec::as_slice);
        return Ok(Reply::bulks(registry.channels(pattern)));
    }
    if is(sub, "numsub") {
        let counts = args[2..]
            .iter()
            .flat_map(|c| {
                [
                    Reply::bulk(c.clone()),
                    Reply::Integer(registry.numsub(c) as i64),
                ]
            })
            .collect();
        return Ok(Reply::array(counts));
    }
    if is(sub, "numpat") && args.len() == 2 {
        return Ok(Reply::Integer(registry.numpat() as i64));
    }
    Err(KvError::err(format!(
        "unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        text(sub)
    )))
}
