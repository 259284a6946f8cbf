//! Serialization of responses: status line, headers, chunks and error pages.
//!
//! Everything is appended to a caller-owned `Vec<u8>`; apart from that
//! buffer growing, nothing here allocates. The framing headers
//! (`Content-Length`, `Transfer-Encoding`, `Connection`) plus `Date` and
//! `Server` are always written by this module, never copied from the caller,
//! so the body framing the peer sees is the one the connection loop uses.

use super::date;
use super::is_token_byte;
use super::request::Version;

/// The interim response sent before reading a body the client announced with
/// `Expect: 100-continue`.
pub const CONTINUE_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// How the body following a response head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// Exactly this many body bytes follow (`Content-Length`).
    Known(u64),
    /// `Content-Length` announces this many bytes, but none follow: the
    /// response to a HEAD request (or a 304) carrying the length the full
    /// response would have.
    HeadOnly(u64),
    /// A chunked body follows (`Transfer-Encoding: chunked`); write it with
    /// [`write_chunk`] and [`write_last_chunk`]. HTTP/1.1 clients only.
    Chunked,
    /// The body ends when the connection closes. For streaming to HTTP/1.0
    /// clients, which do not understand chunked: the head always says
    /// `Connection: close` and the caller must close after the body.
    CloseDelimited,
    /// No body and no length (1xx, 204, 304 without a length, or HEAD).
    None,
}

/// The `Connection` header a response head carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ConnectionHeader {
    /// None: the HTTP/1.1 default (persistent).
    Omitted,
    /// `Connection: keep-alive`
    KeepAlive,
    /// `Connection: close`
    Close,
}

/// Header names whose values this module always decides itself.
const OWNED_HEADERS: [&str; 5] = [
    "content-length",
    "transfer-encoding",
    "connection",
    "date",
    "server",
];

/// Room for everything `write_head` adds besides the caller's headers.
const FIXED_HEAD_CAPACITY: usize = 160;

/// The standard reason phrase for `status`, or `"Unknown"`.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        418 => "I'm a teapot",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "Unknown",
    }
}

/// Appends a response head to `out`.
///
/// Writes, in order: the status line (always `HTTP/1.1`, which HTTP/1.0
/// clients accept), `Server: ePHPm`, `Date`, the caller's `headers` verbatim,
/// the framing header for `body`, the `Connection` header, and the empty line.
///
/// * Caller headers named `Content-Length`, `Transfer-Encoding`, `Connection`,
///   `Date` or `Server` are skipped: framing and persistence are decided here.
///   A caller that wants to close must pass `keep_alive = false`.
/// * Caller headers with an invalid name or with CR, LF or NUL in the value
///   are dropped, so a header can never split the response.
/// * 1xx and 204 responses never carry framing headers, whatever `body` says.
/// * `keep_alive = false` or [`BodyLength::CloseDelimited`] writes
///   `Connection: close`; a persistent HTTP/1.0 connection gets
///   `Connection: keep-alive`.
/// * [`BodyLength::Chunked`] must not be used for [`Version::Http10`]; use
///   [`BodyLength::CloseDelimited`] or a buffered [`BodyLength::Known`].
pub fn write_head(
    out: &mut Vec<u8>,
    version: Version,
    status: u16,
    headers: &[(&str, &[u8])],
    body: BodyLength,
    keep_alive: bool,
) {
    debug_assert!(
        !(version == Version::Http10 && body == BodyLength::Chunked),
        "HTTP/1.0 clients cannot read a chunked body"
    );
    let connection = match (keep_alive, body, version) {
        (false, _, _) | (_, BodyLength::CloseDelimited, _) => ConnectionHeader::Close,
        (true, _, Version::Http10) => ConnectionHeader::KeepAlive,
        (true, _, Version::Http11 | Version::Http2) => ConnectionHeader::Omitted,
    };
    write_head_with_connection(out, status, headers, body, connection);
}

/// Appends one chunk of a chunked body; does nothing for empty `data`, which
/// would otherwise end the body.
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.reserve(data.len() + 20);
    write_hex(out, data.len() as u64);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, ending a chunked body (without trailers).
pub fn write_last_chunk(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

/// The `Content-Type` of [`error_page`].
pub const ERROR_PAGE_TYPE: &[u8] = b"text/html; charset=utf-8";

/// A small HTML page naming `status`, e.g. `404 Not Found`.
pub fn error_page(status: u16) -> Vec<u8> {
    const PAGE_START: &[u8] = b"<!DOCTYPE html>\n<html><head><title>";
    const PAGE_MIDDLE: &[u8] = b"</title></head><body><h1>";
    const PAGE_END: &[u8] = b"</h1></body></html>\n";

    let reason = reason_phrase(status).as_bytes();
    let title_len = STATUS_DIGITS + 1 + reason.len();
    let mut page =
        Vec::with_capacity(PAGE_START.len() + 2 * title_len + PAGE_MIDDLE.len() + PAGE_END.len());
    page.extend_from_slice(PAGE_START);
    write_title(&mut page, status, reason);
    page.extend_from_slice(PAGE_MIDDLE);
    write_title(&mut page, status, reason);
    page.extend_from_slice(PAGE_END);
    page
}

/// Appends a complete error response: the [`error_page`] for `status`.
///
/// Meant for 4xx and 5xx statuses; for a status that cannot have a body (1xx,
/// 204, 304) only the head is written. When `keep_alive` is true the head says
/// `Connection: keep-alive` explicitly, which HTTP/1.1 clients ignore and
/// HTTP/1.0 clients need; otherwise `Connection: close`. The page is always
/// included, so this is not suitable as a response to HEAD.
pub fn error_response(out: &mut Vec<u8>, status: u16, keep_alive: bool) {
    let connection = if keep_alive {
        ConnectionHeader::KeepAlive
    } else {
        ConnectionHeader::Close
    };
    if !status_allows_body(status) {
        write_head_with_connection(out, status, &[], BodyLength::None, connection);
        return;
    }
    let page = error_page(status);
    write_head_with_connection(
        out,
        status,
        &[("Content-Type", ERROR_PAGE_TYPE)],
        BodyLength::Known(page.len() as u64),
        connection,
    );
    out.extend_from_slice(&page);
}

/// Digits of a status code written by `write_status_code`.
const STATUS_DIGITS: usize = 3;

/// `404 Not Found`
fn write_title(out: &mut Vec<u8>, status: u16, reason: &[u8]) {
    write_status_code(out, status);
    out.push(b' ');
    out.extend_from_slice(reason);
}

fn write_head_with_connection(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &[u8])],
    body: BodyLength,
    connection: ConnectionHeader,
) {
    let headers_len: usize = headers
        .iter()
        .map(|(name, value)| name.len() + value.len() + 4)
        .sum();
    out.reserve(FIXED_HEAD_CAPACITY + headers_len);

    write_status_line(out, status);
    out.extend_from_slice(b"Server: ePHPm\r\nDate: ");
    date::with_http_date(|date| out.extend_from_slice(date));
    out.extend_from_slice(b"\r\n");
    for &(name, value) in headers {
        if is_owned_header(name) || !is_safe_header(name, value) {
            continue;
        }
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    let body = if status_allows_framing(status) {
        body
    } else {
        BodyLength::None
    };
    write_framing(out, body);
    out.extend_from_slice(match connection {
        ConnectionHeader::Omitted => b"",
        ConnectionHeader::KeepAlive => b"Connection: keep-alive\r\n",
        ConnectionHeader::Close => b"Connection: close\r\n",
    });
    out.extend_from_slice(b"\r\n");
}

/// `HTTP/1.1 404 Not Found\r\n`
fn write_status_line(out: &mut Vec<u8>, status: u16) {
    if status == 200 {
        out.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
        return;
    }
    out.extend_from_slice(b"HTTP/1.1 ");
    write_title(out, status, reason_phrase(status).as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn write_framing(out: &mut Vec<u8>, body: BodyLength) {
    match body {
        BodyLength::Known(length) | BodyLength::HeadOnly(length) => {
            out.extend_from_slice(b"Content-Length: ");
            write_decimal(out, length);
            out.extend_from_slice(b"\r\n");
        }
        BodyLength::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        BodyLength::CloseDelimited | BodyLength::None => {}
    }
}

/// 1xx and 204 responses must not carry `Content-Length` or
/// `Transfer-Encoding` (RFC 9110 §8.6, RFC 9112 §6.1).
fn status_allows_framing(status: u16) -> bool {
    status >= 200 && status != 204
}

/// 1xx, 204 and 304 responses never have a body.
/// Whether a response with `status` may carry a body (not 1xx, 204 or 304).
pub fn status_allows_body(status: u16) -> bool {
    status_allows_framing(status) && status != 304
}

fn is_owned_header(name: &str) -> bool {
    OWNED_HEADERS
        .iter()
        .any(|owned| name.eq_ignore_ascii_case(owned))
}

/// A non-empty token name and a value that cannot end the header line.
fn is_safe_header(name: &str, value: &[u8]) -> bool {
    !name.is_empty()
        && name.bytes().all(is_token_byte)
        && memchr::memchr3(b'\r', b'\n', b'\0', value).is_none()
}

/// A status code as exactly three digits (codes outside 100..=999 are not
/// valid HTTP and are clamped).
fn write_status_code(out: &mut Vec<u8>, status: u16) {
    let status = status.clamp(100, 999);
    let digits = [
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ];
    out.extend_from_slice(&digits);
}

fn write_decimal(out: &mut Vec<u8>, mut value: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

fn write_hex(out: &mut Vec<u8>, mut value: u64) {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut digits = [0u8; 16];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = HEX_DIGITS[(value & 0xf) as usize];
        value >>= 4;
        if value == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::BodyDecoder;
    use crate::http::request::BodyFraming;

    /// A response parsed back with httparse.
    struct Parsed {
        status: u16,
        reason: String,
        headers: Vec<(String, Vec<u8>)>,
        body: Vec<u8>,
    }

    impl Parsed {
        fn header(&self, name: &str) -> Option<&[u8]> {
            self.headers
                .iter()
                .find(|(header, _)| header.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_slice())
        }

        fn count(&self, name: &str) -> usize {
            self.headers
                .iter()
                .filter(|(header, _)| header.eq_ignore_ascii_case(name))
                .count()
        }
    }

    fn parse(bytes: &[u8]) -> Parsed {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut headers);
        let httparse::Status::Complete(head_len) = response.parse(bytes).unwrap() else {
            panic!("incomplete response head");
        };
        assert_eq!(response.version, Some(1));
        Parsed {
            status: response.code.unwrap(),
            reason: response.reason.unwrap().to_owned(),
            headers: response
                .headers
                .iter()
                .map(|header| (header.name.to_owned(), header.value.to_vec()))
                .collect(),
            body: bytes[head_len..].to_vec(),
        }
    }

    fn head(
        version: Version,
        status: u16,
        headers: &[(&str, &[u8])],
        body: BodyLength,
        keep_alive: bool,
    ) -> Parsed {
        let mut out = Vec::new();
        write_head(&mut out, version, status, headers, body, keep_alive);
        assert!(out.ends_with(b"\r\n\r\n"));
        let parsed = parse(&out);
        assert!(parsed.body.is_empty());
        parsed
    }

    #[test]
    fn writes_status_server_date_and_headers_in_order() {
        let headers: [(&str, &[u8]); 2] = [("Content-Type", b"text/plain"), ("X-A", b"1")];
        let mut out = Vec::new();
        write_head(
            &mut out,
            Version::Http11,
            200,
            &headers,
            BodyLength::Known(5),
            true,
        );
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(
            text.starts_with("HTTP/1.1 200 OK\r\nServer: ePHPm\r\nDate: "),
            "{text}"
        );
        assert!(
            text.ends_with(
                "GMT\r\nContent-Type: text/plain\r\nX-A: 1\r\nContent-Length: 5\r\n\r\n"
            ),
            "{text}"
        );

        let parsed = parse(&out);
        let date = std::str::from_utf8(parsed.header("date").unwrap()).unwrap();
        assert!(httpdate::parse_http_date(date).is_ok());
    }

    #[test]
    fn status_lines() {
        for (status, reason) in [
            (404, "Not Found"),
            (201, "Created"),
            (599, "Unknown"),
            (413, "Content Too Large"),
        ] {
            let parsed = head(Version::Http11, status, &[], BodyLength::Known(0), true);
            assert_eq!((parsed.status, parsed.reason.as_str()), (status, reason));
        }
    }

    #[test]
    fn reason_phrases() {
        assert_eq!(reason_phrase(200), "OK");
        assert_eq!(reason_phrase(304), "Not Modified");
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(503), "Service Unavailable");
        assert_eq!(reason_phrase(999), "Unknown");
        for status in 100..600 {
            assert!(!reason_phrase(status).is_empty());
        }
    }

    #[test]
    fn framing_headers_of_the_caller_are_replaced() {
        let headers: [(&str, &[u8]); 6] = [
            ("content-length", b"999"),
            ("Transfer-Encoding", b"gzip"),
            ("CONNECTION", b"upgrade"),
            ("Date", b"yesterday"),
            ("Server", b"Apache"),
            ("X-Powered-By", b"PHP"),
        ];
        let parsed = head(Version::Http11, 200, &headers, BodyLength::Known(3), true);
        assert_eq!(parsed.header("content-length"), Some(&b"3"[..]));
        assert_eq!(parsed.count("content-length"), 1);
        assert_eq!(parsed.count("transfer-encoding"), 0);
        assert_eq!(parsed.count("connection"), 0);
        assert_eq!(parsed.header("server"), Some(&b"ePHPm"[..]));
        assert_eq!(parsed.count("date"), 1);
        assert_ne!(parsed.header("date"), Some(&b"yesterday"[..]));
        assert_eq!(parsed.header("x-powered-by"), Some(&b"PHP"[..]));
    }

    #[test]
    fn unsafe_caller_headers_are_dropped() {
        let headers: [(&str, &[u8]); 6] = [
            ("X-Split", b"a\r\nSet-Cookie: evil=1"),
            ("X-Lf", b"a\nb"),
            ("X-Nul", b"a\0b"),
            ("Bad Name", b"v"),
            ("", b"v"),
            ("X-Ok", b"caf\xc3\xa9\tok"),
        ];
        let mut out = Vec::new();
        write_head(
            &mut out,
            Version::Http11,
            200,
            &headers,
            BodyLength::Known(0),
            true,
        );
        let parsed = parse(&out);
        assert_eq!(
            parsed.headers.len(),
            4,
            "Server, Date, X-Ok, Content-Length"
        );
        assert_eq!(parsed.header("x-ok"), Some(&b"caf\xc3\xa9\tok"[..]));
        assert_eq!(parsed.count("set-cookie"), 0);
    }

    #[test]
    fn body_lengths() {
        let parsed = head(Version::Http11, 200, &[], BodyLength::HeadOnly(1234), true);
        assert_eq!(parsed.header("content-length"), Some(&b"1234"[..]));

        let parsed = head(Version::Http11, 200, &[], BodyLength::Known(u64::MAX), true);
        assert_eq!(
            parsed.header("content-length"),
            Some(u64::MAX.to_string().as_bytes())
        );

        let parsed = head(Version::Http11, 200, &[], BodyLength::Chunked, true);
        assert_eq!(parsed.header("transfer-encoding"), Some(&b"chunked"[..]));
        assert_eq!(parsed.count("content-length"), 0);

        let parsed = head(Version::Http11, 304, &[], BodyLength::None, true);
        assert_eq!(
            parsed.count("content-length") + parsed.count("transfer-encoding"),
            0
        );
        assert_eq!(parsed.count("connection"), 0);
    }

    #[test]
    fn close_delimited_bodies_close_the_connection() {
        for version in [Version::Http10, Version::Http11] {
            let parsed = head(version, 200, &[], BodyLength::CloseDelimited, true);
            assert_eq!(parsed.header("connection"), Some(&b"close"[..]));
            assert_eq!(
                parsed.count("content-length") + parsed.count("transfer-encoding"),
                0
            );
        }
    }

    #[test]
    fn no_framing_for_informational_and_no_content() {
        for status in [101, 204] {
            let parsed = head(Version::Http11, status, &[], BodyLength::Known(10), true);
            assert_eq!(parsed.count("content-length"), 0, "{status}");
            let parsed = head(Version::Http11, status, &[], BodyLength::Chunked, true);
            assert_eq!(parsed.count("transfer-encoding"), 0, "{status}");
        }
    }

    #[test]
    fn connection_header() {
        for (version, keep_alive, expected) in [
            (Version::Http11, true, None),
            (Version::Http11, false, Some(&b"close"[..])),
            (Version::Http10, true, Some(&b"keep-alive"[..])),
            (Version::Http10, false, Some(&b"close"[..])),
        ] {
            let parsed = head(version, 200, &[], BodyLength::Known(0), keep_alive);
            assert_eq!(
                parsed.header("connection"),
                expected,
                "{version:?} {keep_alive}"
            );
            assert_eq!(parsed.count("connection"), usize::from(expected.is_some()));
        }
    }

    #[test]
    fn chunks() {
        let mut out = Vec::new();
        write_chunk(&mut out, b"");
        assert!(out.is_empty());
        write_chunk(&mut out, b"hello");
        write_chunk(&mut out, &[b'x'; 26]);
        write_chunk(&mut out, &[b'y'; 4096]);
        write_last_chunk(&mut out);
        assert!(out.starts_with(b"5\r\nhello\r\n1a\r\nxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n1000\r\n"));
        assert!(out.ends_with(b"y\r\n0\r\n\r\n"));

        let mut decoder = BodyDecoder::new(&BodyFraming::Chunked, u64::MAX);
        let mut body = Vec::new();
        let decoded = decoder.decode(&out, &mut body).unwrap();
        assert!(decoded.done);
        assert_eq!(decoded.consumed, out.len());
        assert_eq!(body.len(), 5 + 26 + 4096);
    }

    #[test]
    fn number_formatting() {
        for value in [0, 1, 9, 10, 255, 4096, 1 << 40, u64::MAX] {
            let mut out = Vec::new();
            write_decimal(&mut out, value);
            assert_eq!(out, value.to_string().as_bytes());
            out.clear();
            write_hex(&mut out, value);
            assert_eq!(out, format!("{value:x}").as_bytes());
        }
        let mut out = Vec::new();
        write_status_code(&mut out, 42);
        write_status_code(&mut out, 1234);
        assert_eq!(out, b"100999");
    }

    #[test]
    fn error_pages() {
        for (status, title) in [
            (404, "404 Not Found"),
            (400, "400 Bad Request"),
            (503, "503 Service Unavailable"),
            (431, "431 Request Header Fields Too Large"),
        ] {
            let mut out = Vec::new();
            error_response(&mut out, status, false);
            let parsed = parse(&out);
            assert_eq!(parsed.status, status);
            assert_eq!(
                parsed.header("content-type"),
                Some(&b"text/html; charset=utf-8"[..])
            );
            let length: usize = std::str::from_utf8(parsed.header("content-length").unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(length, parsed.body.len());
            let page = String::from_utf8(parsed.body.clone()).unwrap();
            assert!(page.contains(&format!("<title>{title}</title>")), "{page}");
            assert!(page.contains(&format!("<h1>{title}</h1>")), "{page}");
            assert_eq!(parsed.header("connection"), Some(&b"close"[..]));
        }
    }

    #[test]
    fn error_pages_on_persistent_connections_say_keep_alive() {
        let mut out = Vec::new();
        error_response(&mut out, 404, true);
        assert_eq!(parse(&out).header("connection"), Some(&b"keep-alive"[..]));
    }

    #[test]
    fn error_response_for_bodyless_statuses_writes_only_the_head() {
        let mut out = Vec::new();
        error_response(&mut out, 304, true);
        let parsed = parse(&out);
        assert!(parsed.body.is_empty());
        assert_eq!(parsed.count("content-length"), 0);
    }

    #[test]
    fn continue_response() {
        let parsed = parse(CONTINUE_100);
        assert_eq!((parsed.status, parsed.reason.as_str()), (100, "Continue"));
        assert!(parsed.headers.is_empty());
    }

    #[test]
    fn appends_to_existing_output() {
        let mut out = b"previous".to_vec();
        write_head(
            &mut out,
            Version::Http11,
            200,
            &[],
            BodyLength::Known(0),
            true,
        );
        assert!(out.starts_with(b"previousHTTP/1.1 200 OK\r\n"));
    }
}
