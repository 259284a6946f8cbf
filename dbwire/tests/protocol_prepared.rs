//! Prepared statements over raw packets: prepare metadata, binary parameters (types, NULL
//! bitmap, remembered types, long data), binary rows, close and reset.

mod support;

use dbwire::protocol::constants::capabilities::DEPRECATE_EOF;
use dbwire::protocol::wire::{PayloadReader, PayloadWriter};
use dbwire::server::ServerConfig;
use support::raw_client::{parse_err, parse_ok, RawClient, Response, BASE_CAPS};
use support::TestServer;

struct Prepared {
    id: u32,
    columns: u16,
    params: u16,
}

fn prepare(client: &mut RawClient, sql: &str) -> Result<Prepared, Response> {
    let mut payload = vec![0x16];
    payload.extend_from_slice(sql.as_bytes());
    client.command(&payload);
    let reply = client.read_packet().unwrap();
    if reply[0] == 0xff {
        return Err(parse_err(&reply));
    }
    let mut r = PayloadReader::new(&reply);
    assert_eq!(r.u8().unwrap(), 0x00);
    let id = r.u32().unwrap();
    let columns = r.u16().unwrap();
    let params = r.u16().unwrap();
    assert_eq!(r.u8().unwrap(), 0);
    assert_eq!(r.u16().unwrap(), 0, "warnings");
    if params > 0 {
        let defs = client.read_columns(usize::from(params));
        assert!(defs.iter().all(|def| def.name == "?"));
    }
    if columns > 0 {
        client.read_columns(usize::from(columns));
    }
    Ok(Prepared {
        id,
        columns,
        params,
    })
}

/// A COM_STMT_EXECUTE payload; `types` None means "types not resent".
fn execute_payload(
    id: u32,
    null_bitmap: &[u8],
    types: Option<&[(u8, u8)]>,
    values: &[u8],
) -> Vec<u8> {
    let mut out = vec![0x17];
    out.put_u32(id);
    out.put_u8(0);
    out.put_u32(1);
    out.extend_from_slice(null_bitmap);
    match types {
        Some(types) => {
            out.put_u8(1);
            for &(code, flags) in types {
                out.extend_from_slice(&[code, flags]);
            }
        }
        None => out.put_u8(0),
    }
    out.extend_from_slice(values);
    out
}

/// Binary result set: column types and raw row payloads.
fn read_binary_result(client: &mut RawClient) -> Result<(Vec<u8>, Vec<Vec<u8>>), Response> {
    let first = client.read_packet().unwrap();
    match first[0] {
        0xff => return Err(parse_err(&first)),
        0x00 => return Err(parse_ok(&first)),
        _ => {}
    }
    let count = PayloadReader::new(&first).lenenc_int().unwrap() as usize;
    let types = client
        .read_columns(count)
        .iter()
        .map(|c| c.column_type)
        .collect();
    let mut rows = Vec::new();
    loop {
        let packet = client.read_packet().unwrap();
        if client.end_marker_status(&packet).is_some() {
            return Ok((types, rows));
        }
        assert_eq!(packet[0], 0x00, "binary row header");
        rows.push(packet);
    }
}

#[test]
fn prepare_reports_parameters_and_columns() {
    let server = TestServer::start();
    for caps in [BASE_CAPS, BASE_CAPS | DEPRECATE_EOF] {
        let mut client = RawClient::login(server.port, "root", "", caps);
        let typed = prepare(&mut client, "SELECT * FROM typed").unwrap();
        assert_eq!((typed.columns, typed.params), (20, 0));
        let echo = prepare(&mut client, "SELECT ?, ?, ?").unwrap();
        assert_eq!((echo.columns, echo.params), (0, 3));
        assert_ne!(typed.id, echo.id);
        let error = prepare(&mut client, "SELEKT ?").err().unwrap();
        assert_eq!(error.error(), (1064, "42000"));
    }
}

#[test]
fn parameters_round_trip_through_binary_rows() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS | DEPRECATE_EOF);
    let stmt = prepare(&mut client, "SELECT ?, ?, ?, ?, ?").unwrap();
    let mut values = Vec::new();
    values.put_u64((-7i64) as u64);
    values.extend_from_slice(&2.5f64.to_le_bytes());
    values.put_lenenc_bytes("héllo".as_bytes());
    values.put_u64(u64::MAX);
    let types = [(0x08, 0), (0x05, 0), (0xfd, 0), (0x06, 0), (0x08, 0x80)];
    client.command(&execute_payload(stmt.id, &[0b01000], Some(&types), &values));
    let (column_types, rows) = read_binary_result(&mut client).unwrap();
    assert_eq!(column_types, [0x08, 0x05, 0xfd, 0x06, 0x08]);
    let mut expected = vec![0x00, 0b0010_0000];
    expected.extend_from_slice(&(-7i64).to_le_bytes());
    expected.extend_from_slice(&2.5f64.to_le_bytes());
    expected.put_lenenc_bytes("héllo".as_bytes());
    expected.extend_from_slice(&u64::MAX.to_le_bytes());
    assert_eq!(rows, [expected]);

    // Types are not resent on the next execute: the server remembers them.
    let mut values = Vec::new();
    values.put_u64(1);
    values.extend_from_slice(&0.5f64.to_le_bytes());
    values.put_lenenc_bytes(b"x");
    values.put_u64(2);
    client.command(&execute_payload(stmt.id, &[0b01000], None, &values));
    let (_, rows) = read_binary_result(&mut client).unwrap();
    assert_eq!(&rows[0][2..10], &1i64.to_le_bytes());
}

#[test]
fn typed_columns_use_binary_encodings() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    let stmt = prepare(&mut client, "SELECT * FROM typed").unwrap();
    client.command(&execute_payload(stmt.id, &[], None, &[]));
    let (types, rows) = read_binary_result(&mut client).unwrap();
    assert_eq!(types.len(), 20);
    let row = &rows[0];
    let bitmap_len = (20 + 7 + 2) / 8;
    assert_eq!(
        &row[1..1 + bitmap_len],
        &[0, 0, 0b0001_0000],
        "only `nul` is NULL"
    );
    let mut r = PayloadReader::new(&row[1 + bitmap_len..]);
    assert_eq!(r.u64().unwrap(), 1);
    assert_eq!(r.u8().unwrap(), 0x80);
    assert_eq!(r.u16().unwrap(), 32767);
    assert_eq!(r.u32().unwrap() as i32, -8_388_608);
    assert_eq!(r.u32().unwrap(), 2_147_483_647);
    assert_eq!(r.u64().unwrap() as i64, i64::MIN);
    assert_eq!(r.u64().unwrap(), u64::MAX);
    assert_eq!(f32::from_le_bytes(r.array().unwrap()), 1.5);
    assert_eq!(f64::from_le_bytes(r.array().unwrap()), -2.25e-3);
    assert_eq!(r.lenenc_bytes().unwrap(), b"12345.67");
    assert_eq!(r.bytes(5).unwrap(), [4, 0xe8, 0x07, 2, 29]);
    assert_eq!(
        r.bytes(12).unwrap(),
        [11, 0xe8, 0x07, 2, 29, 13, 14, 15, 0x40, 0xe2, 0x01, 0]
    );
    assert_eq!(r.bytes(8).unwrap(), [7, 0xb2, 0x07, 1, 1, 0, 0, 1]);
    assert_eq!(r.bytes(9).unwrap(), [8, 1, 34, 0, 0, 0, 22, 59, 59]);
    assert_eq!(r.u16().unwrap(), 2024);
    assert_eq!(r.lenenc_bytes().unwrap(), "héllo wörld ☃".as_bytes());
    assert_eq!(r.lenenc_bytes().unwrap(), [0, 1, 2, 0xff, 0xfe]);
    assert_eq!(r.lenenc_bytes().unwrap(), b"long text");
    assert_eq!(r.lenenc_bytes().unwrap(), b"{\"a\": 1}");
    assert!(r.is_empty());
    assert_eq!(
        &rows[1][1..4],
        &[0b1111_1000, 0xff, 0b0011_1111],
        "all NULL but id"
    );
}

#[test]
fn long_data_is_collected_and_consumed() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS | DEPRECATE_EOF);
    let stmt = prepare(&mut client, "SELECT ?, ?").unwrap();
    for chunk in [&b"hello "[..], b"world"] {
        let mut payload = vec![0x18];
        payload.put_u32(stmt.id);
        payload.put_u16(0);
        payload.extend_from_slice(chunk);
        client.command(&payload);
    }
    let mut values = Vec::new();
    values.put_lenenc_bytes(b"second");
    let types = [(0xfc, 0), (0xfd, 0)];
    client.command(&execute_payload(stmt.id, &[0], Some(&types), &values));
    let (_, rows) = read_binary_result(&mut client).unwrap();
    let mut r = PayloadReader::new(&rows[0][2..]);
    assert_eq!(r.lenenc_bytes().unwrap(), b"hello world");
    assert_eq!(r.lenenc_bytes().unwrap(), b"second");

    // Consumed: the next execute must send the value itself.
    let mut values = Vec::new();
    values.put_lenenc_bytes(b"a");
    values.put_lenenc_bytes(b"b");
    client.command(&execute_payload(stmt.id, &[0], None, &values));
    let (_, rows) = read_binary_result(&mut client).unwrap();
    assert_eq!(&rows[0][2..], &[1, b'a', 1, b'b']);
}

#[test]
fn long_data_for_a_bad_parameter_fails_the_next_execute() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    let stmt = prepare(&mut client, "SELECT ?").unwrap();
    let mut payload = vec![0x18];
    payload.put_u32(stmt.id);
    payload.put_u16(5);
    payload.extend_from_slice(b"x");
    client.command(&payload);
    client.command(&execute_payload(stmt.id, &[1], Some(&[(0x06, 0)]), &[]));
    assert_eq!(
        read_binary_result(&mut client).unwrap_err().error(),
        (1210, "HY000")
    );
    client.command(&execute_payload(stmt.id, &[1], Some(&[(0x06, 0)]), &[]));
    assert!(read_binary_result(&mut client).is_ok(), "reported once");
}

#[test]
fn statements_without_rows_answer_ok() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    let stmt = prepare(&mut client, "INSERT INTO kv VALUES (?, ?)").unwrap();
    let mut values = Vec::new();
    values.put_lenenc_bytes(b"k");
    values.put_lenenc_bytes(b"v");
    client.command(&execute_payload(
        stmt.id,
        &[0],
        Some(&[(0xfd, 0), (0xfd, 0)]),
        &values,
    ));
    let Err(Response::Ok {
        affected_rows,
        last_insert_id,
        ..
    }) = read_binary_result(&mut client)
    else {
        panic!("expected OK")
    };
    assert_eq!(affected_rows, 1);
    assert!(last_insert_id >= 1);
}

#[test]
fn malformed_executes_get_1047_and_the_connection_goes_on() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    let stmt = prepare(&mut client, "SELECT ?").unwrap();
    let cases = [
        execute_payload(stmt.id, &[0], Some(&[(0x08, 0)]), &[1, 2]),
        execute_payload(stmt.id, &[0], Some(&[(0x99, 0)]), &[1]),
        execute_payload(stmt.id, &[0], None, &[1]),
        execute_payload(stmt.id, &[], None, &[])[..7].to_vec(),
    ];
    for payload in cases {
        client.command(&payload);
        assert_eq!(
            read_binary_result(&mut client).unwrap_err().error(),
            (1047, "08S01")
        );
    }
    assert_eq!(client.query("SELECT 1").text_rows().len(), 1);
}

#[test]
fn close_reset_and_unknown_statements() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    let stmt = prepare(&mut client, "SELECT ?").unwrap();

    let mut reset = vec![0x1a];
    reset.put_u32(stmt.id);
    client.command(&reset);
    assert_eq!(client.read_packet().unwrap()[0], 0x00);

    let mut close = vec![0x19];
    close.put_u32(stmt.id);
    client.command(&close);
    client.command(&execute_payload(stmt.id, &[1], Some(&[(0x06, 0)]), &[]));
    let error = read_binary_result(&mut client).unwrap_err();
    assert_eq!(
        error,
        Response::Err {
            code: 1243,
            state: "HY000".into(),
            message: format!(
                "Unknown prepared statement handler ({}) given to mysqld_stmt_execute",
                stmt.id
            ),
        }
    );
    client.command(&reset);
    assert_eq!(
        parse_err(&client.read_packet().unwrap()).error(),
        (1243, "HY000")
    );
}

#[test]
fn the_prepared_statement_limit_is_enforced() {
    let config = ServerConfig {
        max_prepared_statements: 2,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    prepare(&mut client, "SELECT 1").unwrap();
    let second = prepare(&mut client, "SELECT 1").unwrap();
    assert_eq!(
        prepare(&mut client, "SELECT 1").err().unwrap().error(),
        (1461, "42000")
    );
    let mut close = vec![0x19];
    close.put_u32(second.id);
    client.command(&close);
    prepare(&mut client, "SELECT 1").unwrap();
}
