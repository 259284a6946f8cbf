//! A minimal MySQL client speaking raw packets, to test what real clients never send:
//! unknown plugins, malformed packets, oversized headers, wrong sequence ids.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use dbwire::auth::{caching_sha2_scramble, native_password_scramble};
use dbwire::protocol::constants::capabilities::*;
use dbwire::protocol::wire::{PayloadReader, PayloadWriter};

/// What a plain client announces.
pub const BASE_CAPS: u32 = LONG_PASSWORD
    | LONG_FLAG
    | PROTOCOL_41
    | TRANSACTIONS
    | SECURE_CONNECTION
    | MULTI_RESULTS
    | PS_MULTI_RESULTS
    | PLUGIN_AUTH
    | PLUGIN_AUTH_LENENC_CLIENT_DATA;

/// The server's greeting, decoded.
#[derive(Debug)]
pub struct Greeting {
    pub version: String,
    pub connection_id: u32,
    pub capabilities: u32,
    pub charset: u8,
    pub status: u16,
    pub nonce: Vec<u8>,
    pub plugin: String,
}

/// A decoded server response.
#[derive(Debug, PartialEq)]
pub enum Response {
    Ok {
        affected_rows: u64,
        last_insert_id: u64,
        status: u16,
        warnings: u16,
        info: String,
    },
    Err {
        code: u16,
        state: String,
        message: String,
    },
    Rows {
        columns: Vec<ColumnInfo>,
        rows: Vec<Vec<u8>>,
        status: u16,
    },
}

/// The interesting parts of a column definition.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnInfo {
    pub name: String,
    pub column_type: u8,
    pub flags: u16,
    pub charset: u16,
    pub decimals: u8,
}

impl Response {
    /// The (code, SQLSTATE) of an ERR, panicking otherwise.
    pub fn error(&self) -> (u16, &str) {
        match self {
            Response::Err { code, state, .. } => (*code, state.as_str()),
            other => panic!("expected ERR, got {other:?}"),
        }
    }

    /// Text-protocol rows as optional byte strings, panicking if this is not a result set.
    pub fn text_rows(&self) -> Vec<Vec<Option<Vec<u8>>>> {
        match self {
            Response::Rows { columns, rows, .. } => rows
                .iter()
                .map(|row| parse_text_row(row, columns.len()))
                .collect(),
            other => panic!("expected rows, got {other:?}"),
        }
    }

    /// Status flags of an OK or of a result set's end marker.
    pub fn status(&self) -> u16 {
        match self {
            Response::Ok { status, .. } | Response::Rows { status, .. } => *status,
            other => panic!("expected OK or rows, got {other:?}"),
        }
    }
}

/// One text row's values.
pub fn parse_text_row(row: &[u8], columns: usize) -> Vec<Option<Vec<u8>>> {
    let mut reader = PayloadReader::new(row);
    (0..columns)
        .map(|_| {
            if row.get(row.len() - reader.remaining()) == Some(&0xfb) {
                reader.u8().unwrap();
                None
            } else {
                Some(reader.lenenc_bytes().unwrap().to_vec())
            }
        })
        .collect()
}

/// A connection to the server under test.
pub struct RawClient {
    pub stream: TcpStream,
    pub seq: u8,
    pub capabilities: u32,
}

impl RawClient {
    /// Connects and reads the greeting.
    pub fn connect(port: u16) -> (RawClient, Greeting) {
        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut client = RawClient {
            stream,
            seq: 0,
            capabilities: BASE_CAPS,
        };
        let payload = client.read_packet().unwrap();
        (client, parse_greeting(&payload))
    }

    /// Connects and logs in with the server's announced plugin.
    pub fn login(port: u16, user: &str, password: &str, capabilities: u32) -> RawClient {
        let (mut client, greeting) = RawClient::connect(port);
        client.capabilities = capabilities;
        let scramble = scramble(&greeting.plugin, password, &greeting.nonce);
        let response =
            handshake_response(capabilities, user, &scramble, None, Some(&greeting.plugin));
        client.write_packet(&response);
        let mut reply = client.read_packet().unwrap();
        if reply == [0x01, 0x03] {
            reply = client.read_packet().unwrap();
        }
        assert_eq!(
            reply[0],
            0x00,
            "login failed: {:?}",
            String::from_utf8_lossy(&reply)
        );
        client
    }

    /// Sends one payload with the next sequence id, splitting it when large.
    pub fn write_packet(&mut self, payload: &[u8]) {
        let mut pieces: Vec<&[u8]> = payload.chunks(0xff_ffff).collect();
        if payload.len() % 0xff_ffff == 0 {
            pieces.push(&[]);
        }
        for piece in pieces {
            let len = (piece.len() as u32).to_le_bytes();
            self.stream
                .write_all(&[len[0], len[1], len[2], self.seq])
                .unwrap();
            self.stream.write_all(piece).unwrap();
            self.seq = self.seq.wrapping_add(1);
        }
    }

    /// Reads one payload, joining split packets and checking sequence ids.
    pub fn read_packet(&mut self) -> io::Result<Vec<u8>> {
        let mut payload = Vec::new();
        loop {
            let mut header = [0u8; 4];
            self.stream.read_exact(&mut header)?;
            let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
            assert_eq!(header[3], self.seq, "server sequence id");
            self.seq = self.seq.wrapping_add(1);
            let start = payload.len();
            payload.resize(start + len, 0);
            self.stream.read_exact(&mut payload[start..])?;
            if len < 0xff_ffff {
                return Ok(payload);
            }
        }
    }

    /// True once the server has closed the connection (EOF or reset).
    pub fn is_closed(&mut self) -> bool {
        let mut byte = [0u8; 1];
        matches!(self.stream.read(&mut byte), Ok(0) | Err(_))
    }

    /// Starts a command: sequence id 0, then the payload.
    pub fn command(&mut self, payload: &[u8]) {
        self.seq = 0;
        self.write_packet(payload);
    }

    /// COM_QUERY and its response.
    pub fn query(&mut self, sql: &str) -> Response {
        let mut payload = vec![0x03];
        payload.extend_from_slice(sql.as_bytes());
        self.command(&payload);
        self.read_response()
    }

    /// Reads an OK, an ERR or a whole result set.
    pub fn read_response(&mut self) -> Response {
        let first = self.read_packet().unwrap();
        match first[0] {
            0x00 => parse_ok(&first),
            0xff => parse_err(&first),
            _ => {
                let count = PayloadReader::new(&first).lenenc_int().unwrap() as usize;
                self.read_result_set(count)
            }
        }
    }

    /// Column definitions (and EOF unless DEPRECATE_EOF) of a result set.
    pub fn read_columns(&mut self, count: usize) -> Vec<ColumnInfo> {
        let columns = (0..count)
            .map(|_| parse_column(&self.read_packet().unwrap()))
            .collect();
        if self.capabilities & DEPRECATE_EOF == 0 {
            let eof = self.read_packet().unwrap();
            assert!(
                eof[0] == 0xfe && eof.len() < 9,
                "EOF after columns: {eof:?}"
            );
        }
        columns
    }

    fn read_result_set(&mut self, count: usize) -> Response {
        let columns = self.read_columns(count);
        let mut rows = Vec::new();
        loop {
            let packet = self.read_packet().unwrap();
            if let Some(status) = self.end_marker_status(&packet) {
                return Response::Rows {
                    columns,
                    rows,
                    status,
                };
            }
            if packet[0] == 0xff {
                return parse_err(&packet);
            }
            rows.push(packet);
        }
    }

    /// The status flags if `packet` ends a row list (EOF, or OK-with-0xFE under DEPRECATE_EOF).
    pub fn end_marker_status(&self, packet: &[u8]) -> Option<u16> {
        if packet.first() != Some(&0xfe) {
            return None;
        }
        if self.capabilities & DEPRECATE_EOF == 0 && packet.len() < 9 {
            return Some(u16::from_le_bytes([packet[3], packet[4]]));
        }
        if self.capabilities & DEPRECATE_EOF != 0 && packet.len() < 0xff_ffff {
            return match parse_ok(packet) {
                Response::Ok { status, .. } => Some(status),
                _ => None,
            };
        }
        None
    }
}

/// The response a plugin computes for `password`.
pub fn scramble(plugin: &str, password: &str, nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    match plugin {
        "mysql_native_password" => native_password_scramble(password, nonce).to_vec(),
        "caching_sha2_password" => caching_sha2_scramble(password, nonce).to_vec(),
        other => panic!("no scramble for {other}"),
    }
}

/// A HandshakeResponse41 payload.
pub fn handshake_response(
    capabilities: u32,
    user: &str,
    auth: &[u8],
    database: Option<&str>,
    plugin: Option<&str>,
) -> Vec<u8> {
    let capabilities = capabilities
        | if database.is_some() {
            CONNECT_WITH_DB
        } else {
            0
        };
    let mut out = Vec::new();
    out.put_u32(capabilities);
    out.put_u32(1 << 24);
    out.put_u8(45);
    out.extend_from_slice(&[0; 23]);
    out.put_nul_terminated(user.as_bytes());
    out.put_lenenc_bytes(auth);
    if let Some(database) = database {
        out.put_nul_terminated(database.as_bytes());
    }
    if let Some(plugin) = plugin {
        out.put_nul_terminated(plugin.as_bytes());
    }
    out
}

fn parse_greeting(payload: &[u8]) -> Greeting {
    let mut r = PayloadReader::new(payload);
    assert_eq!(r.u8().unwrap(), 10, "protocol version");
    let version = String::from_utf8(r.nul_terminated().unwrap().to_vec()).unwrap();
    let connection_id = r.u32().unwrap();
    let mut nonce = r.bytes(8).unwrap().to_vec();
    r.u8().unwrap();
    let low = r.u16().unwrap();
    let charset = r.u8().unwrap();
    let status = r.u16().unwrap();
    let high = r.u16().unwrap();
    let nonce_len = r.u8().unwrap() as usize;
    r.skip(10).unwrap();
    let part2 = r.bytes(nonce_len.max(21) - 8).unwrap();
    nonce.extend_from_slice(&part2[..part2.len() - 1]);
    let plugin = String::from_utf8(r.nul_terminated().unwrap().to_vec()).unwrap();
    let capabilities = u32::from(low) | u32::from(high) << 16;
    Greeting {
        version,
        connection_id,
        capabilities,
        charset,
        status,
        nonce,
        plugin,
    }
}

/// Decodes an OK packet (0x00 or 0xFE header).
pub fn parse_ok(payload: &[u8]) -> Response {
    let mut r = PayloadReader::new(&payload[1..]);
    Response::Ok {
        affected_rows: r.lenenc_int().unwrap(),
        last_insert_id: r.lenenc_int().unwrap(),
        status: r.u16().unwrap(),
        warnings: r.u16().unwrap(),
        info: if r.is_empty() {
            String::new()
        } else {
            String::from_utf8(r.lenenc_bytes().unwrap().to_vec()).unwrap()
        },
    }
}

/// Decodes an ERR packet.
pub fn parse_err(payload: &[u8]) -> Response {
    assert_eq!(payload[0], 0xff, "ERR packet");
    assert_eq!(payload[3], b'#', "SQLSTATE marker");
    Response::Err {
        code: u16::from_le_bytes([payload[1], payload[2]]),
        state: String::from_utf8(payload[4..9].to_vec()).unwrap(),
        message: String::from_utf8(payload[9..].to_vec()).unwrap(),
    }
}

/// Decodes a ColumnDefinition41 packet.
pub fn parse_column(payload: &[u8]) -> ColumnInfo {
    let mut r = PayloadReader::new(payload);
    assert_eq!(r.lenenc_bytes().unwrap(), b"def");
    for _ in 0..3 {
        r.lenenc_bytes().unwrap();
    }
    let name = String::from_utf8(r.lenenc_bytes().unwrap().to_vec()).unwrap();
    r.lenenc_bytes().unwrap();
    assert_eq!(r.lenenc_int().unwrap(), 0x0c);
    let charset = r.u16().unwrap();
    r.u32().unwrap();
    let column_type = r.u8().unwrap();
    let flags = r.u16().unwrap();
    let decimals = r.u8().unwrap();
    ColumnInfo {
        name,
        column_type,
        flags,
        charset,
        decimals,
    }
}
