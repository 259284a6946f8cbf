//! The HTTP/1.1 wire protocol, free of any I/O.
//!
//! The connection loop owns the socket and hands bytes to this module:
//!
//! * [`request`] parses and validates a request head and decides how its body
//!   is framed and whether the connection may be reused;
//! * [`body`] decodes a request body (`Content-Length` or chunked) from bytes
//!   arriving in arbitrary pieces;
//! * [`response`] serializes status lines, headers, chunks and error pages;
//! * [`date`] provides the cached `Date` header value.

pub mod body;
pub mod date;
pub mod request;
pub mod response;

/// Whether `byte` may appear in an RFC 9110 `token` (header names, methods,
/// transfer codings).
fn is_token_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
        || matches!(
            byte,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::body::BodyDecoder;
    use super::request::{parse_head, BodyFraming, Limits};
    use super::*;

    #[test]
    fn pipelined_requests_with_bodies() {
        let input = b"POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
            3\r\nabc\r\n0\r\n\r\n\
            POST /form HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz\
            GET /last HTTP/1.1\r\nHost: h\r\n\r\n";
        let limits = Limits::default();
        let mut rest = &input[..];
        let mut seen = Vec::new();
        while !rest.is_empty() {
            let (head, head_len) = parse_head(rest, &limits).unwrap().unwrap();
            rest = &rest[head_len..];
            let mut decoder = BodyDecoder::new(&head.framing, limits.max_body_bytes);
            let mut body = Vec::new();
            let decoded = decoder.decode(rest, &mut body).unwrap();
            assert!(decoded.done);
            rest = &rest[decoded.consumed..];
            seen.push((head.path, head.framing, body));
        }
        assert_eq!(
            seen,
            [
                ("/upload".to_owned(), BodyFraming::Chunked, b"abc".to_vec()),
                ("/form".to_owned(), BodyFraming::Length(3), b"xyz".to_vec()),
                ("/last".to_owned(), BodyFraming::None, Vec::new()),
            ]
        );
    }

    #[test]
    fn token_bytes() {
        for byte in b"Content-Type!#$%&'*+-.^_`|~09azAZ" {
            assert!(is_token_byte(*byte), "{}", *byte as char);
        }
        for byte in b" \t:;,\"()/<>=?@[]\\{}\r\n\0\x7f\x80" {
            assert!(!is_token_byte(*byte), "{byte:#x}");
        }
    }
}
