//! Prepared statements: COM_STMT_PREPARE, COM_STMT_EXECUTE, COM_STMT_SEND_LONG_DATA and
//! COM_STMT_RESET (COM_STMT_CLOSE just forgets the id).

use std::io;
use std::sync::atomic::Ordering;

use super::{malformed, ClientSink, Connection};
use crate::backend::{
    charsets, Backend, Column, ColumnType, DbError, PreparedStatement, QueryResult, ReplySink,
    Session, Value,
};
use crate::protocol::charset::Charset;
use crate::protocol::constants::{capabilities, errors, markers};
use crate::protocol::params::{read_params, ForwardedExecute, ParamType};
use crate::protocol::wire::PayloadWriter;

impl<B: Backend> Connection<B> {
    /// COM_STMT_PREPARE: registers the statement and describes its parameters and columns.
    pub(super) fn prepare(&mut self, sql: &[u8]) -> io::Result<()> {
        let limit = self.shared.config.max_prepared_statements;
        if self.statements.len() >= limit {
            return self.send_err(&DbError::new(
                errors::MAX_PREPARED_STMT_COUNT_REACHED,
                "42000",
                format!(
                    "Can't create more than max_prepared_stmt_count statements \
                     (current value: {limit})"
                ),
            ));
        }
        let prepared = self
            .statement_text(sql)
            .and_then(|sql| Ok((sql.to_string(), self.session.prepare(&sql)?)));
        match prepared {
            Ok((sql, statement)) => {
                let id = self.statements.insert(sql, usize::from(statement.params));
                self.send_prepare_ok(id, &statement)
            }
            Err(error) => self.send_err(&error),
        }
    }

    /// COM_STMT_PREPARE_OK, then a definition per parameter and per column.
    fn send_prepare_ok(&mut self, id: u32, statement: &PreparedStatement) -> io::Result<()> {
        let columns = &statement.columns[..statement.columns.len().min(usize::from(u16::MAX))];
        self.send(|out| {
            out.put_u8(markers::OK);
            out.put_u32(id);
            out.put_u16(columns.len() as u16);
            out.put_u16(statement.params);
            out.put_u8(0); // filler
            out.put_u16(0); // warning count
        })?;
        if statement.params > 0 {
            let placeholder = parameter_definition();
            let params = vec![placeholder; usize::from(statement.params)];
            self.send_column_definitions(&params)?;
        }
        if !columns.is_empty() {
            self.send_column_definitions(columns)?;
        }
        Ok(())
    }

    /// COM_STMT_EXECUTE: binary parameters in, binary result set (or OK) out.
    pub(super) fn execute(&mut self, statement_id: u32, body: &[u8]) -> io::Result<()> {
        self.shared.stats.questions.fetch_add(1, Ordering::Relaxed);
        let Some(entry) = self.statements.get_mut(statement_id) else {
            return self.send_err(&unknown_statement(statement_id, "mysqld_stmt_execute"));
        };
        if let Some(error) = entry.deferred_error.take() {
            entry.bound.clear_long_data();
            return self.send_err(&error);
        }
        let no_long_data = entry.bound.long_data.iter().all(Option::is_none);
        if let (true, Some(relay)) = (no_long_data, self.session.relay()) {
            let mut sink = ClientSink {
                io: &mut self.io,
                scratch: &mut self.scratch,
                deprecate_eof: self.client.capabilities & capabilities::DEPRECATE_EOF != 0,
            };
            return match ForwardedExecute::new(body, &mut entry.bound) {
                Ok(mut execute) => relay.relay_execute(&entry.sql, &mut execute, &mut sink),
                Err(error) => sink.send_error(&malformed(error)),
            };
        }
        let params = read_params(body, &mut entry.bound);
        entry.bound.clear_long_data();
        let charset = self.session.connection_charset();
        let mut outcome = match params {
            Ok(mut params) => {
                if let Some(charset) = charset {
                    decode_text_params(&mut params, &entry.bound.types, charset);
                }
                self.session.execute(&entry.sql, &params)
            }
            Err(error) => Err(malformed(error)),
        };
        self.recode_results(std::slice::from_mut(&mut outcome));
        match outcome {
            Ok(result) => self.send_result(&result, false, true),
            Err(error) => self.send_err(&error),
        }
    }

    /// COM_STMT_SEND_LONG_DATA: appends a chunk; there is no reply, so problems surface at
    /// the next execute.
    pub(super) fn send_long_data(&mut self, statement_id: u32, param_index: u16, data: &[u8]) {
        let max_packet = self.shared.config.max_packet;
        let Some(entry) = self.statements.get_mut(statement_id) else {
            log::debug!("long data for unknown statement {statement_id}");
            return;
        };
        let Some(slot) = entry.bound.long_data.get_mut(usize::from(param_index)) else {
            entry.deferred_error = Some(DbError::new(
                errors::WRONG_ARGUMENTS,
                "HY000",
                "Incorrect arguments to mysqld_stmt_send_long_data",
            ));
            return;
        };
        let collected = slot.get_or_insert_with(Vec::new);
        if collected.len() + data.len() > max_packet {
            *slot = None;
            entry.deferred_error = Some(DbError::new(
                errors::PACKET_TOO_LARGE,
                "HY000",
                "Parameter of prepared statement which is set through mysql_send_long_data() \
                 is longer than 'max_allowed_packet' bytes",
            ));
            return;
        }
        collected.extend_from_slice(data);
    }

    /// COM_STMT_RESET: forgets long data and deferred errors.
    pub(super) fn reset_statement(&mut self, statement_id: u32) -> io::Result<()> {
        let Some(entry) = self.statements.get_mut(statement_id) else {
            return self.send_err(&unknown_statement(statement_id, "mysqld_stmt_reset"));
        };
        entry.bound.clear_long_data();
        entry.deferred_error = None;
        self.send_ok(&QueryResult::ok(0), false)
    }
}

/// String parameters (CHAR, VARCHAR, VAR_STRING types) from the connection's character set
/// to UTF-8; BLOB-typed ones stay bytes.
fn decode_text_params(params: &mut [Value], types: &[ParamType], charset: Charset) {
    for (value, param_type) in params.iter_mut().zip(types) {
        if let (Value::Bytes(bytes), 0x0f | 0xfd | 0xfe) = (&*value, param_type.code) {
            *value = Value::Bytes(charset.decode(bytes).into_owned().into_bytes());
        }
    }
}

/// How parameters are described at prepare time (MySQL sends `?` columns; clients ignore them).
fn parameter_definition() -> Column {
    let mut column = Column::new("?", ColumnType::VarString);
    column.org_name.clear();
    column.charset = charsets::BINARY;
    column.length = 0;
    column
}

fn unknown_statement(statement_id: u32, command: &str) -> DbError {
    DbError::new(
        errors::UNKNOWN_STMT_HANDLER,
        "HY000",
        format!("Unknown prepared statement handler ({statement_id}) given to {command}"),
    )
}
