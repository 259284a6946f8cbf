//! The compressed protocol (`CLIENT_COMPRESS`): after login, packets travel inside frames with
//! a 7-byte header: the frame's length (3 bytes), its own sequence id, and the length of the
//! data once inflated (3 bytes; 0 when the frame is not deflated). A frame holds any run of
//! packet bytes: several small packets, or part of a large one.

use std::io::{self, Read, Write};

use flate2::read::ZlibDecoder;
use flate2::write::ZlibEncoder;
use flate2::Compression as Level;

use super::packet::{read_exact_or_closed, PacketError, MAX_CHUNK};

/// Data shorter than this is sent as is: deflating it saves nothing (MySQL's MIN_COMPRESS_LENGTH).
const MIN_COMPRESS_LENGTH: usize = 50;

/// The state of a connection that speaks the compressed protocol.
#[derive(Debug, Default)]
pub(crate) struct Compression {
    /// Inflated bytes received and not yet consumed (from `consumed` on).
    inbound: Vec<u8>,
    consumed: usize,
    /// The sequence id of the next frame sent: one past the last frame received, then counting.
    sequence: u8,
    /// Reused buffer for a frame's bytes.
    frame: Vec<u8>,
}

impl Compression {
    /// Starts a new exchange: frames count from 0 again.
    pub fn reset_sequence(&mut self) {
        self.sequence = 0;
    }

    /// Fills `buf` with inflated bytes, reading frames from `reader` as needed. `first` says no
    /// byte of the current packet was read yet (a clean close or a timeout there is not an
    /// error in the middle of a packet).
    pub fn read_exact<R: Read>(
        &mut self,
        reader: &mut R,
        buf: &mut [u8],
        first: bool,
    ) -> Result<(), PacketError> {
        let mut filled = 0;
        while filled < buf.len() {
            let available = &self.inbound[self.consumed..];
            if available.is_empty() {
                self.read_frame(reader, first && filled == 0)?;
                continue;
            }
            let n = available.len().min(buf.len() - filled);
            buf[filled..filled + n].copy_from_slice(&available[..n]);
            filled += n;
            self.consumed += n;
        }
        Ok(())
    }

    fn read_frame<R: Read>(&mut self, reader: &mut R, first: bool) -> Result<(), PacketError> {
        let mut header = [0u8; 7];
        read_exact_or_closed(reader, &mut header, first)?;
        let length = u32::from_le_bytes([header[0], header[1], header[2], 0]) as usize;
        let inflated = u32::from_le_bytes([header[4], header[5], header[6], 0]) as usize;
        self.sequence = header[3].wrapping_add(1);
        // Read what arrives rather than allocating what the header claims.
        self.frame.clear();
        let read = reader.take(length as u64).read_to_end(&mut self.frame)?;
        if read < length {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
        }
        self.inbound.clear();
        self.consumed = 0;
        if inflated == 0 {
            self.inbound.extend_from_slice(&self.frame);
            return Ok(());
        }
        let mut decoder = ZlibDecoder::new(&self.frame[..]).take(inflated as u64);
        decoder.read_to_end(&mut self.inbound)?;
        if self.inbound.len() != inflated {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "a compressed frame inflated to another length than its header says",
            )
            .into());
        }
        Ok(())
    }

    /// Writes `data` (framed packets) to `writer` as compressed frames.
    pub fn write<W: Write>(&mut self, data: &[u8], writer: &mut W) -> io::Result<()> {
        for chunk in data.chunks(MAX_CHUNK) {
            self.frame.clear();
            self.frame.extend_from_slice(&[0; 7]);
            let inflated = if chunk.len() < MIN_COMPRESS_LENGTH {
                self.frame.extend_from_slice(chunk);
                0
            } else {
                let mut encoder = ZlibEncoder::new(std::mem::take(&mut self.frame), Level::fast());
                encoder.write_all(chunk)?;
                self.frame = encoder.finish()?;
                chunk.len()
            };
            let length = (self.frame.len() - 7) as u32;
            self.frame[..3].copy_from_slice(&length.to_le_bytes()[..3]);
            self.frame[3] = self.sequence;
            self.frame[4..7].copy_from_slice(&(inflated as u32).to_le_bytes()[..3]);
            self.sequence = self.sequence.wrapping_add(1);
            writer.write_all(&self.frame)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    #[test]
    fn frames_round_trip_small_and_large_data() {
        for size in [0usize, 10, 49, 50, 4096, 100_000] {
            let data: Vec<u8> = (0..size).map(|i| (i % 7) as u8).collect();
            let mut sender = Compression::default();
            let mut wire = Vec::new();
            sender.write(&data, &mut wire).expect("write");
            if size >= MIN_COMPRESS_LENGTH {
                assert!(wire.len() < size, "{size} bytes were not deflated");
            }
            let mut receiver = Compression::default();
            let mut back = vec![0; size];
            receiver
                .read_exact(&mut Cursor::new(wire), &mut back, true)
                .expect("read");
            assert_eq!(back, data);
            if size > 0 {
                assert_eq!(receiver.sequence, 1, "replies follow the frame read");
            }
        }
    }

    #[test]
    fn lying_headers_and_garbage_are_errors() {
        let mut noise = crate::noise::Noise::new(11);
        for _ in 0..2_000 {
            let wire = noise.bytes(40, &[0, 1, 0x78, 0x9c]);
            let mut receiver = Compression::default();
            let mut buf = [0u8; 16];
            let _ = receiver.read_exact(&mut Cursor::new(wire), &mut buf, true);
        }
        // A frame that claims more inflated bytes than it holds.
        let mut sender = Compression::default();
        let mut wire = Vec::new();
        sender.write(&[7u8; 100], &mut wire).expect("write");
        wire[4] = 200;
        let mut receiver = Compression::default();
        let mut buf = [0u8; 200];
        assert!(receiver
            .read_exact(&mut Cursor::new(wire), &mut buf, true)
            .is_err());
    }
}
