//! The generic response packets: OK, ERR and EOF.

use super::constants::markers;
use super::wire::PayloadWriter;
use crate::backend::DbError;

/// The contents of an OK packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OkPacket<'a> {
    /// Rows changed by the statement.
    pub affected_rows: u64,
    /// The AUTO_INCREMENT value the statement generated.
    pub last_insert_id: u64,
    /// Server status flags.
    pub status: u16,
    /// Warning count.
    pub warnings: u16,
    /// Human-readable information.
    pub info: &'a str,
}

impl OkPacket<'_> {
    /// Appends the OK packet to `out`, starting with 0x00.
    pub fn encode(&self, out: &mut Vec<u8>) {
        self.encode_with_header(out, markers::OK);
    }

    /// Appends the OK packet that ends a result set under `CLIENT_DEPRECATE_EOF`: 0xFE first.
    pub fn encode_as_eof(&self, out: &mut Vec<u8>) {
        self.encode_with_header(out, markers::EOF);
    }

    fn encode_with_header(&self, out: &mut Vec<u8>, header: u8) {
        out.put_u8(header);
        out.put_lenenc_int(self.affected_rows);
        out.put_lenenc_int(self.last_insert_id);
        out.put_u16(self.status);
        out.put_u16(self.warnings);
        if !self.info.is_empty() {
            // Length-encoded, as MySQL sends it and as libmysqlclient and mysqlnd read it
            // (the protocol documentation's "string<EOF>" is not what servers send).
            out.put_lenenc_bytes(self.info.as_bytes());
        }
    }
}

/// Appends an ERR packet (protocol 4.1 form, with SQLSTATE) for `error`.
pub fn encode_err(out: &mut Vec<u8>, error: &DbError) {
    out.put_u8(markers::ERR);
    out.put_u16(error.code);
    out.put_u8(b'#');
    out.extend_from_slice(&error.sql_state);
    out.extend_from_slice(error.message.as_bytes());
}

/// Appends a classic EOF packet (clients without `CLIENT_DEPRECATE_EOF`).
pub fn encode_eof(out: &mut Vec<u8>, warnings: u16, status: u16) {
    out.put_u8(markers::EOF);
    out.put_u16(warnings);
    out.put_u16(status);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ok_packet_layout() {
        let mut out = Vec::new();
        let ok = OkPacket {
            affected_rows: 3,
            last_insert_id: 300,
            status: 2,
            warnings: 1,
            info: "hi",
        };
        ok.encode(&mut out);
        assert_eq!(out, [0x00, 3, 0xfc, 0x2c, 0x01, 2, 0, 1, 0, 2, b'h', b'i']);
        out.clear();
        ok.encode_as_eof(&mut out);
        assert_eq!(out[0], 0xfe);
        assert!(out.len() < 0xff_ffff);
    }

    #[test]
    fn ok_packets_without_info_end_after_the_warnings() {
        let mut out = Vec::new();
        OkPacket {
            status: 2,
            ..OkPacket::default()
        }
        .encode(&mut out);
        assert_eq!(out, [0x00, 0, 0, 2, 0, 0, 0]);
    }

    #[test]
    fn err_packet_layout() {
        let mut out = Vec::new();
        encode_err(
            &mut out,
            &DbError::new(1146, "42S02", "Table 'x.t' doesn't exist"),
        );
        assert_eq!(
            &out[..9],
            &[0xff, 0x7a, 0x04, b'#', b'4', b'2', b'S', b'0', b'2']
        );
        assert_eq!(&out[9..], b"Table 'x.t' doesn't exist");
    }

    #[test]
    fn eof_packet_layout() {
        let mut out = Vec::new();
        encode_eof(&mut out, 0, 0x000a);
        assert_eq!(out, [0xfe, 0, 0, 0x0a, 0]);
    }
}
