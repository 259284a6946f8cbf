//! MySQL protocol: a client's byte stream framed into packets, the first parsed as the
//! handshake response, the rest as commands; the same bytes as a compressed stream, and as a
//! server's reply followed by a relaying proxy.

#![no_main]

use std::io::Cursor;

use dbwire::protocol::command::Command;
use dbwire::protocol::handshake::HandshakeResponse;
use dbwire::protocol::packet::PacketIo;
use dbwire::protocol::reply::ReplyTracker;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    client_stream(data, false);
    client_stream(data, true);
    relayed_reply(data);
});

/// Packets as a server reads them from a client, optionally compressed after the login.
fn client_stream(data: &[u8], compressed: bool) {
    let mut io = PacketIo::new(Cursor::new(data), Vec::new(), 1 << 16);
    if compressed {
        io.enable_compression();
    }
    let mut first = !compressed;
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
}

/// Packets as a proxy reads them from a server and follows them as one reply.
fn relayed_reply(data: &[u8]) {
    let deprecate_eof = data.first().is_some_and(|byte| byte & 1 == 1);
    let mut io = PacketIo::new(Cursor::new(data), Vec::new(), 1 << 16);
    let mut tracker = ReplyTracker::new(deprecate_eof, !deprecate_eof, 0);
    let mut sent = 0usize;
    for _ in 0..64 {
        let Ok(payload) = io.read_payload() else {
            return;
        };
        if tracker
            .feed(&payload, &mut |out| {
                sent += out.len();
                Ok(())
            })
            .is_err()
            || tracker.is_done()
        {
            return;
        }
        if tracker.wants_local_file() {
            tracker.local_file_sent();
        }
    }
}
