//! Lua scripting: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD / EXISTS / FLUSH / KILL.
//!
//! Scripts are Lua 5.1 (as in Redis) run by [`engine`] in a per-thread sandboxed state. The
//! scripting commands declare [`Keys::All`](crate::cmd::Keys::All): the dispatcher locks
//! every shard before the handler runs, so a script is atomic exactly like MULTI/EXEC and
//! the dynamic key positions (`numkeys`) need no declaration. The same handlers run from
//! MULTI/EXEC and [`crate::Txn::execute`]. Sources are cached by SHA1 in the store's
//! [`ScriptCache`]; each thread compiles a script once.

mod cache;
mod call;
mod cjson;
mod convert;
mod engine;

#[cfg(test)]
mod tests;

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::args::is;
use crate::error::KvError;
use crate::numbers::parse_i64;
use crate::resp::Reply;
use crate::store::{Ctx, Store};

pub(crate) use cache::ScriptCache;

use cache::sha1_hex;
use engine::{with_engine, Script};

type Res = Result<Reply, KvError>;
/// A script's keys and its other arguments.
type KeysAndArgs<'a> = (&'a [Vec<u8>], &'a [Vec<u8>]);

const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

impl Store {
    /// How long a script may run before it is killed (5 s unless changed).
    pub fn script_time_limit(&self) -> Duration {
        self.scripts.time_limit()
    }

    /// Changes how long a script may run before it is killed; applies to scripts started
    /// afterwards. While a script runs it holds every shard, so this bounds how long it can
    /// stall all other clients. Values under 1 ms are raised to 1 ms.
    pub fn set_script_time_limit(&self, limit: Duration) {
        self.scripts.set_time_limit(limit);
    }

    /// True while a script runs: it holds every shard, so any command would wait for it.
    /// An event loop should then run commands where waiting blocks nothing else (see
    /// [`may_run_long`]).
    pub fn script_running(&self) -> bool {
        self.scripts.running.load(Ordering::SeqCst) > 0
    }
}

/// True for commands that may run for a long time (up to the script time limit) while
/// holding every shard: scripts, and EXEC (which may queue scripts). An event loop serving
/// other clients should run these on a thread where blocking is harmless.
pub fn may_run_long(args: &[Vec<u8>]) -> bool {
    args.first().is_some_and(|name| {
        ["eval", "evalsha", "eval_ro", "evalsha_ro", "exec"]
            .iter()
            .any(|long| name.eq_ignore_ascii_case(long.as_bytes()))
    })
}

/// EVAL script numkeys key... arg...
pub(super) fn eval(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    eval_source(ctx, args, false)
}

/// EVAL_RO: EVAL refusing write commands.
pub(super) fn eval_ro(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    eval_source(ctx, args, true)
}

/// EVALSHA sha1 numkeys key... arg...
pub(super) fn evalsha(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    eval_sha(ctx, args, false)
}

/// EVALSHA_RO: EVALSHA refusing write commands.
pub(super) fn evalsha_ro(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    eval_sha(ctx, args, true)
}

fn eval_source(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], readonly: bool) -> Res {
    let (keys, argv) = split_keys(&args[2..])?;
    let sha = sha1_hex(&args[1]);
    run(ctx, &sha, &args[1], keys, argv, readonly)
}

fn eval_sha(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], readonly: bool) -> Res {
    let (keys, argv) = split_keys(&args[2..])?;
    let sha = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let body = ctx
        .store
        .scripts
        .get(&sha)
        .ok_or_else(|| KvError::Other(NOSCRIPT.into()))?;
    run(ctx, &sha, &body, keys, argv, readonly)
}

/// Splits `numkeys key... arg...` into keys and arguments.
fn split_keys(rest: &[Vec<u8>]) -> Result<KeysAndArgs<'_>, KvError> {
    let numkeys = parse_i64(&rest[0]).ok_or(KvError::NotInteger)?;
    if numkeys < 0 {
        return Err(KvError::err("Number of keys can't be negative"));
    }
    let args = &rest[1..];
    match usize::try_from(numkeys) {
        Ok(n) if n <= args.len() => Ok(args.split_at(n)),
        _ => Err(KvError::err(
            "Number of keys can't be greater than number of args",
        )),
    }
}

fn run(
    ctx: &mut Ctx<'_, '_>,
    sha: &str,
    body: &[u8],
    keys: &[Vec<u8>],
    argv: &[Vec<u8>],
    readonly: bool,
) -> Res {
    let script = Script {
        sha,
        keys,
        argv,
        readonly,
        time_limit: ctx.store.scripts.time_limit(),
    };
    with_engine(|engine| {
        let f = engine.compile(sha, body)?;
        ctx.store.scripts.insert(sha, body);
        let running = &ctx.store.scripts.running;
        running.fetch_add(1, Ordering::SeqCst);
        let reply = engine.run(ctx, &f, &script);
        running.fetch_sub(1, Ordering::SeqCst);
        Ok(reply)
    })
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP.
pub(super) fn script(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>]) -> Res {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let scripts = &ctx.store.scripts;
    match sub.as_str() {
        "load" => {
            sub_arity(&sub, args.len() == 3)?;
            let sha = sha1_hex(&args[2]);
            with_engine(|engine| engine.compile(&sha, &args[2]).map(drop))?;
            scripts.insert(&sha, &args[2]);
            Ok(Reply::bulk(sha))
        }
        "exists" => {
            sub_arity(&sub, args.len() >= 3)?;
            let found = args[2..].iter().map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Integer(i64::from(scripts.contains(&sha)))
            });
            Ok(Reply::array(found.collect()))
        }
        "flush" => {
            sub_arity(&sub, args.len() <= 3)?;
            if let Some(mode) = args.get(2) {
                if !is(mode, "async") && !is(mode, "sync") {
                    return Err(KvError::err("SCRIPT FLUSH only support SYNC|ASYNC option"));
                }
            }
            scripts.flush();
            engine::forget_compiled();
            Ok(Reply::ok())
        }
        "kill" => {
            sub_arity(&sub, args.len() == 2)?;
            Err(KvError::Other(
                "NOTBUSY No scripts in execution right now.".into(),
            ))
        }
        "help" => Ok(Reply::bulks(HELP.iter().copied())),
        _ => Err(KvError::err(format!(
            "unknown subcommand '{}'. Try SCRIPT HELP.",
            String::from_utf8_lossy(&args[1])
        ))),
    }
}

const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Print this help.",
];

fn sub_arity(sub: &str, ok: bool) -> Result<(), KvError> {
    if ok {
        Ok(())
    } else {
        Err(KvError::WrongArity(format!("script|{sub}")))
    }
}
