//! The PHP-thread side of a response: turns the SAPI's callbacks into [`ResponseEvent`]s for
//! the executor that owns the connection.

use std::fs::File;
use std::io::Read as _;

use async_channel::Sender;
use php_sys::{HeaderLines, ResponseHandler};

/// Output is sent to the executor in pieces of at most this size while a script streams.
const STREAM_CHUNK: usize = 64 * 1024;

/// Status and headers produced by PHP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// HTTP status code.
    pub status: u16,
    /// Header names and values, in the order PHP sent them.
    pub headers: Vec<(String, Vec<u8>)>,
}

/// What a PHP thread tells the executor about a response.
#[derive(Debug)]
pub enum ResponseEvent {
    /// The whole response at once: the common case, when the script did not flush.
    Complete {
        /// Status and headers.
        head: ResponseHead,
        /// The body.
        body: Vec<u8>,
    },
    /// A streamed response starts; [`ResponseEvent::Body`] pieces and [`ResponseEvent::End`]
    /// follow.
    Head(ResponseHead),
    /// A piece of a streamed body.
    Body(Vec<u8>),
    /// The streamed response is complete.
    End,
    /// An informational (1xx) response, before the final one (`headers_send(103)`).
    Informational(ResponseHead),
}

/// A request body, in memory or in a temporary file, read by PHP in pieces.
#[derive(Debug, Default)]
pub struct RequestBody {
    source: BodySource,
    len: u64,
}

/// Where a request body's bytes are.
#[derive(Debug)]
enum BodySource {
    Memory {
        data: Vec<u8>,
        position: usize,
    },
    /// An anonymous temporary file (bodies over `server.body_buffer_size`), read from the start.
    File(File),
}

impl Default for BodySource {
    fn default() -> BodySource {
        BodySource::Memory {
            data: Vec::new(),
            position: 0,
        }
    }
}

impl RequestBody {
    /// Wraps the decoded body bytes.
    pub fn new(data: Vec<u8>) -> RequestBody {
        RequestBody {
            len: data.len() as u64,
            source: BodySource::Memory { data, position: 0 },
        }
    }

    /// A body of `len` bytes in `file`, positioned at its start.
    pub fn from_file(file: File, len: u64) -> RequestBody {
        RequestBody {
            source: BodySource::File(file),
            len,
        }
    }

    /// The body's length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the body waits in a temporary file rather than in memory.
    #[cfg(test)]
    pub fn is_file(&self) -> bool {
        matches!(self.source, BodySource::File(_))
    }

    /// Copies the next bytes into `buf`; 0 at the end (or if the file can't be read, which
    /// PHP sees as a short body).
    pub(crate) fn read(&mut self, buf: &mut [u8]) -> usize {
        match &mut self.source {
            BodySource::Memory { data, position } => {
                let rest = &data[*position..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *position += n;
                n
            }
            BodySource::File(file) => file.read(buf).unwrap_or_else(|err| {
                log::error!("reading a request body from its temporary file: {err}");
                0
            }),
        }
    }
}

/// Implements the SAPI's callbacks for one request by sending events over a channel.
pub(crate) struct ChannelResponder {
    events: Sender<ResponseEvent>,
    body: RequestBody,
    head: Option<ResponseHead>,
    buffer: Vec<u8>,
    streaming: bool,
    completed: bool,
    client_gone: bool,
}

impl ChannelResponder {
    pub(crate) fn new(events: Sender<ResponseEvent>, body: RequestBody) -> ChannelResponder {
        ChannelResponder {
            events,
            body,
            head: None,
            buffer: Vec::new(),
            streaming: false,
            completed: false,
            client_gone: false,
        }
    }

    fn send(&mut self, event: ResponseEvent) {
        if self.client_gone {
            return;
        }
        if self.events.send_blocking(event).is_err() {
            self.client_gone = true;
        }
    }

    /// Sends what is buffered as a streamed piece (starting the stream if needed).
    fn stream(&mut self) {
        if !self.streaming {
            let head = self.head.take().unwrap_or_else(default_head);
            self.send(ResponseEvent::Head(head));
            self.streaming = true;
        }
        if !self.buffer.is_empty() {
            let piece = std::mem::take(&mut self.buffer);
            self.send(ResponseEvent::Body(piece));
        }
    }

    /// Ends the response (idempotent): one `Complete` event, or the end of the stream.
    pub(crate) fn complete(&mut self) {
        if self.completed {
            return;
        }
        self.completed = true;
        if self.streaming {
            self.stream();
            self.send(ResponseEvent::End);
        } else {
            let head = self.head.take().unwrap_or_else(default_head);
            let body = std::mem::take(&mut self.buffer);
            self.send(ResponseEvent::Complete { head, body });
        }
    }
}

fn default_head() -> ResponseHead {
    ResponseHead {
        status: 200,
        headers: Vec::new(),
    }
}

/// Splits a `Name: value` header line; None for lines without a valid name.
fn split_header_line(line: &[u8]) -> Option<(String, Vec<u8>)> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = std::str::from_utf8(&line[..colon]).ok()?.trim();
    if name.is_empty() || name.bytes().any(|b| b.is_ascii_whitespace()) {
        return None;
    }
    let value = line[colon + 1..].trim_ascii();
    Some((name.to_string(), value.to_vec()))
}

impl ResponseHandler for ChannelResponder {
    fn read_body(&mut self, buf: &mut [u8]) -> usize {
        self.body.read(buf)
    }

    fn send_headers(&mut self, status: u16, headers: HeaderLines<'_>) {
        if self.completed {
            return;
        }
        let headers = headers.filter_map(split_header_line).collect();
        self.head = Some(ResponseHead { status, headers });
    }

    fn write(&mut self, data: &[u8]) -> bool {
        if self.completed {
            return true;
        }
        self.buffer.extend_from_slice(data);
        if self.buffer.len() >= STREAM_CHUNK {
            self.stream();
        }
        !self.client_gone
    }

    fn flush(&mut self) {
        if !self.completed && (self.streaming || self.head.is_some()) {
            self.stream();
        }
    }

    fn finish_request(&mut self) {
        self.complete();
    }

    fn send_informational(&mut self, status: u16, headers: HeaderLines<'_>) {
        if self.completed || self.streaming {
            return;
        }
        let headers = headers.filter_map(split_header_line).collect();
        self.send(ResponseEvent::Informational(ResponseHead {
            status,
            headers,
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_header_lines() {
        assert_eq!(
            split_header_line(b"Content-Type: text/html; charset=UTF-8"),
            Some(("Content-Type".into(), b"text/html; charset=UTF-8".to_vec()))
        );
        assert_eq!(split_header_line(b"no colon"), None);
        assert_eq!(split_header_line(b"Bad Name: x"), None);
    }

    #[test]
    fn unflushed_output_is_one_complete_event() {
        let (tx, rx) = async_channel::unbounded();
        let mut responder = ChannelResponder::new(tx, RequestBody::default());
        responder.write(b"hello ");
        responder.write(b"world");
        responder.complete();
        match rx.try_recv() {
            Ok(ResponseEvent::Complete { head, body }) => {
                assert_eq!(head.status, 200);
                assert_eq!(body, b"hello world");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn flush_streams_head_body_and_end() {
        let (tx, rx) = async_channel::unbounded();
        let mut responder = ChannelResponder::new(tx, RequestBody::default());
        responder.head = Some(ResponseHead {
            status: 201,
            headers: vec![],
        });
        responder.write(b"a");
        responder.flush();
        responder.write(b"b");
        responder.complete();
        let events: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok()).collect();
        assert!(matches!(&events[0], ResponseEvent::Head(h) if h.status == 201));
        assert!(matches!(&events[1], ResponseEvent::Body(b) if b == b"a"));
        assert!(matches!(&events[2], ResponseEvent::Body(b) if b == b"b"));
        assert!(matches!(&events[3], ResponseEvent::End));
    }

    #[test]
    fn request_body_reads_in_pieces() {
        let mut body = RequestBody::new(b"abcdef".to_vec());
        let mut buf = [0u8; 4];
        assert_eq!(body.read(&mut buf), 4);
        assert_eq!(body.read(&mut buf), 2);
        assert_eq!(body.read(&mut buf), 0);
    }
}
