//! The Lua 5.1 interpreter: one sandboxed state per thread (scripts run with every shard
//! locked, so a thread never runs two at once), each keeping the scripts it compiled.
//!
//! # Sandbox
//!
//! Each run gets a fresh global table (see `prelude.lua`): `KEYS`, `ARGV`, `redis`, `cjson`
//! and read-only views of `string`, `table`, `math` and `os.clock`. Reading an undefined
//! global or creating one is an error, as in Redis, so nothing a script does survives it.
//! `coroutine`, `io`, `debug`, `load*`, `dofile`, `require`, `setfenv` and `getfenv` are
//! not available.
//!
//! # Time limit
//!
//! An instruction-count hook checks the clock every [`HOOK_EVERY`] VM instructions; past the
//! store's script time limit (5 s by default, Redis's busy-script threshold) it raises an
//! error the script cannot catch (`pcall` re-raises it) and EVAL answers
//! `ERR Script killed ...`. Writes done before the kill stay: there is no rollback. A single
//! long C call (a huge `string.rep`, a pathological pattern) is not interrupted until it
//! returns; the state's memory is capped at [`MEMORY_LIMIT`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::{Duration, Instant};

use mlua::{
    ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value, VmState,
};

use super::cache::sha1_hex;
use super::call::{redis_call, redis_pcall, CallFailure};
use super::cjson::{self, format_g14};
use super::convert::{error_reply_text, lua_to_reply, single_field};
use crate::error::KvError;
use crate::resp::Reply;
use crate::store::Ctx;

/// VM instructions between two looks at the clock.
pub(super) const HOOK_EVERY: u32 = 10_000;
/// Most memory one thread's Lua state may allocate.
pub(super) const MEMORY_LIMIT: usize = 256 << 20;
/// Compiled scripts kept per thread before the cache is emptied.
const MAX_COMPILED: usize = 1024;
/// The chunk name of user scripts, as in Redis 7 (`user_script:1: ...`).
const USER_SCRIPT: &str = "@user_script";
const PRELUDE: &str = include_str!("prelude.lua");

thread_local! {
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's engine, creating it on first use.
pub(super) fn with_engine<R>(
    f: impl FnOnce(&mut Engine) -> Result<R, KvError>,
) -> Result<R, KvError> {
    ENGINE.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // Only reachable if a script could start a script; use a private state.
            return f(&mut Engine::new()?);
        };
        if slot.is_none() {
            *slot = Some(Engine::new()?);
        }
        match slot.as_mut() {
            Some(engine) => f(engine),
            None => Err(KvError::err("Lua state unavailable")),
        }
    })
}

/// Drops this thread's compiled scripts (SCRIPT FLUSH).
pub(super) fn forget_compiled() {
    ENGINE.with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut() {
            if let Some(engine) = slot.as_mut() {
                engine.compiled.clear();
            }
        }
    });
}

/// One script invocation.
pub(super) struct Script<'a> {
    /// Lower-case hex SHA1 of the source.
    pub sha: &'a str,
    pub keys: &'a [Vec<u8>],
    pub argv: &'a [Vec<u8>],
    /// EVAL_RO / EVALSHA_RO: write commands are refused.
    pub readonly: bool,
    pub time_limit: Duration,
}

/// The clock the instruction hook checks.
#[derive(Default)]
struct Watchdog {
    deadline: Cell<Option<Instant>>,
    killed: Cell<bool>,
}

impl Watchdog {
    fn arm(&self, limit: Duration) {
        self.killed.set(false);
        self.deadline.set(Instant::now().checked_add(limit));
    }

    /// Stops watching; true when the script was killed.
    fn disarm(&self) -> bool {
        self.deadline.set(None);
        self.killed.replace(false)
    }

    fn check(&self) -> mlua::Result<VmState> {
        match self.deadline.get() {
            Some(deadline) if Instant::now() >= deadline => {
                self.killed.set(true);
                Err(mlua::Error::RuntimeError("Script killed".into()))
            }
            _ => Ok(VmState::Continue),
        }
    }
}

/// A thread's Lua state and the scripts compiled in it.
pub(super) struct Engine {
    lua: Lua,
    /// The prelude's `run(f, keys, argv, call, pcall)`.
    runner: Function,
    compiled: HashMap<String, Function>,
    watchdog: Rc<Watchdog>,
}

impl Engine {
    fn new() -> Result<Engine, KvError> {
        Engine::build().map_err(|e| KvError::err(format!("Error creating the Lua state: {e}")))
    }

    fn build() -> mlua::Result<Engine> {
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::OS;
        let lua = Lua::new_with(libs, LuaOptions::default())?;
        // Not every build supports a limit; scripts then run unlimited, as in Redis.
        let _ = lua.set_memory_limit(MEMORY_LIMIT);
        let watchdog = Rc::new(Watchdog::default());
        let hook_watchdog = watchdog.clone();
        let triggers = HookTriggers::new().every_nth_instruction(HOOK_EVERY);
        lua.set_hook(triggers, move |_, _| hook_watchdog.check())?;
        let runner = load_prelude(&lua, &watchdog)?;
        Ok(Engine {
            lua,
            runner,
            compiled: HashMap::new(),
            watchdog,
        })
    }

    /// The compiled function of script `sha`, compiling `body` the first time.
    pub(super) fn compile(&mut self, sha: &str, body: &[u8]) -> Result<Function, KvError> {
        if let Some(f) = self.compiled.get(sha) {
            return Ok(f.clone());
        }
        let f = self
            .lua
            .load(body)
            .set_name(USER_SCRIPT)
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(compile_error)?;
        if self.compiled.len() >= MAX_COMPILED {
            self.compiled.clear();
        }
        self.compiled.insert(sha.to_owned(), f.clone());
        Ok(f)
    }

    /// Runs compiled script `f` against `ctx` (which must hold every shard) and returns what
    /// EVAL answers. The caller's selected database is restored afterwards.
    pub(super) fn run(&self, ctx: &mut Ctx<'_, '_>, f: &Function, script: &Script<'_>) -> Reply {
        let (db, atomic) = (ctx.session.db, ctx.atomic);
        ctx.atomic = true;
        self.watchdog.arm(script.time_limit);
        let result = self.call(ctx, f, script);
        let killed = self.watchdog.disarm();
        ctx.atomic = atomic;
        ctx.session.db = db;
        if killed {
            return Reply::error(format!(
                "ERR Script killed after running longer than the script time limit ({} ms)",
                script.time_limit.as_millis()
            ));
        }
        result.unwrap_or_else(|e| {
            Reply::error(format!("ERR Error running script: {}", root_message(&e)))
        })
    }

    fn call(
        &self,
        ctx: &mut Ctx<'_, '_>,
        f: &Function,
        script: &Script<'_>,
    ) -> mlua::Result<Reply> {
        let lua = &self.lua;
        let keys = string_table(lua, script.keys)?;
        let argv = string_table(lua, script.argv)?;
        let reply_budget = ctx.store.limits.max_reply_bytes;
        let ctx = RefCell::new(ctx);
        lua.scope(|scope| {
            let call = scope.create_function(|lua, args: MultiValue| {
                redis_call(lua, &mut ctx.borrow_mut(), &args, script.readonly)
            })?;
            let pcall = scope.create_function(|lua, args: MultiValue| {
                redis_pcall(lua, &mut ctx.borrow_mut(), &args, script.readonly)
            })?;
            let (ok, value): (bool, Value) =
                self.runner.call((f.clone(), keys, argv, call, pcall))?;
            Ok(if ok {
                lua_to_reply(&value, reply_budget)
            } else {
                failure_reply(&value, script.sha)
            })
        })
    }
}

fn string_table(lua: &Lua, items: &[Vec<u8>]) -> mlua::Result<Table> {
    let table = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, item) in items.iter().enumerate() {
        table.raw_set(i + 1, lua.create_string(item)?)?;
    }
    Ok(table)
}

fn compile_error(e: mlua::Error) -> KvError {
    let message = match e {
        mlua::Error::SyntaxError { message, .. } => message,
        other => root_message(&other),
    };
    KvError::err(format!("Error compiling script (new function): {message}"))
}

/// The error a callback raised, without mlua's wrapping.
fn root(e: &mlua::Error) -> &mlua::Error {
    match e {
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            root(cause)
        }
        other => other,
    }
}

/// The message of an error raised in Rust, without mlua's wrapping and traceback.
fn root_message(e: &mlua::Error) -> String {
    match root(e) {
        mlua::Error::RuntimeError(s) | mlua::Error::MemoryError(s) => s.clone(),
        other => other.to_string(),
    }
}

/// How a script sees an error raised in Rust: `{err=...}` for a failed `redis.call`, the
/// message string for anything else. Other values are left alone.
fn caught_error(lua: &Lua, err: Value) -> mlua::Result<Value> {
    let Value::Error(e) = &err else {
        return Ok(err);
    };
    if let Some(CallFailure(message)) = root(e).downcast_ref::<CallFailure>() {
        return Ok(Value::Table(single_field(lua, "err", message.as_bytes())?));
    }
    Ok(Value::String(lua.create_string(root_message(e))?))
}

/// EVAL's error for a failed script: the error table's message, then where the script
/// failed, as Redis 7 words it.
fn failure_reply(value: &Value, sha: &str) -> Reply {
    let Value::Table(table) = value else {
        return Reply::error(format!(
            "ERR Error running script {sha}, {}",
            describe(value)
        ));
    };
    let mut message = match table.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        _ => "ERR Error running script".to_owned(),
    };
    let source = table.raw_get::<Value>("source");
    let line = table.raw_get::<Value>("line");
    if let (Ok(Value::String(source)), Ok(Value::Integer(line))) = (source, line) {
        let source = source.to_string_lossy();
        message.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    Reply::Error(message)
}

/// How Lua's `tostring` would show an error value.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => s.to_string_lossy(),
        Value::Error(e) => root_message(e),
        Value::Integer(n) => n.to_string(),
        Value::Number(n) => format_g14(*n),
        Value::Boolean(b) => b.to_string(),
        Value::Nil => "nil".into(),
        other => other.type_name().into(),
    }
}

/// The xpcall handler (Redis's `__redis__err__handler`): turns any error into an error table
/// and records the script line it was raised at.
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let table = match caught_error(lua, err)? {
        Value::Table(t) if matches!(t.raw_get::<Value>("err")?, Value::String(_)) => t,
        other => single_field(lua, "err", format!("ERR {}", describe(&other)).as_bytes())?,
    };
    if let Some(line) = user_script_line(lua) {
        table.raw_set("source", USER_SCRIPT)?;
        table.raw_set("line", line)?;
    }
    Ok(table)
}

/// The current line of the innermost user-script frame on the stack.
fn user_script_line(lua: &Lua) -> Option<usize> {
    (1..256)
        .map_while(|level| {
            lua.inspect_stack(level, |debug| {
                let source = debug.source().source.map(|s| s == USER_SCRIPT);
                (source == Some(true))
                    .then(|| debug.current_line())
                    .flatten()
            })
        })
        .flatten()
        .next()
}

fn load_prelude(lua: &Lua, watchdog: &Rc<Watchdog>) -> mlua::Result<Function> {
    let killed_watchdog = watchdog.clone();
    let killed = lua.create_function(move |_, ()| Ok(killed_watchdog.killed.get()))?;
    let helpers = (
        killed,
        lua.create_function(error_handler)?,
        lua.create_function(caught_error)?,
        lua.create_function(sha1hex)?,
        lua.create_function(redis_log)?,
        lua.create_function(error_reply)?,
        lua.create_function(json_encode)?,
        lua.create_function(json_decode)?,
        cjson::null(),
    );
    lua.load(PRELUDE).set_name("=kv_prelude").call(helpers)
}

/// Bytes of a string or number argument, as `lua_tolstring` gives them.
fn text_arg(value: Option<&Value>) -> Option<Vec<u8>> {
    match value? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(n) => Some(n.to_string().into_bytes()),
        Value::Number(n) => Some(format_g14(*n).into_bytes()),
        _ => None,
    }
}

/// `redis.sha1hex(text)`.
fn sha1hex(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::String> {
    if args.len() != 1 {
        return Err(mlua::Error::RuntimeError(
            "wrong number of arguments".into(),
        ));
    }
    let text = text_arg(args.front()).unwrap_or_default();
    lua.create_string(sha1_hex(&text))
}

/// `redis.error_reply(text)`: `{err=...}` with an error code.
fn error_reply(lua: &Lua, args: MultiValue) -> mlua::Result<Table> {
    match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => single_field(lua, "err", &error_reply_text(&s.as_bytes())),
        _ => single_field(lua, "err", b"ERR wrong number or type of arguments"),
    }
}

/// `redis.log(level, message, ...)`, through the `log` crate (target `kv::script`).
fn redis_log(_: &Lua, args: MultiValue) -> mlua::Result<()> {
    if args.len() < 2 {
        return Err(mlua::Error::RuntimeError(
            "redis.log() requires two arguments or more.".into(),
        ));
    }
    let level = match args.front() {
        Some(Value::Integer(n)) => *n,
        Some(Value::Number(n)) => *n as i64,
        _ => {
            return Err(mlua::Error::RuntimeError(
                "First argument must be a number".into(),
            ))
        }
    };
    let level = match level {
        0 | 1 => log::Level::Debug,
        2 => log::Level::Info,
        3 => log::Level::Warn,
        _ => return Err(mlua::Error::RuntimeError("Invalid debug level.".into())),
    };
    let words: Vec<String> = args
        .iter()
        .skip(1)
        .map(|v| String::from_utf8_lossy(&text_arg(Some(v)).unwrap_or_default()).into_owned())
        .collect();
    log::log!(target: "kv::script", level, "{}", words.join(" "));
    Ok(())
}

/// `cjson.encode(value)`.
fn json_encode(lua: &Lua, value: Value) -> mlua::Result<mlua::String> {
    let json = cjson::encode(&value).map_err(mlua::Error::RuntimeError)?;
    lua.create_string(json)
}

/// `cjson.decode(text)`.
fn json_decode(lua: &Lua, text: Value) -> mlua::Result<Value> {
    let Some(bytes) = text_arg(Some(&text)) else {
        return Err(mlua::Error::RuntimeError(format!(
            "bad argument #1 to 'decode' (string expected, got {})",
            text.type_name()
        )));
    };
    cjson::decode(lua, &bytes).map_err(mlua::Error::RuntimeError)
}
