//! The server side of the MySQL client/server protocol, independent of any backend.
//!
//! Layers, bottom up: [`packet`] frames payloads; [`wire`] reads and writes the fields inside
//! them; [`handshake`], [`auth`], [`command`], [`params`], [`response`] and [`resultset`] are
//! the packet types; the private `connection` module runs one client's login and command loop
//! against a [`crate::Session`]. [`crate::server`] accepts the connections.

pub mod async_packet;
pub mod auth;
pub mod charset;
pub mod command;
mod compress;
pub(crate) mod connection;
pub mod constants;
pub mod handshake;
pub mod multi_statement;
pub mod packet;
pub mod params;
pub mod reply;
pub mod response;
pub mod resultset;
pub mod stream;
pub mod temporal;
pub mod wire;

#[cfg(test)]
mod garbage_tests {
    //! Every parser of client input, fed deterministic pseudo-random bytes: errors are fine,
    //! panics are not.

    use std::io::{self, Cursor};

    use super::command::Command;
    use super::handshake::HandshakeResponse;
    use super::multi_statement::has_multiple_statements;
    use super::packet::PacketIo;
    use super::params::{read_params, BoundParams};
    use super::temporal::{DateTime, Time};
    use super::wire::PayloadReader;
    use crate::noise::Noise;

    #[test]
    fn parsers_survive_garbage() {
        let mut noise = Noise::new(0x9e37_79b9_7f4a_7c15);
        for round in 0..20_000 {
            let input = noise.bytes(64, &[]);
            let _ = Command::parse(&input);
            let _ = HandshakeResponse::parse(&input);
            let _ = has_multiple_statements(&input);
            let _ = DateTime::decode_binary(&mut PayloadReader::new(&input));
            let _ = Time::decode_binary(&mut PayloadReader::new(&input));
            let mut bound = BoundParams::new(round % 9);
            let _ = read_params(&input, &mut bound);
            let _ = read_params(&input, &mut bound);
            let mut io = PacketIo::new(Cursor::new(input), io::sink(), 1024);
            while io.read_payload().is_ok() {}
        }
    }
}
