//! Where a request body goes while it arrives: memory up to a threshold, then an anonymous
//! temporary file (nginx's `client_body_buffer_size` and `client_body_temp_path`), so a
//! 64 MiB upload costs a file, not 64 MiB of memory per connection.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};

use crate::php::RequestBody;

/// A request body being received.
#[derive(Debug)]
pub(crate) struct BodyBuffer {
    /// Bytes held in memory (all of them until the threshold is crossed, then only the
    /// piece being decoded).
    memory: Vec<u8>,
    /// The temporary file once the body outgrew the threshold.
    file: Option<File>,
    /// Bytes written to the file.
    spilled: u64,
    threshold: usize,
}

impl BodyBuffer {
    /// A body that stays in memory up to `threshold` bytes. `expected` (Content-Length, if
    /// any) only sizes the first allocation, up to `preallocate`: it is a claim, not data.
    pub(crate) fn new(threshold: usize, expected: Option<u64>, preallocate: usize) -> BodyBuffer {
        let reserve = expected.map_or(0, |len| {
            usize::try_from(len)
                .unwrap_or(usize::MAX)
                .min(preallocate)
                .min(threshold)
        });
        BodyBuffer {
            memory: Vec::with_capacity(reserve),
            file: None,
            spilled: 0,
            threshold,
        }
    }

    /// Where the decoder appends the next decoded bytes; call [`BodyBuffer::settle`] after.
    pub(crate) fn sink(&mut self) -> &mut Vec<u8> {
        &mut self.memory
    }

    /// Moves what was decoded to the file once the body is over the threshold.
    pub(crate) fn settle(&mut self) -> io::Result<()> {
        if self.file.is_none() && self.memory.len() <= self.threshold {
            return Ok(());
        }
        let file = match &mut self.file {
            Some(file) => file,
            None => self.file.insert(tempfile::tempfile()?),
        };
        file.write_all(&self.memory)?;
        self.spilled += self.memory.len() as u64;
        self.memory.clear();
        Ok(())
    }

    /// The complete body, ready for PHP to read.
    pub(crate) fn finish(mut self) -> io::Result<RequestBody> {
        self.settle()?;
        match self.file {
            None => Ok(RequestBody::new(self.memory)),
            Some(mut file) => {
                file.seek(SeekFrom::Start(0))?;
                Ok(RequestBody::from_file(file, self.spilled))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fill(buffer: &mut BodyBuffer, bytes: &[u8]) {
        buffer.sink().extend_from_slice(bytes);
        buffer.settle().expect("settled");
    }

    fn read_all(mut body: RequestBody) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = body.read(&mut buf);
            if n == 0 {
                return out;
            }
            out.extend_from_slice(&buf[..n]);
        }
    }

    #[test]
    fn small_bodies_stay_in_memory() {
        let mut buffer = BodyBuffer::new(16, Some(10), 1024);
        fill(&mut buffer, b"0123456789");
        let body = buffer.finish().expect("finished");
        assert!(!body.is_file());
        assert_eq!(body.len(), 10);
        assert_eq!(read_all(body), b"0123456789");
    }

    #[test]
    fn big_bodies_spill_to_a_file_and_read_back_whole() {
        let mut buffer = BodyBuffer::new(16, Some(1 << 40), 1024);
        assert!(buffer.sink().capacity() <= 16);
        let mut expected = Vec::new();
        for i in 0..50u8 {
            let piece = vec![i; 5];
            fill(&mut buffer, &piece);
            expected.extend_from_slice(&piece);
        }
        let body = buffer.finish().expect("finished");
        assert!(body.is_file());
        assert_eq!(body.len(), 250);
        assert_eq!(read_all(body), expected);
    }
}
