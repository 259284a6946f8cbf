//! The MySQL proxy end to end: `ephpm serve` with `db.mysql.url` in front of a real MariaDB
//! primary and replica, driven by PHP (PDO, mysqli), the `mysql` client and sysbench, and
//! observed through the node API.

mod common;

use std::process::{Command, Output};
use std::thread;
use std::time::{Duration, Instant};

use common::mariadb::{MariaDbPair, Node, MARIADB_PASSWORD, MARIADB_USER};
use common::{fixture, run_with_timeout, Server, ServerOptions};
use serde_json::Value;

/// A server proxying to `pair`'s primary (and replica unless `replica` is false).
fn proxy(pair: &MariaDbPair, extra: &[(&str, &str)]) -> Server {
    let mut options = ServerOptions::default()
        .docroot_source(&fixture("proxy"))
        .env("EPHPM_DB__MYSQL__URL", &pair.primary_url("app"))
        .env("EPHPM_DB__MYSQL__REPLICAS__URLS", &pair.replica_url("app"))
        .env("EPHPM_DB__MYSQL__HEALTH_CHECK_INTERVAL", "500ms")
        .env("EPHPM_DB__MYSQL__REPLICAS__LAG_CHECK_INTERVAL", "200ms")
        .env("EPHPM_DB__MYSQL__SLOW_QUERY_THRESHOLD", "300ms")
        .env("EPHPM_LOG__LEVEL", "info");
    for (key, value) in extra {
        options = options.env(key, value);
    }
    Server::start(options)
}

/// The `mysql` client as the application user on the proxy at `port`, running `sql` in
/// `database`.
fn mysql_command(port: u16, database: &str, sql: &str) -> Command {
    let mut command = Command::new("mysql");
    command.args([
        "--no-defaults",
        "-h127.0.0.1",
        &format!("-P{port}"),
        &format!("-u{MARIADB_USER}"),
        &format!("-p{MARIADB_PASSWORD}"),
        "--batch",
        "--skip-column-names",
        database,
        "-e",
        sql,
    ]);
    command
}

/// Runs `sql` through the proxy with the `mysql` client as the application user.
fn mysql(server: &Server, sql: &str) -> Output {
    let mut command = mysql_command(server.db_port(), "app", sql);
    run_with_timeout(&mut command, Duration::from_secs(60))
}

/// `mysql` that must succeed; its trimmed output.
fn mysql_ok(server: &Server, sql: &str) -> String {
    let output = mysql(server, sql);
    assert!(
        output.status.success(),
        "mysql -e {sql:?} failed: {}\nserver log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        server.log()
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// GET a node API path as JSON.
fn node_api(server: &Server, path: &str) -> Value {
    let url = format!("http://127.0.0.1:{}{path}", server.node_api_port());
    let response = common::curl(&["-sS", &url]);
    serde_json::from_str(&response.text())
        .unwrap_or_else(|err| panic!("{path} is not JSON ({err}): {}", response.text()))
}

/// Hostgroups of the digest rows whose text contains `needle`.
fn hostgroups_of(server: &Server, needle: &str) -> Vec<u64> {
    let digests = node_api(server, "/api/db/digests");
    let rows = digests.as_array().expect("digests are an array");
    let mut groups: Vec<u64> = rows
        .iter()
        .filter(|row| row["digest_text"].as_str().unwrap_or("").contains(needle))
        .filter_map(|row| row["hostgroup"].as_u64())
        .collect();
    groups.sort_unstable();
    groups.dedup();
    groups
}

fn replica_in_rotation(server: &Server) -> bool {
    node_api(server, "/api/db/pool")["replicas"][0]["in_rotation"]
        .as_bool()
        .unwrap_or(false)
}

/// Polls `condition` every 100 ms for up to `timeout`.
fn eventually(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        thread::sleep(Duration::from_millis(100));
    }
    condition()
}

#[test]
fn php_clients_routing_transactions_and_node_api() {
    let pair = MariaDbPair::start(None);
    let server = proxy(
        &pair,
        &[("EPHPM_DB__MYSQL__REPLICAS__STICKY_AFTER_WRITE", "2s")],
    );

    // PDO with native prepared statements: types round trip, transactions, error codes.
    let pdo = server.get("/?case=pdo");
    assert_eq!(pdo.value("exception"), None, "{}", pdo.text());
    assert_eq!(pdo.value("name").as_deref(), Some("widget"));
    assert_eq!(pdo.value("price").as_deref(), Some("12.50"));
    assert_eq!(pdo.value("seen").as_deref(), Some("2026-12-04 10:11:12"));
    assert_eq!(pdo.value("hex").as_deref(), Some("00FF01"));
    assert_eq!(pdo.value("n").as_deref(), Some("18446744073709551615"));
    assert_eq!(pdo.value("nothing").as_deref(), Some("NULL"));
    assert_eq!(pdo.value("rolled_back_rows").as_deref(), Some("0"));
    assert_eq!(pdo.value("error_code").as_deref(), Some("1146"));
    assert_eq!(pdo.value("sqlstate").as_deref(), Some("42S02"));

    // mysqli: prepared statements and a transaction that reads its own write.
    let mysqli = server.get("/?case=mysqli");
    assert_eq!(mysqli.value("exception"), None, "{}", mysqli.text());
    assert_eq!(mysqli.value("label").as_deref(), Some("two"));
    assert_eq!(mysqli.value("in_txn_read").as_deref(), Some("uno"));
    assert_eq!(mysqli.value("committed").as_deref(), Some("uno"));

    // Reads go to the replica, writes to the primary; inside a transaction reads stay on
    // the primary.
    mysql_ok(&server, "CREATE TABLE marks (id INT PRIMARY KEY, v INT)");
    pair.wait_for_replica();
    mysql_ok(&server, "SELECT 1 AS plain_read_marker");
    mysql_ok(&server, "INSERT INTO marks VALUES (1, 1)");
    mysql_ok(
        &server,
        "BEGIN; SELECT v AS txn_read_marker FROM marks WHERE id = 1; COMMIT",
    );
    assert_eq!(hostgroups_of(&server, "plain_read_marker"), [1]);
    assert_eq!(hostgroups_of(&server, "INSERT INTO marks"), [0]);
    assert_eq!(hostgroups_of(&server, "txn_read_marker"), [0]);

    // Sticky after write: a read right after a write in the same session goes to the
    // primary; once the window has passed, to the replica again.
    mysql_ok(
        &server,
        "UPDATE marks SET v = 2 WHERE id = 1; \
         SELECT v AS sticky_marker FROM marks WHERE id = 1; \
         SELECT SLEEP(2.2); \
         SELECT 1 AS window_passed_marker",
    );
    assert_eq!(hostgroups_of(&server, "sticky_marker"), [0]);
    assert_eq!(hostgroups_of(&server, "window_passed_marker"), [1]);
    let prepared = server.get("/?case=prepare_write");
    assert_eq!(
        prepared.value("read").as_deref(),
        Some("1"),
        "{}",
        prepared.text()
    );
    assert_eq!(hostgroups_of(&server, "after_prepare_marker"), [1]);

    // SELECT ... FOR UPDATE is a write.
    mysql_ok(
        &server,
        "SELECT v AS locking_marker FROM marks WHERE id = 1 FOR UPDATE",
    );
    assert_eq!(hostgroups_of(&server, "locking_marker"), [0]);

    // Digest rows carry ProxySQL's columns, literals normalized.
    let digests = node_api(&server, "/api/db/digests");
    let insert = digests
        .as_array()
        .and_then(|rows| {
            rows.iter().find(|row| {
                row["digest_text"]
                    .as_str()
                    .is_some_and(|text| text.starts_with("INSERT INTO marks"))
            })
        })
        .expect("a digest for the INSERT");
    assert_eq!(insert["digest_text"], "INSERT INTO marks VALUES (...)");
    for column in [
        "hostgroup",
        "schemaname",
        "username",
        "client_address",
        "digest",
        "count_star",
        "first_seen",
        "last_seen",
        "sum_time",
        "min_time",
        "max_time",
        "sum_rows_affected",
        "sum_rows_sent",
    ] {
        assert!(!insert[column].is_null(), "digest column {column} missing");
    }
    assert_eq!(insert["schemaname"], "app");
    assert_eq!(insert["username"], MARIADB_USER);
    assert_eq!(insert["sum_rows_affected"], 1);

    // The slow log has the SLEEP, with EXPLAIN captured in the background.
    assert!(
        eventually(Duration::from_secs(10), || {
            node_api(&server, "/api/db/slow")
                .as_array()
                .is_some_and(|rows| {
                    rows.iter().any(|row| {
                        row["query"].as_str().is_some_and(|q| q.contains("SLEEP"))
                            && (row["explain"].is_array() || row["explain_error"].is_string())
                    })
                })
        }),
        "slow log: {}",
        node_api(&server, "/api/db/slow")
    );

    // A login naming a database the primary lacks fails at connect time, like MySQL.
    let mut command = mysql_command(server.db_port(), "nosuchdb", "SELECT 1");
    let missing = run_with_timeout(&mut command, Duration::from_secs(60));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("ERROR 1049"), "{stderr}");

    // Pool and Prometheus views.
    let pool = node_api(&server, "/api/db/pool");
    assert_eq!(pool["pools"][0]["role"], "primary");
    assert_eq!(pool["pools"][1]["role"], "replica");
    assert_eq!(pool["replicas"][0]["in_rotation"], true);
    let metrics = common::curl(&[
        "-sS",
        &format!("http://127.0.0.1:{}/metrics", server.node_api_port()),
    ])
    .text();
    assert!(
        metrics.contains("ephpm_db_queries_total{hostgroup=\"1\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("ephpm_db_backend_up{"), "{metrics}");
    // The statements above were relayed by the core's executor, not on threads.
    let relayed: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("ephpm_db_commands_total{path=\"executor\"} "))
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("no executor command count: {metrics}"));
    assert!(relayed > 0, "{metrics}");
}

#[test]
fn multiplexing_keeps_session_state_apart() {
    let pair = MariaDbPair::start(None);
    let server = proxy(
        &pair,
        &[
            ("EPHPM_DB__MYSQL__MIN_CONNECTIONS", "1"),
            ("EPHPM_DB__MYSQL__MAX_CONNECTIONS", "1"),
            ("EPHPM_DB__MYSQL__REPLICAS__READ_WRITE_SPLIT", "false"),
        ],
    );
    let variables = server.get("/?case=variables");
    assert_eq!(variables.value("exception"), None, "{}", variables.text());
    assert_eq!(
        variables.value("b_sql_mode_has_ansi").as_deref(),
        Some("false")
    );
    assert!(variables
        .value("a_sql_mode")
        .is_some_and(|mode| mode.contains("ANSI_QUOTES")));
    assert_ne!(variables.value("a_wait_timeout").as_deref(), Some("1234"));
    assert_eq!(variables.value("b_wait_timeout").as_deref(), Some("1234"));
    assert_eq!(variables.value("a_user_var").as_deref(), Some("7"));
    assert_eq!(variables.value("b_user_var").as_deref(), Some("NULL"));

    // Twelve clients at once share the single backend connection.
    let clients: Vec<_> = (0..12)
        .map(|_| {
            let port = server.db_port();
            thread::spawn(move || {
                let sql = "SELECT SLEEP(0.1) AS multiplexed";
                let mut command = mysql_command(port, "app", sql);
                run_with_timeout(&mut command, Duration::from_secs(60))
            })
        })
        .collect();
    for client in clients {
        let output = client.join().expect("client thread");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let pool = node_api(&server, "/api/db/pool");
    assert_eq!(pool["pools"][0]["total"], 1, "{pool}");

    // A client that disconnects inside a transaction leaves nothing behind: its backend
    // connection is rolled back before the next session gets it.
    mysql_ok(
        &server,
        "CREATE TABLE IF NOT EXISTS dirty (id INT PRIMARY KEY)",
    );
    mysql_ok(&server, "BEGIN; INSERT INTO dirty VALUES (1)");
    assert_eq!(mysql_ok(&server, "SELECT COUNT(*) FROM dirty"), "0");
    assert_eq!(mysql_ok(&server, "SELECT @@in_transaction"), "0");
}

#[test]
fn replica_lag_and_primary_restart() {
    let pair = MariaDbPair::start(None);
    let server = proxy(
        &pair,
        &[("EPHPM_DB__MYSQL__REPLICAS__MAX_REPLICA_LAG", "2s")],
    );
    assert!(eventually(Duration::from_secs(10), || replica_in_rotation(
        &server
    )));

    // A replica that stops replicating gets no reads; reads fall back to the primary.
    pair.stop_replication();
    assert!(
        eventually(Duration::from_secs(10), || !replica_in_rotation(&server)),
        "{}",
        node_api(&server, "/api/db/pool")
    );
    mysql_ok(&server, "SELECT 1 AS while_replica_out_marker");
    assert_eq!(hostgroups_of(&server, "while_replica_out_marker"), [0]);
    pair.start_replication();
    assert!(eventually(Duration::from_secs(20), || replica_in_rotation(
        &server
    )));
    mysql_ok(&server, "SELECT 1 AS replica_back_marker");
    assert_eq!(hostgroups_of(&server, "replica_back_marker"), [1]);

    // A replica that replicates but falls behind max_replica_lag is dropped too, and comes
    // back once it has caught up.
    pair.delay_replication(30);
    mysql_ok(&server, "CREATE TABLE lagging (id INT PRIMARY KEY)");
    // Restarting replication with a delay briefly shows "not replicating" (no lag at all):
    // wait for the replica to be out of rotation because of a measured lag.
    let lagging = || {
        let lag = node_api(&server, "/api/db/pool")["replicas"][0]["lag_seconds"].as_i64();
        !replica_in_rotation(&server) && lag.is_some_and(|seconds| seconds > 2)
    };
    assert!(
        eventually(Duration::from_secs(20), lagging),
        "{}",
        node_api(&server, "/api/db/pool")
    );
    pair.delay_replication(0);
    assert!(eventually(Duration::from_secs(20), || replica_in_rotation(
        &server
    )));

    // Primary down: writes get a clean MySQL error, not a hang or a dropped connection.
    mysql_ok(&server, "CREATE TABLE survivors (id INT PRIMARY KEY)");
    pair.stop_primary();
    let failed = mysql(&server, "INSERT INTO survivors VALUES (1)");
    assert!(!failed.status.success());
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("ERROR 1429") || stderr.contains("ERROR 1158"),
        "{stderr}\nserver log:\n{}",
        server.log()
    );
    assert!(stderr.contains("ePHPm proxy"), "{stderr}");

    // The primary comes back: the proxy recovers on its own.
    pair.start_primary();
    assert!(
        eventually(Duration::from_secs(30), || mysql(
            &server,
            "INSERT INTO survivors VALUES (2)"
        )
        .status
        .success()),
        "server log:\n{}",
        server.log()
    );
    assert_eq!(
        pair.sql(Node::Primary, "SELECT COUNT(*) FROM app.survivors"),
        "1"
    );
}

/// `sysbench oltp_read_write` with `threads` clients against `port`; its output.
fn sysbench(port: u16, threads: u32, seconds: u32, command: &str) -> Output {
    let mut sysbench = Command::new("sysbench");
    sysbench.args([
        "oltp_read_write",
        "--db-driver=mysql",
        "--mysql-host=127.0.0.1",
        &format!("--mysql-port={port}"),
        &format!("--mysql-user={MARIADB_USER}"),
        &format!("--mysql-password={MARIADB_PASSWORD}"),
        "--mysql-db=app",
        "--tables=4",
        "--table-size=20000",
        &format!("--threads={threads}"),
        &format!("--time={seconds}"),
        "--db-ps-mode=disable",
        // Uniform row choice: sysbench's default ("special") concentrates on a few hot rows,
        // where MariaDB deadlocks transactions whoever the client is.
        "--rand-type=uniform",
        command,
    ]);
    run_with_timeout(&mut sysbench, Duration::from_secs(300))
}

#[test]
fn sysbench_256_threads_through_a_30_connection_mariadb() {
    let pair = MariaDbPair::start(Some(30));
    let server = proxy(
        &pair,
        &[
            ("EPHPM_DB__MYSQL__MAX_CONNECTIONS", "20"),
            ("EPHPM_DB__MYSQL__ACQUIRE_TIMEOUT", "60s"),
        ],
    );
    let prepare = sysbench(server.db_port(), 4, 10, "prepare");
    assert!(
        prepare.status.success(),
        "{}",
        String::from_utf8_lossy(&prepare.stderr)
    );
    pair.wait_for_replica();

    let through_proxy = sysbench(server.db_port(), 256, 10, "run");
    let report = String::from_utf8_lossy(&through_proxy.stdout);
    assert!(
        through_proxy.status.success(),
        "sysbench through the proxy failed:\n{report}\n{}",
        String::from_utf8_lossy(&through_proxy.stderr)
    );
    // Any error but the deadlocks and lock timeouts sysbench retries (its default
    // --mysql-ignore-errors) is fatal and fails the run above; those it retries come from
    // MariaDB's row locking, not the proxy, and must stay rare.
    let ignored = report
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("ignored errors:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|count| count.parse::<u64>().ok())
        .expect("sysbench reports its ignored errors");
    assert!(ignored <= 5, "{ignored} retried deadlocks:\n{report}");
    let transactions = report
        .lines()
        .find(|line| line.trim_start().starts_with("transactions:"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        !transactions.contains(" 0 "),
        "no transactions ran: {report}"
    );

    let direct = sysbench(pair.primary_port, 256, 5, "run");
    let direct_report = format!(
        "{}{}",
        String::from_utf8_lossy(&direct.stdout),
        String::from_utf8_lossy(&direct.stderr)
    );
    assert!(
        !direct.status.success() || direct_report.contains("Too many connections"),
        "256 direct clients should exceed max_connections=30:\n{direct_report}"
    );
}

#[test]
fn prepared_statements_follow_the_schema_and_the_socket_proxies_too() {
    let pair = MariaDbPair::start(None);
    let dir = tempfile::tempdir().expect("a directory for the socket");
    let socket = dir.path().join("mysqld.sock");
    let socket_setting = socket.to_string_lossy().into_owned();
    // One backend connection, so the second prepare meets the first one's cache entry.
    let server = proxy(
        &pair,
        &[
            ("EPHPM_DB__MYSQL__MIN_CONNECTIONS", "1"),
            ("EPHPM_DB__MYSQL__MAX_CONNECTIONS", "1"),
            ("EPHPM_DB__MYSQL__REPLICAS__READ_WRITE_SPLIT", "false"),
            ("EPHPM_DB__SOCKET", &socket_setting),
        ],
    );
    let through_socket = Command::new("mysql")
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("-u{MARIADB_USER}"))
        .arg(format!("-p{MARIADB_PASSWORD}"))
        .args([
            "--batch",
            "--skip-column-names",
            "app",
            "-e",
            "SELECT @@version",
        ])
        .output()
        .expect("running the mysql client");
    assert!(
        through_socket.status.success(),
        "{}",
        String::from_utf8_lossy(&through_socket.stderr)
    );
    assert!(String::from_utf8_lossy(&through_socket.stdout).contains("MariaDB"));
    let page = server.get("/?case=schemas");
    assert_eq!(page.value("exception"), None, "{}", page.text());
    assert_eq!(page.value("first").as_deref(), Some("in app"));
    assert_eq!(
        page.value("second").as_deref(),
        Some("in other"),
        "a statement prepared in `app` answered after USE other_schema"
    );
}
