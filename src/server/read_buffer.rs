//! A connection's input buffer: bytes received but not yet consumed by the parser.

/// Received bytes in `data[start..end]`; the allocation is dropped while a connection idles.
#[derive(Debug, Default)]
pub(crate) struct ReadBuffer {
    data: Vec<u8>,
    start: usize,
    end: usize,
}

impl ReadBuffer {
    /// Bytes received and not consumed.
    pub(crate) fn filled(&self) -> &[u8] {
        &self.data[self.start..self.end]
    }

    /// True when nothing is buffered.
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Marks `n` buffered bytes as consumed.
    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room to receive at least `min` more bytes, moving buffered bytes to the front or growing
    /// as needed. Call [`ReadBuffer::commit`] with the number of bytes written.
    pub(crate) fn spare(&mut self, min: usize) -> &mut [u8] {
        if self.data.len() - self.end < min {
            if self.start > 0 {
                self.data.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
            if self.data.len() - self.end < min {
                self.data.resize(self.end + min, 0);
            }
        }
        &mut self.data[self.end..]
    }

    /// Records that `n` bytes were written into the slice from [`ReadBuffer::spare`].
    pub(crate) fn commit(&mut self, n: usize) {
        self.end = (self.end + n).min(self.data.len());
    }

    /// Frees the allocation when nothing is buffered and it is bigger than `max` bytes.
    pub(crate) fn shrink_if_empty(&mut self, max: usize) {
        if self.is_empty() && self.data.len() > max {
            self.data = Vec::new();
        }
    }

    /// Frees the allocation when nothing is buffered (idle keep-alive connections).
    pub(crate) fn release_if_empty(&mut self) {
        if self.is_empty() {
            self.data = Vec::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_consumes_and_compacts() {
        let mut buf = ReadBuffer::default();
        buf.spare(8)[..5].copy_from_slice(b"hello");
        buf.commit(5);
        assert_eq!(buf.filled(), b"hello");
        buf.consume(2);
        assert_eq!(buf.filled(), b"llo");
        let spare = buf.spare(8);
        assert!(spare.len() >= 8);
        spare[..2].copy_from_slice(b"!!");
        buf.commit(2);
        assert_eq!(buf.filled(), b"llo!!");
        buf.consume(5);
        assert!(buf.is_empty());
        buf.release_if_empty();
        assert_eq!(buf.data.capacity(), 0);
    }
}
