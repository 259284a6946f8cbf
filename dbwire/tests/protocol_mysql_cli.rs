//! The real `mysql` command-line client (MariaDB's, from Debian's mariadb-client) against the
//! in-memory backend: logins with every plugin it has, result sets, errors, a 20 MiB blob.

mod support;

use std::process::{Command, Output};

use dbwire::auth::AuthPlugin;
use dbwire::server::ServerConfig;
use support::memory::{big_byte, BIG_LEN};
use support::{mysql_cli, TestServer};

/// Runs `mysql` against `server` with `args` after the connection options.
fn mysql(server: &TestServer, user: &str, password: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(mysql_cli());
    command.args(["--no-defaults", "--protocol=tcp", "-h127.0.0.1"]);
    command
        .arg(format!("-P{}", server.port))
        .arg(format!("-u{user}"));
    if let Some(password) = password {
        command.arg(format!("-p{password}"));
    }
    command.args(args).output().expect("run mysql")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "mysql failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    assert!(!output.status.success(), "mysql should have failed");
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn select_one() {
    let server = TestServer::start();
    let output = mysql(&server, "root", None, &["-N", "-B", "-e", "SELECT 1"]);
    assert_eq!(stdout(&output), "1\n");
}

#[test]
fn every_client_plugin_logs_in_with_the_right_password_only() {
    let server = TestServer::start();
    let plugins = [
        "caching_sha2_password",
        "mysql_native_password",
        "sha256_password",
        "client_ed25519",
    ];
    for plugin in plugins {
        let auth = format!("--default-auth={plugin}");
        let output = mysql(
            &server,
            "app",
            Some("secret"),
            &[&auth, "-N", "-B", "-e", "SELECT 1"],
        );
        assert_eq!(stdout(&output), "1\n", "{plugin}");
        let output = mysql(&server, "app", Some("nope"), &[&auth, "-e", "SELECT 1"]);
        assert_eq!(
            stderr(&output),
            "ERROR 1045 (28000): Access denied for user 'app'@'127.0.0.1' (using password: YES)\n",
            "{plugin}"
        );
    }
    let output = mysql(&server, "app", None, &["-e", "SELECT 1"]);
    assert!(stderr(&output).contains("(using password: NO)"));
}

#[test]
fn a_native_password_server_serves_the_cli() {
    let config = ServerConfig {
        auth_plugin: AuthPlugin::NativePassword,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    for plugin in ["mysql_native_password", "caching_sha2_password"] {
        let auth = format!("--default-auth={plugin}");
        let output = mysql(
            &server,
            "app",
            Some("secret"),
            &[&auth, "-N", "-B", "-e", "SELECT 1"],
        );
        assert_eq!(stdout(&output), "1\n", "{plugin}");
    }
}

#[test]
fn typed_values_and_nulls() {
    let server = TestServer::start();
    let output = mysql(
        &server,
        "root",
        None,
        &["-B", "--binary-as-hex", "-e", "SELECT * FROM typed"],
    );
    let text = stdout(&output);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "id\ttiny\tsmall\tmedium\tint\tbig\tubig\tflt\tdbl\tdec\td\tdt\tts\ttm\tyr\tname\tbin\ttxt\tnul\tjs"
    );
    assert_eq!(
        lines[1],
        "1\t-128\t32767\t-8388608\t2147483647\t-9223372036854775808\t18446744073709551615\t1.5\t\
         -0.00225\t12345.67\t2024-02-29\t2024-02-29 13:14:15.123456\t1970-01-01 00:00:01\t\
         -838:59:59\t2024\théllo wörld ☃\t0x000102FFFE\tlong text\tNULL\t{\"a\": 1}"
    );
    let second: Vec<&str> = lines[1 + 1].split('\t').collect();
    assert_eq!(second[0], "2");
    assert_eq!(second[1], "NULL");
    assert_eq!(second[19], "NULL");
}

#[test]
fn errors_show_code_and_sqlstate() {
    let server = TestServer::start();
    let output = mysql(&server, "root", None, &["-e", "SELECT * FROM missing"]);
    assert!(
        stderr(&output)
            .contains("ERROR 1146 (42S02) at line 1: Table 'test.missing' doesn't exist"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn databases_at_connect() {
    let server = TestServer::start();
    let output = mysql(
        &server,
        "root",
        None,
        &["-Dshop", "-N", "-B", "-e", "SELECT DATABASE()"],
    );
    assert_eq!(stdout(&output), "shop\n");
    let output = mysql(&server, "root", None, &["-Dnope", "-e", "SELECT 1"]);
    assert!(stderr(&output).contains("ERROR 1049 (42000): Unknown database 'nope'"));
}

#[test]
fn a_20_mib_blob() {
    let server = TestServer::start();
    let args = [
        "--max-allowed-packet=64M",
        "-N",
        "-B",
        "--raw",
        "-e",
        "SELECT big",
    ];
    let output = mysql(&server, "root", None, &args);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(output.stdout.len(), BIG_LEN + 1);
    assert!(output.stdout[..BIG_LEN]
        .iter()
        .enumerate()
        .all(|(i, &b)| b == big_byte(i)));
}

#[test]
fn mysqladmin_ping_and_status() {
    let server = TestServer::start();
    let mysqladmin = mysql_cli().with_file_name("mysqladmin");
    let output = Command::new(mysqladmin)
        .args(["--no-defaults", "--protocol=tcp", "-h127.0.0.1", "-uroot"])
        .arg(format!("-P{}", server.port))
        .args(["ping", "status"])
        .output()
        .expect("run mysqladmin");
    let text = stdout(&output);
    assert!(text.starts_with("mysqld is alive\nUptime: "), "{text}");
}
