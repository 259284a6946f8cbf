//! The built-in database end to end: PHP reaches it through the injected environment with
//! PDO and mysqli, the `mysql` client sees the same data, and it survives a restart.

mod common;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{mysql, mysql_error, Server, ServerOptions};

#[test]
fn php_and_the_mysql_client_share_the_embedded_database() {
    let server = Server::start(ServerOptions::default());
    let first = server.get("/db/visit.php?note=alpha");
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(first.value("ID").as_deref(), Some("1"), "{}", first.text());
    assert_eq!(first.value("COUNT").as_deref(), Some("1"));
    assert_eq!(
        first.value("DUP_ERROR").as_deref(),
        Some("1062"),
        "duplicate key must be MySQL error 1062"
    );
    let url = format!("mysql://root:@127.0.0.1:{}/ephpm", server.db_port());
    assert_eq!(first.value("DATABASE_URL").as_deref(), Some(url.as_str()));

    let second = server.get("/db/visit.php?note=beta");
    assert_eq!(second.value("ID").as_deref(), Some("2"));
    assert_eq!(second.value("COUNT").as_deref(), Some("2"));

    assert_eq!(
        mysql(server.db_port(), "SELECT note FROM visits ORDER BY id"),
        "alpha\nbeta"
    );
    let error = Command::new("mysql")
        .args([
            "-h127.0.0.1",
            &format!("-P{}", server.db_port()),
            "-uroot",
            "-pwrong",
        ])
        .args(["ephpm", "-e", "SELECT 1"])
        .output()
        .expect("running mysql");
    assert!(!error.status.success());
    assert!(
        String::from_utf8_lossy(&error.stderr).contains("1045"),
        "wrong password: 1045"
    );
}

#[test]
fn committed_rows_survive_a_restart() {
    let mut server = Server::start(ServerOptions::default());
    let port = server.db_port();
    mysql(
        port,
        "CREATE TABLE kept (v VARCHAR(10)); INSERT INTO kept VALUES ('stays')",
    );
    let data = server.dir().join(".ephpm/data/ephpm.sqlite");
    assert!(
        data.exists(),
        "the database file lives in db.data_dir: {}",
        data.display()
    );
    let status = server.stop_with("KILL");
    assert!(!status.success());
    let copy = tempfile::tempdir().unwrap();
    std::fs::copy(&data, copy.path().join("ephpm.sqlite")).unwrap();
    for suffix in ["-wal", "-shm"] {
        let side = data.with_file_name(format!("ephpm.sqlite{suffix}"));
        if side.exists() {
            std::fs::copy(&side, copy.path().join(format!("ephpm.sqlite{suffix}"))).unwrap();
        }
    }
    let restarted = Server::start(
        ServerOptions::default().env("EPHPM_DB__DATA_DIR", copy.path().to_str().unwrap()),
    );
    assert_eq!(mysql(restarted.db_port(), "SELECT v FROM kept"), "stays");
}

#[test]
fn mariadb_system_variables_answer_with_mariadb_defaults() {
    let server = Server::start_default();
    let port = server.db_port();
    // Apps read these before writing; MariaDB 10.11 answers 0 and its default sizes.
    assert_eq!(
        mysql(port, "SELECT @@GLOBAL.read_only, @@session.read_only"),
        "0\t0"
    );
    assert_eq!(
        mysql(port, "SELECT @@innodb_buffer_pool_size, @@max_connections"),
        "134217728\t151"
    );
    let shown = mysql(port, "SHOW VARIABLES LIKE 'innodb_file_per_table'");
    assert_eq!(shown, "innodb_file_per_table\tON");
    // Transaction characteristics MariaDB accepts.
    let snapshot = "START TRANSACTION WITH CONSISTENT SNAPSHOT; SELECT @@in_transaction; COMMIT; \
                    START TRANSACTION READ ONLY; SELECT 2; COMMIT; SELECT @@in_transaction";
    assert_eq!(mysql(port, snapshot), "1\n2\n0");
    // LOAD DATA is refused cleanly (the embedded database reads no files), as MariaDB refuses
    // it with local_infile off.
    let load = Command::new("mysql")
        .args(["-h127.0.0.1", &format!("-P{port}"), "-uroot", "ephpm"])
        .args(["-e", "LOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE t"])
        .output()
        .expect("running the mysql client");
    let stderr = String::from_utf8_lossy(&load.stderr);
    assert!(stderr.contains("ERROR 1148"), "{stderr}");
}

#[test]
fn the_unix_socket_serves_the_mysql_client_and_php() {
    let dir = tempfile::tempdir().expect("a directory for the socket");
    let socket = dir.path().join("run/mysqld.sock");
    let server =
        Server::start(ServerOptions::default().env("EPHPM_DB__SOCKET", &socket.to_string_lossy()));
    let output = Command::new("mysql")
        .arg(format!("--socket={}", socket.display()))
        .args(["-uroot", "--batch", "--skip-column-names", "ephpm"])
        .args(["-e", "SELECT 40 + 2"])
        .output()
        .expect("running the mysql client");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "42");
    std::fs::write(
        server.docroot().join("socket.php"),
        "<?php\n$db = new PDO('mysql:unix_socket=' . getenv('DB_SOCKET') . ';dbname=ephpm', 'root', '');\n\
         echo $db->query('SELECT 6 * 7')->fetchColumn();\n",
    )
    .expect("writing socket.php");
    assert_eq!(server.get("/socket.php").text(), "42");
}

#[test]
fn kill_stops_a_running_query_or_a_session() {
    let server = Server::start_default();
    let port = server.db_port();
    let stderr = mysql_error(port, "KILL 999999");
    assert!(
        stderr.contains("ERROR 1094") && stderr.contains("Unknown thread id: 999999"),
        "{stderr}"
    );

    let long =
        "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 500000000) \
                SELECT COUNT(*) FROM c";
    for (kill, code) in [("KILL QUERY", "ERROR 1317"), ("KILL", "ERROR 1927")] {
        let mut victim = Command::new("mysql")
            .args([
                "-h127.0.0.1",
                &format!("-P{port}"),
                "-uroot",
                "--unbuffered",
                "--batch",
            ])
            .args(["--skip-column-names", "ephpm", "-e"])
            .arg(format!("SELECT CONNECTION_ID(); {long}"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running the mysql client");
        let mut stdout = std::io::BufReader::new(victim.stdout.take().expect("stdout"));
        let mut id = String::new();
        std::io::BufRead::read_line(&mut stdout, &mut id).expect("the connection id");
        let started = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(300));
        mysql(port, &format!("{kill} {}", id.trim()));
        let output = victim.wait_with_output().expect("the victim ends");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(code), "{kill}: {stderr}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "{kill} took {:?}",
            started.elapsed()
        );
    }
}

/// The cores serve the database's clients on their executors: past `db.max_connections` a
/// client gets MySQL's ERROR 1040, a statement over `max_allowed_packet` gets ERROR 1153 (read
/// by the client before the connection closes), and the server serves on.
#[test]
fn clients_past_the_database_limits_get_mysql_errors() {
    let server = Server::start(ServerOptions::default().env("EPHPM_DB__MAX_CONNECTIONS", "1"));
    let port = server.db_port();
    let mut holder = mysql_command(port)
        .args(["-e", "SELECT SLEEP(4)"])
        .spawn()
        .expect("running the mysql client");
    // Time to log in and start sleeping, holding the only connection.
    std::thread::sleep(Duration::from_secs(1));
    let refused = mysql_error(port, "SELECT 1");
    // The MariaDB client words it as an error before its TLS handshake.
    assert!(refused.contains("1040"), "{refused}");
    assert!(refused.contains("Too many connections"), "{refused}");
    assert!(holder.wait().expect("the first client").success());

    let mut client = mysql_command(port)
        .arg("--max-allowed-packet=1G")
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running the mysql client");
    let mut stdin = client.stdin.take().expect("the client's input");
    let statement = format!("SELECT LENGTH('{}');\n", "x".repeat(65 << 20));
    // The server may close before the client has sent it all.
    let _ = stdin.write_all(statement.as_bytes());
    drop(stdin);
    let output = client.wait_with_output().expect("the mysql client");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ERROR 1153"), "{stderr}");
    assert_eq!(mysql(port, "SELECT 1 + 1"), "2");
}

/// The `mysql` client on the database as root, in database `ephpm`, without column names.
fn mysql_command(port: u16) -> Command {
    let mut command = Command::new("mysql");
    command.args([
        "-h127.0.0.1",
        &format!("-P{port}"),
        "-uroot",
        "--batch",
        "--skip-column-names",
        "ephpm",
    ]);
    command
}
