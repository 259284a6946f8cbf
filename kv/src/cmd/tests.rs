//! Command-level tests through `Store::execute`, the way a connection drives the store.

use std::sync::Arc;
use std::thread;
use std::time::Duration;

use event_listener::Listener as _;

use crate::clock::ManualClock;
use crate::config::{EvictionPolicy, StoreConfig};
use crate::resp::{split_args, Reply};
use crate::session::{Outcome, Session};
use crate::store::Store;

struct Client {
    store: Arc<Store>,
    clock: Arc<ManualClock>,
    session: Session,
}

impl Client {
    fn new() -> Client {
        Client::with_config(StoreConfig::default())
    }

    fn with_config(config: StoreConfig) -> Client {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let store = Arc::new(Store::with_clock(config, clock.clone()));
        let session = store.new_session();
        Client {
            store,
            clock,
            session,
        }
    }

    /// Another connection to the same store.
    fn other(&self) -> Client {
        Client {
            store: self.store.clone(),
            clock: self.clock.clone(),
            session: self.store.new_session(),
        }
    }

    fn outcome(&mut self, line: &str) -> Outcome {
        let args = split_args(line.as_bytes()).expect("balanced test command");
        self.store.execute(&mut self.session, &args)
    }

    fn run(&mut self, line: &str) -> Reply {
        match self.outcome(line) {
            Outcome::Reply(r) | Outcome::Close(r) => r,
            Outcome::Replies(rs) => Reply::array(rs),
            Outcome::Block(_) => panic!("{line} blocked"),
            Outcome::Nothing => panic!("{line} answered nothing"),
            Outcome::Drop => panic!("{line} dropped the connection"),
        }
    }

    fn check(&mut self, line: &str, expected: Reply) {
        assert_eq!(self.run(line), expected, "{line}");
    }
}

fn ok() -> Reply {
    Reply::ok()
}

fn int(n: i64) -> Reply {
    Reply::Integer(n)
}

fn bulk(s: &str) -> Reply {
    Reply::bulk(s)
}

fn nil() -> Reply {
    Reply::nil()
}

fn err(s: &str) -> Reply {
    Reply::Error(s.into())
}

fn arr(items: &[&str]) -> Reply {
    Reply::bulks(items.iter().map(|s| s.as_bytes().to_vec()))
}

fn sorted(reply: Reply) -> Vec<Vec<u8>> {
    let Reply::Array(Some(items)) = reply else {
        panic!("not an array: {reply:?}");
    };
    let mut out: Vec<Vec<u8>> = items
        .into_iter()
        .map(|r| match r {
            Reply::Bulk(Some(b)) => b,
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    out.sort();
    out
}

fn strs(items: &[&str]) -> Vec<Vec<u8>> {
    items.iter().map(|s| s.as_bytes().to_vec()).collect()
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
const NOT_INT: &str = "ERR value is not an integer or out of range";

#[test]
fn unknown_commands_and_arity() {
    let mut c = Client::new();
    c.check(
        "foo a b",
        err("ERR unknown command 'foo', with args beginning with: 'a' 'b' "),
    );
    c.check(
        "foo",
        err("ERR unknown command 'foo', with args beginning with: "),
    );
    c.check(
        "GET",
        err("ERR wrong number of arguments for 'get' command"),
    );
    c.check(
        "get a b",
        err("ERR wrong number of arguments for 'get' command"),
    );
    c.check(
        "mset a",
        err("ERR wrong number of arguments for 'mset' command"),
    );
    c.check(
        "mset a 1 b",
        err("ERR wrong number of arguments for 'mset' command"),
    );
    assert!(matches!(
        c.store.execute(&mut c.session, &[]),
        Outcome::Nothing
    ));
}

#[test]
fn http_requests_close_the_connection_unanswered() {
    let mut c = Client::new();
    assert!(matches!(c.outcome("POST / HTTP/1.1"), Outcome::Drop));
    assert!(matches!(c.outcome("Host: 127.0.0.1"), Outcome::Drop));
    assert!(matches!(c.outcome("host: x"), Outcome::Drop));
}

#[test]
fn set_get_and_options() {
    let mut c = Client::new();
    c.check("SET k v", ok());
    c.check("GET k", bulk("v"));
    c.check("GET missing", nil());
    c.check("SET k v2 NX", nil());
    c.check("SET n v XX", nil());
    c.check("SET k v3 XX GET", bulk("v"));
    c.check("SET k v4 NX GET", bulk("v3"));
    c.check("GET k", bulk("v3"));
    c.check("SET k v EX 10", ok());
    c.check("TTL k", int(10));
    c.check("SET k v KEEPTTL", ok());
    c.check("TTL k", int(10));
    c.check("SET k v", ok());
    c.check("TTL k", int(-1));
    c.check("SET k v PX 1500", ok());
    c.check("PTTL k", int(1500));
    c.check("SET k v EXAT 1700000100", ok());
    c.check("TTL k", int(100));
    c.check("SET k v PXAT 1700000001000", ok());
    c.check("PTTL k", int(1000));
    c.check("SET k v NX XX", err("ERR syntax error"));
    c.check("SET k v EX 10 PX 10", err("ERR syntax error"));
    c.check("SET k v EX 10 KEEPTTL", err("ERR syntax error"));
    c.check("SET k v EX", err("ERR syntax error"));
    c.check("SET k v BOGUS", err("ERR syntax error"));
    c.check(
        "SET k v EX 0",
        err("ERR invalid expire time in 'set' command"),
    );
    c.check(
        "SET k v EX -5",
        err("ERR invalid expire time in 'set' command"),
    );
    c.check("SET k v EX abc", err(NOT_INT));
    c.check(
        "SET k v EX 9223372036854775807",
        err("ERR invalid expire time in 'set' command"),
    );
    c.check(
        "SETEX k 0 v",
        err("ERR invalid expire time in 'setex' command"),
    );
    c.check("SETEX k 5 v", ok());
    c.check("TTL k", int(5));
    c.check(
        "PSETEX k 0 v",
        err("ERR invalid expire time in 'psetex' command"),
    );
    c.check("PSETEX k 50 v", ok());
    c.check("PTTL k", int(50));
    c.check("SETNX k x", int(0));
    c.check("SETNX k2 x", int(1));
    c.check("GETSET k2 y", bulk("x"));
    c.check("GETSET fresh y", nil());
    c.check("LPUSH list a", int(1));
    c.check("GET list", err(WRONGTYPE));
    c.check("SET list v GET", err(WRONGTYPE));
    c.check("GETSET list v", err(WRONGTYPE));
    c.check("SET list v", ok());
    c.check("GET list", bulk("v"));
}

#[test]
fn multi_key_strings() {
    let mut c = Client::new();
    c.check("MSET a 1 b 2 c 3", ok());
    c.check("RPUSH l x", int(1));
    assert_eq!(
        c.run("MGET a b missing l c"),
        Reply::array(vec![bulk("1"), bulk("2"), nil(), nil(), bulk("3")])
    );
    c.check("MSETNX a 9 z 9", int(0));
    c.check("GET z", nil());
    c.check("MSETNX y 9 z 9", int(1));
    c.check("GET z", bulk("9"));
}

#[test]
fn counters() {
    let mut c = Client::new();
    c.check("INCR n", int(1));
    c.check("INCRBY n 10", int(11));
    c.check("DECR n", int(10));
    c.check("DECRBY n 3", int(7));
    c.check("INCRBY n abc", err(NOT_INT));
    c.check("SET big 9223372036854775807", ok());
    c.check("INCR big", err("ERR increment or decrement would overflow"));
    c.check(
        "DECRBY n -9223372036854775808",
        err("ERR decrement would overflow"),
    );
    c.check("SET s hello", ok());
    c.check("INCR s", err(NOT_INT));
    c.check("SET sp \" 1\"", ok());
    c.check("INCR sp", err(NOT_INT));
    c.check("SET t 5 EX 100", ok());
    c.check("INCR t", int(6));
    c.check("TTL t", int(100));
    c.check("SET f 10.50", ok());
    c.check("INCRBYFLOAT f 0.1", bulk("10.6"));
    c.check("INCRBYFLOAT f -5", bulk("5.6"));
    c.check("SET g 5.0e3", ok());
    c.check("INCRBYFLOAT g 2.0e2", bulk("5200"));
    c.check("INCRBYFLOAT g abc", err("ERR value is not a valid float"));
    c.check("INCRBYFLOAT s 1", err("ERR value is not a valid float"));
    c.check("INCRBYFLOAT nf 0.5", bulk("0.5"));
    c.check("SET h 1", ok());
    c.check(
        "INCRBYFLOAT h inf",
        err("ERR increment would produce NaN or Infinity"),
    );
    c.check("LPUSH l a", int(1));
    c.check("INCR l", err(WRONGTYPE));
}

#[test]
fn string_ranges() {
    let mut c = Client::new();
    c.check("APPEND k Hello", int(5));
    c.check("APPEND k \" World\"", int(11));
    c.check("STRLEN k", int(11));
    c.check("STRLEN missing", int(0));
    c.check("GETRANGE k 0 4", bulk("Hello"));
    c.check("GETRANGE k -5 -1", bulk("World"));
    c.check("GETRANGE missing 0 -1", bulk(""));
    c.check("SETRANGE k 6 Redis", int(11));
    c.check("GET k", bulk("Hello Redis"));
    c.check("SETRANGE pad 3 x", int(4));
    c.check("GET pad", Reply::bulk(b"\0\0\0x".to_vec()));
    c.check("SETRANGE k -1 x", err("ERR offset is out of range"));
    c.check("SETRANGE none 0 \"\"", int(0));
    c.check("EXISTS none", int(0));
    c.check("GETDEL k", bulk("Hello Redis"));
    c.check("GETDEL k", nil());
    c.check("SET e v", ok());
    c.check("GETEX e EX 100", bulk("v"));
    c.check("TTL e", int(100));
    c.check("GETEX e PERSIST", bulk("v"));
    c.check("TTL e", int(-1));
    c.check(
        "GETEX e EX 0",
        err("ERR invalid expire time in 'getex' command"),
    );
    c.check("GETEX e EX 10 PX 10", err("ERR syntax error"));
    c.check("GETEX missing EX 10", nil());
}

#[test]
fn keyspace_commands() {
    let mut c = Client::new();
    c.check("MSET a 1 b 2 c 3", ok());
    c.check("EXISTS a b a nope", int(3));
    c.check("DEL a nope", int(1));
    c.check("UNLINK b", int(1));
    c.check("TYPE c", Reply::Simple("string".into()));
    c.check("TYPE nope", Reply::Simple("none".into()));
    c.check("RPUSH l x", int(1));
    c.check("TYPE l", Reply::Simple("list".into()));
    c.check("EXPIRE c 100", int(1));
    c.check("EXPIRE nope 100", int(0));
    c.check("EXPIRE c 50 GT", int(0));
    c.check("EXPIRE c 200 GT", int(1));
    c.check("EXPIRE c 300 LT", int(0));
    c.check("EXPIRE c 10 LT", int(1));
    c.check("EXPIRE c 100 NX", int(0));
    c.check("EXPIRE l 100 XX", int(0));
    c.check("EXPIRE l 100 GT", int(0));
    c.check("EXPIRE l 100 NX", int(1));
    c.check(
        "EXPIRE l 100 NX XX",
        err("ERR NX and XX, GT or LT options at the same time are not compatible"),
    );
    c.check(
        "EXPIRE l 100 GT LT",
        err("ERR GT and LT options at the same time are not compatible"),
    );
    c.check("EXPIRE l 100 FOO", err("ERR Unsupported option FOO"));
    c.check("EXPIRE l abc", err(NOT_INT));
    c.check(
        "EXPIRE l 9223372036854775807",
        err("ERR invalid expire time in 'expire' command"),
    );
    c.check("TTL c", int(10));
    c.check("PEXPIRE c 2500", int(1));
    c.check("PTTL c", int(2500));
    c.check("TTL c", int(3));
    c.check("EXPIREAT c 1700000100", int(1));
    c.check("EXPIRETIME c", int(1_700_000_100));
    c.check("PEXPIREAT c 1700000050000", int(1));
    c.check("PEXPIRETIME c", int(1_700_000_050_000));
    c.check("PERSIST c", int(1));
    c.check("PERSIST c", int(0));
    c.check("TTL c", int(-1));
    c.check("TTL nope", int(-2));
    c.check("PTTL nope", int(-2));
    c.check("EXPIRE c -1", int(1));
    c.check("EXISTS c", int(0));
    c.check("SET x 1 EX 100", ok());
    c.check("RENAME x y", ok());
    c.check("GET y", bulk("1"));
    c.check("TTL y", int(100));
    c.check("RENAME x y", err("ERR no such key"));
    c.check("RENAME y y", ok());
    c.check("SET z 2", ok());
    c.check("RENAMENX y z", int(0));
    c.check("RENAMENX y w", int(1));
    c.check("DBSIZE", int(3));
    c.check("SELECT 1", ok());
    c.check("DBSIZE", int(0));
    c.check("SET only1 v", ok());
    c.check("SELECT 16", err("ERR DB index is out of range"));
    c.check("SELECT x", err(NOT_INT));
    c.check("SWAPDB 0 1", ok());
    c.check("DBSIZE", int(3));
    c.check("SWAPDB 0 99", err("ERR DB index is out of range"));
    c.check("SWAPDB x 1", err("ERR invalid first DB index"));
    c.check("FLUSHDB", ok());
    c.check("DBSIZE", int(0));
    c.check("SELECT 0", ok());
    c.check("GET only1", bulk("v"));
    c.check("FLUSHDB BOGUS", err("ERR syntax error"));
    c.check("FLUSHALL", ok());
    c.check("DBSIZE", int(0));
    c.check("RANDOMKEY", nil());
    c.check("SET r 1", ok());
    c.check("RANDOMKEY", bulk("r"));
}

#[test]
fn keys_and_scan() {
    let mut c = Client::new();
    for i in 0..200 {
        c.run(&format!("SET user:{i} v"));
    }
    c.run("SET other v");
    c.run("RPUSH alist x");
    let keys = sorted(c.run("KEYS user:1?"));
    assert_eq!(keys.len(), 10);
    assert_eq!(sorted(c.run("KEYS *")).len(), 202);
    assert_eq!(sorted(c.run("KEYS oth*")), strs(&["other"]));

    // A full SCAN returns every key exactly once, even with writes in between.
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    let mut rounds = 0;
    loop {
        let Reply::Array(Some(parts)) = c.run(&format!("SCAN {cursor} COUNT 7")) else {
            panic!("bad scan reply");
        };
        let Reply::Bulk(Some(next)) = &parts[0] else {
            panic!("bad cursor");
        };
        seen.extend(sorted(parts[1].clone()));
        c.run(&format!("SET new:{rounds} v"));
        rounds += 1;
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    let originals: Vec<_> = seen
        .iter()
        .filter(|k| !k.starts_with(b"new:"))
        .cloned()
        .collect();
    let mut unique = originals.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 202);
    assert_eq!(originals.len(), 202, "no duplicates");

    let Reply::Array(Some(parts)) = c.run("SCAN 0 COUNT 10000 MATCH user:19*") else {
        panic!();
    };
    assert_eq!(parts[0], bulk("0"));
    assert_eq!(sorted(parts[1].clone()).len(), 11);
    let Reply::Array(Some(parts)) = c.run("SCAN 0 COUNT 10000 TYPE list") else {
        panic!();
    };
    assert_eq!(sorted(parts[1].clone()), strs(&["alist"]));
    c.check("SCAN x", err("ERR invalid cursor"));
    c.check("SCAN 0 COUNT 0", err("ERR syntax error"));
    c.check("SCAN 0 MATCH", err("ERR syntax error"));
}

#[test]
fn lazy_expiry_and_sweeper() {
    let mut c = Client::new();
    c.check("SET a 1 PX 100", ok());
    c.check("SET b 1 PX 100", ok());
    c.check("SET keep 1", ok());
    c.clock.advance(100);
    c.check("GET a", bulk("1"));
    c.clock.advance(1);
    c.check("GET a", nil());
    c.check("TTL a", int(-2));
    let stats = c.store.stats();
    assert_eq!(stats.expired_keys, 1);
    assert_eq!(stats.dbs[0].keys, 2);
    assert_eq!(stats.dbs[0].expires, 1);
    assert_eq!(c.store.sweep_expired(1000), 1);
    assert_eq!(
        c.store.stats().dbs[0],
        crate::DbStats {
            keys: 1,
            expires: 0
        }
    );

    for i in 0..500 {
        c.run(&format!("SET t{i} v PX 10"));
    }
    c.clock.advance(11);
    let mut removed = 0;
    for _ in 0..100 {
        let n = c.store.sweep_expired(64);
        assert!(n <= 64);
        removed += n;
    }
    assert_eq!(removed, 500);
    c.check("DBSIZE", int(1));
    c.check("KEYS *", arr(&["keep"]));
}

#[test]
fn hashes() {
    let mut c = Client::new();
    c.check("HSET h f1 v1 f2 v2", int(2));
    c.check("HSET h f1 x", int(0));
    c.check(
        "HSET h f1",
        err("ERR wrong number of arguments for 'hset' command"),
    );
    c.check("HGET h f1", bulk("x"));
    c.check("HGET h nope", nil());
    c.check("HGET nope f", nil());
    c.check("HMSET h f3 v3", ok());
    assert_eq!(
        c.run("HMGET h f1 nope f3"),
        Reply::array(vec![bulk("x"), nil(), bulk("v3")])
    );
    c.check("HLEN h", int(3));
    c.check("HEXISTS h f2", int(1));
    c.check("HEXISTS h f9", int(0));
    c.check("HSTRLEN h f3", int(2));
    c.check("HSETNX h f1 y", int(0));
    c.check("HSETNX h f4 y", int(1));
    assert_eq!(sorted(c.run("HKEYS h")), strs(&["f1", "f2", "f3", "f4"]));
    assert_eq!(sorted(c.run("HVALS h")), strs(&["v2", "v3", "x", "y"]));
    assert_eq!(sorted(c.run("HGETALL h")).len(), 8);
    c.check("HINCRBY h n 5", int(5));
    c.check("HINCRBY h n -10", int(-5));
    c.check("HINCRBY h f1 1", err("ERR hash value is not an integer"));
    c.check("HINCRBY h n x", err(NOT_INT));
    c.check("HSET h max 9223372036854775807", int(1));
    c.check(
        "HINCRBY h max 1",
        err("ERR increment or decrement would overflow"),
    );
    c.check("HINCRBYFLOAT h fl 10.5", bulk("10.5"));
    c.check("HINCRBYFLOAT h fl 0.1", bulk("10.6"));
    c.check("HINCRBYFLOAT h f1 1", err("ERR hash value is not a float"));
    c.check("HDEL h f1 f2 nope", int(2));
    c.check("SET s v", ok());
    c.check("HGET s f", err(WRONGTYPE));
    c.check("HSET s f v", err(WRONGTYPE));
    c.check("HDEL h f3 f4 n max fl", int(5));
    c.check("EXISTS h", int(0));
    // HSCAN walks all fields.
    for i in 0..30 {
        c.run(&format!("HSET big f{i} v{i}"));
    }
    let mut cursor = "0".to_string();
    let mut fields = 0;
    loop {
        let Reply::Array(Some(parts)) = c.run(&format!("HSCAN big {cursor} COUNT 4")) else {
            panic!();
        };
        let Reply::Array(Some(items)) = &parts[1] else {
            panic!();
        };
        fields += items.len() / 2;
        let Reply::Bulk(Some(next)) = &parts[0] else {
            panic!();
        };
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(fields, 30);
    c.check(
        "HSCAN missing 0",
        Reply::array(vec![bulk("0"), Reply::array(vec![])]),
    );
}

#[test]
fn lists() {
    let mut c = Client::new();
    c.check("RPUSH l a b c", int(3));
    c.check("LPUSH l z", int(4));
    c.check("LRANGE l 0 -1", arr(&["z", "a", "b", "c"]));
    c.check("LRANGE l 1 2", arr(&["a", "b"]));
    c.check("LRANGE l 5 10", arr(&[]));
    c.check("LRANGE l x 1", err(NOT_INT));
    c.check("LLEN l", int(4));
    c.check("LINDEX l -1", bulk("c"));
    c.check("LINDEX l 10", nil());
    c.check("LPUSHX nope a", int(0));
    c.check("EXISTS nope", int(0));
    c.check("RPUSHX l d", int(5));
    c.check("LPOP l", bulk("z"));
    c.check("RPOP l", bulk("d"));
    c.check("LPOP l 2", arr(&["a", "b"]));
    c.check("LPOP l 0", arr(&[]));
    c.check("LPOP nope 2", Reply::Array(None));
    c.check("LPOP nope", nil());
    c.check(
        "LPOP l -1",
        err("ERR value is out of range, must be positive"),
    );
    c.check(
        "LPOP l 1 2",
        err("ERR wrong number of arguments for 'lpop' command"),
    );
    c.check("RPOP l 5", arr(&["c"]));
    c.check("EXISTS l", int(0));
    c.check("RPUSH l a b a c a", int(5));
    c.check("LREM l -2 a", int(2));
    c.check("LRANGE l 0 -1", arr(&["a", "b", "c"]));
    c.check("LSET l 1 B", ok());
    c.check("LSET l 9 B", err("ERR index out of range"));
    c.check("LSET nope 0 B", err("ERR no such key"));
    c.check("LINSERT l BEFORE B x", int(4));
    c.check("LINSERT l AFTER c y", int(5));
    c.check("LINSERT l AFTER nothere y", int(-1));
    c.check("LINSERT nope AFTER a y", int(0));
    c.check("LINSERT l SIDEWAYS a y", err("ERR syntax error"));
    c.check("LRANGE l 0 -1", arr(&["a", "x", "B", "c", "y"]));
    c.check("LTRIM l 1 -2", ok());
    c.check("LRANGE l 0 -1", arr(&["x", "B", "c"]));
    c.check("LTRIM l 5 10", ok());
    c.check("EXISTS l", int(0));
    c.check("RPUSH src 1 2 3", int(3));
    c.check("LMOVE src dst RIGHT LEFT", bulk("3"));
    c.check("LMOVE src dst LEFT RIGHT", bulk("1"));
    c.check("LRANGE dst 0 -1", arr(&["3", "1"]));
    c.check("LMOVE src src LEFT RIGHT", bulk("2"));
    c.check("LMOVE src dst UP LEFT", err("ERR syntax error"));
    c.check("RPOPLPUSH src dst", bulk("2"));
    c.check("RPOPLPUSH src dst", nil());
    c.check("SET str v", ok());
    c.check("LMOVE dst str LEFT LEFT", err(WRONGTYPE));
    c.check("LLEN dst", int(3));
    c.check("LPUSH str a", err(WRONGTYPE));
    c.check("LRANGE str 0 -1", err(WRONGTYPE));
}

#[test]
fn blocking_pop_blocks_then_wakes() {
    let mut c = Client::new();
    let mut pusher = c.other();
    c.check("RPUSH q a", int(1));
    assert_eq!(c.run("BLPOP q 0"), arr(&["q", "a"]));
    let args = split_args(b"BLPOP empty q 0.5").unwrap();
    let Outcome::Block(block) = c.store.execute(&mut c.session, &args) else {
        panic!("expected Block");
    };
    assert_eq!(block.timeout, Some(Duration::from_millis(500)));
    let waiter = thread::spawn(move || block.listener.wait_timeout(Duration::from_secs(5)));
    pusher.check("RPUSH q b", int(1));
    assert!(waiter.join().unwrap().is_some(), "push notified the waiter");
    assert_eq!(
        c.store.execute(&mut c.session, &args).into_reply(),
        arr(&["q", "b"])
    );
    // Nothing left: blocks again; a timeout answers a nil array.
    let Outcome::Block(block) = c.store.execute(&mut c.session, &args) else {
        panic!("expected Block");
    };
    assert!(block
        .listener
        .wait_timeout(Duration::from_millis(10))
        .is_none());
    assert_eq!(crate::Block::timeout_reply(), Reply::Array(None));
    c.check("BRPOP q -1", err("ERR timeout is negative"));
    c.check(
        "BRPOP q abc",
        err("ERR timeout is not a float or out of range"),
    );
    c.check("SET s v", ok());
    c.check("BLPOP s 0", err(WRONGTYPE));
    // Inside MULTI a blocking pop answers at once.
    c.check("MULTI", ok());
    c.check("BLPOP q 0", Reply::Simple("QUEUED".into()));
    c.check("EXEC", Reply::array(vec![Reply::Array(None)]));
}

impl Outcome {
    fn into_reply(self) -> Reply {
        match self {
            Outcome::Reply(r) => r,
            other => panic!("not a reply: {other:?}"),
        }
    }
}

#[test]
fn sets() {
    let mut c = Client::new();
    c.check("SADD s a b c a", int(3));
    c.check("SADD s d", int(1));
    c.check("SREM s d x", int(1));
    c.check("SCARD s", int(3));
    c.check("SISMEMBER s a", int(1));
    c.check("SISMEMBER s z", int(0));
    c.check("SMISMEMBER s a z", Reply::array(vec![int(1), int(0)]));
    c.check("SMISMEMBER nope a", Reply::array(vec![int(0)]));
    assert_eq!(sorted(c.run("SMEMBERS s")), strs(&["a", "b", "c"]));
    let Reply::Bulk(Some(m)) = c.run("SRANDMEMBER s") else {
        panic!();
    };
    assert!(matches!(m.as_slice(), b"a" | b"b" | b"c"));
    assert_eq!(sorted(c.run("SRANDMEMBER s 10")), strs(&["a", "b", "c"]));
    let two = sorted(c.run("SRANDMEMBER s 2"));
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    assert_eq!(sorted(c.run("SRANDMEMBER s -7")).len(), 7);
    c.check("SRANDMEMBER nope 3", arr(&[]));
    c.check("SRANDMEMBER nope", nil());
    c.check("SRANDMEMBER s x", err(NOT_INT));
    c.check("SADD t b c d", int(3));
    assert_eq!(
        sorted(c.run("SUNION s t nope")),
        strs(&["a", "b", "c", "d"])
    );
    assert_eq!(sorted(c.run("SINTER s t")), strs(&["b", "c"]));
    c.check("SINTER s nope", arr(&[]));
    assert_eq!(sorted(c.run("SDIFF s t")), strs(&["a"]));
    c.check("SDIFF nope s", arr(&[]));
    c.check("SINTERSTORE dst s t", int(2));
    assert_eq!(sorted(c.run("SMEMBERS dst")), strs(&["b", "c"]));
    c.check("SUNIONSTORE dst s t", int(4));
    c.check("SDIFFSTORE dst s t", int(1));
    c.check("SINTERSTORE dst s nope", int(0));
    c.check("EXISTS dst", int(0));
    c.check("SET str v", ok());
    c.check("SUNION s str", err(WRONGTYPE));
    c.check("SINTER nope str", err(WRONGTYPE));
    c.check("SADD str a", err(WRONGTYPE));
    c.check("SMOVE s t a", int(1));
    c.check("SMOVE s t a", int(0));
    c.check("SMOVE s str b", err(WRONGTYPE));
    c.check("SISMEMBER t a", int(1));
    c.check_shape("SPOP t 2", ShapeOf(2));
    c.check("SCARD t", int(2));
    c.check("SPOP t 0", arr(&[]));
    c.check(
        "SPOP t -1",
        err("ERR value is out of range, must be positive"),
    );
    c.check("SPOP nope", nil());
    c.check("SPOP nope 3", arr(&[]));
    assert!(matches!(c.run("SPOP t"), Reply::Bulk(Some(_))));
    assert_eq!(sorted(c.run("SPOP t 5")).len(), 1);
    c.check("EXISTS t", int(0));
    for i in 0..25 {
        c.run(&format!("SADD big m{i}"));
    }
    let Reply::Array(Some(parts)) = c.run("SSCAN big 0 COUNT 100") else {
        panic!();
    };
    assert_eq!(parts[0], bulk("0"));
    assert_eq!(sorted(parts[1].clone()).len(), 25);
    let Reply::Array(Some(parts)) = c.run("SSCAN big 0 COUNT 100 MATCH m1*") else {
        panic!();
    };
    assert_eq!(sorted(parts[1].clone()).len(), 11);
}

/// Matches any array of `n` bulk strings (for random results).
struct ShapeOf(usize);

impl PartialEq<ShapeOf> for Reply {
    fn eq(&self, shape: &ShapeOf) -> bool {
        matches!(self, Reply::Array(Some(items)) if items.len() == shape.0
            && items.iter().all(|i| matches!(i, Reply::Bulk(Some(_)))))
    }
}

impl std::fmt::Debug for ShapeOf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<array of {} bulks>", self.0)
    }
}

impl Client {
    fn check_shape(&mut self, line: &str, shape: ShapeOf) {
        let reply = self.run(line);
        assert!(reply == shape, "{line}: {reply:?} is not {shape:?}");
    }
}

#[test]
fn sorted_sets() {
    let mut c = Client::new();
    c.check("ZADD z 1 a 2 b 3 c", int(3));
    c.check("ZADD z 1.5 a 4 d", int(1));
    c.check("ZADD z CH 1 a 4 d 5 e", int(2));
    c.check("ZADD z NX 100 a", int(0));
    c.check("ZSCORE z a", bulk("1"));
    c.check("ZADD z XX 100 new", int(0));
    c.check("ZSCORE z new", nil());
    c.check("ZADD z GT CH 0 a", int(0));
    c.check("ZADD z GT CH 1.5 a", int(1));
    c.check("ZADD z LT CH 9 a", int(0));
    c.check("ZADD z INCR 1 a", bulk("2.5"));
    c.check("ZADD z INCR NX 1 a", nil());
    c.check(
        "ZADD z NX XX 1 a",
        err("ERR XX and NX options at the same time are not compatible"),
    );
    c.check(
        "ZADD z GT LT 1 a",
        err("ERR GT, LT, and/or NX options at the same time are not compatible"),
    );
    c.check(
        "ZADD z INCR 1 a 2 b",
        err("ERR INCR option supports a single increment-element pair"),
    );
    c.check("ZADD z 1 a 2", err("ERR syntax error"));
    c.check("ZADD z abc a", err("ERR value is not a valid float"));
    c.check("ZADD z nan a", err("ERR value is not a valid float"));
    c.check("ZADD inf +inf x -inf y", int(2));
    c.check("ZSCORE inf x", bulk("inf"));
    c.check("ZSCORE inf y", bulk("-inf"));
    c.check(
        "ZINCRBY inf -inf x",
        err("ERR resulting score is not a number (NaN)"),
    );
    c.check("ZINCRBY z 0.5 b", bulk("2.5"));
    c.check("ZINCRBY z x b", err("ERR value is not a valid float"));
    // z: b=2.5, a=2.5, c=3, d=4, e=5 -> order a, b (tie by member), c, d, e
    c.check("ZCARD z", int(5));
    c.check("ZRANGE z 0 -1", arr(&["a", "b", "c", "d", "e"]));
    c.check("ZRANGE z 0 1 WITHSCORES", arr(&["a", "2.5", "b", "2.5"]));
    c.check("ZRANGE z 0 1 REV", arr(&["e", "d"]));
    c.check("ZREVRANGE z 0 1 WITHSCORES", arr(&["e", "5", "d", "4"]));
    c.check("ZRANGE z (2.5 4 BYSCORE", arr(&["c", "d"]));
    c.check("ZRANGE z 4 (2.5 BYSCORE REV", arr(&["d", "c"]));
    c.check("ZRANGE z -inf +inf BYSCORE LIMIT 1 2", arr(&["b", "c"]));
    c.check("ZRANGE z -inf +inf BYSCORE LIMIT -1 2", arr(&[]));
    c.check(
        "ZRANGE z 0 1 LIMIT 0 1",
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ),
    );
    c.check("ZRANGE z 0 x", err(NOT_INT));
    c.check("ZRANGE z a 1 BYSCORE", err("ERR min or max is not a float"));
    c.check(
        "ZRANGEBYSCORE z 3 +inf WITHSCORES LIMIT 0 2",
        arr(&["c", "3", "d", "4"]),
    );
    c.check("ZRANGEBYSCORE z (3 (5", arr(&["d"]));
    c.check("ZREVRANGEBYSCORE z +inf (3", arr(&["e", "d"]));
    c.check("ZREVRANGEBYSCORE z 5 0 LIMIT 1 1", arr(&["d"]));
    c.check("ZRANGEBYSCORE z 0 1 BOGUS", err("ERR syntax error"));
    c.check("ZCOUNT z 2.5 (4", int(3));
    c.check("ZCOUNT z -inf +inf", int(5));
    c.check("ZCOUNT nope 0 1", int(0));
    c.check("ZRANK z c", int(2));
    c.check("ZREVRANK z c", int(2));
    c.check("ZREVRANK z e", int(0));
    c.check("ZRANK z nope", nil());
    c.check(
        "ZMSCORE z a nope e",
        Reply::array(vec![bulk("2.5"), nil(), bulk("5")]),
    );
    c.check("ZREM z a nope", int(1));
    c.check("ZPOPMIN z", arr(&["b", "2.5"]));
    c.check("ZPOPMAX z 2", arr(&["e", "5", "d", "4"]));
    c.check(
        "ZPOPMIN z -1",
        err("ERR value is out of range, must be positive"),
    );
    c.check("ZPOPMIN nope", arr(&[]));
    c.check("ZADD r 1 a 2 b 3 c 4 d", int(4));
    c.check("ZREMRANGEBYSCORE r (1 2", int(1));
    c.check("ZREMRANGEBYRANK r 0 0", int(1));
    c.check("ZRANGE r 0 -1", arr(&["c", "d"]));
    c.check("ZREMRANGEBYRANK r 0 -1", int(2));
    c.check("EXISTS r", int(0));
    c.check("SET s v", ok());
    c.check("ZADD s 1 a", err(WRONGTYPE));
    c.check("ZSCORE s a", err(WRONGTYPE));
    c.check("ZADD big 1 x 2 y", int(2));
    c.check(
        "ZSCAN big 0",
        Reply::array(vec![bulk("0"), arr(&["x", "1", "y", "2"])]),
    );
}

#[test]
fn transactions() {
    let mut c = Client::new();
    c.check("MULTI", ok());
    c.check("MULTI", err("ERR MULTI calls can not be nested"));
    c.check("SET a 1", Reply::Simple("QUEUED".into()));
    c.check("INCR a", Reply::Simple("QUEUED".into()));
    c.check("LPUSH a x", Reply::Simple("QUEUED".into()));
    c.check("GET a", Reply::Simple("QUEUED".into()));
    c.check(
        "EXEC",
        Reply::array(vec![ok(), int(2), err(WRONGTYPE), bulk("2")]),
    );
    c.check("EXEC", err("ERR EXEC without MULTI"));
    c.check("DISCARD", err("ERR DISCARD without MULTI"));

    // A refused command while queuing aborts the whole transaction.
    c.check("MULTI", ok());
    c.check("SET a 5", Reply::Simple("QUEUED".into()));
    c.check(
        "GET",
        err("ERR wrong number of arguments for 'get' command"),
    );
    c.check(
        "NOSUCH",
        err("ERR unknown command 'NOSUCH', with args beginning with: "),
    );
    c.check(
        "EXEC",
        err("EXECABORT Transaction discarded because of previous errors."),
    );
    c.check("GET a", bulk("2"));

    c.check("MULTI", ok());
    c.check("SET a 9", Reply::Simple("QUEUED".into()));
    c.check("DISCARD", ok());
    c.check("GET a", bulk("2"));

    // SELECT inside MULTI affects the following queued commands.
    c.check("MULTI", ok());
    c.check("SELECT 3", Reply::Simple("QUEUED".into()));
    c.check("SET in3 x", Reply::Simple("QUEUED".into()));
    c.check("EXEC", Reply::array(vec![ok(), ok()]));
    c.check("GET in3", bulk("x"));
    c.check("SELECT 0", ok());
}

#[test]
fn watch_aborts_on_change() {
    let mut c = Client::new();
    let mut other = c.other();
    c.check("SET w 1", ok());
    c.check("WATCH w", ok());
    other.check("SET w 2", ok());
    c.check("MULTI", ok());
    c.check("WATCH w", err("ERR WATCH inside MULTI is not allowed"));
    c.check("SET w 3", Reply::Simple("QUEUED".into()));
    c.check("EXEC", Reply::Array(None));
    c.check("GET w", bulk("2"));

    // Unchanged: EXEC runs.
    c.check("WATCH w", ok());
    c.check("MULTI", ok());
    c.check("SET w 3", Reply::Simple("QUEUED".into()));
    c.check("EXEC", Reply::array(vec![ok()]));

    // A watched key that did not exist and was created.
    c.check("WATCH fresh", ok());
    other.check("SET fresh 1", ok());
    c.check("MULTI", ok());
    c.check("EXEC", Reply::Array(None));

    // Deletion and expiry count as changes.
    c.check("SET e 1 PX 10", ok());
    c.check("WATCH e", ok());
    c.clock.advance(11);
    c.check("MULTI", ok());
    c.check("EXEC", Reply::Array(None));

    // UNWATCH forgets.
    c.check("WATCH w", ok());
    other.check("SET w 4", ok());
    c.check("UNWATCH", ok());
    c.check("MULTI", ok());
    c.check("GET w", Reply::Simple("QUEUED".into()));
    c.check("EXEC", Reply::array(vec![bulk("4")]));

    // FLUSHDB touches watched keys.
    c.check("WATCH w", ok());
    other.check("FLUSHDB", ok());
    c.check("MULTI", ok());
    c.check("EXEC", Reply::Array(None));

    // Watch slots are released.
    c.check("WATCH a b c", ok());
    c.store.close_session(&mut c.session);
    let leftovers: usize = c
        .store
        .lock_all()
        .iter()
        .map(|s| s.dbs.iter().map(|d| d.watched.len()).sum::<usize>())
        .sum();
    assert_eq!(leftovers, 0);
}

#[test]
fn pubsub() {
    let mut c = Client::new();
    let mut publisher = c.other();
    c.check(
        "SUBSCRIBE news",
        err("ERR pub/sub is not available on this connection"),
    );
    let (tx, rx) = async_channel::unbounded();
    c.session.set_pubsub_sink(tx);
    c.check(
        "SUBSCRIBE news sport",
        Reply::array(vec![
            Reply::array(vec![bulk("subscribe"), bulk("news"), int(1)]),
            Reply::array(vec![bulk("subscribe"), bulk("sport"), int(2)]),
        ]),
    );
    c.check(
        "PSUBSCRIBE n*",
        Reply::array(vec![Reply::array(vec![
            bulk("psubscribe"),
            bulk("n*"),
            int(3),
        ])]),
    );
    c.check(
        "GET x",
        err("ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"),
    );
    c.check("PING", arr(&["pong", ""]));
    publisher.check("PUBLISH news hello", int(2));
    publisher.check("PUBLISH sport goal", int(1));
    publisher.check("PUBLISH weather rain", int(0));
    assert_eq!(rx.try_recv(), Ok(arr(&["message", "news", "hello"])));
    assert_eq!(rx.try_recv(), Ok(arr(&["pmessage", "n*", "news", "hello"])));
    assert_eq!(rx.try_recv(), Ok(arr(&["message", "sport", "goal"])));
    publisher.check(
        "PUBSUB NUMSUB news nope",
        Reply::array(vec![bulk("news"), int(1), bulk("nope"), int(0)]),
    );
    publisher.check("PUBSUB NUMPAT", int(1));
    assert_eq!(
        sorted(publisher.run("PUBSUB CHANNELS")),
        strs(&["news", "sport"])
    );
    c.check(
        "UNSUBSCRIBE news",
        Reply::array(vec![Reply::array(vec![
            bulk("unsubscribe"),
            bulk("news"),
            int(2),
        ])]),
    );
    let Reply::Array(Some(replies)) = c.run("UNSUBSCRIBE") else {
        panic!();
    };
    assert_eq!(replies.len(), 1);
    c.check(
        "PUNSUBSCRIBE",
        Reply::array(vec![Reply::array(vec![
            bulk("punsubscribe"),
            bulk("n*"),
            int(0),
        ])]),
    );
    c.check(
        "UNSUBSCRIBE",
        Reply::array(vec![Reply::array(vec![bulk("unsubscribe"), nil(), int(0)])]),
    );
    c.check("PING", Reply::Simple("PONG".into()));
    c.check(
        "SUBSCRIBE again",
        Reply::array(vec![Reply::array(vec![
            bulk("subscribe"),
            bulk("again"),
            int(1),
        ])]),
    );
    c.store.close_session(&mut c.session);
    publisher.check("PUBLISH again x", int(0));
}

#[test]
fn authentication() {
    let mut c = Client::with_config(StoreConfig {
        requirepass: Some("secret".into()),
        ..StoreConfig::default()
    });
    c.check("GET a", err("NOAUTH Authentication required."));
    c.check(
        "AUTH wrong",
        err("WRONGPASS invalid username-password pair or user is disabled."),
    );
    c.check(
        "AUTH bob secret",
        err("WRONGPASS invalid username-password pair or user is disabled."),
    );
    c.check("AUTH a b c", err("ERR syntax error"));
    c.check("AUTH secret", ok());
    c.check("GET a", nil());
    let mut d = c.other();
    c.check("QUIT", ok());
    assert!(matches!(d.outcome("QUIT"), Outcome::Close(_)));
    d.check("AUTH default secret", ok());
    let mut open = Client::new();
    open.check(
        "AUTH x",
        err("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"),
    );
}

#[test]
fn server_commands() {
    let mut c = Client::new();
    c.check("PING", Reply::Simple("PONG".into()));
    c.check("PING hi", bulk("hi"));
    c.check(
        "PING a b",
        err("ERR wrong number of arguments for 'ping' command"),
    );
    c.check("ECHO hey", bulk("hey"));
    c.check("SET k v EX 100", ok());
    let Reply::Bulk(Some(info)) = c.run("INFO") else {
        panic!();
    };
    let info = String::from_utf8(info).unwrap();
    assert!(info.contains("redis_version:7.0.15\r\n"));
    assert!(info.contains("db0:keys=1,expires=1,avg_ttl=0\r\n"));
    assert!(info.contains("# Memory\r\nused_memory:"));
    assert!(info.contains("connected_clients:1\r\n"));
    let Reply::Bulk(Some(info)) = c.run("INFO keyspace") else {
        panic!();
    };
    assert!(!String::from_utf8(info).unwrap().contains("# Server"));
    c.check("CLIENT ID", int(c.session.id() as i64));
    c.check("CLIENT GETNAME", nil());
    c.check("CLIENT SETNAME worker-1", ok());
    c.check("CLIENT GETNAME", bulk("worker-1"));
    c.check(
        "CLIENT SETNAME \"a b\"",
        err("ERR Client names cannot contain spaces, newlines or special characters."),
    );
    c.check(
        "CLIENT SETNAME",
        err("ERR wrong number of arguments for 'client|setname' command"),
    );
    c.check(
        "CLIENT NOPE",
        err("ERR unknown subcommand 'NOPE'. Try CLIENT HELP."),
    );
    let Reply::Bulk(Some(list)) = c.run("CLIENT LIST") else {
        panic!();
    };
    assert!(String::from_utf8(list).unwrap().contains("name=worker-1"));
    c.check("CONFIG GET maxmemory", arr(&["maxmemory", "0"]));
    c.check("CONFIG SET maxmemory 10mb", ok());
    c.check("CONFIG GET maxmemory", arr(&["maxmemory", "10485760"]));
    c.check("CONFIG SET maxmemory-policy allkeys-lru", ok());
    c.check(
        "CONFIG GET maxmemory-p*",
        arr(&["maxmemory-policy", "allkeys-lru"]),
    );
    c.check(
        "CONFIG SET maxmemory-policy bogus",
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, allkeys-lru, volatile-random, allkeys-random, volatile-ttl, noeviction"),
    );
    c.check(
        "CONFIG SET maxmemory lots",
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value"),
    );
    c.check(
        "CONFIG SET databases 4",
        err("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"),
    );
    c.check(
        "CONFIG SET nope 1",
        err("ERR Unknown option or number of arguments for CONFIG SET - 'nope'"),
    );
    c.check(
        "CONFIG GET databases save appendonly",
        arr(&["databases", "16", "save", "", "appendonly", "no"]),
    );
    c.check("CONFIG SET save \"\" appendonly no", ok());
    c.check(
        "CONFIG SET requirepass \"\"",
        err("ERR CONFIG SET failed (possibly related to argument 'requirepass') - can't set protected config"),
    );
    c.check("CONFIG GET requirepass", Reply::array(vec![]));
    let Reply::Integer(n) = c.run("COMMAND COUNT") else {
        panic!();
    };
    assert_eq!(n as usize, super::COMMANDS.len());
    c.check("COMMAND DOCS", Reply::array(vec![]));
    let Reply::Array(Some(info)) = c.run("COMMAND INFO get nope") else {
        panic!();
    };
    assert_eq!(info[1], nil());
    let Reply::Array(Some(t)) = c.run("TIME") else {
        panic!();
    };
    assert_eq!(t, vec![bulk("1700000000"), bulk("0")]);
}

fn filled(policy: EvictionPolicy) -> Client {
    let mut c = Client::with_config(StoreConfig {
        eviction: policy,
        ..StoreConfig::default()
    });
    for i in 0..100 {
        c.clock.advance(1);
        let ttl = if i % 2 == 0 {
            format!(" PX {}", 100_000 + i * 100)
        } else {
            String::new()
        };
        c.run(&format!("SET key:{i:03} {}{ttl}", "x".repeat(100)));
    }
    c
}

fn set_limit_to(c: &mut Client, fraction: f64) {
    let used = c.store.used_memory();
    c.store.set_maxmemory((used as f64 * fraction) as u64);
}

#[test]
fn noeviction_refuses_writes() {
    let mut c = filled(EvictionPolicy::NoEviction);
    set_limit_to(&mut c, 0.5);
    c.check(
        "SET more v",
        err("OOM command not allowed when used memory > 'maxmemory'."),
    );
    c.check("GET key:000", Reply::bulk("x".repeat(100)));
    c.check("DEL key:000", int(1));
    assert_eq!(c.store.stats().evicted_keys, 0);
    c.check("MULTI", ok());
    c.check("SET more v", Reply::Simple("QUEUED".into()));
    c.check(
        "EXEC",
        err("OOM command not allowed when used memory > 'maxmemory'."),
    );
}

#[test]
fn allkeys_lru_evicts_the_least_recently_used() {
    let mut c = filled(EvictionPolicy::AllKeysLru);
    // Touch the first half so the second half is older.
    for i in 0..50 {
        c.clock.advance(1);
        c.run(&format!("GET key:{i:03}"));
    }
    set_limit_to(&mut c, 0.7);
    c.check("SET trigger v", ok());
    // Eviction runs before the write, so the new entry may overshoot by its own size.
    assert!(c.store.used_memory() as u64 <= c.store.maxmemory() + 200);
    let evicted = c.store.stats().evicted_keys;
    assert!(evicted >= 30, "evicted {evicted}");
    let survivors = (0..50)
        .filter(|i| c.run(&format!("EXISTS key:{i:03}")) == int(1))
        .count();
    // Sampling is approximate, but the recently used half must mostly survive.
    assert!(survivors >= 40, "only {survivors} recent keys survived");
}

#[test]
fn volatile_policies_only_evict_keys_with_ttl() {
    for policy in [
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
    ] {
        let mut c = filled(policy);
        set_limit_to(&mut c, 0.8);
        c.check("SET trigger v", ok());
        for i in (1..100).step_by(2) {
            assert_eq!(c.run(&format!("EXISTS key:{i:03}")), int(1), "{policy}");
        }
        assert!(c.store.stats().evicted_keys > 0);
        // Once only persistent keys remain, nothing can be evicted.
        set_limit_to(&mut c, 0.3);
        c.check(
            "SET again v",
            err("OOM command not allowed when used memory > 'maxmemory'."),
        );
    }
}

#[test]
fn volatile_ttl_evicts_nearest_expiry_first() {
    let mut c = filled(EvictionPolicy::VolatileTtl);
    set_limit_to(&mut c, 0.9);
    c.check("SET trigger v", ok());
    // Lower even keys expire soonest: they go first, the latest-expiring stay.
    assert_eq!(c.run("EXISTS key:000"), int(0));
    assert_eq!(c.run("EXISTS key:098"), int(1));
    assert_eq!(c.run("EXISTS key:099"), int(1));
}

#[test]
fn allkeys_random_evicts_until_under_limit() {
    let mut c = filled(EvictionPolicy::AllKeysRandom);
    set_limit_to(&mut c, 0.5);
    c.check("SET trigger v", ok());
    // Eviction runs before the write, so the new entry may overshoot by its own size.
    assert!(c.store.used_memory() as u64 <= c.store.maxmemory() + 200);
    let stats = c.store.stats();
    assert!(stats.evicted_keys >= 49);
}

#[test]
fn memory_returns_to_zero_after_flushall() {
    let mut c = Client::new();
    assert_eq!(c.store.used_memory(), 0);
    c.run("SET s value");
    c.run("HSET h a 1 b 2");
    c.run("RPUSH l a b c");
    c.run("SADD set a b c");
    c.run("ZADD z 1 a 2 b");
    c.run("SELECT 5");
    c.run("SET other v EX 100");
    let used = c.store.used_memory();
    assert!(used > 500, "{used}");
    c.run("APPEND s more");
    c.run("HDEL h a");
    c.run("LPOP l");
    assert!(c.store.used_memory() > 0);
    c.check("FLUSHALL", ok());
    assert_eq!(c.store.used_memory(), 0);
    assert_eq!(c.store.stats().used_memory, 0);
}

#[test]
fn memory_follows_deletes_exactly() {
    let mut c = Client::new();
    c.run("SET base v");
    let base = c.store.used_memory();
    c.run("RPUSH l a b c");
    c.run("ZADD z 1 a");
    c.run("SADD s x");
    c.run("HSET h f v");
    c.run("DEL l z s h");
    assert_eq!(c.store.used_memory(), base);
}

#[test]
fn concurrent_multi_key_commands_are_atomic() {
    let c = Client::new();
    let store = c.store.clone();
    store.execute(&mut store.new_session(), &split_args(b"SET x 0").unwrap());
    let mut handles = Vec::new();
    for t in 0..3 {
        let store = store.clone();
        handles.push(thread::spawn(move || {
            let mut s = store.new_session();
            for i in 0..2000 {
                let v = format!("{t}-{i}");
                let args = split_args(format!("MSET a {v} b {v} c {v} d {v}").as_bytes()).unwrap();
                store.execute(&mut s, &args);
                // x and y swap back and forth; exactly one exists at any time.
                let (from, to) = if i % 2 == 0 { ("x", "y") } else { ("y", "x") };
                store.execute(
                    &mut s,
                    &split_args(format!("RENAME {from} {to}").as_bytes()).unwrap(),
                );
            }
        }));
    }
    let reader = {
        let store = store.clone();
        thread::spawn(move || {
            let mut s = store.new_session();
            for _ in 0..3000 {
                let Outcome::Reply(Reply::Array(Some(values))) =
                    store.execute(&mut s, &split_args(b"MGET a b c d").unwrap())
                else {
                    panic!("MGET failed");
                };
                assert!(
                    values.windows(2).all(|w| w[0] == w[1]),
                    "torn MSET: {values:?}"
                );
                let Outcome::Reply(n) = store.execute(&mut s, &split_args(b"EXISTS x y").unwrap())
                else {
                    panic!();
                };
                assert_eq!(n, Reply::Integer(1), "torn RENAME");
            }
        })
    };
    for h in handles {
        h.join().unwrap();
    }
    reader.join().unwrap();
}

#[test]
fn atomic_batches_run_commands() {
    let c = Client::new();
    let mut session = Session::internal(0);
    let replies = c.store.atomic(|txn| {
        vec![
            txn.execute(&mut session, &split_args(b"SET a 1").unwrap()),
            txn.execute(&mut session, &split_args(b"INCR a").unwrap()),
            txn.execute(&mut session, &split_args(b"SUBSCRIBE x").unwrap()),
            txn.execute(&mut session, &split_args(b"BLPOP nothing 0").unwrap()),
        ]
    });
    assert_eq!(
        replies,
        vec![
            ok(),
            int(2),
            err("ERR This Redis command is not allowed from script"),
            Reply::Array(None)
        ]
    );
}

#[test]
fn store_is_shareable() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
    assert_send_sync::<Session>();
}

#[test]
fn pipelined_bytes_round_trip() {
    let mut c = Client::new();
    let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\nv1\r\nGET k\r\n\r\n*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET";
    let mut buf = &input[..];
    let mut out = Vec::new();
    while let Some((args, used)) = crate::parse_command(buf, c.store.limits()).unwrap() {
        buf = &buf[used..];
        match c.store.execute(&mut c.session, &args) {
            Outcome::Reply(r) => r.encode(&mut out),
            Outcome::Nothing => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(out, b"+OK\r\n$2\r\nv1\r\n+PONG\r\n".to_vec());
    assert_eq!(buf, b"*2\r\n$3\r\nGET");
}

mod compression;

#[test]
fn a_transaction_is_bounded_by_the_query_buffer_limit() {
    let mut c = Client::with_config(StoreConfig {
        limits: crate::Limits {
            max_query_buffer: 1000,
            ..crate::Limits::default()
        },
        ..StoreConfig::default()
    });
    let value = "v".repeat(600);
    c.check("MULTI", ok());
    c.check(&format!("SET a {value}"), Reply::Simple("QUEUED".into()));
    c.check(
        &format!("SET b {value}"),
        err("ERR MULTI queue over the client query buffer limit"),
    );
    let Reply::Error(message) = c.run("EXEC") else {
        panic!("EXEC ran a transaction over the limit");
    };
    assert!(message.starts_with("EXECABORT"), "{message}");
    c.check("EXISTS a", int(0));
}
