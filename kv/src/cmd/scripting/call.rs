//! `redis.call` / `redis.pcall`: running a command from a script, under the locks the script
//! already holds.

use mlua::{Lua, MultiValue, Value};

use super::convert::{command_args, reply_to_lua};
use crate::cmd::{arity_ok, log_write, lookup, Run, DENYOOM, WRITE};
use crate::resp::Reply;
use crate::store::Ctx;

/// Commands with Redis's `noscript` flag that our table runs as data commands.
const NOSCRIPT: &[&str] = &[
    "watch",
    "unwatch",
    "auth",
    "client",
    "script",
    "eval",
    "evalsha",
    "eval_ro",
    "evalsha_ro",
];

const NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";

/// The error `redis.call` raises when its command answers an error reply. The xpcall
/// handler and `pcall` turn it into the `{err=...}` table Redis 7 raises.
#[derive(Debug)]
pub(super) struct CallFailure(pub String);

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CallFailure {}

/// `redis.call(...)`: the reply as a Lua value; an error reply is raised.
pub(super) fn redis_call(
    lua: &Lua,
    ctx: &mut Ctx<'_, '_>,
    args: &MultiValue,
    readonly: bool,
) -> mlua::Result<Value> {
    match dispatch(ctx, args, readonly) {
        Reply::Error(message) => Err(mlua::Error::external(CallFailure(message))),
        reply => reply_to_lua(lua, &reply),
    }
}

/// `redis.pcall(...)`: the reply as a Lua value, an error reply as `{err=...}`.
pub(super) fn redis_pcall(
    lua: &Lua,
    ctx: &mut Ctx<'_, '_>,
    args: &MultiValue,
    readonly: bool,
) -> mlua::Result<Value> {
    reply_to_lua(lua, &dispatch(ctx, args, readonly))
}

fn dispatch(ctx: &mut Ctx<'_, '_>, args: &MultiValue, readonly: bool) -> Reply {
    match command_args(args) {
        Ok(argv) => execute(ctx, &argv, readonly),
        Err(message) => Reply::error(message),
    }
}

/// Runs one command for a script, with Redis's script-specific refusals. Blocking commands
/// answer at once because the context is atomic.
pub(super) fn execute(ctx: &mut Ctx<'_, '_>, args: &[Vec<u8>], readonly: bool) -> Reply {
    let Some(cmd) = lookup(&args[0]) else {
        return Reply::error("ERR Unknown Redis command called from script");
    };
    if !arity_ok(cmd.arity, args.len()) {
        return Reply::error("ERR Wrong number of args calling Redis command from script");
    }
    let Run::Data(f) = cmd.run else {
        return Reply::error(NOT_ALLOWED);
    };
    if NOSCRIPT.contains(&cmd.name) {
        return Reply::error(NOT_ALLOWED);
    }
    if cmd.flags & WRITE != 0 {
        if readonly {
            return Reply::error("ERR Write commands are not allowed from read-only scripts.");
        }
        if let Err(err) = ctx.store.check_writable() {
            return err.to_reply();
        }
    }
    if cmd.flags & DENYOOM != 0 {
        let store = ctx.store;
        if let Err(err) = store.ensure_memory(ctx.guards_mut()) {
            return err.to_reply();
        }
    }
    let reply = f(ctx, args).unwrap_or_else(|err| err.to_reply());
    // Scripts are logged by their effects: each write command they ran.
    log_write(ctx, cmd, args, &reply);
    reply
}
