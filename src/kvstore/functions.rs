//! The `ephpm_kv_*` PHP functions and the `ephpm` session save handler: direct calls into the
//! store from PHP threads, with no socket and no serialization.
//!
//! They work on database 0 and follow phpredis's conventions: a missing value is `false`,
//! counts are ints, hashes come back as `field => value` arrays. Store errors (`WRONGTYPE`,
//! `OOM`, ...) are thrown as `RuntimeException` with Redis's message. `ephpm_kv_command(...)`
//! runs any Redis command and returns its reply (nil as `null`, `+OK` as `true`).
//!
//! Sessions live under `ephpm:session:<id>` with `session.gc_maxlifetime` as their TTL, so
//! expiry needs no garbage collection run.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use kv::{KvError, Reply, Session, Store, Ttl};
use php_sys::host::{Arg, HostError, HostFunctions, HostHandler, Value};

/// The database the PHP functions use.
const DB: usize = 0;
/// Prefix of session keys.
const SESSION_PREFIX: &[u8] = b"ephpm:session:";

type Function = fn(&Store, &Args<'_>) -> Result<Value, HostError>;
/// A typed store call on a key and several members (SADD, SREM, ZREM).
type MembersOp = fn(&Store, usize, &[u8], &[&[u8]]) -> Result<usize, KvError>;

/// Every PHP function, by name.
const FUNCTIONS: &[(&str, Function)] = &[
    ("ephpm_kv_get", get),
    ("ephpm_kv_set", set),
    ("ephpm_kv_add", add),
    ("ephpm_kv_mget", mget),
    ("ephpm_kv_del", del),
    ("ephpm_kv_exists", exists),
    ("ephpm_kv_incr", incr),
    ("ephpm_kv_decr", decr),
    ("ephpm_kv_expire", expire),
    ("ephpm_kv_ttl", ttl),
    ("ephpm_kv_hget", hget),
    ("ephpm_kv_hset", hset),
    ("ephpm_kv_hgetall", hgetall),
    ("ephpm_kv_hdel", hdel),
    ("ephpm_kv_lpush", lpush),
    ("ephpm_kv_rpush", rpush),
    ("ephpm_kv_lpop", lpop),
    ("ephpm_kv_rpop", rpop),
    ("ephpm_kv_lrange", lrange),
    ("ephpm_kv_sadd", sadd),
    ("ephpm_kv_srem", srem),
    ("ephpm_kv_smembers", smembers),
    ("ephpm_kv_sismember", sismember),
    ("ephpm_kv_zadd", zadd),
    ("ephpm_kv_zrange", zrange),
    ("ephpm_kv_zscore", zscore),
    ("ephpm_kv_zrem", zrem),
    ("ephpm_kv_flush", flush),
    ("ephpm_kv_command", command),
];

/// The PHP functions (and session hooks) backed by `store`.
pub(crate) fn host_functions(store: Arc<Store>) -> HostFunctions {
    HostFunctions {
        names: FUNCTIONS
            .iter()
            .map(|(name, _)| (*name).to_owned())
            .collect(),
        handler: Box::leak(Box::new(KvFunctions { store })),
    }
}

struct KvFunctions {
    store: Arc<Store>,
}

impl HostHandler for KvFunctions {
    fn call(&self, name: &str, args: &[Arg<'_>]) -> Result<Value, HostError> {
        let args = Args { name, args };
        if let Some(hook) = name.strip_prefix("session:") {
            return session_hook(&self.store, hook, &args);
        }
        match FUNCTIONS.iter().find(|(n, _)| *n == name) {
            Some((_, function)) => function(&self.store, &args),
            None => Err(HostError::Runtime(format!("{name}(): unknown function"))),
        }
    }
}

/// A call's arguments, with PHP-style conversions and errors that name the function.
struct Args<'a> {
    name: &'a str,
    args: &'a [Arg<'a>],
}

impl<'a> Args<'a> {
    fn len(&self) -> usize {
        self.args.len()
    }

    /// Fails unless at least `n` arguments were given.
    fn at_least(&self, n: usize) -> Result<(), HostError> {
        if self.args.len() < n {
            return Err(HostError::ArgumentCount(format!(
                "{}() expects at least {n} argument{}, {} given",
                self.name,
                if n == 1 { "" } else { "s" },
                self.args.len()
            )));
        }
        Ok(())
    }

    /// Argument `i` as a string (ints and floats are converted as PHP converts them).
    fn bytes(&self, i: usize) -> Result<Cow<'a, [u8]>, HostError> {
        self.at_least(i + 1)?;
        Ok(match self.args[i] {
            Arg::Str(s) => Cow::Borrowed(s),
            Arg::Int(n) => Cow::Owned(n.to_string().into_bytes()),
            Arg::Float(f) => Cow::Owned(php_float_string(f).into_bytes()),
            Arg::Bool(true) => Cow::Borrowed(b"1"),
            Arg::Bool(false) | Arg::Null => Cow::Borrowed(b""),
        })
    }

    /// Arguments from `i` on, as strings.
    fn rest(&self, i: usize) -> Result<Vec<Cow<'a, [u8]>>, HostError> {
        (i..self.args.len()).map(|j| self.bytes(j)).collect()
    }

    /// Argument `i` as an int, or `default` when absent.
    fn int_or(&self, i: usize, default: i64) -> Result<i64, HostError> {
        match self.args.get(i) {
            None | Some(Arg::Null) => Ok(default),
            Some(Arg::Int(n)) => Ok(*n),
            Some(Arg::Bool(b)) => Ok(i64::from(*b)),
            Some(Arg::Float(f)) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(*f as i64),
            Some(Arg::Str(s)) => std::str::from_utf8(s)
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .ok_or_else(|| self.type_error(i, "int")),
            Some(_) => Err(self.type_error(i, "int")),
        }
    }

    /// Argument `i` as an int.
    fn int(&self, i: usize) -> Result<i64, HostError> {
        self.at_least(i + 1)?;
        self.int_or(i, 0)
    }

    /// Argument `i` as a float.
    fn float(&self, i: usize) -> Result<f64, HostError> {
        self.at_least(i + 1)?;
        match self.args[i] {
            Arg::Int(n) => Ok(n as f64),
            Arg::Float(f) => Ok(f),
            Arg::Str(s) => std::str::from_utf8(s)
                .ok()
                .and_then(|s| kv::parse_f64(s.trim().as_bytes()))
                .ok_or_else(|| self.type_error(i, "float")),
            _ => Err(self.type_error(i, "float")),
        }
    }

    fn flag(&self, i: usize) -> bool {
        match self.args.get(i) {
            Some(Arg::Bool(b)) => *b,
            Some(Arg::Int(n)) => *n != 0,
            Some(Arg::Str(s)) => !s.is_empty() && *s != b"0",
            _ => false,
        }
    }

    fn type_error(&self, i: usize, expected: &str) -> HostError {
        HostError::Type(format!(
            "{}(): Argument #{} must be of type {expected}",
            self.name,
            i + 1
        ))
    }
}

/// A float as PHP's string conversion writes it (`1.5`, `2`, `1.0E+25`).
fn php_float_string(f: f64) -> String {
    if f.fract() == 0.0 && f.abs() < 1e15 {
        format!("{}", f as i64)
    } else {
        format!("{f}")
    }
}

fn store_error(err: KvError) -> HostError {
    HostError::Runtime(err.to_string())
}

fn bytes_or_false(value: Option<Vec<u8>>) -> Value {
    value.map_or(Value::Bool(false), Value::Str)
}

fn count(n: usize) -> Value {
    Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
}

fn list(items: Vec<Vec<u8>>) -> Value {
    Value::List(items.into_iter().map(Value::Str).collect())
}

/// A TTL argument in seconds: None for 0 or less (no expiry).
fn ttl_seconds(seconds: i64) -> Option<Duration> {
    u64::try_from(seconds)
        .ok()
        .filter(|&s| s > 0)
        .map(Duration::from_secs)
}

/// Runs a Redis command as an in-process client on database 0.
fn run(store: &Store, args: Vec<Vec<u8>>) -> Result<Reply, HostError> {
    let mut session = Session::internal(DB);
    match store.execute(&mut session, &args) {
        kv::Outcome::Reply(Reply::Error(message)) => Err(HostError::Runtime(message)),
        kv::Outcome::Reply(reply) | kv::Outcome::Close(reply) => Ok(reply),
        kv::Outcome::Replies(replies) => Ok(Reply::Array(Some(replies))),
        // Blocking pops answer at once from PHP: there is nobody to wait for in a script.
        kv::Outcome::Block(_) | kv::Outcome::Nothing => Ok(Reply::Array(None)),
        kv::Outcome::Drop => Err(HostError::Runtime(format!(
            "ERR unknown command '{}'",
            String::from_utf8_lossy(args.first().map_or(&[][..], |a| a))
        ))),
    }
}

/// A reply as a PHP value: nil is null, `+OK` is true, errors inside arrays are strings.
fn reply_value(reply: Reply) -> Value {
    match reply {
        Reply::Simple(status) if status == "OK" => Value::Bool(true),
        Reply::Simple(status) | Reply::Error(status) => Value::Str(status.into_bytes()),
        Reply::Integer(n) => Value::Int(n),
        Reply::Bulk(bytes) => bytes.map_or(Value::Null, Value::Str),
        Reply::Array(items) => items.map_or(Value::Null, |items| {
            Value::List(items.into_iter().map(reply_value).collect())
        }),
    }
}

fn command_args<'a>(name: &str, rest: impl IntoIterator<Item = Cow<'a, [u8]>>) -> Vec<Vec<u8>> {
    std::iter::once(name.as_bytes().to_vec())
        .chain(rest.into_iter().map(Cow::into_owned))
        .collect()
}

fn get(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    store.get(DB, &key).map(bytes_or_false).map_err(store_error)
}

fn set(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let (key, value) = (args.bytes(0)?, args.bytes(1)?);
    let ttl = ttl_seconds(args.int_or(2, 0)?);
    store.set(DB, &key, &value, ttl).map_err(store_error)?;
    Ok(Value::Bool(true))
}

/// Sets only when the key does not exist yet (SET NX): true when it was set.
fn add(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let (key, value) = (args.bytes(0)?, args.bytes(1)?);
    let mut command = command_args("SET", [key, value]);
    command.push(b"NX".to_vec());
    if let Some(ttl) = ttl_seconds(args.int_or(2, 0)?) {
        command.push(b"EX".to_vec());
        command.push(ttl.as_secs().to_string().into_bytes());
    }
    Ok(Value::Bool(matches!(
        run(store, command)?,
        Reply::Simple(_)
    )))
}

fn mget(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    args.at_least(1)?;
    match run(store, command_args("MGET", args.rest(0)?))? {
        Reply::Array(Some(items)) => Ok(Value::List(
            items
                .into_iter()
                .map(|item| match item {
                    Reply::Bulk(Some(bytes)) => Value::Str(bytes),
                    _ => Value::Bool(false),
                })
                .collect(),
        )),
        _ => Ok(Value::List(Vec::new())),
    }
}

fn del(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    args.at_least(1)?;
    let keys = args.rest(0)?;
    let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_ref()).collect();
    store.del(DB, &keys).map(count).map_err(store_error)
}

fn exists(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    store.exists(DB, &key).map(Value::Bool).map_err(store_error)
}

fn incr(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    let by = args.int_or(1, 1)?;
    store
        .incr_by(DB, &key, by)
        .map(Value::Int)
        .map_err(store_error)
}

fn decr(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    let by = args
        .int_or(1, 1)?
        .checked_neg()
        .ok_or_else(|| store_error(KvError::Overflow))?;
    store
        .incr_by(DB, &key, by)
        .map(Value::Int)
        .map_err(store_error)
}

fn expire(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    let seconds = args.int(1)?;
    let ttl = Duration::from_secs(u64::try_from(seconds).unwrap_or(0));
    store
        .expire(DB, &key, ttl)
        .map(Value::Bool)
        .map_err(store_error)
}

/// Seconds left (rounded like Redis's TTL), -1 without expiry, -2 when missing.
fn ttl(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    Ok(Value::Int(
        match store.ttl(DB, &key).map_err(store_error)? {
            Ttl::Missing => -2,
            Ttl::Persistent => -1,
            Ttl::Expires(left) => {
                i64::try_from((left.as_millis() + 500) / 1000).unwrap_or(i64::MAX)
            }
        },
    ))
}

fn hget(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let (key, field) = (args.bytes(0)?, args.bytes(1)?);
    store
        .hget(DB, &key, &field)
        .map(bytes_or_false)
        .map_err(store_error)
}

/// Sets one field: 1 when it is new, 0 when it was updated.
fn hset(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let (key, field, value) = (args.bytes(0)?, args.bytes(1)?, args.bytes(2)?);
    let new = store.hset(DB, &key, &field, &value).map_err(store_error)?;
    Ok(Value::Int(i64::from(new)))
}

fn hgetall(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    let fields = store.hgetall(DB, &key).map_err(store_error)?;
    Ok(Value::Map(
        fields
            .into_iter()
            .map(|(f, v)| (f, Value::Str(v)))
            .collect(),
    ))
}

fn hdel(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    args.at_least(2)?;
    let fields = args.rest(1)?;
    let fields: Vec<&[u8]> = fields.iter().map(|f| f.as_ref()).collect();
    store
        .hdel(DB, &key, &fields)
        .map(count)
        .map_err(store_error)
}

fn push(store: &Store, args: &Args<'_>, left: bool) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    args.at_least(2)?;
    let values = args.rest(1)?;
    let values: Vec<&[u8]> = values.iter().map(|v| v.as_ref()).collect();
    let pushed = if left {
        store.lpush(DB, &key, &values)
    } else {
        store.rpush(DB, &key, &values)
    };
    pushed.map(count).map_err(store_error)
}

fn lpush(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    push(store, args, true)
}

fn rpush(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    push(store, args, false)
}

fn lpop(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    store
        .lpop(DB, &key)
        .map(bytes_or_false)
        .map_err(store_error)
}

fn rpop(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    store
        .rpop(DB, &key)
        .map(bytes_or_false)
        .map_err(store_error)
}

fn lrange(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    let (start, stop) = (args.int_or(1, 0)?, args.int_or(2, -1)?);
    store
        .lrange(DB, &key, start, stop)
        .map(list)
        .map_err(store_error)
}

fn members_call(store: &Store, args: &Args<'_>, op: MembersOp) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    args.at_least(2)?;
    let members = args.rest(1)?;
    let members: Vec<&[u8]> = members.iter().map(|m| m.as_ref()).collect();
    op(store, DB, &key, &members)
        .map(count)
        .map_err(store_error)
}

fn sadd(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    members_call(store, args, Store::sadd)
}

fn srem(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    members_call(store, args, Store::srem)
}

fn smembers(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    store.smembers(DB, &key).map(list).map_err(store_error)
}

fn sismember(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let (key, member) = (args.bytes(0)?, args.bytes(1)?);
    store
        .sismember(DB, &key, &member)
        .map(Value::Bool)
        .map_err(store_error)
}

/// `ephpm_kv_zadd($key, $score, $member, [$score, $member, ...])`: how many members are new.
fn zadd(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    args.at_least(3)?;
    if args.len() % 2 == 0 {
        return Err(HostError::ArgumentCount(format!(
            "{}() expects score/member pairs after the key",
            args.name
        )));
    }
    let mut scores = Vec::with_capacity(args.len() / 2);
    let mut members = Vec::with_capacity(args.len() / 2);
    for i in (1..args.len()).step_by(2) {
        scores.push(args.float(i)?);
        members.push(args.bytes(i + 1)?);
    }
    let pairs: Vec<(f64, &[u8])> = scores
        .iter()
        .zip(&members)
        .map(|(s, m)| (*s, m.as_ref()))
        .collect();
    store.zadd(DB, &key, &pairs).map(count).map_err(store_error)
}

/// Members by rank; with `$withscores`, a `member => score` array.
fn zrange(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let key = args.bytes(0)?;
    let (start, stop) = (args.int_or(1, 0)?, args.int_or(2, -1)?);
    let ranked = store.zrange(DB, &key, start, stop).map_err(store_error)?;
    Ok(if args.flag(3) {
        Value::Map(
            ranked
                .into_iter()
                .map(|(m, s)| (m, Value::Float(s)))
                .collect(),
        )
    } else {
        Value::List(ranked.into_iter().map(|(m, _)| Value::Str(m)).collect())
    })
}

fn zscore(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    let (key, member) = (args.bytes(0)?, args.bytes(1)?);
    Ok(store
        .zscore(DB, &key, &member)
        .map_err(store_error)?
        .map_or(Value::Bool(false), Value::Float))
}

fn zrem(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    members_call(store, args, Store::zrem)
}

fn flush(store: &Store, _args: &Args<'_>) -> Result<Value, HostError> {
    store.flush_all();
    Ok(Value::Bool(true))
}

/// Any Redis command: `ephpm_kv_command('ZINCRBY', 'board', 5, 'ann')`.
fn command(store: &Store, args: &Args<'_>) -> Result<Value, HostError> {
    args.at_least(1)?;
    let name = args.bytes(0)?;
    let rest = args.rest(1)?;
    let command: Vec<Vec<u8>> = std::iter::once(name.into_owned())
        .chain(rest.into_iter().map(Cow::into_owned))
        .collect();
    run(store, command).map(reply_value)
}

fn session_key(id: &[u8]) -> Vec<u8> {
    [SESSION_PREFIX, id].concat()
}

/// The session save handler's hooks (see php_sys::host).
fn session_hook(store: &Store, hook: &str, args: &Args<'_>) -> Result<Value, HostError> {
    let key = session_key(&args.bytes(0)?);
    match hook {
        "read" => Ok(store
            .get(DB, &key)
            .map_err(store_error)?
            .map_or(Value::Null, Value::Str)),
        "write" => {
            let data = args.bytes(1)?;
            let ttl = ttl_seconds(args.int_or(2, 0)?);
            store.set(DB, &key, &data, ttl).map_err(store_error)?;
            Ok(Value::Bool(true))
        }
        "touch" => {
            let ttl = ttl_seconds(args.int_or(2, 0)?);
            let refreshed = match ttl {
                Some(ttl) => store.expire(DB, &key, ttl).map_err(store_error)?,
                None => false,
            };
            if !refreshed {
                let data = args.bytes(1)?;
                store.set(DB, &key, &data, ttl).map_err(store_error)?;
            }
            Ok(Value::Bool(true))
        }
        "destroy" => {
            store.del(DB, &[&key]).map_err(store_error)?;
            Ok(Value::Bool(true))
        }
        "exists" => store.exists(DB, &key).map(Value::Bool).map_err(store_error),
        other => Err(HostError::Runtime(format!("unknown session hook {other}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(handler: &KvFunctions, name: &str, args: &[Arg<'_>]) -> Result<Value, HostError> {
        handler.call(name, args)
    }

    fn handler() -> KvFunctions {
        KvFunctions {
            store: Arc::new(Store::new(kv::StoreConfig::default())),
        }
    }

    #[test]
    fn strings_round_trip_with_phpredis_conventions() {
        let h = handler();
        assert_eq!(
            call(&h, "ephpm_kv_get", &[Arg::Str(b"k")]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            call(&h, "ephpm_kv_set", &[Arg::Str(b"k"), Arg::Int(42)]),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            call(&h, "ephpm_kv_get", &[Arg::Str(b"k")]),
            Ok(Value::Str(b"42".to_vec()))
        );
        assert_eq!(
            call(&h, "ephpm_kv_incr", &[Arg::Str(b"k"), Arg::Int(8)]),
            Ok(Value::Int(50))
        );
        assert_eq!(
            call(&h, "ephpm_kv_add", &[Arg::Str(b"k"), Arg::Str(b"x")]),
            Ok(Value::Bool(false))
        );
        assert_eq!(
            call(&h, "ephpm_kv_ttl", &[Arg::Str(b"k")]),
            Ok(Value::Int(-1))
        );
        assert_eq!(
            call(&h, "ephpm_kv_ttl", &[Arg::Str(b"nope")]),
            Ok(Value::Int(-2))
        );
    }

    #[test]
    fn errors_carry_redis_messages_and_argument_counts() {
        let h = handler();
        call(&h, "ephpm_kv_lpush", &[Arg::Str(b"l"), Arg::Str(b"a")]).unwrap();
        assert_eq!(
            call(&h, "ephpm_kv_get", &[Arg::Str(b"l")]),
            Err(HostError::Runtime(KvError::WrongType.to_string()))
        );
        assert!(matches!(
            call(&h, "ephpm_kv_get", &[]),
            Err(HostError::ArgumentCount(_))
        ));
        assert!(matches!(
            call(&h, "ephpm_kv_incr", &[Arg::Str(b"n"), Arg::Str(b"x")]),
            Err(HostError::Type(_))
        ));
    }

    #[test]
    fn command_runs_any_redis_command() {
        let h = handler();
        let zadd = [
            Arg::Str(b"ZADD"),
            Arg::Str(b"z"),
            Arg::Int(2),
            Arg::Str(b"b"),
        ];
        assert_eq!(call(&h, "ephpm_kv_command", &zadd), Ok(Value::Int(1)));
        assert_eq!(
            call(
                &h,
                "ephpm_kv_command",
                &[Arg::Str(b"SET"), Arg::Str(b"s"), Arg::Str(b"v")]
            ),
            Ok(Value::Bool(true))
        );
        assert_eq!(
            call(
                &h,
                "ephpm_kv_command",
                &[Arg::Str(b"GET"), Arg::Str(b"missing")]
            ),
            Ok(Value::Null)
        );
        assert!(matches!(
            call(&h, "ephpm_kv_command", &[Arg::Str(b"NOPE")]),
            Err(HostError::Runtime(m)) if m.starts_with("ERR unknown command")
        ));
    }

    #[test]
    fn sessions_expire_with_their_lifetime() {
        let h = handler();
        let id = Arg::Str(b"abc");
        assert_eq!(call(&h, "session:exists", &[id]), Ok(Value::Bool(false)));
        call(&h, "session:write", &[id, Arg::Str(b"data"), Arg::Int(60)]).unwrap();
        assert_eq!(
            call(&h, "session:read", &[id, Arg::Int(60)]),
            Ok(Value::Str(b"data".to_vec()))
        );
        assert_eq!(
            call(&h, "ephpm_kv_ttl", &[Arg::Str(b"ephpm:session:abc")]),
            Ok(Value::Int(60))
        );
        call(&h, "session:destroy", &[id]).unwrap();
        assert_eq!(
            call(&h, "session:read", &[id, Arg::Int(60)]),
            Ok(Value::Null)
        );
    }
}
