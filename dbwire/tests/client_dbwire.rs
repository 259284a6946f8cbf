//! `dbwire::client` against dbwire's own server, in process: logins with both plugins, text
//! and binary results compared value for value with what the backend produced, multi-results,
//! errors, large packets, and the SQLite backend for real SQL.

mod client_support;
mod sqlite_support;
mod support;

use client_support::{bytes, execute, prepare, query_error, query_one, query_rows, rows};
use dbwire::backend::{charsets, column_flags};
use dbwire::client::{ClientError, ConnectOptions, Connection};
use dbwire::protocol::auth::AuthPlugin;
use dbwire::protocol::constants::{status, SERVER_VERSION};
use dbwire::server::ServerConfig;
use dbwire::{ColumnType, DbError, QueryResult, Value};
use sqlite_support::SqliteServer;
use support::memory::{big_byte, typed_columns, typed_rows, BIG_LEN};
use support::TestServer;

const PLUGINS: [AuthPlugin; 2] = [AuthPlugin::NativePassword, AuthPlugin::CachingSha2Password];

fn server_with(plugin: AuthPlugin) -> TestServer {
    TestServer::with_config(ServerConfig {
        auth_plugin: plugin,
        ..ServerConfig::default()
    })
}

fn options(port: u16, user: &str, password: &str, database: Option<&str>) -> ConnectOptions {
    let mut options = ConnectOptions::new("127.0.0.1", port, user, password);
    options.database = database.map(str::to_owned);
    options
}

/// `app` / `secret` on database `test`.
fn connect(server: &TestServer) -> Connection {
    Connection::connect(&options(server.port, "app", "secret", Some("test"))).unwrap()
}

fn auth_error(options: &ConnectOptions) -> DbError {
    match Connection::connect(options) {
        Err(ClientError::Auth(error)) => error,
        Err(other) => panic!("expected a refused login, got {other:?}"),
        Ok(_) => panic!("the login succeeded"),
    }
}

#[test]
fn logs_in_with_both_plugins_with_and_without_password() {
    for plugin in PLUGINS {
        let server = server_with(plugin);
        let mut app = connect(&server);
        assert_eq!(app.server_version(), SERVER_VERSION);
        assert!(app.connection_id() > 0);
        assert_ne!(app.status_flags() & status::AUTOCOMMIT, 0);
        assert!(!app.in_transaction());
        assert_eq!(query_rows(&mut app, "SELECT DATABASE()"), [[bytes("test")]]);
        app.ping().unwrap();

        let mut root = Connection::connect(&options(server.port, "root", "", None)).unwrap();
        assert_eq!(query_rows(&mut root, "SELECT DATABASE()"), [[Value::Null]]);
        assert_ne!(root.connection_id(), app.connection_id());
        root.close().unwrap();
    }
}

#[test]
fn wrong_passwords_and_unknown_databases_are_refused_logins() {
    for plugin in PLUGINS {
        let server = server_with(plugin);
        let error = auth_error(&options(server.port, "app", "wrong", None));
        assert_eq!(
            (error.code, &error.sql_state),
            (1045, b"28000"),
            "{plugin:?}"
        );
        assert!(error.message.contains("Access denied for user 'app'"));
        assert_eq!(
            auth_error(&options(server.port, "app", "", None)).code,
            1045
        );
        assert_eq!(
            auth_error(&options(server.port, "nobody", "x", None)).code,
            1045
        );
        let unknown_db = auth_error(&options(server.port, "app", "secret", Some("nope")));
        assert_eq!(unknown_db.code, 1049);
    }
}

#[test]
fn text_results_keep_column_definitions_and_nulls() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    let (columns, rows) = match query_one(&mut connection, "SELECT * FROM typed") {
        QueryResult::Rows { columns, rows } => (columns, rows),
        other => panic!("{other:?}"),
    };
    assert_eq!(columns, typed_columns());
    assert_eq!(rows.len(), 2);
    let texts = [
        "1",
        "-128",
        "32767",
        "-8388608",
        "2147483647",
        "-9223372036854775808",
        "18446744073709551615",
        "1.5",
        "-0.00225",
        "12345.67",
        "2024-02-29",
        "2024-02-29 13:14:15.123456",
        "1970-01-01 00:00:01",
        "-838:59:59",
        "2024",
        "héllo wörld ☃",
    ];
    for (index, text) in texts.iter().enumerate() {
        assert_eq!(
            rows[0][index],
            bytes(text),
            "column {}",
            columns[index].name
        );
    }
    assert_eq!(rows[0][16], Value::Bytes(vec![0, 1, 2, 0xff, 0xfe]));
    assert_eq!(rows[0][18], Value::Null);
    assert_eq!(rows[1][0], bytes("2"));
    assert!(rows[1][1..].iter().all(|value| *value == Value::Null));
}

#[test]
fn ok_packets_carry_counts_and_info() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    assert_eq!(
        query_one(&mut connection, "INSERT INTO t VALUES (1)"),
        QueryResult::Ok {
            affected_rows: 1,
            last_insert_id: 42,
            warnings: 1,
            info: String::new(),
        }
    );
    match query_one(&mut connection, "UPDATE t SET x = 1") {
        QueryResult::Ok {
            affected_rows,
            info,
            ..
        } => assert_eq!(
            (affected_rows, info.as_str()),
            (3, "Rows matched: 3  Changed: 3  Warnings: 0")
        ),
        other => panic!("{other:?}"),
    }
}

#[test]
fn multi_statements_return_every_result_and_stop_at_an_error() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    let results = connection
        .query("SELECT 1; SELECT 2; INSERT INTO t VALUES (1)")
        .unwrap();
    assert_eq!(results.len(), 3);
    assert_eq!(rows(results[0].clone().unwrap()), [[bytes("1")]]);
    assert_eq!(rows(results[1].clone().unwrap()), [[bytes("2")]]);
    assert!(matches!(
        results[2],
        Ok(QueryResult::Ok {
            affected_rows: 1,
            ..
        })
    ));
    assert_eq!(connection.status_flags() & status::MORE_RESULTS_EXISTS, 0);

    let results = connection
        .query("SELECT 1; SELECT * FROM missing; SELECT 2")
        .unwrap();
    assert_eq!(results.len(), 2, "{results:?}");
    let error = results[1].clone().unwrap_err();
    assert_eq!((error.code, &error.sql_state), (1146, b"42S02"));
    assert_eq!(query_rows(&mut connection, "SELECT 2"), [[bytes("2")]]);
}

#[test]
fn sql_errors_leave_the_connection_usable() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    assert_eq!(
        query_error(&mut connection, "SELECT * FROM missing").code,
        1146
    );
    let syntax = query_error(&mut connection, "SELEC 1");
    assert_eq!((syntax.code, &syntax.sql_state), (1064, b"42000"));
    assert_eq!(
        connection
            .prepare("SELECT nonsense")
            .unwrap()
            .unwrap_err()
            .code,
        1064
    );
    assert!(!connection.is_broken());
    connection.ping().unwrap();
}

#[test]
fn transaction_status_follows_the_server() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    query_one(&mut connection, "BEGIN");
    assert!(connection.in_transaction());
    query_one(&mut connection, "SELECT 1");
    assert!(connection.in_transaction());
    query_one(&mut connection, "COMMIT");
    assert!(!connection.in_transaction());
    query_one(&mut connection, "SET autocommit=0");
    assert_eq!(connection.status_flags() & status::AUTOCOMMIT, 0);
}

#[test]
fn prepared_statements_decode_binary_rows_to_the_backends_values() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    let typed = prepare(&mut connection, "SELECT * FROM typed");
    assert_eq!((typed.params, typed.columns.clone()), (0, typed_columns()));
    assert_eq!(rows(execute(&mut connection, &typed, &[])), typed_rows());
    // A second execute of the same statement.
    assert_eq!(rows(execute(&mut connection, &typed, &[])).len(), 2);

    let echo = prepare(&mut connection, "SELECT ?, ?, ?, ?, ?, ?, ?");
    assert_eq!(echo.params, 7);
    let params = vec![
        Value::Null,
        Value::Int(-5),
        Value::UInt(u64::MAX),
        Value::Double(2.5),
        bytes("2024-02-29 13:14:15"),
        Value::Bytes(vec![0xff, 0, 0xfe]),
        bytes(""),
    ];
    match execute(&mut connection, &echo, &params) {
        QueryResult::Rows { columns, rows } => {
            assert_eq!(rows, std::slice::from_ref(&params));
            assert_eq!(
                columns[2].flags & column_flags::UNSIGNED,
                column_flags::UNSIGNED
            );
            assert_eq!(columns[5].charset, charsets::BINARY);
        }
        other => panic!("{other:?}"),
    }

    let wrong = connection
        .execute(&echo, &params[..2])
        .unwrap()
        .unwrap_err();
    assert_eq!(wrong.code, 1210);
    connection.close_statement(echo.id).unwrap();
    let closed = connection.execute(&echo, &params).unwrap().unwrap_err();
    assert_eq!(closed.code, 1243);
    assert_eq!(rows(execute(&mut connection, &typed, &[])).len(), 2);
}

#[test]
fn blobs_over_16_mib_travel_both_ways() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    let blob: Vec<u8> = (0..17 * 1024 * 1024 + 3).map(|i| (i % 253) as u8).collect();
    let insert = prepare(&mut connection, "INSERT INTO kv VALUES (?, ?)");
    let inserted = execute(
        &mut connection,
        &insert,
        &[bytes("big"), Value::Bytes(blob.clone())],
    );
    assert!(matches!(
        inserted,
        QueryResult::Ok {
            affected_rows: 1,
            ..
        }
    ));
    let select = prepare(&mut connection, "SELECT v FROM kv WHERE k = ?");
    let found = rows(execute(&mut connection, &select, &[bytes("big")]));
    assert!(
        found == [[Value::Bytes(blob)]],
        "the blob came back changed"
    );

    let text = query_rows(&mut connection, "SELECT big");
    match &text[..] {
        [row] => match &row[..] {
            [Value::Bytes(big)] => {
                assert_eq!(big.len(), BIG_LEN);
                assert!(big.iter().enumerate().all(|(i, &b)| b == big_byte(i)));
            }
            other => panic!("{other:?}"),
        },
        other => panic!("{} rows", other.len()),
    }
}

#[test]
fn a_reply_over_max_packet_breaks_the_connection() {
    let server = TestServer::start();
    let mut options = options(server.port, "app", "secret", Some("test"));
    options.max_packet = 1024 * 1024;
    let mut connection = Connection::connect(&options).unwrap();
    assert!(matches!(
        connection.query("SELECT big"),
        Err(ClientError::TooLarge { limit: 1048576 })
    ));
    assert!(connection.is_broken());
    assert!(matches!(connection.ping(), Err(ClientError::Broken)));
}

#[test]
fn init_db_and_reset_connection() {
    let server = TestServer::start();
    let mut connection = connect(&server);
    connection.init_db("shop").unwrap().unwrap();
    assert_eq!(
        query_rows(&mut connection, "SELECT DATABASE()"),
        [[bytes("shop")]]
    );
    assert_eq!(connection.init_db("nope").unwrap().unwrap_err().code, 1049);

    let statement = prepare(&mut connection, "SELECT 1");
    query_one(&mut connection, "BEGIN");
    assert!(connection.in_transaction());
    connection.reset_connection().unwrap().unwrap();
    assert!(!connection.in_transaction());
    assert_eq!(
        query_rows(&mut connection, "SELECT DATABASE()"),
        [[bytes("shop")]]
    );
    let gone = connection.execute(&statement, &[]).unwrap().unwrap_err();
    assert_eq!(gone.code, 1243, "statements do not survive a reset");
}

#[test]
fn urls_reach_the_server() {
    let server = TestServer::start();
    let url = format!("mysql://app:secret@127.0.0.1:{}/shop", server.port);
    let options = ConnectOptions::from_url(&url).unwrap();
    assert_eq!(options.address(), format!("127.0.0.1:{}", server.port));
    let mut connection = Connection::connect(&options).unwrap();
    assert_eq!(
        query_rows(&mut connection, "SELECT DATABASE()"),
        [[bytes("shop")]]
    );
}

/// A client of `server` as root on database `shop`.
fn connect_sqlite(server: &SqliteServer) -> Connection {
    Connection::connect(&options(server.port(), "root", "", Some("shop"))).unwrap()
}

const ITEMS: &str = "CREATE TABLE items (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, \
    name VARCHAR(50) NOT NULL UNIQUE, price DECIMAL(8,2), made DATETIME, note TEXT)";

#[test]
fn sqlite_text_queries_multi_statements_and_errors() {
    let server = SqliteServer::start();
    let mut connection = connect_sqlite(&server);
    query_one(&mut connection, ITEMS);
    let results = connection
        .query(
            "INSERT INTO items (name, price, made) VALUES ('apple', 1.5, '2024-03-09 14:05:07'); \
             INSERT INTO items (name) VALUES ('pear'); \
             SELECT id, name, price, made, note FROM items ORDER BY id",
        )
        .unwrap();
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(matches!(
        results[1],
        Ok(QueryResult::Ok {
            affected_rows: 1,
            last_insert_id: 2,
            ..
        })
    ));
    let (columns, rows) = match results[2].clone().unwrap() {
        QueryResult::Rows { columns, rows } => (columns, rows),
        other => panic!("{other:?}"),
    };
    let types: Vec<ColumnType> = columns.iter().map(|column| column.column_type).collect();
    assert_eq!(
        types,
        [
            ColumnType::LongLong, // an AUTO_INCREMENT key is SQLite's 64-bit rowid
            ColumnType::VarString,
            ColumnType::NewDecimal,
            ColumnType::DateTime,
            ColumnType::Blob
        ]
    );
    assert_eq!(columns[1].name, "name");
    assert_eq!(columns[1].org_table, "items");
    assert_eq!(
        rows,
        [
            vec![
                bytes("1"),
                bytes("apple"),
                bytes("1.50"),
                bytes("2024-03-09 14:05:07"),
                Value::Null
            ],
            vec![
                bytes("2"),
                bytes("pear"),
                Value::Null,
                Value::Null,
                Value::Null
            ],
        ]
    );

    let missing = query_error(&mut connection, "SELECT * FROM nope");
    assert_eq!((missing.code, &missing.sql_state), (1146, b"42S02"));
    assert_eq!(query_error(&mut connection, "SELEC 1").code, 1064);
    let duplicate = query_error(&mut connection, "INSERT INTO items (name) VALUES ('pear')");
    assert_eq!((duplicate.code, &duplicate.sql_state), (1062, b"23000"));
    assert!(duplicate.message.contains("Duplicate entry"), "{duplicate}");
}

#[test]
fn sqlite_prepared_statements_round_trip_dates_and_nulls() {
    let server = SqliteServer::start();
    let mut connection = connect_sqlite(&server);
    query_one(&mut connection, ITEMS);
    let insert = prepare(
        &mut connection,
        "INSERT INTO items (name, price, made, note) VALUES (?, ?, ?, ?)",
    );
    assert_eq!(insert.params, 4);
    let inserted = execute(
        &mut connection,
        &insert,
        &[
            bytes("plum"),
            Value::Double(2.25),
            bytes("2024-02-29 23:59:58"),
            Value::Null,
        ],
    );
    assert!(matches!(
        inserted,
        QueryResult::Ok {
            last_insert_id: 1,
            ..
        }
    ));
    let duplicate = connection
        .execute(
            &insert,
            &[bytes("plum"), Value::Null, Value::Null, Value::Null],
        )
        .unwrap()
        .unwrap_err();
    assert_eq!(duplicate.code, 1062);

    let select = prepare(
        &mut connection,
        "SELECT id, name, price, made, note FROM items WHERE name = ?",
    );
    assert_eq!(
        rows(execute(&mut connection, &select, &[bytes("plum")])),
        [[
            Value::Int(1),
            bytes("plum"),
            bytes("2.25"),
            bytes("2024-02-29 23:59:58"),
            Value::Null
        ]]
    );
    assert!(rows(execute(&mut connection, &select, &[bytes("none")])).is_empty());
}

#[test]
fn a_killed_connection_is_closed_and_others_carry_on() {
    let server = SqliteServer::start();
    let mut victim = connect_sqlite(&server);
    let mut killer = connect_sqlite(&server);
    let id = victim.connection_id();
    // CONNECTION_ID() is the thread id of the greeting, also after COM_RESET_CONNECTION.
    victim.reset_connection().unwrap().unwrap();
    assert_eq!(
        query_rows(&mut victim, "SELECT CONNECTION_ID()"),
        [[bytes(&id.to_string())]]
    );
    query_one(&mut killer, &format!("KILL {id}"));
    // The server hangs up: at once, as MariaDB does with an idle victim, or after answering
    // the victim's next statement with ERROR 1927 when that statement was already on its way.
    match victim.query("SELECT 1") {
        Ok(results) => assert!(
            matches!(results.last(), Some(Err(error)) if error.code == 1927),
            "{results:?}"
        ),
        Err(error) => assert!(matches!(error, ClientError::Io(_)), "{error}"),
    }
    assert!(
        victim.query("SELECT 1").is_err(),
        "the killed connection is still open"
    );
    assert_eq!(query_rows(&mut killer, "SELECT 2"), [[bytes("2")]]);
}
