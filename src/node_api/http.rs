//! One HTTP/1.1 exchange: read a request head, check the bearer token, answer, close.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::routes::{self, Context, Response};

/// Largest request head accepted.
const MAX_HEAD: usize = 16 * 1024;
/// Headers accepted at most.
const MAX_HEADERS: usize = 32;
/// Time a client gets to send its whole request head (a total, not per read), and the most a
/// write of the answer may stall.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a refused client gets to take its 503.
const REFUSE_TIMEOUT: Duration = Duration::from_secs(1);

/// A parsed request: what routing and authentication need.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Request {
    /// `GET`, `HEAD`, ...
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The `Authorization` header, if any.
    pub authorization: Option<String>,
}

/// Serves one request on `stream` and closes it.
pub(super) fn serve_one(mut stream: TcpStream, context: &Context) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let response = match read_request(&mut stream) {
        Ok(request) => routes::answer(context, &request),
        Err(response) => response,
    };
    if let Err(err) = write_response(&mut stream, &response) {
        log::debug!("node API: writing the response: {err}");
    }
}

/// Answers 503 to a connection over `node_api.max_connections` and closes it.
pub(super) fn refuse(mut stream: TcpStream) {
    let _ = stream.set_write_timeout(Some(REFUSE_TIMEOUT));
    let response = Response::error(503, "too many connections");
    let _ = write_response(&mut stream, &response);
}

/// Reads until the end of the request head and parses it; a bad request becomes its error
/// response. The whole head must arrive within [`IO_TIMEOUT`], however it is dripped.
fn read_request(stream: &mut TcpStream) -> Result<Request, Response> {
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    loop {
        if let Some(request) = parse_head(&head)? {
            return Ok(request);
        }
        if head.len() >= MAX_HEAD {
            return Err(Response::error(431, "request head too large"));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return Err(Response::error(408, "request timeout"));
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Err(Response::error(400, "incomplete request")),
            Ok(read) => head.extend_from_slice(&chunk[..read]),
        }
    }
}

/// The request in `head`, `None` if more bytes are needed.
pub(super) fn parse_head(head: &[u8]) -> Result<Option<Request>, Response> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Partial) => Ok(None),
        Ok(httparse::Status::Complete(_)) => {
            let target = request.path.unwrap_or("/");
            let path = target.split('?').next().unwrap_or("/").to_owned();
            let authorization = request
                .headers
                .iter()
                .find(|header| header.name.eq_ignore_ascii_case("authorization"))
                .and_then(|header| std::str::from_utf8(header.value).ok())
                .map(str::to_owned);
            Ok(Some(Request {
                method: request.method.unwrap_or("GET").to_owned(),
                path,
                authorization,
            }))
        }
        Err(err) => Err(Response::error(400, &format!("malformed request: {err}"))),
    }
}

fn write_response(stream: &mut TcpStream, response: &Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\
         Cache-Control: no-store\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len()
    );
    if response.status == 401 {
        head.push_str("WWW-Authenticate: Bearer realm=\"ephpm\"\r\n");
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes())?;
    if !response.head_only {
        stream.write_all(&response.body)?;
    }
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Internal Server Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_path_and_authorization() {
        let head = b"GET /api/db/pool?x=1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer s3\r\n\r\n";
        let request = parse_head(head).unwrap().unwrap();
        assert_eq!(request.path, "/api/db/pool");
        assert_eq!(request.authorization.as_deref(), Some("Bearer s3"));
        assert_eq!(parse_head(b"GET / HTTP/1.1\r\n").unwrap(), None);
        assert_eq!(
            parse_head(b"\x01\x02 nonsense\r\n\r\n").unwrap_err().status,
            400
        );
    }
}
