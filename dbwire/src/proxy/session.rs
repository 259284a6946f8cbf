//! One client's session through the proxy: picks a backend connection per statement,
//! pins one while the session holds state on it, and records every statement's digest.

use std::cell::Cell;
use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::time::Instant;

use super::analysis::{self, Boundary, Digest, Route, SessionVariable, StatementInfo};
use super::connection::Outcome;
use super::explain::ExplainJob;
use super::kill::{self, Kill, SessionHandle};
use super::pool::{Pool, PooledConnection};
use super::stats::Execution;
use super::Shared;
use crate::backend::{
    ClientInfo, Column, DbError, ForwardedExecute, PreparedStatement, QueryResult, Relay,
    ReplySink, Session, Value,
};
use crate::client::Relayed;
use crate::protocol::constants::{capabilities, errors, status};
use crate::protocol::multi_statement::has_multiple_statements;

/// State a session holds on its backend connection, which pins the connection to it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Pins {
    /// `SET @var` or `@var :=` ran.
    user_variables: bool,
    /// Temporary tables created and not dropped.
    temporary_tables: u32,
    /// `GET_LOCK` named locks taken and not released.
    named_locks: u32,
    /// `LOCK TABLES` in force.
    table_locks: bool,
    /// `SQL_CALC_FOUND_ROWS` ran; the next statement reads `FOUND_ROWS()`.
    found_rows: bool,
    /// SQL-level `PREPARE` ran.
    sql_prepared: bool,
    /// `SET TRANSACTION` applies to the next transaction on this connection.
    next_transaction: bool,
}

impl Pins {
    fn any(&self) -> bool {
        *self != Pins::default()
    }
}

/// Where a statement runs.
pub(super) enum Target {
    /// The connection pinned to the session.
    Pinned,
    /// A connection from this pool.
    Pool(Arc<Pool>),
}

/// A client session of the proxy backend.
pub struct ProxySession {
    pub(super) shared: Arc<Shared>,
    user: String,
    client_address: String,
    pub(super) schema: Option<String>,
    pub(super) variables: Vec<SessionVariable>,
    pub(super) pinned: Option<PooledConnection>,
    pins: Pins,
    status_flags: u16,
    last_write: Option<Instant>,
    /// The behaviour flags the client negotiated (`CLIENT_FOUND_ROWS`, `CLIENT_LOCAL_FILES`):
    /// its statements run on backend connections that negotiated the same.
    pub(super) behaviour: u32,
    /// The client has multi-statement queries on; backend connections are set the same way.
    pub(super) multi_statements: bool,
    /// The thread id the client knows (0 for a session no connection opened), and what a
    /// `KILL` from another session sees of this one.
    thread_id: u32,
    pub(super) handle: Arc<SessionHandle>,
    /// The executor core serving the client: its pools lend the backend connections.
    pub(super) core: usize,
    /// Digest and analysis of the prepared statements' SQL, made once per text.
    prepared: HashMap<String, Arc<(Digest, StatementInfo)>>,
}

/// Analyses kept per session for prepared statements; past this many the cache starts over.
const MAX_PREPARED_ANALYSES: usize = 1024;

impl ProxySession {
    /// A session for `user` from `client`, in `schema` (checked by the caller).
    pub(super) fn new(
        shared: Arc<Shared>,
        user: &str,
        schema: Option<String>,
        client: &ClientInfo,
    ) -> ProxySession {
        let handle = if client.connection_id == 0 {
            Arc::default()
        } else {
            shared.sessions.register(client.connection_id)
        };
        let variables = client_names(&shared, client.collation)
            .into_iter()
            .collect();
        ProxySession {
            user: user.to_owned(),
            client_address: client.address.map_or_else(String::new, |ip| ip.to_string()),
            schema,
            variables,
            pinned: None,
            pins: Pins::default(),
            status_flags: status::AUTOCOMMIT,
            last_write: None,
            behaviour: client.capabilities & capabilities::BEHAVIOUR,
            multi_statements: client.capabilities & capabilities::MULTI_STATEMENTS != 0,
            thread_id: client.connection_id,
            handle,
            core: client.core,
            prepared: HashMap::new(),
            shared,
        }
    }

    /// `KILL [QUERY] id`: marks the session killed (unless only its query is) and kills the
    /// statement it runs on its backend connection. ERROR 1094 for a thread no session has;
    /// killing one's own connection is ERROR 1927, as in MySQL.
    fn kill(&mut self, kill: Kill) -> Result<QueryResult, DbError> {
        let unknown = || {
            DbError::new(
                errors::UNKNOWN_THREAD,
                "HY000",
                format!("Unknown thread id: {}", kill.id),
            )
        };
        let id = u32::try_from(kill.id).map_err(|_| unknown())?;
        let target = self.shared.sessions.get(id).ok_or_else(unknown)?;
        if let Some((pool, backend_id)) = target.running() {
            let mut connection = pool.acquire_for(self.behaviour)?;
            // The statement may end by itself meanwhile: its backend then answers 1094.
            let _ = connection.query(&format!("KILL QUERY {backend_id}"));
        }
        if kill.query_only {
            return Ok(QueryResult::ok(0));
        }
        target.kill();
        if id == self.thread_id {
            return Err(DbError::new(
                errors::CONNECTION_KILLED,
                "70100",
                "Connection was killed",
            ));
        }
        Ok(QueryResult::ok(0))
    }

    /// The digest and analysis of a prepared statement's `sql`, made at its first use.
    pub(super) fn prepared_analysis(&mut self, sql: &str) -> Arc<(Digest, StatementInfo)> {
        if let Some(analysis) = self.prepared.get(sql) {
            return Arc::clone(analysis);
        }
        if self.prepared.len() >= MAX_PREPARED_ANALYSES {
            self.prepared.clear();
        }
        let analysis = Arc::new(analysis::inspect(sql));
        self.prepared.insert(sql.to_owned(), Arc::clone(&analysis));
        analysis
    }

    /// Picks the backend for a statement: the pinned connection, a replica for a read
    /// outside transactions (unless the session wrote within the sticky window), else the
    /// primary.
    pub(super) fn target(&self, info: &StatementInfo) -> Target {
        if self.pinned.is_some() {
            return Target::Pinned;
        }
        let upstreams = &self.shared.upstreams;
        let routing = upstreams.routing();
        let sticky = self
            .last_write
            .is_some_and(|at| at.elapsed() < routing.sticky_after_write);
        if info.route == Route::Read && routing.read_write_split && !sticky {
            if let Some(replica) = upstreams.pick_replica_for(self.core) {
                return Target::Pool(Arc::clone(replica));
            }
        }
        Target::Pool(Arc::clone(upstreams.primary_for(self.core)))
    }

    /// The pinned connection if there is one, else the primary (for session commands).
    fn pinned_or_primary(&self) -> Target {
        if self.pinned.is_some() {
            Target::Pinned
        } else {
            Target::Pool(Arc::clone(self.shared.upstreams.primary_for(self.core)))
        }
    }

    /// A connection for `target`, aligned with the session's schema and variables. A read
    /// whose replica is unavailable falls back to the primary.
    fn connection(&mut self, target: Target) -> Result<PooledConnection, DbError> {
        let mut connection = match target {
            Target::Pinned => match self.pinned.take() {
                Some(connection) => connection,
                None => self
                    .shared
                    .upstreams
                    .primary_for(self.core)
                    .acquire_for(self.behaviour)?,
            },
            Target::Pool(pool) => match pool.acquire_for(self.behaviour) {
                Ok(connection) => connection,
                Err(error) if Arc::ptr_eq(&pool, self.shared.upstreams.primary_for(self.core)) => {
                    return Err(error)
                }
                Err(_) => self
                    .shared
                    .upstreams
                    .primary_for(self.core)
                    .acquire_for(self.behaviour)?,
            },
        };
        let aligned = connection
            .align(self.schema.as_deref(), &self.variables)
            .and_then(|aligned| match aligned {
                Ok(()) => connection.align_multi_statements(self.multi_statements),
                refused => Ok(refused),
            });
        match aligned {
            Ok(Ok(())) => Ok(connection),
            Ok(Err(error)) => {
                self.keep_or_release(connection);
                Err(error)
            }
            Err(error) => {
                self.connection_lost();
                Err(lost(&error))
            }
        }
    }

    /// Runs one client command on a backend connection: routing, a single retry of a read
    /// whose fresh connection broke, state tracking, and the digest record.
    fn run<T>(
        &mut self,
        sql: &str,
        (digest, info): (&Digest, &StatementInfo),
        mut operation: impl FnMut(&mut PooledConnection) -> Outcome<T>,
        summarize: impl Fn(&Result<T, DbError>) -> Summary,
    ) -> Result<T, DbError> {
        self.run_retrying(sql, (digest, info), &mut operation, &summarize, &|| true)
    }

    /// [`ProxySession::run`], retrying a broken read only while `may_retry` says so (not once
    /// part of a relayed reply reached the client).
    fn run_retrying<T>(
        &mut self,
        sql: &str,
        (digest, info): (&Digest, &StatementInfo),
        operation: &mut dyn FnMut(&mut PooledConnection) -> Outcome<T>,
        summarize: &dyn Fn(&Result<T, DbError>) -> Summary,
        may_retry: &dyn Fn() -> bool,
    ) -> Result<T, DbError> {
        let mut retried = false;
        loop {
            let was_pinned = self.pinned.is_some();
            let mut connection = self.connection(self.target(info))?;
            let started = Instant::now();
            self.handle.set_running(Some((
                Arc::clone(connection.pool()),
                connection.thread_id(),
            )));
            let outcome = operation(&mut connection);
            self.handle.set_running(None);
            let elapsed = started.elapsed();
            let result = match outcome {
                Ok(result) => result,
                Err(error) => {
                    self.connection_lost();
                    if !was_pinned && !retried && info.route == Route::Read && may_retry() {
                        retried = true;
                        continue;
                    }
                    return Err(lost(&error));
                }
            };
            let summary = summarize(&result);
            self.settle(connection, sql, (digest, info), elapsed, &summary);
            return result;
        }
    }

    /// After a statement ran on `connection`: tracks its effects, keeps or releases the
    /// connection and records the digest.
    pub(super) fn settle(
        &mut self,
        mut connection: PooledConnection,
        sql: &str,
        (digest, info): (&Digest, &StatementInfo),
        elapsed: std::time::Duration,
        summary: &Summary,
    ) {
        let hostgroup = connection.pool().role().hostgroup();
        self.track(info, &mut connection, summary.failed);
        self.status_flags = connection.status_flags();
        // Preparing a write writes nothing: only running one makes reads sticky.
        if hostgroup == 0 && info.route == Route::Write && summary.command != Command::Prepare {
            self.last_write = Some(Instant::now());
        }
        self.keep_or_release(connection);
        self.record(sql, (digest, info), hostgroup, elapsed, summary);
    }

    /// Updates the session's pins from what a statement did.
    fn track(&mut self, info: &StatementInfo, connection: &mut PooledConnection, failed: bool) {
        self.pins.found_rows = false;
        if failed {
            return;
        }
        let effects = &info.effects;
        let pins = &mut self.pins;
        // Settings changed by a statement that also did something else ran on this
        // connection only: it stays with the session and is reset when it goes back.
        pins.user_variables |= effects.user_variables || !effects.variables.is_empty();
        pins.temporary_tables = (pins.temporary_tables + effects.temporary_tables_created)
            .saturating_sub(effects.temporary_tables_dropped);
        pins.named_locks += effects.named_locks_acquired;
        if effects.all_named_locks_released {
            pins.named_locks = 0;
        } else {
            pins.named_locks = pins
                .named_locks
                .saturating_sub(effects.named_locks_released);
        }
        match effects.table_locks {
            Some(Boundary::Start) => pins.table_locks = true,
            Some(Boundary::End) => pins.table_locks = false,
            None => {}
        }
        pins.found_rows = effects.calc_found_rows;
        pins.sql_prepared |= effects.prepared_statements;
        pins.next_transaction =
            effects.next_transaction || (pins.next_transaction && !connection.in_transaction());
        if let Some(schema) = &effects.schema {
            self.schema = Some(schema.clone());
            connection.assume_schema(schema);
        }
    }

    /// Pins `connection` while the session holds state on it, else returns it to its pool.
    fn keep_or_release(&mut self, mut connection: PooledConnection) {
        let autocommit = connection.status_flags() & status::AUTOCOMMIT != 0;
        if connection.in_transaction() || !autocommit || self.pins.any() {
            if self.pins.any() {
                connection.mark_needs_reset();
            }
            self.pinned = Some(connection);
        }
    }

    /// The pinned connection broke: whatever state it held is gone with it.
    pub(super) fn connection_lost(&mut self) {
        self.pinned = None;
        self.pins = Pins::default();
        self.status_flags = status::AUTOCOMMIT;
    }

    fn record(
        &self,
        sql: &str,
        (digest, info): (&Digest, &StatementInfo),
        hostgroup: u32,
        elapsed: std::time::Duration,
        summary: &Summary,
    ) {
        if summary.command == Command::Prepare {
            return;
        }
        let stats = &self.shared.stats;
        let slow_id = stats.record(&Execution {
            core: self.core,
            hostgroup,
            schema: self.schema.as_deref().unwrap_or(""),
            user: &self.user,
            client_address: &self.client_address,
            digest,
            sql,
            elapsed,
            rows_affected: summary.rows_affected,
            rows_sent: summary.rows_sent,
            failed: summary.failed,
        });
        if let Some(id) = slow_id {
            if info.route == Route::Read && summary.command == Command::Query {
                self.shared.explainer.submit(ExplainJob {
                    id,
                    schema: self.schema.clone(),
                    sql: sql.to_owned(),
                });
            } else {
                let reason = "EXPLAIN is captured for plain-text reads only";
                stats.set_explain(id, Err(reason.into()));
            }
        }
    }

    /// Runs a statement that only sets session variables: the variables are recorded and
    /// applied to the backend connection now, and replayed on any other one later.
    fn set_session_variables(&mut self, info: &StatementInfo) -> Result<QueryResult, DbError> {
        let previous = self.variables.clone();
        for variable in &info.effects.variables {
            self.variables.retain(|known| known.name != variable.name);
            self.variables.push(variable.clone());
        }
        match self.connection(self.pinned_or_primary()) {
            Ok(connection) => {
                self.status_flags = connection.status_flags();
                self.keep_or_release(connection);
                Ok(QueryResult::ok(0))
            }
            Err(error) => {
                self.variables = previous;
                Err(error)
            }
        }
    }
}

/// The `SET NAMES` that gives backend connections the character set a client's handshake
/// named; none for utf8mb4 (theirs already) or a collation the primary does not know (MariaDB
/// then falls back to its default too).
fn client_names(shared: &Shared, collation: u8) -> Option<SessionVariable> {
    if collation == crate::protocol::constants::DEFAULT_CHARSET {
        return None;
    }
    let (charset, collation) = shared.collation(collation)?;
    Some(SessionVariable {
        name: "names".to_owned(),
        sql: format!("SET NAMES {charset} COLLATE {collation}"),
    })
}

/// True for a single `SET` of session variables and nothing else (`SET NAMES utf8mb4`,
/// `SET SESSION sql_mode = ...`): the proxy records it and replays it on every backend
/// connection the session uses.
pub(super) fn only_sets_session_variables(sql: &str, info: &StatementInfo) -> bool {
    if info.effects.variables.is_empty() {
        return false;
    }
    let mut rest = info.effects.clone();
    rest.variables.clear();
    rest.is_empty()
        && !has_multiple_statements(sql.as_bytes())
        && sql
            .trim_start()
            .get(..4)
            .is_some_and(|head| head.eq_ignore_ascii_case("SET "))
}

/// The client command a statement came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Command {
    /// COM_QUERY: SQL text.
    Query,
    /// COM_STMT_PREPARE: not an execution, so not counted in the digest table.
    Prepare,
    /// COM_STMT_EXECUTE.
    Execute,
}

/// What the digest table needs to know about a command's outcome.
pub(super) struct Summary {
    pub(super) command: Command,
    pub(super) rows_affected: u64,
    pub(super) rows_sent: u64,
    pub(super) failed: bool,
}

impl Summary {
    pub(super) fn new(command: Command) -> Summary {
        Summary {
            command,
            rows_affected: 0,
            rows_sent: 0,
            failed: false,
        }
    }
}

fn summarize_results(results: &Result<Vec<Result<QueryResult, DbError>>, DbError>) -> Summary {
    let mut summary = Summary::new(Command::Query);
    let Ok(results) = results else {
        summary.failed = true;
        return summary;
    };
    for result in results {
        add_result(&mut summary, result);
    }
    summary
}

fn add_result(summary: &mut Summary, result: &Result<QueryResult, DbError>) {
    match result {
        Ok(QueryResult::Ok { affected_rows, .. }) => summary.rows_affected += affected_rows,
        Ok(QueryResult::Rows { rows, .. }) => summary.rows_sent += rows.len() as u64,
        Err(_) => summary.failed = true,
    }
}

/// The ERR a client gets when its backend connection broke mid-statement.
pub(super) fn lost(error: &dyn std::fmt::Display) -> DbError {
    log::debug!("backend connection lost: {error}");
    DbError::new(
        errors::SERVER_LOST,
        "08S01",
        format!(
            "ePHPm proxy: lost the connection to the database during the statement ({error}); \
             an open transaction was rolled back"
        ),
    )
}

impl Session for ProxySession {
    fn query(&mut self, sql: &str) -> Vec<Result<QueryResult, DbError>> {
        if let Some(kill) = kill::parse(sql) {
            return vec![self.kill(kill)];
        }
        let analysis = self.shared.text_analysis(self.core, sql);
        let (digest, info) = &*analysis;
        if only_sets_session_variables(sql, info) {
            return vec![self.set_session_variables(info)];
        }
        let query = |connection: &mut PooledConnection| connection.query(sql).map(Ok);
        match self.run(sql, (digest, info), query, summarize_results) {
            Ok(results) => results,
            Err(error) => vec![Err(error)],
        }
    }

    fn use_database(&mut self, database: &str) -> Result<(), DbError> {
        let previous = self.schema.replace(database.to_owned());
        match self.connection(self.pinned_or_primary()) {
            Ok(connection) => {
                self.keep_or_release(connection);
                Ok(())
            }
            Err(error) => {
                self.schema = previous;
                Err(error)
            }
        }
    }

    fn prepare(&mut self, sql: &str) -> Result<PreparedStatement, DbError> {
        let info = analysis::analyze(sql);
        let unused = Digest {
            hash: 0,
            text: String::new(),
        };
        self.run(
            sql,
            (&unused, &info),
            |connection| {
                Ok(connection.prepare(sql)?.map(|statement| PreparedStatement {
                    params: statement.params,
                    columns: statement.columns,
                }))
            },
            |_| Summary::new(Command::Prepare),
        )
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<QueryResult, DbError> {
        let analysis = self.prepared_analysis(sql);
        let (digest, info) = &*analysis;
        self.run(
            sql,
            (digest, info),
            |connection| connection.execute(sql, params),
            |result| {
                let mut summary = Summary::new(Command::Execute);
                add_result(&mut summary, result);
                summary
            },
        )
    }

    fn field_list(&mut self, table: &str) -> Result<Vec<Column>, DbError> {
        let sql = format!("SELECT * FROM `{}` LIMIT 0", table.replace('`', "``"));
        let results = self.query(&sql);
        match results.into_iter().next() {
            Some(Ok(QueryResult::Rows { columns, .. })) => Ok(columns),
            Some(Err(error)) => Err(error),
            _ => Ok(Vec::new()),
        }
    }

    fn in_transaction(&self) -> bool {
        self.status_flags & status::IN_TRANS != 0
    }

    fn autocommit(&self) -> bool {
        self.status_flags & status::AUTOCOMMIT != 0
    }

    fn relay(&mut self) -> Option<&mut dyn Relay> {
        Some(self)
    }

    fn leasing(&mut self) -> Option<&mut dyn crate::backend::Leasing> {
        Some(self)
    }

    fn killed(&self) -> bool {
        self.handle.is_killed()
    }

    fn set_multi_statements(&mut self, enabled: bool) {
        self.multi_statements = enabled;
    }
}

/// Sends a relayed command on a backend connection, passing the reply to the client.
type Forward<'f> = dyn FnMut(&mut PooledConnection, &mut dyn ReplySink) -> Outcome<Relayed> + 'f;

/// The client of a relayed command, noting whether any of the reply reached it (a broken
/// backend connection can then no longer be retried).
struct Tracked<'a> {
    client: &'a mut dyn ReplySink,
    sent: &'a Cell<bool>,
}

impl ReplySink for Tracked<'_> {
    fn deprecate_eof(&self) -> bool {
        self.client.deprecate_eof()
    }

    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.sent.set(true);
        self.client.send(payload)
    }

    fn send_error(&mut self, error: &DbError) -> io::Result<()> {
        self.sent.set(true);
        self.client.send_error(error)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.client.flush()
    }

    fn receive(&mut self, payload: &mut Vec<u8>) -> io::Result<()> {
        self.client.receive(payload)
    }
}

impl ProxySession {
    /// Runs one relayed command: `forward` sends it on the chosen backend connection and
    /// passes the reply to the client. Errors before any of the reply went out are sent as an
    /// ERR; a backend that breaks in the middle of a reply, or a client that is gone, ends the
    /// client connection.
    fn relay_command(
        &mut self,
        sql: &str,
        (digest, info): (&Digest, &StatementInfo),
        command: Command,
        reply: &mut dyn ReplySink,
        forward: &mut Forward<'_>,
    ) -> io::Result<()> {
        let sent = Cell::new(false);
        let mut operation = |connection: &mut PooledConnection| {
            let mut client = Tracked {
                client: &mut *reply,
                sent: &sent,
            };
            forward(connection, &mut client)
        };
        let summarize = |result: &Result<Relayed, DbError>| {
            let mut summary = Summary::new(command);
            match result {
                Ok(relayed) => {
                    summary.rows_affected = relayed.summary.affected_rows;
                    summary.rows_sent = relayed.summary.rows;
                    summary.failed = relayed.summary.failed;
                }
                Err(_) => summary.failed = true,
            }
            summary
        };
        let outcome = self.run_retrying(sql, (digest, info), &mut operation, &summarize, &|| {
            !sent.get()
        });
        match outcome {
            Ok(Relayed {
                sink_error: Some(error),
                ..
            }) => Err(error),
            Ok(_) => Ok(()),
            Err(error) if sent.get() => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                error.message,
            )),
            Err(error) => reply.send_error(&error),
        }
    }
}

impl Relay for ProxySession {
    fn relay_query(&mut self, raw: &[u8], reply: &mut dyn ReplySink) -> Option<io::Result<()>> {
        // Analysis reads text; the statement goes on as the client's bytes.
        let sql = String::from_utf8_lossy(raw);
        let analysis = self.shared.text_analysis(self.core, &sql);
        let (digest, info) = &*analysis;
        if only_sets_session_variables(&sql, info) || kill::parse(&sql).is_some() {
            return None;
        }
        Some(self.relay_command(
            &sql,
            (digest, info),
            Command::Query,
            reply,
            &mut |connection, client| connection.relay_query(raw, client).map(Ok),
        ))
    }

    fn relay_execute(
        &mut self,
        sql: &str,
        execute: &mut ForwardedExecute,
        reply: &mut dyn ReplySink,
    ) -> io::Result<()> {
        let analysis = self.prepared_analysis(sql);
        let (digest, info) = &*analysis;
        self.relay_command(
            sql,
            (digest, info),
            Command::Execute,
            reply,
            &mut |connection, client| connection.relay_execute(sql, execute, client),
        )
    }
}

impl Drop for ProxySession {
    /// A session that ends while holding state (a transaction, locks, variables) gives its
    /// connection back for a reset; the pool closes it if the reset fails.
    fn drop(&mut self) {
        if let Some(mut connection) = self.pinned.take() {
            connection.mark_needs_reset();
        }
        if self.thread_id != 0 {
            // The handle goes first, so that forgetting sees it gone.
            self.handle = Arc::default();
            self.shared.sessions.forget(self.thread_id);
        }
    }
}
