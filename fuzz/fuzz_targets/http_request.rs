//! HTTP/1.1: request heads with pipelined bodies (Content-Length and chunked), fed in pieces
//! of fuzzer-chosen sizes, as the connection loop feeds them.

#![no_main]

use libfuzzer_sys::fuzz_target;

// The wire format is free of I/O and of the rest of the server, so it is compiled in as is.
#[allow(dead_code, unused_imports)]
#[path = "../../src/http/mod.rs"]
mod http;

use http::body::BodyDecoder;
use http::request::{parse_head, Limits};

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_header_bytes: 4096,
        max_headers: 32,
        max_body_bytes: 1 << 16,
    };
    let mut rest = input;
    // Up to a few pipelined requests.
    for _ in 0..4 {
        let Ok(Some((head, used))) = parse_head(rest, &limits) else {
            return;
        };
        assert!(used <= rest.len());
        rest = &rest[used..];
        let mut decoder = BodyDecoder::new(&head.framing, limits.max_body_bytes);
        let mut body = Vec::new();
        let piece = usize::from(split % 16) + 1;
        while !decoder.is_done() && !rest.is_empty() {
            let chunk = &rest[..piece.min(rest.len())];
            match decoder.decode(chunk, &mut body) {
                Ok(decoded) => {
                    assert!(decoded.consumed <= chunk.len());
                    rest = &rest[decoded.consumed..];
                    if decoded.consumed == 0 && !decoded.done {
                        return;
                    }
                }
                Err(_) => return,
            }
            assert!(body.len() as u64 <= limits.max_body_bytes);
        }
        if !decoder.is_done() {
            return;
        }
    }
});
