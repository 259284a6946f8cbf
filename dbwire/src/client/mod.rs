//! The client side of the MySQL protocol: connections from ePHPm to a real MySQL or MariaDB
//! server, used by the proxy's backend pool.
//!
//! A [`Connection`] is one blocking TCP connection (no TLS, no compression), logged in with
//! `mysql_native_password` or `caching_sha2_password` (fast path, or full authentication
//! with the server's RSA key). It reuses the server side's building blocks: packet framing
//! ([`crate::protocol::packet`]), field encoding ([`crate::protocol::wire`]), scrambles
//! ([`crate::protocol::auth`]) and temporal values ([`crate::protocol::temporal`]); results
//! come back as the [`crate::backend`] types the server encodes, so a proxy can forward them.
//!
//! Modules: `url` ([`ConnectOptions`]), `greeting` (Handshake v10 and the client's answer),
//! `auth` (the login exchange), `public_key` (RSA for full authentication), `packets` (OK,
//! ERR, EOF), `column` (column definitions), `results` (result sets and multi-results),
//! `binary` (COM_STMT_EXECUTE and binary rows), `statement` ([`ServerStatement`]),
//! `connection` ([`Connection`]) and `error` ([`ClientError`]).
//!
//! ```no_run
//! use dbwire::client::{ConnectOptions, Connection};
//!
//! let options = ConnectOptions::from_url("mysql://app:secret@127.0.0.1:3306/shop")?;
//! let mut connection = Connection::connect(&options)?;
//! for result in connection.query("SELECT 1; SELECT 2")? {
//!     println!("{:?}", result?);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod auth;
mod binary;
mod column;
mod connection;
mod error;
mod greeting;
mod packets;
mod public_key;
mod results;
mod statement;
mod url;

pub use self::connection::{Connection, Relayed};
pub use self::error::{ClientError, AUTH_PLUGIN_CANNOT_LOAD, AUTH_PLUGIN_ERR};
pub use self::statement::ServerStatement;
pub use self::url::{
    ConnectOptions, UrlError, DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_PACKET, DEFAULT_PORT,
};

#[cfg(test)]
mod garbage_tests {
    //! Every parser of server input, fed deterministic pseudo-random bytes: errors are fine,
    //! panics are not.

    use std::collections::VecDeque;

    use super::binary::decode_binary_row;
    use super::column::parse_column_definition;
    use super::greeting::ServerGreeting;
    use super::packets::{parse_err, OkReply};
    use super::results::tests::Canned;
    use super::results::{parse_text_row, read_results, RowFormat};
    use super::statement::read_prepare_reply;
    use crate::backend::{Column, ColumnType};
    use crate::noise::Noise;

    /// The protocol's marker bytes, which take the parsers down their deeper paths.
    const MARKERS: [u8; 8] = [0x00, 0x01, 0x03, 0x0a, 0xfb, 0xfc, 0xfe, 0xff];

    #[test]
    fn parsers_survive_garbage() {
        let columns: Vec<Column> = [
            ColumnType::Tiny,
            ColumnType::LongLong,
            ColumnType::Double,
            ColumnType::DateTime,
            ColumnType::Time,
            ColumnType::Bit,
            ColumnType::Blob,
        ]
        .into_iter()
        .map(|column_type| Column::new("c", column_type))
        .collect();
        let mut noise = Noise::new(0x2545_f491_4f6c_dd1d);
        for round in 0..20_000 {
            let input = noise.bytes(64, &MARKERS);
            let _ = ServerGreeting::parse(&input);
            let _ = OkReply::parse(&input);
            let _ = parse_err(&input);
            let _ = parse_column_definition(&input);
            let _ = parse_text_row(&input, round % 5);
            let _ = decode_binary_row(&input, &columns[..round % columns.len()]);
            let packets: VecDeque<Vec<u8>> =
                (0..round % 6).map(|_| noise.bytes(24, &MARKERS)).collect();
            let format = [RowFormat::Text, RowFormat::Binary][round % 2];
            let _ = read_results(&mut Canned(packets.clone()), format, round % 3 == 0, &mut 0);
            let _ = read_prepare_reply(&mut Canned(packets), round % 3 == 0);
        }
    }
}
