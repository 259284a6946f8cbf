//! Harness for the end-to-end tests: starts the real `ephpm` binary on a free loopback port,
//! serving a fresh copy of `tests/fixtures/docroot`, and talks to it with `curl` (the real HTTP
//! client) or with raw `TcpStream`s (for protocol-level checks).
//!
//! Every test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub mod mariadb;
pub mod pebble;

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a stopped server may take to exit.
const EXIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Upper bound on any single curl invocation, so that a hung server fails the test instead of
/// hanging the suite.
pub const CURL_MAX_TIME: &str = "30";
/// Read timeout for raw sockets.
pub const RAW_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// The `ephpm` binary built by cargo for these tests.
pub fn ephpm_binary() -> &'static str {
    env!("CARGO_BIN_EXE_ephpm")
}

/// Path of a file under `tests/fixtures`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(relative)
}

/// How to start a server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// `--cores`.
    pub cores: usize,
    /// `--threads` (PHP threads per core).
    pub threads: usize,
    /// Extra environment variables, e.g. `EPHPM_SERVER__MAX_BODY_SIZE`.
    pub env: Vec<(String, String)>,
    /// `--php-ini KEY=VALUE` entries.
    pub php_ini: Vec<(String, String)>,
    /// Contents of an `ephpm.toml` passed with `--config`.
    pub config_toml: Option<String>,
    /// Docroot-relative paths removed from the fixture copy before the server starts.
    pub remove: Vec<String>,
    /// Serve a copy of this tree (symlinks followed) instead of `tests/fixtures/docroot`.
    pub docroot_source: Option<PathBuf>,
    /// Called with the docroot copy and the database port before the server starts.
    pub setup: Option<fn(&Path, u16)>,
    /// Run the server under `prlimit --nofile=N:N` (soft and hard open-file limit).
    pub nofile: Option<u64>,
    /// Listen on this port instead of a free one chosen at start.
    pub port: Option<u16>,
    /// Serve this directory of the docroot copy (e.g. `public` of an application whose code
    /// lives next to it) instead of the copy itself.
    pub serve_subdir: Option<String>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            cores: 1,
            threads: 4,
            env: Vec::new(),
            php_ini: Vec::new(),
            config_toml: None,
            remove: Vec::new(),
            docroot_source: None,
            setup: None,
            nofile: None,
            port: None,
            serve_subdir: None,
        }
    }
}

impl ServerOptions {
    /// Sets `--cores`.
    pub fn cores(mut self, cores: usize) -> Self {
        self.cores = cores;
        self
    }

    /// Serves `subdir` of the docroot copy.
    pub fn serve_subdir(mut self, subdir: &str) -> Self {
        self.serve_subdir = Some(subdir.to_owned());
        self
    }

    /// Listens on `port` (for peers that must know it before the server starts).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Runs the server with this open-file limit (soft and hard).
    pub fn nofile(mut self, limit: u64) -> Self {
        self.nofile = Some(limit);
        self
    }

    /// Sets `--threads`.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Adds an environment variable for the server process.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Adds a `--php-ini KEY=VALUE` argument.
    pub fn php_ini(mut self, key: &str, value: &str) -> Self {
        self.php_ini.push((key.to_string(), value.to_string()));
        self
    }

    /// Passes a configuration file with these contents.
    pub fn config_toml(mut self, contents: &str) -> Self {
        self.config_toml = Some(contents.to_string());
        self
    }

    /// Removes a docroot-relative path from the fixture copy.
    pub fn without(mut self, relative: &str) -> Self {
        self.remove.push(relative.to_string());
        self
    }

    /// Serves a copy of `source` instead of the fixture docroot.
    pub fn docroot_source(mut self, source: &Path) -> Self {
        self.docroot_source = Some(source.to_path_buf());
        self
    }

    /// Runs `setup(docroot, database_port)` before the server starts.
    pub fn setup(mut self, setup: fn(&Path, u16)) -> Self {
        self.setup = Some(setup);
        self
    }
}

/// A running `ephpm serve`, killed with SIGKILL when dropped.
pub struct Server {
    child: Option<Child>,
    dir: TempDir,
    docroot: PathBuf,
    addr: SocketAddr,
    db_port: u16,
    kv_port: u16,
    node_api_port: u16,
}

impl Server {
    /// Starts a server with the default options.
    pub fn start_default() -> Server {
        Server::start(ServerOptions::default())
    }

    /// Starts a server and waits until it accepts connections and has logged that it serves.
    pub fn start(options: ServerOptions) -> Server {
        let dir = tempfile::tempdir().expect("creating the server's temporary directory");
        let docroot = dir.path().join("docroot");
        match &options.docroot_source {
            Some(source) => copy_dir(source, &docroot),
            None => {
                copy_dir(&fixture("docroot"), &docroot);
                write_generated_files(dir.path(), &docroot);
            }
        }
        for relative in &options.remove {
            let path = docroot.join(relative);
            if path.is_dir() {
                fs::remove_dir_all(&path).expect("removing a fixture directory");
            } else {
                fs::remove_file(&path).expect("removing a fixture file");
            }
        }
        let [free_port, db_port, kv_port, node_api_port] = free_ports();
        let port = options.port.unwrap_or(free_port);
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        if let Some(setup) = options.setup {
            setup(&docroot, db_port);
        }

        let mut command = match options.nofile {
            Some(limit) => {
                let mut command = Command::new("prlimit");
                command
                    .arg(format!("--nofile={limit}:{limit}"))
                    .arg("--")
                    .arg(ephpm_binary());
                command
            }
            None => Command::new(ephpm_binary()),
        };
        command
            .arg("serve")
            .arg("--root")
            .arg(match &options.serve_subdir {
                Some(subdir) => docroot.join(subdir),
                None => docroot.clone(),
            })
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--cores")
            .arg(options.cores.to_string())
            .arg("--threads")
            .arg(options.threads.to_string());
        for (key, value) in &options.php_ini {
            command.arg("--php-ini").arg(format!("{key}={value}"));
        }
        if let Some(contents) = &options.config_toml {
            let path = dir.path().join("ephpm.toml");
            fs::write(&path, contents).expect("writing the configuration file");
            command.arg("--config").arg(path);
        }
        clear_ephpm_env(&mut command);
        // Each server gets its own database port; its data lives in the temporary directory
        // (the default `.ephpm/data` below the working directory).
        command.env("EPHPM_DB__LISTEN", format!("127.0.0.1:{db_port}"));
        command.env("EPHPM_KV__LISTEN", format!("127.0.0.1:{kv_port}"));
        command.env(
            "EPHPM_NODE_API__LISTEN",
            format!("127.0.0.1:{node_api_port}"),
        );
        command.envs(options.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let stdout = fs::File::create(dir.path().join("stdout.log")).expect("creating stdout.log");
        let stderr = fs::File::create(dir.path().join("stderr.log")).expect("creating stderr.log");
        command
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        let child = command.spawn().expect("spawning ephpm serve");

        let mut server = Server {
            child: Some(child),
            dir,
            docroot,
            addr,
            db_port,
            kv_port,
            node_api_port,
        };
        server.wait_until_ready();
        server
    }

    /// The port of the server's node API (`/metrics`, `/api/...`).
    pub fn node_api_port(&self) -> u16 {
        self.node_api_port
    }

    /// The port of the server's built-in Redis-compatible store.
    pub fn kv_port(&self) -> u16 {
        self.kv_port
    }

    /// The port of the server's built-in MySQL-protocol database.
    pub fn db_port(&self) -> u16 {
        self.db_port
    }

    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("polling the server") {
                panic!(
                    "ephpm serve exited during start-up with {status}\n--- server log ---\n{}",
                    self.log()
                );
            }
            let accepting =
                TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)).is_ok();
            if accepting && self.log().contains("serving") {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "ephpm serve was not ready on {} after {START_TIMEOUT:?} (accepting: {accepting})\n--- server log ---\n{}",
                    self.addr,
                    self.log()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("the server was already stopped")
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The document root the server serves (a copy of the fixtures).
    pub fn docroot(&self) -> &Path {
        &self.docroot
    }

    /// The temporary directory holding the docroot, the logs and anything else of this server.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.child
            .as_ref()
            .expect("the server was already stopped")
            .id()
    }

    /// `http://127.0.0.1:PORT` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Everything the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        let read = |name: &str| fs::read_to_string(self.dir.path().join(name)).unwrap_or_default();
        format!("{}{}", read("stderr.log"), read("stdout.log"))
    }

    /// Waits up to `timeout` for `needle` to appear in the server log.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log().contains(needle) {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs curl against `path` with extra arguments placed before the URL.
    pub fn curl(&self, path: &str, args: &[&str]) -> Response {
        let mut all: Vec<&str> = args.to_vec();
        let url = self.url(path);
        all.push(&url);
        curl(&all)
    }

    /// A plain GET of `path` with curl.
    pub fn get(&self, path: &str) -> Response {
        self.curl(path, &[])
    }

    /// Opens a raw connection with a read timeout of [`RAW_READ_TIMEOUT`].
    pub fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connecting to the server");
        stream
            .set_read_timeout(Some(RAW_READ_TIMEOUT))
            .expect("setting a read timeout");
        stream.set_nodelay(true).expect("setting TCP_NODELAY");
        stream
    }

    /// Writes `request` on a new connection and reads until the server closes it or
    /// [`RAW_READ_TIMEOUT`] passes.
    pub fn raw(&self, request: &[u8]) -> Vec<u8> {
        self.raw_exchange(request, RAW_READ_TIMEOUT).bytes
    }

    /// Writes `request` on a new connection and reads until the server closes it or `timeout`
    /// passes, reporting which of the two happened.
    pub fn raw_exchange(&self, request: &[u8], timeout: Duration) -> RawExchange {
        let mut stream = self.connect();
        // The server may answer and close before it read everything (e.g. a 413); a failed
        // write is not an error here, the response is what matters.
        let _ = stream.write_all(request);
        read_until_close(&mut stream, timeout)
    }

    /// Sends `signal` (a name for `kill -s`, e.g. "TERM") and waits for the process to exit.
    pub fn stop_with(&mut self, signal: &str) -> ExitStatus {
        self.signal(signal);
        self.wait_for_exit(EXIT_TIMEOUT).unwrap_or_else(|| {
            panic!(
                "ephpm serve did not exit after SIG{signal}\n--- server log ---\n{}",
                self.log()
            )
        })
    }

    /// Sends `signal` (a name for `kill -s`) without waiting.
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg("-s")
            .arg(signal)
            .arg(self.pid().to_string())
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -s {signal} failed");
    }

    /// Waits up to `timeout` for the process to exit; `None` if it is still running.
    pub fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("polling the server") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Picks a port that was free a moment ago.
/// `N` distinct free loopback ports: all are bound at once, so the kernel cannot hand out the
/// same ephemeral port twice (as it may after each listener is closed in turn).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("binding an ephemeral port"))
        .collect();
    std::array::from_fn(|i| {
        listeners[i]
            .local_addr()
            .expect("reading the local address")
            .port()
    })
}

/// Removes any `EPHPM_*` variable inherited from the environment running the tests.
fn clear_ephpm_env(command: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("EPHPM_") {
            command.env_remove(key);
        }
    }
}

/// Copies a tree, following symlinks (Debian's WordPress links into /etc and /var/lib).
fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("creating a directory");
    for entry in fs::read_dir(from).expect("reading a fixture directory") {
        let entry = entry.expect("reading a fixture entry");
        let target = to.join(entry.file_name());
        if fs::metadata(entry.path())
            .expect("reading file metadata")
            .is_dir()
        {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copying a fixture file");
        }
    }
}

/// Marker placed in every file that must never be disclosed.
pub const SECRET_MARKER: &str = "EPHPM-SECRET-MARKER";

/// Files that git cannot (or should not) track, created in every docroot at start: dotfiles, a
/// `.git` directory, PHP source variants, and a secret just outside the docroot.
fn write_generated_files(dir: &Path, docroot: &Path) {
    let secret_php = format!("<?php\n// {SECRET_MARKER}\n$password = 'hunter2';\n");
    let files: [(PathBuf, String); 7] = [
        (
            dir.join("secret.txt"),
            format!("{SECRET_MARKER} outside the docroot\n"),
        ),
        (
            docroot.join(".env"),
            format!("DB_PASSWORD={SECRET_MARKER}\n"),
        ),
        (
            docroot.join(".htaccess"),
            format!("# {SECRET_MARKER}\nDeny from all\n"),
        ),
        (
            docroot.join(".git/config"),
            format!("[core]\n# {SECRET_MARKER}\n"),
        ),
        (docroot.join("index.php~"), secret_php.clone()),
        (docroot.join("x.inc"), secret_php.clone()),
        (docroot.join("source.phps"), secret_php),
    ];
    for (path, contents) in files {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).expect("creating a directory");
        }
        fs::write(&path, contents).expect("writing a generated file");
    }
}

/// A response as curl saw it (the last one when there were interim or redirect responses).
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code; 0 when curl got no response at all.
    pub status: u16,
    /// Header fields in order, names as sent.
    pub headers: Vec<(String, String)>,
    /// The body bytes exactly as received (curl does not decode unless asked to).
    pub body: Vec<u8>,
    /// How long curl ran.
    pub elapsed: Duration,
    /// curl's exit code.
    pub curl_exit: Option<i32>,
    /// curl's stderr.
    pub curl_stderr: String,
}

impl Response {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Every header with this name (case-insensitive).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Parses `KEY=value` lines of the body into pairs.
    pub fn key_values(&self) -> Vec<(String, String)> {
        key_values(&self.text())
    }

    /// The value of `key` in the body's `KEY=value` lines.
    pub fn value(&self, key: &str) -> Option<String> {
        self.key_values()
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }
}

/// Parses `KEY=value` lines (split at the first `=`).
pub fn key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// Runs curl with `args` (which must include the URL) and panics unless curl received a complete
/// response: a truncated body, a hang until `--max-time` or a reset fail the test.
pub fn curl(args: &[&str]) -> Response {
    let response = curl_unchecked(args);
    assert_eq!(
        response.curl_exit,
        Some(0),
        "curl {args:?} failed after {:?}: {}status {} headers {:?}",
        response.elapsed,
        response.curl_stderr,
        response.status,
        response.headers
    );
    response
}

/// Runs curl with `args` (which must include the URL), whatever its outcome; the headers and
/// body go to temporary files so that binary bodies and several header blocks are kept intact.
pub fn curl_unchecked(args: &[&str]) -> Response {
    let scratch = tempfile::tempdir().expect("creating a scratch directory for curl");
    let header_file = scratch.path().join("headers");
    let body_file = scratch.path().join("body");
    let started = Instant::now();
    let output: Output = Command::new("curl")
        .arg("-sS")
        .arg("--max-time")
        .arg(CURL_MAX_TIME)
        .arg("-D")
        .arg(&header_file)
        .arg("-o")
        .arg(&body_file)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("running curl (apt-get install curl)");
    let elapsed = started.elapsed();
    let head = fs::read_to_string(&header_file).unwrap_or_default();
    let (status, headers) = parse_last_head(&head);
    Response {
        status,
        headers,
        body: fs::read(&body_file).unwrap_or_default(),
        elapsed,
        curl_exit: output.status.code(),
        curl_stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Parses the last header block of a `curl -D` dump.
fn parse_last_head(dump: &str) -> (u16, Vec<(String, String)>) {
    let normalized = dump.replace("\r\n", "\n");
    let Some(block) = normalized
        .split("\n\n")
        .filter(|block| block.starts_with("HTTP/"))
        .last()
    else {
        return (0, Vec::new());
    };
    let mut lines = block.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    (status, headers)
}

/// What came back on a raw connection.
#[derive(Debug)]
pub struct RawExchange {
    /// Every byte read.
    pub bytes: Vec<u8>,
    /// True when the server closed (EOF or reset), false when the read timed out.
    pub closed: bool,
    /// Time from the start of reading to the close or the timeout.
    pub elapsed: Duration,
}

impl RawExchange {
    /// The bytes read, as lossy UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    /// The responses in the bytes read.
    pub fn responses(&self) -> Vec<RawResponse> {
        parse_responses(&self.bytes)
    }
}

/// Reads from `stream` until EOF, a reset, or `timeout`.
pub fn read_until_close(stream: &mut TcpStream, timeout: Duration) -> RawExchange {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        let left = timeout.saturating_sub(started.elapsed());
        if left.is_zero() {
            return RawExchange {
                bytes,
                closed: false,
                elapsed: started.elapsed(),
            };
        }
        stream
            .set_read_timeout(Some(left))
            .expect("setting a read timeout");
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => bytes.extend_from_slice(&buffer[..n]),
            Err(err) if is_timeout(&err) => {
                return RawExchange {
                    bytes,
                    closed: false,
                    elapsed: started.elapsed(),
                }
            }
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            // A reset (e.g. the server closed with unread input) counts as closing.
            Err(_) => break,
        }
    }
    RawExchange {
        bytes,
        closed: true,
        elapsed: started.elapsed(),
    }
}

/// True for the errors a socket read timeout produces.
pub fn is_timeout(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// One response parsed from raw bytes.
#[derive(Debug, Clone)]
pub struct RawResponse {
    /// The protocol version in the status line, e.g. `HTTP/1.1`.
    pub version: String,
    /// The status code.
    pub status: u16,
    /// Header fields in order.
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// True when the body was chunked.
    pub chunked: bool,
}

impl RawResponse {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// The body as (lossy) UTF-8.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// True when the server announced it will close the connection.
    pub fn closes(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// Parses every complete response in `bytes` (bodies of responses without framing run to the
/// end). Parsing stops at the first malformed or incomplete response.
pub fn parse_responses(bytes: &[u8]) -> Vec<RawResponse> {
    let mut reader = BufReader::new(bytes);
    let mut responses = Vec::new();
    while let Ok(Some(response)) = read_response(&mut reader, false) {
        responses.push(response);
    }
    responses
}

/// Reads one response from `reader`; `Ok(None)` at a clean EOF before any byte. `head_request`
/// tells that the response answers a HEAD (so it has no body whatever its headers say).
pub fn read_response(
    reader: &mut impl BufRead,
    head_request: bool,
) -> io::Result<Option<RawResponse>> {
    let Some(status_line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default().to_string();
    let status: u16 = parts
        .next()
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| invalid(format!("bad status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("EOF in response head".into()))?;
        if line.is_empty() {
            break;
        }
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| invalid(format!("bad header line {line:?}")))?;
        headers.push((name.trim().to_string(), value.trim().to_string()));
    }
    let chunked = find_header(&headers, "transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    let no_body = head_request || (100..200).contains(&status) || status == 204 || status == 304;
    let body = if no_body {
        Vec::new()
    } else if chunked {
        read_chunked(reader)?
    } else if let Some(length) = find_header(&headers, "content-length") {
        let length: usize = length
            .parse()
            .map_err(|_| invalid(format!("bad Content-Length {length:?}")))?;
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        body
    };
    Ok(Some(RawResponse {
        version,
        status,
        headers,
        body,
        chunked,
    }))
}

fn read_chunked(reader: &mut impl BufRead) -> io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.ok_or_else(|| invalid("EOF in chunk size".into()))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| invalid(format!("bad chunk size {line:?}")))?;
        if size == 0 {
            // Trailers, then the blank line.
            while let Some(trailer) = read_line(reader)? {
                if trailer.is_empty() {
                    break;
                }
            }
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let end = read_line(reader)?;
        if end.as_deref() != Some("") {
            return Err(invalid("chunk not followed by CRLF".into()));
        }
    }
}

/// Reads a CRLF- (or LF-) terminated line without its terminator; `None` at EOF before any byte.
fn read_line(reader: &mut impl BufRead) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let read = reader.read_until(b'\n', &mut line)?;
    if read == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') {
        return Err(invalid("EOF in the middle of a line".into()));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// A keep-alive client over one raw connection.
pub struct RawClient {
    reader: BufReader<TcpStream>,
}

impl RawClient {
    /// Connects to `server`.
    pub fn connect(server: &Server) -> RawClient {
        RawClient {
            reader: BufReader::new(server.connect()),
        }
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.reader
            .get_mut()
            .write_all(bytes)
            .expect("writing to the server");
    }

    /// Reads the next response (panics on EOF, a timeout or a malformed response).
    pub fn receive(&mut self) -> RawResponse {
        self.try_receive(false)
            .expect("reading a response")
            .expect("the server closed the connection instead of answering")
    }

    /// Reads the next response to a HEAD request.
    pub fn receive_head(&mut self) -> RawResponse {
        self.try_receive(true)
            .expect("reading a response")
            .expect("the server closed the connection instead of answering")
    }

    /// Reads the next response, `Ok(None)` at EOF.
    pub fn try_receive(&mut self, head_request: bool) -> io::Result<Option<RawResponse>> {
        read_response(&mut self.reader, head_request)
    }

    /// True when the server closes the connection within `timeout` without sending anything else.
    pub fn closed_within(&mut self, timeout: Duration) -> bool {
        let stream = self.reader.get_mut();
        let exchange = read_until_close(stream, timeout);
        exchange.closed && exchange.bytes.is_empty() && self.reader.buffer().is_empty()
    }

    /// Half-closes the write side.
    pub fn shutdown_write(&mut self) {
        let _ = self.reader.get_ref().shutdown(Shutdown::Write);
    }

    /// The underlying stream.
    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }
}

/// A minimal GET request for `path` with a Host header.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
}

/// Runs the binary with `args` (not `serve`), with a timeout, in a scratch directory.
pub fn run_ephpm(args: &[&str], timeout: Duration) -> Output {
    let scratch = tempfile::tempdir().expect("creating a scratch directory");
    let mut command = Command::new(ephpm_binary());
    command.args(args).current_dir(scratch.path());
    clear_ephpm_env(&mut command);
    run_with_timeout(&mut command, timeout)
}

/// Runs `command` to completion within `timeout` (killed and failing the test after it), its
/// output captured.
pub fn run_with_timeout(command: &mut Command, timeout: Duration) -> Output {
    let scratch = tempfile::tempdir().expect("creating a scratch directory");
    let stdout_path = scratch.path().join("stdout");
    let stderr_path = scratch.path().join("stderr");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(fs::File::create(&stdout_path).expect("creating stdout"))
        .stderr(fs::File::create(&stderr_path).expect("creating stderr"))
        .spawn()
        .unwrap_or_else(|err| panic!("spawning {command:?}: {err}"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("polling a child") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} did not exit within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
                fs::read_to_string(&stdout_path).unwrap_or_default(),
                fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: fs::read(&stdout_path).unwrap_or_default(),
        stderr: fs::read(&stderr_path).unwrap_or_default(),
    }
}

/// Runs `redis-cli` against the loopback port `port`; returns its output without the trailing
/// newline (it must exit 0).
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new("redis-cli")
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("running redis-cli (apt package redis-tools)");
    assert!(
        output.status.success(),
        "redis-cli {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string()
}

/// Runs `sql` with the `mysql` client as root on the built-in database `ephpm` at `port`, in
/// batch mode without column names.
fn mysql_output(port: u16, sql: &str) -> Output {
    Command::new("mysql")
        .args([
            "-h127.0.0.1",
            &format!("-P{port}"),
            "-uroot",
            "--batch",
            "--skip-column-names",
        ])
        .args(["ephpm", "-e", sql])
        .output()
        .expect("running the mysql client (apt package mariadb-client)")
}

/// Runs wrk with `args` against `url` and returns its report, which must show neither socket
/// errors nor non-2xx answers.
pub fn wrk_clean(args: &[&str], url: &str) -> String {
    let output = Command::new("wrk")
        .args(args)
        .arg(url)
        .output()
        .expect("running wrk (apt-get install wrk)");
    let report = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    report
}

/// [`mysql_output`] of a statement that must succeed: its output.
pub fn mysql(port: u16, sql: &str) -> String {
    let output = mysql_output(port, sql);
    assert!(
        output.status.success(),
        "mysql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// [`mysql_output`] of a statement that must fail: its error output.
pub fn mysql_error(port: u16, sql: &str) -> String {
    let output = mysql_output(port, sql);
    assert!(!output.status.success(), "{sql} succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A raw TCP connection to a loopback port, reads timing out after [`RAW_READ_TIMEOUT`].
pub fn tcp_connect(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).expect("connecting");
    stream
        .set_read_timeout(Some(RAW_READ_TIMEOUT))
        .expect("setting a read timeout");
    stream
}

/// Writes `request` and reads until `done` says the answer is complete, the server closes, or
/// a read times out.
pub fn send_and_read(
    stream: &mut TcpStream,
    request: &[u8],
    done: impl Fn(&[u8]) -> bool,
) -> Vec<u8> {
    stream.write_all(request).expect("writing");
    let mut answer = Vec::new();
    let mut buf = [0u8; 8192];
    while !done(&answer) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    answer
}

/// A self-signed ECDSA certificate for `localhost` and 127.0.0.1, and its key, in `dir`.
pub fn make_certificate(dir: &Path) -> (PathBuf, PathBuf) {
    make_named_certificate(dir, "localhost", "DNS:localhost,IP:127.0.0.1")
}

/// A self-signed ECDSA certificate with common name `name` and the subject alternative names
/// `alt_names`, and its key, in `dir`.
pub fn make_named_certificate(dir: &Path, name: &str, alt_names: &str) -> (PathBuf, PathBuf) {
    let (cert, key) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    let status = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec"])
        .args([
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
        ])
        .args(["-subj", &format!("/CN={name}")])
        .args(["-addext", &format!("subjectAltName={alt_names}")])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("running openssl");
    assert!(status.status.success(), "openssl req failed");
    (cert, key)
}

/// A server with HTTPS on its own port (a self-signed certificate for `localhost`); returns
/// it, the port, the certificate and the directory holding it.
pub fn https_server(options: ServerOptions) -> (Server, u16, PathBuf, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("a directory for the certificate");
    let (cert, key) = make_certificate(dir.path());
    let [port] = free_ports();
    let server = Server::start(
        options
            .env("EPHPM_SERVER__TLS__LISTEN", &format!("127.0.0.1:{port}"))
            .env("EPHPM_SERVER__TLS__CERT", &cert.to_string_lossy())
            .env("EPHPM_SERVER__TLS__KEY", &key.to_string_lossy()),
    );
    assert!(server
        .log()
        .contains(&format!("HTTPS on https://127.0.0.1:{port}")));
    (server, port, cert, dir)
}
