//! Text-protocol and session commands: COM_QUERY, COM_INIT_DB, COM_FIELD_LIST,
//! COM_STATISTICS, COM_SET_OPTION, COM_RESET_CONNECTION and COM_CHANGE_USER.

use std::io;
use std::sync::atomic::Ordering;

use super::login::{admit, Credentials};
use super::{malformed, utf8, ClientSink, Connection, ConnectionError};
use crate::backend::{Backend, DbError, QueryResult, Session, Value};
use crate::protocol::constants::{capabilities, errors};
use crate::protocol::handshake::ChangeUser;
use crate::protocol::multi_statement::second_statement;
use crate::protocol::resultset::encode_column_definition;

impl<B: Backend> Connection<B> {
    /// COM_QUERY: one result per statement, all but the last flagged MORE_RESULTS_EXISTS.
    pub(super) fn query(&mut self, sql: &[u8]) -> io::Result<()> {
        self.shared.stats.questions.fetch_add(1, Ordering::Relaxed);
        // A relaying session passes the bytes on in the client's character set; the server
        // behind it also judges multiple statements.
        if let Some(relay) = self.session.relay() {
            let mut sink = ClientSink {
                io: &mut self.io,
                scratch: &mut self.scratch,
                deprecate_eof: self.client.capabilities & capabilities::DEPRECATE_EOF != 0,
            };
            if let Some(relayed) = relay.relay_query(sql, &mut sink) {
                return relayed;
            }
        }
        let sql = match self.statement_text(sql) {
            Ok(sql) => sql,
            Err(error) => return self.send_err(&error),
        };
        if !self.multi_statements {
            if let Some(second) = second_statement(sql.as_bytes()) {
                return self.send_err(&second_statement_refused(&sql, second));
            }
        }
        let mut results = self.session.query(&sql);
        self.recode_results(&mut results);
        if results.is_empty() {
            return self.send_err(&DbError::new(
                errors::EMPTY_QUERY,
                "42000",
                "Query was empty",
            ));
        }
        let last = results.len() - 1;
        for (index, result) in results.iter().enumerate() {
            match result {
                Ok(result) => self.send_result(result, index < last, false)?,
                Err(error) => return self.send_err(error),
            }
        }
        Ok(())
    }

    /// COM_INIT_DB.
    pub(super) fn init_db(&mut self, database: &[u8]) -> io::Result<()> {
        let outcome = utf8(database).and_then(|database| {
            self.session.use_database(database)?;
            Ok(database.to_owned())
        });
        match outcome {
            Ok(database) => {
                self.database = Some(database);
                self.send_ok(&QueryResult::ok(0), false)
            }
            Err(error) => self.send_err(&error),
        }
    }

    /// COM_FIELD_LIST: column definitions, then an end marker.
    pub(super) fn field_list(&mut self, table: &[u8]) -> io::Result<()> {
        let columns = utf8(table).and_then(|table| self.session.field_list(table));
        match columns {
            Ok(columns) => {
                for column in &columns {
                    self.send(|out| encode_column_definition(out, column))?;
                }
                self.send_end_marker(false)
            }
            Err(error) => self.send_err(&error),
        }
    }

    /// COM_STATISTICS: one line of text, no packet header.
    pub(super) fn statistics(&mut self) -> io::Result<()> {
        let stats = &self.shared.stats;
        let uptime = stats.started.elapsed().as_secs();
        let questions = stats.questions.load(Ordering::Relaxed);
        let line = format!(
            "Uptime: {uptime}  Threads: {}  Questions: {questions}  Slow queries: 0  Opens: 0  \
             Flush tables: 0  Open tables: 0  Queries per second avg: {:.3}",
            stats.connections.load(Ordering::Relaxed),
            questions as f64 / uptime.max(1) as f64,
        );
        self.send(|out| out.extend_from_slice(line.as_bytes()))
    }

    /// COM_SET_OPTION: answered with an EOF packet, as MySQL does.
    pub(super) fn set_multi_statements(&mut self, enabled: bool) -> io::Result<()> {
        self.multi_statements = enabled;
        self.session.set_multi_statements(enabled);
        self.send_end_marker(false)
    }

    /// COM_RESET_CONNECTION: a fresh backend session on the same database, no prepared
    /// statements, multi-statements as negotiated at login.
    pub(super) fn reset_connection(&mut self) -> io::Result<()> {
        let database = self.current_database();
        match self
            .shared
            .backend
            .open_client_session(&self.user, database.as_deref(), &self.client)
        {
            Ok(session) => {
                self.session = session;
                self.database = database;
                self.statements.clear();
                self.multi_statements =
                    self.client.capabilities & capabilities::MULTI_STATEMENTS != 0;
                self.send_ok(&QueryResult::ok(0), false)
            }
            Err(error) => self.send_err(&error),
        }
    }

    /// COM_CHANGE_USER (mysqli sends it to reuse a persistent connection): a new login with
    /// the greeting's nonce, then a fresh session as after COM_RESET_CONNECTION. A failed
    /// login ends the connection, as it would at connect time.
    pub(super) fn change_user(&mut self, body: &[u8]) -> Result<(), ConnectionError> {
        let request = match ChangeUser::parse(body, self.client.capabilities) {
            Ok(request) => request,
            Err(error) => return Ok(self.send_err(&malformed(error))?),
        };
        let credentials = Credentials {
            user: &request.user,
            database: request.database.as_deref(),
            auth_plugin: request.auth_plugin.as_deref(),
            auth_response: &request.auth_response,
        };
        self.session = admit(
            &mut self.io,
            &self.shared,
            &self.client,
            &credentials,
            &self.nonce,
        )?;
        self.user = request.user;
        self.database = request.database;
        self.statements.clear();
        self.multi_statements = self.client.capabilities & capabilities::MULTI_STATEMENTS != 0;
        Ok(self.send_ok(&QueryResult::ok(0), false)?)
    }

    /// The session's database as `SELECT DATABASE()` reports it (a `USE` statement may have
    /// changed it), else the one selected at login or by COM_INIT_DB.
    fn current_database(&mut self) -> Option<String> {
        let reported = self.session.query("SELECT DATABASE()").into_iter().next();
        match reported {
            Some(Ok(QueryResult::Rows { rows, .. })) => {
                match rows.first().and_then(|row| row.first()) {
                    Some(Value::Bytes(name)) => String::from_utf8(name.clone()).ok(),
                    _ => None,
                }
            }
            _ => self.database.clone(),
        }
    }
}

/// The syntax error MySQL gives a client without the multi-statements option whose query
/// holds another statement at byte `second`.
fn second_statement_refused(sql: &str, second: usize) -> DbError {
    let rest = sql.get(second..).unwrap_or_default();
    let near: String = rest.chars().take(80).collect();
    let line = 1 + sql.as_bytes()[..second.min(sql.len())]
        .iter()
        .filter(|&&byte| byte == b'\n')
        .count();
    DbError::new(
        errors::PARSE_ERROR,
        "42000",
        format!(
            "You have an error in your SQL syntax; check the manual that corresponds to your \
             MySQL server version for the right syntax to use near '{near}' at line {line}"
        ),
    )
}
