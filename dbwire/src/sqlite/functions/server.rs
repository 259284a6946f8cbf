//! Session and server functions (DATABASE, LAST_INSERT_ID, FOUND_ROWS, `@@variables`, named
//! locks, ...) and the helpers the translator's `information_schema` and FULLTEXT emulation
//! call.

use std::sync::Arc;
use std::time::Duration;

use rusqlite::functions::Context;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;

use super::{
    define, integer_arg, number_arg, text_arg, to_i64, truthy, user_error, Purity, SessionContext,
};
use crate::sqlite::schema::show::mysql_default;
use crate::sqlite::schema::types::{MysqlType, StorageClass};
use crate::sqlite::translate::fts_query;
use crate::sqlite::variables::{self, VariableValue, SERVER_VERSION};

pub(super) fn register(conn: &Connection, context: &Arc<SessionContext>) -> rusqlite::Result<()> {
    register_session(conn, context)?;
    register_locks(conn, context)?;
    register_schema_helpers(conn)
}

fn register_session(conn: &Connection, context: &Arc<SessionContext>) -> rusqlite::Result<()> {
    use Purity::Volatile;
    define(conn, "version", 0, Volatile, |_| Ok(SERVER_VERSION))?;
    let session = Arc::clone(context);
    define(conn, "database", 0, Volatile, move |_| {
        Ok(session.database())
    })?;
    let session = Arc::clone(context);
    define(conn, "current_user", 0, Volatile, move |_| {
        Ok(format!("{}@localhost", session.identity().user))
    })?;
    let session = Arc::clone(context);
    define(conn, "connection_id", 0, Volatile, move |_| {
        Ok(to_i64(session.identity().connection_id))
    })?;
    let session = Arc::clone(context);
    define(conn, "found_rows", 0, Volatile, move |_| {
        Ok(to_i64(session.found_rows()))
    })?;
    let session = Arc::clone(context);
    define(conn, "row_count", 0, Volatile, move |_| {
        Ok(session.row_count())
    })?;
    let session = Arc::clone(context);
    define(conn, "last_insert_id", 0, Volatile, move |_| {
        Ok(to_i64(session.last_insert_id()))
    })?;
    let session = Arc::clone(context);
    define(conn, "last_insert_id", 1, Volatile, move |ctx| {
        // LAST_INSERT_ID(expr) returns expr and makes it the next LAST_INSERT_ID().
        let value = integer_arg(ctx, 0);
        session.set_last_insert_id(value.map_or(0, |v| u64::try_from(v).unwrap_or(0)));
        Ok(value)
    })?;
    let session = Arc::clone(context);
    define(conn, "sysvar", 1, Volatile, move |ctx| {
        system_variable(ctx, &session)
    })?;
    let session = Arc::clone(context);
    define(conn, "sleep", 1, Volatile, move |ctx| {
        sleep(number_arg(ctx, 0), &session)
    })?;
    let session = Arc::clone(context);
    define(conn, "mysql_integer", 1, Volatile, move |ctx| {
        Ok(cast_integer(ctx.get_raw(0), &session))
    })?;
    let session = Arc::clone(context);
    define(conn, "uservar", 1, Volatile, move |ctx| {
        Ok(session.user_variable(&text_arg(ctx, 0).unwrap_or_default()))
    })?;
    let session = Arc::clone(context);
    define(conn, "set_uservar", 2, Volatile, move |ctx| {
        let value: SqlValue = ctx.get(1)?;
        session.set_user_variable(&text_arg(ctx, 0).unwrap_or_default(), value.clone());
        Ok(value)
    })
}

fn register_locks(conn: &Connection, context: &Arc<SessionContext>) -> rusqlite::Result<()> {
    use Purity::Volatile;
    let session = Arc::clone(context);
    define(conn, "get_lock", 2, Volatile, move |ctx| {
        let Some(name) = text_arg(ctx, 0) else {
            return Ok(None);
        };
        let timeout = number_arg(ctx, 1)
            .filter(|seconds| *seconds >= 0.0)
            .map(|seconds| Duration::from_secs_f64(seconds.min(1e9)));
        let identity = session.identity();
        Ok(Some(identity.locks.acquire(
            &name,
            identity.connection_id,
            timeout,
        )))
    })?;
    let session = Arc::clone(context);
    define(conn, "release_lock", 1, Volatile, move |ctx| {
        let identity = session.identity();
        Ok(text_arg(ctx, 0).and_then(|name| identity.locks.release(&name, identity.connection_id)))
    })?;
    let session = Arc::clone(context);
    define(conn, "is_free_lock", 1, Volatile, move |ctx| {
        Ok(text_arg(ctx, 0).map(|name| session.identity().locks.is_free(&name)))
    })
}

fn register_schema_helpers(conn: &Connection) -> rusqlite::Result<()> {
    use Purity::Deterministic;
    define(conn, "mysql_column_type", 2, Deterministic, |ctx| {
        Ok(column_type(ctx).display)
    })?;
    define(conn, "mysql_data_type", 2, Deterministic, |ctx| {
        let display = column_type(ctx).display;
        Ok(display
            .split(['(', ' '])
            .next()
            .unwrap_or_default()
            .to_owned())
    })?;
    define(conn, "mysql_column_default", 1, Deterministic, |ctx| {
        Ok(mysql_default(text_arg(ctx, 0).as_deref()))
    })?;
    define(conn, "fts_query", 2, Deterministic, |ctx| {
        Ok(text_arg(ctx, 0).map(|query| fts_query(&query, truthy(ctx.get_raw(1)))))
    })
}

/// The MySQL type of a column declared `declared` (argument 0); argument 1 is true for the
/// AUTO_INCREMENT rowid alias.
fn column_type(ctx: &Context<'_>) -> MysqlType {
    let declared = text_arg(ctx, 0).unwrap_or_default();
    let declared = if truthy(ctx.get_raw(1)) {
        "INTEGER"
    } else {
        declared.as_str()
    };
    MysqlType::from_declared(declared)
        .unwrap_or_else(|| MysqlType::from_storage(StorageClass::Text))
}

/// `sysvar(name)`, which the translator emits for `@@name`.
/// `SLEEP(seconds)`: 0 after sleeping; a `KILL QUERY` or `max_statement_time` ends it early,
/// and the statement fails as an interrupted one (ERROR 1317 / 1969).
fn sleep(seconds: Option<f64>, session: &SessionContext) -> rusqlite::Result<i64> {
    const STEP: Duration = Duration::from_millis(10);
    let seconds = seconds.unwrap_or(0.0);
    if !seconds.is_finite() || seconds <= 0.0 {
        return Ok(0);
    }
    let until = std::time::Instant::now() + Duration::from_secs_f64(seconds.min(1e6));
    loop {
        if session.statement_overdue() {
            return Err(user_error("interrupted"));
        }
        let now = std::time::Instant::now();
        if now >= until {
            return Ok(0);
        }
        std::thread::sleep(STEP.min(until - now));
    }
}

/// `CAST(x AS SIGNED)` as MySQL computes it: a number rounds to the nearest integer; text
/// gives its leading integer, with warning 1292 when anything else follows (or nothing leads).
fn cast_integer(value: ValueRef<'_>, session: &SessionContext) -> SqlValue {
    match value {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(number) => SqlValue::Integer(number),
        ValueRef::Real(number) => SqlValue::Integer(super::float_to_i64(number.round())),
        ValueRef::Text(bytes) | ValueRef::Blob(bytes) => {
            let text = String::from_utf8_lossy(bytes);
            let (number, exact) = leading_integer(&text);
            if !exact {
                session.warn(1292, format!("Truncated incorrect INTEGER value: '{text}'"));
            }
            SqlValue::Integer(number)
        }
    }
}

/// The integer `text` starts with (after blanks, with its sign; saturating), and whether
/// that was all of it but trailing blanks.
fn leading_integer(text: &str) -> (i64, bool) {
    let trimmed = text.trim_start();
    let (negative, digits) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let length = digits.bytes().take_while(u8::is_ascii_digit).count();
    let mut number: i64 = 0;
    let mut overflow = false;
    for digit in digits[..length].bytes() {
        let value = i64::from(digit - b'0');
        let next = number.checked_mul(10).and_then(|n| {
            if negative {
                n.checked_sub(value)
            } else {
                n.checked_add(value)
            }
        });
        match next {
            Some(next) => number = next,
            None => {
                overflow = true;
                number = if negative { i64::MIN } else { i64::MAX };
                break;
            }
        }
    }
    let exact = length > 0 && !overflow && digits[length..].trim().is_empty();
    (number, exact)
}

fn system_variable(ctx: &Context<'_>, session: &SessionContext) -> rusqlite::Result<SqlValue> {
    let name = text_arg(ctx, 0).unwrap_or_default();
    if name
        .trim_start_matches('@')
        .eq_ignore_ascii_case("warning_count")
    {
        return Ok(SqlValue::Integer(i64::from(session.warning_count())));
    }
    let value = session
        .session_variable(&name)
        .or_else(|| variables::lookup(&name, session.facts()));
    match value {
        Some(VariableValue::Text(text)) => Ok(SqlValue::Text(text)),
        Some(VariableValue::Int(number)) => Ok(SqlValue::Integer(number)),
        Some(VariableValue::Switch(on)) => Ok(SqlValue::Integer(i64::from(on))),
        None => Err(user_error(format!("Unknown system variable '{name}'"))),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{connection, error_of, int_of, query, text_of};
    use super::SERVER_VERSION;
    use rusqlite::types::Value as SqlValue;

    #[test]
    fn session_state() {
        let (conn, context) = connection();
        assert_eq!(query(&conn, "SELECT database()"), SqlValue::Null);
        context.set_database(Some("shop".to_owned()));
        assert_eq!(text_of(&conn, "SELECT database()"), "shop");
        context.set_last_insert_id(41);
        assert_eq!(int_of(&conn, "SELECT last_insert_id()"), 41);
        assert_eq!(int_of(&conn, "SELECT last_insert_id(7)"), 7);
        assert_eq!(context.last_insert_id(), 7);
        context.set_found_rows(12);
        assert_eq!(int_of(&conn, "SELECT found_rows()"), 12);
        assert_eq!(int_of(&conn, "SELECT row_count()"), -1);
        assert_eq!(text_of(&conn, "SELECT version()"), SERVER_VERSION);
        assert_eq!(text_of(&conn, "SELECT current_user()"), "root@localhost");
        assert_eq!(int_of(&conn, "SELECT connection_id()"), 7);
    }

    #[test]
    fn system_variables() {
        let (conn, context) = connection();
        assert_eq!(int_of(&conn, "SELECT sysvar('session.autocommit')"), 1);
        context.set_autocommit(false);
        assert_eq!(int_of(&conn, "SELECT sysvar('autocommit')"), 0);
        assert_eq!(
            text_of(&conn, "SELECT sysvar('character_set_client')"),
            "utf8mb4"
        );
        assert_eq!(text_of(&conn, "SELECT sysvar('datadir')"), "/data");
        assert!(
            error_of(&conn, "SELECT sysvar('bogus')").contains("Unknown system variable 'bogus'")
        );
    }

    #[test]
    fn named_locks() {
        let (conn, _) = connection();
        assert_eq!(int_of(&conn, "SELECT get_lock('cron', 0)"), 1);
        assert_eq!(int_of(&conn, "SELECT is_free_lock('CRON')"), 0);
        assert_eq!(int_of(&conn, "SELECT release_lock('cron')"), 1);
        assert_eq!(int_of(&conn, "SELECT is_free_lock('cron')"), 1);
        assert_eq!(query(&conn, "SELECT release_lock('cron')"), SqlValue::Null);
    }

    #[test]
    fn schema_helpers() {
        let (conn, _) = connection();
        assert_eq!(
            text_of(&conn, "SELECT mysql_column_type('BIGINT UNSIGNED(20)', 0)"),
            "bigint(20) unsigned"
        );
        assert_eq!(
            text_of(&conn, "SELECT mysql_column_type('INTEGER', 1)"),
            "bigint unsigned"
        );
        assert_eq!(
            text_of(&conn, "SELECT mysql_data_type('VARCHAR(191)', 0)"),
            "varchar"
        );
        assert_eq!(
            text_of(&conn, "SELECT mysql_data_type('ENUM TEXT ''a'' ''b''', 0)"),
            "enum"
        );
        assert_eq!(
            text_of(&conn, "SELECT mysql_column_default('''it''''s''')"),
            "it's"
        );
        assert_eq!(
            query(&conn, "SELECT mysql_column_default('NULL')"),
            SqlValue::Null
        );
        assert_eq!(
            query(&conn, "SELECT mysql_column_default(NULL)"),
            SqlValue::Null
        );
        assert_eq!(
            text_of(&conn, "SELECT fts_query('hello world', 0)"),
            super::fts_query("hello world", false)
        );
    }
}
