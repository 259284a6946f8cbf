//! Parsing and validation of an HTTP/1.x request head.
//!
//! [`parse_head`] turns the request line and header section into a
//! [`RequestHead`]: it decides how the body is framed and whether the
//! connection may be reused. Anything that could make two HTTP processors
//! disagree about where a request ends (request smuggling) is rejected here,
//! before a single body byte is read.

use std::mem::MaybeUninit;

use thiserror::Error;

use super::is_token_byte;

/// Header slots kept on the stack; a larger `max_headers` uses the heap.
const INLINE_HEADER_SLOTS: usize = 128;

/// Size limits applied while reading one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request head (request line plus header section), in bytes.
    pub max_header_bytes: usize,
    /// Largest accepted number of header fields.
    pub max_headers: usize,
    /// Largest accepted decoded request body, in bytes.
    pub max_body_bytes: u64,
}

impl Default for Limits {
    /// 16 KiB of head, 100 header fields and an 8 MiB body (PHP's default
    /// `post_max_size`).
    fn default() -> Self {
        Limits {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_body_bytes: 8 * 1024 * 1024,
        }
    }
}

/// The protocol version of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    Http11,
    /// `HTTP/2`, over TLS (ALPN `h2`) or plain (h2c with prior knowledge).
    Http2,
}

/// How the request body is delimited on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body: neither `Content-Length` nor `Transfer-Encoding` was sent.
    None,
    /// Exactly this many bytes follow the head (`Content-Length`).
    Length(u64),
    /// A chunked body follows the head (`Transfer-Encoding: chunked`).
    Chunked,
}

impl BodyFraming {
    /// Whether any body bytes may follow the head.
    pub fn has_body(self) -> bool {
        match self {
            BodyFraming::None => false,
            BodyFraming::Length(length) => length > 0,
            BodyFraming::Chunked => true,
        }
    }
}

/// One request header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The field name with the capitalization the client sent.
    pub name: String,
    /// The field value without surrounding whitespace. Never contains NUL, CR
    /// or LF; may contain other bytes outside ASCII.
    pub value: Vec<u8>,
}

/// A parsed and validated request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request method, e.g. `GET` (case-sensitive, as sent).
    pub method: String,
    /// The raw request-target as sent: origin-form (`/a/b?c`), `*`, or
    /// absolute-form (`http://host/a/b?c`).
    pub target: String,
    /// The raw (still percent-encoded) path: the part of an origin-form target
    /// before `?`, the path of an absolute-form target (`/` when it has none),
    /// or `*`.
    pub path: String,
    /// The raw query after the first `?`, without the `?`; empty if none.
    pub query: String,
    /// The protocol version.
    pub version: Version,
    /// All header fields in the order they were received.
    pub headers: Vec<Header>,
    /// How the body is delimited.
    pub framing: BodyFraming,
    /// Whether the client allows the connection to be reused after the response.
    pub keep_alive: bool,
    /// Whether the client waits for `100 Continue` before sending the body.
    /// Only set for HTTP/1.1 requests that announce a non-empty body.
    pub expect_continue: bool,
}

impl RequestHead {
    /// The value of the first header field named `name` (compared
    /// case-insensitively).
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|header| header.name.eq_ignore_ascii_case(name))
            .map(|header| header.value.as_slice())
    }
}

/// Why a request head was rejected. Every variant is fatal for the
/// connection: send the error response (see [`RequestError::status`]) with
/// `Connection: close` and close it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    /// The request is malformed or ambiguous (400).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// The request head exceeds `Limits::max_header_bytes` (431).
    #[error("request header section is too large")]
    HeadersTooLarge,
    /// The request has more than `Limits::max_headers` header fields (431).
    #[error("request has too many header fields")]
    TooManyHeaders,
    /// The declared `Content-Length` exceeds `Limits::max_body_bytes` (413).
    #[error("request body of {0} bytes is too large")]
    BodyTooLarge(u64),
    /// A well-formed HTTP version other than 1.0 or 1.1 (505).
    #[error("HTTP version not supported")]
    VersionNotSupported,
    /// A transfer coding other than `chunked` (501).
    #[error("transfer coding not supported")]
    UnsupportedTransferCoding,
    /// An `Expect` value other than `100-continue` (417).
    #[error("expectation not supported")]
    ExpectationFailed,
}

impl RequestError {
    /// The response status code for this error.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::BadRequest(_) => 400,
            RequestError::HeadersTooLarge | RequestError::TooManyHeaders => 431,
            RequestError::BodyTooLarge(_) => 413,
            RequestError::VersionNotSupported => 505,
            RequestError::UnsupportedTransferCoding => 501,
            RequestError::ExpectationFailed => 417,
        }
    }
}

/// Parses the request head at the start of `buf`.
///
/// Returns `Ok(None)` when `buf` holds only part of a head and more bytes are
/// needed, or `Ok(Some((head, consumed)))` where `consumed` is the length of
/// the head; the body (or the next pipelined request) starts at
/// `buf[consumed..]`. Empty lines before the request line are skipped.
///
/// # Errors
///
/// A [`RequestError`] if the head is malformed, ambiguous, unsupported or over
/// a limit. A head is too large as soon as `buf` holds more than
/// `max_header_bytes` without a complete head in its first `max_header_bytes`.
pub fn parse_head(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(RequestHead, usize)>, RequestError> {
    let window = &buf[..buf.len().min(limits.max_header_bytes)];
    let mut inline_slots = [MaybeUninit::<httparse::Header<'_>>::uninit(); INLINE_HEADER_SLOTS];
    let mut heap_slots = Vec::new();
    let slots = if limits.max_headers <= INLINE_HEADER_SLOTS {
        &mut inline_slots[..limits.max_headers]
    } else {
        heap_slots.resize(limits.max_headers, MaybeUninit::uninit());
        &mut heap_slots[..]
    };

    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(window, slots) {
        Ok(httparse::Status::Complete(head_len)) => {
            let head = build_head(&request, limits)?;
            Ok(Some((head, head_len)))
        }
        Ok(httparse::Status::Partial) => need_more(buf, limits),
        Err(httparse::Error::Version) => match classify_rejected_version(window) {
            RejectedVersion::Incomplete => need_more(buf, limits),
            RejectedVersion::Unsupported => Err(RequestError::VersionNotSupported),
            RejectedVersion::Malformed => Err(RequestError::BadRequest("malformed HTTP version")),
        },
        Err(error) => Err(syntax_error(error, window)),
    }
}

/// The answer for an incomplete head: wait for more bytes unless the limit is
/// already exceeded.
fn need_more(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, RequestError> {
    if buf.len() > limits.max_header_bytes {
        Err(RequestError::HeadersTooLarge)
    } else {
        Ok(None)
    }
}

/// Validates a syntactically complete head and copies it out of the buffer.
fn build_head(
    request: &httparse::Request<'_, '_>,
    limits: &Limits,
) -> Result<RequestHead, RequestError> {
    let (Some(method), Some(target), Some(minor_version)) =
        (request.method, request.path, request.version)
    else {
        return Err(RequestError::BadRequest("incomplete request line"));
    };
    let version = match minor_version {
        0 => Version::Http10,
        1 => Version::Http11,
        _ => return Err(RequestError::VersionNotSupported),
    };
    let (path, query) = split_target(method, target)?;
    let facts = HeaderFacts::collect(request.headers)?;
    facts.check_host(version)?;
    let framing = facts.framing(version, limits)?;
    let expect_continue = facts.expectations.wants_continue(version, framing)?;

    Ok(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        version,
        headers: owned_headers(request.headers),
        framing,
        keep_alive: facts.connection.keep_alive(version),
        expect_continue,
    })
}

fn owned_headers(headers: &[httparse::Header<'_>]) -> Vec<Header> {
    headers
        .iter()
        .map(|header| Header {
            name: header.name.to_owned(),
            value: header.value.to_vec(),
        })
        .collect()
}

/// Splits a request-target into its raw path and query.
fn split_target<'a>(method: &str, target: &'a str) -> Result<(&'a str, &'a str), RequestError> {
    if target.starts_with('/') {
        return Ok(split_query(target));
    }
    if target == "*" {
        return if method == "OPTIONS" {
            Ok(("*", ""))
        } else {
            Err(RequestError::BadRequest(
                "asterisk-form target is only allowed with OPTIONS",
            ))
        };
    }
    match absolute_form_path_and_query(target) {
        Some(path_and_query) if path_and_query.starts_with('/') => Ok(split_query(path_and_query)),
        Some(query) => Ok(("/", query.strip_prefix('?').unwrap_or(query))),
        None => Err(RequestError::BadRequest("unsupported request-target form")),
    }
}

fn split_query(path_and_query: &str) -> (&str, &str) {
    path_and_query
        .split_once('?')
        .unwrap_or((path_and_query, ""))
}

/// The `[/path][?query]` part of an absolute-form
/// `http(s)://authority[/path][?query]` target with a valid, non-empty
/// authority. `None` for any other form.
fn absolute_form_path_and_query(target: &str) -> Option<&str> {
    let (scheme, rest) = target.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority_len = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_len);
    let valid = !authority.is_empty() && is_valid_host(authority.as_bytes());
    valid.then_some(path_and_query)
}

/// Whether `host` contains only characters of an RFC 3986 `host [":" port]`
/// (reg-name, IPv4 or bracketed IPv6). Rejects userinfo, paths and whitespace.
fn is_valid_host(host: &[u8]) -> bool {
    host.iter().all(|&byte| {
        byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'%'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
            )
    })
}

/// What the header fields say about framing, routing and the connection,
/// gathered in one pass.
#[derive(Default)]
struct HeaderFacts<'a> {
    content_length_fields: usize,
    content_length: &'a [u8],
    transfer_codings: TransferCodings,
    host_fields: usize,
    host: &'a [u8],
    connection: ConnectionOptions,
    expectations: Expectations,
}

impl<'a> HeaderFacts<'a> {
    fn collect(headers: &[httparse::Header<'a>]) -> Result<Self, RequestError> {
        let mut facts = HeaderFacts::default();
        for header in headers {
            let (name, value) = (header.name, header.value);
            if memchr::memchr3(b'\0', b'\r', b'\n', value).is_some() {
                return Err(RequestError::BadRequest("NUL, CR or LF in a header value"));
            }
            if name.eq_ignore_ascii_case("content-length") {
                facts.content_length_fields += 1;
                facts.content_length = value;
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                facts.transfer_codings.add_field(value);
            } else if name.eq_ignore_ascii_case("host") {
                facts.host_fields += 1;
                facts.host = value;
            } else if name.eq_ignore_ascii_case("connection") {
                facts.connection.add_field(value);
            } else if name.eq_ignore_ascii_case("expect") {
                facts.expectations.add_field(value);
            }
        }
        Ok(facts)
    }

    /// HTTP/1.1 requires exactly one `Host`; HTTP/1.0 allows at most one.
    fn check_host(&self, version: Version) -> Result<(), RequestError> {
        match self.host_fields {
            0 if version == Version::Http11 => Err(RequestError::BadRequest("missing Host header")),
            0 => Ok(()),
            1 if is_valid_host(self.host) => Ok(()),
            1 => Err(RequestError::BadRequest("invalid Host header")),
            _ => Err(RequestError::BadRequest("more than one Host header")),
        }
    }

    /// Decides the body framing (RFC 9112 §6.3), refusing every ambiguity.
    fn framing(&self, version: Version, limits: &Limits) -> Result<BodyFraming, RequestError> {
        if self.transfer_codings.present {
            if version == Version::Http10 {
                return Err(RequestError::BadRequest(
                    "Transfer-Encoding in an HTTP/1.0 request",
                ));
            }
            if self.content_length_fields > 0 {
                return Err(RequestError::BadRequest(
                    "both Content-Length and Transfer-Encoding",
                ));
            }
            return self.transfer_codings.framing();
        }
        match self.content_length_fields {
            0 => Ok(BodyFraming::None),
            1 => {
                let length = parse_content_length(self.content_length)?;
                if length > limits.max_body_bytes {
                    return Err(RequestError::BodyTooLarge(length));
                }
                Ok(BodyFraming::Length(length))
            }
            _ => Err(RequestError::BadRequest("more than one Content-Length")),
        }
    }
}

/// Parses a `Content-Length` value: one or more ASCII digits, nothing else.
fn parse_content_length(value: &[u8]) -> Result<u64, RequestError> {
    const INVALID: RequestError = RequestError::BadRequest("invalid Content-Length");
    if value.is_empty() {
        return Err(INVALID);
    }
    value.iter().try_fold(0u64, |length, &byte| {
        if !byte.is_ascii_digit() {
            return Err(INVALID);
        }
        length
            .checked_mul(10)
            .and_then(|length| length.checked_add(u64::from(byte - b'0')))
            .ok_or(INVALID)
    })
}

/// The transfer codings of all `Transfer-Encoding` fields, in order.
#[derive(Default)]
struct TransferCodings {
    present: bool,
    codings: usize,
    chunked_codings: usize,
    last_is_chunked: bool,
}

impl TransferCodings {
    fn add_field(&mut self, value: &[u8]) {
        self.present = true;
        for coding in list_elements(value) {
            let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.codings += 1;
            self.chunked_codings += usize::from(is_chunked);
            self.last_is_chunked = is_chunked;
        }
    }

    fn framing(&self) -> Result<BodyFraming, RequestError> {
        if self.codings == 0 {
            return Err(RequestError::BadRequest("empty Transfer-Encoding"));
        }
        if self.chunked_codings > 1 {
            return Err(RequestError::BadRequest("chunked applied more than once"));
        }
        if self.chunked_codings == 1 && !self.last_is_chunked {
            return Err(RequestError::BadRequest(
                "chunked is not the final transfer coding",
            ));
        }
        if self.codings > self.chunked_codings {
            return Err(RequestError::UnsupportedTransferCoding);
        }
        Ok(BodyFraming::Chunked)
    }
}

/// The connection options of all `Connection` fields.
#[derive(Default)]
struct ConnectionOptions {
    close: bool,
    keep_alive: bool,
}

impl ConnectionOptions {
    fn add_field(&mut self, value: &[u8]) {
        for option in list_elements(value) {
            if option.eq_ignore_ascii_case(b"close") {
                self.close = true;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                self.keep_alive = true;
            }
        }
    }

    /// HTTP/1.1 is persistent unless `close`; HTTP/1.0 only with `keep-alive`.
    fn keep_alive(&self, version: Version) -> bool {
        match version {
            Version::Http11 | Version::Http2 => !self.close,
            Version::Http10 => self.keep_alive && !self.close,
        }
    }
}

/// The expectations of all `Expect` fields.
#[derive(Default)]
struct Expectations {
    continue_100: bool,
    unsupported: bool,
}

impl Expectations {
    fn add_field(&mut self, value: &[u8]) {
        for expectation in list_elements(value) {
            if expectation.eq_ignore_ascii_case(b"100-continue") {
                self.continue_100 = true;
            } else {
                self.unsupported = true;
            }
        }
    }

    /// Whether to answer `100 Continue`. HTTP/1.0 clients cannot expect it
    /// (RFC 9110 §10.1.1), and without a body there is nothing to wait for.
    fn wants_continue(&self, version: Version, framing: BodyFraming) -> Result<bool, RequestError> {
        if self.unsupported {
            return Err(RequestError::ExpectationFailed);
        }
        Ok(self.continue_100 && version == Version::Http11 && framing.has_body())
    }
}

/// The non-empty elements of a comma-separated header list, without
/// surrounding whitespace.
fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&byte| byte == b',')
        .map(trim_whitespace)
        .filter(|element| !element.is_empty())
}

fn trim_whitespace(bytes: &[u8]) -> &[u8] {
    let is_whitespace = |byte: &u8| matches!(byte, b' ' | b'\t');
    let start = bytes
        .iter()
        .position(|byte| !is_whitespace(byte))
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|byte| !is_whitespace(byte))
        .map_or(start, |last| last + 1);
    &bytes[start..end]
}

/// How to treat a version that httparse rejected.
#[derive(Debug, PartialEq, Eq)]
enum RejectedVersion {
    /// The line is unfinished and may still become a valid version.
    Incomplete,
    /// A well-formed `HTTP/x.y` other than 1.0 and 1.1.
    Unsupported,
    /// Not an HTTP version at all.
    Malformed,
}

/// Looks at the version of the request line that httparse rejected (its
/// method and target were already accepted).
fn classify_rejected_version(window: &[u8]) -> RejectedVersion {
    let (request_line, line_is_complete) = first_line(window);
    let Some(version) = request_line.splitn(3, |&byte| byte == b' ').nth(2) else {
        return RejectedVersion::Malformed;
    };
    let fits_pattern = version.len() <= VERSION_PATTERN.len()
        && version
            .iter()
            .zip(VERSION_PATTERN)
            .all(|(&byte, &expected)| match expected {
                b'0' => byte.is_ascii_digit(),
                _ => byte == expected,
            });
    match (fits_pattern, line_is_complete) {
        (true, false) => RejectedVersion::Incomplete,
        (true, true) if version.len() == VERSION_PATTERN.len() => RejectedVersion::Unsupported,
        _ => RejectedVersion::Malformed,
    }
}

/// `HTTP-version = "HTTP/" DIGIT "." DIGIT`, with `0` standing for any digit.
const VERSION_PATTERN: &[u8; 8] = b"HTTP/0.0";

/// The head without the empty lines that may precede the request line.
fn without_leading_empty_lines(head: &[u8]) -> &[u8] {
    let start = head
        .iter()
        .position(|&byte| byte != b'\r' && byte != b'\n')
        .unwrap_or(head.len());
    &head[start..]
}

/// The request line without CR/LF, and whether its line ending has arrived.
fn first_line(head: &[u8]) -> (&[u8], bool) {
    let head = without_leading_empty_lines(head);
    let (line, complete) = match memchr::memchr(b'\n', head) {
        Some(end) => (&head[..end], true),
        None => (head, false),
    };
    (line.strip_suffix(b"\r").unwrap_or(line), complete)
}

/// The lines after the request line, without CR/LF.
fn header_lines(head: &[u8]) -> impl Iterator<Item = &[u8]> {
    without_leading_empty_lines(head)
        .split(|&byte| byte == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
}

/// Maps an httparse syntax error to a `RequestError` with a helpful reason.
fn syntax_error(error: httparse::Error, window: &[u8]) -> RequestError {
    let reason = match error {
        httparse::Error::TooManyHeaders => return RequestError::TooManyHeaders,
        httparse::Error::HeaderName => header_name_error_reason(window),
        httparse::Error::HeaderValue => "invalid byte in a header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Token => "malformed request line",
        httparse::Error::Version => "malformed HTTP version",
        httparse::Error::Status => "malformed request",
    };
    RequestError::BadRequest(reason)
}

/// Finds the first header line with an invalid name and says what is wrong.
fn header_name_error_reason(window: &[u8]) -> &'static str {
    for line in header_lines(window) {
        if line.is_empty() {
            break;
        }
        if line.starts_with(b" ") || line.starts_with(b"\t") {
            return "obsolete line folding is not allowed";
        }
        let Some(colon) = memchr::memchr(b':', line) else {
            return "header line without a colon";
        };
        let name = &line[..colon];
        let is_token = |name: &[u8]| !name.is_empty() && name.iter().all(|&b| is_token_byte(b));
        if is_token(name) {
            continue;
        }
        return if is_token(trim_whitespace(name)) {
            "whitespace around a header name"
        } else {
            "invalid header name"
        };
    }
    "invalid header name"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Option<(RequestHead, usize)>, RequestError> {
        parse_head(buf, &Limits::default())
    }

    fn parse_complete(buf: &[u8]) -> RequestHead {
        let (head, consumed) = parse(buf).unwrap().expect("complete head");
        assert_eq!(consumed, buf.len());
        head
    }

    fn error_of(buf: &[u8]) -> RequestError {
        parse(buf).expect_err("request must be rejected")
    }

    fn status_of(buf: &[u8]) -> u16 {
        error_of(buf).status()
    }

    /// An HTTP/1.1 request with a Host header and the given extra header lines.
    fn request_with(extra_headers: &str) -> Vec<u8> {
        format!("POST /submit HTTP/1.1\r\nHost: example.com\r\n{extra_headers}\r\n").into_bytes()
    }

    #[test]
    fn parses_a_simple_get() {
        let head = parse_complete(
            b"GET /index.php?a=1&b=%20 HTTP/1.1\r\nHost: example.com\r\nX-Custom:  value \r\n\r\n",
        );
        assert_eq!(head.method, "GET");
        assert_eq!(head.target, "/index.php?a=1&b=%20");
        assert_eq!(head.path, "/index.php");
        assert_eq!(head.query, "a=1&b=%20");
        assert_eq!(head.version, Version::Http11);
        assert_eq!(head.framing, BodyFraming::None);
        assert!(head.keep_alive);
        assert!(!head.expect_continue);
        assert_eq!(head.headers.len(), 2);
        assert_eq!(head.headers[1].name, "X-Custom");
        assert_eq!(head.headers[1].value, b"value");
    }

    #[test]
    fn header_lookup_is_case_insensitive_and_returns_the_first_match() {
        let head = parse_complete(b"GET / HTTP/1.1\r\nhost: h\r\nAccept: a\r\naccept: b\r\n\r\n");
        assert_eq!(head.header("ACCEPT"), Some(&b"a"[..]));
        assert_eq!(head.header("Host"), Some(&b"h"[..]));
        assert_eq!(head.header("missing"), None);
    }

    #[test]
    fn keeps_the_method_and_empty_query() {
        let head = parse_complete(b"PATCH /a/b? HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(head.method, "PATCH");
        assert_eq!(head.path, "/a/b");
        assert_eq!(head.query, "");
        let head = parse_complete(b"GET /a?b?c HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((head.path.as_str(), head.query.as_str()), ("/a", "b?c"));
    }

    #[test]
    fn skips_empty_lines_before_the_request_line() {
        let head = parse_complete(b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!(head.path, "/");
    }

    #[test]
    fn every_strict_prefix_needs_more_bytes() {
        let request = b"POST /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\n";
        for end in 0..request.len() {
            assert_eq!(parse(&request[..end]), Ok(None), "prefix of {end} bytes");
        }
        assert!(parse(request).unwrap().is_some());
    }

    #[test]
    fn consumed_stops_at_the_body() {
        let buf = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
        let (head, consumed) = parse(buf).unwrap().unwrap();
        assert_eq!(head.framing, BodyFraming::Length(5));
        assert_eq!(&buf[consumed..], b"hello");
    }

    #[test]
    fn parses_pipelined_requests_one_after_the_other() {
        let buf = b"GET /first HTTP/1.1\r\nHost: h\r\n\r\nGET /second HTTP/1.1\r\nHost: h\r\n\r\nGET /thi";
        let (first, consumed) = parse(buf).unwrap().unwrap();
        assert_eq!(first.path, "/first");
        let rest = &buf[consumed..];
        let (second, consumed) = parse(rest).unwrap().unwrap();
        assert_eq!(second.path, "/second");
        assert_eq!(parse(&rest[consumed..]), Ok(None));
    }

    #[test]
    fn accepts_bare_lf_line_endings_in_the_head() {
        let head = parse_complete(b"GET / HTTP/1.1\nHost: h\n\n");
        assert_eq!(head.header("host"), Some(&b"h"[..]));
    }

    #[test]
    fn head_size_limit() {
        let limits = Limits {
            max_header_bytes: 64,
            ..Limits::default()
        };
        let fits = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        assert!(parse_head(fits, &limits).unwrap().is_some());

        let padded = |len: usize| {
            let mut request = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
            request.resize(len - 4, b'a');
            request.extend_from_slice(b"\r\n\r\n");
            request
        };
        assert!(parse_head(&padded(64), &limits).unwrap().is_some());
        assert_eq!(
            parse_head(&padded(65), &limits),
            Err(RequestError::HeadersTooLarge)
        );
        // Incomplete and exactly at the limit: wait; one byte more: reject.
        let endless = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 64]].concat();
        assert_eq!(parse_head(&endless[..64], &limits), Ok(None));
        assert_eq!(
            parse_head(&endless[..65], &limits),
            Err(RequestError::HeadersTooLarge)
        );
        assert_eq!(RequestError::HeadersTooLarge.status(), 431);
    }

    #[test]
    fn header_count_limit() {
        let limits = Limits {
            max_headers: 3,
            ..Limits::default()
        };
        let three = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n";
        assert!(parse_head(three, &limits).unwrap().is_some());
        let four = b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        let error = parse_head(four, &limits).unwrap_err();
        assert_eq!(error, RequestError::TooManyHeaders);
        assert_eq!(error.status(), 431);
    }

    #[test]
    fn header_count_limit_above_the_inline_slots() {
        let count = INLINE_HEADER_SLOTS + 10;
        let limits = Limits {
            max_headers: count,
            max_header_bytes: 64 * 1024,
            ..Limits::default()
        };
        let mut request = b"GET / HTTP/1.1\r\nHost: h\r\n".to_vec();
        for index in 1..count {
            request.extend_from_slice(format!("X-{index}: {index}\r\n").as_bytes());
        }
        request.extend_from_slice(b"\r\n");
        let (head, _) = parse_head(&request, &limits).unwrap().unwrap();
        assert_eq!(head.headers.len(), count);

        let mut too_many = request[..request.len() - 2].to_vec();
        too_many.extend_from_slice(b"X-last: 1\r\n\r\n");
        assert_eq!(
            parse_head(&too_many, &limits),
            Err(RequestError::TooManyHeaders)
        );
    }

    #[test]
    fn body_size_limit() {
        let limits = Limits {
            max_body_bytes: 10,
            ..Limits::default()
        };
        let at_limit = request_with("Content-Length: 10\r\n");
        assert!(parse_head(&at_limit, &limits).unwrap().is_some());
        let over = request_with("Content-Length: 11\r\n");
        let error = parse_head(&over, &limits).unwrap_err();
        assert_eq!(error, RequestError::BodyTooLarge(11));
        assert_eq!(error.status(), 413);
    }

    #[test]
    fn versions() {
        let head = parse_complete(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(head.version, Version::Http10);

        assert_eq!(status_of(b"GET / HTTP/2.0\r\nHost: h\r\n\r\n"), 505);
        assert_eq!(status_of(b"GET / HTTP/1.2\r\nHost: h\r\n\r\n"), 505);
        assert_eq!(status_of(b"GET / HTTP/0.9\n\n"), 505);
        assert_eq!(status_of(b"GET / HTTP/2\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / http/1.1\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / HTTP/1.10\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / HTTP/x.1\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET / FTP/1.1\r\n\r\n"), 400);
        assert_eq!(status_of(b"GET /\r\n\r\n"), 400);
    }

    #[test]
    fn unsupported_version_arriving_in_pieces() {
        let request = b"GET / HTTP/2.0\r\n\r\n";
        for end in 0..16 {
            assert_eq!(parse(&request[..end]), Ok(None), "prefix of {end} bytes");
        }
        assert_eq!(
            parse(&request[..16]),
            Err(RequestError::VersionNotSupported)
        );
    }

    #[test]
    fn rejects_content_length_with_transfer_encoding() {
        let request = request_with("Content-Length: 5\r\nTransfer-Encoding: chunked\r\n");
        assert_eq!(status_of(&request), 400);
        let request = request_with("Transfer-Encoding: chunked\r\nContent-Length: 5\r\n");
        assert_eq!(status_of(&request), 400);
    }

    #[test]
    fn rejects_several_content_lengths() {
        for headers in [
            "Content-Length: 5\r\nContent-Length: 5\r\n",
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: 5, 5\r\n",
            "Content-Length: 5,5\r\n",
        ] {
            assert_eq!(status_of(&request_with(headers)), 400, "{headers:?}");
        }
    }

    #[test]
    fn rejects_malformed_content_lengths() {
        for value in [
            "",
            "+5",
            "-1",
            "0x10",
            "1e3",
            "5 5",
            "١٢",
            "18446744073709551616",
            "99999999999999999999999",
        ] {
            let request = request_with(&format!("Content-Length: {value}\r\n"));
            assert_eq!(status_of(&request), 400, "{value:?}");
        }
    }

    #[test]
    fn accepts_well_formed_content_lengths() {
        let limits = Limits {
            max_body_bytes: u64::MAX,
            ..Limits::default()
        };
        for (value, expected) in [
            ("0", 0),
            ("007", 7),
            (" 42 ", 42),
            ("18446744073709551615", u64::MAX),
        ] {
            let request = request_with(&format!("Content-Length:{value}\r\n"));
            let (head, _) = parse_head(&request, &limits).unwrap().unwrap();
            assert_eq!(head.framing, BodyFraming::Length(expected), "{value:?}");
        }
    }

    #[test]
    fn chunked_transfer_encoding() {
        for headers in [
            "Transfer-Encoding: chunked\r\n",
            "Transfer-Encoding: CHUNKED\r\n",
            "Transfer-Encoding: , chunked ,\r\n",
        ] {
            let head = parse_complete(&request_with(headers));
            assert_eq!(head.framing, BodyFraming::Chunked, "{headers:?}");
        }
    }

    #[test]
    fn transfer_coding_lists() {
        for (headers, status) in [
            ("Transfer-Encoding: gzip\r\n", 501),
            ("Transfer-Encoding: gzip, chunked\r\n", 501),
            (
                "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n",
                501,
            ),
            ("Transfer-Encoding: chunked, gzip\r\n", 400),
            ("Transfer-Encoding: chunked, chunked\r\n", 400),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                400,
            ),
            (
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n",
                400,
            ),
            ("Transfer-Encoding: chunked;x=1\r\n", 501),
            ("Transfer-Encoding: chunkedx\r\n", 501),
            ("Transfer-Encoding: \r\n", 400),
            ("Transfer-Encoding: ,\r\n", 400),
        ] {
            assert_eq!(status_of(&request_with(headers)), status, "{headers:?}");
        }
    }

    #[test]
    fn rejects_transfer_encoding_in_http_1_0() {
        let request = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(status_of(request), 400);
    }

    #[test]
    fn rejects_obsolete_line_folding() {
        let request = b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n  b\r\n\r\n";
        assert_eq!(
            error_of(request),
            RequestError::BadRequest("obsolete line folding is not allowed")
        );
        let request = b"GET / HTTP/1.1\r\nHost: h\r\nX-Folded: a\r\n\tb\r\n\r\n";
        assert_eq!(status_of(request), 400);
    }

    #[test]
    fn rejects_whitespace_around_header_names() {
        let request = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\n";
        assert_eq!(
            error_of(request),
            RequestError::BadRequest("whitespace around a header name")
        );
        let request = b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 5\r\n\r\n";
        assert_eq!(status_of(request), 400);
        let request = b"GET / HTTP/1.1\r\nHost: h\r\nBad\"Name: 5\r\n\r\n";
        assert_eq!(
            error_of(request),
            RequestError::BadRequest("invalid header name")
        );
        let request = b"GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n";
        assert_eq!(status_of(request), 400);
    }

    #[test]
    fn rejects_control_bytes_in_header_values() {
        for value in [&b"a\0b"[..], b"a\rb", b"a\r\rb", b"\x01", b"\x7f"] {
            let mut request = b"GET / HTTP/1.1\r\nHost: h\r\nX: ".to_vec();
            request.extend_from_slice(value);
            request.extend_from_slice(b"\r\n\r\n");
            assert_eq!(status_of(&request), 400, "{value:?}");
        }
    }

    #[test]
    fn accepts_obs_text_and_tabs_in_header_values() {
        let head = parse_complete(b"GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\tok\r\n\r\n");
        assert_eq!(head.header("x"), Some(&b"caf\xc3\xa9\tok"[..]));
    }

    #[test]
    fn host_rules() {
        assert_eq!(
            error_of(b"GET / HTTP/1.1\r\n\r\n"),
            RequestError::BadRequest("missing Host header")
        );
        assert_eq!(
            status_of(b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
            400
        );
        assert_eq!(
            status_of(b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"),
            400
        );
        for host in ["a b", "a/b", "a\\b", "user@host", "a\"b", "<x>"] {
            let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            assert_eq!(status_of(request.as_bytes()), 400, "{host:?}");
        }
        for host in [
            "",
            "example.com",
            "example.com:8080",
            "[::1]:80",
            "127.0.0.1",
            "a_b-c",
        ] {
            let request = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
            parse_complete(request.as_bytes());
        }
        let head = parse_complete(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(head.header("host"), None);
    }

    #[test]
    fn asterisk_form_only_for_options() {
        let head = parse_complete(b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n");
        assert_eq!((head.path.as_str(), head.query.as_str()), ("*", ""));
        assert_eq!(status_of(b"GET * HTTP/1.1\r\nHost: h\r\n\r\n"), 400);
    }

    #[test]
    fn absolute_form_targets() {
        for (target, path, query) in [
            ("http://example.com/a/b?c=d", "/a/b", "c=d"),
            ("HTTPS://example.com", "/", ""),
            ("http://example.com:8080?x=1", "/", "x=1"),
            ("http://example.com/", "/", ""),
        ] {
            let request = format!("GET {target} HTTP/1.1\r\nHost: other\r\n\r\n");
            let head = parse_complete(request.as_bytes());
            assert_eq!(head.target, target);
            assert_eq!((head.path.as_str(), head.query.as_str()), (path, query));
        }
    }

    #[test]
    fn rejects_other_target_forms() {
        for target in [
            "example.com:443",
            "index.php",
            "ftp://example.com/x",
            "http:///x",
            "http://user@example.com/x",
            "http:/example.com/x",
        ] {
            let request = format!("GET {target} HTTP/1.1\r\nHost: h\r\n\r\n");
            assert_eq!(status_of(request.as_bytes()), 400, "{target:?}");
        }
        let request = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";
        assert_eq!(status_of(request), 400);
    }

    #[test]
    fn keep_alive_rules() {
        for (request, keep_alive) in [
            (&b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"[..], true),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, CLOSE\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: te\r\nConnection: close\r\n\r\n",
                false,
            ),
            (
                b"GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
                true,
            ),
            (b"GET / HTTP/1.0\r\n\r\n", false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true),
            (
                b"GET / HTTP/1.0\r\nConnection: foo,keep-alive\r\n\r\n",
                true,
            ),
            (
                b"GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
                false,
            ),
        ] {
            let head = parse_complete(request);
            assert_eq!(
                head.keep_alive,
                keep_alive,
                "{}",
                String::from_utf8_lossy(request)
            );
        }
    }

    #[test]
    fn expect_continue() {
        let head = parse_complete(&request_with(
            "Expect: 100-Continue\r\nContent-Length: 4\r\n",
        ));
        assert!(head.expect_continue);
        let head = parse_complete(&request_with(
            "Expect: 100-continue\r\nTransfer-Encoding: chunked\r\n",
        ));
        assert!(head.expect_continue);
        let head = parse_complete(&request_with("Expect: 100-continue\r\n"));
        assert!(!head.expect_continue, "no body, nothing to wait for");
        let head = parse_complete(&request_with(
            "Expect: 100-continue\r\nContent-Length: 0\r\n",
        ));
        assert!(!head.expect_continue);
        let head =
            parse_complete(b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
        assert!(!head.expect_continue, "HTTP/1.0 must be ignored");
    }

    #[test]
    fn unsupported_expectations() {
        for value in ["200-ok", "100-continue, foo", "100-continuex"] {
            let request = request_with(&format!("Expect: {value}\r\nContent-Length: 1\r\n"));
            let error = error_of(&request);
            assert_eq!(error, RequestError::ExpectationFailed, "{value:?}");
            assert_eq!(error.status(), 417);
        }
    }

    #[test]
    fn malformed_request_lines() {
        for request in [
            &b"GET  / HTTP/1.1\r\nHost: h\r\n\r\n"[..],
            b"GET / HTTP/1.1 \r\nHost: h\r\n\r\n",
            b"G(T / HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /\x7f HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET /\xff HTTP/1.1\r\nHost: h\r\n\r\n",
            b"GET / HTTP/1.1\rHost: h\r\n\r\n",
        ] {
            assert_eq!(
                status_of(request),
                400,
                "{}",
                String::from_utf8_lossy(request)
            );
        }
    }

    #[test]
    fn error_statuses() {
        assert_eq!(RequestError::BadRequest("x").status(), 400);
        assert_eq!(RequestError::TooManyHeaders.status(), 431);
        assert_eq!(RequestError::UnsupportedTransferCoding.status(), 501);
        assert_eq!(RequestError::VersionNotSupported.status(), 505);
        assert_eq!(
            RequestError::BadRequest("missing Host header").to_string(),
            "bad request: missing Host header"
        );
    }

    #[test]
    fn body_framing_has_body() {
        assert!(!BodyFraming::None.has_body());
        assert!(!BodyFraming::Length(0).has_body());
        assert!(BodyFraming::Length(1).has_body());
        assert!(BodyFraming::Chunked.has_body());
    }
}
