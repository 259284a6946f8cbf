//! Packet framing. Every payload travels behind a 4-byte header: its length (3 bytes, little
//! endian) and a sequence id that counts the packets of one exchange. A payload of 16 MiB - 1
//! bytes or more is cut into 0xFFFFFF-byte pieces, ended by a shorter (possibly empty) piece.

use std::io::{self, Read, Write};

use thiserror::Error;

use super::compress::Compression;

/// The largest payload one packet carries; a piece this long means another one follows.
pub const MAX_CHUNK: usize = 0xff_ffff;

/// Outgoing bytes are buffered up to this size before they are written to the socket.
const FLUSH_THRESHOLD: usize = 64 * 1024;

/// Why a packet could not be read or written.
#[derive(Debug, Error)]
pub enum PacketError {
    /// The client closed the connection between packets.
    #[error("connection closed by the client")]
    Closed,
    /// No packet started within the read timeout.
    #[error("no packet within the read timeout")]
    TimedOut,
    /// The payload would exceed the configured limit; nothing of it was read.
    #[error("payload larger than {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// A packet carried the wrong sequence id.
    #[error("packet sequence id {received}, expected {expected}")]
    OutOfOrder {
        /// The id this side expected.
        expected: u8,
        /// The id the packet carried.
        received: u8,
    },
    /// The socket failed, or closed in the middle of a packet.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Reads and writes framed payloads, keeping the sequence id of the current exchange.
#[derive(Debug)]
pub struct PacketIo<R, W> {
    reader: R,
    writer: W,
    out: Vec<u8>,
    sequence: u8,
    max_payload: usize,
    /// Set once the compressed protocol is on.
    compression: Option<Compression>,
}

impl<R: Read, W: Write> PacketIo<R, W> {
    /// Frames packets over `reader` and `writer`; incoming payloads larger than `max_payload`
    /// are refused with [`PacketError::TooLarge`].
    pub fn new(reader: R, writer: W, max_payload: usize) -> PacketIo<R, W> {
        PacketIo {
            reader,
            writer,
            out: Vec::new(),
            sequence: 0,
            max_payload,
            compression: None,
        }
    }

    /// Changes the limit on incoming payloads.
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.max_payload = max_payload;
    }

    /// Starts a new exchange: the next packet read or written has sequence id 0.
    pub fn reset_sequence(&mut self) {
        self.sequence = 0;
        if let Some(compression) = &mut self.compression {
            compression.reset_sequence();
        }
    }

    /// Switches to the compressed protocol (after the login's last packet went out uncompressed).
    pub fn enable_compression(&mut self) {
        self.compression = Some(Compression::default());
    }

    /// The sequence id the next packet will carry.
    pub fn sequence(&self) -> u8 {
        self.sequence
    }

    /// Continues an exchange another framer started: the next packet carries `sequence`.
    /// Only for the uncompressed protocol (the compressed one keeps a sequence of its own).
    pub fn set_sequence(&mut self, sequence: u8) {
        self.sequence = sequence;
    }

    /// True once the compressed protocol is on.
    pub fn is_compressed(&self) -> bool {
        self.compression.is_some()
    }

    /// The underlying reader.
    pub fn reader(&self) -> &R {
        &self.reader
    }

    /// The underlying reader, mutably.
    pub fn reader_mut(&mut self) -> &mut R {
        &mut self.reader
    }

    /// The underlying writer.
    pub fn writer(&self) -> &W {
        &self.writer
    }

    /// Reads one payload, joining the pieces of a split one.
    pub fn read_payload(&mut self) -> Result<Vec<u8>, PacketError> {
        let mut payload = Vec::new();
        self.read_payload_into(&mut payload)?;
        Ok(payload)
    }

    /// Reads one payload into `payload` (cleared first), reusing its allocation.
    pub fn read_payload_into(&mut self, payload: &mut Vec<u8>) -> Result<(), PacketError> {
        payload.clear();
        let mut first = true;
        loop {
            let header = self.read_header(first)?;
            first = false;
            let len = admit_piece(header, &mut self.sequence, payload.len(), self.max_payload)?;
            if let Some(compression) = &mut self.compression {
                let start = payload.len();
                payload.resize(start + len, 0);
                compression.read_exact(&mut self.reader, &mut payload[start..], false)?;
            } else {
                let read = (&mut self.reader).take(len as u64).read_to_end(payload)?;
                if read < len {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
            }
            if len < MAX_CHUNK {
                return Ok(());
            }
        }
    }

    /// Queues one payload, split into pieces when needed. Call [`PacketIo::flush`] to send it.
    pub fn write_payload(&mut self, payload: &[u8]) -> io::Result<()> {
        for piece in payload.chunks(MAX_CHUNK) {
            self.write_piece(piece)?;
        }
        if payload.len() % MAX_CHUNK == 0 {
            // An empty payload, or a split one whose last piece was full, ends with an empty piece.
            self.write_piece(&[])?;
        }
        Ok(())
    }

    /// Sends everything queued.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_out()?;
        self.writer.flush()
    }

    fn read_header(&mut self, first: bool) -> Result<[u8; 4], PacketError> {
        let mut header = [0u8; 4];
        match &mut self.compression {
            Some(compression) => compression.read_exact(&mut self.reader, &mut header, first)?,
            None => read_exact_or_closed(&mut self.reader, &mut header, first)?,
        }
        Ok(header)
    }

    fn write_piece(&mut self, piece: &[u8]) -> io::Result<()> {
        self.out
            .extend_from_slice(&piece_header(piece.len(), self.sequence));
        self.sequence = self.sequence.wrapping_add(1);
        if piece.len() >= FLUSH_THRESHOLD && self.compression.is_none() {
            self.write_out()?;
            return self.writer.write_all(piece);
        }
        self.out.extend_from_slice(piece);
        if self.out.len() >= FLUSH_THRESHOLD {
            self.write_out()?;
        }
        Ok(())
    }

    fn write_out(&mut self) -> io::Result<()> {
        if !self.out.is_empty() {
            match &mut self.compression {
                Some(compression) => compression.write(&self.out, &mut self.writer)?,
                None => self.writer.write_all(&self.out)?,
            }
            self.out.clear();
        }
        Ok(())
    }
}

/// The length of the piece `header` announces, once it is the piece the exchange expects
/// (`sequence`, counted on once it matches, so that an ERR for an oversized packet follows it)
/// and keeps the payload (`so_far` bytes before it) within `max_payload`.
pub(crate) fn admit_piece(
    header: [u8; 4],
    sequence: &mut u8,
    so_far: usize,
    max_payload: usize,
) -> Result<usize, PacketError> {
    let len = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
    if header[3] != *sequence {
        return Err(PacketError::OutOfOrder {
            expected: *sequence,
            received: header[3],
        });
    }
    *sequence = sequence.wrapping_add(1);
    if so_far + len > max_payload {
        return Err(PacketError::TooLarge { limit: max_payload });
    }
    Ok(len)
}

/// The 4-byte header of a piece of `len` bytes (at most [`MAX_CHUNK`]) with `sequence`.
pub(crate) fn piece_header(len: usize, sequence: u8) -> [u8; 4] {
    let len = (len as u32).to_le_bytes();
    [len[0], len[1], len[2], sequence]
}

/// Fills `buf` from `reader`. With `first` (no byte of the packet read yet), a clean close is
/// [`PacketError::Closed`] and a read timeout [`PacketError::TimedOut`]; later they are errors
/// in the middle of a packet.
pub(crate) fn read_exact_or_closed<R: Read>(
    reader: &mut R,
    buf: &mut [u8],
    first: bool,
) -> Result<(), PacketError> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) if filled == 0 && first => return Err(PacketError::Closed),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if filled == 0 && first && is_timeout(&e) => return Err(PacketError::TimedOut),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// True for the errors a socket read timeout produces.
fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    const MIB: usize = 1024 * 1024;

    fn framed(payloads: &[&[u8]]) -> Vec<u8> {
        let mut io = PacketIo::new(io::empty(), Vec::new(), usize::MAX);
        for payload in payloads {
            io.write_payload(payload).unwrap();
        }
        io.flush().unwrap();
        io.writer
    }

    fn reader(bytes: Vec<u8>, max_payload: usize) -> PacketIo<Cursor<Vec<u8>>, Vec<u8>> {
        PacketIo::new(Cursor::new(bytes), Vec::new(), max_payload)
    }

    /// (length, sequence id) of every packet in `bytes`.
    fn headers(bytes: &[u8]) -> Vec<(usize, u8)> {
        let mut found = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], 0]) as usize;
            found.push((len, bytes[pos + 3]));
            pos += 4 + len;
        }
        found
    }

    #[test]
    fn small_payloads_get_one_header_each() {
        let bytes = framed(&[b"\x03SELECT 1", b""]);
        assert_eq!(&bytes[..4], &[9, 0, 0, 0]);
        assert_eq!(headers(&bytes), [(9, 0), (0, 1)]);
    }

    #[test]
    fn a_17_mib_payload_is_split_and_reassembled() {
        let payload: Vec<u8> = (0..17 * MIB).map(|i| (i % 251) as u8).collect();
        let bytes = framed(&[&payload]);
        assert_eq!(headers(&bytes), [(MAX_CHUNK, 0), (17 * MIB - MAX_CHUNK, 1)]);

        let mut io = reader(bytes, 64 * MIB);
        assert_eq!(io.read_payload().unwrap(), payload);
        assert_eq!(io.sequence(), 2);
    }

    #[test]
    fn a_payload_of_exactly_one_full_piece_ends_with_an_empty_packet() {
        let payload = vec![7u8; MAX_CHUNK];
        let bytes = framed(&[&payload]);
        assert_eq!(headers(&bytes), [(MAX_CHUNK, 0), (0, 1)]);
        assert_eq!(reader(bytes, 64 * MIB).read_payload().unwrap(), payload);
    }

    #[test]
    fn sequence_ids_continue_across_packets_and_wrap() {
        let mut io = PacketIo::new(io::empty(), Vec::new(), 1024);
        for _ in 0..300 {
            io.write_payload(b"x").unwrap();
        }
        io.flush().unwrap();
        let ids: Vec<u8> = headers(&io.writer).into_iter().map(|(_, id)| id).collect();
        assert_eq!(ids[255], 255);
        assert_eq!(ids[256], 0);
    }

    #[test]
    fn oversized_payloads_are_refused_before_reading_them() {
        let header = vec![0xff, 0xff, 0x7f, 0];
        let err = reader(header, 1024).read_payload().unwrap_err();
        assert!(matches!(err, PacketError::TooLarge { limit: 1024 }));
    }

    #[test]
    fn the_limit_counts_all_pieces_of_a_split_payload() {
        let payload = vec![1u8; MAX_CHUNK + 10];
        let err = reader(framed(&[&payload]), MAX_CHUNK + 5)
            .read_payload()
            .unwrap_err();
        assert!(matches!(err, PacketError::TooLarge { .. }));
    }

    #[test]
    fn wrong_sequence_ids_are_errors() {
        let err = reader(vec![1, 0, 0, 5, 0x0e], 1024)
            .read_payload()
            .unwrap_err();
        assert!(matches!(
            err,
            PacketError::OutOfOrder {
                expected: 0,
                received: 5
            }
        ));
    }

    #[test]
    fn end_of_stream_between_packets_is_a_clean_close() {
        assert!(matches!(
            reader(Vec::new(), 1024).read_payload(),
            Err(PacketError::Closed)
        ));
    }

    #[test]
    fn end_of_stream_inside_a_packet_is_an_error() {
        for bytes in [vec![5, 0], vec![5, 0, 0, 0, b'a', b'b']] {
            match reader(bytes, 1024).read_payload() {
                Err(PacketError::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                other => panic!("expected UnexpectedEof, got {other:?}"),
            }
        }
    }
}
