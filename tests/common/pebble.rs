//! Debian's pebble (a test ACME CA) and pebble-challtestsrv (its DNS, answering 127.0.0.1 for
//! every name) on free loopback ports, validating against an ePHPm's plain and TLS ports.

use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::free_ports;

/// A running pebble and its DNS server; both are killed on drop.
pub struct Pebble {
    dir: tempfile::TempDir,
    children: Vec<Child>,
    /// The ACME directory URL.
    pub directory: String,
    /// The CA certificate of pebble's own HTTPS (for `server.tls.acme.ca_root`).
    pub ca_root: PathBuf,
    management_port: u16,
}

impl Pebble {
    /// Starts pebble validating HTTP-01 on `http_port` and TLS-ALPN-01 on `tls_port`.
    pub fn start(http_port: u16, tls_port: u16) -> Pebble {
        let dir = tempfile::tempdir().expect("a directory for pebble");
        let ca_root = make_pki(dir.path());
        let [api_port, management_port, dns_port, dns_management_port] = free_ports();
        let config = format!(
            r#"{{"pebble": {{"listenAddress": "127.0.0.1:{api_port}", "managementListenAddress": "127.0.0.1:{management_port}", "certificate": "{cert}", "privateKey": "{key}", "httpPort": {http_port}, "tlsPort": {tls_port}, "ocspResponderURL": "", "externalAccountBindingRequired": false}}}}"#,
            cert = dir.path().join("pebble.crt").display(),
            key = dir.path().join("pebble.key").display(),
        );
        let config_path = dir.path().join("pebble.json");
        fs::write(&config_path, config).expect("writing pebble's configuration");
        let log = |name: &str| {
            Stdio::from(fs::File::create(dir.path().join(name)).expect("a log file for pebble"))
        };
        let dns = Command::new("pebble-challtestsrv")
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""])
            .args(["-management", &format!("127.0.0.1:{dns_management_port}")])
            .stdout(log("challtestsrv.log"))
            .stderr(log("challtestsrv.err"))
            .spawn()
            .expect("running pebble-challtestsrv (apt-get install pebble)");
        // No sleeps before validation and no nonce rejections: repeatable tests.
        let pebble = Command::new("pebble")
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .stdout(log("pebble.log"))
            .stderr(log("pebble.err"))
            .spawn()
            .expect("running pebble (apt-get install pebble)");
        let pebble = Pebble {
            dir,
            children: vec![dns, pebble],
            directory: format!("https://127.0.0.1:{api_port}/dir"),
            ca_root,
            management_port,
        };
        wait_for_port(api_port);
        wait_for_port(management_port);
        wait_for_port(dns_management_port);
        pebble
    }

    /// The root that pebble's issued certificates chain to (fetched from its management API).
    pub fn issuing_root(&self) -> PathBuf {
        let path = self.dir.path().join("issuing-root.pem");
        let output = Command::new("curl")
            .args(["-sS", "--fail", "--cacert"])
            .arg(&self.ca_root)
            .arg(format!(
                "https://127.0.0.1:{}/roots/0",
                self.management_port
            ))
            .output()
            .expect("running curl");
        assert!(output.status.success(), "fetching pebble's root failed");
        fs::write(&path, output.stdout).expect("saving pebble's root");
        path
    }

    /// Everything pebble logged.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("pebble.log")).unwrap_or_default()
    }
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A CA and a certificate for 127.0.0.1 signed by it, for pebble's HTTPS; returns the CA.
fn make_pki(dir: &Path) -> PathBuf {
    let run = |args: &[&str]| {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .expect("running openssl");
        assert!(output.status.success(), "openssl {args:?} failed");
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509", "-days", "2", "-subj", "/CN=ephpm test CA"];
    ca.extend(ec);
    ca.extend(["-keyout", "ca.key", "-out", "ca.crt"]);
    run(&ca);
    let mut request = vec!["req", "-subj", "/CN=127.0.0.1"];
    request.extend(ec);
    request.extend(["-keyout", "pebble.key", "-out", "pebble.csr"]);
    run(&request);
    fs::write(
        dir.join("san.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .expect("writing the SAN extension");
    run(&[
        "x509",
        "-req",
        "-in",
        "pebble.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.cnf",
        "-out",
        "pebble.crt",
    ]);
    dir.join("ca.crt")
}

fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "pebble did not listen on {port}");
        thread::sleep(Duration::from_millis(50));
    }
}
