//! A real MariaDB primary + replica for the MySQL proxy's end-to-end tests, run by
//! `scripts/mariadb-pair.sh` in a temporary directory (private datadirs, loopback ports, GTID
//! replication, `read_only=1` on the replica).
//!
//! Accounts: `ephpm` / `ephpm-pass` (every privilege except SUPER and READ_ONLY ADMIN, so the
//! replica's read_only applies to it) and `root` over the nodes' Unix sockets (what
//! [`MariaDbPair::sql`] uses). The database `app` exists on both nodes.

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::{free_ports, key_values, run_with_timeout};

/// The application user on both nodes.
pub const MARIADB_USER: &str = "ephpm";
/// The application user's password.
pub const MARIADB_PASSWORD: &str = "ephpm-pass";
/// How long `start` may take (a fresh pair takes a few seconds; the bound covers a loaded machine).
const START_TIMEOUT: Duration = Duration::from_secs(180);
/// How long any other subcommand may take (`stop` waits up to 20 s per node).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// How long [`MariaDbPair::wait_for_replica`] waits.
const REPLICA_WAIT_SECONDS: u32 = 30;

/// One node of the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    Primary,
    Replica,
}

impl Node {
    fn name(self) -> &'static str {
        match self {
            Node::Primary => "primary",
            Node::Replica => "replica",
        }
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A MariaDB primary and replica started with scripts/mariadb-pair.sh in a temp dir; stopped on drop.
pub struct MariaDbPair {
    pub primary_port: u16,
    pub replica_port: u16,
    dir: TempDir,
}

impl MariaDbPair {
    /// Starts a pair (max_connections for the primary: None = default). Panics with the script's output on failure.
    pub fn start(max_connections: Option<u32>) -> MariaDbPair {
        let dir = tempfile::Builder::new()
            .prefix("mariadb-pair.")
            .tempdir()
            .expect("creating the MariaDB pair's temporary directory");
        // The ports were free a moment ago; another test may take one before the servers bind
        // it, so a taken port is retried with fresh ones.
        let mut attempt = 0;
        loop {
            attempt += 1;
            let [primary_port, replica_port] = free_ports();
            let mut args = vec![
                "start".to_string(),
                dir.path().display().to_string(),
                primary_port.to_string(),
                replica_port.to_string(),
            ];
            if let Some(max) = max_connections {
                args.push("--max-connections".to_string());
                args.push(max.to_string());
            }
            let output = run_script(&args, START_TIMEOUT);
            let stderr = String::from_utf8_lossy(&output.stderr);
            if output.status.success() {
                return MariaDbPair {
                    primary_port,
                    replica_port,
                    dir,
                };
            }
            // Whatever half-started must not keep running.
            let _ = run_script(
                &["stop".to_string(), dir.path().display().to_string()],
                COMMAND_TIMEOUT,
            );
            if attempt < 3 && stderr.contains("already in use") {
                continue;
            }
            panic!(
                "scripts/mariadb-pair.sh {args:?} failed with {}\nstdout:\n{}\nstderr:\n{stderr}",
                output.status,
                String::from_utf8_lossy(&output.stdout)
            );
        }
    }

    /// `mysql://ephpm:ephpm-pass@127.0.0.1:PORT/DATABASE` for the primary.
    pub fn primary_url(&self, database: &str) -> String {
        mysql_url(self.primary_port, database)
    }

    /// `mysql://ephpm:ephpm-pass@127.0.0.1:PORT/DATABASE` for the replica.
    pub fn replica_url(&self, database: &str) -> String {
        mysql_url(self.replica_port, database)
    }

    /// The loopback port of `node`.
    pub fn port(&self, node: Node) -> u16 {
        match node {
            Node::Primary => self.primary_port,
            Node::Replica => self.replica_port,
        }
    }

    /// The directory holding the datadirs, sockets and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The error log of `node` so far.
    pub fn error_log(&self, node: Node) -> String {
        fs::read_to_string(self.dir.path().join(format!("{node}.err"))).unwrap_or_default()
    }

    /// Runs `sql` as root over the node's Unix socket (via the script); returns stdout trimmed
    /// (rows on lines, columns separated by tabs, no column names). Panics on error with stderr.
    pub fn sql(&self, node: Node, sql: &str) -> String {
        self.script_stdout(&["sql", node.name(), sql])
    }

    /// Runs `sql` as the application user (`ephpm`) over TCP with the `mariadb` client, the way
    /// an application connects; `Err(stderr)` when the client fails (e.g. ERROR 1290 for a
    /// write on the read-only replica).
    pub fn app_sql(&self, node: Node, sql: &str) -> Result<String, String> {
        let mut command = Command::new("mariadb");
        command
            .arg("--no-defaults")
            .args(["-h", "127.0.0.1", "-P", &self.port(node).to_string()])
            .arg(format!("-u{MARIADB_USER}"))
            .arg(format!("-p{MARIADB_PASSWORD}"))
            .args(["-N", "-B", "-e", sql]);
        let output = run_with_timeout(&mut command, COMMAND_TIMEOUT);
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
        }
    }

    /// Stops the primary (SIGTERM; the replica keeps retrying to connect every second).
    pub fn stop_primary(&self) {
        self.script_stdout(&["stop-primary"]);
    }

    /// Starts the primary again with the same datadir, port and settings.
    pub fn start_primary(&self) {
        self.script_stdout(&["start-primary"]);
    }

    /// `STOP SLAVE` on the replica.
    pub fn stop_replication(&self) {
        self.script_stdout(&["stop-replication"]);
    }

    /// `START SLAVE` on the replica.
    pub fn start_replication(&self) {
        self.script_stdout(&["start-replication"]);
    }

    /// Makes the replica apply events `seconds` late (`MASTER_DELAY`; 0 turns it off).
    pub fn delay_replication(&self, seconds: u32) {
        self.script_stdout(&["delay-replication", &seconds.to_string()]);
    }

    /// Waits until the replica has applied everything the primary has (compares gtid positions; timeout 30 s).
    pub fn wait_for_replica(&self) {
        self.script_stdout(&["wait-replica", &REPLICA_WAIT_SECONDS.to_string()]);
    }

    /// The replica's `Slave_IO_Running`, `Slave_SQL_Running`, `Seconds_Behind_Master`,
    /// `Last_IO_Error`, `Last_SQL_Error`, `Gtid_IO_Pos` and `Gtid_Slave_Pos`.
    pub fn replication_status(&self) -> Vec<(String, String)> {
        key_values(&self.script_stdout(&["status"]))
    }

    /// One field of [`replication_status`](Self::replication_status) (empty when absent).
    pub fn replication_field(&self, field: &str) -> String {
        self.replication_status()
            .into_iter()
            .find(|(key, _)| key == field)
            .map(|(_, value)| value)
            .unwrap_or_default()
    }

    /// Waits up to `timeout` for the replica's `field` (e.g. `Slave_IO_Running`) to read
    /// `expected`; panics with the whole status otherwise.
    pub fn wait_for_replication_field(&self, field: &str, expected: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if self.replication_field(field) == expected {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "the replica's {field} did not become {expected:?} within {timeout:?}: {:?}\n--- replica error log ---\n{}",
                    self.replication_status(),
                    self.error_log(Node::Replica)
                );
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Runs a subcommand on this pair's directory; its stdout trimmed. Panics when it fails.
    fn script_stdout(&self, args: &[&str]) -> String {
        let mut all = vec![args[0].to_string(), self.dir.path().display().to_string()];
        all.extend(args[1..].iter().map(|arg| arg.to_string()));
        let output = run_script(&all, COMMAND_TIMEOUT);
        assert!(
            output.status.success(),
            "scripts/mariadb-pair.sh {all:?} failed with {}\nstdout:\n{}\nstderr:\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }
}

impl Drop for MariaDbPair {
    fn drop(&mut self) {
        // Not run_with_timeout: a panic here while unwinding would abort the test binary. The
        // script bounds the stop itself (SIGKILL after 20 s per node).
        let _ = Command::new("bash")
            .arg(script_path())
            .arg("stop")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn mysql_url(port: u16, database: &str) -> String {
    format!("mysql://{MARIADB_USER}:{MARIADB_PASSWORD}@127.0.0.1:{port}/{database}")
}

fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/mariadb-pair.sh")
}

fn run_script(args: &[String], timeout: Duration) -> Output {
    let mut command = Command::new("bash");
    command.arg(script_path()).args(args);
    run_with_timeout(&mut command, timeout)
}
