//! Transparent string compression seen through commands: clients always get the original
//! bytes, memory accounting counts the compressed size.

use super::*;
use crate::config::Compression;

fn compressing() -> Client {
    Client::with_config(StoreConfig {
        compression: Some(Compression::default()),
        ..StoreConfig::default()
    })
}

/// 8000 compressible bytes, no spaces (test lines are split on spaces).
fn big() -> String {
    "abcdefgh".repeat(1000)
}

fn compressed(c: &Client) -> usize {
    c.store.stats().compressed_strings
}

fn exec(c: &mut Client, args: &[&[u8]]) -> Reply {
    let args: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
    match c.store.execute(&mut c.session, &args) {
        Outcome::Reply(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn big_values_round_trip_through_read_commands() {
    let mut c = compressing();
    let v = big();
    c.check(&format!("SET k {v}"), ok());
    assert_eq!(compressed(&c), 1);
    c.check("GET k", bulk(&v));
    c.check("STRLEN k", int(8000));
    c.check("GETRANGE k 0 9", bulk("abcdefghab"));
    c.check("GETRANGE k -3 -1", bulk("fgh"));
    c.check("GETRANGE k 7990 100000", bulk("ghabcdefgh"));
    c.check("MGET k missing", Reply::array(vec![bulk(&v), nil()]));
    c.check("TYPE k", Reply::Simple("string".into()));
    c.check("EVAL \"return redis.call('get',KEYS[1])\" 1 k", bulk(&v));
    assert_eq!(c.store.get(0, b"k").unwrap(), Some(v.clone().into_bytes()));
    c.check("INCR k", err(NOT_INT));
    c.check("HSET k f v", err(WRONGTYPE));
}

#[test]
fn big_values_round_trip_through_write_commands() {
    let mut c = compressing();
    let v = big();
    c.run(&format!("SET k {v}"));
    c.check("APPEND k XYZ", int(8003));
    c.check("GET k", bulk(&format!("{v}XYZ")));
    c.check("SETRANGE k 8 ZZZZ", int(8003));
    c.check("GETRANGE k 0 15", bulk("abcdefghZZZZefgh"));
    c.check("SETRANGE k 9000 end", int(9003));
    c.check("GETRANGE k 8999 9002", Reply::bulk(b"\0end".to_vec()));
    assert_eq!(compressed(&c), 1);
    let before = c.store.get(0, b"k").unwrap();
    c.check(&format!("GETSET k {v}"), Reply::Bulk(before));
    c.check(&format!("SET k {v}x GET"), bulk(&v));
    c.check("RENAME k moved", ok());
    c.check("GETEX moved PX 100000", bulk(&format!("{v}x")));
    c.check("GETDEL moved", bulk(&format!("{v}x")));
    assert_eq!(compressed(&c), 0);
    assert_eq!(c.store.used_memory(), 0);
    c.check(&format!("MSET a {v} b {v}"), ok());
    assert_eq!(compressed(&c), 2);
    c.check("APPEND fresh small", int(5));
    c.check("INCRBY n 5", int(5));
    c.check("FLUSHALL", ok());
    assert_eq!((compressed(&c), c.store.used_memory()), (0, 0));
}

#[test]
fn appending_can_cross_the_threshold() {
    let mut c = compressing();
    let half = "q".repeat(600);
    c.run(&format!("SET k {half}"));
    assert_eq!(compressed(&c), 0, "below min_size stays raw");
    c.check(&format!("APPEND k {half}"), int(1200));
    assert_eq!(compressed(&c), 1);
    c.check("GET k", bulk(&half.repeat(2)));
}

#[test]
fn incompressible_and_small_values_stay_raw() {
    let mut c = compressing();
    let random = crate::rng::noise(8192);
    assert_eq!(exec(&mut c, &[b"SET", b"r", &random]), ok());
    assert_eq!(exec(&mut c, &[b"GET", b"r"]), Reply::bulk(random.clone()));
    c.run(&format!("SET small {}", "a".repeat(1000)));
    assert_eq!(compressed(&c), 0);
    assert!(c.store.used_memory() > 8192 + 1000);
}

#[test]
fn memory_accounting_counts_the_compressed_size() {
    let mut plain = Client::new();
    let mut packed = compressing();
    for i in 0..20 {
        plain.run(&format!("SET k{i} {}", big()));
        packed.run(&format!("SET k{i} {}", big()));
    }
    let (raw, small) = (plain.store.used_memory(), packed.store.used_memory());
    assert!(raw > 20 * 8000, "{raw}");
    assert!(small * 5 < raw, "compressed {small} vs raw {raw}");
    assert_eq!(compressed(&packed), 20);
}

#[test]
fn maxmemory_fits_more_with_compression() {
    let limited = |compression| StoreConfig {
        maxmemory: 100_000,
        compression,
        ..StoreConfig::default()
    };
    let mut plain = Client::with_config(limited(None));
    let mut packed = Client::with_config(limited(Some(Compression::default())));
    let oom = err("OOM command not allowed when used memory > 'maxmemory'.");
    let fill = |c: &mut Client| (0..30).all(|i| c.run(&format!("SET k{i} {}", big())) != oom);
    assert!(!fill(&mut plain), "30 x 8000 bytes do not fit raw");
    assert!(fill(&mut packed), "they fit compressed");
}

#[test]
fn compression_is_off_by_default_and_shown_in_info() {
    let mut c = Client::new();
    c.run(&format!("SET k {}", big()));
    assert_eq!(compressed(&c), 0);
    assert!(c.store.used_memory() > 8000);
    let Reply::Bulk(Some(info)) = c.run("INFO memory") else {
        panic!("INFO answers a bulk");
    };
    assert!(String::from_utf8_lossy(&info).contains("compressed_strings:0\r\n"));
    let mut c = compressing();
    c.run(&format!("SET k {}", big()));
    let Reply::Bulk(Some(info)) = c.run("INFO memory") else {
        panic!("INFO answers a bulk");
    };
    assert!(String::from_utf8_lossy(&info).contains("compressed_strings:1\r\n"));
}
