//! Helpers for the SQLite backend tests: a backend over a temporary data directory and
//! shorthand for running statements through the `Session` trait (so every statement goes
//! through the translator, as it does for real clients).

#![allow(dead_code)]

use std::net::TcpListener;
use std::sync::Arc;
use std::thread::{self, JoinHandle};

use dbwire::server::{serve, ServerConfig, StopHandle};
use dbwire::sqlite::{SqliteBackend, SqliteConfig, SqliteSession};
use dbwire::{Backend, Column, DbError, QueryResult, Session, Value};
use tempfile::TempDir;

/// A MySQL server on a free loopback port for any backend; stopped when dropped.
pub struct BackendServer {
    /// The port it listens on.
    pub port: u16,
    stop: StopHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl BackendServer {
    /// Serves `backend` with the default server configuration.
    pub fn start<B: Backend>(backend: Arc<B>) -> BackendServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = StopHandle::new();
        let handle = stop.clone();
        let thread =
            thread::spawn(move || serve(listener, backend, ServerConfig::default(), handle));
        BackendServer {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for BackendServer {
    fn drop(&mut self) {
        self.stop.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A MySQL server over a fresh SQLite fixture (user `root`, no password).
pub struct SqliteServer {
    /// The listener.
    pub server: BackendServer,
    /// The backend's data directory, kept for the server's lifetime.
    pub fixture: Fixture,
}

impl SqliteServer {
    /// Starts a server over a new data directory.
    pub fn start() -> SqliteServer {
        let fixture = Fixture::new();
        let server = BackendServer::start(Arc::new(fixture.backend.clone()));
        SqliteServer { server, fixture }
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.server.port
    }
}

/// A backend over a fresh data directory (deleted when dropped).
pub struct Fixture {
    /// The data directory.
    pub dir: TempDir,
    /// The backend.
    pub backend: SqliteBackend,
}

impl Fixture {
    /// A backend with default settings.
    pub fn new() -> Fixture {
        Fixture::with(|_| {})
    }

    /// A backend with settings adjusted by `adjust`.
    pub fn with(adjust: impl FnOnce(&mut SqliteConfig)) -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SqliteConfig::new(dir.path().join("data"));
        adjust(&mut config);
        let backend = SqliteBackend::new(config).unwrap();
        Fixture { dir, backend }
    }

    /// A session as root with `database` selected.
    pub fn session(&self, database: &str) -> SqliteSession {
        self.backend.open_session("root", Some(database)).unwrap()
    }
}

/// Runs `sql` (one statement), expecting success.
pub fn run(session: &mut SqliteSession, sql: &str) -> QueryResult {
    let mut results = session.query(sql);
    assert_eq!(
        results.len(),
        1,
        "{sql}: expected one result, got {results:?}"
    );
    match results.remove(0) {
        Ok(result) => result,
        Err(error) => panic!("{sql}: {error}"),
    }
}

/// Runs `sql` (one statement), expecting an error.
pub fn error(session: &mut SqliteSession, sql: &str) -> DbError {
    match session.query(sql).pop() {
        Some(Err(error)) => error,
        other => panic!("{sql}: expected an error, got {other:?}"),
    }
}

/// Affected rows of an OK result.
pub fn affected(result: &QueryResult) -> u64 {
    match result {
        QueryResult::Ok { affected_rows, .. } => *affected_rows,
        other => panic!("expected OK, got {other:?}"),
    }
}

/// The insert id of an OK result.
pub fn insert_id(result: &QueryResult) -> u64 {
    match result {
        QueryResult::Ok { last_insert_id, .. } => *last_insert_id,
        other => panic!("expected OK, got {other:?}"),
    }
}

/// The columns and rows of a result set.
pub fn result_set(result: QueryResult) -> (Vec<Column>, Vec<Vec<Value>>) {
    match result {
        QueryResult::Rows { columns, rows } => (columns, rows),
        other => panic!("expected rows, got {other:?}"),
    }
}

/// A value as the text the MySQL text protocol would send (`None` for NULL).
pub fn text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Int(number) => Some(number.to_string()),
        Value::UInt(number) => Some(number.to_string()),
        Value::Double(number) => Some(number.to_string()),
        Value::Bytes(bytes) => Some(String::from_utf8_lossy(bytes).into_owned()),
    }
}

/// The rows of `sql` as text, NULL as `"NULL"`.
pub fn rows(session: &mut SqliteSession, sql: &str) -> Vec<Vec<String>> {
    let (_, rows) = result_set(run(session, sql));
    rows.iter()
        .map(|row| {
            row.iter()
                .map(|value| text(value).unwrap_or_else(|| "NULL".to_owned()))
                .collect()
        })
        .collect()
}

/// The single value of `sql`, as text.
pub fn scalar(session: &mut SqliteSession, sql: &str) -> String {
    let rows = rows(session, sql);
    assert_eq!(rows.len(), 1, "{sql}: expected one row, got {rows:?}");
    rows[0][0].clone()
}

/// The column names of `sql`'s result.
pub fn column_names(session: &mut SqliteSession, sql: &str) -> Vec<String> {
    let (columns, _) = result_set(run(session, sql));
    columns.into_iter().map(|column| column.name).collect()
}
