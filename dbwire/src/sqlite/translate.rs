//! MySQL statements translated to SQLite, by rewriting sqlparser's AST (MySQL dialect).
//!
//! [`translate`] turns the text of one COM_QUERY (or COM_STMT_PREPARE) into one [`Statement`]
//! per MySQL statement: SQLite SQL to run, or something the backend answers itself (USE,
//! transactions, SHOW, table rebuilds for ALTER TABLE, accepted no-ops).
//!
//! Conventions of the SQLite side:
//!
//! - Placeholders are numbered: the `n`th `?` of the MySQL text is `?n`, so parameter `n`
//!   binds to index `n` wherever the translation moved it (`LIMIT ?, ?` is
//!   `LIMIT ?2 OFFSET ?1`). Every step of a [`Statement::Script`] binds the same parameters.
//! - Identifiers are double-quoted where MySQL quoted them; string literals are SQLite's.
//! - MySQL functions SQLite lacks are calls to user functions ([`USER_FUNCTIONS`]).
//! - Declared column types keep the MySQL type (see the `types` module docs): `BIGINT
//!   UNSIGNED(20)`, `VARCHAR(255)`, `VARBINARY BLOB(16)`, `ENUM TEXT 'a' 'b'`. An
//!   AUTO_INCREMENT column is `INTEGER PRIMARY KEY AUTOINCREMENT` (its MySQL type is lost:
//!   report the rowid alias as `bigint unsigned`). Text columns are `COLLATE NOCASE` (MySQL's
//!   `_ci` default) unless their collation is binary. NOT NULL columns without a DEFAULT get
//!   MySQL's implicit one (`''`, `0`, `'0000-00-00 00:00:00'`), as non-strict MySQL inserts.
//! - Indexes are separate `CREATE [UNIQUE] INDEX "<table>__<index>"` statements
//!   ([`index_name`]); prefix lengths are dropped.
//! - `ON UPDATE CURRENT_TIMESTAMP` is emulated by an AFTER UPDATE trigger
//!   `<table>__on_update__<column>` that sets the column to CURRENT_TIMESTAMP when an UPDATE
//!   did not set it ([`on_update_trigger_name`]).
//! - FULLTEXT indexes are FTS5 tables; see the `fulltext` module and [`fts_query`].
//! - `information_schema` tables are subqueries over `sqlite_master` and pragmas.

mod alter;
mod backslashes;
mod ddl;
mod dml;
mod error;
mod expr;
mod fulltext;
mod functions;
mod info_schema;
mod lexer;
mod names;
mod query;
mod session;
mod show;
mod types;

use sqlparser::ast::Statement as Parsed;

use crate::backend::DbError;

pub use self::error::TranslateError;
pub use self::fulltext::fts_query;
pub use self::functions::USER_FUNCTIONS;
pub use self::names::{
    fulltext_table_name, index_name, is_internal_table, mysql_index_name, on_update_trigger_name,
    quote_ident, quote_str,
};
pub use self::query::found_rows_query;

/// What to do for one MySQL statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Statement {
    /// Run on SQLite as is (placeholders numbered, see the module docs).
    Sql {
        /// One SQLite statement.
        sql: String,
        /// What kind of statement it is.
        kind: SqlKind,
    },
    /// A MySQL statement SQLite needs several statements for: CREATE TABLE with its indexes,
    /// triggers and FULLTEXT tables; DROP TABLE of several tables; multi-table DELETE. Run the
    /// steps in order, atomically (inside a savepoint); each step binds the same parameters.
    Script {
        /// The SQLite statements.
        steps: Vec<Step>,
        /// What kind of statement the MySQL statement was.
        kind: SqlKind,
    },
    /// `USE db`.
    Use(String),
    /// `BEGIN`, `START TRANSACTION`.
    Begin,
    /// `START TRANSACTION READ ONLY`: writes inside it fail with ERROR 1792.
    BeginReadOnly,
    /// `COMMIT`.
    Commit,
    /// `ROLLBACK` (to a savepoint: [`Statement::Sql`]).
    Rollback,
    /// `SET autocommit = 0|1`.
    SetAutocommit(bool),
    /// `SET NAMES charset`, `SET CHARACTER SET charset`: the connection's character set
    /// (`utf8mb4` for `DEFAULT`).
    SetNames(String),
    /// `SET [SESSION] name = literal, ...`: session values of system variables, read back by
    /// `@@name` (`None`: `DEFAULT`, back to the server's value).
    SetSession(Vec<(String, Option<SessionValue>)>),
    /// `CREATE DATABASE|SCHEMA`.
    CreateDatabase {
        /// Database name.
        name: String,
        /// IF NOT EXISTS was given.
        if_not_exists: bool,
    },
    /// `DROP DATABASE|SCHEMA`.
    DropDatabase {
        /// Database name.
        name: String,
        /// IF EXISTS was given.
        if_exists: bool,
    },
    /// `SHOW ...`, `DESCRIBE t`: answered by the backend from SQLite's schema.
    Show(Show),
    /// ALTER TABLE operations SQLite cannot do in place; the backend rebuilds the table.
    /// (ALTER TABLEs SQLite can do in place arrive as [`Statement::Script`].)
    AlterTable {
        /// Table name.
        table: String,
        /// Operations, in statement order.
        ops: Vec<AlterOp>,
    },
    /// `TRUNCATE [TABLE] t`: delete all rows and restart AUTO_INCREMENT (the table's row in
    /// `sqlite_sequence`, when that table exists).
    Truncate {
        /// Table name.
        table: String,
    },
    /// Accepted and ignored (SET NAMES, SET SESSION ..., LOCK TABLES, OPTIMIZE TABLE,
    /// ALTER TABLE ... CONVERT TO CHARACTER SET, ...): answer with an OK packet.
    /// `KILL [CONNECTION | QUERY] id`.
    Kill {
        /// The session to kill (`CONNECTION_ID()` of it).
        connection_id: u64,
        /// Only its running statement (`KILL QUERY`).
        query_only: bool,
    },
    Ignored {
        /// Why ignoring it is right.
        reason: &'static str,
    },
}

/// A literal a session variable is set to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionValue {
    /// A string, or a bare word such as `ON`.
    Text(String),
    /// An integer.
    Int(i64),
}

/// One SQLite statement of a [`Statement::Script`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The SQLite statement.
    pub sql: String,
    /// True when the rows this step changes count toward the MySQL statement's affected rows.
    pub counts_rows: bool,
}

impl Step {
    fn ddl(sql: String) -> Step {
        Step {
            sql,
            counts_rows: false,
        }
    }
}

/// The kind of a MySQL statement, for reporting results the way MySQL does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlKind {
    /// A query returning rows. With `calc_found_rows` (SQL_CALC_FOUND_ROWS was given), the
    /// backend records the row count without LIMIT for `FOUND_ROWS()`; see
    /// [`found_rows_query`].
    Select {
        /// SQL_CALC_FOUND_ROWS was given.
        calc_found_rows: bool,
    },
    /// INSERT (also INSERT IGNORE and INSERT ... ON DUPLICATE KEY UPDATE).
    Insert,
    /// UPDATE.
    Update,
    /// DELETE.
    Delete,
    /// REPLACE.
    Replace,
    /// CREATE/DROP/ALTER of tables, indexes and views.
    Ddl,
    /// Anything else (savepoints, EXPLAIN).
    Other,
    /// `DO expr, ...`: a query run for its side effects; the client gets OK, not rows.
    Discard,
}

/// A SHOW statement (or DESCRIBE), answered by the backend. Table names are unquoted; a
/// database qualifier (`FROM db`) is dropped: one SQLite file holds one schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    /// `SHOW [FULL] TABLES [LIKE 'pattern']`.
    Tables {
        /// LIKE pattern.
        like: Option<String>,
        /// FULL: add the `Table_type` column.
        full: bool,
    },
    /// `SHOW [FULL] COLUMNS FROM t [LIKE 'pattern']`, `DESCRIBE t`.
    Columns {
        /// Table name.
        table: String,
        /// FULL: add Collation, Privileges and Comment.
        full: bool,
        /// LIKE pattern.
        like: Option<String>,
    },
    /// `SHOW INDEX|INDEXES|KEYS FROM t`.
    Index {
        /// Table name.
        table: String,
    },
    /// `SHOW CREATE TABLE t` (also for views).
    CreateTable {
        /// Table name.
        table: String,
    },
    /// `SHOW CREATE DATABASE db`.
    CreateDatabase {
        /// Database name.
        name: String,
    },
    /// `SHOW [GLOBAL|SESSION] VARIABLES [LIKE 'pattern']`.
    Variables {
        /// LIKE pattern.
        like: Option<String>,
    },
    /// `SHOW [GLOBAL|SESSION] STATUS [LIKE 'pattern']`.
    Status {
        /// LIKE pattern.
        like: Option<String>,
    },
    /// `SHOW TABLE STATUS [LIKE 'pattern']`.
    TableStatus {
        /// LIKE pattern.
        like: Option<String>,
    },
    /// `SHOW DATABASES|SCHEMAS`.
    Databases,
    /// `SHOW WARNINGS`.
    Warnings,
    /// `SHOW ERRORS`.
    Errors,
    /// `SHOW COLLATION`.
    Collation,
    /// `SHOW CHARACTER SET`.
    CharacterSet,
    /// `SHOW [STORAGE] ENGINES`.
    Engines,
    /// `SHOW [FULL] PROCESSLIST`.
    ProcessList,
    /// `SHOW GRANTS`.
    Grants,
}

/// One ALTER TABLE operation. Column definitions are SQLite column definitions as CREATE TABLE
/// would write them (name first); an AUTO_INCREMENT column is always
/// `"c" INTEGER PRIMARY KEY AUTOINCREMENT`, which replaces the table's primary key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlterOp {
    /// `ADD [COLUMN] def` (positions `FIRST`/`AFTER` are ignored: the column goes last).
    AddColumn {
        /// The SQLite column definition.
        definition_sql: String,
        /// Column name.
        name: String,
    },
    /// `DROP [COLUMN] c`; indexes lose the column (and go when it was their only one).
    DropColumn(String),
    /// `CHANGE [COLUMN] old def`.
    ChangeColumn {
        /// Current column name.
        old: String,
        /// Column name after the change.
        new_name: String,
        /// The new SQLite column definition.
        definition_sql: String,
    },
    /// `MODIFY [COLUMN] def`.
    ModifyColumn {
        /// Column name.
        name: String,
        /// The new SQLite column definition.
        definition_sql: String,
    },
    /// `RENAME COLUMN old TO new`.
    RenameColumn {
        /// Current column name.
        old: String,
        /// New column name.
        new_name: String,
    },
    /// `ALTER [COLUMN] c SET DEFAULT x` (`default_sql` is SQLite DEFAULT syntax) or
    /// `DROP DEFAULT` (`None`).
    SetDefault {
        /// Column name.
        column: String,
        /// The new default.
        default_sql: Option<String>,
    },
    /// `ADD [UNIQUE] INDEX|KEY name (columns)` (prefix lengths dropped).
    AddIndex {
        /// The MySQL index name (see [`index_name`] for the SQLite one).
        name: String,
        /// Indexed columns.
        columns: Vec<String>,
        /// UNIQUE.
        unique: bool,
    },
    /// `ADD FULLTEXT [INDEX|KEY] name (columns)`.
    AddFulltextIndex {
        /// The MySQL index name.
        name: String,
        /// Indexed columns.
        columns: Vec<String>,
    },
    /// `DROP INDEX|KEY name`.
    DropIndex(String),
    /// `ADD PRIMARY KEY (columns)`.
    AddPrimaryKey(Vec<String>),
    /// `DROP PRIMARY KEY`.
    DropPrimaryKey,
    /// `ADD [CONSTRAINT name] FOREIGN KEY ...`: `definition_sql` is the SQLite table
    /// constraint.
    AddForeignKey {
        /// Constraint name.
        name: Option<String>,
        /// The SQLite table constraint.
        definition_sql: String,
    },
    /// `DROP FOREIGN KEY name`.
    DropForeignKey(String),
    /// `RENAME [TO|AS] new` (also `RENAME TABLE old TO new`): indexes, triggers and FULLTEXT
    /// tables named after the table must follow.
    RenameTo(String),
    /// A SQLite statement to run after the operations before it (the trigger emulating
    /// `ON UPDATE CURRENT_TIMESTAMP` for an added or changed column).
    ExtraSql(String),
}

impl AlterOp {
    /// The SQLite statements doing this operation in place on `table`, or `None` when the
    /// table must be rebuilt.
    pub fn in_place_sql(&self, table: &str) -> Option<Vec<String>> {
        alter::in_place_sql(self, table)
    }
}

pub use backslashes::escape_literal_backslashes;

/// Translates the statements of one MySQL query text. Errors carry MySQL's codes: 1064 for
/// syntax, 1065 for an empty query, 1235 for valid MySQL the backend cannot run.
pub fn translate(sql: &str) -> Result<Vec<Statement>, DbError> {
    let source = lexer::SourceText::new(sql);
    let statements = source.statements()?;
    if statements.is_empty() {
        return Err(TranslateError::EmptyQuery.into());
    }
    statements
        .iter()
        .map(|tokens| translate_one(tokens).map_err(DbError::from))
        .collect()
}

fn translate_one(tokens: &lexer::StatementTokens<'_>) -> Result<Statement, TranslateError> {
    // The embedded database reads no files: a clean refusal instead of a syntax error.
    if tokens.starts_with(&["LOAD", "DATA"]) || tokens.starts_with(&["LOAD", "XML"]) {
        return Err(TranslateError::CommandNotAllowed);
    }
    if let Some(statement) = session::from_tokens(tokens) {
        return Ok(statement);
    }
    if tokens.starts_with(&["DO"]) {
        return discard(&tokens.with_first_keyword("SELECT"));
    }
    if let Some(show) = show::from_tokens(tokens) {
        return Ok(Statement::Show(show));
    }
    let mut parsed = tokens.parse()?;
    if tokens.fulltext_index {
        return ddl::create_fulltext_index(parsed);
    }
    if let (Parsed::Update(update), true) = (&mut parsed, tokens.ignore_modifier) {
        update.or = Some(sqlparser::ast::SqliteOnConflict::Ignore);
    }
    translate_parsed(parsed)
}

/// `DO expr, ...`, given as `SELECT expr, ...`: evaluated, answered with OK.
fn discard(select: &lexer::StatementTokens<'_>) -> Result<Statement, TranslateError> {
    match translate_parsed(select.parse()?)? {
        Statement::Sql {
            sql,
            kind: SqlKind::Select { .. },
        } => Ok(Statement::Sql {
            sql,
            kind: SqlKind::Discard,
        }),
        _ => Err(TranslateError::Unsupported(
            "DO with this expression".into(),
        )),
    }
}

fn translate_parsed(parsed: Parsed) -> Result<Statement, TranslateError> {
    match parsed {
        Parsed::Query(query) => query::translate_select(query),
        Parsed::Insert(insert) => dml::translate_insert(insert),
        Parsed::Update(update) => dml::translate_update(update),
        Parsed::Delete(delete) => dml::translate_delete(delete),
        Parsed::Explain { statement, .. } => query::translate_explain(*statement),
        statement @ (Parsed::CreateTable(_)
        | Parsed::CreateIndex(_)
        | Parsed::AlterTable(_)
        | Parsed::Drop { .. }
        | Parsed::Truncate(_)
        | Parsed::RenameTable(_)
        | Parsed::CreateView(_)) => ddl::translate(statement),
        statement => match show::translate(&statement) {
            Some(show) => show.map(Statement::Show),
            None => session::translate(statement),
        },
    }
}
