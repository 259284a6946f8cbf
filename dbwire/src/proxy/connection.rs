//! A backend connection as the pool sees it: the client connection plus the session state it
//! carries (schema, session variables, server-side prepared statements) so that it can be
//! aligned with whichever client session borrows it next.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::analysis::SessionVariable;
use crate::backend::{DbError, ForwardedExecute, QueryResult, ReplySink, Value};
use crate::client::{ClientError, ConnectOptions, Connection, Relayed, ServerStatement};
use crate::protocol::constants::{capabilities, commands, status};

/// The outcome of a statement on a backend connection: `Err` when the connection broke
/// (it is marked broken and will be closed), `Ok(Err)` for a SQL error.
pub type Outcome<T> = Result<Result<T, DbError>, ClientError>;

/// The statement that puts `variable` back to the server's default.
fn reset_sql(variable: &SessionVariable) -> String {
    if variable.name == "names" {
        "SET NAMES utf8mb4".to_owned()
    } else {
        format!("SET SESSION {} = DEFAULT", variable.name)
    }
}

/// A pooled connection to an upstream server.
#[derive(Debug)]
pub struct BackendConnection {
    connection: Connection,
    created: Instant,
    last_used: Instant,
    schema: Option<String>,
    variables: Vec<SessionVariable>,
    statements: StatementCache,
    broken: bool,
    needs_reset: bool,
    /// Multi-statement queries are on (`CLIENT_MULTI_STATEMENTS`, then COM_SET_OPTION).
    multi_statements: bool,
}

impl BackendConnection {
    /// Connects and logs in.
    pub fn open(
        options: &ConnectOptions,
        statements_capacity: usize,
    ) -> Result<BackendConnection, ClientError> {
        let connection = Connection::connect(options)?;
        let multi_statements = connection.capabilities() & capabilities::MULTI_STATEMENTS != 0;
        let now = Instant::now();
        Ok(BackendConnection {
            connection,
            created: now,
            last_used: now,
            schema: options.database.clone(),
            variables: Vec::new(),
            statements: StatementCache::new(statements_capacity),
            broken: false,
            needs_reset: false,
            multi_statements,
        })
    }

    /// The backend's thread id for this connection (what its `KILL` takes).
    pub fn thread_id(&self) -> u32 {
        self.connection.connection_id()
    }

    /// The server's version exactly as it announced it.
    pub fn announced_version(&self) -> &str {
        self.connection.announced_version()
    }

    /// Time since the connection was opened.
    pub fn age(&self) -> Duration {
        self.created.elapsed()
    }

    /// When the connection last went back to the pool.
    pub fn last_used(&self) -> Instant {
        self.last_used
    }

    /// Marks the connection as just used.
    pub fn touch(&mut self) {
        self.last_used = Instant::now();
    }

    /// True once a statement failed at the transport level.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// Server status flags of the last answer (`constants::status`).
    pub fn status_flags(&self) -> u16 {
        self.connection.status_flags()
    }

    /// The behaviour flags (`capabilities::BEHAVIOUR`) the connection negotiated: only
    /// sessions whose client negotiated the same may use it (they are fixed at login).
    pub fn behaviour(&self) -> u32 {
        self.connection.capabilities() & crate::protocol::constants::capabilities::BEHAVIOUR
    }

    /// True while the upstream reports an open transaction on this connection.
    pub fn in_transaction(&self) -> bool {
        self.connection.status_flags() & status::IN_TRANS != 0
    }

    /// Records that a session left state here (user variables, temporary tables, locks)
    /// that must be reset before another session may use the connection.
    pub fn mark_needs_reset(&mut self) {
        self.needs_reset = true;
    }

    /// Checks the connection with COM_PING.
    pub fn ping(&mut self) -> Result<(), ClientError> {
        let result = self.connection.ping();
        self.broken |= result.is_err();
        result
    }

    /// Makes the connection fit for another session: rolls back an open transaction and
    /// drops session state with COM_RESET_CONNECTION when needed. False if that failed and
    /// the connection must be closed.
    pub fn make_clean(&mut self) -> bool {
        if !self.needs_reset && !self.in_transaction() {
            return true;
        }
        match self.connection.reset_connection() {
            Ok(Ok(())) => {
                self.needs_reset = false;
                self.variables.clear();
                self.statements.forget_all();
                !self.in_transaction()
            }
            Ok(Err(error)) => {
                log::warn!("COM_RESET_CONNECTION refused ({error}); closing the connection");
                false
            }
            Err(error) => {
                log::debug!("COM_RESET_CONNECTION failed: {error}");
                self.broken = true;
                false
            }
        }
    }

    /// Selects `schema` and applies `variables` (resetting ones the previous session set
    /// and this one did not), in at most two round trips, none when already aligned.
    pub fn align(&mut self, schema: Option<&str>, variables: &[SessionVariable]) -> Outcome<()> {
        if let Some(schema) = schema {
            if self.schema.as_deref() != Some(schema) {
                if let Err(error) = self.track(|c| c.init_db(schema))? {
                    return Ok(Err(error));
                }
                self.schema = Some(schema.to_owned());
            }
        }
        if self.variables == variables {
            return Ok(Ok(()));
        }
        let changes = self.variable_changes(variables);
        // One round trip when the connection takes several statements at once.
        let batches = if self.multi_statements {
            vec![changes.join("; ")]
        } else {
            changes
        };
        for sql in batches {
            let results = self.track(|c| c.query(&sql))?;
            if let Some(Err(error)) = results.into_iter().find(Result::is_err) {
                return Ok(Err(error));
            }
        }
        self.variables = variables.to_vec();
        Ok(Ok(()))
    }

    /// Turns multi-statement queries on or off with COM_SET_OPTION unless they already are,
    /// so that the server refuses a second statement exactly when it would for the client.
    pub fn align_multi_statements(&mut self, enabled: bool) -> Outcome<()> {
        if self.multi_statements == enabled {
            return Ok(Ok(()));
        }
        let set = self.track(|c| c.set_multi_statements(enabled))?;
        if set.is_ok() {
            self.multi_statements = enabled;
        }
        Ok(set)
    }

    /// True when the connection needs no round trip to serve a session in `schema` with
    /// `variables` and multi-statement queries `multi_statements` (see
    /// [`BackendConnection::align`]).
    pub fn is_aligned(
        &self,
        schema: Option<&str>,
        variables: &[SessionVariable],
        multi_statements: bool,
    ) -> bool {
        schema.map_or(true, |schema| self.schema.as_deref() == Some(schema))
            && self.variables == variables
            && self.multi_statements == multi_statements
    }

    /// The server's id of `sql` when this connection already prepared it for its schema.
    pub fn cached_statement(&mut self, sql: &str) -> Option<u32> {
        let schema = self.schema.as_deref().unwrap_or_default();
        self.statements
            .get(schema, sql)
            .map(|statement| statement.id)
    }

    /// The client connection underneath, for relaying a command on its socket elsewhere.
    pub fn client(&self) -> &Connection {
        &self.connection
    }

    /// Records the outcome of a command relayed on the socket elsewhere: the status flags
    /// its reply ended with, or that the connection broke.
    pub fn record_external(&mut self, outcome: Result<u16, ()>) {
        self.broken |= outcome.is_err();
        self.connection.record_external(outcome);
    }

    /// Records that a `USE` run through a query changed the connection's schema.
    pub fn assume_schema(&mut self, schema: &str) {
        self.schema = Some(schema.to_owned());
    }

    /// Runs a COM_QUERY.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Result<QueryResult, DbError>>, ClientError> {
        self.track(|c| c.query(sql))
    }

    /// Prepares `sql` here unless this connection already has it for its current schema (a
    /// statement binds its tables when prepared: after `USE other` the same text is another
    /// statement).
    pub fn prepare(&mut self, sql: &str) -> Outcome<ServerStatement> {
        let schema = self.schema.as_deref().unwrap_or_default();
        if let Some(statement) = self.statements.get(schema, sql) {
            return Ok(Ok(statement.clone()));
        }
        let statement = match self.track(|c| c.prepare(sql))? {
            Ok(statement) => statement,
            Err(error) => return Ok(Err(error)),
        };
        let schema = self.schema.clone().unwrap_or_default();
        if let Some(evicted) = self.statements.insert(schema, sql, statement.clone()) {
            self.track(|c| c.close_statement(evicted))?;
        }
        Ok(Ok(statement))
    }

    /// Executes `sql` as a server-side prepared statement, preparing it on this connection
    /// first if needed (so statements move freely between backend connections).
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Outcome<QueryResult> {
        let statement = match self.prepare(sql)? {
            Ok(statement) => statement,
            Err(error) => return Ok(Err(error)),
        };
        self.track(|c| c.execute(&statement, params))
    }

    /// Runs a COM_QUERY, passing the reply on to `out` as the server sent it.
    pub fn relay_query(
        &mut self,
        sql: &[u8],
        client: &mut dyn ReplySink,
    ) -> Result<Relayed, ClientError> {
        let mut payload = Vec::with_capacity(1 + sql.len());
        payload.push(commands::QUERY);
        payload.extend_from_slice(sql);
        self.track(|c| c.relay(&payload, client))
    }

    /// Executes `sql` as a server-side prepared statement with the client's own parameter
    /// packet, preparing it on this connection first if needed, and passes the reply on to
    /// `out` as the server sent it.
    pub fn relay_execute(
        &mut self,
        sql: &str,
        execute: &mut ForwardedExecute,
        client: &mut dyn ReplySink,
    ) -> Outcome<Relayed> {
        let statement = match self.prepare(sql)? {
            Ok(statement) => statement,
            Err(error) => return Ok(Err(error)),
        };
        let payload = execute.payload(statement.id);
        self.track(|c| c.relay(payload, client)).map(Ok)
    }

    /// Runs `operation` on the client connection, marking this one broken if it fails at
    /// the transport level.
    fn track<T>(
        &mut self,
        operation: impl FnOnce(&mut Connection) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let result = operation(&mut self.connection);
        self.broken |= result.is_err();
        result
    }

    /// SET statements turning this connection's variables into `wanted`.
    fn variable_changes(&self, wanted: &[SessionVariable]) -> Vec<String> {
        let mut changes: Vec<String> = self
            .variables
            .iter()
            .filter(|old| !wanted.iter().any(|new| new.name == old.name))
            .map(reset_sql)
            .collect();
        changes.extend(
            wanted
                .iter()
                .filter(|new| !self.variables.contains(new))
                .map(|new| new.sql.clone()),
        );
        changes
    }
}

/// Server-side prepared statements of one connection, by schema and SQL text; the least
/// recently used is closed to make room.
#[derive(Debug)]
struct StatementCache {
    /// Schema -> SQL -> (statement, last use).
    by_schema: HashMap<String, HashMap<String, (ServerStatement, u64)>>,
    len: usize,
    /// Counts uses, to find the least recently used statement.
    clock: u64,
    capacity: usize,
}

impl StatementCache {
    fn new(capacity: usize) -> StatementCache {
        StatementCache {
            by_schema: HashMap::new(),
            len: 0,
            clock: 0,
            capacity: capacity.max(1),
        }
    }

    /// The statement for `sql` prepared in `schema`, now the most recently used.
    fn get(&mut self, schema: &str, sql: &str) -> Option<&ServerStatement> {
        self.clock += 1;
        let clock = self.clock;
        let (statement, last_use) = self.by_schema.get_mut(schema)?.get_mut(sql)?;
        *last_use = clock;
        Some(statement)
    }

    /// Adds a statement; returns the id of the least recently used one, evicted to make room.
    fn insert(&mut self, schema: String, sql: &str, statement: ServerStatement) -> Option<u32> {
        let evicted = if self.len >= self.capacity {
            self.evict_least_recent()
        } else {
            None
        };
        self.clock += 1;
        let previous = self
            .by_schema
            .entry(schema)
            .or_default()
            .insert(sql.to_owned(), (statement, self.clock));
        if previous.is_none() {
            self.len += 1;
        }
        evicted
    }

    fn evict_least_recent(&mut self) -> Option<u32> {
        let (schema, sql) = self
            .by_schema
            .iter()
            .flat_map(|(schema, statements)| {
                statements
                    .iter()
                    .map(move |(sql, (_, last_use))| (*last_use, schema, sql))
            })
            .min_by_key(|(last_use, _, _)| *last_use)
            .map(|(_, schema, sql)| (schema.clone(), sql.clone()))?;
        let statements = self.by_schema.get_mut(&schema)?;
        let (statement, _) = statements.remove(&sql)?;
        if statements.is_empty() {
            self.by_schema.remove(&schema);
        }
        self.len -= 1;
        Some(statement.id)
    }

    fn forget_all(&mut self) {
        self.by_schema.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variable(name: &str, sql: &str) -> SessionVariable {
        SessionVariable {
            name: name.to_owned(),
            sql: sql.to_owned(),
        }
    }

    #[test]
    fn reset_sql_restores_defaults() {
        assert_eq!(
            reset_sql(&variable("names", "SET NAMES latin1")),
            "SET NAMES utf8mb4"
        );
        assert_eq!(
            reset_sql(&variable("sql_mode", "SET sql_mode = ''")),
            "SET SESSION sql_mode = DEFAULT"
        );
    }

    #[test]
    fn statement_cache_evicts_the_least_recently_used() {
        let mut cache = StatementCache::new(2);
        let statement = |id| ServerStatement {
            id,
            params: 0,
            columns: Vec::new(),
        };
        assert_eq!(cache.insert("app".into(), "a", statement(1)), None);
        assert_eq!(cache.insert("app".into(), "b", statement(2)), None);
        // "a" is used again, so "b" is the one to go.
        assert_eq!(cache.get("app", "a").map(|s| s.id), Some(1));
        assert_eq!(cache.insert("app".into(), "c", statement(3)), Some(2));
        assert!(cache.get("app", "b").is_none());
        assert_eq!(cache.get("app", "a").map(|s| s.id), Some(1));
        assert_eq!(cache.get("app", "c").map(|s| s.id), Some(3));
    }

    #[test]
    fn statement_cache_keeps_schemas_apart() {
        let mut cache = StatementCache::new(4);
        let statement = |id| ServerStatement {
            id,
            params: 0,
            columns: Vec::new(),
        };
        cache.insert("a".into(), "SELECT v FROM t", statement(1));
        assert!(cache.get("b", "SELECT v FROM t").is_none());
        cache.insert("b".into(), "SELECT v FROM t", statement(2));
        assert_eq!(cache.get("a", "SELECT v FROM t").map(|s| s.id), Some(1));
        assert_eq!(cache.get("b", "SELECT v FROM t").map(|s| s.id), Some(2));
    }
}
