//! The built-in KV store end to end: PHP's `ephpm_kv_*` functions and the `ephpm` session save
//! handler, Redis clients (redis-cli, raw RESP) on every core, blocking pops, pub/sub, and
//! bad input.

mod common;

use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::{redis_cli, send_and_read, tcp_connect, Server, ServerOptions};

/// Sends `request` and reads until `expected` bytes arrived (or the connection closes).
fn exchange(stream: &mut TcpStream, request: &[u8], expected: usize) -> Vec<u8> {
    send_and_read(stream, request, |answer| answer.len() >= expected)
}

#[test]
fn php_functions_and_redis_clients_share_one_store() {
    let server = Server::start_default();
    let port = server.kv_port();
    assert_eq!(
        redis_cli(port, &["SET", "from:redis", "written by redis-cli"]),
        "OK"
    );

    let response = server.get("/kv/functions.php");
    assert_eq!(response.status, 200, "{}", response.text());
    let body = response.text();
    for expected in [
        r#""set":true"#,
        r#""get":"value""#,
        r#""missing":false"#,
        r#""ttl":100"#,
        r#""add_existing":false"#,
        r#""incr":5"#,
        r#""decr":4"#,
        r#""mget":["value",false,"4"]"#,
        r#""hset":1"#,
        r#""hgetall":{"f":"v"}"#,
        r#""rpush":3"#,
        r#""lpop":"a""#,
        r#""lrange":["b","c"]"#,
        r#""sadd":2"#,
        r#""sismember":true"#,
        r#""zadd":2"#,
        r#""zrange":{"one":1,"two":2}"#,
        r#""zscore":2"#,
        r#""command":"11""#,
        r#""wrongtype":"WRONGTYPE Operation against a key holding the wrong kind of value""#,
        r#""arity":"ArgumentCountError""#,
        r#""from_redis":"written by redis-cli""#,
    ] {
        assert!(body.contains(expected), "missing {expected} in {body}");
    }
    assert_eq!(redis_cli(port, &["GET", "from:php"]), "written by PHP");
    assert_eq!(redis_cli(port, &["TYPE", "php:z"]), "zset");
    assert_eq!(redis_cli(port, &["ZSCORE", "php:z", "one"]), "11");
}

#[test]
fn every_core_serves_the_same_data() {
    // With two cores, connections land on either core's SO_REUSEPORT listener.
    let server = Server::start(ServerOptions::default().cores(2));
    let port = server.kv_port();
    for n in 0..20 {
        redis_cli(port, &["SET", &format!("k{n}"), &n.to_string()]);
    }
    for n in 0..20 {
        assert_eq!(redis_cli(port, &["GET", &format!("k{n}")]), n.to_string());
    }
    assert_eq!(redis_cli(port, &["DBSIZE"]), "20");
    assert_eq!(redis_cli(port, &["INCRBY", "k3", "7"]), "10");
}

#[test]
fn sessions_live_in_the_store() {
    let server = Server::start_default();
    let jar = server.dir().join("cookies");
    let jar = jar.to_str().expect("utf-8 path");
    let first = server.curl("/kv/session.php", &["-c", jar, "-b", jar]);
    assert!(first.text().starts_with("visits=1\n"), "{}", first.text());
    let second = server.curl("/kv/session.php", &["-c", jar, "-b", jar]);
    assert!(second.text().starts_with("visits=2\n"), "{}", second.text());
    let id = second
        .text()
        .lines()
        .find_map(|l| l.strip_prefix("id=").map(str::to_owned))
        .expect("the session id");
    let key = format!("ephpm:session:{id}");
    assert!(redis_cli(server.kv_port(), &["GET", &key]).contains("visits|i:2;"));
    let ttl: i64 = redis_cli(server.kv_port(), &["TTL", &key])
        .parse()
        .expect("a TTL");
    assert!((1..=1440).contains(&ttl), "session TTL {ttl}");
    // An id the store does not know is not adopted (session.use_strict_mode).
    let forged = server.curl("/kv/session.php", &["-b", "PHPSESSID=forgedid123"]);
    assert!(forged.text().starts_with("visits=1\n"), "{}", forged.text());
    assert!(!forged.text().contains("forgedid123"), "{}", forged.text());
}

#[test]
fn pipelined_commands_answer_in_order() {
    let server = Server::start_default();
    let mut stream = tcp_connect(server.kv_port());
    let request = b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\n1\r\n*2\r\n$4\r\nINCR\r\n$1\r\na\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
    let expected = b"+OK\r\n:2\r\n+PONG\r\n$1\r\n2\r\n";
    assert_eq!(exchange(&mut stream, request, expected.len()), expected);
}

#[test]
fn blpop_waits_for_a_push_from_another_client() {
    let server = Server::start(ServerOptions::default().cores(2));
    let port = server.kv_port();
    let waiter = std::thread::spawn(move || {
        let started = Instant::now();
        let answer = redis_cli(port, &["BLPOP", "jobs", "5"]);
        (answer, started.elapsed())
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(redis_cli(port, &["RPUSH", "jobs", "job-1"]), "1");
    let (answer, waited) = waiter.join().expect("the BLPOP thread");
    assert_eq!(answer, "jobs\njob-1");
    assert!(
        waited >= Duration::from_millis(250),
        "BLPOP answered after {waited:?}"
    );
    // With nothing pushed it answers nil at its timeout.
    let started = Instant::now();
    let mut stream = tcp_connect(port);
    let timeout = exchange(
        &mut stream,
        b"*3\r\n$5\r\nBLPOP\r\n$5\r\nempty\r\n$3\r\n0.3\r\n",
        5,
    );
    assert_eq!(timeout, b"*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(250));
}

#[test]
fn publish_reaches_subscribers() {
    let server = Server::start(ServerOptions::default().cores(2));
    let port = server.kv_port();
    let mut subscriber = tcp_connect(port);
    let confirm = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n";
    assert_eq!(
        exchange(&mut subscriber, b"SUBSCRIBE news\r\n", confirm.len()),
        confirm
    );
    assert_eq!(redis_cli(port, &["PUBLISH", "news", "hello"]), "1");
    let message = b"*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n";
    assert_eq!(exchange(&mut subscriber, b"", message.len()), message);
    // While subscribed, other commands are refused as Redis refuses them.
    let refused = exchange(&mut subscriber, b"GET x\r\n", 10);
    assert!(
        refused.starts_with(b"-ERR Can't execute 'get'"),
        "{}",
        String::from_utf8_lossy(&refused)
    );
}

#[test]
fn bad_input_gets_redis_errors_and_the_server_survives() {
    let server = Server::start_default();
    let port = server.kv_port();
    assert_eq!(
        redis_cli(port, &["NOSUCH", "a"]),
        "ERR unknown command 'NOSUCH', with args beginning with: 'a'"
    );
    assert_eq!(
        redis_cli(port, &["GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    redis_cli(port, &["LPUSH", "list", "x"]);
    assert_eq!(
        redis_cli(port, &["GET", "list"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    // A huge declared bulk length is refused without allocating it, and the connection closes.
    let mut stream = tcp_connect(port);
    let answer = exchange(&mut stream, b"*1\r\n$99999999999\r\n", 64);
    assert_eq!(answer, b"-ERR Protocol error: invalid bulk length\r\n");
    let mut stream = tcp_connect(port);
    let answer = exchange(&mut stream, b"*2\r\n:1\r\n", 64);
    assert!(
        answer.starts_with(b"-ERR Protocol error: expected '$'"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert_eq!(redis_cli(port, &["PING"]), "PONG");
}

#[test]
fn a_password_is_required_when_configured() {
    let server = Server::start(ServerOptions::default().env("EPHPM_KV__PASSWORD", "sekret"));
    let port = server.kv_port();
    assert_eq!(
        redis_cli(port, &["GET", "a"]),
        "NOAUTH Authentication required."
    );
    assert_eq!(
        redis_cli(
            port,
            &["-a", "sekret", "--no-auth-warning", "SET", "a", "1"]
        ),
        "OK"
    );
    assert_eq!(
        redis_cli(port, &["AUTH", "wrong"]),
        "WRONGPASS invalid username-password pair or user is disabled."
    );
}

#[test]
fn maxmemory_with_noeviction_refuses_writes() {
    let server = Server::start(
        ServerOptions::default()
            .env("EPHPM_KV__MAXMEMORY", "64K")
            .env("EPHPM_KV__MAXMEMORY_POLICY", "noeviction"),
    );
    let port = server.kv_port();
    let value = "v".repeat(4096);
    let mut refused = false;
    for n in 0..64 {
        let answer = redis_cli(port, &["SET", &format!("big{n}"), &value]);
        if answer.starts_with("OOM") {
            refused = true;
            break;
        }
    }
    assert!(refused, "64 KiB of values never hit maxmemory");
    assert_eq!(redis_cli(port, &["GET", "big0"]).len(), 4096);
}

/// Laravel's queue push/pop scripts and its cache-lock release, run with EVAL and EVALSHA.
#[test]
fn laravel_lua_scripts_run_atomically() {
    let server = Server::start(ServerOptions::default().cores(2));
    let port = server.kv_port();
    let push = "redis.call('rpush', KEYS[1], ARGV[1]) redis.call('rpush', KEYS[2], 1)";
    let job = r#"{"uuid":"u1","job":"SendMail","attempts":0}"#;
    redis_cli(
        port,
        &[
            "EVAL",
            push,
            "2",
            "queues:default",
            "queues:default:notify",
            job,
        ],
    );
    assert_eq!(redis_cli(port, &["LLEN", "queues:default"]), "1");
    let pop = "local job = redis.call('lpop', KEYS[1]) local reserved = false \
        if(job ~= false) then reserved = cjson.decode(job) \
        reserved['attempts'] = reserved['attempts'] + 1 reserved = cjson.encode(reserved) \
        redis.call('zadd', KEYS[2], ARGV[1], reserved) redis.call('lpop', KEYS[3]) end \
        return {job, reserved}";
    let sha = redis_cli(port, &["SCRIPT", "LOAD", pop]);
    assert_eq!(sha.len(), 40, "{sha}");
    let popped = redis_cli(
        port,
        &[
            "EVALSHA",
            &sha,
            "3",
            "queues:default",
            "queues:default:reserved",
            "queues:default:notify",
            "1700000000",
        ],
    );
    let mut lines = popped.lines();
    assert_eq!(lines.next(), Some(job));
    let reserved = lines.next().expect("the reserved job");
    assert!(reserved.contains(r#""attempts":1"#), "{reserved}");
    assert_eq!(redis_cli(port, &["ZCARD", "queues:default:reserved"]), "1");
    assert_eq!(redis_cli(port, &["LLEN", "queues:default:notify"]), "0");

    let release = "if redis.call(\"get\",KEYS[1]) == ARGV[1] then return redis.call(\"del\",KEYS[1]) else return 0 end";
    redis_cli(port, &["SET", "lock:report", "owner-a", "EX", "10", "NX"]);
    assert_eq!(
        redis_cli(port, &["EVAL", release, "1", "lock:report", "owner-b"]),
        "0"
    );
    assert_eq!(
        redis_cli(port, &["EVAL", release, "1", "lock:report", "owner-a"]),
        "1"
    );
    assert_eq!(redis_cli(port, &["EXISTS", "lock:report"]), "0");
    assert_eq!(
        redis_cli(
            port,
            &["EVALSHA", "0000000000000000000000000000000000000000", "0"]
        ),
        "NOSCRIPT No matching script. Please use EVAL."
    );
}

fn persistent(data_dir: &std::path::Path, fsync: &str) -> ServerOptions {
    ServerOptions::default()
        .env("EPHPM_KV__PERSISTENCE", "true")
        .env("EPHPM_KV__APPENDFSYNC", fsync)
        .env("EPHPM_KV__DATA_DIR", data_dir.to_str().expect("utf-8 path"))
}

/// With appendfsync = always every acknowledged write survives kill -9, whether it came from
/// a Redis client or from PHP.
#[test]
fn acknowledged_writes_survive_kill_9_with_appendfsync_always() {
    let data = tempfile::tempdir().expect("a data directory");
    {
        let server = Server::start(persistent(data.path(), "always").cores(2));
        let port = server.kv_port();
        for n in 0..200 {
            redis_cli(port, &["SET", &format!("key:{n}"), &format!("value {n}")]);
        }
        redis_cli(port, &["RPUSH", "list", "a", "b", "c"]);
        redis_cli(port, &["HSET", "hash", "f", "v"]);
        redis_cli(port, &["ZADD", "zset", "1.5", "m"]);
        redis_cli(port, &["SET", "short", "lived", "PX", "100"]);
        redis_cli(port, &["SET", "long", "lived", "EX", "1000"]);
        redis_cli(port, &["DEL", "key:7"]);
        let script = "redis.call('set', KEYS[1], ARGV[1]) return 1";
        redis_cli(port, &["EVAL", script, "1", "scripted", "by lua"]);
        let response = server.get("/kv/functions.php");
        assert_eq!(response.status, 200, "{}", response.text());
        // Dropping the server kills it with SIGKILL: no shutdown snapshot.
    }
    std::thread::sleep(Duration::from_millis(150));
    let server = Server::start(persistent(data.path(), "always"));
    let port = server.kv_port();
    assert_eq!(redis_cli(port, &["GET", "key:199"]), "value 199");
    assert_eq!(redis_cli(port, &["EXISTS", "key:7"]), "0");
    assert_eq!(redis_cli(port, &["LRANGE", "list", "0", "-1"]), "a\nb\nc");
    assert_eq!(redis_cli(port, &["HGET", "hash", "f"]), "v");
    assert_eq!(redis_cli(port, &["ZSCORE", "zset", "m"]), "1.5");
    assert_eq!(
        redis_cli(port, &["EXISTS", "short"]),
        "0",
        "an expired key came back"
    );
    let ttl: i64 = redis_cli(port, &["TTL", "long"]).parse().expect("a TTL");
    assert!((990..=1000).contains(&ttl), "TTL {ttl} after the restart");
    assert_eq!(redis_cli(port, &["GET", "scripted"]), "by lua");
    assert_eq!(redis_cli(port, &["GET", "from:php"]), "written by PHP");
    assert_eq!(redis_cli(port, &["GET", "php:s"]), "value");
}

/// A clean shutdown writes a snapshot that the next start loads, with appendfsync = no too.
#[test]
fn a_clean_shutdown_keeps_the_data() {
    let data = tempfile::tempdir().expect("a data directory");
    {
        let mut server = Server::start(persistent(data.path(), "no"));
        redis_cli(server.kv_port(), &["SET", "kept", "yes"]);
        assert!(server.stop_with("TERM").success());
    }
    let server = Server::start(persistent(data.path(), "no"));
    assert_eq!(redis_cli(server.kv_port(), &["GET", "kept"]), "yes");
}

#[test]
fn keys_expire_lazily_and_through_the_sweeper() {
    let server = Server::start(ServerOptions::default().cores(2));
    let port = server.kv_port();
    for n in 0..100 {
        redis_cli(port, &["SET", &format!("swept:{n}"), "x", "PX", "100"]);
    }
    redis_cli(port, &["SET", "stays", "here"]);
    redis_cli(port, &["SET", "soon", "gone", "PX", "500"]);
    assert_eq!(redis_cli(port, &["GET", "soon"]), "gone");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(redis_cli(port, &["GET", "soon"]), "");
    // Nobody read the swept:* keys again: only the active sweeper can have removed them.
    assert_eq!(redis_cli(port, &["DBSIZE"]), "1");
    assert!(redis_cli(port, &["INFO", "stats"]).contains("expired_keys:101"));
}

#[test]
fn allkeys_lru_evicts_instead_of_refusing_writes() {
    let server = Server::start(
        ServerOptions::default()
            .env("EPHPM_KV__MAXMEMORY", "256K")
            .env("EPHPM_KV__MAXMEMORY_POLICY", "allkeys-lru"),
    );
    let port = server.kv_port();
    let value = "v".repeat(1024);
    for n in 0..1000 {
        assert_eq!(redis_cli(port, &["SET", &format!("k{n}"), &value]), "OK");
    }
    let keys: usize = redis_cli(port, &["DBSIZE"]).parse().expect("a count");
    assert!(
        (100..1000).contains(&keys),
        "{keys} keys left under 256 KiB"
    );
    assert_eq!(
        redis_cli(port, &["GET", "k999"]).len(),
        1024,
        "the newest key was evicted"
    );
    let info = redis_cli(port, &["INFO", "stats"]);
    assert!(!info.contains("evicted_keys:0\r"), "{info}");
}

#[test]
fn compressed_values_read_back_unchanged() {
    let server = Server::start(
        ServerOptions::default()
            .env("EPHPM_KV__COMPRESSION", "true")
            .env("EPHPM_KV__COMPRESSION_MIN_SIZE", "1K"),
    );
    let port = server.kv_port();
    let value = format!("{}end", "compressible ".repeat(1000));
    assert_eq!(redis_cli(port, &["SET", "big", &value]), "OK");
    assert!(
        redis_cli(port, &["GET", "big"]) == value,
        "GET changed the value"
    );
    assert_eq!(redis_cli(port, &["STRLEN", "big"]), value.len().to_string());
    assert_eq!(
        redis_cli(port, &["GETRANGE", "big", "0", "11"]),
        "compressible"
    );
    assert!(redis_cli(port, &["INFO", "memory"]).contains("compressed_strings:1"));
}
