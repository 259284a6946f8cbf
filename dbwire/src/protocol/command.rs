//! The command phase's requests: what a client can ask once logged in.

use super::constants::commands;
use super::wire::{PayloadReader, WireError};

/// One client request, borrowed from its packet's payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command<'a> {
    /// COM_QUIT: close the connection.
    Quit,
    /// COM_INIT_DB: select a database.
    InitDb(&'a [u8]),
    /// COM_QUERY: run SQL text (one or several statements).
    Query(&'a [u8]),
    /// COM_FIELD_LIST: the columns of a table.
    FieldList {
        /// The table.
        table: &'a [u8],
        /// A LIKE pattern on column names (ignored by this server).
        wildcard: &'a [u8],
    },
    /// COM_STATISTICS: a human-readable status line.
    Statistics,
    /// COM_PING.
    Ping,
    /// COM_CHANGE_USER: its body, parsed with the connection's capabilities.
    ChangeUser(&'a [u8]),
    /// COM_STMT_PREPARE: prepare SQL text.
    StmtPrepare(&'a [u8]),
    /// COM_STMT_EXECUTE: run a prepared statement.
    StmtExecute {
        /// The statement.
        statement_id: u32,
        /// Flags, iteration count and parameters, read once the parameter count is known.
        body: &'a [u8],
    },
    /// COM_STMT_SEND_LONG_DATA: a chunk of one parameter's value.
    StmtSendLongData {
        /// The statement.
        statement_id: u32,
        /// Zero-based parameter index.
        param_index: u16,
        /// The chunk.
        data: &'a [u8],
    },
    /// COM_STMT_CLOSE: deallocate a statement.
    StmtClose(u32),
    /// COM_STMT_RESET: discard a statement's long data.
    StmtReset(u32),
    /// COM_SET_OPTION: multi-statements on (true) or off (false).
    SetMultiStatements(bool),
    /// COM_RESET_CONNECTION: fresh session state without re-authenticating.
    ResetConnection,
    /// Any command this server does not implement.
    Unsupported(u8),
}

impl<'a> Command<'a> {
    /// Parses a command packet's payload.
    pub fn parse(payload: &'a [u8]) -> Result<Command<'a>, WireError> {
        let mut reader = PayloadReader::new(payload);
        let command = match reader.u8()? {
            commands::QUIT => Command::Quit,
            commands::INIT_DB => Command::InitDb(reader.rest()),
            commands::QUERY => Command::Query(reader.rest()),
            commands::FIELD_LIST => {
                let table = reader.nul_terminated()?;
                Command::FieldList {
                    table,
                    wildcard: reader.rest(),
                }
            }
            commands::STATISTICS => Command::Statistics,
            commands::PING => Command::Ping,
            commands::CHANGE_USER => Command::ChangeUser(reader.rest()),
            commands::STMT_PREPARE => Command::StmtPrepare(reader.rest()),
            commands::STMT_EXECUTE => {
                let statement_id = reader.u32()?;
                Command::StmtExecute {
                    statement_id,
                    body: reader.rest(),
                }
            }
            commands::STMT_SEND_LONG_DATA => Command::StmtSendLongData {
                statement_id: reader.u32()?,
                param_index: reader.u16()?,
                data: reader.rest(),
            },
            commands::STMT_CLOSE => Command::StmtClose(reader.u32()?),
            commands::STMT_RESET => Command::StmtReset(reader.u32()?),
            commands::SET_OPTION => match reader.u16()? {
                0 => Command::SetMultiStatements(true),
                1 => Command::SetMultiStatements(false),
                _ => return Err(WireError::InvalidValue("COM_SET_OPTION option")),
            },
            commands::RESET_CONNECTION => Command::ResetConnection,
            other => Command::Unsupported(other),
        };
        Ok(command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_text_commands() {
        assert_eq!(
            Command::parse(b"\x03SELECT 1"),
            Ok(Command::Query(b"SELECT 1"))
        );
        assert_eq!(Command::parse(b"\x02shop"), Ok(Command::InitDb(b"shop")));
        assert_eq!(
            Command::parse(b"\x16SELECT ?"),
            Ok(Command::StmtPrepare(b"SELECT ?"))
        );
        assert_eq!(
            Command::parse(b"\x04users\0%"),
            Ok(Command::FieldList {
                table: b"users",
                wildcard: b"%"
            })
        );
        assert_eq!(Command::parse(b"\x01"), Ok(Command::Quit));
        assert_eq!(Command::parse(b"\x0e"), Ok(Command::Ping));
        assert_eq!(Command::parse(b"\x09"), Ok(Command::Statistics));
        assert_eq!(Command::parse(b"\x1f"), Ok(Command::ResetConnection));
        assert_eq!(
            Command::parse(b"\x11root\0"),
            Ok(Command::ChangeUser(b"root\0"))
        );
    }

    #[test]
    fn parses_statement_commands() {
        assert_eq!(
            Command::parse(&[0x17, 5, 0, 0, 0, 0, 1, 0, 0, 0]),
            Ok(Command::StmtExecute {
                statement_id: 5,
                body: &[0, 1, 0, 0, 0]
            })
        );
        assert_eq!(
            Command::parse(&[0x18, 5, 0, 0, 0, 1, 0, b'x', b'y']),
            Ok(Command::StmtSendLongData {
                statement_id: 5,
                param_index: 1,
                data: b"xy"
            })
        );
        assert_eq!(
            Command::parse(&[0x19, 9, 0, 0, 0]),
            Ok(Command::StmtClose(9))
        );
        assert_eq!(
            Command::parse(&[0x1a, 9, 0, 0, 0]),
            Ok(Command::StmtReset(9))
        );
        assert_eq!(
            Command::parse(&[0x1b, 0, 0]),
            Ok(Command::SetMultiStatements(true))
        );
        assert_eq!(
            Command::parse(&[0x1b, 1, 0]),
            Ok(Command::SetMultiStatements(false))
        );
    }

    #[test]
    fn unknown_and_malformed_commands() {
        assert_eq!(
            Command::parse(&[0x55, 1, 2]),
            Ok(Command::Unsupported(0x55))
        );
        assert_eq!(Command::parse(&[]), Err(WireError::Truncated));
        assert_eq!(Command::parse(&[0x17, 1, 0]), Err(WireError::Truncated));
        assert_eq!(Command::parse(&[0x04, b'x']), Err(WireError::MissingNul));
        assert!(Command::parse(&[0x1b, 7, 0]).is_err());
    }
}
