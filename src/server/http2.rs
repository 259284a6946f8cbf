//! HTTP/2 framing for one client connection, with the `h2` crate: over TLS when ALPN chose
//! `h2`, and as h2c on the plain listener when a client starts with the HTTP/2 preface (prior
//! knowledge). Each stream runs in its own task on the core's executor and is answered by the
//! protocol-neutral [`handler`], so the streams of one connection spread over the core's PHP
//! threads.
//!
//! `Upgrade: h2c` is ignored (the request is answered over HTTP/1.1), as RFC 9113 deprecates it
//! and nginx does the same.
//!
//! Protections against the known HTTP/2 attacks come from `h2` and the limits set in
//! [`builder`]: a stream limit, a header list limit (431, which also bounds HPACK bombs and
//! CONTINUATION floods), caps on reset streams (rapid reset, CVE-2023-44487) and on locally
//! reset streams, a per-stream send buffer and a budget for small DATA frames. Around them this
//! module adds the timeouts a public server needs: the preface, idle connections, slow bodies
//! and readers that stop reading.

use std::cell::Cell;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_lite::{future, AsyncRead, AsyncWrite};
use h2::server::SendResponse;
use h2::{RecvStream, SendStream};
use http::header::{HeaderName, HeaderValue};
use tokio_util::compat::FuturesAsyncReadCompatExt as _;

use crate::access_log::RequestSummary;
use crate::http::date;
use crate::http::request::{BodyFraming, Header, RequestHead, Version};
use crate::php::{RequestBody, ResponseEvent};
use crate::server::body_buffer::BodyBuffer;
use crate::server::core::{spawn_contained, CoreContext};
use crate::server::handler::{self, Client, Response, ResponseBody};
use crate::server::within;

/// Streams a client may have open at once (nginx's default).
const MAX_CONCURRENT_STREAMS: u32 = 128;
/// Streams the client may reset before they are accepted, before the connection is closed
/// (rapid reset).
const MAX_PENDING_RESET_STREAMS: usize = 20;
/// Streams this side may reset for protocol errors, before the connection is closed.
const MAX_LOCAL_ERROR_RESETS: usize = 256;
/// Response bytes buffered per stream while the client's flow-control window is closed.
const MAX_SEND_BUFFER: usize = 256 * 1024;
/// The flow-control window offered per stream for request bodies.
const STREAM_WINDOW: u32 = 1024 * 1024;
/// The flow-control window offered for the whole connection.
const CONNECTION_WINDOW: u32 = 4 * 1024 * 1024;
/// Most bytes reserved for a body up front, whatever its Content-Length says.
const BODY_PREALLOCATION: usize = 64 * 1024;
/// Pieces in which static files are sent; smaller files are read and sent whole.
const FILE_CHUNK: usize = 64 * 1024;
/// Bytes of frames gathered before they are written to the connection (one TLS record).
const WRITE_BUFFER: usize = 16 * 1024;
/// Bodies up to this size are queued without waiting for flow-control capacity.
const UNPACED_SEND: usize = 64 * 1024;
/// Streams the client may cancel while they are being answered before the connection is
/// closed, when they are also most of its streams: a rapid reset attack whose streams were
/// accepted before the reset arrived still cannot keep the PHP threads busy for free.
const MAX_CLIENT_CANCELS: usize = 100;
/// After answering before a request body ended, the rest of the body is read and dropped for
/// up to this long (or [`LINGER_BYTES`]), so the answer is flushed before the stream is reset.
const LINGER_TIME: Duration = Duration::from_secs(2);
/// See [`LINGER_TIME`].
const LINGER_BYTES: usize = 4 * 1024 * 1024;
/// After the connection is asked to close (idle, shutdown), the longest its open streams may
/// take to finish.
const CLOSE_GRACE: Duration = Duration::from_secs(30);
/// Response headers HTTP/2 forbids (RFC 9113 §8.2.2) or that the framing here decides.
const SKIPPED_RESPONSE_HEADERS: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "date",
    "server",
];

/// The first bytes of every HTTP/2 connection (RFC 9113 §3.4).
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The connection settings and attack limits.
fn builder(core: &CoreContext) -> h2::server::Builder {
    let header_list = u32::try_from(core.limits.max_header_bytes).unwrap_or(u32::MAX);
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS)
        .max_header_list_size(header_list)
        .max_pending_accept_reset_streams(MAX_PENDING_RESET_STREAMS)
        .max_local_error_reset_streams(Some(MAX_LOCAL_ERROR_RESETS))
        .max_send_buffer_size(MAX_SEND_BUFFER)
        .initial_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    builder
}

/// Serves an HTTP/2 connection until the client closes it, it idles out, or the server shuts
/// down.
pub(crate) async fn serve<T>(stream: T, client: Client, core: Rc<CoreContext>)
where
    T: AsyncRead + AsyncWrite + Unpin + 'static,
{
    // h2 writes a frame's head and a big payload separately: buffered, the frames of a flush
    // leave in one TLS record and one send instead of one each.
    let io = tokio::io::BufWriter::with_capacity(WRITE_BUFFER, stream.compat());
    let handshake = builder(&core).handshake::<_, Bytes>(io);
    let Some(Ok(mut connection)) = within(core.header_read_timeout, handshake).await else {
        log::debug!("HTTP/2 preface from {} failed or timed out", client.peer);
        return;
    };
    let streams = Rc::new(StreamCount::default());
    let mut closing_since: Option<Instant> = None;
    loop {
        let wait = next_check(&core, &streams, closing_since);
        let next = future::or(async { Some(connection.accept().await) }, async {
            future::or(glommio::timer::sleep(wait), core.shutdown.wait()).await;
            None
        })
        .await;
        match next {
            Some(Some(Ok((request, respond)))) => {
                if streams.cancels_look_abusive() {
                    log::warn!(
                        "HTTP/2 client {} cancelled {} streams: closing the connection",
                        client.peer,
                        streams.cancelled.get()
                    );
                    connection.abrupt_shutdown(h2::Reason::ENHANCE_YOUR_CALM);
                    closing_since.get_or_insert_with(Instant::now);
                    continue;
                }
                let core = Rc::clone(&core);
                // Counted open until the task ends, even if it panics.
                let open = OpenStream::new(Rc::clone(&streams));
                spawn_contained("HTTP/2 stream", async move {
                    serve_stream(&core, &client, request, respond, &open.0).await;
                });
            }
            Some(Some(Err(err))) => {
                log::debug!("HTTP/2 connection from {} ended: {err}", client.peer);
                break;
            }
            Some(None) => break,
            None => {
                if let Some(since) = closing_since {
                    if since.elapsed() >= CLOSE_GRACE {
                        break;
                    }
                } else if core.shutdown.is_triggered() {
                    // GOAWAY; streams already open finish, then `accept` ends.
                    connection.graceful_shutdown();
                    closing_since = Some(Instant::now());
                } else if streams.idle_for() >= core.keep_alive_timeout {
                    // Idle: no stream to wait for, so GOAWAY and close now.
                    connection.abrupt_shutdown(h2::Reason::NO_ERROR);
                    closing_since = Some(Instant::now());
                }
            }
        }
    }
}

/// How long the connection loop may wait before it must look at the idle timer again.
fn next_check(
    core: &CoreContext,
    streams: &StreamCount,
    closing_since: Option<Instant>,
) -> Duration {
    match closing_since {
        Some(since) => CLOSE_GRACE.saturating_sub(since.elapsed()),
        None if core.shutdown.is_triggered() => Duration::ZERO,
        None => core
            .keep_alive_timeout
            .saturating_sub(streams.idle_for())
            .max(Duration::from_millis(10)),
    }
}

/// One stream counted open in its connection's [`StreamCount`] while this lives.
struct OpenStream(Rc<StreamCount>);

impl OpenStream {
    fn new(streams: Rc<StreamCount>) -> OpenStream {
        streams.opened();
        OpenStream(streams)
    }
}

impl Drop for OpenStream {
    fn drop(&mut self) {
        self.0.closed();
    }
}

/// The open streams of a connection, since when there have been none, and how many the
/// client cancelled.
struct StreamCount {
    open: Cell<usize>,
    idle_since: Cell<Instant>,
    started: Cell<usize>,
    cancelled: Cell<usize>,
}

impl Default for StreamCount {
    fn default() -> StreamCount {
        StreamCount {
            open: Cell::new(0),
            idle_since: Cell::new(Instant::now()),
            started: Cell::new(0),
            cancelled: Cell::new(0),
        }
    }
}

impl StreamCount {
    fn opened(&self) {
        self.open.set(self.open.get() + 1);
        self.started.set(self.started.get() + 1);
    }

    /// The client reset a stream before it was answered.
    fn cancelled_by_client(&self) {
        self.cancelled.set(self.cancelled.get() + 1);
    }

    /// More than [`MAX_CLIENT_CANCELS`] streams, and most of them, were cancelled.
    fn cancels_look_abusive(&self) -> bool {
        let cancelled = self.cancelled.get();
        cancelled > MAX_CLIENT_CANCELS && cancelled * 2 > self.started.get()
    }

    fn closed(&self) {
        self.open.set(self.open.get().saturating_sub(1));
        if self.open.get() == 0 {
            self.idle_since.set(Instant::now());
        }
    }

    /// How long no stream has been open (zero while one is).
    fn idle_for(&self) -> Duration {
        if self.open.get() > 0 {
            Duration::ZERO
        } else {
            self.idle_since.get().elapsed()
        }
    }
}

/// Answers one stream.
async fn serve_stream(
    core: &CoreContext,
    client: &Client,
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    streams: &StreamCount,
) {
    let started = Instant::now();
    let (parts, mut body) = request.into_parts();
    let head = match request_head(&parts, &body, core) {
        Ok(head) => head,
        Err(status) => {
            let _ = send(core, &mut respond, Response::error(status), false).await;
            return;
        }
    };
    let summary = core
        .access_log
        .is_enabled()
        .then(|| RequestSummary::of(&head));
    let head_request = head.method == "HEAD";
    let answer = async {
        Some(match handler::answer_before_body(core, &head, client) {
            Some(response) => response,
            None => match read_body(core, &head, &mut body).await {
                Ok(body) => handler::respond(core, &head, body, client).await,
                Err(status) => Response::error(status),
            },
        })
    };
    let cancelled = async {
        let _ = future::poll_fn(|cx| respond.poll_reset(cx)).await;
        None
    };
    let Some(mut response) = future::or(answer, cancelled).await else {
        streams.cancelled_by_client();
        return;
    };
    let response = loop {
        match response.into_interim() {
            Ok((interim, pending)) => {
                if let Ok(head) = response_head(interim.status, &interim.headers, None) {
                    let _ = respond.send_informational(head);
                }
                response = handler::next_response(core, pending, client).await;
            }
            Err(last) => break last,
        }
    };
    let status = response.status;
    let bytes = match send(core, &mut respond, response, head_request).await {
        Ok(bytes) => bytes,
        Err(err) => {
            log::debug!("HTTP/2 stream from {} ended early: {err}", client.peer);
            respond.send_reset(h2::Reason::CANCEL);
            return;
        }
    };
    if let Some(summary) = summary {
        core.access_log
            .record(client.peer.ip(), &summary, status, bytes, started.elapsed());
    }
    if !body.is_end_stream() {
        discard_rest(&mut body).await;
    }
}

/// After answering before the whole body arrived (413, a redirect), reads and drops what the
/// client still sends, for a bounded time and amount, before the stream is reset. Resetting at
/// once would also discard the queued answer (h2 resets a stream whose handles are all dropped
/// without sending its unflushed DATA), and the client would see no response.
async fn discard_rest(body: &mut RecvStream) {
    let deadline = Instant::now() + LINGER_TIME;
    let mut discarded = 0;
    while discarded < LINGER_BYTES {
        let left = deadline.saturating_duration_since(Instant::now());
        match within(left, body.data()).await {
            Some(Some(Ok(data))) => {
                discarded += data.len();
                let _ = body.flow_control().release_capacity(data.len());
            }
            _ => break,
        }
    }
}

/// The request head the handler reads, from HTTP/2 pseudo-headers and fields. `:authority`
/// becomes `Host` when the client sent none, as nginx passes it on.
fn request_head(
    parts: &http::request::Parts,
    body: &RecvStream,
    core: &CoreContext,
) -> Result<RequestHead, u16> {
    if parts.headers.len() > core.limits.max_headers {
        return Err(431);
    }
    let path = parts.uri.path();
    if !path.starts_with('/') && path != "*" {
        return Err(400);
    }
    let mut headers: Vec<Header> = Vec::with_capacity(parts.headers.len() + 1);
    if !parts.headers.contains_key(http::header::HOST) {
        if let Some(authority) = parts.uri.authority() {
            headers.push(Header {
                name: "host".to_owned(),
                value: authority.as_str().as_bytes().to_vec(),
            });
        }
    }
    for (name, value) in &parts.headers {
        headers.push(Header {
            name: name.as_str().to_owned(),
            value: value.as_bytes().to_vec(),
        });
    }
    let content_length = match parts.headers.get(http::header::CONTENT_LENGTH) {
        Some(value) => Some(
            std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|text| text.parse::<u64>().ok())
                .ok_or(400u16)?,
        ),
        None => None,
    };
    let framing = match content_length {
        Some(length) => BodyFraming::Length(length),
        None if body.is_end_stream() => BodyFraming::None,
        None => BodyFraming::Chunked,
    };
    Ok(RequestHead {
        method: parts.method.as_str().to_owned(),
        target: parts
            .uri
            .path_and_query()
            .map_or_else(|| path.to_owned(), |target| target.as_str().to_owned()),
        path: path.to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        version: Version::Http2,
        headers,
        framing,
        keep_alive: true,
        expect_continue: false,
    })
}

/// Reads a request body, in memory up to `server.body_buffer_size` and in a temporary file
/// beyond, within `server.body_timeout` and `server.max_body_size`. `Err` is the status to
/// answer with.
async fn read_body(
    core: &CoreContext,
    head: &RequestHead,
    stream: &mut RecvStream,
) -> Result<RequestBody, u16> {
    if matches!(head.framing, BodyFraming::None) {
        return Ok(RequestBody::default());
    }
    let max = core.limits.max_body_bytes;
    let expected = match head.framing {
        BodyFraming::Length(length) if length > max => return Err(413),
        BodyFraming::Length(length) => Some(length),
        _ => None,
    };
    let mut body = BodyBuffer::new(core.body_buffer_size, expected, BODY_PREALLOCATION);
    let deadline = Instant::now() + core.body_timeout;
    let mut received = 0u64;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let data = match within(left, stream.data()).await {
            None => return Err(408),
            Some(None) => break,
            Some(Some(Ok(data))) => data,
            Some(Some(Err(_))) => return Err(400),
        };
        received += data.len() as u64;
        if received > max {
            return Err(413);
        }
        let _ = stream.flow_control().release_capacity(data.len());
        body.sink().extend_from_slice(&data);
        body.settle().map_err(|_| 500u16)?;
    }
    body.finish().map_err(|_| 500)
}

/// Sends a handler's response; returns the body bytes sent.
async fn send(
    core: &CoreContext,
    respond: &mut SendResponse<Bytes>,
    response: Response,
    head_request: bool,
) -> io::Result<u64> {
    let length = match &response.body {
        ResponseBody::HeadOnly(len) => Some(*len),
        ResponseBody::Bytes(bytes) => Some(bytes.len() as u64),
        ResponseBody::File { len, .. } => Some(*len),
        ResponseBody::None | ResponseBody::Stream(_) | ResponseBody::Interim(_) => None,
    };
    let no_body = head_request
        || handler::status_has_no_body(response.status)
        || matches!(
            response.body,
            ResponseBody::None | ResponseBody::HeadOnly(_) | ResponseBody::Interim(_)
        )
        || length == Some(0);
    let head = response_head(response.status, &response.headers, length)?;
    let mut stream = respond.send_response(head, no_body).map_err(h2_error)?;
    if no_body {
        if let ResponseBody::Stream(events) = response.body {
            // PHP still runs to its end; its output is not sent.
            while let Ok(event) = events.recv().await {
                if matches!(event, ResponseEvent::End) {
                    break;
                }
            }
        }
        return Ok(0);
    }
    match response.body {
        ResponseBody::Bytes(bytes) => {
            let len = bytes.len() as u64;
            send_data(core, &mut stream, Bytes::from(bytes), true).await?;
            Ok(len)
        }
        ResponseBody::File { path, offset, len } => {
            send_file(core, &mut stream, &path, offset, len).await?;
            Ok(len)
        }
        ResponseBody::Stream(events) => send_stream(core, &mut stream, &events).await,
        ResponseBody::None | ResponseBody::HeadOnly(_) | ResponseBody::Interim(_) => Ok(0),
    }
}

/// The `:status` and header fields of a response. Names or values HTTP/2 cannot carry (PHP
/// may send anything) are left out with a debug log line.
fn response_head(
    status: u16,
    headers: &[(String, Vec<u8>)],
    length: Option<u64>,
) -> io::Result<http::Response<()>> {
    let mut head = http::Response::new(());
    *head.status_mut() = http::StatusCode::from_u16(status)
        .map_err(|_| io::Error::other(format!("status {status} cannot be sent")))?;
    let fields = head.headers_mut();
    for (name, value) in headers {
        if SKIPPED_RESPONSE_HEADERS
            .iter()
            .any(|skipped| name.eq_ignore_ascii_case(skipped))
        {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value),
        ) {
            (Ok(name), Ok(value)) => {
                fields.append(name, value);
            }
            _ => log::debug!("response header {name:?} cannot be sent over HTTP/2"),
        }
    }
    fields.insert(http::header::SERVER, HeaderValue::from_static("ePHPm"));
    let now = date::with_http_date(HeaderValue::from_bytes);
    if let Ok(now) = now {
        fields.insert(http::header::DATE, now);
    }
    if let Some(length) = length.filter(|_| !handler::status_has_no_body(status)) {
        fields.insert(http::header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    Ok(head)
}

/// Sends `data` as the client's flow-control window allows, within `server.send_timeout` for
/// each piece. Up to [`UNPACED_SEND`] bytes are queued at once (h2 sends them as the window
/// opens), which saves a round trip through the connection task for small answers.
async fn send_data(
    core: &CoreContext,
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
) -> io::Result<()> {
    if data.len() <= UNPACED_SEND {
        return stream.send_data(data, end).map_err(h2_error);
    }
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let capacity = within(core.send_timeout, capacity(stream))
            .await
            .ok_or_else(|| io::Error::new(io::ErrorKind::TimedOut, "client stopped reading"))??;
        let piece = data.split_to(capacity.min(data.len()));
        stream
            .send_data(piece, end && data.is_empty())
            .map_err(h2_error)?;
    }
    Ok(())
}

/// Waits until some send capacity is assigned to the stream.
async fn capacity(stream: &mut SendStream<Bytes>) -> io::Result<usize> {
    loop {
        match future::poll_fn(|cx| stream.poll_capacity(cx)).await {
            Some(Ok(0)) => {}
            Some(Ok(capacity)) => return Ok(capacity),
            Some(Err(err)) => return Err(h2_error(err)),
            None => return Err(io::Error::new(io::ErrorKind::BrokenPipe, "stream closed")),
        }
    }
}

/// Sends `len` bytes of a file from `offset`.
async fn send_file(
    core: &CoreContext,
    stream: &mut SendStream<Bytes>,
    path: &std::path::Path,
    offset: u64,
    len: u64,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path)?;
    let mut sent = 0u64;
    while sent < len {
        let want = usize::try_from(len - sent)
            .unwrap_or(FILE_CHUNK)
            .min(FILE_CHUNK);
        let mut piece = vec![0u8; want];
        let n = file.read_at(&mut piece, offset + sent)?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "file shrank while sent",
            ));
        }
        piece.truncate(n);
        sent += n as u64;
        send_data(core, stream, Bytes::from(piece), sent == len).await?;
    }
    Ok(())
}

/// Sends PHP's flushed output as it arrives; returns the bytes sent.
async fn send_stream(
    core: &CoreContext,
    stream: &mut SendStream<Bytes>,
    events: &async_channel::Receiver<ResponseEvent>,
) -> io::Result<u64> {
    let mut bytes = 0u64;
    while let Ok(event) = events.recv().await {
        match event {
            ResponseEvent::Body(piece) => {
                bytes += piece.len() as u64;
                send_data(core, stream, Bytes::from(piece), false).await?;
            }
            ResponseEvent::End => break,
            ResponseEvent::Head(_)
            | ResponseEvent::Complete { .. }
            | ResponseEvent::Informational(_) => {}
        }
    }
    send_data(core, stream, Bytes::new(), true).await?;
    Ok(bytes)
}

fn h2_error(err: h2::Error) -> io::Error {
    io::Error::other(err)
}
