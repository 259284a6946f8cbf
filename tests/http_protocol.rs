//! HTTP/1.1 at the wire level: persistent connections, pipelining, request and response framing,
//! interim responses, limits, timeouts and request-smuggling defences.

mod common;

use std::io::{Read, Write};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{get_request, read_until_close, RawClient, Server, ServerOptions};

#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    let server = Server::start_default();
    let mut client = RawClient::connect(&server);

    client.send(&get_request("/hello.php"));
    let first = client.receive();
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), "Hello from PHP");
    assert!(
        !first.closes(),
        "first response asks to close: {:?}",
        first.headers
    );

    client.send(&get_request("/robots.txt"));
    let second = client.receive();
    assert_eq!(second.status, 200);
    assert!(second.text().starts_with("User-agent"), "{}", second.text());
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = Server::start_default();
    let mut client = RawClient::connect(&server);
    let mut batch = Vec::new();
    batch.extend(get_request("/sleep.php?ms=300"));
    batch.extend(get_request("/robots.txt"));
    batch.extend(get_request("/index.php?third"));
    client.send(&batch);

    let first = client.receive();
    let second = client.receive();
    let third = client.receive();
    assert_eq!((first.status, second.status, third.status), (200, 200, 200));
    assert_eq!(first.text(), "slept 300ms");
    assert!(second.text().starts_with("User-agent"), "{}", second.text());
    assert!(
        third.text().contains("QUERY_STRING=third"),
        "third response is not the third request's: {:?}",
        third.text()
    );
}

#[test]
fn chunked_request_body_reaches_php_input() {
    let server = Server::start_default();
    let mut client = RawClient::connect(&server);
    client.send(
        b"POST /input.php HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n\
          Transfer-Encoding: chunked\r\n\r\n\
          5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nchunks\r\n0\r\nX-Trailer: t\r\n\r\n",
    );
    let response = client.receive();
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(
        response.text(),
        "length=12\nmd5=cb254fbb1dded747a367897fe5563ce0\nbody=hello chunks"
    );
}

#[test]
fn streamed_response_delivers_the_first_piece_before_the_script_ends() {
    let server = Server::start_default();
    let mut stream = server.connect();
    stream
        .write_all(b"GET /stream.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let mut first_piece_at = None;
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream
            .read(&mut buffer)
            .expect("reading the streamed response");
        if read == 0 {
            break;
        }
        received.extend_from_slice(&buffer[..read]);
        let text = String::from_utf8_lossy(&received);
        if first_piece_at.is_none() && text.contains("first piece") {
            first_piece_at = Some(started.elapsed());
        }
        if text.contains("second piece") {
            break;
        }
    }
    let total = started.elapsed();
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text.contains("second piece"), "{text}");
    let first = first_piece_at.expect("the first piece never arrived");
    assert!(
        total >= Duration::from_millis(900),
        "script ended too early: {total:?}"
    );
    assert!(
        first < Duration::from_millis(700) && total - first >= Duration::from_millis(500),
        "first piece at {first:?}, whole response at {total:?}: the response was buffered"
    );
}

#[test]
fn head_has_headers_but_no_body() {
    let server = Server::start_default();
    let mut client = RawClient::connect(&server);

    let get_length = {
        client.send(&get_request("/assets/lorem.txt"));
        client.receive().body.len()
    };
    client.send(b"HEAD /assets/lorem.txt HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let head = client.receive_head();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(get_length.to_string().as_str())
    );
    assert!(head
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/plain")));
    assert!(head.header("last-modified").is_some());

    client.send(b"HEAD /hello.php HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let php_head = client.receive_head();
    assert_eq!(php_head.status, 200);
    assert!(
        php_head.header("content-type").is_some(),
        "{:?}",
        php_head.headers
    );

    // Had either HEAD response carried a body, this response would be misread.
    client.send(&get_request("/hello.php"));
    let after = client.receive();
    assert_eq!(after.status, 200);
    assert_eq!(after.text(), "Hello from PHP");
}

#[test]
fn expect_100_continue_is_answered_before_the_body() {
    let server = Server::start_default();
    let mut client = RawClient::connect(&server);
    client.send(
        b"POST /input.php HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\n\
          Content-Length: 11\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = client.receive();
    assert_eq!(
        interim.status, 100,
        "expected 100 Continue first: {interim:?}"
    );
    client.send(b"hello world");
    let response = client.receive();
    assert_eq!(response.status, 200);
    assert!(
        response.text().ends_with("body=hello world"),
        "{}",
        response.text()
    );
}

#[test]
fn responses_carry_date_and_server_headers() {
    let server = Server::start_default();
    for path in ["/hello.php", "/robots.txt", "/missing-static.png"] {
        let response = server.get(path);
        let date = response
            .header("date")
            .unwrap_or_else(|| panic!("no Date for {path}"));
        assert!(
            is_imf_fixdate(date),
            "Date for {path} is not an IMF-fixdate: {date:?}"
        );
        let server_header = response
            .header("server")
            .unwrap_or_else(|| panic!("no Server for {path}"));
        assert!(
            server_header.to_ascii_lowercase().starts_with("ephpm"),
            "Server for {path}: {server_header:?}"
        );
    }
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`, and within a minute of now according to `date`.
fn is_imf_fixdate(value: &str) -> bool {
    let shape_ok = value.len() == 29
        && value.ends_with(" GMT")
        && value.as_bytes()[3] == b','
        && ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"].contains(&&value[..3]);
    if !shape_ok {
        return false;
    }
    let output = Command::new("date")
        .args(["-u", "-d", value, "+%s"])
        .output()
        .expect("running date");
    let Ok(seconds) = String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse::<u64>()
    else {
        return false;
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    now.abs_diff(seconds) < 60
}

#[test]
fn oversized_header_gets_431() {
    let server = Server::start_default();
    let big = "a".repeat(64 * 1024);
    let request = format!("GET /hello.php HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n");
    let exchange = server.raw_exchange(request.as_bytes(), Duration::from_secs(10));
    let responses = exchange.responses();
    assert_eq!(
        responses.first().map(|r| r.status),
        Some(431),
        "{}",
        exchange.text()
    );
    assert!(exchange.closed, "connection left open after 431");
}

#[test]
fn body_over_max_body_size_gets_413() {
    let server = Server::start(ServerOptions::default().env("EPHPM_SERVER__MAX_BODY_SIZE", "1M"));

    // Declared length: refused from the head alone, without waiting for the body.
    let exchange = server.raw_exchange(
        b"POST /input.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000000\r\n\r\n",
        Duration::from_secs(5),
    );
    let responses = exchange.responses();
    assert_eq!(
        responses.first().map(|r| r.status),
        Some(413),
        "{}",
        exchange.text()
    );

    // Chunked: refused once the chunks add up to more than the limit.
    let mut request =
        b"POST /input.php HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    let chunk = vec![b'z'; 64 * 1024];
    for _ in 0..20 {
        request.extend(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend(&chunk);
        request.extend(b"\r\n");
    }
    request.extend(b"0\r\n\r\n");
    let exchange = server.raw_exchange(&request, Duration::from_secs(10));
    let responses = exchange.responses();
    assert_eq!(
        responses.first().map(|r| r.status),
        Some(413),
        "{}",
        exchange.text()
    );

    // A body within the limit still works.
    let response = server.curl("/input.php", &["--data-binary", "small body"]);
    assert_eq!(response.status, 200);
    assert!(response.text().ends_with("body=small body"));
}

#[test]
fn fifty_megabyte_upload_reaches_files_intact() {
    let server = Server::start(ServerOptions::default().env("EPHPM_SERVER__MAX_BODY_SIZE", "64M"));
    let upload = server.dir().join("upload.bin");
    let size = 50 * 1000 * 1000;
    write_pseudo_random_file(&upload, size);
    let expected_md5 = md5sum(&upload);

    let form_field = format!("upload=@{};filename=big.bin", upload.display());
    let response = server.curl("/vars.php", &["-F", "title=big one", "-F", &form_field]);
    assert_eq!(
        response.status,
        200,
        "{} {}",
        response.text(),
        response.curl_stderr
    );
    assert_eq!(response.value("POST[title]").as_deref(), Some("big one"));
    assert_eq!(
        response.value("FILES[upload][name]").as_deref(),
        Some("big.bin")
    );
    assert_eq!(response.value("FILES[upload][error]").as_deref(), Some("0"));
    assert_eq!(
        response.value("FILES[upload][size]"),
        Some(size.to_string())
    );
    assert_eq!(response.value("FILES[upload][md5]"), Some(expected_md5));
    assert_eq!(
        response.value("FILES[upload][uploaded]").as_deref(),
        Some("yes")
    );
}

fn write_pseudo_random_file(path: &std::path::Path, size: usize) {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut data = Vec::with_capacity(size);
    while data.len() < size {
        // xorshift64
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(size);
    std::fs::write(path, data).unwrap();
}

fn md5sum(path: &std::path::Path) -> String {
    let output = Command::new("md5sum")
        .arg(path)
        .output()
        .expect("running md5sum");
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .expect("md5sum printed nothing")
        .to_string()
}

#[test]
fn slow_header_is_cut_off_by_the_header_read_timeout() {
    let server =
        Server::start(ServerOptions::default().env("EPHPM_SERVER__HEADER_READ_TIMEOUT", "2s"));
    let mut stream = server.connect();
    let started = Instant::now();
    stream
        .write_all(b"GET /hello.php HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        .unwrap();
    // Trickle one byte every 300 ms, as a slowloris client does, until the server gives up.
    stream
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buffer = [0u8; 1024];
    let closed_at = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break started.elapsed(),
            // A 408 before closing is fine; keep reading until the close.
            Ok(_) => {}
            Err(err) if common::is_timeout(&err) => {
                if started.elapsed() > Duration::from_secs(10) {
                    panic!("the server kept a slowloris connection open for 10 s");
                }
                let _ = stream.write_all(b"x");
            }
            Err(_) => break started.elapsed(),
        }
    };
    assert!(
        closed_at <= Duration::from_secs(4),
        "closed after {closed_at:?}, timeout is 2 s"
    );
    assert!(
        closed_at >= Duration::from_millis(1500),
        "closed after {closed_at:?}, before the 2 s timeout"
    );
}

/// Sends `request` and asserts a 400 followed by the connection closing.
fn assert_rejected_with_400(server: &Server, what: &str, request: &[u8]) {
    let mut stream = server.connect();
    let _ = stream.write_all(request);
    let exchange = read_until_close(&mut stream, Duration::from_secs(5));
    let responses = exchange.responses();
    assert_eq!(
        responses.first().map(|r| r.status),
        Some(400),
        "{what}: got {:?}",
        exchange.text()
    );
    assert_eq!(
        responses.len(),
        1,
        "{what}: more than one response: {:?}",
        exchange.text()
    );
    assert!(
        exchange.closed,
        "{what}: connection left open after the 400"
    );
}

#[test]
fn request_smuggling_attempts_are_rejected_and_the_connection_closed() {
    let server = Server::start_default();
    // Each request is followed by a second request that a lenient parser would run.
    let smuggled = "GET /hello.php HTTP/1.1\r\nHost: localhost\r\n\r\n";
    let cases = [
        (
            "Content-Length with Transfer-Encoding",
            format!(
                "POST /input.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n\
                 Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n{smuggled}"
            ),
        ),
        (
            "two different Content-Lengths",
            format!(
                "POST /input.php HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\
                 Content-Length: 6\r\n\r\nhello!{smuggled}"
            ),
        ),
        (
            "Transfer-Encoding: chunked, identity",
            format!(
                "POST /input.php HTTP/1.1\r\nHost: localhost\r\n\
                 Transfer-Encoding: chunked, identity\r\n\r\n5\r\nhello\r\n0\r\n\r\n{smuggled}"
            ),
        ),
        (
            "obs-fold",
            format!(
                "GET /hello.php HTTP/1.1\r\nHost: localhost\r\nX-Folded: first\r\n  second\r\n\r\n{smuggled}"
            ),
        ),
        (
            "space before the colon",
            format!(
                "POST /input.php HTTP/1.1\r\nHost: localhost\r\nContent-Length : 5\r\n\r\nhello{smuggled}"
            ),
        ),
    ];
    for (what, request) in cases {
        assert_rejected_with_400(&server, what, request.as_bytes());
    }
    // The server is still fine afterwards.
    assert_eq!(server.get("/hello.php").status, 200);
}

#[test]
fn http11_request_without_host_gets_400() {
    let server = Server::start_default();
    assert_rejected_with_400(&server, "missing Host", b"GET /hello.php HTTP/1.1\r\n\r\n");
}

#[test]
fn http2_version_in_an_http1_request_line_gets_505() {
    let server = Server::start_default();
    let exchange = server.raw_exchange(
        b"GET /hello.php HTTP/2.0\r\nHost: localhost\r\n\r\n",
        Duration::from_secs(5),
    );
    let responses = exchange.responses();
    assert_eq!(
        responses.first().map(|r| r.status),
        Some(505),
        "{}",
        exchange.text()
    );
}
