//! HTTP/1.x framing for one client connection: reads request heads and bodies (keep-alive,
//! pipelining), hands each request to the protocol-neutral [`handler`], and writes its response,
//! with the limits and timeouts that keep a public server safe.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::access_log::RequestSummary;
use crate::http::body::BodyDecoder;
use crate::http::request::{parse_head, BodyFraming, RequestHead, Version};
use crate::http::response::{self, BodyLength};
use crate::php::{RequestBody, ResponseEvent};
use crate::server::body_buffer::BodyBuffer;
use crate::server::core::CoreContext;
use crate::server::handler::{self, Client, Interim, Response, ResponseBody};
use crate::server::http2;
use crate::server::read_buffer::ReadBuffer;
use crate::server::transport::{Rewind, Transport};

/// Bytes asked of the socket per read while reading a request head. Most heads fit; bigger
/// ones grow the buffer. Kept small so that many keep-alive connections cost little memory.
const HEAD_READ_CHUNK: usize = 2 * 1024;
/// Bytes asked of the socket per read while reading a request body.
const BODY_READ_CHUNK: usize = 64 * 1024;
/// Most bytes reserved for a body up front, whatever its Content-Length says.
const BODY_PREALLOCATION: usize = 64 * 1024;
/// Buffers bigger than this are given back after a request instead of kept for the next one.
const KEEP_BUFFER_CAPACITY: usize = 8 * 1024;
/// Files up to this size are sent in one write together with the response head.
const SMALL_FILE: u64 = 64 * 1024;
/// Pieces in which static files are streamed.
const FILE_CHUNK: usize = 256 * 1024;
/// After refusing a request whose body is still arriving, unread input is discarded for up to
/// this long (or [`LINGER_BYTES`]) before closing, so the client reads the error instead of a
/// connection reset (nginx's lingering close).
const LINGER_TIME: Duration = Duration::from_secs(2);
/// See [`LINGER_TIME`].
const LINGER_BYTES: usize = 4 * 1024 * 1024;
/// How long a keep-alive connection keeps its read buffer while idle before releasing it.
const HOT_IDLE: Duration = Duration::from_secs(1);

/// What ended reading a request head.
enum HeadRead {
    Request(RequestHead),
    /// The client opened with the HTTP/2 preface (h2c with prior knowledge).
    Http2,
    /// The client closed, idled out, or was answered with an error: close the connection.
    Close,
}

/// A served connection.
pub(crate) struct Connection<T> {
    stream: T,
    peer: SocketAddr,
    local: SocketAddr,
    input: ReadBuffer,
    output: Vec<u8>,
    core: Rc<CoreContext>,
    /// The current request is a HEAD request: responses carry no body.
    head_request: bool,
    /// The connection closes with request bytes possibly unread: linger before closing.
    linger: bool,
    /// No request has been read yet: the client may still switch to HTTP/2.
    first_request: bool,
}

/// The log-relevant facts of one exchange.
struct Exchange {
    status: u16,
    bytes: u64,
    keep_alive: bool,
}

impl<T: Transport> Connection<T> {
    /// Wraps an accepted stream from `peer`, accepted on the local address `local`.
    pub(crate) fn new(
        stream: T,
        peer: SocketAddr,
        local: SocketAddr,
        core: Rc<CoreContext>,
    ) -> Connection<T> {
        Connection {
            stream,
            peer,
            local,
            input: ReadBuffer::default(),
            output: Vec::new(),
            core,
            head_request: false,
            linger: false,
            first_request: true,
        }
    }

    /// Serves requests until the client closes, a timeout fires, an error ends the
    /// connection, or the server shuts down.
    pub(crate) async fn serve(mut self)
    where
        T: 'static,
    {
        loop {
            let head = match self.read_head().await {
                Ok(HeadRead::Request(head)) => head,
                Ok(HeadRead::Http2) => return self.switch_to_http2().await,
                Ok(HeadRead::Close) | Err(_) => break,
            };
            self.first_request = false;
            let started = Instant::now();
            let summary = self
                .core
                .access_log
                .is_enabled()
                .then(|| RequestSummary::of(&head));
            let result = self.exchange(head).await;
            self.head_request = false;
            self.input.shrink_if_empty(KEEP_BUFFER_CAPACITY);
            if self.output.capacity() > KEEP_BUFFER_CAPACITY {
                self.output = Vec::new();
            }
            let Ok(exchange) = result else { break };
            if let Some(summary) = summary {
                self.core.access_log.record(
                    self.peer.ip(),
                    &summary,
                    exchange.status,
                    exchange.bytes,
                    started.elapsed(),
                );
            }
            let keep_alive = exchange.keep_alive;
            if !keep_alive || self.core.shutdown.is_triggered() {
                break;
            }
        }
        if self.linger {
            self.discard_input().await;
        }
        let _ = self.stream.close().await;
    }

    /// Hands the connection to HTTP/2, replaying the bytes already read (the preface and
    /// whatever followed it).
    async fn switch_to_http2(self)
    where
        T: 'static,
    {
        let client = self.client();
        let read = Rewind::new(self.input.filled().to_vec(), self.stream);
        http2::serve(read, client, self.core).await;
    }

    /// Half-closes and reads what the client still sends, for a bounded time and amount.
    async fn discard_input(&mut self) {
        let _ = self.stream.shutdown_write().await;
        let deadline = Instant::now() + LINGER_TIME;
        let mut discarded = 0;
        while discarded < LINGER_BYTES {
            self.input.consume(self.input.filled().len());
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(left, BODY_READ_CHUNK).await {
                Ok(Some(n)) if n > 0 => discarded += n,
                _ => break,
            }
        }
    }

    /// Reads and parses the next request head. Waits up to the keep-alive timeout for its first
    /// byte and up to the header timeout for the rest (slowloris protection).
    async fn read_head(&mut self) -> io::Result<HeadRead> {
        let core = Rc::clone(&self.core);
        let limits = &core.limits;
        let mut deadline =
            (!self.input.is_empty()).then(|| Instant::now() + self.core.header_read_timeout);
        loop {
            if self.first_request && self.core.http2 && starts_like_preface(self.input.filled()) {
                if self.input.filled().len() >= http2::PREFACE.len() {
                    return Ok(HeadRead::Http2);
                }
            } else {
                match parse_head(self.input.filled(), limits) {
                    Ok(Some((head, used))) => {
                        self.input.consume(used);
                        return Ok(HeadRead::Request(head));
                    }
                    Ok(None) => {}
                    Err(err) => {
                        self.linger = true;
                        self.send_error(err.status(), false).await?;
                        return Ok(HeadRead::Close);
                    }
                }
            }
            let received = match deadline {
                None => self.read_idle().await?,
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match self.read_within(left, HEAD_READ_CHUNK).await? {
                        Some(n) => Some(n),
                        None => {
                            self.send_error(408, false).await?;
                            return Ok(HeadRead::Close);
                        }
                    }
                }
            };
            match received {
                Some(0) | None => return Ok(HeadRead::Close),
                Some(_) => {
                    deadline.get_or_insert_with(|| Instant::now() + self.core.header_read_timeout);
                }
            }
        }
    }

    /// Waits for the next request on an idle connection. Returns bytes read, `Some(0)` on EOF,
    /// `None` on keep-alive timeout or shutdown. The read buffer is released after a second of
    /// idleness, so an idle connection costs little memory.
    async fn read_idle(&mut self) -> io::Result<Option<usize>> {
        let core = Rc::clone(&self.core);
        let idle_deadline = Instant::now() + core.keep_alive_timeout;
        if let Some(n) = self
            .read_within(HOT_IDLE.min(core.keep_alive_timeout), HEAD_READ_CHUNK)
            .await?
        {
            return Ok(Some(n));
        }
        self.input.release_if_empty();
        let left = idle_deadline.saturating_duration_since(Instant::now());
        let readable = future::or(async { Some(self.stream.wait_readable().await) }, async {
            future::or(glommio::timer::sleep(left), core.shutdown.wait()).await;
            None
        })
        .await;
        match readable {
            Some(Ok(false)) => Ok(Some(0)),
            Some(Ok(true)) => {
                self.read_within(core.header_read_timeout, HEAD_READ_CHUNK)
                    .await
            }
            Some(Err(err)) => Err(err),
            None => Ok(None),
        }
    }

    /// One read into the input buffer, or None if `limit` passes first (or shutdown begins
    /// while nothing is buffered).
    async fn read_within(&mut self, limit: Duration, chunk: usize) -> io::Result<Option<usize>> {
        let core = Rc::clone(&self.core);
        let idle = self.input.is_empty();
        let spare = self.input.spare(chunk);
        let stream = &mut self.stream;
        let outcome = future::or(async { Some(stream.read(spare).await) }, async {
            if idle {
                future::or(glommio::timer::sleep(limit), core.shutdown.wait()).await;
            } else {
                glommio::timer::sleep(limit).await;
            }
            None
        })
        .await;
        match outcome {
            Some(Ok(n)) => {
                self.input.commit(n);
                Ok(Some(n))
            }
            Some(Err(err)) => Err(err),
            None => Ok(None),
        }
    }

    /// Handles one request: body, then the handler's response.
    async fn exchange(&mut self, head: RequestHead) -> io::Result<Exchange> {
        let client = self.client();
        let keep_alive = head.keep_alive && !self.core.shutdown.is_triggered();
        self.head_request = head.method == "HEAD";
        if let Some(response) = handler::answer_before_body(&self.core, &head, &client) {
            // A body left unread is discarded before closing.
            self.linger = response.close;
            return self.send_response(head.version, response, keep_alive).await;
        }
        let body = match self.read_body(&head).await? {
            Ok(body) => body,
            Err(status) => {
                let bytes = self.send_error(status, false).await?;
                return Ok(Exchange {
                    status,
                    bytes,
                    keep_alive: false,
                });
            }
        };
        let core = Rc::clone(&self.core);
        let mut response = handler::respond(&core, &head, body, &client).await;
        loop {
            match response.into_interim() {
                Ok((interim, pending)) => {
                    self.send_interim(head.version, &interim).await?;
                    response = handler::next_response(&core, pending, &client).await;
                }
                Err(last) => break self.send_response(head.version, last, keep_alive).await,
            }
        }
    }

    /// Writes an informational (1xx) response; HTTP/1.0 clients, who cannot read one, get
    /// none.
    async fn send_interim(&mut self, version: Version, interim: &Interim) -> io::Result<()> {
        if version == Version::Http10 {
            return Ok(());
        }
        let headers: Vec<(&str, &[u8])> = interim
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        self.output.clear();
        let length = BodyLength::None;
        response::write_head(
            &mut self.output,
            version,
            interim.status,
            &headers,
            length,
            true,
        );
        self.flush_output().await
    }

    fn client(&self) -> Client {
        Client {
            peer: self.peer,
            local: self.local,
            secure: self.stream.is_secure(),
        }
    }

    /// Reads the request body (sending `100 Continue` first when asked), in memory up to
    /// `server.body_buffer_size` and in a temporary file beyond. `Ok(Err(status))` means the
    /// body was refused or malformed and the connection must close.
    async fn read_body(&mut self, head: &RequestHead) -> io::Result<Result<RequestBody, u16>> {
        if matches!(head.framing, BodyFraming::None) {
            return Ok(Ok(RequestBody::default()));
        }
        let max = self.core.limits.max_body_bytes;
        if head.expect_continue && self.input.is_empty() {
            write_fully(&mut self.stream, response::CONTINUE_100).await?;
        }
        let mut decoder = BodyDecoder::new(&head.framing, max);
        // Content-Length is only a claim: memory grows with bytes that actually arrive.
        let expected = match head.framing {
            BodyFraming::Length(len) => Some(len),
            _ => None,
        };
        let mut body = BodyBuffer::new(self.core.body_buffer_size, expected, BODY_PREALLOCATION);
        // One deadline for the whole body, however slowly it is sent.
        let deadline = Instant::now() + self.core.body_timeout;
        loop {
            if !self.input.is_empty() {
                match decoder.decode(self.input.filled(), body.sink()) {
                    Ok(decoded) => {
                        self.input.consume(decoded.consumed);
                        if decoded.done {
                            return body.finish().map(Ok);
                        }
                    }
                    Err(err) => {
                        self.linger = true;
                        return Ok(Err(err.status()));
                    }
                }
                body.settle()?;
            }
            if decoder.is_done() {
                return body.finish().map(Ok);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.read_within(left, BODY_READ_CHUNK).await? {
                Some(0) => return Ok(Err(400)),
                Some(_) => {}
                None => return Ok(Err(408)),
            }
        }
    }

    /// Frames a handler's response.
    async fn send_response(
        &mut self,
        version: Version,
        response: Response,
        keep_alive: bool,
    ) -> io::Result<Exchange> {
        let keep_alive = keep_alive && !response.close;
        let status = response.status;
        let headers: Vec<(&str, &[u8])> = response
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_slice()))
            .collect();
        self.output.clear();
        let bodyless = match &response.body {
            ResponseBody::None | ResponseBody::Interim(_) => Some(BodyLength::None),
            ResponseBody::HeadOnly(len) => Some(BodyLength::HeadOnly(*len)),
            _ => None,
        };
        if let Some(length) = bodyless {
            response::write_head(
                &mut self.output,
                version,
                status,
                &headers,
                length,
                keep_alive,
            );
            self.flush_output().await?;
            return Ok(Exchange {
                status,
                bytes: 0,
                keep_alive,
            });
        }
        let bytes = match response.body {
            ResponseBody::None | ResponseBody::Interim(_) | ResponseBody::HeadOnly(_) => 0,
            ResponseBody::Bytes(body) => {
                self.write_sized_head(version, status, &headers, body.len() as u64, keep_alive);
                if !self.head_request {
                    self.output.extend_from_slice(&body);
                }
                body.len() as u64
            }
            ResponseBody::File { path, offset, len } => {
                self.write_sized_head(version, status, &headers, len, keep_alive);
                if self.head_request {
                    0
                } else if len <= SMALL_FILE {
                    append_file(&mut self.output, &path, offset, len)?;
                    len
                } else {
                    self.flush_output().await?;
                    self.send_file(&path, offset, len).await?;
                    len
                }
            }
            ResponseBody::Stream(events) => {
                let (bytes, keep_alive) = self
                    .stream_body(version, status, &headers, &events, keep_alive)
                    .await?;
                return Ok(Exchange {
                    status,
                    bytes,
                    keep_alive,
                });
            }
        };
        self.flush_output().await?;
        Ok(Exchange {
            status,
            bytes,
            keep_alive,
        })
    }

    /// Writes a head announcing `len` body bytes (which a HEAD request does not get).
    fn write_sized_head(
        &mut self,
        version: Version,
        status: u16,
        headers: &[(&str, &[u8])],
        len: u64,
        keep_alive: bool,
    ) {
        let length = if self.head_request {
            BodyLength::HeadOnly(len)
        } else {
            BodyLength::Known(len)
        };
        response::write_head(
            &mut self.output,
            version,
            status,
            headers,
            length,
            keep_alive,
        );
    }

    /// Streams a flushed PHP response: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
    /// Returns the body bytes sent and whether the connection stays open.
    async fn stream_body(
        &mut self,
        version: Version,
        status: u16,
        headers: &[(&str, &[u8])],
        events: &async_channel::Receiver<ResponseEvent>,
        keep_alive: bool,
    ) -> io::Result<(u64, bool)> {
        let no_body = self.head_request || handler::status_has_no_body(status);
        let chunked = !matches!(version, Version::Http10);
        let keep_alive = keep_alive && (chunked || no_body);
        let length = match (no_body, chunked) {
            (true, _) => BodyLength::None,
            (false, true) => BodyLength::Chunked,
            (false, false) => BodyLength::CloseDelimited,
        };
        response::write_head(
            &mut self.output,
            version,
            status,
            headers,
            length,
            keep_alive,
        );
        self.flush_output().await?;
        let mut bytes = 0u64;
        while let Ok(event) = events.recv().await {
            match event {
                ResponseEvent::Body(piece) => {
                    if no_body {
                        continue;
                    }
                    bytes += piece.len() as u64;
                    if chunked {
                        response::write_chunk(&mut self.output, &piece);
                    } else {
                        self.output.extend_from_slice(&piece);
                    }
                    self.flush_output().await?;
                }
                ResponseEvent::End => break,
                ResponseEvent::Head(_)
                | ResponseEvent::Complete { .. }
                | ResponseEvent::Informational(_) => {}
            }
        }
        if chunked && !no_body {
            response::write_last_chunk(&mut self.output);
            self.flush_output().await?;
        }
        Ok((bytes, keep_alive))
    }

    /// Streams `len` bytes of a file from `offset`. Reads come from the page cache in large
    /// pieces; the file is re-checked for truncation so a shrinking file ends the connection.
    async fn send_file(&mut self, path: &std::path::Path, offset: u64, len: u64) -> io::Result<()> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(path)?;
        let mut sent = 0u64;
        let mut piece = vec![0u8; FILE_CHUNK.min(usize::try_from(len).unwrap_or(FILE_CHUNK))];
        while sent < len {
            let want = usize::try_from(len - sent)
                .unwrap_or(FILE_CHUNK)
                .min(piece.len());
            let n = file.read_at(&mut piece[..want], offset + sent)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while sent",
                ));
            }
            write_fully(&mut self.stream, &piece[..n]).await?;
            sent += n as u64;
        }
        Ok(())
    }

    /// Sends a small error page; returns the body size.
    async fn send_error(&mut self, status: u16, keep_alive: bool) -> io::Result<u64> {
        self.output.clear();
        response::error_response(&mut self.output, status, keep_alive);
        let size = self.output.len() as u64;
        if self.head_request {
            // The same head (Content-Length included) without the page.
            if let Some(end) = memchr::memmem::find(&self.output, b"\r\n\r\n") {
                self.output.truncate(end + 4);
            }
        }
        self.flush_output().await?;
        Ok(size)
    }

    async fn flush_output(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            write_fully(&mut self.stream, &self.output).await?;
            self.output.clear();
        }
        Ok(())
    }
}

/// Whether `input` is the HTTP/2 preface, or as much of it as has arrived.
fn starts_like_preface(input: &[u8]) -> bool {
    let n = input.len().min(http2::PREFACE.len());
    n > 0 && input[..n] == http2::PREFACE[..n]
}

/// Appends `len` bytes of a file from `offset` to `out` (for small files, sent with the head).
fn append_file(out: &mut Vec<u8>, path: &std::path::Path, offset: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let start = out.len();
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large"))?;
    out.resize(start + len, 0);
    file.read_exact_at(&mut out[start..], offset)
}

/// Writes all of `bytes` and flushes: over TLS, `write_all` can return with encrypted bytes
/// still held by rustls (the socket pushed back), which only a flush sends.
async fn write_fully<T: Transport>(stream: &mut T, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}
