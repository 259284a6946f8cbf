//! Incremental decoding of a request body.
//!
//! Body bytes arrive in pieces of any size, down to a single byte. A
//! [`BodyDecoder`] takes each piece as it comes, appends the decoded payload to
//! an output buffer and reports how much of the piece belonged to the body; the
//! rest is the start of the next pipelined request.
//!
//! The chunked decoder is deliberately strict (RFC 9112 §7.1): every line ends
//! with CRLF, sizes are plain hex, and every line and the trailer section are
//! bounded, so that no peer can make it disagree with another processor about
//! where the body ends.

use thiserror::Error;

use super::request::BodyFraming;

/// Longest accepted chunk-size line (size plus extensions, without CRLF).
const MAX_CHUNK_SIZE_LINE: usize = 1024;
/// Most hex digits in a chunk size; 16 digits cannot overflow a `u64`.
const MAX_CHUNK_SIZE_DIGITS: usize = 16;
/// Largest accepted trailer section (all trailer lines, with their CRLFs).
const MAX_TRAILER_BYTES: usize = 8 * 1024;

/// Why a request body could not be decoded. Every variant is fatal for the
/// connection: respond with [`BodyError::status`] and close it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BodyError {
    /// The decoded body exceeds the size limit (413).
    #[error("request body is too large")]
    TooLarge,
    /// A chunk size is empty or not hexadecimal (400).
    #[error("invalid chunk size")]
    InvalidChunkSize,
    /// A chunk size has more than 16 hex digits (400).
    #[error("chunk size overflows")]
    ChunkSizeOverflow,
    /// A chunk-size line is longer than 1 KiB (400).
    #[error("chunk size line is too long")]
    ChunkSizeLineTooLong,
    /// A control character inside a chunk extension or trailer field (400).
    #[error("invalid byte in a chunk extension or trailer")]
    InvalidByte,
    /// A line of the chunked framing does not end with CRLF (400).
    #[error("expected CRLF in chunked body")]
    MissingCrlf,
    /// The trailer section is larger than 8 KiB (400).
    #[error("trailer section is too large")]
    TrailersTooLarge,
}

impl BodyError {
    /// The response status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            BodyError::TooLarge => 413,
            _ => 400,
        }
    }
}

/// The outcome of one [`BodyDecoder::decode`] call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// How many bytes at the start of the input belonged to the body. Bytes
    /// after them belong to the next request.
    pub consumed: usize,
    /// Whether the body is now complete.
    pub done: bool,
}

/// Decodes one request body, fed in pieces of any size.
///
/// After an error the decoder is in an unspecified state and must be dropped
/// together with the connection.
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    state: State,
    max_body_bytes: u64,
    decoded_len: u64,
}

/// Where the decoder is within the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `remaining` bytes of a `Content-Length` body are still to come.
    Fixed { remaining: u64 },
    /// Reading the hex digits of a chunk size.
    ChunkSize(SizeLine),
    /// Whitespace after the chunk size, before `;` or CR.
    ChunkSizeWhitespace(SizeLine),
    /// Inside chunk extensions, which are ignored.
    ChunkExtension(SizeLine),
    /// Got the CR ending a chunk-size line, expecting LF.
    ChunkSizeLf { size: u64 },
    /// `remaining` bytes of chunk data are still to come.
    ChunkData { remaining: u64 },
    /// Expecting the CR after chunk data.
    ChunkDataCr,
    /// Expecting the LF after chunk data.
    ChunkDataLf,
    /// At the start of a trailer line, or of the final empty line.
    TrailerLineStart { trailer_len: usize },
    /// Inside a trailer field line, which is discarded.
    TrailerLine { trailer_len: usize },
    /// Got the CR ending a trailer line, expecting LF.
    TrailerLineLf { trailer_len: usize },
    /// Got the CR of the final empty line, expecting LF.
    FinalLf,
    /// The body is complete.
    Done,
}

/// Progress through a chunk-size line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct SizeLine {
    size: u64,
    digits: usize,
    len: usize,
}

impl BodyDecoder {
    /// Creates a decoder for a body framed as `framing` whose decoded length
    /// must not exceed `max_body_bytes`.
    pub fn new(framing: &BodyFraming, max_body_bytes: u64) -> Self {
        let state = match *framing {
            BodyFraming::None | BodyFraming::Length(0) => State::Done,
            BodyFraming::Length(length) => State::Fixed { remaining: length },
            BodyFraming::Chunked => State::ChunkSize(SizeLine::default()),
        };
        BodyDecoder {
            state,
            max_body_bytes,
            decoded_len: 0,
        }
    }

    /// Decodes as much of `input` as belongs to the body, appending the
    /// payload to `out`.
    ///
    /// # Errors
    ///
    /// [`BodyError::TooLarge`] once the body is known to exceed the limit
    /// (before its bytes are copied), or a framing error for a malformed
    /// chunked body.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<Decoded, BodyError> {
        let mut consumed = 0;
        while consumed < input.len() && !self.is_done() {
            let rest = &input[consumed..];
            consumed += match self.state {
                State::Fixed { remaining } => {
                    self.check_limit(remaining)?;
                    let taken = self.copy_payload(rest, remaining, out);
                    self.state = match remaining - taken as u64 {
                        0 => State::Done,
                        remaining => State::Fixed { remaining },
                    };
                    taken
                }
                State::ChunkData { remaining } => {
                    let taken = self.copy_payload(rest, remaining, out);
                    self.state = match remaining - taken as u64 {
                        0 => State::ChunkDataCr,
                        remaining => State::ChunkData { remaining },
                    };
                    taken
                }
                _ => {
                    self.state = self.next_framing_state(rest[0])?;
                    1
                }
            };
        }
        Ok(Decoded {
            consumed,
            done: self.is_done(),
        })
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Fails if `upcoming` more payload bytes would exceed the limit.
    fn check_limit(&self, upcoming: u64) -> Result<(), BodyError> {
        match self.decoded_len.checked_add(upcoming) {
            Some(total) if total <= self.max_body_bytes => Ok(()),
            _ => Err(BodyError::TooLarge),
        }
    }

    /// Copies up to `remaining` payload bytes from `input` to `out`.
    fn copy_payload(&mut self, input: &[u8], remaining: u64, out: &mut Vec<u8>) -> usize {
        let taken = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
        out.extend_from_slice(&input[..taken]);
        self.decoded_len += taken as u64;
        taken
    }

    /// The state after one byte of chunked framing (anything but data).
    fn next_framing_state(&self, byte: u8) -> Result<State, BodyError> {
        match self.state {
            State::ChunkSize(line) => chunk_size_byte(line, byte),
            State::ChunkSizeWhitespace(line) => match byte {
                b' ' | b'\t' => line.extended().map(State::ChunkSizeWhitespace),
                b';' => line.extended().map(State::ChunkExtension),
                b'\r' => Ok(State::ChunkSizeLf { size: line.size }),
                b'\n' => Err(BodyError::MissingCrlf),
                _ => Err(BodyError::InvalidChunkSize),
            },
            State::ChunkExtension(line) => match byte {
                b'\r' => Ok(State::ChunkSizeLf { size: line.size }),
                b'\n' => Err(BodyError::MissingCrlf),
                _ if is_control(byte) => Err(BodyError::InvalidByte),
                _ => line.extended().map(State::ChunkExtension),
            },
            State::ChunkSizeLf { size } => match byte {
                b'\n' => self.start_chunk(size),
                _ => Err(BodyError::MissingCrlf),
            },
            State::ChunkDataCr => expect_byte(byte, b'\r', State::ChunkDataLf),
            State::ChunkDataLf => expect_byte(byte, b'\n', State::ChunkSize(SizeLine::default())),
            State::TrailerLineStart { trailer_len } => match byte {
                b'\r' => Ok(State::FinalLf),
                _ => trailer_byte(trailer_len, byte),
            },
            State::TrailerLine { trailer_len } => trailer_byte(trailer_len, byte),
            State::TrailerLineLf { trailer_len } => match byte {
                b'\n' => Ok(State::TrailerLineStart {
                    trailer_len: counted_trailer_byte(trailer_len)?,
                }),
                _ => Err(BodyError::MissingCrlf),
            },
            State::FinalLf => expect_byte(byte, b'\n', State::Done),
            State::Fixed { .. } | State::ChunkData { .. } | State::Done => Ok(self.state),
        }
    }

    /// The state after a complete chunk-size line announcing `size` bytes.
    fn start_chunk(&self, size: u64) -> Result<State, BodyError> {
        if size == 0 {
            return Ok(State::TrailerLineStart { trailer_len: 0 });
        }
        self.check_limit(size)?;
        Ok(State::ChunkData { remaining: size })
    }
}

impl SizeLine {
    /// This line with one more byte, if it stays within the length limit.
    fn extended(self) -> Result<SizeLine, BodyError> {
        if self.len >= MAX_CHUNK_SIZE_LINE {
            return Err(BodyError::ChunkSizeLineTooLong);
        }
        Ok(SizeLine {
            len: self.len + 1,
            ..self
        })
    }
}

/// The state after `byte` while reading the hex digits of a chunk size.
fn chunk_size_byte(line: SizeLine, byte: u8) -> Result<State, BodyError> {
    if let Some(digit) = hex_value(byte) {
        if line.digits == MAX_CHUNK_SIZE_DIGITS {
            return Err(BodyError::ChunkSizeOverflow);
        }
        let line = SizeLine {
            size: (line.size << 4) | u64::from(digit),
            digits: line.digits + 1,
            ..line.extended()?
        };
        return Ok(State::ChunkSize(line));
    }
    if line.digits == 0 {
        return Err(BodyError::InvalidChunkSize);
    }
    match byte {
        b'\r' => Ok(State::ChunkSizeLf { size: line.size }),
        b' ' | b'\t' => line.extended().map(State::ChunkSizeWhitespace),
        b';' => line.extended().map(State::ChunkExtension),
        b'\n' => Err(BodyError::MissingCrlf),
        _ => Err(BodyError::InvalidChunkSize),
    }
}

/// The state after `byte` inside a trailer line.
fn trailer_byte(trailer_len: usize, byte: u8) -> Result<State, BodyError> {
    let trailer_len = counted_trailer_byte(trailer_len)?;
    match byte {
        b'\r' => Ok(State::TrailerLineLf { trailer_len }),
        b'\n' => Err(BodyError::MissingCrlf),
        _ if is_control(byte) => Err(BodyError::InvalidByte),
        _ => Ok(State::TrailerLine { trailer_len }),
    }
}

/// The trailer length after one more byte, if within the limit.
fn counted_trailer_byte(trailer_len: usize) -> Result<usize, BodyError> {
    if trailer_len >= MAX_TRAILER_BYTES {
        return Err(BodyError::TrailersTooLarge);
    }
    Ok(trailer_len + 1)
}

/// `next` if `byte` is the `expected` CR or LF of the framing.
fn expect_byte(byte: u8, expected: u8, next: State) -> Result<State, BodyError> {
    if byte == expected {
        Ok(next)
    } else {
        Err(BodyError::MissingCrlf)
    }
}

/// Control characters other than HTAB.
fn is_control(byte: u8) -> bool {
    (byte < 0x20 && byte != b'\t') || byte == 0x7f
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: u64 = 1024 * 1024;

    /// Feeds `input` in one piece; returns the body and the bytes consumed.
    fn decode_all(framing: BodyFraming, input: &[u8]) -> Result<(Vec<u8>, Decoded), BodyError> {
        let mut decoder = BodyDecoder::new(&framing, LIMIT);
        let mut body = Vec::new();
        let decoded = decoder.decode(input, &mut body)?;
        assert_eq!(decoder.decoded_len, body.len() as u64);
        Ok((body, decoded))
    }

    /// Feeds `input` one byte at a time until the body is done.
    fn decode_bytewise(framing: BodyFraming, input: &[u8]) -> Result<(Vec<u8>, usize), BodyError> {
        let mut decoder = BodyDecoder::new(&framing, LIMIT);
        let mut body = Vec::new();
        for (index, byte) in input.iter().enumerate() {
            let decoded = decoder.decode(std::slice::from_ref(byte), &mut body)?;
            if decoded.done {
                assert_eq!(decoded.consumed, 1);
                return Ok((body, index + 1));
            }
            assert_eq!(decoded.consumed, 1, "a byte was refused before the end");
        }
        assert!(!decoder.is_done());
        Ok((body, input.len()))
    }

    fn chunked_error(input: &[u8]) -> BodyError {
        decode_all(BodyFraming::Chunked, input).expect_err("must be rejected")
    }

    #[test]
    fn no_body_is_done_immediately() {
        for framing in [BodyFraming::None, BodyFraming::Length(0)] {
            let mut decoder = BodyDecoder::new(&framing, LIMIT);
            assert!(decoder.is_done());
            let mut body = Vec::new();
            let decoded = decoder.decode(b"GET / HTTP/1.1", &mut body).unwrap();
            assert_eq!(
                decoded,
                Decoded {
                    consumed: 0,
                    done: true
                }
            );
            assert!(body.is_empty());
        }
    }

    #[test]
    fn content_length_body_stops_at_its_length() {
        let (body, decoded) = decode_all(BodyFraming::Length(5), b"helloGET /").unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(
            decoded,
            Decoded {
                consumed: 5,
                done: true
            }
        );
    }

    #[test]
    fn content_length_body_in_pieces() {
        let mut decoder = BodyDecoder::new(&BodyFraming::Length(6), LIMIT);
        let mut body = Vec::new();
        assert_eq!(decoder.decode(b"", &mut body).unwrap().consumed, 0);
        let first = decoder.decode(b"abcd", &mut body).unwrap();
        assert_eq!((first.consumed, first.done), (4, false));
        assert_eq!(decoder.decoded_len, 4);
        let second = decoder.decode(b"efgh", &mut body).unwrap();
        assert_eq!((second.consumed, second.done), (2, true));
        assert_eq!(body, b"abcdef");
        let after = decoder.decode(b"gh", &mut body).unwrap();
        assert_eq!((after.consumed, after.done), (0, true));
    }

    #[test]
    fn content_length_body_byte_at_a_time() {
        let (body, consumed) = decode_bytewise(BodyFraming::Length(3), b"abcdef").unwrap();
        assert_eq!((body.as_slice(), consumed), (&b"abc"[..], 3));
    }

    #[test]
    fn content_length_over_the_limit() {
        let mut decoder = BodyDecoder::new(&BodyFraming::Length(11), 10);
        let error = decoder.decode(b"x", &mut Vec::new()).unwrap_err();
        assert_eq!(error, BodyError::TooLarge);
        assert_eq!(error.status(), 413);
        let mut decoder = BodyDecoder::new(&BodyFraming::Length(10), 10);
        assert!(decoder.decode(&[b'x'; 10], &mut Vec::new()).unwrap().done);
    }

    const CHUNKED: &[u8] =
        b"4\r\nWiki\r\n5;name=value\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\n\r\n";
    const CHUNKED_PAYLOAD: &[u8] = b"Wikipedia in\r\n\r\nchunks.";

    #[test]
    fn chunked_body_in_one_piece() {
        let input = [CHUNKED, b"GET / HTTP/1.1\r\n"].concat();
        let (body, decoded) = decode_all(BodyFraming::Chunked, &input).unwrap();
        assert_eq!(body, CHUNKED_PAYLOAD);
        assert_eq!(
            decoded,
            Decoded {
                consumed: CHUNKED.len(),
                done: true
            }
        );
    }

    #[test]
    fn chunked_body_byte_at_a_time() {
        let input = [CHUNKED, b"next"].concat();
        let (body, consumed) = decode_bytewise(BodyFraming::Chunked, &input).unwrap();
        assert_eq!(body, CHUNKED_PAYLOAD);
        assert_eq!(consumed, CHUNKED.len());
    }

    #[test]
    fn chunked_body_split_at_every_position() {
        for split in 0..=CHUNKED.len() {
            let mut decoder = BodyDecoder::new(&BodyFraming::Chunked, LIMIT);
            let mut body = Vec::new();
            let first = decoder.decode(&CHUNKED[..split], &mut body).unwrap();
            assert_eq!(first.consumed, split);
            let second = decoder.decode(&CHUNKED[split..], &mut body).unwrap();
            assert_eq!(second.consumed, CHUNKED.len() - split);
            assert!(second.done, "split at {split}");
            assert_eq!(body, CHUNKED_PAYLOAD);
        }
    }

    #[test]
    fn chunk_sizes() {
        for (input, payload) in [
            (&b"a\r\n0123456789\r\n0\r\n\r\n"[..], &b"0123456789"[..]),
            (b"A\r\n0123456789\r\n0\r\n\r\n", b"0123456789"),
            (b"000001\r\nx\r\n0000\r\n\r\n", b"x"),
            (b"1 \t;ext\r\nx\r\n0\r\n\r\n", b"x"),
            (b"1;a=b;c=\"d e\"\r\nx\r\n0;last\r\n\r\n", b"x"),
            (b"0000000000000001\r\nx\r\n0\r\n\r\n", b"x"),
        ] {
            let (body, decoded) = decode_all(BodyFraming::Chunked, input).unwrap();
            assert_eq!(body, payload, "{}", String::from_utf8_lossy(input));
            assert!(decoded.done);
        }
    }

    #[test]
    fn rejects_invalid_chunk_sizes() {
        for input in [
            &b"\r\nx\r\n0\r\n\r\n"[..],
            b";ext\r\n",
            b" 1\r\n",
            b"g\r\n",
            b"-1\r\n",
            b"0x1\r\n",
            b"+1\r\n",
            b"1 2\r\n",
            b"1 x\r\n",
        ] {
            assert_eq!(
                chunked_error(input),
                BodyError::InvalidChunkSize,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn rejects_chunk_sizes_with_too_many_digits() {
        assert_eq!(
            chunked_error(b"00000000000000001\r\n"),
            BodyError::ChunkSizeOverflow
        );
        assert_eq!(
            chunked_error(b"10000000000000000\r\n"),
            BodyError::ChunkSizeOverflow
        );
    }

    #[test]
    fn huge_chunk_sizes_hit_the_body_limit() {
        let error = chunked_error(b"FFFFFFFFFFFFFFFF\r\n");
        assert_eq!(error, BodyError::TooLarge);
    }

    #[test]
    fn chunk_size_line_limit() {
        let mut line = b"1;".to_vec();
        line.resize(MAX_CHUNK_SIZE_LINE, b'x');
        let accepted = [&line[..], b"\r\nx\r\n0\r\n\r\n"].concat();
        assert!(decode_all(BodyFraming::Chunked, &accepted).unwrap().1.done);

        line.push(b'x');
        let rejected = [&line[..], b"\r\n"].concat();
        assert_eq!(chunked_error(&rejected), BodyError::ChunkSizeLineTooLong);

        let mut whitespace = b"1".to_vec();
        whitespace.resize(MAX_CHUNK_SIZE_LINE + 1, b' ');
        assert_eq!(chunked_error(&whitespace), BodyError::ChunkSizeLineTooLong);
    }

    #[test]
    fn requires_crlf_everywhere() {
        for input in [
            &b"1\nx\r\n0\r\n\r\n"[..],
            b"1\rx\r\n0\r\n\r\n",
            b"1\r\nx\n0\r\n\r\n",
            b"1\r\nxy\r\n0\r\n\r\n",
            b"1\r\nx\r0\r\n\r\n",
            b"1\r\nx\r\n0\r\n\rx",
            b"1\r\nx\r\n0\r\nA: b\rx",
            b"1;ext\nx\r\n0\r\n\r\n",
            b"1 \nx\r\n0\r\n\r\n",
            b"1\r\nx\r\n0\r\n\n",
            b"1\r\nx\r\n0\r\nA: b\n\r\n",
        ] {
            assert_eq!(
                chunked_error(input),
                BodyError::MissingCrlf,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn rejects_control_bytes_in_extensions_and_trailers() {
        for input in [
            &b"1\r\nx\r\n0\r\nA: \0\r\n\r\n"[..],
            b"1;\x01\r\nx\r\n0\r\n\r\n",
            b"1;\x7f\r\nx\r\n0\r\n\r\n",
            b"0\r\n\x00\r\n\r\n",
        ] {
            assert_eq!(
                chunked_error(input),
                BodyError::InvalidByte,
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn trailers_are_read_and_discarded() {
        let input = b"3\r\nabc\r\n0\r\nExpires: never\r\nX-Checksum: 1\r\n\r\nnext";
        let (body, decoded) = decode_all(BodyFraming::Chunked, input).unwrap();
        assert_eq!(body, b"abc");
        assert_eq!(decoded.consumed, input.len() - 4);
        let (body, consumed) = decode_bytewise(BodyFraming::Chunked, input).unwrap();
        assert_eq!((body.as_slice(), consumed), (&b"abc"[..], input.len() - 4));
    }

    #[test]
    fn trailer_section_limit() {
        let trailer_line = |len: usize| {
            let mut line = b"X: ".to_vec();
            line.resize(len - 2, b'v');
            line.extend_from_slice(b"\r\n");
            line
        };
        let fits = [&b"0\r\n"[..], &trailer_line(MAX_TRAILER_BYTES), b"\r\n"].concat();
        assert!(decode_all(BodyFraming::Chunked, &fits).unwrap().1.done);

        let too_big = [&b"0\r\n"[..], &trailer_line(MAX_TRAILER_BYTES + 1), b"\r\n"].concat();
        assert_eq!(chunked_error(&too_big), BodyError::TrailersTooLarge);

        let many_lines = [
            &b"0\r\n"[..],
            &b"A: b\r\n".repeat(MAX_TRAILER_BYTES / 6 + 1),
        ]
        .concat();
        assert_eq!(chunked_error(&many_lines), BodyError::TrailersTooLarge);
    }

    #[test]
    fn chunked_body_limit() {
        let mut decoder = BodyDecoder::new(&BodyFraming::Chunked, 5);
        let mut body = Vec::new();
        decoder.decode(b"3\r\nabc\r\n", &mut body).unwrap();
        let error = decoder.decode(b"3\r\n", &mut body).unwrap_err();
        assert_eq!(error, BodyError::TooLarge);
        assert_eq!(body, b"abc", "no byte over the limit is copied");

        let mut decoder = BodyDecoder::new(&BodyFraming::Chunked, 5);
        let decoded = decoder
            .decode(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", &mut Vec::new())
            .unwrap();
        assert!(decoded.done);
        assert_eq!(decoder.decoded_len, 5);
    }

    #[test]
    fn pipelined_request_after_a_chunked_body_is_left_alone() {
        let input = b"2\r\nhi\r\n0\r\n\r\n0\r\n\r\n";
        let (body, decoded) = decode_all(BodyFraming::Chunked, input).unwrap();
        assert_eq!(body, b"hi");
        assert_eq!(decoded.consumed, 12);
    }

    #[test]
    fn error_statuses() {
        assert_eq!(BodyError::TooLarge.status(), 413);
        for error in [
            BodyError::InvalidChunkSize,
            BodyError::ChunkSizeOverflow,
            BodyError::ChunkSizeLineTooLong,
            BodyError::InvalidByte,
            BodyError::MissingCrlf,
            BodyError::TrailersTooLarge,
        ] {
            assert_eq!(error.status(), 400, "{error}");
        }
    }
}
