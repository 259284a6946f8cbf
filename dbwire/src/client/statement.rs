//! Server-side prepared statements: the COM_STMT_PREPARE reply.

use super::error::ClientError;
use super::packets::parse_err;
use super::results::{read_column_definitions, PacketSource};
use crate::backend::{Column, DbError};
use crate::protocol::constants::markers;
use crate::protocol::wire::PayloadReader;

/// A server-side prepared statement on one connection. It is valid only on the connection
/// that prepared it, until [`super::Connection::close_statement`] or
/// [`super::Connection::reset_connection`].
#[derive(Debug, Clone, PartialEq)]
pub struct ServerStatement {
    /// The statement id the server assigned.
    pub id: u32,
    /// Number of `?` parameters.
    pub params: u16,
    /// The result columns the server announced at prepare time (may be empty, or differ from
    /// the columns an execute returns).
    pub columns: Vec<Column>,
}

/// Reads the reply to COM_STMT_PREPARE: COM_STMT_PREPARE_OK with the parameter and column
/// definitions, or ERR.
pub(crate) fn read_prepare_reply(
    source: &mut impl PacketSource,
    deprecate_eof: bool,
) -> Result<Result<ServerStatement, DbError>, ClientError> {
    let first = source.next_packet()?;
    match first.first() {
        Some(&markers::OK) => {}
        Some(&markers::ERR) => {
            let error = parse_err(&first).map_err(|e| ClientError::malformed("ERR packet", e))?;
            return Ok(Err(error));
        }
        _ => {
            return Err(ClientError::Protocol(
                "unexpected reply to COM_STMT_PREPARE".into(),
            ))
        }
    }
    let malformed = |e| ClientError::malformed("COM_STMT_PREPARE_OK", e);
    let mut reader = PayloadReader::new(&first);
    reader.u8().map_err(malformed)?;
    let id = reader.u32().map_err(malformed)?;
    let column_count = reader.u16().map_err(malformed)?;
    let params = reader.u16().map_err(malformed)?;
    if params > 0 {
        read_column_definitions(source, usize::from(params), deprecate_eof)?;
    }
    let columns = if column_count > 0 {
        read_column_definitions(source, usize::from(column_count), deprecate_eof)?
    } else {
        Vec::new()
    };
    Ok(Ok(ServerStatement {
        id,
        params,
        columns,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ColumnType;
    use crate::client::results::tests::{Canned, Script};
    use crate::protocol::response::encode_err;
    use crate::protocol::wire::PayloadWriter;

    fn prepare_ok(script: &mut Script, id: u32, columns: &[Column], params: u16) {
        script.push(|out| {
            out.put_u8(0);
            out.put_u32(id);
            out.put_u16(columns.len() as u16);
            out.put_u16(params);
            out.put_u8(0);
            out.put_u16(0);
        });
        if params > 0 {
            let placeholder = vec![Column::new("?", ColumnType::VarString); usize::from(params)];
            script.columns(&placeholder);
        }
        if !columns.is_empty() {
            script.columns(columns);
        }
    }

    #[test]
    fn reads_params_and_columns_in_both_eof_styles() {
        let columns = vec![Column::new("v", ColumnType::Blob)];
        for deprecate_eof in [false, true] {
            let mut script = Script {
                deprecate_eof,
                ..Script::default()
            };
            prepare_ok(&mut script, 9, &columns, 2);
            let mut source = Canned(script.packets);
            let statement = read_prepare_reply(&mut source, deprecate_eof)
                .unwrap()
                .unwrap();
            assert_eq!(
                statement,
                ServerStatement {
                    id: 9,
                    params: 2,
                    columns: columns.clone()
                }
            );
            assert!(source.0.is_empty());
        }
    }

    #[test]
    fn errors_and_garbage() {
        let mut script = Script::default();
        let error = DbError::new(1064, "42000", "syntax");
        script.push(|out| encode_err(out, &error));
        let mut source = Canned(script.packets);
        assert_eq!(read_prepare_reply(&mut source, true).unwrap(), Err(error));

        for packet in [vec![], vec![0x00, 1, 2], vec![0x05]] {
            let mut source = Canned(vec![packet].into());
            assert!(read_prepare_reply(&mut source, true).is_err());
        }
    }
}
