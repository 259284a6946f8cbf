//! One client connection: reads requests (keep-alive, pipelining), routes them, and writes the
//! responses, with the limits and timeouts that keep a public server safe.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use futures_lite::future;
use futures_lite::{AsyncReadExt, AsyncWriteExt};

use crate::access_log::RequestSummary;
use crate::fault_injection::{self, FaultPoint};
use crate::http::body::BodyDecoder;
use crate::http::request::{parse_head, BodyFraming, RequestHead, Version};
use crate::http::response::{self, BodyLength};
use crate::php::{PhpJob, RequestBody, ResponseEvent, ResponseHead};
use crate::router::{self, Route};
use crate::server::body_buffer::BodyBuffer;
use crate::server::core::CoreContext;
use crate::server::php_request;
use crate::server::read_buffer::ReadBuffer;
use crate::server::transport::Transport;
use crate::static_files::{self, StaticBody, StaticRequest};

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
        }
    }

    /// Serves requests until the client closes, a timeout fires, an error ends the
    /// connection, or the server shuts down.
    pub(crate) async fn serve(mut self) {
        loop {
            let head = match self.read_head().await {
                Ok(HeadRead::Request(head)) => head,
                Ok(HeadRead::Close) | Err(_) => break,
            };
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

    /// Handles one request: body, routing, response.
    async fn exchange(&mut self, head: RequestHead) -> io::Result<Exchange> {
        fault_injection::panic_if_asked(FaultPoint::Connection, head.path.as_bytes());
        fault_injection::panic_if_asked(FaultPoint::Core, head.path.as_bytes());
        if let Some(port) = self
            .core
            .https_redirect
            .filter(|_| !self.stream.is_secure())
        {
            return self.redirect_to_https(&head, port).await;
        }
        let keep_alive = head.keep_alive && !self.core.shutdown.is_triggered();
        self.head_request = head.method == "HEAD";
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
        let route = router::resolve(&self.core.docroot, &head.path);
        match route {
            Route::Php {
                script_filename,
                script_name,
                path_info,
            } => {
                let php = php_request::PhpTarget {
                    script_filename: &script_filename,
                    script_name: &script_name,
                    path_info: path_info.as_deref(),
                };
                self.serve_php(&head, php, body, keep_alive).await
            }
            Route::Static { path, meta } => {
                self.serve_static(&head, &path, &meta, keep_alive).await
            }
            Route::RedirectToDir { location } => {
                let location = if head.query.is_empty() {
                    location
                } else {
                    format!("{location}?{}", head.query)
                };
                self.send_redirect(&head, &location, keep_alive).await
            }
            Route::Forbidden => self.send_status(403, keep_alive).await,
            Route::NotFound => self.send_status(404, keep_alive).await,
            Route::BadRequest => self.send_status(400, false).await,
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

    async fn serve_php(
        &mut self,
        head: &RequestHead,
        target: php_request::PhpTarget<'_>,
        body: RequestBody,
        keep_alive: bool,
    ) -> io::Result<Exchange> {
        let mut request = php_sys::Request::with_capacity(4096, 48);
        let conn = php_request::ConnectionInfo {
            peer: self.peer,
            local: self.local,
            docroot: self.core.docroot.path(),
            secure: self.stream.is_secure(),
        };
        if php_request::build(&mut request, head, &target, &conn, body.len()).is_err() {
            return self.send_status(400, false).await;
        }
        let (events_tx, events_rx) = async_channel::bounded(8);
        let job = PhpJob {
            request,
            body,
            events: events_tx,
        };
        if self.core.pool.submit(job).is_err() {
            log::warn!(
                "PHP queue full on this core ({} threads busy, {} queued): answering 503",
                self.core.pool.busy(),
                self.core.pool.queued()
            );
            return self.send_status(503, keep_alive).await;
        }
        let head_only = head.method == "HEAD";
        match events_rx.recv().await {
            Ok(ResponseEvent::Complete {
                head: php_head,
                body,
            }) => {
                self.send_php_complete(head.version, &php_head, &body, head_only, keep_alive)
                    .await
            }
            Ok(ResponseEvent::Head(php_head)) => {
                self.stream_php(head.version, &php_head, &events_rx, head_only, keep_alive)
                    .await
            }
            Ok(ResponseEvent::Body(_) | ResponseEvent::End) | Err(_) => {
                self.send_status(500, false).await
            }
        }
    }

    async fn send_php_complete(
        &mut self,
        version: Version,
        php_head: &ResponseHead,
        body: &[u8],
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<Exchange> {
        let headers = header_refs(php_head);
        let length = if head_only || status_has_no_body(php_head.status) {
            BodyLength::None
        } else {
            BodyLength::Known(body.len() as u64)
        };
        self.output.clear();
        self.write_response_head(version, php_head.status, &headers, length, keep_alive);
        if matches!(length, BodyLength::Known(_)) {
            self.output.extend_from_slice(body);
        }
        self.flush_output().await?;
        Ok(Exchange {
            status: php_head.status,
            bytes: if matches!(length, BodyLength::Known(_)) {
                body.len() as u64
            } else {
                0
            },
            keep_alive,
        })
    }

    /// Streams a flushed PHP response: chunked for HTTP/1.1, close-delimited for HTTP/1.0.
    async fn stream_php(
        &mut self,
        version: Version,
        php_head: &ResponseHead,
        events: &async_channel::Receiver<ResponseEvent>,
        head_only: bool,
        keep_alive: bool,
    ) -> io::Result<Exchange> {
        let no_body = head_only || status_has_no_body(php_head.status);
        let chunked = matches!(version, Version::Http11);
        let keep_alive = keep_alive && (chunked || no_body);
        let length = match (no_body, chunked) {
            (true, _) => BodyLength::None,
            (false, true) => BodyLength::Chunked,
            (false, false) => BodyLength::CloseDelimited,
        };
        self.output.clear();
        let headers = header_refs(php_head);
        self.write_response_head(version, php_head.status, &headers, length, keep_alive);
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
                ResponseEvent::Head(_) | ResponseEvent::Complete { .. } => {}
            }
        }
        if chunked && !no_body {
            response::write_last_chunk(&mut self.output);
            self.flush_output().await?;
        }
        Ok(Exchange {
            status: php_head.status,
            bytes,
            keep_alive,
        })
    }

    async fn serve_static(
        &mut self,
        head: &RequestHead,
        path: &std::path::Path,
        meta: &std::fs::Metadata,
        keep_alive: bool,
    ) -> io::Result<Exchange> {
        let head_only = match head.method.as_str() {
            "GET" => false,
            "HEAD" => true,
            _ => return self.send_method_not_allowed(keep_alive).await,
        };
        let request = StaticRequest {
            head_only,
            if_none_match: head.header("if-none-match"),
            if_modified_since: head.header("if-modified-since"),
            range: head.header("range"),
            if_range: head.header("if-range"),
            accept_encoding: if self.core.gzip {
                head.header("accept-encoding")
            } else {
                None
            },
        };
        let answer = static_files::respond(path, meta, &request);
        let headers: Vec<(&str, &[u8])> = answer
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let length = match (&answer.body, head_only) {
            (_, true) if answer.status != 304 => BodyLength::HeadOnly(answer.content_length),
            (StaticBody::Empty, _) if answer.status == 304 => BodyLength::None,
            (StaticBody::Empty, _) => BodyLength::Known(0),
            (StaticBody::Bytes(bytes), _) => BodyLength::Known(bytes.len() as u64),
            (StaticBody::File { len, .. }, _) => BodyLength::Known(*len),
        };
        self.output.clear();
        self.write_response_head(head.version, answer.status, &headers, length, keep_alive);
        let bytes = match answer.body {
            StaticBody::Empty => 0,
            StaticBody::Bytes(bytes) => {
                self.output.extend_from_slice(&bytes);
                bytes.len() as u64
            }
            StaticBody::File { path, offset, len } if len <= SMALL_FILE => {
                append_file(&mut self.output, &path, offset, len)?;
                len
            }
            StaticBody::File { path, offset, len } => {
                self.flush_output().await?;
                self.send_file(&path, offset, len).await?;
                len
            }
        };
        self.flush_output().await?;
        Ok(Exchange {
            status: answer.status,
            bytes,
            keep_alive,
        })
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

    /// Writes a response head into the output buffer, with the policy headers of this
    /// connection (HSTS over TLS) after the handler's.
    fn write_response_head(
        &mut self,
        version: Version,
        status: u16,
        headers: &[(&str, &[u8])],
        length: BodyLength,
        keep_alive: bool,
    ) {
        // Disjoint fields: the policy is read while the output buffer is written.
        match &self.core.hsts {
            Some(hsts) if self.stream.is_secure() => {
                let mut all = headers.to_vec();
                all.push(("Strict-Transport-Security", hsts));
                response::write_head(&mut self.output, version, status, &all, length, keep_alive);
            }
            _ => response::write_head(
                &mut self.output,
                version,
                status,
                headers,
                length,
                keep_alive,
            ),
        }
    }

    /// The plain listener's answer when `server.tls.redirect_http` is on: 308 to the same
    /// path and query on the HTTPS port (308 keeps the method and body of a POST).
    async fn redirect_to_https(&mut self, head: &RequestHead, port: u16) -> io::Result<Exchange> {
        let host = head
            .header("host")
            .and_then(|host| std::str::from_utf8(host).ok())
            .map(host_without_port)
            .filter(|host| !host.is_empty())
            .map_or_else(|| self.local.ip().to_string(), str::to_owned);
        let port = if port == 443 {
            String::new()
        } else {
            format!(":{port}")
        };
        let query = if head.query.is_empty() {
            String::new()
        } else {
            format!("?{}", head.query)
        };
        let location = format!("https://{host}{port}{}{query}", head.path);
        // The body (if any) is not read: close after answering.
        self.linger = !matches!(head.framing, BodyFraming::None);
        let headers = [("Location", location.as_bytes())];
        self.send_empty(head.version, 308, &headers, false).await
    }

    async fn send_redirect(
        &mut self,
        head: &RequestHead,
        location: &str,
        keep_alive: bool,
    ) -> io::Result<Exchange> {
        let headers = [("Location", location.as_bytes())];
        self.send_empty(head.version, 301, &headers, keep_alive)
            .await
    }

    async fn send_method_not_allowed(&mut self, keep_alive: bool) -> io::Result<Exchange> {
        let headers = [("Allow", &b"GET, HEAD"[..])];
        self.send_empty(Version::Http11, 405, &headers, keep_alive)
            .await
    }

    /// Sends a response with the given headers and an empty body.
    async fn send_empty(
        &mut self,
        version: Version,
        status: u16,
        headers: &[(&str, &[u8])],
        keep_alive: bool,
    ) -> io::Result<Exchange> {
        self.output.clear();
        let length = BodyLength::Known(0);
        self.write_response_head(version, status, headers, length, keep_alive);
        self.flush_output().await?;
        Ok(Exchange {
            status,
            bytes: 0,
            keep_alive,
        })
    }

    async fn send_status(&mut self, status: u16, keep_alive: bool) -> io::Result<Exchange> {
        let bytes = self.send_error(status, keep_alive).await?;
        Ok(Exchange {
            status,
            bytes,
            keep_alive,
        })
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

/// Appends `len` bytes of a file from `offset` to `out` (for small files, sent with the head).
fn append_file(out: &mut Vec<u8>, path: &std::path::Path, offset: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let start = out.len();
    let len = usize::try_from(len).map_err(|_| io::Error::other("file too large"))?;
    out.resize(start + len, 0);
    file.read_exact_at(&mut out[start..], offset)
}

fn header_refs(head: &ResponseHead) -> Vec<(&str, &[u8])> {
    head.headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_slice()))
        .collect()
}

fn status_has_no_body(status: u16) -> bool {
    matches!(status, 100..=199 | 204 | 304)
}

/// Writes all of `bytes` and flushes: over TLS, `write_all` can return with encrypted bytes
/// still held by rustls (the socket pushed back), which only a flush sends.
async fn write_fully<T: Transport>(stream: &mut T, bytes: &[u8]) -> io::Result<()> {
    stream.write_all(bytes).await?;
    stream.flush().await
}

/// The host part of a `Host` header value (`example.com:8080` -> `example.com`, `[::1]:80` ->
/// `[::1]`).
fn host_without_port(host: &str) -> &str {
    let host = host.trim();
    match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => &host[..colon],
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::host_without_port;

    #[test]
    fn host_headers_lose_their_port() {
        assert_eq!(host_without_port("example.com:8080"), "example.com");
        assert_eq!(host_without_port("example.com"), "example.com");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
        assert_eq!(host_without_port(" 10.0.0.1:443 "), "10.0.0.1");
    }
}
