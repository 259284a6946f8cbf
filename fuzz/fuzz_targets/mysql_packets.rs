//! MySQL protocol: a client's byte stream framed into packets, the first parsed as the
//! handshake response, the rest as commands (with COM_STMT_EXECUTE parameters decoded).

#![no_main]

use std::io::Cursor;

use dbwire::protocol::command::Command;
use dbwire::protocol::handshake::HandshakeResponse;
use dbwire::protocol::packet::PacketIo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut io = PacketIo::new(Cursor::new(data), Vec::new(), 1 << 16);
    let mut first = true;
    for _ in 0..16 {
        io.reset_sequence();
        let Ok(payload) = io.read_payload() else {
            return;
        };
        if first {
            let _ = HandshakeResponse::parse(&payload);
            first = false;
        } else {
            let _ = Command::parse(&payload);
        }
    }
});
