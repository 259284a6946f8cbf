//! `dbwire::client` against a real MariaDB: a private `mariadbd` on a free loopback port with
//! a temporary datadir, started once for the whole file and killed when the test ends.
//! Skipped (with a message) where `mariadbd` is not installed.

mod client_support;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use client_support::{bytes, execute, prepare, query_error, query_one, query_rows, result_set};
use dbwire::backend::column_flags;
use dbwire::client::{ClientError, ConnectOptions, Connection};
use dbwire::protocol::constants::status;
use dbwire::{ColumnType, QueryResult, Value};
use tempfile::TempDir;

/// How long mariadbd may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// InnoDB sizes shared by mariadb-install-db and mariadbd, kept small for a small machine.
const SERVER_ARGS: [&str; 8] = [
    "--innodb-buffer-pool-size=32M",
    "--innodb-log-file-size=16M",
    "--innodb-flush-log-at-trx-commit=2",
    "--innodb-doublewrite=0",
    "--performance-schema=OFF",
    "--skip-name-resolve",
    "--character-set-server=utf8mb4",
    "--collation-server=utf8mb4_general_ci",
];

/// Users created on the server: (name, password), all at 127.0.0.1 with every privilege.
const USERS: [(&str, &str); 3] = [("app", "secret"), ("nopass", ""), ("odd", "p@ss:w/rd%é")];

/// A private MariaDB server; killed (and its datadir deleted) when dropped.
struct MariaDb {
    child: Child,
    port: u16,
    dir: TempDir,
}

impl MariaDb {
    /// Installs a datadir, starts mariadbd and creates [`USERS`] and database `shop`; `None`
    /// when MariaDB is not installed.
    fn start() -> Option<MariaDb> {
        let (Some(server), Some(install)) = (program("mariadbd"), program("mariadb-install-db"))
        else {
            eprintln!("skipping the MariaDB client tests: mariadbd is not installed");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let datadir = dir.path().join("data");
        let installed = Command::new(install)
            .args([
                "--no-defaults",
                "--user=root",
                "--auth-root-authentication-method=normal",
            ])
            .arg(format!("--datadir={}", datadir.display()))
            .args(["--skip-test-db"])
            .args(SERVER_ARGS)
            .output()
            .unwrap();
        assert_success("mariadb-install-db", &installed);
        let port = free_port();
        let log = File::create(dir.path().join("mariadbd.out")).unwrap();
        let child = Command::new(server)
            .args(["--no-defaults", "--user=root", "--bind-address=127.0.0.1"])
            .arg(format!("--datadir={}", datadir.display()))
            .arg(format!(
                "--socket={}",
                dir.path().join("mysqld.sock").display()
            ))
            .arg(format!(
                "--pid-file={}",
                dir.path().join("mysqld.pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                dir.path().join("error.log").display()
            ))
            .arg(format!("--port={port}"))
            .args(["--skip-grant-tables=0", "--max-allowed-packet=64M"])
            .args(SERVER_ARGS)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut mariadb = MariaDb { child, port, dir };
        mariadb.wait_until_ready();
        mariadb.create_users();
        Some(mariadb)
    }

    fn socket(&self) -> PathBuf {
        self.dir.path().join("mysqld.sock")
    }

    /// Runs `sql` as root over the Unix socket with the `mariadb` client.
    fn root_sql(&self, sql: &str) -> Output {
        Command::new(program("mariadb").expect("the mariadb client is not installed"))
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket().display()))
            .args([
                "--default-character-set=utf8mb4",
                "-uroot",
                "-N",
                "-B",
                "-e",
                sql,
            ])
            .output()
            .unwrap()
    }

    fn wait_until_ready(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(exit) = self.child.try_wait().unwrap() {
                panic!(
                    "mariadbd exited with {exit} during start-up:\n{}",
                    self.logs()
                );
            }
            if self.root_sql("SELECT 1").status.success() {
                return;
            }
            assert!(
                started.elapsed() < START_TIMEOUT,
                "mariadbd did not start within {START_TIMEOUT:?}:\n{}",
                self.logs()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn create_users(&self) {
        let mut sql = String::from("CREATE DATABASE shop;");
        for (user, password) in USERS {
            let password = password.replace('\'', "''");
            sql += &format!(
                "CREATE USER '{user}'@'127.0.0.1' IDENTIFIED BY '{password}'; \
                 GRANT ALL ON *.* TO '{user}'@'127.0.0.1';"
            );
        }
        assert_success("creating the users", &self.root_sql(&sql));
    }

    fn logs(&self) -> String {
        ["error.log", "mariadbd.out"]
            .iter()
            .map(|name| std::fs::read_to_string(self.dir.path().join(name)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn options(&self, user: &str, password: &str) -> ConnectOptions {
        let mut options = ConnectOptions::new("127.0.0.1", self.port, user, password);
        options.database = Some("shop".into());
        options
    }

    /// `app` on database `shop`.
    fn connect(&self) -> Connection {
        Connection::connect(&self.options("app", "secret")).unwrap()
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `name` on the PATH or in the usual system directories (mariadbd lives in /usr/sbin).
fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One part of the end-to-end test.
type Scenario = fn(&MariaDb);

/// One server for every scenario: starting MariaDB costs seconds, and a server shared
/// between test functions through a static would never be killed.
#[test]
fn mariadb_end_to_end() {
    let Some(mariadb) = MariaDb::start() else {
        return;
    };
    let scenarios: [(&str, Scenario); 9] = [
        ("logins", logins),
        ("text results", text_results),
        ("binary results", binary_results),
        ("multi-results and errors", multi_results_and_errors),
        ("prepared parameters", prepared_parameters),
        ("large blobs", large_blobs),
        ("transactions and reset", transactions_and_reset),
        ("simple commands", simple_commands),
        ("broken connections", broken_connections),
    ];
    for (name, scenario) in scenarios {
        eprintln!("mariadb scenario: {name}");
        scenario(&mariadb);
    }
}

fn logins(mariadb: &MariaDb) {
    let mut app = mariadb.connect();
    assert!(
        app.server_version().contains("MariaDB"),
        "{}",
        app.server_version()
    );
    assert!(!app.server_version().starts_with("5.5.5-"));
    let id = app.connection_id().to_string();
    assert_eq!(
        query_rows(&mut app, "SELECT CONNECTION_ID(), DATABASE()"),
        [[bytes(&id), bytes("shop")]]
    );
    assert_ne!(app.status_flags() & status::AUTOCOMMIT, 0);

    let mut nopass = Connection::connect(&mariadb.options("nopass", "")).unwrap();
    assert_eq!(
        query_rows(&mut nopass, "SELECT CURRENT_USER()"),
        [[bytes("nopass@127.0.0.1")]]
    );

    let url = format!(
        "mysql://odd:p%40ss%3Aw%2Frd%25%C3%A9@127.0.0.1:{}/shop",
        mariadb.port
    );
    let mut odd = Connection::connect(&ConnectOptions::from_url(&url).unwrap()).unwrap();
    assert_eq!(
        query_rows(&mut odd, "SELECT CURRENT_USER()"),
        [[bytes("odd@127.0.0.1")]]
    );

    for (user, password) in [
        ("app", "wrong"),
        ("app", ""),
        ("nopass", "x"),
        ("ghost", "x"),
    ] {
        match Connection::connect(&mariadb.options(user, password)) {
            Err(ClientError::Auth(error)) => {
                assert_eq!((error.code, &error.sql_state), (1045, b"28000"), "{user}");
                assert!(error.message.contains("Access denied"), "{error}");
            }
            other => panic!("{user}/{password}: expected a refused login, got {other:?}"),
        }
    }
    let mut unknown_db = mariadb.options("app", "secret");
    unknown_db.database = Some("nope".into());
    match Connection::connect(&unknown_db) {
        Err(ClientError::Auth(error)) => assert_eq!(error.code, 1049),
        other => panic!("expected ERR 1049, got {other:?}"),
    }
}

const TYPED: &str = "CREATE TABLE typed (
    id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, tiny TINYINT, small SMALLINT UNSIGNED,
    med MEDIUMINT, big BIGINT UNSIGNED, flt FLOAT, dbl DOUBLE, dec_ DECIMAL(10,2), d DATE,
    dt DATETIME(6), ts TIMESTAMP NULL, tm TIME, yr YEAR, name VARCHAR(50) UNIQUE,
    bin VARBINARY(20), txt TEXT, bits BIT(12), e ENUM('a','b'), dt3 DATETIME(3), tm2 TIME(2))";

const TYPED_ROW: &str = "INSERT INTO typed VALUES (NULL, -128, 65535, -8388608,
    18446744073709551615, 1.5, -0.00225, 12345.67, '2024-02-29', '2024-02-29 13:14:15.123456',
    '2024-01-02 03:04:05', '-838:59:59', 2024, 'héllo ☃', x'0001ff', 'long text', b'101010111100',
    'b', '2024-02-29 13:14:15.5', '25:00:01.25')";

fn create_typed(connection: &mut Connection) {
    query_one(connection, "DROP TABLE IF EXISTS typed");
    query_one(connection, TYPED);
    query_one(connection, TYPED_ROW);
    query_one(connection, "INSERT INTO typed (id) VALUES (NULL)");
}

fn text_results(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    create_typed(&mut connection);
    let (columns, rows) = result_set(query_one(
        &mut connection,
        "SELECT * FROM typed ORDER BY id",
    ));
    let types: Vec<ColumnType> = columns.iter().map(|column| column.column_type).collect();
    use ColumnType::*;
    assert_eq!(
        types,
        [
            Long, Tiny, Short, Int24, LongLong, Float, Double, NewDecimal, Date, DateTime,
            Timestamp, Time, Year, VarString, VarString, Blob, Bit, String, DateTime, Time
        ]
    );
    let id = &columns[0];
    assert_eq!(
        (
            id.schema.as_str(),
            id.table.as_str(),
            id.org_table.as_str(),
            id.name.as_str()
        ),
        ("shop", "typed", "typed", "id")
    );
    let pk = column_flags::NOT_NULL | column_flags::PRIMARY_KEY | column_flags::UNSIGNED;
    assert_eq!(id.flags & pk, pk);
    assert_eq!(columns[9].decimals, 6);
    assert_eq!(columns[14].charset, 63, "VARBINARY is binary");
    let expected = [
        "1",
        "-128",
        "65535",
        "-8388608",
        "18446744073709551615",
        "1.5",
        "-0.00225",
        "12345.67",
        "2024-02-29",
        "2024-02-29 13:14:15.123456",
        "2024-01-02 03:04:05",
        "-838:59:59",
        "2024",
        "héllo ☃",
    ];
    for (index, text) in expected.iter().enumerate() {
        assert_eq!(
            rows[0][index],
            bytes(text),
            "column {}",
            columns[index].name
        );
    }
    assert_eq!(rows[0][14], Value::Bytes(vec![0, 1, 0xff]));
    assert_eq!(
        rows[0][16],
        Value::Bytes(vec![0x0a, 0xbc]),
        "BIT is raw bytes as text"
    );
    assert_eq!(rows[0][17], bytes("b"));
    assert_eq!(rows[0][18], bytes("2024-02-29 13:14:15.500"));
    assert_eq!(rows[0][19], bytes("25:00:01.25"));
    assert_eq!(rows[1][0], bytes("2"));
    assert!(
        rows[1][1..].iter().all(|value| *value == Value::Null),
        "{:?}",
        rows[1]
    );
}

fn binary_results(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    create_typed(&mut connection);
    let text = query_rows(&mut connection, "SELECT * FROM typed ORDER BY id");
    let statement = prepare(&mut connection, "SELECT * FROM typed ORDER BY id");
    assert_eq!((statement.params, statement.columns.len()), (0, 20));
    let (columns, rows) = result_set(execute(&mut connection, &statement, &[]));
    assert_eq!(columns, statement.columns);
    let expected = vec![
        Value::Int(1),
        Value::Int(-128),
        Value::Int(65535),
        Value::Int(-8_388_608),
        Value::UInt(u64::MAX),
        Value::Double(1.5),
        Value::Double(-0.00225),
        bytes("12345.67"),
        bytes("2024-02-29"),
        bytes("2024-02-29 13:14:15.123456"),
        bytes("2024-01-02 03:04:05"),
        bytes("-838:59:59"),
        Value::Int(2024),
        bytes("héllo ☃"),
        Value::Bytes(vec![0, 1, 0xff]),
        bytes("long text"),
        Value::Int(0xabc),
        bytes("b"),
        bytes("2024-02-29 13:14:15.500"),
        bytes("25:00:01.25"),
    ];
    assert_eq!(rows[0], expected);
    assert_eq!(rows[1][0], Value::Int(2));
    assert!(rows[1][1..].iter().all(|value| *value == Value::Null));
    // Dates and times come out of the binary protocol exactly as the text protocol prints them.
    for index in [8, 9, 10, 11, 18, 19] {
        assert_eq!(
            rows[0][index], text[0][index],
            "column {}",
            columns[index].name
        );
    }
    connection.close_statement(statement.id).unwrap();
}

fn multi_results_and_errors(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    let results = connection.query("SELECT 1; SELECT 'two'; DO 3").unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(result_set(results[0].clone().unwrap()).1, [[bytes("1")]]);
    assert_eq!(result_set(results[1].clone().unwrap()).1, [[bytes("two")]]);
    assert_eq!(results[2], Ok(QueryResult::ok(0)));

    let results = connection
        .query("SELECT 1; SELECT * FROM nope; SELECT 3")
        .unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    let missing = results[1].clone().unwrap_err();
    assert_eq!((missing.code, &missing.sql_state), (1146, b"42S02"));
    assert!(missing.message.contains("shop.nope"), "{missing}");

    query_one(&mut connection, "DROP PROCEDURE IF EXISTS two_results");
    query_one(
        &mut connection,
        "CREATE PROCEDURE two_results() BEGIN SELECT 1 AS a; SELECT 2 AS b, 3 AS c; END",
    );
    let results = connection.query("CALL two_results()").unwrap();
    assert_eq!(
        results.len(),
        3,
        "two result sets and the CALL's OK: {results:?}"
    );
    assert_eq!(
        result_set(results[1].clone().unwrap()).1,
        [[bytes("2"), bytes("3")]]
    );
    assert!(matches!(results[2], Ok(QueryResult::Ok { .. })));
    let call = prepare(&mut connection, "CALL two_results()");
    let results = connection.execute_all(&call, &[]).unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(
        result_set(results[1].clone().unwrap()).1,
        [[Value::Int(2), Value::Int(3)]]
    );
    assert_eq!(
        result_set(execute(&mut connection, &call, &[])).1,
        [[Value::Int(1)]]
    );

    let syntax = query_error(&mut connection, "SELEC 1");
    assert_eq!((syntax.code, &syntax.sql_state), (1064, b"42000"));
    assert_eq!(
        connection.prepare("SELEC ?").unwrap().unwrap_err().code,
        1064
    );
    query_one(
        &mut connection,
        "CREATE TABLE IF NOT EXISTS uniq (k INT PRIMARY KEY)",
    );
    query_one(&mut connection, "INSERT INTO uniq VALUES (1)");
    let duplicate = query_error(&mut connection, "INSERT INTO uniq VALUES (1)");
    assert_eq!((duplicate.code, &duplicate.sql_state), (1062, b"23000"));
    assert!(!connection.is_broken());
    connection.ping().unwrap();
}

fn prepared_parameters(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    create_typed(&mut connection);
    let insert = prepare(
        &mut connection,
        "INSERT INTO typed (big, dbl, dt, tm, name, bin, txt) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    assert_eq!(insert.params, 7);
    let params = [
        Value::UInt(u64::MAX - 1),
        Value::Double(-1.25),
        bytes("1999-12-31 23:59:59.999999"),
        bytes("-12:34:56"),
        bytes("prepared ✓"),
        Value::Bytes(vec![0xff, 0xfe, 0]),
        Value::Null,
    ];
    match execute(&mut connection, &insert, &params) {
        QueryResult::Ok {
            affected_rows,
            last_insert_id,
            ..
        } => assert_eq!((affected_rows, last_insert_id), (1, 3)),
        other => panic!("{other:?}"),
    }
    let select = prepare(
        &mut connection,
        "SELECT big, dbl, dt, tm, name, bin, txt FROM typed WHERE name = ? AND id > ?",
    );
    let found = result_set(execute(
        &mut connection,
        &select,
        &[bytes("prepared ✓"), Value::Int(0)],
    ))
    .1;
    assert_eq!(found, [params.to_vec()]);
    let nothing = result_set(execute(
        &mut connection,
        &select,
        &[bytes("none"), Value::Int(0)],
    ))
    .1;
    assert!(nothing.is_empty());
    let duplicate = connection.execute(&insert, &params).unwrap().unwrap_err();
    assert_eq!(duplicate.code, 1062);
    assert_eq!(
        connection.execute(&select, &[]).unwrap().unwrap_err().code,
        1210
    );
    connection.close_statement(select.id).unwrap();
    let closed = connection
        .execute(&select, &[bytes("x"), Value::Int(0)])
        .unwrap()
        .unwrap_err();
    assert_eq!(closed.code, 1243);
}

fn large_blobs(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    query_one(
        &mut connection,
        "CREATE TABLE blobs (k INT PRIMARY KEY, v LONGBLOB)",
    );
    let blob: Vec<u8> = (0..17 * 1024 * 1024 + 5).map(|i| (i % 251) as u8).collect();
    let insert = prepare(&mut connection, "INSERT INTO blobs VALUES (?, ?)");
    execute(
        &mut connection,
        &insert,
        &[Value::Int(1), Value::Bytes(blob.clone())],
    );
    let select = prepare(&mut connection, "SELECT v FROM blobs WHERE k = ?");
    let binary = result_set(execute(&mut connection, &select, &[Value::Int(1)])).1;
    assert!(
        binary == [[Value::Bytes(blob.clone())]],
        "the binary result differs"
    );
    let text = query_rows(&mut connection, "SELECT v, LENGTH(v) FROM blobs");
    assert!(text[0][0] == Value::Bytes(blob), "the text result differs");
    assert_eq!(text[0][1], bytes("17825797"));
}

fn transactions_and_reset(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    query_one(
        &mut connection,
        "CREATE TABLE IF NOT EXISTS tx (k INT) ENGINE=InnoDB",
    );
    query_one(&mut connection, "BEGIN");
    assert!(connection.in_transaction());
    query_one(&mut connection, "INSERT INTO tx VALUES (1)");
    assert!(connection.in_transaction());
    query_one(&mut connection, "ROLLBACK");
    assert!(!connection.in_transaction());
    assert!(query_rows(&mut connection, "SELECT * FROM tx").is_empty());

    query_one(&mut connection, "SET autocommit = 0");
    assert_eq!(connection.status_flags() & status::AUTOCOMMIT, 0);
    query_one(&mut connection, "INSERT INTO tx VALUES (2)");
    assert!(
        connection.in_transaction(),
        "autocommit=0 opens a transaction"
    );

    query_one(&mut connection, "SET @kept = 5");
    let statement = prepare(&mut connection, "SELECT 1");
    connection.reset_connection().unwrap().unwrap();
    assert!(!connection.in_transaction(), "the reset rolled back");
    assert_ne!(connection.status_flags() & status::AUTOCOMMIT, 0);
    assert_eq!(query_rows(&mut connection, "SELECT @kept"), [[Value::Null]]);
    assert!(query_rows(&mut connection, "SELECT * FROM tx").is_empty());
    let gone = connection.execute(&statement, &[]).unwrap().unwrap_err();
    assert_eq!(gone.code, 1243, "statements do not survive a reset");
}

fn simple_commands(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    connection.ping().unwrap();
    connection.init_db("mysql").unwrap().unwrap();
    assert_eq!(
        query_rows(&mut connection, "SELECT DATABASE()"),
        [[bytes("mysql")]]
    );
    assert_eq!(connection.init_db("nope").unwrap().unwrap_err().code, 1049);
    assert_eq!(
        query_rows(&mut connection, "SELECT DATABASE()"),
        [[bytes("mysql")]]
    );
    connection.close().unwrap();
}

fn broken_connections(mariadb: &MariaDb) {
    let mut connection = mariadb.connect();
    connection
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    assert!(matches!(
        connection.query("SELECT SLEEP(3)"),
        Err(ClientError::Timeout)
    ));
    assert!(connection.is_broken());
    assert!(matches!(connection.ping(), Err(ClientError::Broken)));

    let mut killed = mariadb.connect();
    let kill = format!("KILL CONNECTION {}", killed.connection_id());
    assert_success("KILL", &mariadb.root_sql(&kill));
    assert!(
        killed.ping().is_err(),
        "a killed connection fails its next command"
    );
    assert!(killed.is_broken());
}
