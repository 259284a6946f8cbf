//! SQLite errors turned into the MySQL errors clients expect: the code and SQLSTATE decide
//! what PDO and mysqli raise (duplicate key 1062/23000, unknown table 1146/42S02, ...), and
//! the message is worded like MySQL's.

use rusqlite::ffi::{self, ErrorCode};
use rusqlite::Connection;

use crate::backend::DbError;
use crate::sqlite::schema;

/// MySQL error codes this backend produces.
pub mod codes {
    /// ER_CANT_CREATE_DB.
    pub const CANT_CREATE_DB: u16 = 1006;
    /// ER_OUT_OF_RESOURCES.
    pub const OUT_OF_RESOURCES: u16 = 1041;
    /// ER_STATEMENT_TIMEOUT (MariaDB).
    pub const STATEMENT_TIMEOUT: u16 = 1969;
    /// ER_DB_CREATE_EXISTS.
    pub const DB_CREATE_EXISTS: u16 = 1007;
    /// ER_DB_DROP_EXISTS.
    pub const DB_DROP_EXISTS: u16 = 1008;
    /// ER_DUP_KEYNAME.
    pub const DUP_KEYNAME: u16 = 1061;
    /// ER_MULTIPLE_PRI_KEY.
    pub const MULTIPLE_PRIMARY_KEY: u16 = 1068;
    /// ER_NOT_SUPPORTED_YET.
    pub const NOT_SUPPORTED_YET: u16 = 1235;
    /// ER_BAD_DB_ERROR.
    pub const BAD_DB: u16 = 1049;
    /// ER_NO_DB_ERROR.
    pub const NO_DB: u16 = 1046;
    /// ER_BAD_NULL_ERROR.
    pub const BAD_NULL: u16 = 1048;
    /// ER_TABLE_EXISTS_ERROR.
    pub const TABLE_EXISTS: u16 = 1050;
    /// ER_NON_UNIQ_ERROR.
    pub const NON_UNIQUE: u16 = 1052;
    /// ER_BAD_FIELD_ERROR.
    pub const BAD_FIELD: u16 = 1054;
    /// ER_DUP_FIELDNAME.
    pub const DUP_FIELDNAME: u16 = 1060;
    /// ER_DUP_ENTRY.
    pub const DUP_ENTRY: u16 = 1062;
    /// ER_PARSE_ERROR.
    pub const PARSE_ERROR: u16 = 1064;
    /// ER_CANT_DROP_FIELD_OR_KEY.
    pub const CANT_DROP_FIELD_OR_KEY: u16 = 1091;
    /// ER_WRONG_DB_NAME.
    pub const WRONG_DB_NAME: u16 = 1102;
    /// ER_UNKNOWN_ERROR.
    pub const UNKNOWN: u16 = 1105;
    /// ER_INVALID_GROUP_FUNC_USE.
    pub const INVALID_GROUP_FUNC_USE: u16 = 1111;
    /// ER_RECORD_FILE_FULL.
    pub const RECORD_FILE_FULL: u16 = 1114;
    /// ER_NO_SUCH_TABLE.
    pub const NO_SUCH_TABLE: u16 = 1146;
    /// ER_NET_PACKET_TOO_LARGE.
    pub const PACKET_TOO_LARGE: u16 = 1153;
    /// ER_CANT_DO_THIS_DURING_AN_TRANSACTION.
    pub const CANT_DO_IN_TRANSACTION: u16 = 1179;
    /// ER_UNKNOWN_SYSTEM_VARIABLE.
    pub const UNKNOWN_SYSTEM_VARIABLE: u16 = 1193;
    /// ER_LOCK_WAIT_TIMEOUT.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// ER_LOCK_DEADLOCK.
    pub const LOCK_DEADLOCK: u16 = 1213;
    /// ER_SP_DOES_NOT_EXIST.
    pub const FUNCTION_DOES_NOT_EXIST: u16 = 1305;
    /// ER_QUERY_INTERRUPTED.
    pub const QUERY_INTERRUPTED: u16 = 1317;
    /// ER_PS_MANY_PARAM.
    pub const TOO_MANY_PLACEHOLDERS: u16 = 1390;
    /// ER_NO_REFERENCED_ROW_2.
    pub const FOREIGN_KEY: u16 = 1452;
    /// ER_WRONG_ARGUMENTS / parameter count mismatch for prepared statements.
    pub const WRONG_ARGUMENTS: u16 = 1210;
    /// ER_CHECK_CONSTRAINT_VIOLATED.
    pub const CHECK_CONSTRAINT: u16 = 3819;
    /// ER_REGEXP_ILLEGAL_ARGUMENT.
    pub const REGEXP_ILLEGAL_ARGUMENT: u16 = 3685;
    /// ER_GET_ERRNO (storage engine failure).
    pub const STORAGE_ENGINE: u16 = 1030;
    /// ER_OPEN_AS_READONLY.
    pub const READ_ONLY: u16 = 1036;
}

/// What the error mapping needs to know about the session.
#[derive(Clone, Copy)]
pub struct ErrorScope<'a> {
    /// The selected database (for "Table 'db.t' doesn't exist").
    pub database: Option<&'a str>,
    /// The connection the error came from (to name the key of a duplicate entry).
    pub conn: Option<&'a Connection>,
}

/// `ERROR 1046 (3D000): No database selected`.
pub fn no_database() -> DbError {
    DbError::new(codes::NO_DB, "3D000", "No database selected")
}

/// `ERROR 1049 (42000): Unknown database 'name'`.
/// `ERROR 1006 (HY000)`: creating database `name` would go over the database limit.
pub fn too_many_databases(name: &str, limit: usize) -> DbError {
    DbError::new(
        codes::CANT_CREATE_DB,
        "HY000",
        format!("Can't create database '{name}' (the server holds its limit of {limit} databases)"),
    )
}

/// `ERROR 1041 (HY000)`: a result set over the backend's size limit.
pub fn result_too_large(limit: usize) -> DbError {
    DbError::new(
        codes::OUT_OF_RESOURCES,
        "HY000",
        format!("Out of memory: the result set is larger than the server's limit of {limit} bytes"),
    )
}

/// `ERROR 1792 (25006)`: a write inside `START TRANSACTION READ ONLY`.
pub fn read_only_transaction() -> DbError {
    DbError::new(
        1792,
        "25006",
        "Cannot execute statement in a READ ONLY transaction",
    )
}

/// `ERROR 1969 (70100)`: the statement ran longer than `max_statement_time`, as MariaDB says it.
pub fn statement_time_exceeded() -> DbError {
    DbError::new(
        codes::STATEMENT_TIMEOUT,
        "70100",
        "Query execution was interrupted (max_statement_time exceeded)",
    )
}

/// `ERROR 1094 (HY000): Unknown thread id: N` (`KILL` of no live session).
pub fn unknown_thread(id: u64) -> DbError {
    DbError::new(1094, "HY000", format!("Unknown thread id: {id}"))
}

/// `ERROR 1317 (70100)`: the statement was stopped by `KILL QUERY`.
pub fn query_interrupted() -> DbError {
    DbError::new(1317, "70100", "Query execution was interrupted")
}

/// `ERROR 1927 (70100)`: the session was ended by `KILL`.
pub fn connection_killed() -> DbError {
    DbError::new(1927, "70100", "Connection was killed")
}

/// `ERROR 1049 (42000): Unknown database 'x'`.
pub fn unknown_database(name: &str) -> DbError {
    DbError::new(codes::BAD_DB, "42000", format!("Unknown database '{name}'"))
}

/// `ERROR 1146 (42S02): Table 'db.t' doesn't exist`.
pub fn no_such_table(database: Option<&str>, table: &str) -> DbError {
    let qualified = match database {
        Some(database) => format!("{database}.{table}"),
        None => table.to_owned(),
    };
    DbError::new(
        codes::NO_SUCH_TABLE,
        "42S02",
        format!("Table '{qualified}' doesn't exist"),
    )
}

/// `ERROR 1105 (HY000)` with `message`.
pub fn unknown(message: impl Into<String>) -> DbError {
    DbError::new(codes::UNKNOWN, "HY000", message)
}

/// The MySQL error for a SQLite error.
pub fn from_sqlite(error: &rusqlite::Error, scope: ErrorScope<'_>) -> DbError {
    match error {
        rusqlite::Error::SqliteFailure(failure, message) => {
            let message = message.clone().unwrap_or_else(|| failure.to_string());
            from_failure(failure, &message, scope)
        }
        rusqlite::Error::SqlInputError {
            error,
            msg,
            sql,
            offset,
        } => {
            if msg.contains("syntax error") || msg.contains("incomplete input") {
                syntax_error(near(sql, *offset))
            } else {
                from_failure(error, msg, scope)
            }
        }
        rusqlite::Error::InvalidParameterCount(given, expected) => DbError::new(
            codes::WRONG_ARGUMENTS,
            "HY000",
            format!(
                "Incorrect arguments to mysqld_stmt_execute ({given} given, {expected} expected)"
            ),
        ),
        rusqlite::Error::UserFunctionError(inner) => from_message(&inner.to_string(), scope),
        other => unknown(other.to_string()),
    }
}

/// `ERROR 1064 (42000)` pointing at `near`.
pub fn syntax_error(near: &str) -> DbError {
    DbError::new(
        codes::PARSE_ERROR,
        "42000",
        format!(
            "You have an error in your SQL syntax; check the manual that corresponds to your \
             MySQL server version for the right syntax to use near '{near}' at line 1"
        ),
    )
}

fn near(sql: &str, offset: i32) -> &str {
    let start = usize::try_from(offset).unwrap_or(0).min(sql.len());
    let start = (0..=start)
        .rev()
        .find(|&i| sql.is_char_boundary(i))
        .unwrap_or(0);
    let tail = &sql[start..];
    let end = tail
        .char_indices()
        .nth(80)
        .map_or(tail.len(), |(index, _)| index);
    &tail[..end]
}

fn from_failure(failure: &ffi::Error, message: &str, scope: ErrorScope<'_>) -> DbError {
    match failure.extended_code {
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            return duplicate_entry(message, scope)
        }
        ffi::SQLITE_CONSTRAINT_NOTNULL => {
            let column = constraint_columns(message)
                .into_iter()
                .next()
                .unwrap_or_default();
            let column = column.rsplit('.').next().unwrap_or_default().to_owned();
            return DbError::new(
                codes::BAD_NULL,
                "23000",
                format!("Column '{column}' cannot be null"),
            );
        }
        ffi::SQLITE_CONSTRAINT_CHECK => {
            let name = message.rsplit(": ").next().unwrap_or_default();
            return DbError::new(
                codes::CHECK_CONSTRAINT,
                "HY000",
                format!("Check constraint '{name}' is violated."),
            );
        }
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
            return DbError::new(
                codes::FOREIGN_KEY,
                "23000",
                "Cannot add or update a child row: a foreign key constraint fails",
            )
        }
        ffi::SQLITE_BUSY_SNAPSHOT => {
            return DbError::new(
                codes::LOCK_DEADLOCK,
                "40001",
                "Deadlock found when trying to get lock; try restarting transaction",
            )
        }
        _ => {}
    }
    match failure.code {
        ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => DbError::new(
            codes::LOCK_WAIT_TIMEOUT,
            "HY000",
            "Lock wait timeout exceeded; try restarting transaction",
        ),
        ErrorCode::TooBig => DbError::new(
            codes::PACKET_TOO_LARGE,
            "08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        ),
        ErrorCode::DiskFull => DbError::new(
            codes::RECORD_FILE_FULL,
            "HY000",
            format!("The table is full: {message}"),
        ),
        ErrorCode::ReadOnly => DbError::new(codes::READ_ONLY, "HY000", "Table is read only"),
        ErrorCode::OperationInterrupted => DbError::new(
            codes::QUERY_INTERRUPTED,
            "70100",
            "Query execution was interrupted",
        ),
        ErrorCode::SystemIoFailure | ErrorCode::DatabaseCorrupt | ErrorCode::CannotOpen => {
            DbError::new(
                codes::STORAGE_ENGINE,
                "HY000",
                format!(
                    "Got error {} '{message}' from storage engine",
                    failure.extended_code
                ),
            )
        }
        _ => from_message(message, scope),
    }
}

/// Errors SQLite reports only through their message.
fn from_message(message: &str, scope: ErrorScope<'_>) -> DbError {
    if let Some(table) = message.strip_prefix("no such table: ") {
        let table = table.rsplit('.').next().unwrap_or(table);
        return match scope.database {
            Some(_) => no_such_table(scope.database, table),
            None => no_database(),
        };
    }
    if let Some(column) = message.strip_prefix("no such column: ") {
        return DbError::new(
            codes::BAD_FIELD,
            "42S22",
            format!("Unknown column '{column}' in 'field list'"),
        );
    }
    if let Some(column) = message.strip_prefix("ambiguous column name: ") {
        return DbError::new(
            codes::NON_UNIQUE,
            "23000",
            format!("Column '{column}' in field list is ambiguous"),
        );
    }
    if let Some(rest) = message.strip_prefix("table ") {
        if let Some(table) = rest.strip_suffix(" already exists") {
            let table = table.trim_matches('"').trim_matches('`');
            return DbError::new(
                codes::TABLE_EXISTS,
                "42S01",
                format!("Table '{table}' already exists"),
            );
        }
    }
    if let Some(name) =
        message.strip_prefix("there is already another table or index with this name: ")
    {
        return DbError::new(
            codes::TABLE_EXISTS,
            "42S01",
            format!("Table '{name}' already exists"),
        );
    }
    if let Some(rest) = message.strip_prefix("index ") {
        if let Some(index) = rest.strip_suffix(" already exists") {
            let key = index.rsplit("__").next().unwrap_or(index);
            return DbError::new(
                codes::DUP_KEYNAME,
                "42000",
                format!("Duplicate key name '{key}'"),
            );
        }
    }
    if let Some(index) = message.strip_prefix("no such index: ") {
        let key = index.rsplit("__").next().unwrap_or(index);
        return DbError::new(
            codes::CANT_DROP_FIELD_OR_KEY,
            "42000",
            format!("Can't DROP '{key}'; check that column/key exists"),
        );
    }
    if let Some(column) = message.strip_prefix("duplicate column name: ") {
        return DbError::new(
            codes::DUP_FIELDNAME,
            "42S21",
            format!("Duplicate column name '{column}'"),
        );
    }
    if let Some(function) = message.strip_prefix("no such function: ") {
        let database = scope.database.unwrap_or("mysql");
        return DbError::new(
            codes::FUNCTION_DOES_NOT_EXIST,
            "42000",
            format!("FUNCTION {database}.{function} does not exist"),
        );
    }
    if message.starts_with("misuse of aggregate") {
        return DbError::new(
            codes::INVALID_GROUP_FUNC_USE,
            "HY000",
            "Invalid use of group function",
        );
    }
    if message.starts_with("too many SQL variables") {
        return DbError::new(
            codes::TOO_MANY_PLACEHOLDERS,
            "HY000",
            "Prepared statement contains too many placeholders",
        );
    }
    if message.starts_with("Unknown system variable") {
        return DbError::new(codes::UNKNOWN_SYSTEM_VARIABLE, "HY000", message);
    }
    if message.starts_with("Illegal argument to a regular expression") {
        return DbError::new(codes::REGEXP_ILLEGAL_ARGUMENT, "HY000", message);
    }
    if let Some(near) = message
        .strip_prefix("near \"")
        .and_then(|rest| rest.split_once("\": syntax error"))
    {
        return syntax_error(near.0);
    }
    if message.contains("incomplete input") {
        return syntax_error("");
    }
    unknown(message)
}

/// `ERROR 1062 (23000): Duplicate entry '?' for key 'name'`. SQLite reports the columns but
/// not the value, so the value is shown as `?`.
fn duplicate_entry(message: &str, scope: ErrorScope<'_>) -> DbError {
    let columns = constraint_columns(message);
    let key = scope
        .conn
        .and_then(|conn| key_name(conn, &columns))
        .unwrap_or_else(|| {
            columns.first().map_or_else(String::new, |c| {
                c.rsplit('.').next().unwrap_or(c).to_owned()
            })
        });
    DbError::new(
        codes::DUP_ENTRY,
        "23000",
        format!("Duplicate entry '?' for key '{key}'"),
    )
}

/// The `table.column` list of a constraint message (`UNIQUE constraint failed: t.a, t.b`).
fn constraint_columns(message: &str) -> Vec<String> {
    let list = message.split_once("failed: ").map_or("", |(_, list)| list);
    list.split(", ")
        .filter(|part| !part.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The MySQL name of the unique key on exactly `columns` (`table.column` strings).
fn key_name(conn: &Connection, columns: &[String]) -> Option<String> {
    let (table, _) = columns.first()?.rsplit_once('.')?;
    let wanted: Vec<&str> = columns
        .iter()
        .filter_map(|c| c.rsplit_once('.').map(|(_, column)| column))
        .collect();
    let schema = schema::load_table(conn, table).ok()??;
    schema
        .indexes
        .iter()
        .filter(|index| index.unique)
        .find(|index| {
            index.columns.len() == wanted.len()
                && index
                    .columns
                    .iter()
                    .zip(&wanted)
                    .all(|(a, b)| a.eq_ignore_ascii_case(b))
        })
        .map(|index| index.name.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(conn: &Connection, sql: &str, database: Option<&str>) -> DbError {
        let error = conn.execute_batch(sql).unwrap_err();
        from_sqlite(
            &error,
            ErrorScope {
                database,
                conn: Some(conn),
            },
        )
    }

    fn connection() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, email TEXT NOT NULL, name TEXT); \
             CREATE UNIQUE INDEX t__email ON t (email); \
             INSERT INTO t VALUES (1, 'a@x', 'a');",
        )
        .unwrap();
        conn
    }

    #[test]
    fn constraint_violations() {
        let conn = connection();
        let duplicate = run(&conn, "INSERT INTO t VALUES (2, 'a@x', 'b')", Some("shop"));
        assert_eq!((duplicate.code, &duplicate.sql_state), (1062, b"23000"));
        assert_eq!(duplicate.message, "Duplicate entry '?' for key 'email'");
        let primary = run(&conn, "INSERT INTO t VALUES (1, 'b@x', 'b')", Some("shop"));
        assert_eq!(primary.code, 1062);
        assert!(
            primary.message.ends_with("for key 'PRIMARY'"),
            "{}",
            primary.message
        );
        let null = run(&conn, "INSERT INTO t (id) VALUES (3)", Some("shop"));
        assert_eq!(
            (null.code, null.message.as_str()),
            (1048, "Column 'email' cannot be null")
        );
    }

    #[test]
    fn missing_objects() {
        let conn = connection();
        let table = run(&conn, "SELECT * FROM nope", Some("shop"));
        assert_eq!((table.code, &table.sql_state), (1146, b"42S02"));
        assert_eq!(table.message, "Table 'shop.nope' doesn't exist");
        assert_eq!(run(&conn, "SELECT * FROM nope", None).code, 1046);
        let column = run(&conn, "SELECT bogus FROM t", Some("shop"));
        assert_eq!((column.code, &column.sql_state), (1054, b"42S22"));
        assert_eq!(run(&conn, "CREATE TABLE t (x)", Some("shop")).code, 1050);
        assert_eq!(
            run(&conn, "CREATE INDEX t__email ON t (name)", Some("shop")).message,
            "Duplicate key name 'email'"
        );
        assert_eq!(run(&conn, "DROP INDEX t__nope", Some("shop")).code, 1091);
        assert_eq!(run(&conn, "SELECT nofunc(1)", Some("shop")).code, 1305);
    }

    #[test]
    fn syntax_errors() {
        let conn = connection();
        let error = run(&conn, "SELEC 1", Some("shop"));
        assert_eq!((error.code, &error.sql_state), (1064, b"42000"));
        assert!(error.message.contains("near 'SELEC"), "{}", error.message);
        assert_eq!(run(&conn, "SELECT (1", Some("shop")).code, 1064);
    }

    #[test]
    fn busy_database_is_a_lock_wait_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let holder = Connection::open(&path).unwrap();
        holder
            .execute_batch("CREATE TABLE t (x); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);")
            .unwrap();
        let waiter = Connection::open(&path).unwrap();
        waiter
            .busy_timeout(std::time::Duration::from_millis(10))
            .unwrap();
        let error = run(&waiter, "INSERT INTO t VALUES (2)", Some("db"));
        assert_eq!(error.code, 1205);
    }
}
