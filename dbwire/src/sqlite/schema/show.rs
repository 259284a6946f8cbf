//! Result sets for MySQL's `SHOW` statements and `DESCRIBE`, built from the SQLite schema.
//! Column names and types match MySQL 8.0's, since clients read them by name.

use rusqlite::{Connection, OptionalExtension};

use crate::backend::{ColumnType, DbError, QueryResult, Value};
use crate::sqlite::errors::{self, ErrorScope};
use crate::sqlite::schema::{self, quote_mysql_identifier, ColumnSchema, TableSchema};
use crate::sqlite::variables::{self, SessionFacts};

/// Where `SHOW` statements look.
#[derive(Clone, Copy)]
pub struct ShowScope<'a> {
    /// The session's connection (its main database is the selected one).
    pub conn: &'a Connection,
    /// The selected database; `None` when none is selected.
    pub database: Option<&'a str>,
}

impl<'a> ShowScope<'a> {
    fn database(&self) -> Result<&'a str, DbError> {
        self.database.ok_or_else(errors::no_database)
    }

    fn sqlite_error(&self, error: &rusqlite::Error) -> DbError {
        errors::from_sqlite(
            error,
            ErrorScope {
                database: self.database,
                conn: Some(self.conn),
            },
        )
    }

    fn table(&self, table: &str) -> Result<TableSchema, DbError> {
        let database = self.database()?;
        schema::load_table(self.conn, table)
            .map_err(|error| self.sqlite_error(&error))?
            .ok_or_else(|| errors::no_such_table(Some(database), table))
    }
}

/// A result set under construction: typed columns, rows of values.
struct ResultSet {
    columns: Vec<crate::backend::Column>,
    rows: Vec<Vec<Value>>,
}

impl ResultSet {
    fn new(columns: &[(&str, ColumnType)]) -> ResultSet {
        let columns = columns
            .iter()
            .map(|(name, column_type)| crate::backend::Column::new(*name, *column_type))
            .collect();
        ResultSet {
            columns,
            rows: Vec::new(),
        }
    }

    fn push(&mut self, row: Vec<Value>) {
        self.rows.push(row);
    }

    fn finish(self) -> QueryResult {
        QueryResult::Rows {
            columns: self.columns,
            rows: self.rows,
        }
    }
}

fn text(value: impl Into<String>) -> Value {
    Value::Bytes(value.into().into_bytes())
}

fn optional_text(value: Option<String>) -> Value {
    value.map_or(Value::Null, text)
}

fn int(value: usize) -> Value {
    Value::Int(i64::try_from(value).unwrap_or(i64::MAX))
}

/// `SHOW [FULL] TABLES [LIKE 'pattern']`.
pub fn tables(
    scope: ShowScope<'_>,
    like: Option<&str>,
    full: bool,
) -> Result<QueryResult, DbError> {
    let database = scope.database()?;
    let title = format!("Tables_in_{database}");
    let mut columns = vec![(title.as_str(), ColumnType::VarString)];
    if full {
        columns.push(("Table_type", ColumnType::VarString));
    }
    let mut result = ResultSet::new(&columns);
    let names = schema::table_names(scope.conn).map_err(|error| scope.sqlite_error(&error))?;
    for table in names
        .into_iter()
        .filter(|table| like_matches(like, &table.name))
    {
        let mut row = vec![text(table.name)];
        if full {
            row.push(text(if table.is_view { "VIEW" } else { "BASE TABLE" }));
        }
        result.push(row);
    }
    Ok(result.finish())
}

/// `SHOW [FULL] COLUMNS FROM t [LIKE 'pattern']` and `DESCRIBE t`.
pub fn columns(
    scope: ShowScope<'_>,
    table: &str,
    full: bool,
    like: Option<&str>,
) -> Result<QueryResult, DbError> {
    let schema = scope.table(table)?;
    let mut names = vec![("Field", ColumnType::VarString), ("Type", ColumnType::Blob)];
    if full {
        names.push(("Collation", ColumnType::VarString));
    }
    names.extend([
        ("Null", ColumnType::VarString),
        ("Key", ColumnType::VarString),
        ("Default", ColumnType::Blob),
        ("Extra", ColumnType::VarString),
    ]);
    if full {
        names.extend([
            ("Privileges", ColumnType::VarString),
            ("Comment", ColumnType::Blob),
        ]);
    }
    let mut result = ResultSet::new(&names);
    for column in schema
        .columns
        .iter()
        .filter(|column| like_matches(like, &column.name))
    {
        let mut row = vec![
            text(column.name.clone()),
            text(column.mysql_type.display.clone()),
        ];
        if full {
            row.push(optional_text(collation(column).map(str::to_owned)));
        }
        row.extend([
            text(if column.not_null { "NO" } else { "YES" }),
            text(schema.key_kind(&column.name)),
            optional_text(default_value(column)),
            text(if column.auto_increment {
                "auto_increment"
            } else {
                ""
            }),
        ]);
        if full {
            row.extend([text("select,insert,update,references"), text("")]);
        }
        result.push(row);
    }
    Ok(result.finish())
}

/// The collation `SHOW FULL COLUMNS` reports: text columns compare case-insensitively.
pub fn collation(column: &ColumnSchema) -> Option<&'static str> {
    let binary = column.mysql_type.charset == crate::backend::charsets::BINARY;
    (!binary).then_some("utf8mb4_general_ci")
}

/// A column's default as `SHOW COLUMNS` prints it. TEXT and BLOB columns cannot have a
/// literal default in MySQL, so an empty one there is the translator's implicit default for
/// NOT NULL columns and shows as NULL.
pub fn default_value(column: &ColumnSchema) -> Option<String> {
    let default = mysql_default(column.default.as_deref())?;
    let implicit = column.mysql_type.is_blob()
        && matches!(
            column.default.as_deref().map(str::trim),
            Some("''" | "X''" | "x''")
        );
    (!implicit).then_some(default)
}

/// A SQLite DEFAULT expression (as `pragma table_info` reports it) the way MySQL shows a
/// default: string literals unquoted, `NULL` (or no default) as NULL, expressions as written.
pub fn mysql_default(sql: Option<&str>) -> Option<String> {
    let default = sql?.trim();
    let default = default
        .strip_prefix('(')
        .and_then(|d| d.strip_suffix(')'))
        .unwrap_or(default);
    if default.eq_ignore_ascii_case("null") {
        return None;
    }
    if let Some(quoted) = default
        .strip_prefix('\'')
        .and_then(|d| d.strip_suffix('\''))
    {
        return Some(quoted.replace("''", "'"));
    }
    if default.eq_ignore_ascii_case("current_timestamp") {
        return Some("CURRENT_TIMESTAMP".to_owned());
    }
    Some(default.to_owned())
}

/// `SHOW INDEX FROM t`.
pub fn index(scope: ShowScope<'_>, table: &str) -> Result<QueryResult, DbError> {
    let schema = scope.table(table)?;
    let mut result = ResultSet::new(&[
        ("Table", ColumnType::VarString),
        ("Non_unique", ColumnType::Long),
        ("Key_name", ColumnType::VarString),
        ("Seq_in_index", ColumnType::Long),
        ("Column_name", ColumnType::VarString),
        ("Collation", ColumnType::VarString),
        ("Cardinality", ColumnType::LongLong),
        ("Sub_part", ColumnType::LongLong),
        ("Packed", ColumnType::VarString),
        ("Null", ColumnType::VarString),
        ("Index_type", ColumnType::VarString),
        ("Comment", ColumnType::VarString),
        ("Index_comment", ColumnType::VarString),
        ("Visible", ColumnType::VarString),
        ("Expression", ColumnType::Blob),
    ]);
    for index in &schema.indexes {
        for (position, column_name) in index.columns.iter().enumerate() {
            let nullable = schema
                .column(column_name)
                .is_some_and(|column| !column.not_null);
            result.push(vec![
                text(schema.name.clone()),
                Value::Int(i64::from(!index.unique)),
                text(index.name.clone()),
                int(position + 1),
                text(column_name.clone()),
                text("A"),
                Value::Int(0),
                Value::Null,
                Value::Null,
                text(if nullable { "YES" } else { "" }),
                text("BTREE"),
                text(""),
                text(""),
                text("YES"),
                Value::Null,
            ]);
        }
    }
    Ok(result.finish())
}

/// `SHOW CREATE TABLE t`: MySQL-style DDL reconstructed from the SQLite schema.
pub fn create_table(scope: ShowScope<'_>, table: &str) -> Result<QueryResult, DbError> {
    let schema = scope.table(table)?;
    let mut result = if schema.is_view {
        ResultSet::new(&[
            ("View", ColumnType::VarString),
            ("Create View", ColumnType::VarString),
            ("character_set_client", ColumnType::VarString),
            ("collation_connection", ColumnType::VarString),
        ])
    } else {
        ResultSet::new(&[
            ("Table", ColumnType::VarString),
            ("Create Table", ColumnType::VarString),
        ])
    };
    if schema.is_view {
        result.push(vec![
            text(schema.name.clone()),
            text(schema.sql.clone()),
            text("utf8mb4"),
            text("utf8mb4_general_ci"),
        ]);
    } else {
        let auto_increment = next_auto_increment(scope.conn, &schema.name)
            .map_err(|error| scope.sqlite_error(&error))?;
        result.push(vec![
            text(schema.name.clone()),
            text(mysql_ddl(&schema, auto_increment)),
        ]);
    }
    Ok(result.finish())
}

/// The `CREATE TABLE` statement MySQL would print for `schema`.
pub fn mysql_ddl(schema: &TableSchema, auto_increment: Option<i64>) -> String {
    let mut lines: Vec<String> = schema.columns.iter().map(column_ddl).collect();
    for index in &schema.indexes {
        let columns: Vec<String> = index
            .columns
            .iter()
            .map(|column| quote_mysql_identifier(column))
            .collect();
        let columns = columns.join(",");
        lines.push(if index.primary {
            format!("PRIMARY KEY ({columns})")
        } else if index.unique {
            format!(
                "UNIQUE KEY {} ({columns})",
                quote_mysql_identifier(&index.name)
            )
        } else {
            format!("KEY {} ({columns})", quote_mysql_identifier(&index.name))
        });
    }
    let auto_increment =
        auto_increment.map_or_else(String::new, |next| format!(" AUTO_INCREMENT={next}"));
    format!(
        "CREATE TABLE {} (\n  {}\n) ENGINE=InnoDB{auto_increment} DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci",
        quote_mysql_identifier(&schema.name),
        lines.join(",\n  ")
    )
}

fn column_ddl(column: &ColumnSchema) -> String {
    let mut ddl = format!(
        "{} {}",
        quote_mysql_identifier(&column.name),
        column.mysql_type.display
    );
    if column.not_null {
        ddl.push_str(" NOT NULL");
    }
    match (default_value(column), column.default.is_some()) {
        (Some(default), _) if is_bare_default(&default, column) => {
            ddl.push_str(" DEFAULT ");
            ddl.push_str(&default);
        }
        (Some(default), _) => {
            ddl.push_str(" DEFAULT '");
            ddl.push_str(&default.replace('\'', "''"));
            ddl.push('\'');
        }
        (None, _) if !column.not_null && !column.auto_increment && !column.mysql_type.is_blob() => {
            ddl.push_str(" DEFAULT NULL");
        }
        (None, _) => {}
    }
    if column.auto_increment {
        ddl.push_str(" AUTO_INCREMENT");
    }
    ddl
}

/// True when a default prints without quotes: CURRENT_TIMESTAMP, or a number in a numeric column.
fn is_bare_default(default: &str, column: &ColumnSchema) -> bool {
    default == "CURRENT_TIMESTAMP"
        || (column.mysql_type.charset == crate::backend::charsets::BINARY
            && !column.mysql_type.is_blob()
            && default.parse::<f64>().is_ok()
            && column.mysql_type.column_type != ColumnType::DateTime)
}

/// The next AUTO_INCREMENT value of `table`, when it has an auto-numbered column.
pub fn next_auto_increment(conn: &Connection, table: &str) -> rusqlite::Result<Option<i64>> {
    let Some(schema) = schema::load_table(conn, table)? else {
        return Ok(None);
    };
    let Some(column) = schema.auto_increment_column() else {
        return Ok(None);
    };
    let max: Option<i64> = conn.query_row(
        &format!(
            "SELECT max({}) FROM {}",
            schema::quote_identifier(&column.name),
            schema::quote_identifier(&schema.name)
        ),
        [],
        |row| row.get(0),
    )?;
    let has_sequence: bool = conn.query_row(
        "SELECT count(*) > 0 FROM main.sqlite_schema WHERE name = 'sqlite_sequence'",
        [],
        |row| row.get(0),
    )?;
    let sequence: Option<i64> = if has_sequence {
        conn.query_row(
            "SELECT seq FROM main.sqlite_sequence WHERE name = ?1",
            [&schema.name],
            |row| row.get(0),
        )
        .optional()?
    } else {
        None
    };
    Ok(Some(max.unwrap_or(0).max(sequence.unwrap_or(0)) + 1))
}

/// `SHOW VARIABLES [LIKE 'pattern']` (also `SHOW SESSION/GLOBAL VARIABLES`).
pub fn variables(facts: SessionFacts<'_>, like: Option<&str>) -> QueryResult {
    let mut result = ResultSet::new(&[
        ("Variable_name", ColumnType::VarString),
        ("Value", ColumnType::VarString),
    ]);
    for (name, value) in variables::all(facts) {
        if like_matches(like, &name) {
            result.push(vec![text(name), text(value.display())]);
        }
    }
    result.finish()
}

/// `SHOW TABLE STATUS [LIKE 'pattern']`.
pub fn table_status(scope: ShowScope<'_>, like: Option<&str>) -> Result<QueryResult, DbError> {
    scope.database()?;
    let mut result = ResultSet::new(&[
        ("Name", ColumnType::VarString),
        ("Engine", ColumnType::VarString),
        ("Version", ColumnType::LongLong),
        ("Row_format", ColumnType::VarString),
        ("Rows", ColumnType::LongLong),
        ("Avg_row_length", ColumnType::LongLong),
        ("Data_length", ColumnType::LongLong),
        ("Max_data_length", ColumnType::LongLong),
        ("Index_length", ColumnType::LongLong),
        ("Data_free", ColumnType::LongLong),
        ("Auto_increment", ColumnType::LongLong),
        ("Create_time", ColumnType::DateTime),
        ("Update_time", ColumnType::DateTime),
        ("Check_time", ColumnType::DateTime),
        ("Collation", ColumnType::VarString),
        ("Checksum", ColumnType::LongLong),
        ("Create_options", ColumnType::VarString),
        ("Comment", ColumnType::VarString),
    ]);
    let names = schema::table_names(scope.conn).map_err(|error| scope.sqlite_error(&error))?;
    for table in names
        .into_iter()
        .filter(|table| like_matches(like, &table.name))
    {
        let row = if table.is_view {
            table_status_view_row(table.name)
        } else {
            table_status_row(scope.conn, table.name).map_err(|error| scope.sqlite_error(&error))?
        };
        result.push(row);
    }
    Ok(result.finish())
}

fn table_status_row(conn: &Connection, name: String) -> rusqlite::Result<Vec<Value>> {
    let rows: i64 = conn.query_row(
        &format!("SELECT count(*) FROM {}", schema::quote_identifier(&name)),
        [],
        |row| row.get(0),
    )?;
    let auto_increment = next_auto_increment(conn, &name)?;
    Ok(vec![
        text(name),
        text("InnoDB"),
        Value::Int(10),
        text("Dynamic"),
        Value::Int(rows),
        Value::Int(0),
        Value::Int(0),
        Value::Int(0),
        Value::Int(0),
        Value::Int(0),
        auto_increment.map_or(Value::Null, Value::Int),
        Value::Null,
        Value::Null,
        Value::Null,
        text("utf8mb4_general_ci"),
        Value::Null,
        text(""),
        text(""),
    ])
}

fn table_status_view_row(name: String) -> Vec<Value> {
    let mut row = vec![text(name)];
    row.extend(vec![Value::Null; 16]);
    row.push(text("VIEW"));
    row
}

/// `SHOW DATABASES`: `information_schema` and the database files in the data directory.
pub fn databases(mut names: Vec<String>, like: Option<&str>) -> QueryResult {
    names.push("information_schema".to_owned());
    names.sort();
    names.dedup();
    let mut result = ResultSet::new(&[("Database", ColumnType::VarString)]);
    for name in names.into_iter().filter(|name| like_matches(like, name)) {
        result.push(vec![text(name)]);
    }
    result.finish()
}

/// `SHOW WARNINGS` (and `SHOW ERRORS`, always empty here: an error ends the statement).
pub fn warnings(list: &[crate::sqlite::functions::Warning]) -> QueryResult {
    let mut result = ResultSet::new(&[
        ("Level", ColumnType::VarString),
        ("Code", ColumnType::Long),
        ("Message", ColumnType::VarString),
    ]);
    for warning in list {
        result.push(vec![
            text(warning.level),
            Value::Int(i64::from(warning.code)),
            text(&warning.message),
        ]);
    }
    result.finish()
}

/// A result of text columns and rows.
fn text_table(columns: &[&str], rows: &[&[&str]]) -> QueryResult {
    let typed: Vec<(&str, ColumnType)> = columns
        .iter()
        .map(|name| (*name, ColumnType::VarString))
        .collect();
    let mut result = ResultSet::new(&typed);
    for row in rows {
        result.push(row.iter().map(|value| text(*value)).collect());
    }
    result.finish()
}

/// `SHOW CREATE DATABASE name`.
pub fn create_database(name: &str) -> QueryResult {
    let ddl = format!(
        "CREATE DATABASE {} /*!40100 DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci */ \
         /*!80016 DEFAULT ENCRYPTION='N' */",
        quote_mysql_identifier(name)
    );
    text_table(&["Database", "Create Database"], &[&[name, &ddl]])
}

/// `SHOW [GLOBAL|SESSION] STATUS`: the counters monitoring tools probe first.
pub fn status(like: Option<&str>) -> QueryResult {
    let counters: &[&[&str]] = &[
        &["Aborted_clients", "0"],
        &["Aborted_connects", "0"],
        &["Connections", "1"],
        &["Queries", "0"],
        &["Questions", "0"],
        &["Slow_queries", "0"],
        &["Threads_connected", "1"],
        &["Threads_running", "1"],
        &["Uptime", "1"],
    ];
    let rows: Vec<&[&str]> = counters
        .iter()
        .copied()
        .filter(|row| like_matches(like, row[0]))
        .collect();
    text_table(&["Variable_name", "Value"], &rows)
}

/// `SHOW COLLATION`.
pub fn collations() -> QueryResult {
    text_table(
        &[
            "Collation",
            "Charset",
            "Id",
            "Default",
            "Compiled",
            "Sortlen",
            "Pad_attribute",
        ],
        &[
            &[
                "utf8mb4_general_ci",
                "utf8mb4",
                "45",
                "Yes",
                "Yes",
                "1",
                "PAD SPACE",
            ],
            &["utf8mb4_bin", "utf8mb4", "46", "", "Yes", "1", "PAD SPACE"],
            &[
                "utf8mb4_unicode_ci",
                "utf8mb4",
                "224",
                "",
                "Yes",
                "8",
                "PAD SPACE",
            ],
            &[
                "utf8mb4_unicode_520_ci",
                "utf8mb4",
                "246",
                "",
                "Yes",
                "8",
                "PAD SPACE",
            ],
            &[
                "utf8mb4_0900_ai_ci",
                "utf8mb4",
                "255",
                "",
                "Yes",
                "0",
                "NO PAD",
            ],
            &["binary", "binary", "63", "Yes", "Yes", "1", "NO PAD"],
        ],
    )
}

/// `SHOW CHARACTER SET`.
pub fn character_sets() -> QueryResult {
    text_table(
        &["Charset", "Description", "Default collation", "Maxlen"],
        &[
            &["utf8mb4", "UTF-8 Unicode", "utf8mb4_general_ci", "4"],
            &["utf8mb3", "UTF-8 Unicode", "utf8mb3_general_ci", "3"],
            &["binary", "Binary pseudo charset", "binary", "1"],
        ],
    )
}

/// `SHOW ENGINES`: one engine, reported as InnoDB (transactions, savepoints).
pub fn engines() -> QueryResult {
    text_table(
        &[
            "Engine",
            "Support",
            "Comment",
            "Transactions",
            "XA",
            "Savepoints",
        ],
        &[&[
            "InnoDB",
            "DEFAULT",
            "Stored in SQLite by ePHPm",
            "YES",
            "NO",
            "YES",
        ]],
    )
}

/// `SHOW PROCESSLIST`: this backend sees only the asking session.
pub fn process_list(id: u64, user: &str, database: Option<&str>) -> QueryResult {
    let mut result = ResultSet::new(&[
        ("Id", ColumnType::LongLong),
        ("User", ColumnType::VarString),
        ("Host", ColumnType::VarString),
        ("db", ColumnType::VarString),
        ("Command", ColumnType::VarString),
        ("Time", ColumnType::Long),
        ("State", ColumnType::VarString),
        ("Info", ColumnType::VarString),
    ]);
    result.push(vec![
        Value::Int(i64::try_from(id).unwrap_or(i64::MAX)),
        text(user),
        text("localhost"),
        optional_text(database.map(str::to_owned)),
        text("Query"),
        Value::Int(0),
        text("executing"),
        text("SHOW PROCESSLIST"),
    ]);
    result.finish()
}

/// `SHOW GRANTS`: every user may do everything.
pub fn grants(user: &str) -> QueryResult {
    let title = format!("Grants for {user}@localhost");
    let grant = format!("GRANT ALL PRIVILEGES ON *.* TO `{user}`@`localhost` WITH GRANT OPTION");
    text_table(&[&title], &[&[&grant]])
}

/// MySQL `LIKE` matching (`%`, `_`, backslash escapes), case-insensitive; no pattern matches all.
pub fn like_matches(pattern: Option<&str>, text: &str) -> bool {
    let Some(pattern) = pattern else { return true };
    let pattern: Vec<char> = pattern.to_lowercase().chars().collect();
    let text: Vec<char> = text.to_lowercase().chars().collect();
    like_from(&pattern, &text)
}

/// Iterative wildcard matching with single-star backtracking (linear in practice).
fn like_from(pattern: &[char], text: &[char]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some('%') => {
                star = Some((p, t));
                p += 1;
            }
            Some('_') => {
                p += 1;
                t += 1;
            }
            Some('\\') if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                p += 2;
                t += 1;
            }
            Some(&c) if c != '\\' && c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((star_p, star_t)) => {
                    p = star_p + 1;
                    t = star_t + 1;
                    star = Some((star_p, star_t + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == '%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like_matches(None, "anything"));
        assert!(like_matches(Some("wp\\_%"), "wp_posts"));
        assert!(!like_matches(Some("wp\\_%"), "wpxposts"));
        assert!(like_matches(Some("WP_POST_"), "wp_posts"));
        assert!(like_matches(Some("%char%"), "character_set_client"));
        assert!(!like_matches(Some("%char"), "character_set_client"));
        assert!(like_matches(Some("%"), ""));
        assert!(like_matches(Some("a%b%c"), "aXXbYYc"));
        assert!(!like_matches(Some("a%b%c"), "aXXbYY"));
    }
}
