//! Persistence round trips: log replay, snapshots, damaged files, the log switch under
//! concurrent writers, and the typed API.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::clock::ManualClock;
use crate::resp::Reply;
use crate::session::{Outcome, Session};
use crate::value::Value;

const T0: u64 = 1_700_000_000_000;

fn config(dir: &Path, fsync: AppendFsync) -> PersistenceConfig {
    PersistenceConfig {
        appendfsync: fsync,
        snapshot_interval: None,
        ..PersistenceConfig::new(dir)
    }
}

fn open(dir: &Path, clock: &Arc<ManualClock>) -> Store {
    open_with(config(dir, AppendFsync::Always), clock)
}

fn open_with(cfg: PersistenceConfig, clock: &Arc<ManualClock>) -> Store {
    Store::open_with_clock(StoreConfig::default(), Some(cfg), clock.clone()).unwrap()
}

fn run(store: &Store, session: &mut Session, line: &str) -> Reply {
    let args: Vec<Vec<u8>> = line.split(' ').map(|a| a.as_bytes().to_vec()).collect();
    match store.execute(session, &args) {
        Outcome::Reply(reply) => reply,
        other => panic!("unexpected outcome {other:?} for {line}"),
    }
}

fn run_all(store: &Store, lines: &[&str]) {
    let mut session = store.new_session();
    for line in lines {
        let reply = run(store, &mut session, line);
        assert!(!matches!(reply, Reply::Error(_)), "{line}: {reply:?}");
    }
}

/// Every live key as (db, key, type and contents, expiry), sorted.
fn dump(store: &Store) -> Vec<(usize, Vec<u8>, String, Option<u64>)> {
    let now = store.now_ms();
    let mut out = Vec::new();
    for slot in &store.slots {
        let shard = slot.lock();
        for (db, d) in shard.dbs.iter().enumerate() {
            for (key, e) in d.dict.iter().filter(|(_, e)| !e.expired(now)) {
                out.push((db, key.to_vec(), describe(&e.value), e.expire_at));
            }
        }
    }
    out.sort();
    out
}

fn describe(value: &Value) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    match value {
        Value::Str(s) => format!("string {}", text(&s.to_vec().unwrap())),
        Value::Hash(h) => {
            let mut pairs: Vec<String> = h
                .iter()
                .map(|(f, v)| format!("{}={}", text(f), text(v)))
                .collect();
            pairs.sort();
            format!("hash {pairs:?}")
        }
        Value::List(l) => {
            let items: Vec<String> = (0..l.len())
                .filter_map(|i| l.get(i))
                .map(|x| text(x))
                .collect();
            format!("list {items:?}")
        }
        Value::Set(s) => {
            let mut members: Vec<String> = s.iter().map(|m| text(m)).collect();
            members.sort();
            format!("set {members:?}")
        }
        Value::ZSet(z) => {
            let members: Vec<String> = z
                .iter()
                .map(|(m, s)| format!("{}:{:x}", text(m), s.to_bits()))
                .collect();
            format!("zset {members:?}")
        }
    }
}

const EVERY_TYPE: &[&str] = &[
    "SET s hello",
    "SET ttl v EX 100",
    "SETEX sx 50 v",
    "PSETEX px 5000 v",
    "APPEND s !",
    "INCR n",
    "INCRBYFLOAT f 1.25",
    "HSET h a 1 b 2",
    "HINCRBYFLOAT h c 0.5",
    "RPUSH l a b c d",
    "LPOP l",
    "LPUSH l z",
    "SADD set x y z w",
    "SREM set w",
    "SPOP set",
    "ZADD z 1.5 a -2 b 1e300 c",
    "ZINCRBY z 1 a",
    "EXPIRE h 30",
    "PEXPIRE l 40000",
    "SELECT 3",
    "SET other db3",
    "RPUSH q 1 2",
    "BLPOP q 0",
    "RENAME other moved",
    "PERSIST moved",
];

#[test]
fn every_type_and_expiry_round_trips_through_log_replay() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    run_all(&store, EVERY_TYPE);
    let before = dump(&store);
    assert!(before.iter().any(|(db, k, _, _)| *db == 3 && k == b"moved"));
    drop(store);
    clock.advance(1000);
    let store = open(dir.path(), &clock);
    assert_eq!(dump(&store), before);
    // Relative TTLs were logged as absolute deadlines.
    clock.advance(99_001);
    assert_eq!(store.get(0, b"ttl").unwrap(), None);
    assert_eq!(store.get(0, b"s").unwrap(), Some(b"hello!".to_vec()));
}

#[test]
fn every_type_and_expiry_round_trips_through_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    run_all(&store, EVERY_TYPE);
    store.save().unwrap();
    let before = dump(&store);
    drop(store);
    let segments = load::segments(dir.path()).unwrap();
    assert_eq!(
        segments.len(),
        1,
        "old segments are removed after a snapshot"
    );
    assert_eq!(std::fs::metadata(&segments[0].1).unwrap().len(), 0);
    let store = open(dir.path(), &clock);
    assert_eq!(dump(&store), before);
    assert_eq!(
        store.ttl(0, b"ttl").unwrap(),
        crate::Ttl::Expires(Duration::from_secs(100))
    );
}

#[test]
fn snapshot_then_more_writes_replays_both() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    run_all(&store, &["RPUSH l a", "INCR n"]);
    store.save().unwrap();
    run_all(
        &store,
        &[
            "RPUSH l b",
            "INCR n",
            "MULTI",
            "INCR n",
            "RPUSH l c",
            "EXEC",
        ],
    );
    let before = dump(&store);
    drop(store);
    let store = open(dir.path(), &clock);
    assert_eq!(dump(&store), before);
    assert_eq!(store.get(0, b"n").unwrap(), Some(b"3".to_vec()));
}

#[test]
fn lazily_expired_keys_are_logged_as_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    run_all(&store, &["SET k v PX 100", "RPUSH l a", "PEXPIRE l 100"]);
    clock.advance(200);
    // k expired: APPEND creates a fresh key without TTL; l expired: RPUSH starts over.
    run_all(&store, &["APPEND k x", "RPUSH l b"]);
    drop(store);
    let store = open(dir.path(), &clock);
    assert_eq!(store.get(0, b"k").unwrap(), Some(b"x".to_vec()));
    assert_eq!(store.ttl(0, b"k").unwrap(), crate::Ttl::Persistent);
    assert_eq!(store.lrange(0, b"l", 0, -1).unwrap(), vec![b"b".to_vec()]);
}

#[test]
fn truncated_last_record_is_dropped_with_the_rest_kept() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    run_all(&store, &["SET a 1", "SET b 2"]);
    drop(store);
    let (_, path) = load::segments(dir.path()).unwrap().pop().unwrap();
    let good = std::fs::metadata(&path).unwrap().len();
    let mut data = std::fs::read(&path).unwrap();
    data.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\n3");
    std::fs::write(&path, &data).unwrap();
    let store = open(dir.path(), &clock);
    assert_eq!(store.get(0, b"a").unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.get(0, b"b").unwrap(), Some(b"2".to_vec()));
    assert_eq!(store.get(0, b"c").unwrap(), None);
    assert_eq!(
        std::fs::metadata(&path).unwrap().len(),
        good,
        "tail cut off"
    );
}

#[test]
fn unfinished_multi_at_the_end_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    run_all(&store, &["SET a 1"]);
    drop(store);
    let (_, path) = load::segments(dir.path()).unwrap().pop().unwrap();
    let mut data = std::fs::read(&path).unwrap();
    aof::encode_command(&mut data, &["MULTI"]);
    aof::encode_command(&mut data, &["SET", "a", "2"]);
    std::fs::write(&path, &data).unwrap();
    let store = open(dir.path(), &clock);
    assert_eq!(store.get(0, b"a").unwrap(), Some(b"1".to_vec()));
}

#[test]
fn corrupt_snapshot_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    run_all(&store, &["SET a 1", "HSET h f v"]);
    store.save().unwrap();
    drop(store);
    let path = dir.path().join(SNAPSHOT_FILE);
    let mut data = std::fs::read(&path).unwrap();
    let middle = data.len() / 2;
    data[middle] ^= 0x55;
    std::fs::write(&path, &data).unwrap();
    let cfg = config(dir.path(), AppendFsync::Always);
    let err = Store::open_with_clock(StoreConfig::default(), Some(cfg.clone()), clock.clone())
        .unwrap_err();
    assert!(matches!(err, PersistError::CorruptSnapshot { .. }), "{err}");
    assert!(err.to_string().contains("dump.ekv"), "{err}");
    std::fs::write(&path, b"definitely not a snapshot").unwrap();
    let err = Store::open_with_clock(StoreConfig::default(), Some(cfg), clock.clone()).unwrap_err();
    assert!(err.to_string().contains("bad magic"), "{err}");
}

#[test]
fn garbage_in_the_middle_of_the_log_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    drop(open(dir.path(), &clock));
    let (_, path) = load::segments(dir.path()).unwrap().pop().unwrap();
    std::fs::write(&path, b"*1\r\n$4\r\nPING\r\nnonsense\r\n").unwrap();
    let cfg = config(dir.path(), AppendFsync::Always);
    let err = Store::open_with_clock(StoreConfig::default(), Some(cfg), clock.clone()).unwrap_err();
    assert!(
        matches!(err, PersistError::CorruptLog { offset: 14, .. }),
        "{err}"
    );
}

#[test]
fn snapshots_during_concurrent_writes_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = Arc::new(open_with(config(dir.path(), AppendFsync::EverySec), &clock));
    const THREADS: usize = 4;
    const WRITES: usize = 300;
    let writers: Vec<_> = (0..THREADS)
        .map(|t| {
            let store = store.clone();
            std::thread::spawn(move || {
                let mut session = store.new_session();
                for i in 0..WRITES {
                    run(&store, &mut session, &format!("INCR n{t}"));
                    run(&store, &mut session, &format!("RPUSH l{t} {i}"));
                    store.incr_by(1, b"shared", 1).unwrap();
                    if i % 50 == 0 {
                        run(&store, &mut session, &format!("MSET a{t} {i} b{t} {i}"));
                    }
                }
            })
        })
        .collect();
    let mut saves = 0;
    while saves < 5 || !writers.iter().all(|w| w.is_finished()) {
        store.save().unwrap();
        store.persistence_tick().unwrap();
        saves += 1;
    }
    for w in writers {
        w.join().unwrap();
    }
    let before = dump(&store);
    drop(store);
    let store = open(dir.path(), &clock);
    assert_eq!(dump(&store), before);
    for t in 0..THREADS {
        let n = store.get(0, format!("n{t}").as_bytes()).unwrap();
        assert_eq!(n, Some(WRITES.to_string().into_bytes()));
        assert_eq!(
            store
                .lrange(0, format!("l{t}").as_bytes(), 0, -1)
                .unwrap()
                .len(),
            WRITES
        );
    }
    let shared = store.get(1, b"shared").unwrap();
    assert_eq!(shared, Some((THREADS * WRITES).to_string().into_bytes()));
}

#[test]
fn typed_api_writes_are_persisted() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    store
        .set(0, b"k", b"v", Some(Duration::from_secs(10)))
        .unwrap();
    store.set(2, b"plain", b"p", None).unwrap();
    store.incr_by(0, b"n", 7).unwrap();
    store.expire(0, b"n", Duration::from_secs(60)).unwrap();
    store.hset(0, b"h", b"f", b"1").unwrap();
    store.hset(0, b"h", b"g", b"2").unwrap();
    store.hdel(0, b"h", &[b"g"]).unwrap();
    store.rpush(0, b"l", &[b"a", b"b", b"c"]).unwrap();
    store.lpush(0, b"l", &[b"z"]).unwrap();
    store.lpop(0, b"l").unwrap();
    store.rpop(0, b"l").unwrap();
    store.sadd(0, b"s", &[b"x", b"y"]).unwrap();
    store.srem(0, b"s", &[b"y"]).unwrap();
    store
        .zadd(0, b"z", &[(0.1, b"a"), (f64::INFINITY, b"b"), (-3.5, b"c")])
        .unwrap();
    store.zrem(0, b"z", &[b"c"]).unwrap();
    store.set(0, b"gone", b"x", None).unwrap();
    store.del(0, &[b"gone"]).unwrap();
    let before = dump(&store);
    drop(store);
    clock.advance(5_000);
    let store = open(dir.path(), &clock);
    assert_eq!(dump(&store), before);
    assert_eq!(
        store.ttl(0, b"k").unwrap(),
        crate::Ttl::Expires(Duration::from_secs(5))
    );
    store.flush_all();
    drop(store);
    let store = open(dir.path(), &clock);
    assert!(dump(&store).is_empty());
}

#[test]
fn snapshot_only_mode_and_commands() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let cfg = PersistenceConfig {
        appendonly: false,
        snapshot_interval: Some(Duration::from_secs(60)),
        snapshot_min_changes: 2,
        ..PersistenceConfig::new(dir.path())
    };
    let store = open_with(cfg.clone(), &clock);
    let mut session = store.new_session();
    run_all(&store, &["SET a 1", "SET b 2"]);
    let info = run(&store, &mut session, "INFO persistence");
    let Reply::Bulk(Some(info)) = info else {
        panic!("{info:?}")
    };
    let info = String::from_utf8(info).unwrap();
    assert!(info.contains("aof_enabled:0"), "{info}");
    assert!(info.contains("rdb_changes_since_last_save:2"), "{info}");
    store.persistence_tick().unwrap();
    assert!(
        !dir.path().join(SNAPSHOT_FILE).exists(),
        "interval not reached"
    );
    clock.advance(60_000);
    store.persistence_tick().unwrap();
    assert!(dir.path().join(SNAPSHOT_FILE).exists());
    let lastsave = run(&store, &mut session, "LASTSAVE");
    assert_eq!(lastsave, Reply::Integer(((T0 + 60_000) / 1000) as i64));
    run_all(&store, &["SET c 3"]);
    let reply = run(&store, &mut session, "BGSAVE");
    assert_eq!(reply, Reply::Simple("Background saving scheduled".into()));
    store.persistence_tick().unwrap();
    assert_eq!(run(&store, &mut session, "SAVE"), Reply::ok());
    drop(store);
    let store = open_with(cfg, &clock);
    assert_eq!(store.get(0, b"c").unwrap(), Some(b"3".to_vec()));
}

#[test]
fn info_and_save_commands_with_a_log() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open(dir.path(), &clock);
    let mut session = store.new_session();
    let Reply::Bulk(Some(info)) = run(&store, &mut session, "INFO") else {
        panic!()
    };
    let info = String::from_utf8(info).unwrap();
    assert!(info.contains("# Persistence\r\n"), "{info}");
    assert!(info.contains("aof_enabled:1"), "{info}");
    assert!(info.contains("aof_fsync:always"), "{info}");
    assert_eq!(run(&store, &mut session, "MULTI"), Reply::ok());
    run(&store, &mut session, "SAVE");
    let Reply::Array(Some(replies)) = run(&store, &mut session, "EXEC") else {
        panic!()
    };
    assert!(matches!(&replies[0], Reply::Error(e) if e.contains("transaction")));
    let plain = Store::new(StoreConfig::default());
    let mut s = plain.new_session();
    assert!(matches!(
        run(&plain, &mut s, "BGREWRITEAOF"),
        Reply::Error(_)
    ));
}

fn compressing() -> StoreConfig {
    StoreConfig {
        compression: Some(crate::Compression::default()),
        ..StoreConfig::default()
    }
}

fn open_cfg(store: StoreConfig, dir: &Path, clock: &Arc<ManualClock>) -> Store {
    let cfg = config(dir, AppendFsync::Always);
    Store::open_with_clock(store, Some(cfg), clock.clone()).unwrap()
}

/// 8000 compressible bytes without spaces.
fn big() -> String {
    "abcdefgh".repeat(1000)
}

const BIG_WRITES: &[&str] = &["APPEND a !", "SETRANGE r 4 ZZ", "SET small v", "INCR n"];

fn write_big_values(store: &Store) {
    let v = big();
    run_all(store, &[&format!("SET s {v}"), &format!("SET a {v}")]);
    run_all(
        store,
        &[&format!("SET r {v}"), &format!("SET x {v} EX 100")],
    );
    run_all(store, BIG_WRITES);
    assert_eq!(store.stats().compressed_strings, 4);
}

#[test]
fn compressed_values_survive_log_replay_and_are_logged_raw() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open_cfg(compressing(), dir.path(), &clock);
    write_big_values(&store);
    let before = dump(&store);
    drop(store);
    let (_, segment) = &load::segments(dir.path()).unwrap()[0];
    let log = std::fs::read(segment).unwrap();
    let v = big().into_bytes();
    assert!(
        log.windows(v.len()).any(|w| w == v),
        "the log holds raw bytes"
    );
    let store = open_cfg(compressing(), dir.path(), &clock);
    assert_eq!(dump(&store), before);
    assert_eq!(store.stats().compressed_strings, 4);
    assert_eq!(
        store.get(0, b"a").unwrap(),
        Some(format!("{}!", big()).into_bytes())
    );
    drop(store);
    let store = open_cfg(StoreConfig::default(), dir.path(), &clock);
    assert_eq!(dump(&store), before);
    assert_eq!(store.stats().compressed_strings, 0);
}

#[test]
fn compressed_values_survive_a_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open_cfg(compressing(), dir.path(), &clock);
    write_big_values(&store);
    let used = store.used_memory();
    store.save().unwrap();
    let before = dump(&store);
    drop(store);
    let size = std::fs::metadata(dir.path().join(SNAPSHOT_FILE))
        .unwrap()
        .len();
    assert!(
        size < 8000,
        "strings are snapshotted compressed ({size} bytes)"
    );
    let store = open_cfg(compressing(), dir.path(), &clock);
    assert_eq!(dump(&store), before);
    assert_eq!(store.stats().compressed_strings, 4);
    assert_eq!(store.used_memory(), used);
    drop(store);
    let store = open_cfg(StoreConfig::default(), dir.path(), &clock);
    assert_eq!(dump(&store), before, "loads with compression off too");
    assert_eq!(store.stats().compressed_strings, 0);
    assert!(store.used_memory() > 4 * 8000);
}

#[test]
fn uncompressed_snapshot_loads_into_a_compressing_store() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0));
    let store = open_cfg(StoreConfig::default(), dir.path(), &clock);
    run_all(&store, &[&format!("SET s {}", big()), "SET small v"]);
    store.save().unwrap();
    let before = dump(&store);
    drop(store);
    let store = open_cfg(compressing(), dir.path(), &clock);
    assert_eq!(dump(&store), before);
    assert_eq!(store.stats().compressed_strings, 1);
}
