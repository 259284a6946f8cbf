//! Hardening end to end: nothing a client sends or a script does takes the server down. Each
//! test attacks one way, then proves the server still answers other clients and kept the data
//! it acknowledged.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use common::{mysql_error, redis_cli, send_and_read, tcp_connect, Server, ServerOptions};

/// A PHP response far bigger than the socket buffers and the response channel.
const BIG_PHP: &str = "<?php
header('Content-Type: application/octet-stream');
$chunk = str_repeat('x', 65536);
for ($i = 0; $i < 512; $i++) { echo $chunk; flush(); }
";

/// Reports whether the process-control functions exist for this SAPI.
const PCNTL_PHP: &str = "<?php
echo json_encode([
    'fork' => function_exists('pcntl_fork'),
    'exec' => function_exists('pcntl_exec'),
    'alarm' => function_exists('pcntl_alarm'),
]);
";

/// Adds the scripts and the large static files these tests use to the docroot.
fn hardening_files(docroot: &Path, _db_port: u16) {
    fs::write(docroot.join("big.php"), BIG_PHP).expect("writing big.php");
    fs::write(docroot.join("pcntl.php"), PCNTL_PHP).expect("writing pcntl.php");
    fs::write(docroot.join("big.bin"), vec![7u8; 32 << 20]).expect("writing big.bin");
    fs::write(
        docroot.join("big.txt"),
        "compressible text\n".repeat(120_000),
    )
    .expect("writing big.txt");
    fs::write(
        docroot.join("small.txt"),
        "compressible text\n".repeat(1000),
    )
    .expect("writing small.txt");
}

fn options() -> ServerOptions {
    ServerOptions::default().setup(hardening_files)
}

/// One RESP command over a raw socket; the reply up to its first line end.
fn resp_line(stream: &mut TcpStream, request: &[u8]) -> String {
    let answer = send_and_read(stream, request, |a| a.ends_with(b"\r\n"));
    String::from_utf8_lossy(&answer).into_owned()
}

/// True when the server closed `stream` (EOF or reset) within the read timeout.
fn closed_by_server(stream: &mut TcpStream) -> bool {
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(err) => return !common::is_timeout(&err),
        }
    }
}

/// The server still serves HTTP (static and PHP) and Redis clients, and `key` still holds
/// `value`.
fn assert_still_serving(server: &Server, key: &str, value: &str) {
    let hello = server.get("/hello.php");
    assert_eq!(hello.status, 200, "PHP after the attack: {}", hello.text());
    assert_eq!(
        server.get("/robots.txt").status,
        200,
        "static after the attack"
    );
    assert_eq!(redis_cli(server.kv_port(), &["GET", key]), value);
}

fn vm_rss_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:")
}

/// Address space reserved: grows with an allocation even before its pages are touched.
fn vm_size_kib(pid: u32) -> u64 {
    proc_status_kib(pid, "VmSize:")
}

fn proc_status_kib(pid: u32, field: &str) -> u64 {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_script_returning_a_self_referencing_table_is_refused() {
    let server = Server::start(options());
    let port = server.kv_port();
    assert_eq!(redis_cli(port, &["SET", "kept", "yes"]), "OK");
    let started = Instant::now();
    let reply = redis_cli(port, &["EVAL", "local t={} t[1]=t t[2]=t return t", "0"]);
    assert!(reply.contains("reply limit"), "{reply}");
    // Bounded work: the 128 MiB budget is spent in seconds even in a debug build.
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    assert_still_serving(&server, "kept", "yes");
}

#[test]
fn srandmember_with_huge_negative_counts_is_bounded() {
    let server = Server::start(options());
    let port = server.kv_port();
    assert_eq!(redis_cli(port, &["SET", "kept", "yes"]), "OK");
    assert_eq!(redis_cli(port, &["SADD", "s", "a", "b", "c"]), "3");
    let reply = redis_cli(port, &["SRANDMEMBER", "s", "-9223372036854775808"]);
    assert_eq!(reply, "ERR value is out of range");
    let reply = redis_cli(port, &["SRANDMEMBER", "s", "-9223372036854775807"]);
    assert!(reply.contains("reply limit"), "{reply}");
    let few = redis_cli(port, &["SRANDMEMBER", "s", "-5"]);
    assert_eq!(few.lines().count(), 5, "{few}");
    assert_still_serving(&server, "kept", "yes");
}

#[test]
fn a_long_script_does_not_stop_http_on_its_core() {
    let server = Server::start(options().cores(1));
    let port = server.kv_port();
    assert_eq!(redis_cli(port, &["SET", "kept", "yes"]), "OK");
    let script = thread::spawn(move || {
        redis_cli(
            port,
            &[
                "EVAL",
                "local t = redis.call('TIME') local s = tonumber(t[1]) \
                 while tonumber(redis.call('TIME')[1]) < s + 3 do end return 1",
                "0",
            ],
        )
    });
    thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        let started = Instant::now();
        assert_eq!(server.get("/robots.txt").status, 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "HTTP waited {:?} for the script",
            started.elapsed()
        );
        thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(script.join().expect("the script's client"), "1");
    assert_eq!(redis_cli(port, &["GET", "kept"]), "yes");
}

#[test]
fn http_sent_to_the_redis_port_closes_the_connection_unrun() {
    let server = Server::start(options());
    let port = server.kv_port();
    let mut stream = tcp_connect(port);
    let answer = send_and_read(
        &mut stream,
        b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nSET hijacked 1\r\n",
        |_| false,
    );
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    let mut stream = tcp_connect(port);
    let answer = send_and_read(&mut stream, b"Host: x\r\nSET hijacked 1\r\n", |_| false);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    assert_eq!(redis_cli(port, &["EXISTS", "hijacked"]), "0");
    assert!(server.log().contains("possible security attack"));
}

fn with_kv_password() -> ServerOptions {
    options().env("EPHPM_KV__PASSWORD", "s3cret")
}

#[test]
fn clients_get_small_limits_before_auth() {
    let server = Server::start(with_kv_password());
    let port = server.kv_port();
    let mut stream = tcp_connect(port);
    let reply = resp_line(&mut stream, b"*1000000\r\n");
    assert_eq!(
        reply,
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(closed_by_server(&mut stream));
    let mut stream = tcp_connect(port);
    let reply = resp_line(&mut stream, b"*2\r\n$3\r\nSET\r\n$536870000\r\n");
    assert_eq!(
        reply,
        "-ERR Protocol error: unauthenticated bulk length\r\n"
    );
    assert!(closed_by_server(&mut stream));
    // After AUTH the configured (Redis) limits apply.
    let mut stream = tcp_connect(port);
    assert_eq!(
        resp_line(&mut stream, b"AUTH s3cret\r\n"),
        "+OK\r\n",
        "AUTH with the password"
    );
    let big = vec![b'v'; 100_000];
    let mut set = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", big.len()).into_bytes();
    set.extend_from_slice(&big);
    set.extend_from_slice(b"\r\n");
    assert_eq!(resp_line(&mut stream, &set), "+OK\r\n");
}

#[test]
fn the_password_cannot_be_read_or_removed_over_resp() {
    let server = Server::start(with_kv_password());
    let port = server.kv_port();
    let mut stream = tcp_connect(port);
    assert_eq!(resp_line(&mut stream, b"AUTH s3cret\r\n"), "+OK\r\n");
    let reply = resp_line(&mut stream, b"CONFIG SET requirepass \"\"\r\n");
    assert!(reply.contains("can't set protected config"), "{reply}");
    let reply = send_and_read(&mut stream, b"CONFIG GET requirepass\r\n", |a| {
        a.ends_with(b"\r\n")
    });
    assert_eq!(reply, b"*0\r\n");
    let mut other = tcp_connect(port);
    assert!(resp_line(&mut other, b"GET k\r\n").starts_with("-NOAUTH"));
}

#[test]
fn pipelined_replies_to_a_client_that_does_not_read_stay_bounded() {
    let server = Server::start(options().env("EPHPM_SERVER__SEND_TIMEOUT", "1s"));
    let port = server.kv_port();
    let value = "v".repeat(1 << 20);
    let mut setter = tcp_connect(port);
    let mut set = format!("*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n${}\r\n", value.len()).into_bytes();
    set.extend_from_slice(value.as_bytes());
    set.extend_from_slice(b"\r\n");
    assert_eq!(resp_line(&mut setter, &set), "+OK\r\n");
    let before = vm_rss_kib(server.pid());
    // 2,000 GETs of a 1 MiB value: 2 GiB of replies if they piled up.
    let mut greedy = tcp_connect(port);
    greedy
        .set_write_timeout(Some(Duration::from_secs(5)))
        .expect("write timeout");
    let pipeline = b"GET big\r\n".repeat(2000);
    let _ = greedy.write_all(&pipeline);
    thread::sleep(Duration::from_secs(4));
    let after = vm_rss_kib(server.pid());
    assert!(
        after < before + 256 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert!(
        closed_by_server(&mut greedy),
        "the stalled client was not closed"
    );
    assert_eq!(redis_cli(port, &["STRLEN", "big"]), (1 << 20).to_string());
}

#[test]
fn redis_clients_over_max_connections_are_refused() {
    let server = Server::start(options().env("EPHPM_KV__MAX_CONNECTIONS", "2"));
    let port = server.kv_port();
    let mut first = tcp_connect(port);
    let mut second = tcp_connect(port);
    assert_eq!(resp_line(&mut first, b"SET kept yes\r\n"), "+OK\r\n");
    assert_eq!(resp_line(&mut second, b"PING\r\n"), "+PONG\r\n");
    let mut third = tcp_connect(port);
    assert_eq!(
        resp_line(&mut third, b"PING\r\n"),
        "-ERR max number of clients reached\r\n"
    );
    drop(second);
    thread::sleep(Duration::from_millis(200));
    let mut fourth = tcp_connect(port);
    assert!(resp_line(&mut fourth, b"GET kept\r\n").starts_with("$3\r\n"));
    assert!(server
        .log()
        .contains("KV listener: max_connections (2) reached"));
    let metrics = common::curl(&[
        "-s",
        "-i",
        &format!("http://127.0.0.1:{}/metrics", server.node_api_port()),
    ])
    .text();
    assert!(
        metrics.contains("ephpm_connections_refused_total{listener=\"kv\"} 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("ephpm_connections_max{listener=\"kv\"} 2\n"));
    assert!(metrics.contains("ephpm_connections{listener=\"kv\"} 2\n"));
}

#[test]
fn slowloris_clients_at_the_http_limit_are_refused_then_timed_out() {
    let server = Server::start(
        options()
            .env("EPHPM_SERVER__MAX_CONNECTIONS", "4")
            .env("EPHPM_SERVER__HEADER_READ_TIMEOUT", "2s"),
    );
    // Let the start-up probe's connection close first: it counts too.
    thread::sleep(Duration::from_millis(500));
    let dripping: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut stream = tcp_connect(server.port());
            stream.write_all(b"GET / HTTP/1.1\r\nX-a: ").expect("drip");
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(300));
    let refused = common::curl_unchecked(&["-s", "-i", &server.url("/hello.php")]);
    assert_eq!(refused.status, 503, "{}\n{}", refused.text(), server.log());
    assert!(server
        .log()
        .contains("HTTP listener: max_connections (4) reached"));
    // The header timeout is a total deadline: the dripping clients are closed, slots free up.
    thread::sleep(Duration::from_secs(3));
    assert_still_serving(&server, "nothing", "");
    drop(dripping);
}

#[test]
fn a_client_that_stops_reading_frees_its_connection_and_php_thread() {
    let server = Server::start(options().threads(1).env("EPHPM_SERVER__SEND_TIMEOUT", "1s"));
    for path in ["/big.php", "/big.bin"] {
        let mut stream = tcp_connect(server.port());
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("request");
        // Never read: the server's writes stall until the send timeout closes the connection.
        thread::sleep(Duration::from_secs(4));
        let started = Instant::now();
        let hello = server.get("/hello.php");
        assert_eq!(hello.status, 200, "{path}: {}", hello.text());
        assert!(started.elapsed() < Duration::from_secs(3), "{path}");
        let mut received = 0usize;
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = stream.read(&mut buf) {
            if n == 0 {
                break;
            }
            received += n;
        }
        assert!(received < 32 << 20, "{path}: the whole body arrived");
    }
    assert_still_serving(&server, "nothing", "");
}

#[test]
fn a_panic_serving_a_connection_is_contained() {
    let mut server = Server::start(options().cores(1).threads(1).env("EPHPMTEST_FAULTS", "1"));
    assert_eq!(redis_cli(server.kv_port(), &["SET", "kept", "yes"]), "OK");
    let broken =
        common::curl_unchecked(&["-s", "-i", &server.url("/__ephpm_test/panic-connection")]);
    assert_ne!(broken.status, 200);
    assert!(
        server.wait_for_log("backtrace", Duration::from_secs(5)),
        "{}",
        server.log()
    );
    assert!(server
        .log()
        .contains("fault injection: panic at Connection"));
    assert_still_serving(&server, "kept", "yes");

    // A PHP thread that dies is replaced: with one PHP thread, PHP still answers.
    let _ = common::curl_unchecked(&["-s", "-i", &server.url("/__ephpm_test/panic-php")]);
    assert!(server.wait_for_log("starting a replacement", Duration::from_secs(5)));
    for _ in 0..3 {
        assert_still_serving(&server, "kept", "yes");
    }
    let status = server.stop_with("TERM");
    assert!(
        status.success(),
        "a contained panic must not fail the exit: {status}"
    );
}

#[test]
fn process_control_is_disabled_for_web_requests_but_not_the_cli() {
    let server = Server::start(options());
    let web = server.get("/pcntl.php");
    assert_eq!(web.text(), r#"{"fork":false,"exec":false,"alarm":false}"#);
    let cli = std::process::Command::new(common::ephpm_binary())
        .arg("php-cli")
        .arg(server.docroot().join("pcntl.php"))
        .output()
        .expect("running ephpm php-cli");
    assert_eq!(
        String::from_utf8_lossy(&cli.stdout),
        r#"{"fork":true,"exec":true,"alarm":true}"#
    );
}

#[test]
fn a_dripped_body_runs_into_one_total_deadline() {
    let server = Server::start(options().env("EPHPM_SERVER__BODY_TIMEOUT", "2s"));
    let mut stream = tcp_connect(server.port());
    stream
        .write_all(b"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .expect("head");
    let started = Instant::now();
    // A byte every 300 ms: each read is quick, the whole body never arrives in time.
    let mut answer = Vec::new();
    while started.elapsed() < Duration::from_secs(8) {
        if stream.write_all(b"x").is_err() {
            break;
        }
        thread::sleep(Duration::from_millis(300));
        stream.set_nonblocking(true).expect("nonblocking");
        let mut buf = [0u8; 1024];
        if let Ok(n) = stream.read(&mut buf) {
            answer.extend_from_slice(&buf[..n]);
        }
        stream.set_nonblocking(false).expect("blocking");
        if !answer.is_empty() {
            break;
        }
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_still_serving(&server, "nothing", "");
}

#[test]
fn a_claimed_content_length_reserves_no_memory() {
    let server = Server::start(options());
    let before = vm_size_kib(server.pid());
    // 20 requests claiming 60 MiB bodies (under the 64 MiB limit) that never send them.
    let claims: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = tcp_connect(server.port());
            stream
                .write_all(
                    b"POST /hello.php HTTP/1.1\r\nHost: x\r\nContent-Length: 62914560\r\n\r\nabc",
                )
                .expect("head");
            stream
        })
        .collect();
    thread::sleep(Duration::from_millis(500));
    let after = vm_size_kib(server.pid());
    assert!(
        after < before + 300 * 1024,
        "reserved memory grew from {before} KiB to {after} KiB"
    );
    drop(claims);
    assert_still_serving(&server, "nothing", "");
}

#[test]
fn large_bodies_wait_in_a_temporary_file_and_reach_php_whole() {
    let server = Server::start(options().env("EPHPM_SERVER__BODY_BUFFER_SIZE", "64KiB"));
    let upload = server.dir().join("upload.bin");
    let body: Vec<u8> = (0..6_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    fs::write(&upload, &body).expect("writing the upload");
    let before = vm_rss_kib(server.pid());
    let response = server.curl(
        "/input.php",
        &["--data-binary", &format!("@{}", upload.display())],
    );
    let after = vm_rss_kib(server.pid());
    assert_eq!(response.status, 200, "{}", response.text());
    let text = response.text();
    assert!(
        text.contains("length=6000000\n"),
        "{}",
        &text[..80.min(text.len())]
    );
    let digest = std::process::Command::new("md5sum")
        .arg(&upload)
        .output()
        .expect("md5sum");
    let digest = String::from_utf8_lossy(&digest.stdout);
    let digest = digest.split_whitespace().next().unwrap_or_default();
    assert!(text.contains(&format!("md5={digest}\n")));
    // Chunked too.
    let chunked = server.curl(
        "/input.php",
        &[
            "-H",
            "Transfer-Encoding: chunked",
            "--data-binary",
            &format!("@{}", upload.display()),
        ],
    );
    assert!(chunked.text().contains(&format!("md5={digest}\n")));
    assert!(after < before + 200 * 1024, "RSS {before} -> {after} KiB");
}

#[test]
fn a_flood_of_http_connections_cannot_exhaust_file_descriptors() {
    let server = Server::start(
        options()
            .nofile(512)
            .env("EPHPM_SERVER__MAX_CONNECTIONS", "100"),
    );
    assert!(
        server.log().contains("the open file limit (512)"),
        "no warning about the file limit: {}",
        server.log()
    );
    common::mysql(
        server.db_port(),
        "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('yes')",
    );
    assert_eq!(redis_cli(server.kv_port(), &["SET", "kept", "yes"]), "OK");
    thread::sleep(Duration::from_millis(300));
    // Far more connections than descriptors: the ones over the limit are refused at once.
    let mut flood = Vec::new();
    let mut refused = 0;
    for _ in 0..600 {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", server.port())) else {
            continue;
        };
        stream
            .set_read_timeout(Some(Duration::from_millis(50)))
            .expect("timeout");
        let mut buf = [0u8; 12];
        if matches!(stream.read(&mut buf), Ok(n) if n >= 12 && buf.starts_with(b"HTTP/1.1 503")) {
            refused += 1;
        } else {
            flood.push(stream);
        }
    }
    assert!(refused >= 400, "only {refused} of 600 refused");
    // Every other listener still has descriptors.
    assert_eq!(redis_cli(server.kv_port(), &["GET", "kept"]), "yes");
    assert_eq!(common::mysql(server.db_port(), "SELECT v FROM kept"), "yes");
    let metrics = common::curl(&[
        "-s",
        "-i",
        &format!("http://127.0.0.1:{}/metrics", server.node_api_port()),
    ]);
    assert_eq!(metrics.status, 200);
    drop(flood);
    thread::sleep(Duration::from_millis(300));
    assert_still_serving(&server, "kept", "yes");
}

#[test]
fn a_lost_core_stops_the_server_with_a_failure_exit() {
    let mut server = Server::start(options().cores(2).env("EPHPMTEST_FAULTS", "1"));
    let _ = common::curl_unchecked(&["-s", "-i", &server.url("/__ephpm_test/panic-core")]);
    // The core that served it fails at its next accepted connection.
    for _ in 0..20 {
        let _ = common::curl_unchecked(&["-s", "-m", "2", &server.url("/robots.txt")]);
    }
    let status = server
        .wait_for_exit(Duration::from_secs(40))
        .expect("the server kept running without a core");
    assert!(!status.success(), "exit status {status}");
    assert!(
        server.log().contains("stopped unexpectedly"),
        "{}",
        server.log()
    );
}

#[test]
fn node_api_connections_over_the_limit_are_refused() {
    let server = Server::start(options().env("EPHPM_NODE_API__MAX_CONNECTIONS", "2"));
    let port = server.node_api_port();
    // Two clients that connect and send nothing hold both slots (and threads).
    let idle: Vec<TcpStream> = (0..2).map(|_| tcp_connect(port)).collect();
    thread::sleep(Duration::from_millis(300));
    let refused =
        common::curl_unchecked(&["-s", "-i", &format!("http://127.0.0.1:{port}/metrics")]);
    assert_eq!(refused.status, 503, "{}", refused.text());
    drop(idle);
    thread::sleep(Duration::from_millis(300));
    let metrics = common::curl(&["-s", "-i", &format!("http://127.0.0.1:{port}/metrics")]);
    assert_eq!(metrics.status, 200);
}

#[test]
fn large_static_files_are_not_compressed_on_the_executor() {
    let server = Server::start(options());
    let big = server.curl(
        "/big.txt",
        &["-H", "Accept-Encoding: gzip", "-o", "/dev/null"],
    );
    assert_eq!(big.status, 200);
    assert_eq!(big.header("content-encoding"), None);
    let small = server.curl(
        "/small.txt",
        &["-H", "Accept-Encoding: gzip", "-o", "/dev/null"],
    );
    assert_eq!(small.header("content-encoding"), Some("gzip"));
}

#[test]
fn database_clients_are_bounded_in_databases_results_and_login_time() {
    let server = Server::start(
        options()
            .env("EPHPM_DB__MAX_DATABASES", "2")
            .env("EPHPM_DB__MAX_RESULT_SIZE", "1MiB")
            .env("EPHPM_DB__MAX_STATEMENT_TIME", "1s"),
    );
    let port = server.db_port();
    common::mysql(
        port,
        "CREATE TABLE kept (v TEXT); INSERT INTO kept VALUES ('yes')",
    );
    common::mysql(port, "CREATE DATABASE second");
    let error = mysql_error(port, "CREATE DATABASE third");
    assert!(error.contains("ERROR 1006"), "{error}");
    let error = mysql_error(port, "USE fourth");
    assert!(error.contains("ERROR 1006"), "{error}");
    let error = mysql_error(
        port,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c",
    );
    assert!(error.contains("ERROR 1041"), "{error}");
    let error = mysql_error(
        port,
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    );
    assert!(error.contains("ERROR 1969"), "{error}");
    // A login dripped a byte at a time runs into one 10 s deadline, not one per read.
    let mut dripper = tcp_connect(port);
    let mut greeting = [0u8; 256];
    let _ = dripper.read(&mut greeting).expect("the greeting");
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < Duration::from_secs(25) {
        if dripper.write_all(&[0x01]).is_err() {
            closed = true;
            break;
        }
        thread::sleep(Duration::from_millis(500));
    }
    assert!(closed, "a dripping login was still open after 25 s");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(common::mysql(port, "SELECT v FROM kept"), "yes");
}

#[test]
fn a_public_proxy_refuses_to_start_with_a_passwordless_upstream_account() {
    let output = std::process::Command::new(common::ephpm_binary())
        .args(["serve", "--root", ".", "--listen", "127.0.0.1:0"])
        .env("EPHPM_DB__LISTEN", "0.0.0.0:13399")
        .env("EPHPM_DB__PASSWORD", "client-secret")
        .env("EPHPM_DB__MYSQL__URL", "mysql://app@127.0.0.1:3306/app")
        .output()
        .expect("running ephpm serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("db.mysql.url names an account without a password"),
        "{stderr}"
    );
}
