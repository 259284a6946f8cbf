//! The built-in KV store driven by real PHP Redis clients running inside ePHPm: phpredis (the
//! C extension, built against our ZTS PHP by `scripts/build-php-extension.sh php-redis`) with
//! its session handler, Predis (Debian's `php-nrk-predis`, pure PHP), and `redis-benchmark`.
//!
//! The PHP scripts live in `tests/fixtures/docroot/kv/clients/` and print JSON; the expected
//! answers below are what the same scripts print against a real Redis 7.0 server.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::{ephpm_binary, fixture, redis_cli, run_with_timeout, Server, ServerOptions};

/// Builds (or finds, it is cached) redis.so for our PHP once per test binary and returns it.
fn phpredis() -> &'static Path {
    static SO: OnceLock<PathBuf> = OnceLock::new();
    SO.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-php-extension.sh");
        let output = Command::new("bash")
            .arg(&script)
            .arg("php-redis")
            .stdin(Stdio::null())
            .output()
            .expect("running scripts/build-php-extension.sh");
        assert!(
            output.status.success(),
            "scripts/build-php-extension.sh php-redis failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let so = PathBuf::from(stdout.lines().last().expect("the .so path").trim());
        assert!(
            so.ends_with("redis.so") && so.is_file(),
            "no redis.so at {so:?}"
        );
        so
    })
}

/// `ephpm php-cli SCRIPT ARGS...` in a scratch directory, with only the given `EPHPM_`
/// variables; returns its stdout (it must exit 0).
fn php_cli(script: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let scratch = tempfile::tempdir().expect("creating a scratch directory");
    let mut command = Command::new(ephpm_binary());
    command.arg("php-cli").arg(script).args(args);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("EPHPM_") {
            command.env_remove(key);
        }
    }
    command
        .envs(env.iter().copied())
        .current_dir(scratch.path());
    let output = run_with_timeout(&mut command, Duration::from_secs(60));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "ephpm php-cli {script:?} exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// GETs `path` (with `?port=` of the server's KV store) and returns the body of a 200.
fn get_json(server: &Server, path: &str, extra_args: &[&str]) -> String {
    let url = format!("{path}?port={}", server.kv_port());
    let response = server.curl(&url, extra_args);
    assert_eq!(
        response.status,
        200,
        "{}\n--- server log ---\n{}",
        response.text(),
        server.log()
    );
    response.text()
}

/// Pulls the string value of `"key":"..."` out of a JSON object (no escapes in our values).
fn json_string(json: &str, key: &str) -> String {
    let marker = format!("\"{key}\":\"");
    let start = json
        .find(&marker)
        .unwrap_or_else(|| panic!("no {key} in {json}"))
        + marker.len();
    let end = json[start..].find('"').expect("the closing quote") + start;
    json[start..end].to_string()
}

#[test]
fn phpredis_loads_in_php_cli_and_serve() {
    phpredis();
    let server = Server::start(ServerOptions::default().php_ini("extension", "redis"));
    let port = server.kv_port().to_string();
    let script = fixture("docroot/kv/clients/loaded.php");

    // php-cli reads [php.ini] from the environment (or ./ephpm.toml).
    let cli = php_cli(&script, &[&port], &[("EPHPM_PHP__INI__EXTENSION", "redis")]);
    assert_eq!(
        cli,
        "{\"sapi\":\"cli\",\"zts\":true,\"loaded\":true,\"class\":true,\"set\":true,\"get\":\"written by phpredis in cli\"}\n"
    );
    // Without extension=redis it is not there: the ini entry is what loads it.
    let without = php_cli(&script, &[&port], &[]);
    assert_eq!(
        without,
        "{\"sapi\":\"cli\",\"zts\":true,\"loaded\":false,\"class\":false}\n"
    );

    let served = get_json(&server, "/kv/clients/loaded.php", &[]);
    assert_eq!(
        served,
        "{\"sapi\":\"ephpm\",\"zts\":true,\"loaded\":true,\"class\":true,\"set\":true,\"get\":\"written by phpredis in ephpm\"}\n"
    );
    assert_eq!(
        redis_cli(server.kv_port(), &["GET", "loaded:cli"]),
        "written by phpredis in cli"
    );
    assert_eq!(
        redis_cli(server.kv_port(), &["GET", "loaded:ephpm"]),
        "written by phpredis in ephpm"
    );
}

/// What `kv/clients/phpredis.php` prints against Redis 7.0.15 with phpredis 5.3.7.
const PHPREDIS_EXPECTED: &str = concat!(
    r#"{"connect":true,"ping":true,"#,
    r#""set":true,"get":"hello","get_missing":false,"append":11,"strlen":11,"getrange":"hello","#,
    r#""setrange":11,"after_setrange":"hello WORLD","setnx_existing":false,"set_nx_new":true,"#,
    r#""set_xx_missing":false,"mset":true,"mget":["1",false,"2"],"getset":"1","exists":2,"#,
    r#""type_string":true,"del":1,"rename":true,"renamed":"2","#,
    r#""incr":1,"incrby":42,"decr":41,"decrby":31,"incrbyfloat":2.5,"incr_not_int":false,"#,
    r#""last_error":"ERR value is not an integer or out of range","#,
    r#""setex":true,"ttl":100,"pttl_in_range":true,"set_ex":true,"ttl_b":50,"expire":true,"#,
    r#""ttl_c":30,"persist":true,"ttl_persisted":-1,"ttl_missing":-2,"pexpire":false,"#,
    r#""pexpire_set":true,"expired":false,"exists_expired":0,"#,
    r#""hset":1,"hset_update":0,"hsetnx":false,"hmset":true,"hget":"Ada","hget_missing":false,"#,
    r#""hmget":{"name":"Ada","nope":false,"lang":"php"},"hincrby":6,"hincrbyfloat":1.5,"#,
    r#""hexists":true,"hlen":4,"hgetall":{"lang":"php","name":"Ada","score":"1.5","visits":"6"},"#,
    r#""hkeys":["lang","name","score","visits"],"hdel":1,"hlen_after":3,"hstrlen":3,"#,
    r#""rpush":3,"lpush":4,"lrange":["a","b","c","d"],"llen":4,"lindex":"d","lset":true,"#,
    r#""linsert":5,"lrem":1,"lpop":"a","rpop":"c","rpoplpush":"bc","ltrim":true,"#,
    r#""lrange_after":["B"],"lrange_other":["bc"],"lpop_empty":false,"type_list":true,"#,
    r#""sadd":3,"smembers":["x","y","z"],"sismember":true,"sismember_no":false,"scard":3,"#,
    r#""sinter":["y","z"],"sunion":["w","x","y","z"],"sdiff":["x"],"srem":1,"smove":true,"#,
    r#""scard_b":3,"type_set":true,"#,
    r#""zadd":3,"zadd_update":0,"zrange":["carol","bob","alice"],"#,
    r#""zrange_withscores":{"carol":15,"bob":20,"alice":25},"zrevrange":["alice","bob"],"#,
    r#""zrangebyscore":{"carol":15,"bob":20},"zscore":20,"zscore_missing":false,"zincrby":17.5,"#,
    r#""zrank":0,"zrevrank":2,"zcard":3,"zcount":2,"zrem":1,"#,
    r#""zrange_after":{"carol":17.5,"alice":25},"type_zset":true,"#,
    r#""scan_count":25,"hscan":{"name":"Ada","score":"1.5","visits":"6"},"dbsize":38,"#,
    r#""pipeline":[true,2,"2",1,2],"multi":[true,10,1,"10"],"discard":true,"discarded":0,"#,
    r#""watch_conflict":false,"watched_value":"changed","watch_clean":[true],"#,
    r#""watched_value_after":"mine","close":true}"#,
    "\n"
);

#[test]
fn phpredis_commands_pipelines_and_transactions() {
    phpredis();
    let server = Server::start(ServerOptions::default().php_ini("extension", "redis"));
    let body = get_json(&server, "/kv/clients/phpredis.php", &[]);
    assert_eq!(body, PHPREDIS_EXPECTED);
    // What phpredis wrote is there for any other client.
    let port = server.kv_port();
    assert_eq!(redis_cli(port, &["HGET", "h:user", "name"]), "Ada");
    assert_eq!(redis_cli(port, &["ZSCORE", "z:board", "carol"]), "17.5");
    assert_eq!(redis_cli(port, &["LRANGE", "p:l", "0", "-1"]), "x\ny");
}

#[test]
fn phpredis_session_handler_keeps_sessions_in_the_store() {
    phpredis();
    // The [php.ini] form of loading it, as an ephpm.toml would.
    let server = Server::start(ServerOptions::default().config_toml(
        "[php.ini]\nextension = \"redis\"\nsession.save_handler = \"redis\"\nsession.use_strict_mode = 1\n",
    ));
    let port = server.kv_port();
    let jar = server.dir().join("cookies");
    let jar = jar.to_str().expect("utf-8 path");
    let cookies = ["-c", jar, "-b", jar];

    let first = get_json(&server, "/kv/clients/session.php", &cookies);
    let id = json_string(&first, "id");
    assert!(id.len() >= 22, "session id {id:?}");
    assert_eq!(
        first,
        format!("{{\"handler\":\"redis\",\"visits\":1,\"id\":\"{id}\"}}\n")
    );
    let second = get_json(&server, "/kv/clients/session.php", &cookies);
    assert_eq!(
        second,
        format!("{{\"handler\":\"redis\",\"visits\":2,\"id\":\"{id}\"}}\n")
    );

    let key = format!("PHPREDIS_SESSION:{id}");
    assert_eq!(redis_cli(port, &["GET", &key]), "visits|i:2;");
    let ttl: i64 = redis_cli(port, &["TTL", &key]).parse().expect("a TTL");
    assert!((1..=1440).contains(&ttl), "session TTL {ttl}");

    // An id the store does not know is not adopted (use_strict_mode asks the handler).
    let forged = get_json(
        &server,
        "/kv/clients/session.php",
        &["-b", "PHPSESSID=forgedid1234567890abcdef"],
    );
    assert!(forged.contains("\"visits\":1,"), "{forged}");
    assert!(!forged.contains("forgedid"), "{forged}");

    // session_destroy() deletes the key.
    let url = format!("/kv/clients/session.php?port={port}&destroy=1");
    let destroyed = server.curl(&url, &cookies).text();
    assert_eq!(
        destroyed,
        format!("{{\"destroyed\":true,\"id\":\"{id}\"}}\n")
    );
    assert_eq!(redis_cli(port, &["EXISTS", &key]), "0");
}

/// What `kv/clients/predis.php` prints against Redis 7.0.15 with Predis 1.1.10.
const PREDIS_EXPECTED: &str = concat!(
    r#"{"ping":"status:PONG","#,
    r#""set":"status:OK","get":"hello","get_missing":null,"append":11,"strlen":11,"#,
    r#""set_nx_existing":null,"mset":"status:OK","mget":["1",null,"2"],"exists":1,"del":1,"#,
    r#""incr":1,"incrby":42,"decr":41,"incrbyfloat":"2.5","#,
    r#""incr_not_int":"ERR value is not an integer or out of range","#,
    r#""wrongtype":"WRONGTYPE WRONGTYPE Operation against a key holding the wrong kind of value","#,
    r#""setex":"status:OK","ttl":100,"set_px":"status:OK","pttl_in_range":true,"expire":1,"#,
    r#""ttl_b":30,"persist":1,"ttl_persisted":-1,"ttl_missing":-2,"expired":null,"#,
    r#""hset":1,"hmset":"status:OK","hget":"ada","hmget":["ada",null,"php"],"hincrby":6,"#,
    r#""hexists":0,"hgetall":{"lang":"php","name":"ada","visits":"6"},"hdel":1,"hlen":2,"#,
    r#""rpush":2,"lpush":3,"lrange":["a","b","c"],"llen":3,"lpop":"a","rpop":"c","#,
    r#""rpoplpush":"b","lmove_raw":"d","lrange_other":["b","d"],"lpop_empty":null,"#,
    r#""sadd":3,"smembers":["x","y","z"],"sismember":1,"scard":3,"srem":1,"sinter":["z"],"#,
    r#""zadd":3,"zrange":["alice","carol","bob"],"#,
    r#""zrange_withscores":{"alice":"10","carol":"15","bob":"20"},"#,
    r#""zrevrangebyscore":["bob","carol"],"zscore":"20","zincrby":"17.5","zrank":0,"zcard":3,"#,
    r#""zrem":1,"zpopmin_raw":["alice","10"],"zrange_after":{"carol":"17.5"},"#,
    r#""scan_count":25,"dbsize":36,"#,
    r#""pipeline":["status:OK",2,"2",1,2,["x","y"]],"#,
    r#""transaction":["status:OK",10,"10",1],"#,
    r#""cas_conflict":"aborted","watched_value":"changed","cas_clean":["status:OK"],"#,
    r#""watched_value_after":"changed+mine"}"#,
    "\n"
);

#[test]
fn predis_commands_pipeline_and_transaction() {
    assert!(
        Path::new("/usr/share/php/Predis/autoload.php").is_file(),
        "Predis is missing: apt-get install php-nrk-predis"
    );
    let server = Server::start_default();
    let body = get_json(&server, "/kv/clients/predis.php", &[]);
    assert_eq!(body, PREDIS_EXPECTED);
    assert_eq!(
        redis_cli(server.kv_port(), &["GET", "t:watched"]),
        "changed+mine"
    );
}

#[test]
fn redis_benchmark_completes() {
    let server = Server::start_default();
    let port = server.kv_port().to_string();
    let output = run_with_timeout(
        Command::new("redis-benchmark").args([
            "-q",
            "-n",
            "2000",
            "-c",
            "10",
            "-h",
            "127.0.0.1",
            "-p",
            &port,
            "-t",
            "get,set,incr,lpush,hset,zadd",
        ]),
        Duration::from_secs(180),
    );
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "redis-benchmark exited with {}\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    // -q prints "NAME: RATE requests per second, ..." per test (after \r-progress lines).
    for name in ["SET", "GET", "INCR", "LPUSH", "HSET", "ZADD"] {
        let rate = stdout
            .split(['\r', '\n'])
            .find_map(|line| benchmark_rate(line, name))
            .unwrap_or_else(|| panic!("no {name} rate in:\n{stdout}"));
        assert!(rate > 0.0, "{name}: {rate} requests per second");
    }
    // The benchmark's keys hold what it wrote (its default 3-byte payload is "VXK").
    let port = server.kv_port();
    assert_eq!(redis_cli(port, &["GET", "key:__rand_int__"]), "VXK");
    assert_eq!(redis_cli(port, &["GET", "counter:__rand_int__"]), "2000");
    assert_eq!(redis_cli(port, &["LLEN", "mylist"]), "2000");
    assert_eq!(redis_cli(port, &["ZCARD", "myzset"]), "1");
    assert_eq!(redis_cli(port, &["PING"]), "PONG");
}

/// The rate in a `redis-benchmark -q` result line "NAME: 12345.67 requests per second, ...".
fn benchmark_rate(line: &str, name: &str) -> Option<f64> {
    let rest = line.trim().strip_prefix(name)?.strip_prefix(": ")?;
    let (rate, unit) = rest.split_once(' ')?;
    if !unit.starts_with("requests per second") {
        return None;
    }
    rate.parse().ok()
}
