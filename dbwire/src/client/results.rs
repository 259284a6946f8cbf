//! Reading what a COM_QUERY or COM_STMT_EXECUTE returns: OK, ERR, or a result set (column
//! count, column definitions, rows, end marker), repeated while the server flags
//! `SERVER_MORE_RESULTS_EXISTS`.

use std::io::{Read, Write};

use super::binary::decode_binary_row;
use super::column::parse_column_definition;
use super::error::ClientError;
use super::packets::{end_marker_status, is_end_marker, parse_err, OkReply};
use crate::backend::{Column, DbError, QueryResult, Value};
use crate::protocol::constants::{markers, status};
use crate::protocol::packet::PacketIo;
use crate::protocol::wire::{PayloadReader, WireError};

/// Where server packets come from: the connection, or canned packets in tests.
pub(crate) trait PacketSource {
    /// The next payload.
    fn next_packet(&mut self) -> Result<Vec<u8>, ClientError>;
}

impl<R: Read, W: Write> PacketSource for PacketIo<R, W> {
    fn next_packet(&mut self) -> Result<Vec<u8>, ClientError> {
        Ok(self.read_payload()?)
    }
}

/// How rows are encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RowFormat {
    /// COM_QUERY: every value a length-encoded string, NULL as 0xFB.
    Text,
    /// COM_STMT_EXECUTE: a NULL bitmap and values in their type's binary encoding.
    Binary,
}

/// One statement's outcome, with the status flags that came with it (none after an ERR).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Outcome {
    /// The result, or the SQL error.
    pub result: Result<QueryResult, DbError>,
    /// Status flags from the OK or end marker.
    pub status: Option<u16>,
}

/// Reads every result of one command: results follow each other while the status flags
/// say `MORE_RESULTS_EXISTS`; an error ends the list. `status` is updated from each OK and
/// end marker.
pub(crate) fn read_results(
    source: &mut impl PacketSource,
    format: RowFormat,
    deprecate_eof: bool,
    status: &mut u16,
) -> Result<Vec<Result<QueryResult, DbError>>, ClientError> {
    let mut results = Vec::new();
    loop {
        let outcome = read_outcome(source, format, deprecate_eof)?;
        let more = match outcome.status {
            Some(flags) => {
                *status = flags;
                flags & status::MORE_RESULTS_EXISTS != 0
            }
            None => false,
        };
        results.push(outcome.result);
        if !more {
            return Ok(results);
        }
    }
}

/// Reads one statement's outcome.
pub(crate) fn read_outcome(
    source: &mut impl PacketSource,
    format: RowFormat,
    deprecate_eof: bool,
) -> Result<Outcome, ClientError> {
    let first = source.next_packet()?;
    match first.first() {
        Some(&markers::OK) => {
            let ok = OkReply::parse(&first).map_err(|e| ClientError::malformed("OK packet", e))?;
            Ok(Outcome {
                status: Some(ok.status),
                result: Ok(ok.into_result()),
            })
        }
        Some(&markers::ERR) => Ok(error_outcome(&first)?),
        Some(&markers::NULL) => Err(ClientError::Protocol(
            "the server asked for a LOCAL INFILE file, which this client does not send".into(),
        )),
        Some(_) => {
            let count = column_count(&first)?;
            read_result_set(source, count, format, deprecate_eof)
        }
        None => Err(ClientError::Protocol("empty response packet".into())),
    }
}

/// Reads `count` column definitions, then the EOF that follows them unless DEPRECATE_EOF.
pub(crate) fn read_column_definitions(
    source: &mut impl PacketSource,
    count: usize,
    deprecate_eof: bool,
) -> Result<Vec<Column>, ClientError> {
    let mut columns = Vec::with_capacity(count.min(256));
    for _ in 0..count {
        let packet = source.next_packet()?;
        let column = parse_column_definition(&packet)
            .map_err(|e| ClientError::malformed("column definition", e))?;
        columns.push(column);
    }
    if !deprecate_eof {
        let packet = source.next_packet()?;
        if !is_end_marker(&packet, false) {
            return Err(ClientError::Protocol(
                "no EOF packet after the column definitions".into(),
            ));
        }
    }
    Ok(columns)
}

fn error_outcome(packet: &[u8]) -> Result<Outcome, ClientError> {
    let error = parse_err(packet).map_err(|e| ClientError::malformed("ERR packet", e))?;
    Ok(Outcome {
        result: Err(error),
        status: None,
    })
}

/// The column count that opens a result set.
fn column_count(packet: &[u8]) -> Result<usize, ClientError> {
    let malformed = |e| ClientError::malformed("column count", e);
    let count = PayloadReader::new(packet).lenenc_int().map_err(malformed)?;
    usize::try_from(count)
        .ok()
        .filter(|&count| count > 0)
        .ok_or_else(|| malformed(WireError::InvalidValue("column count")))
}

fn read_result_set(
    source: &mut impl PacketSource,
    count: usize,
    format: RowFormat,
    deprecate_eof: bool,
) -> Result<Outcome, ClientError> {
    let columns = read_column_definitions(source, count, deprecate_eof)?;
    let mut rows = Vec::new();
    loop {
        let packet = source.next_packet()?;
        if is_end_marker(&packet, deprecate_eof) {
            let flags = end_marker_status(&packet, deprecate_eof)
                .map_err(|e| ClientError::malformed("end of rows", e))?;
            return Ok(Outcome {
                result: Ok(QueryResult::Rows { columns, rows }),
                status: Some(flags),
            });
        }
        if packet.first() == Some(&markers::ERR) {
            return error_outcome(&packet);
        }
        let row = match format {
            RowFormat::Text => parse_text_row(&packet, columns.len()),
            RowFormat::Binary => decode_binary_row(&packet, &columns),
        };
        rows.push(row.map_err(|e| ClientError::malformed("row", e))?);
    }
}

/// Decodes a text protocol row of `count` values: NULL or the raw text as bytes.
pub(crate) fn parse_text_row(payload: &[u8], count: usize) -> Result<Vec<Value>, WireError> {
    let mut reader = PayloadReader::new(payload);
    let mut row = Vec::with_capacity(count.min(256));
    for _ in 0..count {
        if reader.clone().u8()? == markers::NULL {
            reader.u8()?;
            row.push(Value::Null);
        } else {
            row.push(Value::Bytes(reader.lenenc_bytes()?.to_vec()));
        }
    }
    if !reader.is_empty() {
        return Err(WireError::InvalidValue("text row length"));
    }
    Ok(row)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::VecDeque;

    use super::*;
    use crate::backend::ColumnType;
    use crate::protocol::response::{encode_eof, encode_err, OkPacket};
    use crate::protocol::resultset::{
        encode_binary_row, encode_column_count, encode_column_definition, encode_text_row,
    };

    /// Canned packets; running out is a protocol error.
    pub(crate) struct Canned(pub VecDeque<Vec<u8>>);

    impl PacketSource for Canned {
        fn next_packet(&mut self) -> Result<Vec<u8>, ClientError> {
            self.0
                .pop_front()
                .ok_or_else(|| ClientError::Protocol("no more canned packets".into()))
        }
    }

    /// Encodes server packets the way dbwire's server sends them.
    #[derive(Default)]
    pub(crate) struct Script {
        pub packets: VecDeque<Vec<u8>>,
        pub deprecate_eof: bool,
    }

    impl Script {
        pub fn push(&mut self, encode: impl FnOnce(&mut Vec<u8>)) {
            let mut out = Vec::new();
            encode(&mut out);
            self.packets.push_back(out);
        }

        pub fn ok(&mut self, affected_rows: u64, status: u16) {
            self.push(|out| {
                OkPacket {
                    affected_rows,
                    status,
                    ..OkPacket::default()
                }
                .encode(out)
            });
        }

        pub fn end(&mut self, status: u16) {
            if self.deprecate_eof {
                self.push(|out| {
                    OkPacket {
                        status,
                        ..OkPacket::default()
                    }
                    .encode_as_eof(out)
                });
            } else {
                self.push(|out| encode_eof(out, 0, status));
            }
        }

        pub fn columns(&mut self, columns: &[Column]) {
            for column in columns {
                self.push(|out| encode_column_definition(out, column));
            }
            if !self.deprecate_eof {
                self.push(|out| encode_eof(out, 0, 0));
            }
        }

        pub fn result_set(&mut self, columns: &[Column], rows: &[Vec<Value>], binary: bool) {
            self.push(|out| encode_column_count(out, columns.len()));
            self.columns(columns);
            for row in rows {
                if binary {
                    self.push(|out| encode_binary_row(out, columns, row));
                } else {
                    self.push(|out| encode_text_row(out, columns, row));
                }
            }
        }

        pub fn read(self, format: RowFormat) -> (Vec<Result<QueryResult, DbError>>, u16) {
            let mut status = 0;
            let mut source = Canned(self.packets);
            let results = read_results(&mut source, format, self.deprecate_eof, &mut status)
                .expect("well-formed packets");
            assert!(source.0.is_empty(), "packets left over");
            (results, status)
        }
    }

    fn bytes(text: &str) -> Value {
        Value::Bytes(text.as_bytes().to_vec())
    }

    fn columns() -> Vec<Column> {
        vec![
            Column::new("id", ColumnType::LongLong),
            Column::new("name", ColumnType::VarString),
        ]
    }

    #[test]
    fn text_results_in_both_eof_styles() {
        for deprecate_eof in [false, true] {
            let mut script = Script {
                deprecate_eof,
                ..Script::default()
            };
            let rows = vec![
                vec![Value::Int(1), bytes("a")],
                vec![Value::Int(2), Value::Null],
            ];
            script.result_set(&columns(), &rows, false);
            script.end(status::AUTOCOMMIT | status::IN_TRANS);
            let (results, flags) = script.read(RowFormat::Text);
            assert_eq!(flags, status::AUTOCOMMIT | status::IN_TRANS);
            assert_eq!(
                results,
                [Ok(QueryResult::Rows {
                    columns: columns(),
                    rows: vec![vec![bytes("1"), bytes("a")], vec![bytes("2"), Value::Null]],
                })]
            );
        }
    }

    #[test]
    fn multi_results_follow_the_more_results_flag_and_stop_at_an_error() {
        let more = status::AUTOCOMMIT | status::MORE_RESULTS_EXISTS;
        let mut script = Script::default();
        script.ok(3, more);
        script.result_set(&columns(), &[vec![Value::Int(1), bytes("x")]], false);
        script.end(more);
        let error = DbError::new(1146, "42S02", "Table 'test.t' doesn't exist");
        script.push(|out| encode_err(out, &error));
        let (results, flags) = script.read(RowFormat::Text);
        assert_eq!(results.len(), 3);
        assert_eq!(results[0], Ok(QueryResult::ok(3)));
        assert!(matches!(results[1], Ok(QueryResult::Rows { .. })));
        assert_eq!(results[2], Err(error));
        assert_eq!(flags, more, "an ERR carries no status");
    }

    #[test]
    fn an_error_after_some_rows_ends_the_result() {
        let mut script = Script {
            deprecate_eof: true,
            ..Script::default()
        };
        script.result_set(&columns(), &[vec![Value::Int(1), bytes("x")]], false);
        let error = DbError::new(1317, "70100", "Query execution was interrupted");
        script.push(|out| encode_err(out, &error));
        assert_eq!(script.read(RowFormat::Text).0, [Err(error)]);
    }

    #[test]
    fn binary_results_decode_by_type() {
        let mut script = Script::default();
        let rows = vec![
            vec![Value::Int(-7), bytes("é")],
            vec![Value::Null, Value::Null],
        ];
        script.result_set(&columns(), &rows, true);
        script.end(status::AUTOCOMMIT);
        let (results, _) = script.read(RowFormat::Binary);
        assert_eq!(
            results,
            [Ok(QueryResult::Rows {
                columns: columns(),
                rows
            })]
        );
    }

    #[test]
    fn malformed_replies_are_protocol_errors() {
        let cases: Vec<Vec<Vec<u8>>> = vec![
            vec![vec![]],
            vec![vec![0xfb, b'x']],
            vec![vec![0x00, 1]],
            vec![vec![0x01], vec![1, 2, 3]],
            vec![vec![0x01], vec![0x03, b'd', b'e', b'f']],
            vec![vec![0xfc, 0x01]],
        ];
        for packets in cases {
            let mut source = Canned(packets.clone().into());
            let result = read_results(&mut source, RowFormat::Text, false, &mut 0);
            assert!(
                matches!(result, Err(ClientError::Protocol(_))),
                "{packets:?}: {result:?}"
            );
        }
        let mut script = Script::default();
        script.push(|out| encode_column_count(out, 1));
        script.columns(&[Column::new("a", ColumnType::Long)]);
        script.push(|out| out.extend_from_slice(&[1, b'1', 1, b'2']));
        let mut source = Canned(script.packets);
        assert!(read_results(&mut source, RowFormat::Text, false, &mut 0).is_err());
    }

    #[test]
    fn text_rows() {
        assert_eq!(
            parse_text_row(&[0xfb, 0, 2, b'h', b'i'], 3),
            Ok(vec![Value::Null, bytes(""), bytes("hi")])
        );
        assert!(parse_text_row(&[0xfb], 2).is_err());
        assert!(parse_text_row(&[0xfb, 0xfb], 1).is_err());
    }
}
