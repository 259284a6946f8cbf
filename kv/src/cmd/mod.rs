//! The command table and dispatch. Every command is one row of [`COMMANDS`]: name, arity,
//! flags, which keys it touches (so the dispatcher can lock exactly their shards) and its
//! handler. Data handlers only see the store through a [`Ctx`], so the same handler runs for a
//! single client command, inside MULTI/EXEC, or from a script through [`crate::Txn`].

mod args;
mod channels;
pub(crate) mod hashes;
pub(crate) mod keys;
pub(crate) mod lists;
mod persistence;
pub(crate) mod scripting;
mod server;
pub(crate) mod sets;
pub(crate) mod strings;
mod tx;
pub(crate) mod zsets;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;

use crate::error::KvError;
use crate::resp::{Reply, REPLY_OVERHEAD};
use crate::session::{Outcome, Session};
use crate::store::{Ctx, LockEach, Store, Txn};

pub(crate) use strings::SetOptions;

/// True for the first word of an HTTP request line or header that Redis refuses to run as a
/// command (`POST` and `Host:`), so a browser or a forged cross-protocol request can't drive
/// the store: Redis closes such connections without a reply.
fn is_http(name: &[u8]) -> bool {
    name.eq_ignore_ascii_case(b"post") || name.eq_ignore_ascii_case(b"host:")
}

/// A handler that works on data through a context.
pub(crate) type DataFn = fn(&mut Ctx<'_, '_>, &[Vec<u8>]) -> Result<Reply, KvError>;
/// A handler that manages the connection itself (MULTI/EXEC, SUBSCRIBE, QUIT).
pub(crate) type ConnFn = fn(&Store, &mut Session, &[Vec<u8>]) -> Outcome;

/// How a command runs.
#[derive(Clone, Copy)]
pub(crate) enum Run {
    Data(DataFn),
    Conn(ConnFn),
}

/// Which keys a command touches, so the dispatcher can lock their shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Keys {
    /// No keys.
    None,
    /// Arguments `first..=last` every `step` (negative `last` counts from the end), as in
    /// Redis's command table.
    Range(i32, i32, i32),
    /// The whole keyspace (KEYS, SCAN, FLUSHDB, INFO...): every shard.
    All,
    /// The session's WATCHed keys (UNWATCH).
    Watched,
}

/// A write command.
pub(crate) const WRITE: u8 = 1;
/// A read-only command.
pub(crate) const READONLY: u8 = 2;
/// May grow memory: refused (or evicts first) over maxmemory.
pub(crate) const DENYOOM: u8 = 4;
/// Allowed while subscribed.
pub(crate) const PUBSUB: u8 = 8;
/// Allowed before AUTH.
pub(crate) const NOAUTH: u8 = 16;

/// One row of the command table.
pub(crate) struct Command {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u8,
    pub keys: Keys,
    pub run: Run,
}

const fn data(name: &'static str, arity: i32, flags: u8, keys: Keys, f: DataFn) -> Command {
    Command {
        name,
        arity,
        flags,
        keys,
        run: Run::Data(f),
    }
}

const fn conn(name: &'static str, arity: i32, flags: u8, f: ConnFn) -> Command {
    Command {
        name,
        arity,
        flags,
        keys: Keys::None,
        run: Run::Conn(f),
    }
}

const K1: Keys = Keys::Range(1, 1, 1);
const K12: Keys = Keys::Range(1, 2, 1);
const KALL: Keys = Keys::Range(1, -1, 1);
const WM: u8 = WRITE | DENYOOM;

/// Every command, by name.
pub(crate) static COMMANDS: &[Command] = &[
    // strings
    data("get", 2, READONLY, K1, strings::get),
    data("set", -3, WM, K1, strings::set),
    data("setex", 4, WM, K1, strings::setex),
    data("psetex", 4, WM, K1, strings::psetex),
    data("setnx", 3, WM, K1, strings::setnx),
    data("getset", 3, WM, K1, strings::getset),
    data("mget", -2, READONLY, KALL, strings::mget),
    data("mset", -3, WM, Keys::Range(1, -1, 2), strings::mset),
    data("msetnx", -3, WM, Keys::Range(1, -1, 2), strings::msetnx),
    data("incr", 2, WM, K1, strings::incr),
    data("decr", 2, WM, K1, strings::decr),
    data("incrby", 3, WM, K1, strings::incrby),
    data("decrby", 3, WM, K1, strings::decrby),
    data("incrbyfloat", 3, WM, K1, strings::incrbyfloat),
    data("append", 3, WM, K1, strings::append),
    data("getdel", 2, WRITE, K1, strings::getdel),
    data("getex", -2, WRITE, K1, strings::getex),
    data("strlen", 2, READONLY, K1, strings::strlen),
    data("getrange", 4, READONLY, K1, strings::getrange),
    data("substr", 4, READONLY, K1, strings::getrange),
    data("setrange", 4, WM, K1, strings::setrange),
    // keys
    data("del", -2, WRITE, KALL, keys::del),
    data("unlink", -2, WRITE, KALL, keys::del),
    data("exists", -2, READONLY, KALL, keys::exists),
    data("touch", -2, READONLY, KALL, keys::exists),
    data("expire", -3, WRITE, K1, keys::expire),
    data("pexpire", -3, WRITE, K1, keys::pexpire),
    data("expireat", -3, WRITE, K1, keys::expireat),
    data("pexpireat", -3, WRITE, K1, keys::pexpireat),
    data("expiretime", 2, READONLY, K1, keys::expiretime),
    data("pexpiretime", 2, READONLY, K1, keys::pexpiretime),
    data("ttl", 2, READONLY, K1, keys::ttl),
    data("pttl", 2, READONLY, K1, keys::pttl),
    data("persist", 2, WRITE, K1, keys::persist),
    data("type", 2, READONLY, K1, keys::type_cmd),
    data("rename", 3, WRITE, K12, keys::rename),
    data("renamenx", 3, WRITE, K12, keys::renamenx),
    data("keys", 2, READONLY, Keys::All, keys::keys),
    data("scan", -2, READONLY, Keys::All, keys::scan),
    data("randomkey", 1, READONLY, Keys::All, keys::randomkey),
    data("dbsize", 1, READONLY, Keys::All, keys::dbsize),
    data("flushdb", -1, WRITE, Keys::All, keys::flushdb),
    data("flushall", -1, WRITE, Keys::All, keys::flushall),
    data("swapdb", 3, WRITE, Keys::All, keys::swapdb),
    data("select", 2, 0, Keys::None, keys::select),
    // hashes
    data("hget", 3, READONLY, K1, hashes::hget),
    data("hset", -4, WM, K1, hashes::hset),
    data("hmset", -4, WM, K1, hashes::hmset),
    data("hsetnx", 4, WM, K1, hashes::hsetnx),
    data("hmget", -3, READONLY, K1, hashes::hmget),
    data("hgetall", 2, READONLY, K1, hashes::hgetall),
    data("hdel", -3, WRITE, K1, hashes::hdel),
    data("hexists", 3, READONLY, K1, hashes::hexists),
    data("hincrby", 4, WM, K1, hashes::hincrby),
    data("hincrbyfloat", 4, WM, K1, hashes::hincrbyfloat),
    data("hkeys", 2, READONLY, K1, hashes::hkeys),
    data("hvals", 2, READONLY, K1, hashes::hvals),
    data("hlen", 2, READONLY, K1, hashes::hlen),
    data("hstrlen", 3, READONLY, K1, hashes::hstrlen),
    data("hscan", -3, READONLY, K1, hashes::hscan),
    // lists
    data("lpush", -3, WM, K1, lists::lpush),
    data("rpush", -3, WM, K1, lists::rpush),
    data("lpushx", -3, WM, K1, lists::lpushx),
    data("rpushx", -3, WM, K1, lists::rpushx),
    data("lpop", -2, WRITE, K1, lists::lpop),
    data("rpop", -2, WRITE, K1, lists::rpop),
    data("lrange", 4, READONLY, K1, lists::lrange),
    data("llen", 2, READONLY, K1, lists::llen),
    data("lindex", 3, READONLY, K1, lists::lindex),
    data("lrem", 4, WRITE, K1, lists::lrem),
    data("ltrim", 4, WRITE, K1, lists::ltrim),
    data("lset", 4, WM, K1, lists::lset),
    data("linsert", 5, WM, K1, lists::linsert),
    data("blpop", -3, WRITE, Keys::Range(1, -2, 1), lists::blpop),
    data("brpop", -3, WRITE, Keys::Range(1, -2, 1), lists::brpop),
    data("lmove", 5, WM, K12, lists::lmove),
    data("rpoplpush", 3, WM, K12, lists::rpoplpush),
    // sets
    data("sadd", -3, WM, K1, sets::sadd),
    data("srem", -3, WRITE, K1, sets::srem),
    data("smembers", 2, READONLY, K1, sets::smembers),
    data("sismember", 3, READONLY, K1, sets::sismember),
    data("smismember", -3, READONLY, K1, sets::smismember),
    data("scard", 2, READONLY, K1, sets::scard),
    data("spop", -2, WRITE, K1, sets::spop),
    data("srandmember", -2, READONLY, K1, sets::srandmember),
    data("sunion", -2, READONLY, KALL, sets::sunion),
    data("sinter", -2, READONLY, KALL, sets::sinter),
    data("sdiff", -2, READONLY, KALL, sets::sdiff),
    data("sunionstore", -3, WM, KALL, sets::sunionstore),
    data("sinterstore", -3, WM, KALL, sets::sinterstore),
    data("sdiffstore", -3, WM, KALL, sets::sdiffstore),
    data("smove", 4, WRITE, K12, sets::smove),
    data("sscan", -3, READONLY, K1, sets::sscan),
    // sorted sets
    data("zadd", -4, WM, K1, zsets::zadd),
    data("zincrby", 4, WM, K1, zsets::zincrby),
    data("zrem", -3, WRITE, K1, zsets::zrem),
    data("zscore", 3, READONLY, K1, zsets::zscore),
    data("zmscore", -3, READONLY, K1, zsets::zmscore),
    data("zcard", 2, READONLY, K1, zsets::zcard),
    data("zcount", 4, READONLY, K1, zsets::zcount),
    data("zrange", -4, READONLY, K1, zsets::zrange),
    data("zrangebyscore", -4, READONLY, K1, zsets::zrangebyscore),
    data(
        "zrevrangebyscore",
        -4,
        READONLY,
        K1,
        zsets::zrevrangebyscore,
    ),
    data("zrevrange", -4, READONLY, K1, zsets::zrevrange),
    data("zrank", 3, READONLY, K1, zsets::zrank),
    data("zrevrank", 3, READONLY, K1, zsets::zrevrank),
    data("zremrangebyscore", 4, WRITE, K1, zsets::zremrangebyscore),
    data("zremrangebyrank", 4, WRITE, K1, zsets::zremrangebyrank),
    data("zpopmin", -2, WRITE, K1, zsets::zpopmin),
    data("zpopmax", -2, WRITE, K1, zsets::zpopmax),
    data("zscan", -3, READONLY, K1, zsets::zscan),
    // transactions
    conn("multi", 1, 0, tx::multi),
    conn("exec", 1, 0, tx::exec),
    conn("discard", 1, 0, tx::discard),
    data("watch", -2, 0, KALL, tx::watch),
    data("unwatch", 1, 0, Keys::Watched, tx::unwatch),
    // pub/sub
    conn("subscribe", -2, PUBSUB, channels::subscribe),
    conn("psubscribe", -2, PUBSUB, channels::psubscribe),
    conn("unsubscribe", -1, PUBSUB, channels::unsubscribe),
    conn("punsubscribe", -1, PUBSUB, channels::punsubscribe),
    data("publish", 3, 0, Keys::None, channels::publish),
    data("pubsub", -2, 0, Keys::None, channels::pubsub),
    // scripting (every shard locked: numkeys makes key positions dynamic)
    data("eval", -3, 0, Keys::All, scripting::eval),
    data("evalsha", -3, 0, Keys::All, scripting::evalsha),
    data("eval_ro", -3, READONLY, Keys::All, scripting::eval_ro),
    data("evalsha_ro", -3, READONLY, Keys::All, scripting::evalsha_ro),
    data("script", -2, 0, Keys::None, scripting::script),
    // server and connection
    data("ping", -1, PUBSUB, Keys::None, server::ping),
    data("echo", 2, 0, Keys::None, server::echo),
    data("auth", -2, NOAUTH, Keys::None, server::auth),
    conn("quit", -1, PUBSUB | NOAUTH, server::quit),
    data("info", -1, 0, Keys::All, server::info),
    data("client", -2, 0, Keys::None, server::client),
    data("config", -2, 0, Keys::None, server::config),
    data("command", -1, 0, Keys::None, server::command),
    data("time", 1, 0, Keys::None, server::time),
    data("save", 1, 0, Keys::None, persistence::save),
    data("bgsave", -1, 0, Keys::None, persistence::bgsave),
    data("bgrewriteaof", 1, 0, Keys::None, persistence::bgrewriteaof),
    data("lastsave", 1, 0, Keys::None, persistence::lastsave),
];

/// The command named `name` (any case).
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Command> {
    static INDEX: OnceLock<HashMap<&'static str, &'static Command>> = OnceLock::new();
    let index = INDEX.get_or_init(|| COMMANDS.iter().map(|c| (c.name, c)).collect());
    if name.len() > 32 {
        return None;
    }
    let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
    index.get(lower.as_str()).copied()
}

fn arity_ok(arity: i32, argc: usize) -> bool {
    let argc = argc as i64;
    let arity = i64::from(arity);
    if arity >= 0 {
        argc == arity
    } else {
        argc >= -arity
    }
}

/// Redis's unknown-command error, quoting the first arguments.
fn unknown_command(args: &[Vec<u8>]) -> KvError {
    let mut rest = String::new();
    for arg in &args[1..] {
        if rest.len() >= 128 {
            break;
        }
        let budget = 128 - rest.len();
        let text: String = String::from_utf8_lossy(arg).chars().take(budget).collect();
        rest.push_str(&format!("'{text}' "));
    }
    let name: String = String::from_utf8_lossy(&args[0])
        .chars()
        .take(128)
        .collect();
    KvError::err(format!(
        "unknown command '{name}', with args beginning with: {rest}"
    ))
}

/// The key arguments of `args` under `keys`.
pub(crate) fn key_args(keys: Keys, args: &[Vec<u8>]) -> Vec<&[u8]> {
    let Keys::Range(first, last, step) = keys else {
        return Vec::new();
    };
    let len = args.len() as i64;
    let last = if last < 0 {
        len + i64::from(last)
    } else {
        i64::from(last)
    };
    let mut out = Vec::new();
    let mut i = i64::from(first);
    while i <= last && i < len {
        out.push(args[i as usize].as_slice());
        i += i64::from(step.max(1));
    }
    out
}

/// Checks a command before running it: known, right arity. Errors are the reply.
fn resolve(args: &[Vec<u8>]) -> Result<&'static Command, KvError> {
    let cmd = lookup(&args[0]).ok_or_else(|| unknown_command(args))?;
    if !arity_ok(cmd.arity, args.len()) {
        return Err(KvError::WrongArity(cmd.name.into()));
    }
    Ok(cmd)
}

const PUBSUB_CONTEXT: &str =
    "only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context";

impl Store {
    /// Runs one client command (`args[0]` is the name) for `session`.
    ///
    /// Handles AUTH state, the subscribed-mode restriction, MULTI queuing, maxmemory and
    /// locking; see [`Outcome`] for what the connection must do with the result.
    pub fn execute(&self, session: &mut Session, args: &[Vec<u8>]) -> Outcome {
        if args.is_empty() {
            return Outcome::Nothing;
        }
        self.commands_processed.fetch_add(1, Ordering::Relaxed);
        if is_http(&args[0]) {
            return Outcome::Drop;
        }
        let cmd = match resolve(args) {
            Ok(cmd) => cmd,
            Err(err) => {
                if let Some(multi) = session.multi.as_mut() {
                    multi.failed = true;
                }
                return Outcome::Reply(err.to_reply());
            }
        };
        if let Err(err) = self.admit(session, cmd) {
            return Outcome::Reply(err.to_reply());
        }
        if let Some(multi) = session.multi.as_mut() {
            match cmd.name {
                "exec" | "discard" | "multi" | "quit" => {}
                "watch" => {
                    return Outcome::Reply(Reply::error("ERR WATCH inside MULTI is not allowed"))
                }
                _ if matches!(cmd.run, Run::Conn(_)) => {
                    multi.failed = true;
                    return Outcome::Reply(Reply::error(
                        "ERR Command not allowed inside a transaction",
                    ));
                }
                _ => {
                    // A transaction is held in memory until EXEC: as much as one query buffer.
                    let size: usize = args.iter().map(|arg| arg.len() + REPLY_OVERHEAD).sum();
                    multi.queued_bytes = multi.queued_bytes.saturating_add(size);
                    if multi.queued_bytes > self.limits.max_query_buffer {
                        multi.failed = true;
                        return Outcome::Reply(Reply::error(
                            "ERR MULTI queue over the client query buffer limit",
                        ));
                    }
                    multi.queue.push(args.to_vec());
                    return Outcome::Reply(Reply::Simple("QUEUED".into()));
                }
            }
        }
        if cmd.flags & DENYOOM != 0 {
            if let Err(err) = self.ensure_memory(&mut LockEach(self)) {
                return Outcome::Reply(err.to_reply());
            }
        }
        match cmd.run {
            Run::Conn(f) => f(self, session, args),
            Run::Data(f) => self.run_data(cmd, f, session, args),
        }
    }

    /// Authentication and subscribed-mode checks.
    fn admit(&self, session: &Session, cmd: &Command) -> Result<(), KvError> {
        if !session.authenticated && cmd.flags & NOAUTH == 0 && self.requires_pass() {
            return Err(KvError::NoAuth);
        }
        if session.subscriptions() > 0 && cmd.flags & PUBSUB == 0 {
            return Err(KvError::err(format!(
                "Can't execute '{}': {PUBSUB_CONTEXT}",
                cmd.name
            )));
        }
        if cmd.flags & WRITE != 0 {
            self.check_writable()?;
        }
        Ok(())
    }

    fn run_data(
        &self,
        cmd: &Command,
        f: DataFn,
        session: &mut Session,
        args: &[Vec<u8>],
    ) -> Outcome {
        let guards = match cmd.keys {
            Keys::None => self.lock_keys([]),
            Keys::All => self.lock_all(),
            Keys::Watched => self.lock_keys(session.watched.iter().map(|w| w.key.as_slice())),
            Keys::Range(..) => self.lock_keys(key_args(cmd.keys, args)),
        };
        let mut ctx = Ctx::new(self, session, guards, false);
        let mut reply = f(&mut ctx, args).unwrap_or_else(|err| err.to_reply());
        log_write(&mut ctx, cmd, args, &reply);
        // Registered while the shard locks are still held: no push can slip in between.
        let block = ctx.block.take().map(|timeout| crate::session::Block {
            listener: self.list_event(ctx.db()).listen(),
            timeout,
        });
        if let Err(err) = ctx.commit() {
            reply = err.to_reply();
        }
        match block {
            Some(block) => Outcome::Block(block),
            None => Outcome::Reply(reply),
        }
    }
}

/// Runs a command inside a [`Txn`] (MULTI/EXEC, scripts).
pub(crate) fn execute_in_txn(txn: &mut Txn<'_>, session: &mut Session, args: &[Vec<u8>]) -> Reply {
    if args.is_empty() {
        return KvError::err("empty command").to_reply();
    }
    let cmd = match resolve(args) {
        Ok(cmd) => cmd,
        Err(err) => return err.to_reply(),
    };
    let Run::Data(f) = cmd.run else {
        return Reply::error("ERR This Redis command is not allowed from script");
    };
    if cmd.flags & DENYOOM != 0 {
        let store = txn.store();
        if let Err(err) = store.ensure_memory(txn.guards_mut()) {
            return err.to_reply();
        }
    }
    let mut ctx = txn.ctx(session);
    let reply = f(&mut ctx, args).unwrap_or_else(|err| err.to_reply());
    log_write(&mut ctx, cmd, args, &reply);
    txn.restore(ctx);
    reply
}

/// Adds the append-only log records of a data command that ran in `ctx` and answered
/// `reply` (nothing for commands that only read, failed, or blocked). Every path that runs a
/// [`DataFn`] must call this after it, with the locks still held.
pub(crate) fn log_write(ctx: &mut Ctx<'_, '_>, cmd: &Command, args: &[Vec<u8>], reply: &Reply) {
    if cmd.flags & WRITE != 0 && ctx.block.is_none() {
        crate::persist::record_command(ctx, cmd.name, args, reply);
    }
}
