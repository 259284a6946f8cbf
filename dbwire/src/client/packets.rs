//! The server's generic response packets, read by the client: OK, ERR and EOF, and the
//! end-of-rows marker that is either of the last two.

use crate::backend::{DbError, QueryResult};
use crate::protocol::constants::markers;
use crate::protocol::packet::MAX_CHUNK;
use crate::protocol::wire::{PayloadReader, WireError};

/// The contents of an OK packet (header 0x00, or 0xFE when it ends rows under DEPRECATE_EOF).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct OkReply {
    /// Rows changed.
    pub affected_rows: u64,
    /// The AUTO_INCREMENT value generated.
    pub last_insert_id: u64,
    /// Server status flags.
    pub status: u16,
    /// Warning count.
    pub warnings: u16,
    /// Human-readable information.
    pub info: String,
}

impl OkReply {
    /// Parses an OK packet, header byte included.
    pub fn parse(payload: &[u8]) -> Result<OkReply, WireError> {
        let mut reader = PayloadReader::new(payload);
        reader.u8()?;
        let affected_rows = reader.lenenc_int()?;
        let last_insert_id = reader.lenenc_int()?;
        let status = reader.u16()?;
        let warnings = reader.u16()?;
        let info = read_info(&mut reader);
        Ok(OkReply {
            affected_rows,
            last_insert_id,
            status,
            warnings,
            info,
        })
    }

    /// The statement outcome this OK reports.
    pub fn into_result(self) -> QueryResult {
        QueryResult::Ok {
            affected_rows: self.affected_rows,
            last_insert_id: self.last_insert_id,
            warnings: self.warnings,
            info: self.info,
        }
    }
}

/// The info text: length-encoded as MySQL and MariaDB send it, or the rest of the packet
/// (`string<EOF>`, as the protocol documentation describes it) when that does not fit.
fn read_info(reader: &mut PayloadReader<'_>) -> String {
    let mut lenenc = reader.clone();
    let bytes = match lenenc.lenenc_bytes() {
        Ok(bytes) if lenenc.is_empty() => bytes,
        _ => reader.rest(),
    };
    String::from_utf8_lossy(bytes).into_owned()
}

/// Parses an ERR packet, header byte included. Packets sent before the capabilities are
/// agreed may lack the `#` and SQLSTATE; those get `HY000`.
pub(crate) fn parse_err(payload: &[u8]) -> Result<DbError, WireError> {
    let mut reader = PayloadReader::new(payload);
    reader.u8()?;
    let code = reader.u16()?;
    let mut sql_state = *b"HY000";
    if reader.clone().u8() == Ok(b'#') && reader.remaining() >= 6 {
        reader.u8()?;
        sql_state = reader.array()?;
    }
    let message = String::from_utf8_lossy(reader.rest()).into_owned();
    Ok(DbError {
        code,
        sql_state,
        message,
    })
}

/// The status flags of a classic EOF packet (0xFE, warnings, status).
pub(crate) fn parse_eof_status(payload: &[u8]) -> Result<u16, WireError> {
    let mut reader = PayloadReader::new(payload);
    reader.u8()?;
    let _warnings = reader.u16()?;
    reader.u16()
}

/// True when `payload` ends a list of rows or columns: a classic EOF packet, or (under
/// DEPRECATE_EOF) an OK packet with the 0xFE header. A text row can start with 0xFE too, but
/// only for a value of 16 MiB or more, so its payload is longer than any OK packet.
pub(crate) fn is_end_marker(payload: &[u8], deprecate_eof: bool) -> bool {
    let limit = if deprecate_eof { MAX_CHUNK } else { 9 };
    payload.first() == Some(&markers::EOF) && payload.len() < limit
}

/// The status flags of an end marker: from the OK under DEPRECATE_EOF, else from the EOF.
pub(crate) fn end_marker_status(payload: &[u8], deprecate_eof: bool) -> Result<u16, WireError> {
    if deprecate_eof {
        OkReply::parse(payload).map(|ok| ok.status)
    } else {
        parse_eof_status(payload)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::response::{encode_eof, encode_err, OkPacket};

    #[test]
    fn ok_packets_round_trip_with_the_server_encoder() {
        let packet = OkPacket {
            affected_rows: 300,
            last_insert_id: 1 << 40,
            status: 3,
            warnings: 2,
            info: "Rows matched: 1  Changed: 1  Warnings: 0",
        };
        let mut out = Vec::new();
        packet.encode(&mut out);
        let ok = OkReply::parse(&out).unwrap();
        assert_eq!(
            ok,
            OkReply {
                affected_rows: 300,
                last_insert_id: 1 << 40,
                status: 3,
                warnings: 2,
                info: packet.info.into(),
            }
        );
        out.clear();
        packet.encode_as_eof(&mut out);
        assert!(is_end_marker(&out, true));
        assert_eq!(end_marker_status(&out, true), Ok(3));
    }

    #[test]
    fn ok_info_without_length_prefix_is_the_rest() {
        let mut out = vec![0, 1, 0, 2, 0, 0, 0];
        out.extend_from_slice(b"plain info");
        assert_eq!(OkReply::parse(&out).unwrap().info, "plain info");
        assert_eq!(OkReply::parse(&[0, 0, 0, 2, 0, 0, 0]).unwrap().info, "");
        assert!(OkReply::parse(&[0, 0, 0, 2]).is_err());
    }

    #[test]
    fn err_packets_with_and_without_sqlstate() {
        let error = DbError::new(1146, "42S02", "Table 'x.t' doesn't exist");
        let mut out = Vec::new();
        encode_err(&mut out, &error);
        assert_eq!(parse_err(&out), Ok(error));

        let mut old = vec![0xff, 0x10, 0x04];
        old.extend_from_slice(b"Too many connections");
        let parsed = parse_err(&old).unwrap();
        assert_eq!(
            (parsed.code, &parsed.sql_state, parsed.message.as_str()),
            (1040, b"HY000", "Too many connections")
        );
        assert!(parse_err(&[0xff, 1]).is_err());
    }

    #[test]
    fn end_markers() {
        let mut eof = Vec::new();
        encode_eof(&mut eof, 1, 0x0a);
        assert!(is_end_marker(&eof, false));
        assert_eq!(end_marker_status(&eof, false), Ok(0x0a));
        assert!(!is_end_marker(&[0xfe; 9], false));
        assert!(!is_end_marker(&[0x00, 1, 2], true));
        let row_with_huge_value = vec![0xfe; MAX_CHUNK + 10];
        assert!(!is_end_marker(&row_with_huge_value, true));
    }
}
