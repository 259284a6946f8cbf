//! HTTP/2 end to end: curl (`--http2`, `--http2-prior-knowledge`), h2load and `openssl
//! s_client` as clients, plus hand-made frames for the known HTTP/2 attacks.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{https_server, Server, ServerOptions};

/// curl over HTTPS with ALPN h2 offered.
fn h2_https(port: u16, cert: &Path, path: &str, extra: &[&str]) -> common::Response {
    let url = format!("https://localhost:{port}{path}");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let cacert = cert.to_string_lossy();
    let mut args = vec!["--http2", "--cacert", &cacert, "--resolve", &resolve];
    args.extend_from_slice(extra);
    args.push(&url);
    common::curl(&args)
}

/// curl over h2c with prior knowledge.
fn h2c(server: &Server, path: &str, extra: &[&str]) -> common::Response {
    let mut args = vec!["--http2-prior-knowledge"];
    args.extend_from_slice(extra);
    server.curl(path, &args)
}

/// The HTTP version curl used for `args` (which include the URL): "1.1" or "2".
fn curl_http_version(args: &[&str]) -> String {
    let output = Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_version}"])
        .args(args)
        .output()
        .expect("running curl");
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn body_text(response: &common::Response) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

#[test]
fn curl_speaks_h2_over_tls_and_php_sees_https() {
    let (server, port, cert, _dir) = https_server(ServerOptions::default());
    let url = format!("https://localhost:{port}/server.php");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let cacert = cert.to_string_lossy();
    let args = ["--http2", "--cacert", &cacert, "--resolve", &resolve, &url];
    assert_eq!(curl_http_version(&args), "2");
    let response = h2_https(port, &cert, "/server.php", &[]);
    assert_eq!(response.status, 200);
    let vars = body_text(&response);
    for expected in [
        "HTTPS=on",
        "REQUEST_SCHEME=https",
        "SERVER_PROTOCOL=HTTP/2.0",
        &format!("SERVER_PORT={port}"),
        &format!("HTTP_HOST=localhost:{port}"),
    ] {
        assert!(vars.contains(expected), "{expected} missing from {vars}");
    }
    // Clients without h2 still get HTTP/1.1 on the same port.
    let http1 = [
        "--http1.1",
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        &url,
    ];
    assert_eq!(curl_http_version(&http1), "1.1");
    drop(server);
}

#[test]
fn openssl_negotiates_h2_by_alpn() {
    let (_server, port, _cert, _dir) = https_server(ServerOptions::default());
    let output = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", "localhost", "-alpn", "h2,http/1.1"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running openssl s_client");
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        printed.contains("ALPN protocol: h2"),
        "s_client printed: {printed}"
    );
}

#[test]
fn h2c_with_prior_knowledge_and_upgrade_is_ignored() {
    let server = Server::start_default();
    let url = server.url("/hello.php");
    assert_eq!(curl_http_version(&["--http2-prior-knowledge", &url]), "2");
    let response = h2c(&server, "/server.php", &[]);
    assert!(body_text(&response).contains("SERVER_PROTOCOL=HTTP/2.0"));
    assert!(!body_text(&response).contains("HTTPS=on"));
    // `Upgrade: h2c` (curl --http2 on http://) is answered over HTTP/1.1, as nginx does.
    assert_eq!(curl_http_version(&["--http2", &url]), "1.1");
    assert_eq!(server.curl("/hello.php", &["--http2"]).status, 200);
}

#[test]
fn static_files_over_h2_keep_range_conditional_gzip_and_head() {
    let server = Server::start_default();
    let full = h2c(&server, "/assets/lorem.txt", &[]);
    assert_eq!(full.status, 200);
    let length: usize = full
        .header("content-length")
        .and_then(|value| value.parse().ok())
        .expect("a content-length");
    assert_eq!(length, full.body.len());

    let range = h2c(&server, "/assets/lorem.txt", &["-r", "10-19"]);
    assert_eq!(range.status, 206);
    assert_eq!(range.body, full.body[10..20]);

    let etag = full.header("etag").expect("an etag").to_owned();
    let not_modified = h2c(
        &server,
        "/assets/lorem.txt",
        &["-H", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());

    let gzip = h2c(
        &server,
        "/assets/lorem.txt",
        &["-H", "Accept-Encoding: gzip"],
    );
    assert_eq!(gzip.header("content-encoding"), Some("gzip"));
    assert!(gzip.body.len() < full.body.len());

    let head = h2c(&server, "/assets/lorem.txt", &["-I"]);
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("content-length"),
        Some(length.to_string().as_str())
    );

    assert_eq!(
        h2c(&server, "/assets/lorem.txt", &["-X", "POST"]).status,
        405
    );
}

#[test]
fn uploads_over_h2_reach_php_whole_and_big_ones_are_refused() {
    let server = Server::start(
        ServerOptions::default()
            .env("EPHPM_SERVER__MAX_BODY_SIZE", "4M")
            .env("EPHPM_SERVER__BODY_BUFFER_SIZE", "64K"),
    );
    let dir = tempfile::tempdir().expect("a scratch directory");
    // Bigger than the memory buffer: the body goes through a temporary file.
    let upload = dir.path().join("upload.bin");
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&upload, &data).expect("writing the upload");
    let at_file = format!("@{}", upload.display());
    let response = h2c(&server, "/input.php", &["--data-binary", &at_file]);
    assert_eq!(response.status, 200);
    let text = body_text(&response);
    assert!(
        text.starts_with("length=3000000\n"),
        "{}",
        &text[..40.min(text.len())]
    );
    let md5 = Command::new("md5sum")
        .arg(&upload)
        .output()
        .expect("running md5sum");
    let md5 = String::from_utf8_lossy(&md5.stdout);
    let md5 = md5.split_whitespace().next().expect("an md5");
    assert!(text.contains(&format!("md5={md5}")));

    let too_big = dir.path().join("too-big.bin");
    std::fs::write(&too_big, vec![b'x'; 5 << 20]).expect("writing the big upload");
    let at_big = format!("@{}", too_big.display());
    let refused = common::curl_unchecked(&[
        "--http2-prior-knowledge",
        "--data-binary",
        &at_big,
        &server.url("/input.php"),
    ]);
    assert_eq!(refused.status, 413);

    let header = format!("X-Big: {}", "a".repeat(20_000));
    assert_eq!(h2c(&server, "/hello.php", &["-H", &header]).status, 431);
    // The server goes on serving.
    assert_eq!(h2c(&server, "/hello.php", &[]).status, 200);
}

#[test]
fn php_output_streams_over_h2() {
    let (_server, port, cert, _dir) = https_server(ServerOptions::default());
    let url = format!("https://localhost:{port}/stream.php");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let cacert = cert.to_string_lossy();
    let mut child = Command::new("curl")
        .args([
            "-sN",
            "--http2",
            "--cacert",
            &cacert,
            "--resolve",
            &resolve,
            &url,
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running curl");
    let started = Instant::now();
    let mut stdout = child.stdout.take().expect("curl's stdout");
    let mut first = [0u8; 12];
    stdout.read_exact(&mut first).expect("the first piece");
    let first_after = started.elapsed();
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).expect("the rest");
    let all_after = started.elapsed();
    let _ = child.wait();
    assert_eq!(&first, b"first piece\n");
    assert_eq!(rest, "second piece\n");
    // The script sleeps a second between its pieces; the first arrives before that.
    assert!(
        first_after + Duration::from_millis(500) < all_after,
        "first piece after {first_after:?}, all after {all_after:?}"
    );
}

#[test]
fn h2load_runs_many_concurrent_streams_over_few_connections() {
    let (_server, port, _cert, _dir) = https_server(ServerOptions::default().threads(4));
    for path in ["/hello.php", "/assets/lorem.txt"] {
        let output = Command::new("h2load")
            .args(["-n", "600", "-c", "2", "-m", "64"])
            .arg(format!("https://127.0.0.1:{port}{path}"))
            .output()
            .expect("running h2load (apt-get install nghttp2-client)");
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(printed.contains("Application protocol: h2"), "{printed}");
        assert!(
            printed.contains("600 succeeded, 0 failed, 0 errored, 0 timeout"),
            "{printed}"
        );
        assert!(printed.contains("status codes: 600 2xx"), "{printed}");
    }
}

#[test]
fn idle_h2_connections_are_closed_with_goaway() {
    let server =
        Server::start(ServerOptions::default().env("EPHPM_SERVER__KEEP_ALIVE_TIMEOUT", "1s"));
    let mut client = H2Client::connect(&server);
    client.get(1, "/hello.php");
    let started = Instant::now();
    let frames = client.read_frames_until_close(Duration::from_secs(5));
    assert!(
        frames.iter().any(|frame| frame.kind == GOAWAY),
        "no GOAWAY among {frames:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

// ---- attacks -------------------------------------------------------------------------------

/// Rapid reset (CVE-2023-44487): streams opened and cancelled at once, thousands of times.
#[test]
fn rapid_reset_closes_the_connection_and_others_are_served() {
    let server = Server::start_default();
    let mut client = H2Client::connect(&server);
    let mut burst = Vec::new();
    for i in 0..5_000u32 {
        let stream = 2 * i + 1;
        burst.extend(headers_frame(
            stream,
            "/sleep.php?ms=50",
            END_HEADERS | END_STREAM,
        ));
        burst.extend(frame(RST_STREAM, 0, stream, &CANCEL.to_be_bytes()));
    }
    let _ = client.stream.write_all(&burst);
    let frames = client.read_frames_until_close(Duration::from_secs(10));
    assert!(
        frames.iter().any(|frame| frame.kind == GOAWAY),
        "the connection was not closed with GOAWAY"
    );
    assert_eq!(h2c(&server, "/hello.php", &[]).status, 200);
}

/// CONTINUATION flood: a header block that never ends.
#[test]
fn continuation_flood_is_cut_off() {
    let server = Server::start_default();
    let mut client = H2Client::connect(&server);
    let mut first = headers_frame(1, "/hello.php", 0);
    let filler = literal_header("x-filler", &"a".repeat(1000));
    for _ in 0..2_000 {
        first.extend(frame(CONTINUATION, 0, 1, &filler));
    }
    let _ = client.stream.write_all(&first);
    let frames = client.read_frames_until_close(Duration::from_secs(10));
    assert!(client.closed, "the connection stayed open: {frames:?}");
    assert_eq!(h2c(&server, "/hello.php", &[]).status, 200);
}

/// HPACK bomb: one big header in the dynamic table, referenced thousands of times.
#[test]
fn hpack_bomb_is_refused() {
    let server = Server::start_default();
    let mut client = H2Client::connect(&server);
    let mut block = request_block("/hello.php");
    // Literal with incremental indexing, new name: enters the dynamic table as entry 62.
    block.push(0x40);
    block.extend(string_literal("x-bomb"));
    block.extend(string_literal(&"b".repeat(4000)));
    for _ in 0..4000 {
        block.push(0x80 | 62);
    }
    let mut frames_out = Vec::new();
    let mut chunks = block.chunks(16_000).peekable();
    let mut first = true;
    while let Some(chunk) = chunks.next() {
        let flags = if chunks.peek().is_none() {
            END_HEADERS | END_STREAM
        } else {
            0
        };
        let kind = if first { HEADERS } else { CONTINUATION };
        frames_out.extend(frame(kind, flags, 1, chunk));
        first = false;
    }
    let _ = client.stream.write_all(&frames_out);
    let frames = client.read_frames_until_close(Duration::from_secs(5));
    // :status 200 is HPACK static entry 8 (0x88).
    assert!(
        !frames
            .iter()
            .any(|frame| frame.kind == HEADERS && frame.payload.first() == Some(&0x88)),
        "the bomb was answered with 200: {frames:?}"
    );
    let refused = frames
        .iter()
        .any(|frame| matches!(frame.kind, HEADERS | RST_STREAM | GOAWAY));
    assert!(
        refused || client.closed,
        "no answer to the bomb: {frames:?}"
    );
    assert_eq!(h2c(&server, "/hello.php", &[]).status, 200);
}

/// SETTINGS and WINDOW_UPDATE floods from a client that does not read: the server stays within
/// its memory and keeps serving others.
#[test]
fn settings_and_window_update_floods_do_not_stop_the_server() {
    let server = Server::start_default();
    let mut flood = Vec::new();
    for _ in 0..50_000 {
        flood.extend(frame(SETTINGS, 0, 0, &[0, 4, 0, 1, 0, 0]));
        flood.extend(frame(WINDOW_UPDATE, 0, 0, &1u32.to_be_bytes()));
        flood.extend(frame(PING, 0, 0, &[0; 8]));
    }
    let mut client = H2Client::connect(&server);
    client
        .stream
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("a write timeout");
    // The server may stop reading or close: either way the write ends.
    let _ = client.stream.write_all(&flood);
    assert_eq!(h2c(&server, "/hello.php", &[]).status, 200);
    let rss = rss_kib(server.pid());
    assert!(rss < 512 * 1024, "server RSS grew to {rss} KiB");
    // A window pushed past 2^31-1 is a connection error.
    let mut overflow = H2Client::connect(&server);
    let mut updates = Vec::new();
    for _ in 0..3 {
        updates.extend(frame(WINDOW_UPDATE, 0, 0, &0x7fff_ffffu32.to_be_bytes()));
    }
    let _ = overflow.stream.write_all(&updates);
    let frames = overflow.read_frames_until_close(Duration::from_secs(5));
    assert!(
        frames.iter().any(|frame| frame.kind == GOAWAY),
        "{frames:?}"
    );
    assert_eq!(h2c(&server, "/hello.php", &[]).status, 200);
}

/// Garbage after the preface ends the connection, not the server.
#[test]
fn garbage_frames_end_only_their_connection() {
    let server = Server::start_default();
    let mut client = H2Client::connect(&server);
    let _ = client.stream.write_all(&[0xff; 4096]);
    client.read_frames_until_close(Duration::from_secs(5));
    assert!(client.closed);
    assert_eq!(h2c(&server, "/hello.php", &[]).status, 200);
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

// ---- a minimal HTTP/2 client for the attacks ------------------------------------------------

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const WINDOW_UPDATE: u8 = 0x8;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const CANCEL: u32 = 0x8;
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A frame as read back.
#[derive(Debug)]
struct Frame {
    kind: u8,
    #[allow(dead_code)]
    stream: u32,
    payload: Vec<u8>,
}

struct H2Client {
    stream: TcpStream,
    closed: bool,
}

impl H2Client {
    /// Connects over h2c and sends the preface with empty settings.
    fn connect(server: &Server) -> H2Client {
        let mut stream = server.connect();
        let mut hello = PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        stream.write_all(&hello).expect("sending the preface");
        H2Client {
            stream,
            closed: false,
        }
    }

    fn get(&mut self, stream: u32, path: &str) {
        let request = headers_frame(stream, path, END_HEADERS | END_STREAM);
        self.stream.write_all(&request).expect("sending a request");
    }

    /// Reads frames until the server closes the connection or `timeout` passes.
    fn read_frames_until_close(&mut self, timeout: Duration) -> Vec<Frame> {
        let exchange = common::read_until_close(&mut self.stream, timeout);
        self.closed = exchange.closed;
        let mut frames = Vec::new();
        let mut rest = &exchange.bytes[..];
        while rest.len() >= 9 {
            let len = usize::from(rest[0]) << 16 | usize::from(rest[1]) << 8 | usize::from(rest[2]);
            if rest.len() < 9 + len {
                break;
            }
            frames.push(Frame {
                kind: rest[3],
                stream: u32::from_be_bytes([rest[5], rest[6], rest[7], rest[8]]) & 0x7fff_ffff,
                payload: rest[9..9 + len].to_vec(),
            });
            rest = &rest[9 + len..];
        }
        frames
    }
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len();
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&stream.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// `GET path` on h2c, HPACK-encoded without the dynamic table or Huffman.
fn request_block(path: &str) -> Vec<u8> {
    // :method GET, :scheme http (static table entries 2 and 6).
    let mut block = vec![0x82, 0x86];
    // :path and :authority as literals without indexing, names from the static table.
    block.push(0x04);
    block.extend(string_literal(path));
    block.push(0x01);
    block.extend(string_literal("127.0.0.1"));
    block
}

fn headers_frame(stream: u32, path: &str, flags: u8) -> Vec<u8> {
    frame(HEADERS, flags, stream, &request_block(path))
}

/// A literal header field without indexing, with a new name.
fn literal_header(name: &str, value: &str) -> Vec<u8> {
    let mut out = vec![0x00];
    out.extend(string_literal(name));
    out.extend(string_literal(value));
    out
}

/// An HPACK string literal (no Huffman), with a 7-bit prefix length.
fn string_literal(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut len = text.len();
    if len < 127 {
        out.push(len as u8);
    } else {
        out.push(127);
        len -= 127;
        while len >= 128 {
            out.push((len % 128) as u8 | 0x80);
            len /= 128;
        }
        out.push(len as u8);
    }
    out.extend_from_slice(text.as_bytes());
    out
}

#[test]
fn the_test_client_speaks_enough_http2() {
    let server = Server::start_default();
    let mut client = H2Client::connect(&server);
    client.get(1, "/hello.php");
    thread::sleep(Duration::from_millis(500));
    let _ = client.stream.shutdown(std::net::Shutdown::Write);
    let frames = client.read_frames_until_close(Duration::from_secs(3));
    assert!(
        frames.iter().any(|frame| frame.kind == HEADERS),
        "{frames:?}"
    );
    assert!(frames.iter().any(|frame| frame.kind == DATA), "{frames:?}");
}
