//! Automatic certificates end to end against Debian's pebble (a real ACME CA for tests): issued
//! over HTTP-01 and TLS-ALPN-01, served to curl over h1 and h2, reused after a restart, renewed
//! and swapped while a connection stays open, and a refusing CA logged while plain HTTP serves.

mod common;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pebble::Pebble;
use common::{free_ports, Server, ServerOptions};

const DOMAIN: &str = "ephpm.test";
const ISSUED: &str = "ACME: certificate for ephpm.test issued";

/// A server on `ports` (plain, TLS) getting its certificate from `pebble`; `extra` are more
/// `[server.tls.acme]` lines, which override the ones before them.
fn acme_server(pebble: &Pebble, ports: [u16; 2], storage: &Path, extra: &[&str]) -> Server {
    let [http_port, tls_port] = ports;
    let mut settings = vec![
        format!("domains = [\"{DOMAIN}\"]"),
        "email = \"ops@ephpm.test\"".to_owned(),
        format!("directory = \"{}\"", pebble.directory),
        format!("ca_root = \"{}\"", pebble.ca_root.display()),
        format!("storage = \"{}\"", storage.display()),
    ];
    for line in extra {
        let key = line.split('=').next().unwrap_or_default().trim();
        settings.retain(|setting| !setting.starts_with(&format!("{key} ")));
        settings.push((*line).to_owned());
    }
    let config = format!(
        "[server.tls]\nlisten = \"127.0.0.1:{tls_port}\"\n\n[server.tls.acme]\n{}\n",
        settings.join("\n")
    );
    Server::start(
        ServerOptions::default()
            .port(http_port)
            .config_toml(&config),
    )
}

/// One test's CA: pebble on fresh ports (its HTTP-01 and TLS-ALPN-01 ports are the server's
/// plain and TLS ports) and a storage directory for the server's account and certificates.
struct Ca {
    ports: [u16; 2],
    pebble: Pebble,
    storage: tempfile::TempDir,
}

impl Ca {
    fn start() -> Ca {
        let ports = free_ports();
        Ca {
            ports,
            pebble: Pebble::start(ports[0], ports[1]),
            storage: tempfile::tempdir().expect("a storage directory"),
        }
    }

    /// [`acme_server`] on this CA's ports and storage.
    fn server(&self, extra: &[&str]) -> Server {
        acme_server(&self.pebble, self.ports, self.storage.path(), extra)
    }

    /// Waits until `server` logs `line`; fails with both logs.
    fn wait_for(&self, server: &Server, line: &str) {
        assert!(
            server.wait_for_log(line, Duration::from_secs(30)),
            "no '{line}'\n--- server ---\n{}\n--- pebble ---\n{}",
            server.log(),
            self.pebble.log()
        );
    }
}

/// curl to `https://ephpm.test:PORT/path`, trusting pebble's issuing root.
fn https_get(port: u16, root: &Path, path: &str, extra: &[&str]) -> common::Response {
    let resolve = format!("{DOMAIN}:{port}:127.0.0.1");
    let url = format!("https://{DOMAIN}:{port}{path}");
    let root = root.to_string_lossy();
    let mut args = vec!["--cacert", &root, "--resolve", &resolve];
    args.extend_from_slice(extra);
    args.push(&url);
    common::curl(&args)
}

/// The serial number of the certificate served for `ephpm.test` on `port`.
fn served_serial(port: u16) -> String {
    let mut client = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", DOMAIN])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running openssl s_client");
    let mut printed = Vec::new();
    let _ = client
        .stdout
        .take()
        .expect("s_client's stdout")
        .read_to_end(&mut printed);
    let _ = client.wait();
    let serial = Command::new("openssl")
        .args(["x509", "-noout", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .and_then(|mut x509| {
            x509.stdin
                .take()
                .expect("x509's stdin")
                .write_all(&printed)?;
            x509.wait_with_output()
        })
        .expect("running openssl x509");
    String::from_utf8_lossy(&serial.stdout).trim().to_owned()
}

fn assert_private(path: &Path) {
    let mode = std::fs::metadata(path)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "{} is not 0600", path.display());
}

#[test]
fn http01_certificate_is_issued_served_and_reused_after_a_restart() {
    let ca = Ca::start();
    let (ports, storage) = (ca.ports, &ca.storage);
    let mut server = ca.server(&[]);
    ca.wait_for(&server, ISSUED);
    let root = ca.pebble.issuing_root();
    let h1 = https_get(ports[1], &root, "/server.php", &[]);
    assert_eq!(h1.status, 200);
    assert!(String::from_utf8_lossy(&h1.body).contains("HTTPS=on"));
    let h2 = https_get(ports[1], &root, "/hello.php", &["--http2"]);
    assert_eq!(h2.status, 200);
    for file in ["account.json", "cert.pem", "key.pem"] {
        assert_private(&storage.path().join(file));
    }
    // The CA fetched the token from the plain listener (the access log is flushed every
    // second or so).
    assert!(server.wait_for_log("/.well-known/acme-challenge/", Duration::from_secs(5)));
    let serial = served_serial(ports[1]);
    server.stop_with("TERM");

    // A restart serves the stored certificate at once and keeps the account.
    let restarted = ca.server(&[]);
    assert!(restarted
        .log()
        .contains("ACME: serving the stored certificate"));
    assert_eq!(served_serial(ports[1]), serial);
    assert_eq!(https_get(ports[1], &root, "/hello.php", &[]).status, 200);
    assert!(!restarted.log().contains("account created"));
}

#[test]
fn tls_alpn01_certificate_is_issued() {
    let ca = Ca::start();
    let server = ca.server(&["challenge = \"tls-alpn-01\""]);
    ca.wait_for(&server, ISSUED);
    assert!(!server.log().contains("/.well-known/acme-challenge/"));
    let root = ca.pebble.issuing_root();
    assert_eq!(https_get(ca.ports[1], &root, "/hello.php", &[]).status, 200);
}

#[test]
fn renewal_swaps_the_certificate_while_a_connection_stays_open() {
    let ca = Ca::start();
    let ports = ca.ports;
    // Every certificate is due for renewal at once; renewals come a check interval apart.
    let server = ca.server(&["renew_before = \"100000d\"", "check_interval = \"2s\""]);
    ca.wait_for(&server, ISSUED);
    let root = ca.pebble.issuing_root();
    let first = served_serial(ports[1]);

    // A client connects with the first certificate and keeps its connection.
    let mut kept = Command::new("openssl")
        .args([
            "s_client",
            "-quiet",
            "-connect",
            &format!("127.0.0.1:{}", ports[1]),
        ])
        .args(["-servername", DOMAIN, "-CAfile"])
        .arg(&root)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running openssl s_client");

    let deadline = Instant::now() + Duration::from_secs(30);
    let mut renewed = first.clone();
    while renewed == first && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(500));
        renewed = served_serial(ports[1]);
    }
    assert_ne!(
        renewed,
        first,
        "the certificate was not renewed\n{}",
        server.log()
    );
    assert!(server.log().matches(ISSUED).count() >= 2);
    assert_eq!(https_get(ports[1], &root, "/hello.php", &[]).status, 200);

    // The connection made before the swap still works.
    let request = format!("GET /hello.php HTTP/1.1\r\nHost: {DOMAIN}\r\nConnection: close\r\n\r\n");
    kept.stdin
        .take()
        .expect("s_client's stdin")
        .write_all(request.as_bytes())
        .expect("sending over the kept connection");
    let mut answer = String::new();
    let _ = kept
        .stdout
        .take()
        .expect("s_client's stdout")
        .read_to_string(&mut answer);
    let _ = kept.wait();
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "kept connection got: {answer}"
    );
}

#[test]
fn a_refusing_ca_is_logged_and_plain_http_keeps_working() {
    let ca = Ca::start();
    // pebble refuses to issue for a name that is not a valid DNS name.
    let server = ca.server(&["domains = [\"bad_name.test\"]"]);
    ca.wait_for(
        &server,
        "ACME: obtaining a certificate for bad_name.test from",
    );
    let log = server.log();
    let line = log
        .lines()
        .find(|line| line.contains("ACME: obtaining a certificate"))
        .expect("the failure line");
    // The CA's own words are in the line, and when the next attempt comes.
    assert!(line.contains("API error"), "{line}");
    assert!(line.contains("retrying in 10s"), "{line}");
    assert_eq!(server.get("/hello.php").status, 200);
}
