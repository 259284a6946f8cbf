//! A socket reader with an optional deadline for a whole exchange (the login), not per read:
//! a client dripping one byte at a time can't stretch `connect_timeout` indefinitely.

use std::io::{self, Read};
use std::time::Instant;

use crate::protocol::stream::ClientStream;

/// Reads from a socket, failing with `TimedOut` once the deadline (if any) has passed.
#[derive(Debug)]
pub(crate) struct DeadlineReader {
    stream: ClientStream,
    deadline: Option<Instant>,
    /// Bytes another reader received from the socket and did not read: served first.
    pending: Vec<u8>,
}

impl DeadlineReader {
    /// Reads `stream`, each read bounded by the time left until `deadline`.
    pub(crate) fn new(stream: ClientStream, deadline: Instant) -> DeadlineReader {
        DeadlineReader {
            stream,
            deadline: Some(deadline),
            pending: Vec::new(),
        }
    }

    /// Puts bytes another reader took from the socket (and did not read) in front of it.
    pub(crate) fn unread(&mut self, bytes: Vec<u8>) {
        if self.pending.is_empty() {
            self.pending = bytes;
        } else {
            self.pending.extend_from_slice(&bytes);
        }
    }

    /// The bytes given to [`DeadlineReader::unread`] and not read yet.
    pub(crate) fn take_pending(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Ends the deadline: reads are then bounded only by the socket's own read timeout.
    pub(crate) fn clear_deadline(&mut self) {
        self.deadline = None;
    }
}

impl Read for DeadlineReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.pending.is_empty() {
            let len = buf.len().min(self.pending.len());
            buf[..len].copy_from_slice(&self.pending[..len]);
            self.pending.drain(..len);
            return Ok(len);
        }
        if let Some(deadline) = self.deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
        }
        self.stream.read(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};
    use std::time::Duration;

    #[test]
    fn a_dripping_peer_runs_into_the_deadline() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let address = listener.local_addr().expect("address");
        let dripper = std::thread::spawn(move || {
            let mut client = TcpStream::connect(address).expect("connect");
            for _ in 0..20 {
                if client.write_all(b"x").is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let (server, _) = listener.accept().expect("accept");
        let started = Instant::now();
        let server = ClientStream::Tcp(server);
        let mut reader = DeadlineReader::new(server, started + Duration::from_millis(500));
        let mut buf = [0u8; 16];
        let error = loop {
            match reader.read(&mut buf) {
                Ok(n) if n > 0 => continue,
                Ok(_) => panic!("the peer closed before the deadline"),
                Err(error) => break error,
            }
        };
        assert!(matches!(
            error.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ));
        assert!(started.elapsed() < Duration::from_millis(1500));
        drop(reader);
        let _ = dripper.join();
    }
}
