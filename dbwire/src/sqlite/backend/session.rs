//! One client's session: a SQLite connection to the selected database, MySQL transaction
//! semantics on top of SQLite's, and statement results shaped the way MySQL sends them.
//!
//! Transactions: autocommit by default. `BEGIN` / `START TRANSACTION` first commits a
//! transaction already open (as MySQL does), then opens an IMMEDIATE SQLite transaction: it
//! takes the database's single write lock up front, waiting for other writers as InnoDB waits
//! for row locks (up to the busy timeout, then ERR 1205). A deferred transaction could instead
//! fail half-way with a deadlock error when another session wrote after it read, which MySQL
//! applications do not expect. With `SET autocommit = 0` the first statement after a commit
//! opens a deferred transaction implicitly, so an idle session in that mode does not hold the
//! write lock (a write there can fail with ERR 1213 if another session wrote since it began).
//! DDL commits the open transaction first (MySQL's implicit commit). A failed statement
//! inside a transaction leaves the transaction open.

use std::cell::Cell;
use std::sync::Arc;

use rusqlite::Connection;

use super::changes::{ChangeTracker, StatementChanges};
use super::{results, Shared};
use crate::backend::{ClientInfo, Column, DbError, PreparedStatement, QueryResult, Session, Value};
use crate::protocol::charset::Charset;
use crate::protocol::constants::capabilities;
use crate::sqlite::errors::{self, codes, ErrorScope};
use crate::sqlite::functions::{Identity, SessionContext, KILLED_CONNECTION, KILLED_QUERY};
use crate::sqlite::schema::{self, alter, fulltext, show};
use crate::sqlite::translate::{self, AlterOp, SessionValue, Show, SqlKind, Statement, Step};
use crate::sqlite::variables::{self, VariableValue};

/// A client session on the SQLite backend.
pub struct SqliteSession {
    shared: Arc<Shared>,
    /// The selected database's connection, or an in-memory one when none is selected.
    conn: Connection,
    /// The selected database.
    database: Option<String>,
    /// State the MySQL user functions read (LAST_INSERT_ID, FOUND_ROWS, DATABASE).
    context: Arc<SessionContext>,
    /// Row counts of the running statement, fed by the connection's hooks.
    tracker: ChangeTracker,
    /// MySQL's autocommit mode.
    autocommit: bool,
    /// The client negotiated `CLIENT_FOUND_ROWS`: affected rows count matched rows.
    found_rows: bool,
    /// The open transaction began `READ ONLY`.
    read_only: Cell<bool>,
    /// The connection's character set when it is not UTF-8 (from the handshake or `SET NAMES`).
    charset: Option<Charset>,
}

/// What running one SQLite statement produced.
enum StepOutcome {
    /// A result set.
    Rows(QueryResult),
    /// Rows changed, as the hooks saw them, and SQLite's own count.
    Changed(StatementChanges, u64),
}

/// Affected rows and generated id summed over the statements of one MySQL statement.
#[derive(Default)]
struct Tally {
    affected_rows: u64,
    insert_id: Option<u64>,
    matched: u64,
    changed: u64,
    inserted: u64,
    duplicates: u64,
}

impl SqliteSession {
    /// Opens a session for `user` with `database` selected (created first if allowed), for
    /// `client`: known to `CONNECTION_ID()` and `KILL` by the client's thread id (a new number
    /// without one), counting found rows under `CLIENT_FOUND_ROWS`, in the handshake's
    /// character set.
    pub(super) fn open(
        shared: Arc<Shared>,
        user: &str,
        database: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SqliteSession, DbError> {
        let connection_id = match client.connection_id {
            0 => shared.next_session_id(),
            id => u64::from(id),
        };
        let identity = Identity {
            user: user.to_owned(),
            connection_id,
            data_dir: shared.config.data_dir.display().to_string(),
            locks: Arc::clone(&shared.locks),
            sessions: Arc::clone(&shared.sessions),
        };
        let context = Arc::new(SessionContext::new(identity));
        shared.sessions.register(&context);
        let conn = match database {
            Some(name) => shared.open_database(name, &context)?,
            None => shared.open_detached(&context)?,
        };
        let mut session = SqliteSession {
            shared,
            conn,
            database: database.map(str::to_owned),
            context,
            tracker: ChangeTracker::new(),
            autocommit: true,
            found_rows: client.capabilities & capabilities::FOUND_ROWS != 0,
            read_only: Cell::new(false),
            charset: None,
        };
        if let Some(charset) = Charset::of_collation(client.collation) {
            session.use_charset(Some(charset), charset.name);
        }
        session.install_hooks()?;
        session.context.set_database(session.database.clone());
        Ok(session)
    }

    fn install_hooks(&mut self) -> Result<(), DbError> {
        self.tracker
            .install(&mut self.conn)
            .map_err(|error| self.sqlite_error(&error))
    }

    fn scope(&self) -> ErrorScope<'_> {
        ErrorScope {
            database: self.database.as_deref(),
            conn: Some(&self.conn),
        }
    }

    fn sqlite_error(&self, error: &rusqlite::Error) -> DbError {
        errors::from_sqlite(error, self.scope())
    }

    fn execute_batch(&self, sql: &str) -> Result<(), DbError> {
        self.conn
            .execute_batch(sql)
            .map_err(|error| self.sqlite_error(&error))
    }

    fn in_open_transaction(&self) -> bool {
        !self.conn.is_autocommit()
    }

    /// Runs one translated statement and records ROW_COUNT() for the next.
    fn run(&mut self, statement: &Statement, params: &[Value]) -> Result<QueryResult, DbError> {
        // A KILL QUERY that found no statement running is over; a killed connection answers
        // nothing more.
        if self.context.take_kill() == KILLED_CONNECTION {
            return Err(errors::connection_killed());
        }
        // Every statement but the one that reads them starts without warnings.
        if !matches!(statement, Statement::Show(Show::Warnings | Show::Errors)) {
            self.context.clear_warnings();
        }
        self.context.set_in_transaction(self.in_open_transaction());
        let result = self.dispatch(statement, params);
        if let Ok(result) = &result {
            let row_count = match result {
                QueryResult::Ok { affected_rows, .. } => {
                    i64::try_from(*affected_rows).unwrap_or(i64::MAX)
                }
                QueryResult::Rows { .. } => -1,
            };
            self.context.set_row_count(row_count);
        }
        result
    }

    fn dispatch(
        &mut self,
        statement: &Statement,
        params: &[Value],
    ) -> Result<QueryResult, DbError> {
        match statement {
            Statement::Sql { sql, kind } => self.run_sql(sql, *kind, params),
            Statement::Script { steps, kind } => self.run_script(steps, *kind, params),
            Statement::Use(name) => self.use_database(name).map(|()| QueryResult::ok(0)),
            Statement::Begin => self.begin(),
            Statement::SetNames(name) => self.set_names(name),
            Statement::SetSession(values) => {
                // Only variables the server has (which also bounds what a client can store).
                if let Some((unknown, _)) = values
                    .iter()
                    .find(|(name, _)| variables::lookup(name, self.context.facts()).is_none())
                {
                    return Err(DbError::new(
                        1193,
                        "HY000",
                        format!("Unknown system variable '{unknown}'"),
                    ));
                }
                for (name, value) in values {
                    let value = value.as_ref().map(|value| match value {
                        SessionValue::Text(text) => VariableValue::Text(text.clone()),
                        SessionValue::Int(number) => VariableValue::Int(*number),
                    });
                    self.context.set_session_variable(name, value);
                }
                Ok(QueryResult::ok(0))
            }
            Statement::BeginReadOnly => {
                let begun = self.begin()?;
                self.read_only.set(true);
                Ok(begun)
            }
            Statement::Commit => self.finish_transaction("COMMIT"),
            Statement::Rollback => self.finish_transaction("ROLLBACK"),
            Statement::SetAutocommit(on) => self.set_autocommit(*on),
            Statement::CreateDatabase {
                name,
                if_not_exists,
            } => self.create_database(name, *if_not_exists),
            Statement::DropDatabase { name, if_exists } => self.drop_database(name, *if_exists),
            Statement::Show(request) => self.show(request),
            Statement::AlterTable { table, ops } => self.alter_table(table, ops),
            Statement::Truncate { table } => self.truncate(table),
            Statement::Kill {
                connection_id,
                query_only,
            } => {
                let how = if *query_only {
                    KILLED_QUERY
                } else {
                    KILLED_CONNECTION
                };
                if self.shared.sessions.kill(*connection_id, how) {
                    Ok(QueryResult::ok(0))
                } else {
                    Err(errors::unknown_thread(*connection_id))
                }
            }
            Statement::Ignored { reason } => {
                log::debug!("statement accepted without effect: {reason}");
                Ok(QueryResult::ok(0))
            }
        }
    }

    /// MySQL's transaction rules before a statement: DDL commits the open transaction; with
    /// autocommit off, anything else opens one when none is open.
    fn prepare_transaction(&self, kind: SqlKind) -> Result<(), DbError> {
        let writes = matches!(
            kind,
            SqlKind::Insert | SqlKind::Update | SqlKind::Delete | SqlKind::Replace
        );
        if writes && self.read_only.get() && self.in_open_transaction() {
            return Err(errors::read_only_transaction());
        }
        if kind == SqlKind::Ddl {
            self.commit_open_transaction()
        } else if !self.autocommit && !self.in_open_transaction() {
            self.execute_batch("BEGIN")
        } else {
            Ok(())
        }
    }

    fn run_sql(
        &mut self,
        sql: &str,
        kind: SqlKind,
        params: &[Value],
    ) -> Result<QueryResult, DbError> {
        self.prepare_transaction(kind)?;
        let outcome = self.execute_step(sql, params);
        if kind == SqlKind::Ddl {
            self.after_ddl()?;
        }
        match outcome? {
            StepOutcome::Rows(_) if kind == SqlKind::Discard => Ok(QueryResult::ok(0)),
            StepOutcome::Rows(rows) => self.finish_select(rows, sql, kind, params),
            StepOutcome::Changed(changes, sqlite_count) => {
                let mut tally = Tally::default();
                self.count(&mut tally, kind, &changes, sqlite_count);
                Ok(self.ok_result(kind, &tally))
            }
        }
    }

    /// Runs the steps of a script atomically (inside a savepoint).
    fn run_script(
        &mut self,
        steps: &[Step],
        kind: SqlKind,
        params: &[Value],
    ) -> Result<QueryResult, DbError> {
        self.prepare_transaction(kind)?;
        let outcome = self.in_savepoint("ephpm_script", |session| {
            session.run_steps(steps, kind, params)
        });
        if kind == SqlKind::Ddl {
            self.after_ddl()?;
        }
        match outcome? {
            (Some(rows), _) => Ok(rows),
            (None, tally) => Ok(self.ok_result(kind, &tally)),
        }
    }

    fn run_steps(
        &mut self,
        steps: &[Step],
        kind: SqlKind,
        params: &[Value],
    ) -> Result<(Option<QueryResult>, Tally), DbError> {
        let mut tally = Tally::default();
        let mut rows = None;
        for step in steps {
            match self.execute_step(&step.sql, params)? {
                StepOutcome::Rows(result) => rows = Some(result),
                StepOutcome::Changed(changes, sqlite_count) if step.counts_rows => {
                    self.count(&mut tally, kind, &changes, sqlite_count);
                }
                StepOutcome::Changed(..) => {}
            }
        }
        Ok((rows, tally))
    }

    /// Prepares, binds and runs one SQLite statement.
    fn execute_step(&self, sql: &str, params: &[Value]) -> Result<StepOutcome, DbError> {
        let limit = self.shared.config.max_statement_time;
        self.context.start_statement(limit);
        let outcome = self.execute_step_untimed(sql, params);
        let overdue = self.context.statement_overdue();
        self.context.end_statement();
        match outcome {
            Err(_) if overdue => Err(match self.context.take_kill() {
                KILLED_QUERY => errors::query_interrupted(),
                KILLED_CONNECTION => errors::connection_killed(),
                _ => errors::statement_time_exceeded(),
            }),
            outcome => outcome,
        }
    }

    fn execute_step_untimed(&self, sql: &str, params: &[Value]) -> Result<StepOutcome, DbError> {
        self.tracker.reset();
        let mut statement = self
            .conn
            .prepare(sql)
            .map_err(|error| self.sqlite_error(&error))?;
        results::bind(&mut statement, params)?;
        if statement.column_count() > 0 {
            let limit = self.shared.config.max_result_bytes;
            let rows = results::read(&mut statement, self.database.as_deref(), limit).map_err(
                |error| match error {
                    results::ReadError::Sqlite(error) => self.sqlite_error(&error),
                    results::ReadError::TooLarge(limit) => errors::result_too_large(limit),
                },
            )?;
            return Ok(StepOutcome::Rows(rows));
        }
        statement
            .raw_execute()
            .map_err(|error| self.sqlite_error(&error))?;
        drop(statement);
        Ok(StepOutcome::Changed(
            self.tracker.take(),
            self.conn.changes(),
        ))
    }

    /// Keeps FULLTEXT tables in step with DROP TABLE.
    fn after_ddl(&self) -> Result<(), DbError> {
        fulltext::drop_orphans(&self.conn).map_err(|error| self.sqlite_error(&error))
    }

    /// Records FOUND_ROWS() after a SELECT: the row count, or with SQL_CALC_FOUND_ROWS the
    /// count the query gives without its LIMIT.
    fn finish_select(
        &mut self,
        rows: QueryResult,
        sql: &str,
        kind: SqlKind,
        params: &[Value],
    ) -> Result<QueryResult, DbError> {
        let returned = match &rows {
            QueryResult::Rows { rows, .. } => rows.len() as u64,
            QueryResult::Ok { .. } => 0,
        };
        let found = match kind {
            SqlKind::Select {
                calc_found_rows: true,
            } => self.count_without_limit(sql, params)?,
            _ => None,
        };
        self.context.set_found_rows(found.unwrap_or(returned));
        Ok(rows)
    }

    fn count_without_limit(&self, sql: &str, params: &[Value]) -> Result<Option<u64>, DbError> {
        let Some(count_sql) = translate::found_rows_query(sql) else {
            return Ok(None);
        };
        let StepOutcome::Rows(QueryResult::Rows { rows, .. }) =
            self.execute_step(&count_sql, params)?
        else {
            return Ok(None);
        };
        let count = match rows.first().and_then(|row| row.first()) {
            Some(Value::Int(count)) => u64::try_from(*count).unwrap_or(0),
            Some(Value::UInt(count)) => *count,
            _ => 0,
        };
        Ok(Some(count))
    }

    /// Adds one statement's changes to `tally`, the way MySQL counts affected rows: an
    /// upsert that updated a row counts 2, a REPLACE that replaced one counts 2, an UPDATE
    /// counts the rows whose values changed.
    fn count(
        &self,
        tally: &mut Tally,
        kind: SqlKind,
        changes: &StatementChanges,
        sqlite_count: u64,
    ) {
        tally.affected_rows += match kind {
            // Under CLIENT_FOUND_ROWS a duplicate left as it was counts 1, not 0.
            SqlKind::Insert if self.found_rows => {
                changes.inserted + changes.changed + changes.matched
            }
            SqlKind::Insert => changes.inserted + 2 * changes.changed,
            SqlKind::Replace => changes.inserted + changes.deleted,
            SqlKind::Update if self.found_rows => changes.matched,
            SqlKind::Update => changes.changed,
            SqlKind::Delete => sqlite_count,
            _ => 0,
        };
        tally.matched += changes.matched;
        tally.changed += changes.changed;
        tally.inserted += changes.inserted;
        tally.duplicates += changes.matched + changes.deleted;
        if tally.insert_id.is_none() {
            tally.insert_id = self.generated_id(kind, changes);
        }
    }

    /// The AUTO_INCREMENT value an INSERT generated: the first inserted rowid, when the target
    /// table numbers its rows itself.
    fn generated_id(&self, kind: SqlKind, changes: &StatementChanges) -> Option<u64> {
        if !matches!(kind, SqlKind::Insert | SqlKind::Replace) || changes.inserted == 0 {
            return None;
        }
        let table = changes.target.as_deref()?;
        if !schema::has_auto_increment(&self.conn, table).unwrap_or(false) {
            return None;
        }
        u64::try_from(changes.first_insert_rowid?).ok()
    }

    /// `SET NAMES name`: the character set the client sends and reads from now on (1115 for
    /// one MySQL does not have).
    fn set_names(&mut self, name: &str) -> Result<QueryResult, DbError> {
        let name = name.trim_matches(['\'', '"', '`']).to_ascii_lowercase();
        let utf8 = matches!(name.as_str(), "utf8mb4" | "utf8" | "utf8mb3" | "binary");
        let charset = Charset::named(&name);
        if charset.is_none() && !utf8 {
            return Err(DbError::new(
                1115,
                "42000",
                format!("Unknown character set: '{name}'"),
            ));
        }
        self.use_charset(charset, &name);
        Ok(QueryResult::ok(0))
    }

    /// Records the connection character set, which `@@character_set_client`,
    /// `@@character_set_connection` and `@@character_set_results` then report.
    fn use_charset(&mut self, charset: Option<Charset>, name: &str) {
        self.charset = charset;
        let value = (name != "utf8mb4").then(|| VariableValue::Text(name.to_owned()));
        for variable in [
            "character_set_client",
            "character_set_connection",
            "character_set_results",
        ] {
            self.context.set_session_variable(variable, value.clone());
        }
        let collation =
            charset.map(|charset| VariableValue::Text(charset.collation_name.to_owned()));
        self.context
            .set_session_variable("collation_connection", collation);
    }

    /// `sql` as the translator must read it: with its literals' backslashes doubled under
    /// `sql_mode = NO_BACKSLASH_ESCAPES`.
    fn literal_text<'s>(&self, sql: &'s str) -> std::borrow::Cow<'s, str> {
        if self.context.no_backslash_escapes() {
            translate::escape_literal_backslashes(sql)
        } else {
            std::borrow::Cow::Borrowed(sql)
        }
    }

    /// The OK packet of a statement without a result set; records LAST_INSERT_ID().
    fn ok_result(&self, kind: SqlKind, tally: &Tally) -> QueryResult {
        if let Some(id) = tally.insert_id {
            self.context.set_last_insert_id(id);
        }
        let info = match kind {
            SqlKind::Update => format!(
                "Rows matched: {}  Changed: {}  Warnings: 0",
                tally.matched, tally.changed
            ),
            SqlKind::Insert | SqlKind::Replace if tally.inserted + tally.matched > 1 => format!(
                "Records: {}  Duplicates: {}  Warnings: 0",
                tally.inserted + tally.matched,
                tally.duplicates
            ),
            _ => String::new(),
        };
        QueryResult::Ok {
            affected_rows: tally.affected_rows,
            last_insert_id: tally.insert_id.unwrap_or(0),
            warnings: self.context.warning_count(),
            info,
        }
    }

    fn commit_open_transaction(&self) -> Result<(), DbError> {
        self.read_only.set(false);
        if self.in_open_transaction() {
            self.execute_batch("COMMIT")?;
        }
        Ok(())
    }

    /// `BEGIN` / `START TRANSACTION`: commits an open transaction first, as MySQL does, then
    /// takes the write lock (see the module documentation).
    fn begin(&mut self) -> Result<QueryResult, DbError> {
        self.commit_open_transaction()?;
        self.execute_batch("BEGIN IMMEDIATE")?;
        Ok(QueryResult::ok(0))
    }

    /// `COMMIT` or `ROLLBACK`; without an open transaction there is nothing to do.
    fn finish_transaction(&mut self, verb: &str) -> Result<QueryResult, DbError> {
        self.read_only.set(false);
        if self.in_open_transaction() {
            self.execute_batch(verb)?;
        }
        Ok(QueryResult::ok(0))
    }

    /// `SET autocommit = 0|1`; switching it on commits the open transaction.
    fn set_autocommit(&mut self, on: bool) -> Result<QueryResult, DbError> {
        if on {
            self.commit_open_transaction()?;
        }
        self.autocommit = on;
        self.context.set_autocommit(on);
        Ok(QueryResult::ok(0))
    }

    fn create_database(&mut self, name: &str, if_not_exists: bool) -> Result<QueryResult, DbError> {
        if self.shared.create_database(name, &self.context)? {
            return Ok(QueryResult::ok(1));
        }
        if if_not_exists {
            return Ok(QueryResult::ok(0));
        }
        Err(DbError::new(
            codes::DB_CREATE_EXISTS,
            "HY000",
            format!("Can't create database '{name}'; database exists"),
        ))
    }

    fn drop_database(&mut self, name: &str, if_exists: bool) -> Result<QueryResult, DbError> {
        if self.database.as_deref() == Some(name) {
            self.commit_open_transaction()?;
            let detached = self.shared.open_detached(&self.context)?;
            self.switch_connection(None, detached)?;
        }
        if self.shared.drop_database(name)? || if_exists {
            return Ok(QueryResult::ok(0));
        }
        Err(DbError::new(
            codes::DB_DROP_EXISTS,
            "HY000",
            format!("Can't drop database '{name}'; database doesn't exist"),
        ))
    }

    fn switch_connection(
        &mut self,
        database: Option<String>,
        conn: Connection,
    ) -> Result<(), DbError> {
        self.conn = conn;
        self.database = database;
        self.context.set_database(self.database.clone());
        self.install_hooks()
    }

    fn show(&self, request: &Show) -> Result<QueryResult, DbError> {
        let scope = show::ShowScope {
            conn: &self.conn,
            database: self.database.as_deref(),
        };
        match request {
            Show::Tables { like, full } => show::tables(scope, like.as_deref(), *full),
            Show::Columns { table, full, like } => {
                show::columns(scope, table, *full, like.as_deref())
            }
            Show::Index { table } => show::index(scope, table),
            Show::CreateTable { table } => show::create_table(scope, table),
            Show::CreateDatabase { name } => {
                if !self.shared.database_names().contains(name) {
                    return Err(errors::unknown_database(name));
                }
                Ok(show::create_database(name))
            }
            Show::Variables { like } => Ok(show::variables(self.context.facts(), like.as_deref())),
            Show::Status { like } => Ok(show::status(like.as_deref())),
            Show::TableStatus { like } => show::table_status(scope, like.as_deref()),
            Show::Databases => Ok(show::databases(self.shared.database_names(), None)),
            Show::Warnings => Ok(show::warnings(&self.context.warnings())),
            Show::Errors => Ok(show::warnings(&[])),
            Show::Collation => Ok(show::collations()),
            Show::CharacterSet => Ok(show::character_sets()),
            Show::Engines => Ok(show::engines()),
            Show::ProcessList => {
                let identity = self.context.identity();
                Ok(show::process_list(
                    identity.connection_id,
                    &identity.user,
                    self.database.as_deref(),
                ))
            }
            Show::Grants => Ok(show::grants(&self.context.identity().user)),
        }
    }

    fn alter_table(&mut self, table: &str, ops: &[AlterOp]) -> Result<QueryResult, DbError> {
        self.database.as_ref().ok_or_else(errors::no_database)?;
        self.commit_open_transaction()?;
        alter::alter_table(&self.conn, table, ops, self.scope())?;
        Ok(QueryResult::Ok {
            affected_rows: 0,
            last_insert_id: 0,
            warnings: 0,
            info: "Records: 0  Duplicates: 0  Warnings: 0".to_owned(),
        })
    }

    /// `TRUNCATE TABLE`: removes every row and restarts AUTO_INCREMENT numbering.
    fn truncate(&mut self, table: &str) -> Result<QueryResult, DbError> {
        let database = self.database.clone().ok_or_else(errors::no_database)?;
        self.commit_open_transaction()?;
        let found =
            schema::load_table(&self.conn, table).map_err(|error| self.sqlite_error(&error))?;
        let Some(found) = found.filter(|found| !found.is_view) else {
            return Err(errors::no_such_table(Some(&database), table));
        };
        let has_sequence = schema::table_exists(&self.conn, "sqlite_sequence")
            .map_err(|error| self.sqlite_error(&error))?;
        self.in_savepoint("ephpm_truncate", |session| {
            session.execute_batch(&format!(
                "DELETE FROM {}",
                translate::quote_ident(&found.name)
            ))?;
            if has_sequence {
                session.execute_batch(&format!(
                    "DELETE FROM sqlite_sequence WHERE name = {}",
                    translate::quote_str(&found.name)
                ))?;
            }
            Ok(())
        })?;
        Ok(QueryResult::ok(0))
    }

    /// Runs `work` inside savepoint `name`: released on success, rolled back on error.
    fn in_savepoint<T>(
        &mut self,
        name: &str,
        work: impl FnOnce(&mut SqliteSession) -> Result<T, DbError>,
    ) -> Result<T, DbError> {
        self.execute_batch(&format!("SAVEPOINT {name}"))?;
        let outcome = work(self);
        let finish = if outcome.is_ok() {
            format!("RELEASE {name}")
        } else {
            format!("ROLLBACK TO {name}; RELEASE {name}")
        };
        let finished = self.execute_batch(&finish);
        let value = outcome?;
        finished?;
        Ok(value)
    }

    /// Runs every statement of a translation, stopping at the first error.
    fn run_all(
        &mut self,
        statements: &[Statement],
        params: &[Value],
    ) -> Vec<Result<QueryResult, DbError>> {
        let mut results = Vec::with_capacity(statements.len());
        for statement in statements {
            let result = self.run(statement, params);
            let failed = result.is_err();
            results.push(result);
            if failed {
                break;
            }
        }
        results
    }

    /// Checks that every statement of a prepared translation compiles, and counts its
    /// parameters. Later steps of a script may depend on earlier ones (an index on a table
    /// the script creates), so only their first step must compile now.
    fn check_prepared(&self, statements: &[Statement]) -> Result<PreparedStatement, DbError> {
        let mut prepared = PreparedStatement {
            params: 0,
            columns: Vec::new(),
        };
        for statement in statements {
            let sqls: Vec<&str> = match statement {
                Statement::Sql { sql, .. } => vec![sql.as_str()],
                Statement::Script { steps, .. } => {
                    steps.iter().map(|step| step.sql.as_str()).collect()
                }
                _ => continue,
            };
            for (position, sql) in sqls.iter().enumerate() {
                let checked = match self.conn.prepare(sql) {
                    Ok(checked) => checked,
                    Err(_) if position > 0 => continue,
                    Err(error) => return Err(self.sqlite_error(&error)),
                };
                let params = u16::try_from(checked.parameter_count()).unwrap_or(u16::MAX);
                prepared.params = prepared.params.max(params);
                if statements.len() == 1 && checked.column_count() > 0 {
                    prepared.columns = results::describe(&checked, self.database.as_deref());
                }
            }
        }
        Ok(prepared)
    }
}

impl Session for SqliteSession {
    fn query(&mut self, sql: &str) -> Vec<Result<QueryResult, DbError>> {
        let sql = self.literal_text(sql);
        match self.shared.translate(&sql) {
            Ok(statements) => self.run_all(&statements, &[]),
            Err(error) => vec![Err(error)],
        }
    }

    fn use_database(&mut self, database: &str) -> Result<(), DbError> {
        if self.database.as_deref() == Some(database) {
            return Ok(());
        }
        if self.in_open_transaction() {
            return Err(DbError::new(
                codes::CANT_DO_IN_TRANSACTION,
                "25000",
                "You are not allowed to execute this command in a transaction",
            ));
        }
        let conn = self.shared.open_database(database, &self.context)?;
        self.switch_connection(Some(database.to_owned()), conn)
    }

    fn prepare(&mut self, sql: &str) -> Result<PreparedStatement, DbError> {
        let statements = self.shared.translate(&self.literal_text(sql))?;
        self.check_prepared(&statements)
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<QueryResult, DbError> {
        let statements = self.shared.translate(&self.literal_text(sql))?;
        let mut last = Ok(QueryResult::ok(0));
        for result in self.run_all(&statements, params) {
            last = result;
        }
        last
    }

    fn field_list(&mut self, table: &str) -> Result<Vec<Column>, DbError> {
        let database = self.database.clone().ok_or_else(errors::no_database)?;
        let table_schema = schema::load_table(&self.conn, table)
            .map_err(|error| self.sqlite_error(&error))?
            .ok_or_else(|| errors::no_such_table(Some(&database), table))?;
        Ok(results::table_columns(&table_schema, &database))
    }

    fn in_transaction(&self) -> bool {
        self.in_open_transaction()
    }

    fn autocommit(&self) -> bool {
        self.autocommit
    }

    fn warning_count(&self) -> u16 {
        self.context.warning_count()
    }

    fn killed(&self) -> bool {
        self.context.connection_killed()
    }

    fn connection_charset(&self) -> Option<Charset> {
        self.charset
    }
}
