//! The executor's path through a proxy session: a statement whose backend connection is at
//! hand (pinned, or idle in its pool) and already aligned with the session is leased to the
//! caller, which relays it without blocking on the connection's socket, then hands the
//! outcome back. Anything that would block (opening or waiting for a connection, aligning
//! its schema or variables, preparing a statement there) declines the lease: the caller runs
//! the command on the blocking path instead.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use super::analysis::{Digest, Route, StatementInfo};
use super::kill;
use super::pool::PooledConnection;
use super::session::{lost, only_sets_session_variables, Command, ProxySession, Summary, Target};
use crate::backend::{DbError, ForwardedExecute, Leasing};
use crate::client::Connection;
use crate::protocol::constants::commands;
use crate::protocol::reply::ReplySummary;

/// A statement leased to the caller with the backend connection that runs it.
#[derive(Debug)]
pub struct Lease {
    connection: PooledConnection,
    analysis: Arc<(Digest, StatementInfo)>,
    /// The prepared statement's text; a query's is the payload after its command byte.
    statement: Option<String>,
    command: Command,
    payload: Vec<u8>,
    was_pinned: bool,
    started: Instant,
}

impl Lease {
    /// The command to send on the backend connection, as the first packet of an exchange.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// The backend connection: its socket, negotiated `DEPRECATE_EOF` and status flags.
    pub fn backend(&self) -> &Connection {
        self.connection.client()
    }
}

/// How a leased statement went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The whole reply was read from the backend (and passed on unless the client failed).
    Relayed(ReplySummary),
    /// The backend connection failed; `reply_started` when part of the reply reached the
    /// client.
    Broken {
        /// Part of the reply was queued for the client already.
        reply_started: bool,
    },
}

/// What the caller does after handing a lease back.
#[derive(Debug)]
pub enum Finished {
    /// Nothing more: the reply was relayed.
    Done,
    /// The backend connection broke before answering a read: run the command again on the
    /// blocking path (which opens a fresh connection).
    Retry,
    /// The backend connection broke: tell the client with this ERR, or close the client
    /// connection when part of the reply reached it.
    Lost(DbError),
}

impl ProxySession {
    /// The connection `info` runs on when it is at hand and aligned: the pinned one, else an
    /// idle one of the target pool.
    fn leased_connection(&mut self, info: &StatementInfo) -> Option<(PooledConnection, bool)> {
        let was_pinned = self.pinned.is_some();
        let connection = match self.target(info) {
            Target::Pinned => self.pinned.take()?,
            Target::Pool(pool) => pool.try_acquire_for(self.behaviour)?,
        };
        let ready = connection.is_aligned(
            self.schema.as_deref(),
            &self.variables,
            self.multi_statements,
        ) && !connection.client().has_buffered_input();
        if ready {
            return Some((connection, was_pinned));
        }
        self.decline(connection, was_pinned);
        None
    }

    /// Gives back a connection taken for a lease that is not made: to the session if it was
    /// pinned, else (by dropping it) to its pool.
    fn decline(&mut self, connection: PooledConnection, was_pinned: bool) {
        if was_pinned {
            self.pinned = Some(connection);
        }
    }

    fn lease(
        &mut self,
        (connection, was_pinned): (PooledConnection, bool),
        analysis: Arc<(Digest, StatementInfo)>,
        statement: Option<String>,
        command: Command,
        payload: Vec<u8>,
    ) -> Lease {
        self.handle.set_running(Some((
            Arc::clone(connection.pool()),
            connection.thread_id(),
        )));
        Lease {
            connection,
            analysis,
            statement,
            command,
            payload,
            was_pinned,
            started: Instant::now(),
        }
    }
}

impl Leasing for ProxySession {
    fn lease_query(&mut self, raw: &[u8]) -> Option<Lease> {
        let sql = String::from_utf8_lossy(raw);
        let analysis = self.shared.text_analysis(self.core, &sql);
        if only_sets_session_variables(&sql, &analysis.1) || kill::parse(&sql).is_some() {
            return None;
        }
        let connection = self.leased_connection(&analysis.1)?;
        let mut payload = Vec::with_capacity(1 + raw.len());
        payload.push(commands::QUERY);
        payload.extend_from_slice(raw);
        Some(self.lease(connection, analysis, None, Command::Query, payload))
    }

    fn lease_execute(&mut self, sql: &str, execute: ForwardedExecute) -> Option<Lease> {
        let analysis = self.prepared_analysis(sql);
        let (mut connection, was_pinned) = self.leased_connection(&analysis.1)?;
        let Some(id) = connection.cached_statement(sql) else {
            self.decline(connection, was_pinned);
            return None;
        };
        let payload = execute.into_payload(id);
        Some(self.lease(
            (connection, was_pinned),
            analysis,
            Some(sql.to_owned()),
            Command::Execute,
            payload,
        ))
    }

    fn finish(&mut self, lease: Lease, outcome: LeaseOutcome) -> Finished {
        self.handle.set_running(None);
        let elapsed = lease.started.elapsed();
        let Lease {
            mut connection,
            analysis,
            statement,
            command,
            payload,
            was_pinned,
            ..
        } = lease;
        let sql = match statement {
            Some(text) => Cow::Owned(text),
            None => String::from_utf8_lossy(payload.get(1..).unwrap_or_default()),
        };
        let (digest, info) = &*analysis;
        match outcome {
            LeaseOutcome::Relayed(reply) => {
                connection.record_external(Ok(reply.status));
                let summary = Summary {
                    command,
                    rows_affected: reply.affected_rows,
                    rows_sent: reply.rows,
                    failed: reply.failed,
                };
                self.settle(connection, &sql, (digest, info), elapsed, &summary);
                Finished::Done
            }
            LeaseOutcome::Broken { reply_started } => {
                connection.record_external(Err(()));
                drop(connection);
                self.connection_lost();
                if !was_pinned && !reply_started && info.route == Route::Read {
                    Finished::Retry
                } else {
                    Finished::Lost(lost(&"the connection failed"))
                }
            }
        }
    }
}
