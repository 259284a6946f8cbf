//! MySQL functions registered on every SQLite connection as user functions.
//!
//! The translator rewrites what SQLite can do natively and leaves the rest as calls to the
//! functions here (its [`USER_FUNCTIONS`](crate::sqlite::translate::USER_FUNCTIONS) list).
//! They follow MySQL's rules: most return NULL when an argument is NULL, strings convert to
//! numbers by their leading numeric prefix, and dates are text in MySQL's
//! `YYYY-MM-DD HH:MM:SS` form. The clock is UTC.
//!
//! Functions that read session state (`LAST_INSERT_ID()`, `FOUND_ROWS()`, `DATABASE()`,
//! `GET_LOCK()`, `@@autocommit`) share a [`SessionContext`] with the session that owns the
//! connection.

mod datetime;
mod locks;
mod md5;
mod numeric;
mod regex;
mod server;
mod text;
mod time;

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rusqlite::functions::{Context, FunctionFlags, SqlFnOutput};
use rusqlite::types::ValueRef;
use rusqlite::{Connection, Error as SqlError};

pub use self::locks::NamedLocks;
use super::variables::{SessionFacts, VariableValue};

/// Session state that MySQL functions read or write while a statement runs.
#[derive(Debug)]
pub struct SessionContext {
    /// When the running statement must stop (nanoseconds on [`clock`]; 0: no limit), read by
    /// the connection's progress handler.
    statement_deadline: AtomicU64,
    last_insert_id: AtomicU64,
    found_rows: AtomicU64,
    row_count: AtomicI64,
    autocommit: AtomicBool,
    /// A transaction is open (for `@@in_transaction`).
    in_transaction: AtomicBool,
    /// Set by `KILL` from any session: [`KILLED_QUERY`] or [`KILLED_CONNECTION`] (0: none).
    killed: std::sync::atomic::AtomicU8,
    database: Mutex<Option<String>>,
    /// System variables given a session value with `SET [SESSION] name = literal`.
    session_variables: Mutex<std::collections::HashMap<String, VariableValue>>,
    /// Warnings of the last statement (`SHOW WARNINGS`), at most [`MAX_WARNINGS`] kept.
    warnings: Mutex<Warnings>,
    /// User variables (`@name`, lowercased: MySQL's are case-insensitive).
    user_variables: Mutex<std::collections::HashMap<String, rusqlite::types::Value>>,
    identity: Identity,
}

/// Warnings kept per statement (MySQL's default `max_error_count`).
pub const MAX_WARNINGS: usize = 64;

/// A warning, as `SHOW WARNINGS` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// `Warning` (or `Note`).
    pub level: &'static str,
    /// MySQL's error code, e.g. 1292.
    pub code: u16,
    /// The message.
    pub message: String,
}

/// The warnings of one statement: all counted, the first [`MAX_WARNINGS`] kept.
#[derive(Debug, Default)]
struct Warnings {
    count: u16,
    list: Vec<Warning>,
}

/// `KILL QUERY`: the running statement stops.
pub const KILLED_QUERY: u8 = 1;
/// `KILL [CONNECTION]`: the running statement stops and the session answers no more.
pub const KILLED_CONNECTION: u8 = 2;

/// Every live session by connection id, for `KILL` (process-wide, like [`NamedLocks`]).
#[derive(Debug, Default)]
pub struct SessionRegistry {
    sessions: Mutex<std::collections::HashMap<u64, std::sync::Weak<SessionContext>>>,
}

impl SessionRegistry {
    /// Records a new session.
    pub fn register(&self, context: &Arc<SessionContext>) {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(context.identity.connection_id, Arc::downgrade(context));
    }

    /// Marks session `id` killed (`how`: [`KILLED_QUERY`] or [`KILLED_CONNECTION`]); false
    /// when no such session lives.
    pub fn kill(&self, id: u64, how: u8) -> bool {
        let target = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&id)
            .and_then(std::sync::Weak::upgrade);
        match target {
            Some(context) => {
                context.killed.fetch_max(how, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }

    /// Forgets session `id` once it is gone: a connection's next session (after
    /// COM_RESET_CONNECTION or COM_CHANGE_USER) registers under the same id first.
    fn forget(&self, id: u64) {
        let mut sessions = self
            .sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if sessions
            .get(&id)
            .is_some_and(|session| session.strong_count() == 0)
        {
            sessions.remove(&id);
        }
    }
}

/// Who the session is, for `CURRENT_USER()`, `CONNECTION_ID()`, named locks and `@@datadir`.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The authenticated user.
    pub user: String,
    /// A number unique to the session within the process.
    pub connection_id: u64,
    /// The data directory, reported as `@@datadir`.
    pub data_dir: String,
    /// The process-wide table of `GET_LOCK()` locks.
    pub locks: Arc<NamedLocks>,
    /// The process-wide table of sessions, for `KILL`.
    pub sessions: Arc<SessionRegistry>,
}

/// Nanoseconds since the first call: a monotonic clock that fits an atomic.
fn clock() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    let start = *START.get_or_init(Instant::now);
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

impl SessionContext {
    /// A fresh context: no insert id, autocommit on, no database selected.
    pub fn new(identity: Identity) -> SessionContext {
        SessionContext {
            statement_deadline: AtomicU64::new(0),
            last_insert_id: AtomicU64::new(0),
            found_rows: AtomicU64::new(0),
            row_count: AtomicI64::new(-1),
            autocommit: AtomicBool::new(true),
            in_transaction: AtomicBool::new(false),
            killed: std::sync::atomic::AtomicU8::new(0),
            database: Mutex::new(None),
            session_variables: Mutex::new(std::collections::HashMap::new()),
            user_variables: Mutex::new(std::collections::HashMap::new()),
            warnings: Mutex::new(Warnings::default()),
            identity,
        }
    }

    /// Gives system variable `name` (lowercase, without scope) a session value, or takes it
    /// away (`None`: `SET name = DEFAULT`). `sql_mode` is kept upper-cased, as MariaDB shows it.
    pub fn set_session_variable(&self, name: &str, value: Option<VariableValue>) {
        let mut variables = lock(&self.session_variables);
        match value {
            Some(VariableValue::Text(text)) if name == "sql_mode" => {
                variables.insert(
                    name.to_owned(),
                    VariableValue::Text(text.to_ascii_uppercase()),
                );
            }
            Some(value) => {
                variables.insert(name.to_owned(), value);
            }
            None => {
                variables.remove(name);
            }
        }
    }

    /// Records a warning of the running statement.
    pub fn warn(&self, code: u16, message: String) {
        let mut warnings = lock(&self.warnings);
        warnings.count = warnings.count.saturating_add(1);
        if warnings.list.len() < MAX_WARNINGS {
            warnings.list.push(Warning {
                level: "Warning",
                code,
                message,
            });
        }
    }

    /// Forgets the previous statement's warnings (a new statement other than `SHOW WARNINGS`
    /// starts).
    pub fn clear_warnings(&self) {
        *lock(&self.warnings) = Warnings::default();
    }

    /// How many warnings the last statement raised (`@@warning_count`).
    pub fn warning_count(&self) -> u16 {
        lock(&self.warnings).count
    }

    /// The last statement's warnings, for `SHOW WARNINGS`.
    pub fn warnings(&self) -> Vec<Warning> {
        lock(&self.warnings).list.clone()
    }

    /// The value of user variable `@name`; NULL when never set, as in MySQL.
    pub fn user_variable(&self, name: &str) -> rusqlite::types::Value {
        lock(&self.user_variables)
            .get(&name.to_ascii_lowercase())
            .cloned()
            .unwrap_or(rusqlite::types::Value::Null)
    }

    /// Sets user variable `@name`.
    pub fn set_user_variable(&self, name: &str, value: rusqlite::types::Value) {
        lock(&self.user_variables).insert(name.to_ascii_lowercase(), value);
    }

    /// The session value of `@@name` (`@@session.name`, not `@@global.name`), if one was set.
    pub fn session_variable(&self, name: &str) -> Option<VariableValue> {
        let lowered = name.trim().trim_start_matches('@').to_ascii_lowercase();
        if lowered.starts_with("global.") {
            return None;
        }
        let bare = ["session.", "local."]
            .iter()
            .find_map(|scope| lowered.strip_prefix(scope))
            .unwrap_or(&lowered);
        lock(&self.session_variables).get(bare).cloned()
    }

    /// The session's `sql_mode` includes `NO_BACKSLASH_ESCAPES`: a backslash in a string
    /// literal is an ordinary character.
    pub fn no_backslash_escapes(&self) -> bool {
        matches!(
            lock(&self.session_variables).get("sql_mode"),
            Some(VariableValue::Text(mode)) if mode.split(',').any(|m| m.trim() == "NO_BACKSLASH_ESCAPES")
        )
    }

    /// Who the session is.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Starts timing a statement: it may run for `limit` (`None`: no limit).
    pub fn start_statement(&self, limit: Option<Duration>) {
        let deadline = limit.map_or(0, |limit| {
            clock().saturating_add(u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX))
        });
        self.statement_deadline.store(deadline, Ordering::Relaxed);
    }

    /// Ends timing the statement.
    pub fn end_statement(&self) {
        self.statement_deadline.store(0, Ordering::Relaxed);
    }

    /// True when the running statement has outlived its limit or was killed (SQLite then
    /// interrupts it).
    pub fn statement_overdue(&self) -> bool {
        let deadline = self.statement_deadline.load(Ordering::Relaxed);
        (deadline != 0 && clock() >= deadline) || self.killed.load(Ordering::Relaxed) != 0
    }

    /// True once `KILL [CONNECTION]` named this session: it answers no more statements.
    pub fn connection_killed(&self) -> bool {
        self.killed.load(Ordering::Relaxed) == KILLED_CONNECTION
    }

    /// Whether (and how) a `KILL` reached this session. A killed query is reported once; a
    /// killed connection stays killed.
    pub fn take_kill(&self) -> u8 {
        let killed = self.killed.load(Ordering::Relaxed);
        if killed == KILLED_QUERY {
            self.killed.store(0, Ordering::Relaxed);
        }
        killed
    }

    /// `LAST_INSERT_ID()`.
    pub fn last_insert_id(&self) -> u64 {
        self.last_insert_id.load(Ordering::Relaxed)
    }

    /// Records an AUTO_INCREMENT value generated by this session.
    pub fn set_last_insert_id(&self, id: u64) {
        self.last_insert_id.store(id, Ordering::Relaxed);
    }

    /// `FOUND_ROWS()`.
    pub fn found_rows(&self) -> u64 {
        self.found_rows.load(Ordering::Relaxed)
    }

    /// Records the row count `FOUND_ROWS()` reports next.
    pub fn set_found_rows(&self, rows: u64) {
        self.found_rows.store(rows, Ordering::Relaxed);
    }

    /// `ROW_COUNT()`: rows the previous statement changed, -1 after a result set.
    pub fn row_count(&self) -> i64 {
        self.row_count.load(Ordering::Relaxed)
    }

    /// Records what `ROW_COUNT()` reports next.
    pub fn set_row_count(&self, count: i64) {
        self.row_count.store(count, Ordering::Relaxed);
    }

    /// The session's autocommit mode, as `@@autocommit` reports it.
    pub fn autocommit(&self) -> bool {
        self.autocommit.load(Ordering::Relaxed)
    }

    /// Records whether a transaction is open, before a statement runs.
    pub fn set_in_transaction(&self, open: bool) {
        self.in_transaction.store(open, Ordering::Relaxed);
    }

    /// Records the session's autocommit mode.
    pub fn set_autocommit(&self, on: bool) {
        self.autocommit.store(on, Ordering::Relaxed);
    }

    /// `DATABASE()`: the selected database, if any.
    pub fn database(&self) -> Option<String> {
        self.database
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Records the selected database.
    pub fn set_database(&self, database: Option<String>) {
        *self
            .database
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = database;
    }

    /// The facts system variables report for this session.
    pub fn facts(&self) -> SessionFacts<'_> {
        SessionFacts {
            autocommit: self.autocommit(),
            in_transaction: self.in_transaction.load(Ordering::Relaxed),
            data_dir: &self.identity.data_dir,
        }
    }
}

/// Locks `mutex`, taking over a poisoned one (its data stays consistent: plain values).
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Drop for SessionContext {
    /// A session's named locks end with it, as in MySQL.
    fn drop(&mut self) {
        self.identity.locks.release_all(self.identity.connection_id);
        self.identity.sessions.forget(self.identity.connection_id);
    }
}

/// Registers every MySQL function on `conn`, reading session state from `context`.
pub fn register(conn: &Connection, context: &Arc<SessionContext>) -> rusqlite::Result<()> {
    text::register(conn)?;
    numeric::register(conn)?;
    time::register(conn)?;
    server::register(conn, context)
}

/// Whether SQLite may assume a function returns the same result for the same arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purity {
    Deterministic,
    Volatile,
}

/// Registers one scalar function.
fn define<T, F>(
    conn: &Connection,
    name: &str,
    arity: i32,
    purity: Purity,
    body: F,
) -> rusqlite::Result<()>
where
    T: SqlFnOutput,
    F: Fn(&Context<'_>) -> rusqlite::Result<T> + Send + 'static,
{
    let mut flags = FunctionFlags::SQLITE_UTF8;
    if purity == Purity::Deterministic {
        flags |= FunctionFlags::SQLITE_DETERMINISTIC | FunctionFlags::SQLITE_INNOCUOUS;
    }
    conn.create_scalar_function(name, arity, flags, move |ctx: &mut Context<'_>| body(ctx))
}

/// An error raised from a function; its message becomes the statement's error.
fn user_error(message: impl Into<String>) -> SqlError {
    SqlError::UserFunctionError(message.into().into())
}

/// Argument `index` as text (numbers in MySQL's text form); `None` for NULL.
fn text_arg(ctx: &Context<'_>, index: usize) -> Option<String> {
    value_text(ctx.get_raw(index))
}

/// Argument `index` as bytes (numbers in text form); `None` for NULL.
fn bytes_arg(ctx: &Context<'_>, index: usize) -> Option<Vec<u8>> {
    match ctx.get_raw(index) {
        ValueRef::Blob(blob) | ValueRef::Text(blob) => Some(blob.to_vec()),
        other => value_text(other).map(String::into_bytes),
    }
}

/// Argument `index` as an integer, rounding reals and reading text's numeric prefix.
fn integer_arg(ctx: &Context<'_>, index: usize) -> Option<i64> {
    match ctx.get_raw(index) {
        ValueRef::Null => None,
        ValueRef::Integer(number) => Some(number),
        other => Some(float_to_i64(number_of(other).round())),
    }
}

/// Argument `index` as a number; `None` for NULL.
fn number_arg(ctx: &Context<'_>, index: usize) -> Option<f64> {
    match ctx.get_raw(index) {
        ValueRef::Null => None,
        other => Some(number_of(other)),
    }
}

/// A float as an integer, saturating, with NaN as 0.
fn float_to_i64(number: f64) -> i64 {
    if number.is_nan() {
        0
    } else {
        // `as` saturates at the i64 bounds.
        number as i64
    }
}

/// A value's text form, as MySQL converts numbers to strings; `None` for NULL.
pub fn value_text(value: ValueRef<'_>) -> Option<String> {
    match value {
        ValueRef::Null => None,
        ValueRef::Integer(number) => Some(number.to_string()),
        ValueRef::Real(number) => Some(format_double(number)),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            Some(String::from_utf8_lossy(bytes).into_owned())
        }
    }
}

/// Formats a double the way MySQL prints one: shortest round-trip digits, exponent form for
/// very large or very small magnitudes.
pub fn format_double(number: f64) -> String {
    let magnitude = number.abs();
    if magnitude != 0.0 && !(1e-4..1e15).contains(&magnitude) {
        format!("{number:e}")
    } else {
        format!("{number}")
    }
}

fn is_numeric(value: ValueRef<'_>) -> bool {
    matches!(value, ValueRef::Integer(_) | ValueRef::Real(_))
}

/// MySQL's conversion of a value to a number: text by its longest numeric prefix, else 0.
fn number_of(value: ValueRef<'_>) -> f64 {
    match value {
        ValueRef::Null => 0.0,
        ValueRef::Integer(number) => number as f64,
        ValueRef::Real(number) => number,
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => leading_number(bytes),
    }
}

/// Parses the numeric prefix of `bytes` (after leading spaces): sign, digits, fraction,
/// exponent. Text without one is 0.
pub fn leading_number(bytes: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim_start();
    let raw = trimmed.as_bytes();
    let digits_from = |start: usize| {
        raw.get(start..).map_or(0, |tail| {
            tail.iter().take_while(|b| b.is_ascii_digit()).count()
        })
    };
    let mut end = usize::from(matches!(raw.first(), Some(b'+' | b'-')));
    let integer_digits = digits_from(end);
    end += integer_digits;
    let mut fraction_digits = 0;
    if raw.get(end) == Some(&b'.') {
        fraction_digits = digits_from(end + 1);
        end += 1 + fraction_digits;
    }
    if integer_digits + fraction_digits == 0 {
        return 0.0;
    }
    if matches!(raw.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(raw.get(end + 1), Some(b'+' | b'-')));
        let exponent_digits = digits_from(end + 1 + sign);
        if exponent_digits > 0 {
            end += 1 + sign + exponent_digits;
        }
    }
    trimmed[..end].trim_end_matches('.').parse().unwrap_or(0.0)
}

/// MySQL truthiness: nonzero numbers (text by its numeric prefix) are true, NULL is false.
fn truthy(value: ValueRef<'_>) -> bool {
    match value {
        ValueRef::Null => false,
        ValueRef::Integer(number) => number != 0,
        other => number_of(other) != 0.0,
    }
}

/// Case-insensitive equality, as MySQL's `_ci` collations compare.
fn eq_ignore_case(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b) || a.to_lowercase() == b.to_lowercase()
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod test_support {
    use super::*;
    use rusqlite::types::Value as SqlValue;

    /// A connection with every function registered, and its session context.
    pub fn connection() -> (Connection, Arc<SessionContext>) {
        let conn = Connection::open_in_memory().unwrap();
        let identity = Identity {
            user: "root".to_owned(),
            connection_id: 7,
            data_dir: "/data".to_owned(),
            locks: Arc::new(NamedLocks::default()),
            sessions: Arc::default(),
        };
        let context = Arc::new(SessionContext::new(identity));
        register(&conn, &context).unwrap();
        (conn, context)
    }

    pub fn query(conn: &Connection, sql: &str) -> SqlValue {
        conn.query_row(sql, [], |row| row.get::<_, SqlValue>(0))
            .unwrap()
    }

    pub fn text_of(conn: &Connection, sql: &str) -> String {
        match query(conn, sql) {
            SqlValue::Text(text) => text,
            other => panic!("{sql} gave {other:?}"),
        }
    }

    pub fn int_of(conn: &Connection, sql: &str) -> i64 {
        match query(conn, sql) {
            SqlValue::Integer(number) => number,
            other => panic!("{sql} gave {other:?}"),
        }
    }

    pub fn real_of(conn: &Connection, sql: &str) -> f64 {
        match query(conn, sql) {
            SqlValue::Real(number) => number,
            other => panic!("{sql} gave {other:?}"),
        }
    }

    pub fn error_of(conn: &Connection, sql: &str) -> String {
        conn.query_row(sql, [], |_| Ok(())).unwrap_err().to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::translate::USER_FUNCTIONS;

    #[test]
    fn every_function_the_translator_calls_is_registered() {
        let (conn, _) = test_support::connection();
        for name in USER_FUNCTIONS {
            let registered: bool = conn
                .query_row(
                    "SELECT count(*) > 0 FROM pragma_function_list WHERE name = ?1",
                    [name],
                    |row| row.get(0),
                )
                .unwrap();
            assert!(registered, "{name} is not registered");
        }
    }

    #[test]
    fn numeric_conversions_follow_mysql() {
        assert_eq!(leading_number(b"  12abc"), 12.0);
        assert_eq!(leading_number(b"-3.5e2x"), -350.0);
        assert_eq!(leading_number(b"1e"), 1.0);
        assert_eq!(leading_number(b"5."), 5.0);
        assert_eq!(leading_number(b"abc"), 0.0);
        assert_eq!(leading_number(b""), 0.0);
        assert_eq!(format_double(2.5), "2.5");
        assert_eq!(format_double(3.0), "3");
        assert_eq!(format_double(1e20), "1e20");
        assert!(truthy(ValueRef::Text(b"1abc")));
        assert!(!truthy(ValueRef::Text(b"abc")));
        assert!(eq_ignore_case("Straße", "STRASSE") || eq_ignore_case("Ä", "ä"));
    }
}
