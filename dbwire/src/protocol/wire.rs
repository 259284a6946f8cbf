//! The protocol's basic data types inside a packet payload: little-endian fixed-width integers,
//! length-encoded integers and strings, NUL-terminated strings.

use thiserror::Error;

/// A payload that does not hold what its packet type promises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum WireError {
    /// The payload ended in the middle of a field.
    #[error("payload ends in the middle of a field")]
    Truncated,
    /// A length-encoded integer started with a byte that cannot start one (0xFB, 0xFF).
    #[error("invalid length-encoded integer prefix 0x{0:02x}")]
    InvalidLengthPrefix(u8),
    /// A NUL-terminated string had no NUL.
    #[error("string without NUL terminator")]
    MissingNul,
    /// A field that must be text was not UTF-8.
    #[error("text field is not valid UTF-8")]
    InvalidUtf8,
    /// A field held a value its type does not allow.
    #[error("invalid {0} value")]
    InvalidValue(&'static str),
}

/// A cursor over a payload that reads protocol fields front to back, never past the end.
#[derive(Debug, Clone)]
pub struct PayloadReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> PayloadReader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> PayloadReader<'a> {
        PayloadReader { buf, pos: 0 }
    }

    /// Bytes left to read.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when everything has been read.
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `len` bytes.
    pub fn bytes(&mut self, len: usize) -> Result<&'a [u8], WireError> {
        if len > self.remaining() {
            return Err(WireError::Truncated);
        }
        let slice = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(slice)
    }

    /// Everything left (the protocol's `string<EOF>`).
    pub fn rest(&mut self) -> &'a [u8] {
        let slice = &self.buf[self.pos..];
        self.pos = self.buf.len();
        slice
    }

    /// Skips `len` bytes.
    pub fn skip(&mut self, len: usize) -> Result<(), WireError> {
        self.bytes(len).map(drop)
    }

    /// A fixed-size array of the next `N` bytes.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        let mut array = [0; N];
        array.copy_from_slice(self.bytes(N)?);
        Ok(array)
    }

    /// One byte.
    pub fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.array::<1>()?[0])
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, WireError> {
        self.array().map(u16::from_le_bytes)
    }

    /// A little-endian 3-byte integer.
    pub fn u24(&mut self) -> Result<u32, WireError> {
        let [a, b, c] = self.array()?;
        Ok(u32::from_le_bytes([a, b, c, 0]))
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.array().map(u32::from_le_bytes)
    }

    /// A little-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, WireError> {
        self.array().map(u64::from_le_bytes)
    }

    /// A length-encoded integer.
    pub fn lenenc_int(&mut self) -> Result<u64, WireError> {
        match self.u8()? {
            first @ 0..=0xfa => Ok(u64::from(first)),
            0xfc => self.u16().map(u64::from),
            0xfd => self.u24().map(u64::from),
            0xfe => self.u64(),
            invalid => Err(WireError::InvalidLengthPrefix(invalid)),
        }
    }

    /// A length-encoded string.
    pub fn lenenc_bytes(&mut self) -> Result<&'a [u8], WireError> {
        let len = self.lenenc_int()?;
        let len = usize::try_from(len).map_err(|_| WireError::Truncated)?;
        self.bytes(len)
    }

    /// A NUL-terminated string, without its NUL.
    pub fn nul_terminated(&mut self) -> Result<&'a [u8], WireError> {
        let rest = &self.buf[self.pos..];
        let end = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(WireError::MissingNul)?;
        self.pos += end + 1;
        Ok(&rest[..end])
    }
}

/// Appends protocol fields to a payload under construction.
pub trait PayloadWriter {
    /// One byte.
    fn put_u8(&mut self, value: u8);
    /// A little-endian `u16`.
    fn put_u16(&mut self, value: u16);
    /// A little-endian `u32`.
    fn put_u32(&mut self, value: u32);
    /// A little-endian `u64`.
    fn put_u64(&mut self, value: u64);
    /// A length-encoded integer.
    fn put_lenenc_int(&mut self, value: u64);
    /// A length-encoded string.
    fn put_lenenc_bytes(&mut self, bytes: &[u8]);
    /// A NUL-terminated string.
    fn put_nul_terminated(&mut self, bytes: &[u8]);
}

impl PayloadWriter for Vec<u8> {
    fn put_u8(&mut self, value: u8) {
        self.push(value);
    }

    fn put_u16(&mut self, value: u16) {
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_u32(&mut self, value: u32) {
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_u64(&mut self, value: u64) {
        self.extend_from_slice(&value.to_le_bytes());
    }

    fn put_lenenc_int(&mut self, value: u64) {
        let bytes = value.to_le_bytes();
        match value {
            0..=0xfa => self.push(bytes[0]),
            0xfb..=0xffff => {
                self.push(0xfc);
                self.extend_from_slice(&bytes[..2]);
            }
            0x1_0000..=0xff_ffff => {
                self.push(0xfd);
                self.extend_from_slice(&bytes[..3]);
            }
            _ => {
                self.push(0xfe);
                self.extend_from_slice(&bytes);
            }
        }
    }

    fn put_lenenc_bytes(&mut self, bytes: &[u8]) {
        self.put_lenenc_int(bytes.len() as u64);
        self.extend_from_slice(bytes);
    }

    fn put_nul_terminated(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
        self.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lenenc(value: u64) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_lenenc_int(value);
        out
    }

    #[test]
    fn lenenc_int_uses_the_shortest_form() {
        assert_eq!(lenenc(0), [0x00]);
        assert_eq!(lenenc(250), [0xfa]);
        assert_eq!(lenenc(251), [0xfc, 0xfb, 0x00]);
        assert_eq!(lenenc(0xffff), [0xfc, 0xff, 0xff]);
        assert_eq!(lenenc(0x1_0000), [0xfd, 0x00, 0x00, 0x01]);
        assert_eq!(lenenc(0xff_ffff), [0xfd, 0xff, 0xff, 0xff]);
        assert_eq!(lenenc(0x100_0000), [0xfe, 0, 0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn lenenc_int_round_trips() {
        for value in [
            0,
            1,
            250,
            251,
            252,
            0xffff,
            0x1_0000,
            0xff_ffff,
            0x100_0000,
            u64::MAX,
        ] {
            let encoded = lenenc(value);
            let mut reader = PayloadReader::new(&encoded);
            assert_eq!(reader.lenenc_int(), Ok(value));
            assert!(reader.is_empty());
        }
    }

    #[test]
    fn lenenc_int_rejects_null_and_error_prefixes() {
        assert_eq!(
            PayloadReader::new(&[0xfb]).lenenc_int(),
            Err(WireError::InvalidLengthPrefix(0xfb))
        );
        assert_eq!(
            PayloadReader::new(&[0xff]).lenenc_int(),
            Err(WireError::InvalidLengthPrefix(0xff))
        );
    }

    #[test]
    fn truncated_fields_are_errors() {
        assert_eq!(
            PayloadReader::new(&[0xfc, 0x01]).lenenc_int(),
            Err(WireError::Truncated)
        );
        assert_eq!(
            PayloadReader::new(&[0x05, b'a']).lenenc_bytes(),
            Err(WireError::Truncated)
        );
        assert_eq!(
            PayloadReader::new(&[1, 2, 3]).u32(),
            Err(WireError::Truncated)
        );
        assert_eq!(
            PayloadReader::new(&[0xfe, 0, 0, 0, 0, 0, 0, 0, 0x80]).lenenc_bytes(),
            Err(WireError::Truncated)
        );
    }

    #[test]
    fn strings_read_back() {
        let mut out = Vec::new();
        out.put_lenenc_bytes(b"hello");
        out.put_nul_terminated(b"root");
        out.put_u16(0x1234);
        out.extend_from_slice(b"tail");
        let mut reader = PayloadReader::new(&out);
        assert_eq!(reader.lenenc_bytes(), Ok(&b"hello"[..]));
        assert_eq!(reader.nul_terminated(), Ok(&b"root"[..]));
        assert_eq!(reader.u16(), Ok(0x1234));
        assert_eq!(reader.rest(), b"tail");
        assert!(reader.is_empty());
    }

    #[test]
    fn missing_nul_is_an_error() {
        assert_eq!(
            PayloadReader::new(b"abc").nul_terminated(),
            Err(WireError::MissingNul)
        );
    }
}
