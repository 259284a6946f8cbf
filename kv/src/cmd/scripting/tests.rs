//! Scripting through `Store::execute`, the way a connection drives it, including the real
//! Lua scripts of Laravel's Redis queue and cache locks.

use std::sync::Arc;
use std::time::Duration;

use super::cache::sha1_hex;
use crate::config::StoreConfig;
use crate::resp::Reply;
use crate::session::{Outcome, Session};
use crate::store::Store;

struct Client {
    store: Arc<Store>,
    session: Session,
}

impl Client {
    fn new() -> Client {
        let store = Arc::new(Store::new(StoreConfig::default()));
        let session = store.new_session();
        Client { store, session }
    }

    fn other(&self) -> Client {
        Client {
            store: self.store.clone(),
            session: self.store.new_session(),
        }
    }

    fn cmd(&mut self, args: &[&str]) -> Reply {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        match self.store.execute(&mut self.session, &args) {
            Outcome::Reply(reply) => reply,
            other => panic!("{args:?} answered {other:?}"),
        }
    }

    fn eval(&mut self, script: &str, keys: &[&str], argv: &[&str]) -> Reply {
        let numkeys = keys.len().to_string();
        let mut args = vec!["EVAL", script, numkeys.as_str()];
        args.extend_from_slice(keys);
        args.extend_from_slice(argv);
        self.cmd(&args)
    }
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(s)
}

/// The error EVAL answers for `message` raised at `line` of `script`, in Redis 7's words.
fn script_error(script: &str, message: &str, line: u32) -> Reply {
    Reply::Error(format!(
        "{message} script: {}, on @user_script:{line}.",
        sha1_hex(script.as_bytes())
    ))
}

#[test]
fn keys_and_argv() {
    let mut c = Client::new();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(
        c.eval(
            "return {KEYS[1], ARGV[1], ARGV[2], #KEYS, #ARGV}",
            &["k"],
            &["a", "b"]
        ),
        Reply::array(vec![bulk("k"), bulk("a"), bulk("b"), int(1), int(2)])
    );
    assert_eq!(
        c.eval("return redis.call('get', KEYS[1])", &["k"], &[]),
        bulk("v")
    );
    assert_eq!(c.eval("return 1", &[], &[]), int(1));
    assert_eq!(
        c.cmd(&["EVAL", "return 1"]),
        Reply::error("ERR wrong number of arguments for 'eval' command")
    );
}

#[test]
fn numkeys_errors() {
    let mut c = Client::new();
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "x"]),
        Reply::error("ERR value is not an integer or out of range")
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "-1"]),
        Reply::error("ERR Number of keys can't be negative")
    );
    assert_eq!(
        c.cmd(&["EVAL", "return 1", "2", "a"]),
        Reply::error("ERR Number of keys can't be greater than number of args")
    );
}

#[test]
fn redis_replies_become_lua_values() {
    let mut c = Client::new();
    c.cmd(&["RPUSH", "l", "a", "b"]);
    c.cmd(&["SET", "s", "text"]);
    let script = "
        local n = redis.call('incr', 'n')
        local missing = redis.call('get', 'nope')
        local list = redis.call('lrange', 'l', 0, -1)
        local status = redis.call('set', 'x', '1')
        local err = redis.pcall('incr', 's')
        return {type(n), n, type(missing), tostring(missing), #list, list[2],
                status.ok, err.err, type(redis.call('get', 's'))}";
    assert_eq!(
        c.eval(script, &[], &[]),
        Reply::array(vec![
            bulk("number"),
            int(1),
            bulk("boolean"),
            bulk("false"),
            int(2),
            bulk("b"),
            bulk("OK"),
            bulk("ERR value is not an integer or out of range"),
            bulk("string"),
        ])
    );
}

#[test]
fn lua_values_become_redis_replies() {
    let mut c = Client::new();
    assert_eq!(c.eval("return 3.99", &[], &[]), int(3));
    assert_eq!(c.eval("return -2.5", &[], &[]), int(-2));
    assert_eq!(c.eval("return 'str'", &[], &[]), bulk("str"));
    assert_eq!(c.eval("return true", &[], &[]), int(1));
    assert_eq!(c.eval("return false", &[], &[]), Reply::nil());
    assert_eq!(c.eval("return nil", &[], &[]), Reply::nil());
    assert_eq!(c.eval("return", &[], &[]), Reply::nil());
    assert_eq!(
        c.eval("return {1, 'two', {3}, false, nil, 6}", &[], &[]),
        Reply::array(vec![
            int(1),
            bulk("two"),
            Reply::array(vec![int(3)]),
            Reply::nil()
        ])
    );
    assert_eq!(
        c.eval("return {ok = 'FINE'}", &[], &[]),
        Reply::Simple("FINE".into())
    );
    assert_eq!(
        c.eval("return {err = 'BAD thing'}", &[], &[]),
        Reply::error("BAD thing")
    );
    assert_eq!(
        c.eval("return redis.call('set', 'k', 'v')", &[], &[]),
        Reply::ok()
    );
    assert_eq!(
        c.eval("return redis.status_reply('FINE')", &[], &[]),
        Reply::Simple("FINE".into())
    );
    assert_eq!(
        c.eval("return redis.error_reply('My Error')", &[], &[]),
        Reply::error("My Error")
    );
    assert_eq!(
        c.eval("return redis.error_reply('boom')", &[], &[]),
        Reply::error("ERR boom")
    );
    assert_eq!(
        c.eval("return redis.pcall('lpush', 'k', 'x')", &[], &[]),
        Reply::error("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn numbers_are_passed_as_integers_or_decimals() {
    let mut c = Client::new();
    c.eval(
        "redis.call('set', 'a', 10) redis.call('set', 'b', 3.5)",
        &[],
        &[],
    );
    assert_eq!(c.cmd(&["GET", "a"]), bulk("10"));
    assert_eq!(c.cmd(&["GET", "b"]), bulk("3.5"));
    let bad = "return redis.pcall('set', 'a', {})";
    assert_eq!(
        c.eval(bad, &[], &[]),
        Reply::error("ERR Lua redis lib command arguments must be strings or integers")
    );
    assert_eq!(
        c.eval("return redis.pcall()", &[], &[]),
        Reply::error("ERR Please specify at least one argument for this redis lib call")
    );
}

#[test]
fn call_errors_abort_the_script() {
    let mut c = Client::new();
    let script =
        "redis.call('set', 'a', '1')\nredis.call('lpush', 'a', 'x')\nredis.call('set', 'b', '2')";
    assert_eq!(
        c.eval(script, &[], &[]),
        script_error(
            script,
            "WRONGTYPE Operation against a key holding the wrong kind of value",
            2
        )
    );
    assert_eq!(c.cmd(&["GET", "a"]), bulk("1"));
    assert_eq!(c.cmd(&["EXISTS", "b"]), int(0));
    let unknown = "return redis.call('nosuch')";
    assert_eq!(
        c.eval(unknown, &[], &[]),
        script_error(unknown, "ERR Unknown Redis command called from script", 1)
    );
    let arity = "return redis.call('get')";
    assert_eq!(
        c.eval(arity, &[], &[]),
        script_error(
            arity,
            "ERR Wrong number of args calling Redis command from script",
            1
        )
    );
}

#[test]
fn pcall_catches_call_errors_as_tables() {
    let mut c = Client::new();
    c.cmd(&["SET", "s", "x"]);
    let script = "local ok, e = pcall(redis.call, 'incr', 's') return {tostring(ok), e.err}";
    assert_eq!(
        c.eval(script, &[], &[]),
        Reply::array(vec![
            bulk("false"),
            bulk("ERR value is not an integer or out of range")
        ])
    );
}

#[test]
fn lua_errors_are_reported_with_their_line() {
    let mut c = Client::new();
    let boom = "local x = 1\nerror('boom')";
    assert_eq!(
        c.eval(boom, &[], &[]),
        script_error(boom, "ERR user_script:2: boom", 2)
    );
    let custom = "error({err = 'MY custom'})";
    assert_eq!(
        c.eval(custom, &[], &[]),
        script_error(custom, "MY custom", 1)
    );
    let Reply::Error(syntax) = c.eval("return +", &[], &[]) else {
        panic!("syntax error expected");
    };
    assert!(
        syntax.starts_with("ERR Error compiling script (new function): user_script:1:"),
        "{syntax}"
    );
}

#[test]
fn globals_are_forbidden_and_do_not_leak() {
    let mut c = Client::new();
    let create = "x = 1";
    assert_eq!(
        c.eval(create, &[], &[]),
        script_error(
            create,
            "ERR user_script:1: Script attempted to create global variable 'x'",
            1
        )
    );
    let read = "return nosuch";
    assert_eq!(
        c.eval(read, &[], &[]),
        script_error(
            read,
            "ERR user_script:1: Script attempted to access nonexistent global variable 'nosuch'",
            1
        )
    );
    let library = "string.foo = 1";
    assert_eq!(
        c.eval(library, &[], &[]),
        script_error(
            library,
            "ERR user_script:1: Attempt to modify a readonly table",
            1
        )
    );
    // Whatever a script does to its own globals is gone for the next one.
    c.eval(
        "rawset(_G, 'leak', 1) redis.call = nil rawset(string, 'upper', nil)",
        &[],
        &[],
    );
    let probe = "return {rawget(_G, 'leak') == nil, type(redis.call), string.upper('a')}";
    assert_eq!(
        c.eval(probe, &[], &[]),
        Reply::array(vec![int(1), bulk("function"), bulk("A")])
    );
    let local_fn = "local function twice(v) return v * 2 end return twice(ARGV[1])";
    assert_eq!(c.eval(local_fn, &[], &["21"]), int(42));
}

#[test]
fn sha1hex_and_log() {
    let mut c = Client::new();
    assert_eq!(
        c.eval("return redis.sha1hex('')", &[], &[]),
        bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709")
    );
    assert_eq!(
        c.eval(
            "redis.log(redis.LOG_WARNING, 'hello', 1) return 1",
            &[],
            &[]
        ),
        int(1)
    );
    let bad = "redis.log(redis.LOG_WARNING)";
    assert_eq!(
        c.eval(bad, &[], &[]),
        script_error(bad, "ERR redis.log() requires two arguments or more.", 1)
    );
}

#[test]
fn evalsha_and_the_script_cache() {
    let mut c = Client::new();
    let sha = sha1_hex(b"return ARGV[1]");
    let noscript = Reply::error("NOSCRIPT No matching script. Please use EVAL.");
    assert_eq!(c.cmd(&["EVALSHA", &sha, "0", "x"]), noscript);
    assert_eq!(c.cmd(&["EVALSHA", "short", "0"]), noscript);
    assert_eq!(c.cmd(&["SCRIPT", "LOAD", "return ARGV[1]"]), bulk(&sha));
    assert_eq!(c.cmd(&["EVALSHA", &sha, "0", "x"]), bulk("x"));
    assert_eq!(
        c.cmd(&["EVALSHA", &sha.to_uppercase(), "0", "y"]),
        bulk("y")
    );
    let other = sha1_hex(b"return 2");
    c.eval("return 2", &[], &[]);
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &sha, &other, "nope"]),
        Reply::array(vec![int(1), int(1), int(0)])
    );
    // Another connection sees the same cache.
    assert_eq!(c.other().cmd(&["EVALSHA", &other, "0"]), int(2));
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH"]), Reply::ok());
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &sha]),
        Reply::array(vec![int(0)])
    );
    assert_eq!(c.cmd(&["EVALSHA", &sha, "0", "x"]), noscript);
    assert_eq!(c.cmd(&["SCRIPT", "FLUSH", "ASYNC"]), Reply::ok());
    assert_eq!(
        c.cmd(&["SCRIPT", "FLUSH", "LATER"]),
        Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    );
    let Reply::Error(compile) = c.cmd(&["SCRIPT", "LOAD", "return +"]) else {
        panic!("compile error expected");
    };
    assert!(compile.starts_with("ERR Error compiling script (new function): user_script:1:"));
    assert_eq!(
        c.cmd(&["SCRIPT", "EXISTS", &sha1_hex(b"return +")]),
        Reply::array(vec![int(0)])
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "KILL"]),
        Reply::error("NOTBUSY No scripts in execution right now.")
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "NOPE"]),
        Reply::error("ERR unknown subcommand 'NOPE'. Try SCRIPT HELP.")
    );
    assert_eq!(
        c.cmd(&["SCRIPT", "LOAD"]),
        Reply::error("ERR wrong number of arguments for 'script|load' command")
    );
}

#[test]
fn commands_not_allowed_in_scripts() {
    let mut c = Client::new();
    let not_allowed = bulk("ERR This Redis command is not allowed from script");
    for command in [
        "'multi'",
        "'exec'",
        "'watch', 'k'",
        "'subscribe', 'ch'",
        "'eval', 'return 1', 0",
        "'script', 'flush'",
    ] {
        let script = format!("return redis.pcall({command}).err");
        assert_eq!(c.eval(&script, &[], &[]), not_allowed, "{command}");
    }
    // Blocking commands answer at once.
    assert_eq!(
        c.eval("return redis.call('blpop', 'empty', 0)", &[], &[]),
        Reply::nil()
    );
    c.cmd(&["RPUSH", "q", "job"]);
    assert_eq!(
        c.eval("return redis.call('brpop', 'q', 0)", &[], &[]),
        Reply::array(vec![bulk("q"), bulk("job")])
    );
}

#[test]
fn read_only_scripts_refuse_writes() {
    let mut c = Client::new();
    c.cmd(&["SET", "k", "v"]);
    assert_eq!(
        c.cmd(&["EVAL_RO", "return redis.call('get', KEYS[1])", "1", "k"]),
        bulk("v")
    );
    let write = "return redis.call('set', KEYS[1], 'w')";
    assert_eq!(
        c.cmd(&["EVAL_RO", write, "1", "k"]),
        script_error(
            write,
            "ERR Write commands are not allowed from read-only scripts.",
            1
        )
    );
    assert_eq!(c.cmd(&["GET", "k"]), bulk("v"));
}

#[test]
fn select_in_a_script_stays_in_the_script() {
    let mut c = Client::new();
    c.eval(
        "redis.call('select', 1) redis.call('set', 'k', 'db1')",
        &[],
        &[],
    );
    assert_eq!(c.cmd(&["EXISTS", "k"]), int(0));
    c.cmd(&["SELECT", "1"]);
    assert_eq!(c.cmd(&["GET", "k"]), bulk("db1"));
}

#[test]
fn eval_inside_multi_and_txn() {
    let mut c = Client::new();
    c.cmd(&["MULTI"]);
    assert_eq!(
        c.cmd(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"]),
        Reply::Simple("QUEUED".into())
    );
    assert_eq!(c.cmd(&["EXEC"]), Reply::array(vec![int(1)]));
    let mut session = Session::internal(0);
    let args: Vec<Vec<u8>> = ["EVAL", "return redis.call('incr', KEYS[1])", "1", "n"]
        .iter()
        .map(|a| a.as_bytes().to_vec())
        .collect();
    assert_eq!(
        c.store.atomic(|txn| txn.execute(&mut session, &args)),
        int(2)
    );
}

#[test]
fn cjson_round_trips_in_scripts() {
    let mut c = Client::new();
    let json = r#"{"a":[1,2.5,"x\/y",true,null],"b":{"c":"\u00e9"}}"#;
    let script = "local v = cjson.decode(ARGV[1])
        return {cjson.encode(v.a), v.b.c, tostring(v.a[5] == cjson.null), cjson.encode(cjson.decode(cjson.encode(v)))}";
    let Reply::Array(Some(items)) = c.eval(script, &[], &[json]) else {
        panic!("array expected");
    };
    assert_eq!(items[0], bulk(r#"[1,2.5,"x\/y",true,null]"#));
    assert_eq!(items[1], bulk("é"));
    assert_eq!(items[2], bulk("true"));
    let Reply::Bulk(Some(again)) = &items[3] else {
        panic!("bulk expected");
    };
    let again = String::from_utf8_lossy(again);
    assert!(
        again.contains(r#""b":{"c":"é"}"#) && again.contains(r#""a":[1,2.5,"x\/y",true,null]"#),
        "{again}"
    );
    let bad = "return cjson.decode('x')";
    assert_eq!(
        c.eval(bad, &[], &[]),
        script_error(
            bad,
            "ERR Expected value but found invalid token at character 1",
            1
        )
    );
    let ok = "local ok, e = pcall(cjson.encode, {function() end}) return {tostring(ok), e}";
    assert_eq!(
        c.eval(ok, &[], &[]),
        Reply::array(vec![
            bulk("false"),
            bulk("Cannot serialise function: type not supported")
        ])
    );
}

#[test]
fn runaway_scripts_are_killed() {
    let mut c = Client::new();
    c.store.set_script_time_limit(Duration::from_millis(50));
    let killed =
        Reply::error("ERR Script killed after running longer than the script time limit (50 ms)");
    assert_eq!(c.eval("while true do end", &[], &[]), killed);
    let catching = "while true do pcall(function() while true do end end) end";
    assert_eq!(c.eval(catching, &[], &[]), killed);
    let handler = "while true do xpcall(function() while true do end end, function() while true do end end) end";
    assert_eq!(c.eval(handler, &[], &[]), killed);
    let handled =
        "return {xpcall(function() error('x') end, function(e) return 'handled ' .. e end)}";
    c.store.set_script_time_limit(Duration::from_secs(5));
    assert_eq!(
        c.eval(handled, &[], &[]),
        Reply::array(vec![Reply::nil(), bulk("handled user_script:1: x")])
    );
    // The state and the store are usable afterwards.
    assert_eq!(c.eval("return 1", &[], &[]), int(1));
    assert_eq!(c.other().cmd(&["SET", "k", "v"]), Reply::ok());
    assert_eq!(c.store.script_time_limit(), Duration::from_secs(5));
}

// Laravel's Illuminate\Queue\LuaScripts and Illuminate\Cache\RedisLock, verbatim.

const LARAVEL_SIZE: &str = "return redis.call('llen', KEYS[1]) + redis.call('zcard', KEYS[2]) + redis.call('zcard', KEYS[3])";

const LARAVEL_PUSH: &str = "
-- Push the job onto the queue...
redis.call('rpush', KEYS[1], ARGV[1])
-- Push a notification onto the \"notify\" queue...
redis.call('rpush', KEYS[2], 1)
";

const LARAVEL_POP: &str = "
-- Pop the first job off of the queue...
local job = redis.call('lpop', KEYS[1])
local reserved = false

if(job ~= false) then
    -- Increment the attempt count and place job on the reserved queue...
    reserved = cjson.decode(job)
    reserved['attempts'] = reserved['attempts'] + 1
    reserved = cjson.encode(reserved)
    redis.call('zadd', KEYS[2], ARGV[1], reserved)
    redis.call('lpop', KEYS[3])
end

return {job, reserved}
";

const LARAVEL_RELEASE: &str = "
-- Remove the job from the current queue...
redis.call('zrem', KEYS[2], ARGV[1])

-- Add the job onto the \"delayed\" queue...
redis.call('zadd', KEYS[1], ARGV[2], ARGV[1])

return true
";

const LARAVEL_MIGRATE: &str = "
-- Get all of the jobs with an expired \"score\"...
local val = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1])

-- If we have values in the array, we will remove them from the first queue
-- and add them onto the destination queue in chunks of 100, which moves
-- all of the appropriate jobs onto the destination queue very safely.
if(next(val) ~= nil) then
    redis.call('zremrangebyrank', KEYS[1], 0, #val - 1)

    for i = 1, #val, 100 do
        redis.call('rpush', KEYS[2], unpack(val, i, math.min(i+99, #val)))
        -- Push a notification for every job that was migrated...
        for j = i, math.min(i+99, #val) do
            redis.call('rpush', KEYS[3], 1)
        end
    end
end

return val
";

const LARAVEL_MIGRATE_LIMIT: &str = "
-- Get all of the jobs with an expired \"score\"...
local val = redis.call('zrangebyscore', KEYS[1], '-inf', ARGV[1], 'limit', 0, ARGV[2])

-- If we have values in the array, we will remove them from the first queue
-- and add them onto the destination queue in chunks of 100, which moves
-- all of the appropriate jobs onto the destination queue very safely.
if(next(val) ~= nil) then
    redis.call('zremrangebyrank', KEYS[1], 0, #val - 1)

    for i = 1, #val, 100 do
        redis.call('rpush', KEYS[2], unpack(val, i, math.min(i+99, #val)))
        -- Push a notification for every job that was migrated...
        for j = i, math.min(i+99, #val) do
            redis.call('rpush', KEYS[3], 1)
        end
    end
end

return val
";

const LARAVEL_CLEAR: &str = "
local size = redis.call('llen', KEYS[1]) + redis.call('zcard', KEYS[2]) + redis.call('zcard', KEYS[3])
redis.call('del', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
return size
";

const LARAVEL_RELEASE_LOCK: &str = "
if redis.call(\"get\",KEYS[1]) == ARGV[1] then
    return redis.call(\"del\",KEYS[1])
else
    return 0
end
";

const QUEUE: [&str; 4] = [
    "queues:default",
    "queues:default:reserved",
    "queues:default:delayed",
    "queues:default:notify",
];

const JOB: &str = r#"{"uuid":"9f6b","displayName":"App\\Jobs\\SendMail","job":"Illuminate\\Queue\\CallQueuedHandler@call","maxTries":null,"maxExceptions":null,"failOnTimeout":false,"backoff":null,"timeout":null,"retryUntil":null,"data":{"commandName":"App\\Jobs\\SendMail","command":"O:17:\"App\\Jobs\\SendMail\":0:{}"},"id":"abc123","attempts":0}"#;

#[test]
fn laravel_queue_push_pop_release() {
    let mut c = Client::new();
    let [queue, reserved, delayed, notify] = QUEUE;
    assert_eq!(c.eval(LARAVEL_PUSH, &[queue, notify], &[JOB]), Reply::nil());
    assert_eq!(c.cmd(&["LRANGE", notify, "0", "-1"]), Reply::bulks(["1"]));
    assert_eq!(
        c.eval(LARAVEL_SIZE, &[queue, delayed, reserved], &[]),
        int(1)
    );

    let Reply::Array(Some(popped)) =
        c.eval(LARAVEL_POP, &[queue, reserved, notify], &["1700000090"])
    else {
        panic!("pop answers an array");
    };
    assert_eq!(popped[0], bulk(JOB));
    let Reply::Bulk(Some(job)) = &popped[1] else {
        panic!("reserved job expected");
    };
    let job = String::from_utf8_lossy(job).into_owned();
    for part in [
        r#""attempts":1"#,
        r#""maxTries":null"#,
        r#""failOnTimeout":false"#,
        r#""displayName":"App\\Jobs\\SendMail""#,
        r#""command":"O:17:\"App\\Jobs\\SendMail\":0:{}""#,
    ] {
        assert!(job.contains(part), "{part} missing from {job}");
    }
    assert_eq!(c.cmd(&["ZSCORE", reserved, &job]), bulk("1700000090"));
    assert_eq!(c.cmd(&["LLEN", notify]), int(0));
    assert_eq!(c.cmd(&["LLEN", queue]), int(0));
    // An empty queue pops nothing.
    assert_eq!(
        c.eval(LARAVEL_POP, &[queue, reserved, notify], &["1700000090"]),
        Reply::array(vec![Reply::nil(), Reply::nil()])
    );

    assert_eq!(
        c.eval(LARAVEL_RELEASE, &[delayed, reserved], &[&job, "1700000100"]),
        int(1)
    );
    assert_eq!(c.cmd(&["ZCARD", reserved]), int(0));
    assert_eq!(c.cmd(&["ZSCORE", delayed, &job]), bulk("1700000100"));
    assert_eq!(
        c.eval(LARAVEL_SIZE, &[queue, delayed, reserved], &[]),
        int(1)
    );
}

#[test]
fn laravel_queue_migrate_and_clear() {
    let mut c = Client::new();
    let [queue, reserved, delayed, notify] = QUEUE;
    for (score, job) in [("100", "a"), ("200", "b"), ("300", "c")] {
        c.cmd(&["ZADD", delayed, score, job]);
    }
    assert_eq!(
        c.eval(LARAVEL_MIGRATE, &[delayed, queue, notify], &["250"]),
        Reply::bulks(["a", "b"])
    );
    assert_eq!(
        c.cmd(&["LRANGE", queue, "0", "-1"]),
        Reply::bulks(["a", "b"])
    );
    assert_eq!(c.cmd(&["LLEN", notify]), int(2));
    assert_eq!(c.cmd(&["ZRANGE", delayed, "0", "-1"]), Reply::bulks(["c"]));
    assert_eq!(
        c.eval(LARAVEL_MIGRATE, &[delayed, queue, notify], &["250"]),
        Reply::array(vec![])
    );

    // The newer variant with a LIMIT, over more than one chunk of 100.
    for i in 0..150 {
        c.cmd(&["ZADD", delayed, "400", &format!("job{i:03}")]);
    }
    let Reply::Array(Some(moved)) = c.eval(
        LARAVEL_MIGRATE_LIMIT,
        &[delayed, queue, notify],
        &["500", "120"],
    ) else {
        panic!("array expected");
    };
    assert_eq!(moved.len(), 120);
    assert_eq!(moved[0], bulk("c"));
    assert_eq!(c.cmd(&["LLEN", queue]), int(122));
    assert_eq!(c.cmd(&["LLEN", notify]), int(122));
    assert_eq!(c.cmd(&["ZCARD", delayed]), int(31));

    c.cmd(&["ZADD", reserved, "1", "r"]);
    assert_eq!(
        c.eval(LARAVEL_CLEAR, &[queue, delayed, reserved, notify], &[]),
        int(122 + 31 + 1)
    );
    for key in QUEUE {
        assert_eq!(c.cmd(&["EXISTS", key]), int(0), "{key}");
    }
}

#[test]
fn laravel_cache_lock_release() {
    let mut c = Client::new();
    let lock = "laravel_cache:lock:report";
    assert_eq!(
        c.cmd(&["SET", lock, "owner-1", "EX", "10", "NX"]),
        Reply::ok()
    );
    assert_eq!(
        c.eval(LARAVEL_RELEASE_LOCK, &[lock], &["someone-else"]),
        int(0)
    );
    assert_eq!(c.cmd(&["EXISTS", lock]), int(1));
    assert_eq!(c.eval(LARAVEL_RELEASE_LOCK, &[lock], &["owner-1"]), int(1));
    assert_eq!(c.cmd(&["EXISTS", lock]), int(0));
    assert_eq!(c.eval(LARAVEL_RELEASE_LOCK, &[lock], &["owner-1"]), int(0));
}
