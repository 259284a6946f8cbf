//! HTTPS end to end: a certificate made with openssl, curl and `openssl s_client` as clients.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use common::{
    free_ports, https_server, make_certificate, make_named_certificate, tcp_connect, Server,
    ServerOptions,
};

fn https(port: u16, cert: &Path, path: &str, extra: &[&str]) -> common::Response {
    let url = format!("https://localhost:{port}{path}");
    let cacert = cert.to_string_lossy();
    let mut args = vec!["-s", "--cacert", &cacert, "--resolve"];
    let resolve = format!("localhost:{port}:127.0.0.1");
    args.push(&resolve);
    args.extend_from_slice(extra);
    args.push(&url);
    common::curl(&args)
}

/// What `openssl s_client` prints for a handshake with the given extra arguments.
fn s_client(port: u16, args: &[&str]) -> String {
    let output = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-servername",
            "localhost",
        ])
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("running openssl s_client");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn php_and_static_files_over_https_with_fpm_like_variables() {
    let (server, port, cert, _dir) = https_server(ServerOptions::default());
    let vars = https(port, &cert, "/server.php?x=1", &[]);
    assert_eq!(vars.status, 200, "{}", vars.text());
    assert_eq!(
        vars.value("HTTPS").as_deref(),
        Some("on"),
        "{}",
        vars.text()
    );
    assert_eq!(vars.value("REQUEST_SCHEME").as_deref(), Some("https"));
    assert_eq!(vars.value("SERVER_PORT"), Some(port.to_string()));
    // The plain listener is unchanged: no HTTPS variable at all, as under nginx + php-fpm.
    let plain = server.get("/server.php");
    assert_eq!(plain.value("HTTPS"), None);
    assert_eq!(plain.value("REQUEST_SCHEME").as_deref(), Some("http"));
    let robots = https(port, &cert, "/robots.txt", &[]);
    assert_eq!(robots.status, 200);
    assert_eq!(robots.text(), server.get("/robots.txt").text());
    // Streaming with flush() and keep-alive over one TLS connection.
    let stream = https(port, &cert, "/stream.php", &[]);
    assert!(
        stream.text().contains("first piece\nsecond piece\n"),
        "{}",
        stream.text()
    );
}

#[test]
fn only_tls_1_2_and_1_3_with_alpn_http_1_1() {
    let (_server, port, _cert, _dir) = https_server(ServerOptions::default());
    let tls13 = s_client(port, &["-tls1_3", "-alpn", "http/1.1"]);
    assert!(tls13.contains("New, TLSv1.3,"), "{tls13}");
    assert!(tls13.contains("ALPN protocol: http/1.1"), "{tls13}");
    let tls12 = s_client(port, &["-tls1_2"]);
    assert!(tls12.contains("New, TLSv1.2,"), "{tls12}");
    for old in ["-tls1", "-tls1_1"] {
        let refused = s_client(port, &[old]);
        assert!(
            refused.contains("New, (NONE), Cipher is (NONE)"),
            "{old} was accepted: {refused}"
        );
    }
}

#[test]
fn garbage_and_stalled_handshakes_are_closed_and_others_served() {
    let (server, port, cert, _dir) =
        https_server(ServerOptions::default().env("EPHPM_SERVER__HEADER_READ_TIMEOUT", "1s"));
    let mut garbage = tcp_connect(port);
    garbage
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("plain HTTP to the TLS port");
    let mut answer = Vec::new();
    let _ = garbage.read_to_end(&mut answer);
    assert!(!String::from_utf8_lossy(&answer).contains("200 OK"));
    // A client that connects and never sends a ClientHello is closed after the timeout.
    let mut stalled = tcp_connect(port);
    let started = Instant::now();
    let mut buf = [0u8; 16];
    let closed = matches!(stalled.read(&mut buf), Ok(0) | Err(_));
    assert!(closed);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // A truncated ClientHello too.
    let mut truncated = tcp_connect(port);
    truncated
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .expect("a partial record");
    thread::sleep(Duration::from_millis(100));
    drop(truncated);
    let hello = https(port, &cert, "/hello.php", &[]);
    assert_eq!(hello.status, 200);
    assert_eq!(server.get("/hello.php").status, 200);
    let metrics = common::curl(&[
        "-s",
        &format!("http://127.0.0.1:{}/metrics", server.node_api_port()),
    ])
    .text();
    for outcome in ["completed", "failed", "timed_out"] {
        let line = metrics
            .lines()
            .find(|line| {
                line.starts_with(&format!(
                    "ephpm_tls_handshakes_total{{outcome=\"{outcome}\"}}"
                ))
            })
            .unwrap_or_default();
        let count: u64 = line
            .rsplit(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(count >= 1, "{outcome}: {metrics}");
    }
    // The certificate was made for two days.
    let expiry: i64 = metrics
        .lines()
        .find(|line| {
            line.starts_with(
                "ephpm_tls_certificate_expiry_timestamp_seconds{subject=\"CN=localhost\"}",
            )
        })
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    assert!(
        expiry > now + 86_400 && expiry < now + 3 * 86_400,
        "{expiry} {metrics}"
    );
}

#[test]
fn a_certificate_without_a_key_is_a_configuration_error() {
    let dir = tempfile::tempdir().expect("a directory");
    let (cert, _key) = make_certificate(dir.path());
    let output = Command::new(common::ephpm_binary())
        .args([
            "serve",
            "--root",
            ".",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
        ])
        .arg(&cert)
        .output()
        .expect("running ephpm serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("server.tls.key"), "{stderr}");
}

#[test]
fn self_signed_mode_serves_https_for_local_development() {
    let [port] = free_ports();
    let server = Server::start(
        ServerOptions::default()
            .env("EPHPM_SERVER__TLS__LISTEN", &format!("127.0.0.1:{port}"))
            .env("EPHPM_SERVER__TLS__SELF_SIGNED", "true"),
    );
    assert!(server.log().contains("self-signed certificate"));
    let vars = common::curl(&[
        "-s",
        "--insecure",
        &format!("https://127.0.0.1:{port}/server.php"),
    ]);
    assert_eq!(vars.value("HTTPS").as_deref(), Some("on"));
    let subject = s_client(port, &[]);
    assert!(
        subject.contains("CN") || subject.contains("localhost"),
        "{subject}"
    );
}

#[test]
fn plain_http_redirects_to_https_and_https_sends_hsts() {
    let (server, port, cert, _dir) = https_server(
        ServerOptions::default()
            .env("EPHPM_SERVER__TLS__REDIRECT_HTTP", "true")
            .env("EPHPM_SERVER__TLS__HSTS", "max-age=31536000"),
    );
    let plain = server.curl("/server.php?x=1", &["-H", "Host: example.test:8080"]);
    assert_eq!(plain.status, 308);
    assert_eq!(
        plain.header("location"),
        Some(format!("https://example.test:{port}/server.php?x=1").as_str())
    );
    let secure = https(port, &cert, "/robots.txt", &[]);
    assert_eq!(secure.status, 200);
    assert_eq!(
        secure.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let php = https(port, &cert, "/hello.php", &[]);
    assert_eq!(
        php.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    // Following the redirect lands on the same page over HTTPS.
    let followed = server.curl(
        "/robots.txt",
        &[
            "-L",
            "--cacert",
            &cert.to_string_lossy(),
            "--resolve",
            &format!("localhost:{port}:127.0.0.1"),
            "-H",
            "Host: localhost",
        ],
    );
    assert_eq!(followed.status, 200, "{:?}", followed.headers);
}

#[test]
fn sni_picks_the_certificate_for_the_name_asked() {
    let dir = tempfile::tempdir().expect("a directory for certificates");
    let (default_cert, default_key) = make_certificate(dir.path());
    let (other_cert, other_key) =
        make_named_certificate(dir.path(), "other.test", "DNS:other.test");
    let (wild_cert, wild_key) = make_named_certificate(dir.path(), "wild.test", "DNS:*.wild.test");
    let [port] = free_ports();
    let toml = format!(
        "[server.tls]\nlisten = \"127.0.0.1:{port}\"\ncert = {:?}\nkey = {:?}\n\
         [[server.tls.certificates]]\ncert = {:?}\nkey = {:?}\n\
         [[server.tls.certificates]]\ncert = {:?}\nkey = {:?}\n",
        default_cert, default_key, other_cert, other_key, wild_cert, wild_key
    );
    let _server = Server::start(ServerOptions::default().config_toml(&toml));
    let subject_for = |name: Option<&str>| {
        let mut args = vec!["-connect".to_owned(), format!("127.0.0.1:{port}")];
        match name {
            Some(name) => args.extend(["-servername".to_owned(), name.to_owned()]),
            None => args.push("-noservername".to_owned()),
        }
        let output = Command::new("openssl")
            .arg("s_client")
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("running openssl s_client");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        text.lines()
            .find(|line| line.starts_with("subject="))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(subject_for(Some("other.test")).contains("CN = other.test"));
    assert!(subject_for(Some("a.wild.test")).contains("CN = wild.test"));
    assert!(subject_for(Some("localhost")).contains("CN = localhost"));
    assert!(subject_for(Some("unknown.test")).contains("CN = localhost"));
    assert!(subject_for(None).contains("CN = localhost"));
}

#[test]
fn a_large_body_to_a_slow_reader_arrives_whole_over_https() {
    let (server, port, cert, _dir) = https_server(ServerOptions::default());
    let body: Vec<u8> = (0..8_000_000u32).map(|i| (i % 251) as u8).collect();
    fs::write(server.docroot().join("large.bin"), &body).expect("writing large.bin");
    // A slow reader makes the socket push back, so rustls holds encrypted bytes that only a
    // flush sends; two requests on one connection check that keep-alive still works after.
    let response = https(
        port,
        &cert,
        "/large.bin",
        &["--limit-rate", "4M", "--max-time", "20"],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.body.len(), body.len());
    assert!(response.body == body);
}
