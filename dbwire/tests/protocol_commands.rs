//! Text-protocol and session commands over raw packets: result sets in both EOF styles, OK
//! fields, status flags, multi-statements, errors, malformed and unknown commands.

mod support;

use dbwire::protocol::constants::capabilities::{DEPRECATE_EOF, MULTI_STATEMENTS};
use dbwire::protocol::constants::status::{AUTOCOMMIT, IN_TRANS, MORE_RESULTS_EXISTS};
use support::memory::{big_byte, BIG_LEN};
use support::raw_client::{parse_column, parse_err, parse_ok, RawClient, Response, BASE_CAPS};
use support::TestServer;

fn login(server: &TestServer, caps: u32) -> RawClient {
    RawClient::login(server.port, "root", "", caps)
}

#[test]
fn select_one_in_both_eof_styles() {
    let server = TestServer::start();
    for caps in [BASE_CAPS, BASE_CAPS | DEPRECATE_EOF] {
        let mut client = login(&server, caps);
        let response = client.query("SELECT 1");
        let Response::Rows {
            columns, status, ..
        } = &response
        else {
            panic!("{response:?}")
        };
        assert_eq!(columns[0].name, "1");
        assert_eq!(columns[0].column_type, 0x08);
        assert_eq!(*status, AUTOCOMMIT);
        assert_eq!(response.text_rows(), [[Some(b"1".to_vec())]]);
    }
}

#[test]
fn typed_values_render_as_text() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS | DEPRECATE_EOF);
    let response = client.query("select * from typed");
    let rows = response.text_rows();
    let text: Vec<Option<String>> = rows[0]
        .iter()
        .map(|v| v.as_ref().map(|b| String::from_utf8_lossy(b).into_owned()))
        .collect();
    let expected = [
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
    for (index, value) in expected.iter().enumerate() {
        assert_eq!(text[index].as_deref(), Some(*value), "column {index}");
    }
    assert_eq!(rows[0][16].as_deref(), Some(&[0, 1, 2, 0xff, 0xfe][..]));
    assert_eq!(rows[0][18], None);
    assert!(rows[1][1..].iter().all(Option::is_none));
}

#[test]
fn errors_carry_code_and_sqlstate() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    let response = client.query("SELECT * FROM missing");
    assert_eq!(
        response,
        Response::Err {
            code: 1146,
            state: "42S02".into(),
            message: "Table 'test.missing' doesn't exist".into()
        }
    );
    assert_eq!(client.query("SELEKT").error(), (1064, "42000"));
    assert_eq!(client.query("  ").error(), (1065, "42000"));
    assert_eq!(
        client.query("SELECT 1").text_rows().len(),
        1,
        "the connection goes on"
    );
}

#[test]
fn ok_packets_carry_affected_rows_insert_id_warnings_and_info() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    assert_eq!(
        client.query("INSERT INTO t VALUES (1)"),
        Response::Ok {
            affected_rows: 1,
            last_insert_id: 42,
            status: AUTOCOMMIT,
            warnings: 1,
            info: String::new()
        }
    );
    let Response::Ok {
        affected_rows,
        info,
        ..
    } = client.query("UPDATE t SET x = 1")
    else {
        panic!()
    };
    assert_eq!(affected_rows, 3);
    assert_eq!(info, "Rows matched: 3  Changed: 3  Warnings: 0");
}

#[test]
fn status_flags_follow_the_session() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS | DEPRECATE_EOF);
    assert_eq!(client.query("BEGIN").status(), AUTOCOMMIT | IN_TRANS);
    assert_eq!(client.query("SELECT 1").status(), AUTOCOMMIT | IN_TRANS);
    assert_eq!(client.query("COMMIT").status(), AUTOCOMMIT);
    assert_eq!(client.query("SET autocommit=0").status(), 0);
}

#[test]
fn multi_statements_need_the_option() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    assert_eq!(client.query("SELECT 1; SELECT 2").error(), (1064, "42000"));
    assert_eq!(
        client.query("SELECT 1;").text_rows().len(),
        1,
        "a trailing ; is fine"
    );

    client.command(&[0x1b, 0, 0]);
    let eof = client.read_packet().unwrap();
    assert!(
        eof[0] == 0xfe && eof.len() == 5,
        "COM_SET_OPTION answers EOF: {eof:?}"
    );
    let first = client.query("SELECT 1; SELECT 2");
    assert_eq!(first.status() & MORE_RESULTS_EXISTS, MORE_RESULTS_EXISTS);
    let second = client.read_response();
    assert_eq!(second.text_rows(), [[Some(b"2".to_vec())]]);
    assert_eq!(second.status() & MORE_RESULTS_EXISTS, 0);

    client.command(&[0x1b, 1, 0]);
    client.read_packet().unwrap();
    assert_eq!(client.query("SELECT 1; SELECT 2").error(), (1064, "42000"));
}

#[test]
fn each_statement_gets_its_result_and_an_error_ends_the_list() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS | MULTI_STATEMENTS | DEPRECATE_EOF);
    let first = client.query("INSERT INTO t VALUES (1); SELECT 2; SELECT * FROM missing; SELECT 1");
    assert!(matches!(first, Response::Ok { status, .. } if status & MORE_RESULTS_EXISTS != 0));
    let second = client.read_response();
    assert_eq!(second.status() & MORE_RESULTS_EXISTS, MORE_RESULTS_EXISTS);
    assert_eq!(client.read_response().error(), (1146, "42S02"));
    assert_eq!(
        client.query("SELECT 1").text_rows().len(),
        1,
        "nothing else was queued"
    );
}

#[test]
fn a_20_mib_blob_arrives_in_split_packets() {
    let server = TestServer::start();
    for caps in [BASE_CAPS, BASE_CAPS | DEPRECATE_EOF] {
        let mut client = login(&server, caps);
        let rows = client.query("SELECT big").text_rows();
        let blob = rows[0][0].as_ref().unwrap();
        assert_eq!(blob.len(), BIG_LEN);
        assert!(blob.iter().enumerate().all(|(i, &b)| b == big_byte(i)));
    }
}

#[test]
fn a_17_mib_query_is_reassembled() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    let sql = format!("SELECT '{}'", "x".repeat(17 * 1024 * 1024));
    let Response::Err { code, message, .. } = client.query(&sql) else {
        panic!("expected ERR")
    };
    assert_eq!(code, 1064);
    assert!(
        message.len() > 17 * 1024 * 1024,
        "the backend saw the whole text"
    );
}

#[test]
fn init_db_selects_databases() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    client.command(b"\x02shop");
    assert!(matches!(
        parse_ok(&client.read_packet().unwrap()),
        Response::Ok { .. }
    ));
    assert_eq!(
        client.query("SELECT DATABASE()").text_rows(),
        [[Some(b"shop".to_vec())]]
    );
    client.command(b"\x02nope");
    assert_eq!(
        parse_err(&client.read_packet().unwrap()).error(),
        (1049, "42000")
    );
}

#[test]
fn ping_statistics_and_field_list() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    client.command(&[0x0e]);
    assert_eq!(client.read_packet().unwrap()[0], 0x00);

    client.command(&[0x09]);
    let line = String::from_utf8(client.read_packet().unwrap()).unwrap();
    assert!(
        line.starts_with("Uptime: ") && line.contains("Threads: 1"),
        "{line}"
    );

    client.command(b"\x04typed\0");
    let first = parse_column(&client.read_packet().unwrap());
    assert_eq!(first.name, "id");
    for _ in 1..support::memory::typed_columns().len() {
        client.read_packet().unwrap();
    }
    let end = client.read_packet().unwrap();
    assert!(end[0] == 0xfe && end.len() < 9);

    client.command(b"\x04nope\0");
    assert_eq!(
        parse_err(&client.read_packet().unwrap()).error(),
        (1146, "42S02")
    );
}

#[test]
fn unknown_and_malformed_commands_get_1047_and_the_connection_goes_on() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    client.command(&[0x55, 1, 2, 3]);
    let reply = parse_err(&client.read_packet().unwrap());
    assert_eq!(
        reply,
        Response::Err {
            code: 1047,
            state: "08S01".into(),
            message: "Unknown command".into()
        }
    );
    for malformed in [&[0x17, 1][..], &[0x04, b'n', b'o'], &[0x1b, 9, 9], &[]] {
        client.command(malformed);
        assert_eq!(
            parse_err(&client.read_packet().unwrap()).error(),
            (1047, "08S01"),
            "{malformed:?}"
        );
    }
    assert_eq!(client.query("SELECT 1").text_rows().len(), 1);
}

#[test]
fn invalid_utf8_sql_is_refused() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    client.command(b"\x03SELECT '\xff\xfe'");
    let reply = parse_err(&client.read_packet().unwrap());
    assert_eq!(reply.error(), (1300, "HY000"));
}

#[test]
fn reset_connection_keeps_the_database_and_drops_statements() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    client.query("USE shop");
    client.command(b"\x16SELECT 1");
    assert_eq!(client.read_packet().unwrap()[0], 0x00);
    client.read_columns(1);
    client.query("BEGIN");

    client.command(&[0x1f]);
    let Response::Ok { status, .. } = parse_ok(&client.read_packet().unwrap()) else {
        panic!()
    };
    assert_eq!(status, AUTOCOMMIT, "the transaction is gone");
    assert_eq!(
        client.query("SELECT DATABASE()").text_rows(),
        [[Some(b"shop".to_vec())]]
    );
    client.command(&[0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
    assert_eq!(
        parse_err(&client.read_packet().unwrap()).error(),
        (1243, "HY000")
    );
}

#[test]
fn quit_closes_the_connection() {
    let server = TestServer::start();
    let mut client = login(&server, BASE_CAPS);
    client.command(&[0x01]);
    assert!(client.is_closed());
}
