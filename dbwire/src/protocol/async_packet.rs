//! Packet framing over a non-blocking stream (any `futures` `AsyncRead + AsyncWrite`, such as
//! a glommio socket): the same frames as [`super::packet::PacketIo`], for connections served
//! as tasks on an executor. Incoming bytes are buffered and cut into payloads without I/O of
//! their own; outgoing packets are queued in memory and sent by [`AsyncPackets::flush`].
//! The compressed protocol is not spoken here: such connections stay on the blocking path.

use std::io;

use futures_lite::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use super::packet::{admit_piece, piece_header, PacketError, MAX_CHUNK};

/// Bytes asked for by each read from the stream.
const READ_SIZE: usize = 16 * 1024;

/// Queued output past this size is sent before more is queued.
pub const FLUSH_THRESHOLD: usize = 64 * 1024;

/// One side of a connection framed into payloads.
#[derive(Debug)]
pub struct AsyncPackets<S> {
    stream: S,
    /// Bytes read and not yet consumed: `input[input_start..input_end]`.
    input: Vec<u8>,
    input_start: usize,
    input_end: usize,
    output: Vec<u8>,
    sequence: u8,
    max_payload: usize,
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncPackets<S> {
    /// Frames packets over `stream`; incoming payloads larger than `max_payload` are refused
    /// with [`PacketError::TooLarge`].
    pub fn new(stream: S, max_payload: usize) -> AsyncPackets<S> {
        AsyncPackets {
            stream,
            input: Vec::new(),
            input_start: 0,
            input_end: 0,
            output: Vec::new(),
            sequence: 0,
            max_payload,
        }
    }

    /// The stream underneath.
    pub fn stream(&self) -> &S {
        &self.stream
    }

    /// The stream underneath, given back (buffered input and queued output are dropped).
    pub fn into_stream(self) -> S {
        self.stream
    }

    /// Changes the limit on incoming payloads.
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// Starts a new exchange: the next packet read or written has sequence id 0.
    pub fn reset_sequence(&mut self) {
        self.sequence = 0;
    }

    /// The sequence id the next packet will carry.
    pub fn sequence(&self) -> u8 {
        self.sequence
    }

    /// Continues an exchange another framer started: the next packet carries `sequence`.
    pub fn set_sequence(&mut self, sequence: u8) {
        self.sequence = sequence;
    }

    /// Bytes received and not read yet, handed to whoever reads the stream next.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.input[self.input_start..self.input_end].to_vec();
        self.input_start = 0;
        self.input_end = 0;
        rest
    }

    /// Puts bytes another reader received (and did not read) in front of the stream's.
    pub fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let mut input = bytes.to_vec();
        input.extend_from_slice(&self.input[self.input_start..self.input_end]);
        self.input_end = input.len();
        self.input_start = 0;
        self.input = input;
    }

    /// True when received bytes wait to be read.
    pub fn has_buffered(&self) -> bool {
        self.input_start < self.input_end
    }

    /// Reads one payload into `payload` (cleared first), joining the pieces of a split one.
    /// A clean close before the first byte is [`PacketError::Closed`].
    pub async fn read_payload_into(&mut self, payload: &mut Vec<u8>) -> Result<(), PacketError> {
        payload.clear();
        let mut first = true;
        loop {
            self.fill(4, first).await?;
            first = false;
            let start = self.input_start;
            let header = [
                self.input[start],
                self.input[start + 1],
                self.input[start + 2],
                self.input[start + 3],
            ];
            let len = admit_piece(header, &mut self.sequence, payload.len(), self.max_payload)?;
            self.input_start += 4;
            self.read_body(len, payload).await?;
            if len < MAX_CHUNK {
                return Ok(());
            }
        }
    }

    /// Queues one payload, split into pieces when needed. Call [`AsyncPackets::flush`] to send.
    pub fn write_payload(&mut self, payload: &[u8]) {
        for piece in payload.chunks(MAX_CHUNK) {
            self.write_piece(piece);
        }
        if payload.len() % MAX_CHUNK == 0 {
            // An empty payload, or a split one whose last piece was full, ends with an empty piece.
            self.write_piece(&[]);
        }
    }

    /// Bytes queued and not sent yet.
    pub fn queued(&self) -> usize {
        self.output.len()
    }

    /// Sends everything queued.
    pub async fn flush(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            self.stream.write_all(&self.output).await?;
            self.output.clear();
            if self.output.capacity() > 4 * FLUSH_THRESHOLD {
                self.output = Vec::new();
            }
        }
        self.stream.flush().await
    }

    /// Sends the queue when it has grown past [`FLUSH_THRESHOLD`].
    pub async fn flush_if_full(&mut self) -> io::Result<()> {
        if self.output.len() >= FLUSH_THRESHOLD {
            self.flush().await?;
        }
        Ok(())
    }

    fn write_piece(&mut self, piece: &[u8]) {
        self.output
            .extend_from_slice(&piece_header(piece.len(), self.sequence));
        self.sequence = self.sequence.wrapping_add(1);
        self.output.extend_from_slice(piece);
    }

    /// Moves `len` bytes of the current packet into `payload`: from the buffer, then straight
    /// from the stream for what a big packet still lacks.
    async fn read_body(&mut self, len: usize, payload: &mut Vec<u8>) -> Result<(), PacketError> {
        let buffered = (self.input_end - self.input_start).min(len);
        payload.extend_from_slice(&self.input[self.input_start..self.input_start + buffered]);
        self.input_start += buffered;
        let missing = len - buffered;
        if missing > 0 {
            let start = payload.len();
            payload.resize(start + missing, 0);
            self.stream.read_exact(&mut payload[start..]).await?;
        }
        self.compact();
        Ok(())
    }

    /// Reads until at least `wanted` unconsumed bytes are buffered. With `first` (nothing of
    /// the packet read), a close before any byte is [`PacketError::Closed`].
    async fn fill(&mut self, wanted: usize, first: bool) -> Result<(), PacketError> {
        while self.input_end - self.input_start < wanted {
            self.compact();
            if self.input.len() - self.input_end < READ_SIZE / 2 {
                // Zeroed once per growth, not once per read.
                self.input.resize(self.input_end + READ_SIZE, 0);
            }
            let read = match self.stream.read(&mut self.input[self.input_end..]).await {
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::TimedOut => {
                    let nothing_yet = first && self.input_end == self.input_start;
                    return Err(if nothing_yet {
                        PacketError::TimedOut
                    } else {
                        PacketError::Io(error)
                    });
                }
                Err(error) => return Err(PacketError::Io(error)),
            };
            if read == 0 {
                return Err(if first && self.input_end == self.input_start {
                    PacketError::Closed
                } else {
                    io::Error::from(io::ErrorKind::UnexpectedEof).into()
                });
            }
            self.input_end += read;
        }
        Ok(())
    }

    /// Drops consumed bytes once they are all consumed, or once they are most of the buffer.
    fn compact(&mut self) {
        if self.input_start == self.input_end {
            self.input_start = 0;
            self.input_end = 0;
            if self.input.len() > 4 * READ_SIZE {
                self.input = Vec::new();
            }
        } else if self.input_start > self.input.len() / 2 {
            self.input.copy_within(self.input_start..self.input_end, 0);
            self.input_end -= self.input_start;
            self.input_start = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_lite::future::block_on;
    use futures_lite::io::Cursor;

    use super::*;
    use crate::protocol::packet::PacketIo;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut io = PacketIo::new(io::empty(), Vec::new(), usize::MAX);
        for payload in payloads {
            io.write_payload(payload).unwrap();
        }
        io.flush().unwrap();
        io.writer().clone()
    }

    #[test]
    fn reads_what_the_blocking_framer_writes() {
        let big = vec![7u8; MAX_CHUNK + 10];
        let bytes = framed(&[b"one", b"", &big, b"last"]);
        let mut packets = AsyncPackets::new(Cursor::new(bytes), usize::MAX);
        let mut payload = Vec::new();
        block_on(async {
            for expected in [&b"one"[..], b"", &big, b"last"] {
                packets.read_payload_into(&mut payload).await.unwrap();
                assert_eq!(payload.len(), expected.len());
                assert_eq!(payload, expected);
            }
            assert!(matches!(
                packets.read_payload_into(&mut payload).await,
                Err(PacketError::Closed)
            ));
        });
    }

    #[test]
    fn writes_what_the_blocking_framer_writes() {
        let big = vec![1u8; MAX_CHUNK];
        let mut packets = AsyncPackets::new(Cursor::new(Vec::new()), usize::MAX);
        for payload in [&b"a"[..], &big, b""] {
            packets.write_payload(payload);
        }
        block_on(packets.flush()).unwrap();
        assert_eq!(
            packets.stream().get_ref(),
            &framed(&[b"a", &big, b""]),
            "same bytes, same sequence ids"
        );
    }

    #[test]
    fn refuses_oversized_and_out_of_order_packets() {
        let bytes = framed(&[&[0u8; 100]]);
        let mut packets = AsyncPackets::new(Cursor::new(bytes.clone()), 99);
        let mut payload = Vec::new();
        let refused = block_on(packets.read_payload_into(&mut payload));
        assert!(matches!(refused, Err(PacketError::TooLarge { limit: 99 })));
        let mut packets = AsyncPackets::new(Cursor::new(bytes), 1000);
        packets.set_sequence(3);
        let refused = block_on(packets.read_payload_into(&mut payload));
        assert!(matches!(
            refused,
            Err(PacketError::OutOfOrder {
                expected: 3,
                received: 0
            })
        ));
    }

    #[test]
    fn buffered_bytes_move_between_readers() {
        let bytes = framed(&[b"first", b"second"]);
        let mut packets = AsyncPackets::new(Cursor::new(bytes), usize::MAX);
        let mut payload = Vec::new();
        block_on(packets.read_payload_into(&mut payload)).unwrap();
        let rest = packets.take_buffered();
        assert!(!packets.has_buffered());
        let mut other = AsyncPackets::new(Cursor::new(Vec::new()), usize::MAX);
        other.set_sequence(1);
        other.unread(&rest);
        block_on(other.read_payload_into(&mut payload)).unwrap();
        assert_eq!(payload, b"second");
    }

    /// What a framer made of a byte stream: the payloads, then how it stopped.
    fn framed_by_both(bytes: &[u8], max_payload: usize) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
        let mut blocking = PacketIo::new(io::Cursor::new(bytes.to_vec()), Vec::new(), max_payload);
        let mut expected = Vec::new();
        loop {
            match blocking.read_payload() {
                Ok(payload) => expected.push(payload),
                Err(error) => {
                    expected.push(format!("{error:?}").into_bytes());
                    break;
                }
            }
        }
        let mut packets = AsyncPackets::new(Cursor::new(bytes.to_vec()), max_payload);
        let mut actual = Vec::new();
        let mut payload = Vec::new();
        loop {
            match block_on(packets.read_payload_into(&mut payload)) {
                Ok(()) => actual.push(payload.clone()),
                Err(error) => {
                    actual.push(format!("{error:?}").into_bytes());
                    break;
                }
            }
        }
        (expected, actual)
    }

    #[test]
    fn frames_garbage_exactly_as_the_blocking_framer() {
        let mut noise = crate::noise::Noise::new(0x5eed_f00d);
        for round in 0..5_000 {
            // Short length headers and sequence ids that often line up.
            let bytes = noise.bytes(96, &[0, 1, 2, 3, 4, 5, 6]);
            let (expected, actual) = framed_by_both(&bytes, 1 + round % 40);
            assert_eq!(
                expected.len(),
                actual.len(),
                "round {round}: {bytes:?}: {expected:?} vs {actual:?}"
            );
            let (expected_end, actual_end) = (expected.last(), actual.last());
            assert_eq!(
                expected[..expected.len() - 1],
                actual[..actual.len() - 1],
                "round {round}: payloads of {bytes:?}"
            );
            let kind = |end: Option<&Vec<u8>>| {
                let text = String::from_utf8_lossy(end.map_or(&[][..], Vec::as_slice)).into_owned();
                text.split(['(', ' ', '{'])
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            };
            assert_eq!(
                kind(expected_end),
                kind(actual_end),
                "round {round}: how {bytes:?} ends"
            );
        }
    }

    #[test]
    fn a_close_inside_a_packet_is_an_error() {
        let mut bytes = framed(&[b"truncated"]);
        bytes.truncate(6);
        let mut packets = AsyncPackets::new(Cursor::new(bytes), usize::MAX);
        let failed = block_on(packets.read_payload_into(&mut Vec::new()));
        assert!(matches!(failed, Err(PacketError::Io(_))));
    }
}
