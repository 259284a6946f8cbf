//! Committed rows survive `kill -9`: a child process (this test binary, re-run in child mode)
//! commits rows in a loop and reports each commit on stdout; the parent kills it mid-way,
//! reopens the database and checks every reported row is there and the file is intact.

mod sqlite_support;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbwire::sqlite::{SqliteBackend, SqliteConfig};
use dbwire::{Backend, Session};

/// Set (to the data directory) when this binary runs as the writing child.
const CHILD_DIR: &str = "DBWIRE_DURABILITY_CHILD_DIR";

/// Commits the parent waits for before it kills the child.
const COMMITS_BEFORE_KILL: usize = 2000;

/// The child: commit rows forever (until killed), reporting `committed <id>` after each
/// commit returns. Every third batch is an explicit multi-row transaction.
#[test]
fn durability_child_writer() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let backend = SqliteBackend::new(SqliteConfig::new(PathBuf::from(dir))).unwrap();
    let mut session = backend.open_session("root", Some("durable")).unwrap();
    let payload = "x".repeat(2000);
    let mut next_id = 1u64;
    for batch in 0u64.. {
        let ids: Vec<u64> = if batch % 3 == 0 {
            (next_id..next_id + 5).collect()
        } else {
            vec![next_id]
        };
        next_id += ids.len() as u64;
        let transaction = ids.len() > 1;
        if transaction {
            assert!(session.query("BEGIN").pop().unwrap().is_ok());
        }
        for id in &ids {
            let sql = format!("INSERT INTO rows_written (id, payload) VALUES ({id}, '{payload}')");
            assert!(session.query(&sql).pop().unwrap().is_ok());
        }
        if transaction {
            assert!(session.query("COMMIT").pop().unwrap().is_ok());
        }
        for id in ids {
            println!("committed {id}");
        }
    }
}

#[test]
fn committed_rows_survive_kill_minus_nine() {
    if std::env::var(CHILD_DIR).is_ok() {
        return;
    }
    let fixture = sqlite_support::Fixture::new();
    let data_dir = fixture.dir.path().join("data");
    {
        let mut session = fixture.session("durable");
        sqlite_support::run(
            &mut session,
            "CREATE TABLE rows_written (id BIGINT PRIMARY KEY, payload TEXT NOT NULL)",
        );
    }
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "durability_child_writer",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR, &data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut committed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while committed.len() < COMMITS_BEFORE_KILL {
        assert!(Instant::now() < deadline, "the child wrote too slowly");
        let line = lines.next().expect("the child stopped early").unwrap();
        if let Some(id) = line.strip_prefix("committed ") {
            committed.push(id.parse::<u64>().unwrap());
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // Commits reported after the ones read above, up to the kill, count too.
    for line in lines {
        let Ok(line) = line else { break };
        if let Some(id) = line.strip_prefix("committed ") {
            committed.push(id.parse::<u64>().unwrap());
        }
    }

    let conn = rusqlite::Connection::open(data_dir.join("durable.sqlite")).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let mut present = conn
        .prepare("SELECT count(*) FROM rows_written WHERE id = ?1")
        .unwrap();
    for id in &committed {
        let count: i64 = present
            .query_row([i64::try_from(*id).unwrap()], |row| row.get(0))
            .unwrap();
        assert_eq!(count, 1, "row {id} was reported committed but is missing");
    }
    let total: i64 = conn
        .query_row("SELECT count(*) FROM rows_written", [], |row| row.get(0))
        .unwrap();
    assert!(total as usize >= committed.len());

    let backend = SqliteBackend::new(SqliteConfig::new(&data_dir)).unwrap();
    let mut session = backend.open_session("root", Some("durable")).unwrap();
    let next = committed.iter().max().unwrap() + 1_000_000;
    let sql = format!("INSERT INTO rows_written (id, payload) VALUES ({next}, 'after restart')");
    assert!(
        session.query(&sql).pop().unwrap().is_ok(),
        "the database is writable after the crash"
    );
}
