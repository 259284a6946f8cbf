//! The connection phase over raw packets: greeting, both plugins, AuthSwitchRequest, wrong
//! passwords, bad handshakes.

mod support;

use dbwire::protocol::constants::capabilities::*;
use dbwire::protocol::constants::status;
use support::raw_client::{
    handshake_response, parse_err, scramble, RawClient, Response, BASE_CAPS,
};
use support::TestServer;

#[test]
fn greeting_announces_version_plugin_and_capabilities() {
    let server = TestServer::start();
    let (_client, greeting) = RawClient::connect(server.port);
    assert_eq!(greeting.version, "8.0.35-ePHPm");
    assert_eq!(greeting.plugin, "caching_sha2_password");
    assert_eq!(greeting.nonce.len(), 20);
    assert!(greeting.nonce.iter().all(|&b| b != 0));
    assert_eq!(greeting.charset, 45);
    assert_eq!(greeting.status, status::AUTOCOMMIT);
    let required = PROTOCOL_41
        | SECURE_CONNECTION
        | PLUGIN_AUTH
        | PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CONNECT_WITH_DB
        | DEPRECATE_EOF
        | MULTI_RESULTS
        | MULTI_STATEMENTS
        | PS_MULTI_RESULTS
        | TRANSACTIONS
        | LONG_PASSWORD
        | LONG_FLAG
        | CONNECT_ATTRS;
    assert_eq!(greeting.capabilities & required, required);
    assert_eq!(greeting.capabilities & SSL, 0, "no TLS yet");
}

#[test]
fn connection_ids_differ() {
    let server = TestServer::start();
    let (_a, first) = RawClient::connect(server.port);
    let (_b, second) = RawClient::connect(server.port);
    assert_ne!(first.connection_id, second.connection_id);
}

/// Sends a handshake response and returns every packet up to the final OK or ERR.
fn answer(client: &mut RawClient, response: &[u8]) -> Vec<Vec<u8>> {
    client.write_packet(response);
    let mut packets = Vec::new();
    loop {
        let packet = client.read_packet().unwrap();
        let last = matches!(packet[0], 0x00 | 0xff | 0xfe);
        packets.push(packet);
        if last {
            return packets;
        }
    }
}

#[test]
fn caching_sha2_password_sends_fast_auth_ok_then_ok() {
    let server = TestServer::start();
    let (mut client, greeting) = RawClient::connect(server.port);
    let auth = scramble("caching_sha2_password", "secret", &greeting.nonce);
    let response = handshake_response(
        BASE_CAPS,
        "app",
        &auth,
        Some("test"),
        Some("caching_sha2_password"),
    );
    let packets = answer(&mut client, &response);
    assert_eq!(packets[0], [0x01, 0x03]);
    assert_eq!(packets[1][0], 0x00);
    assert_eq!(packets.len(), 2);
}

#[test]
fn the_other_plugin_is_switched_to_itself() {
    let server = TestServer::start();
    let (mut client, greeting) = RawClient::connect(server.port);
    // libmariadb with --default-auth sends an empty first answer and waits for the switch.
    let response = handshake_response(BASE_CAPS, "app", &[], None, Some("mysql_native_password"));
    let switch = answer(&mut client, &response).remove(0);
    let mut expected = b"\xfemysql_native_password\0".to_vec();
    expected.extend_from_slice(&greeting.nonce);
    expected.push(0);
    assert_eq!(switch, expected, "switch request with the same nonce");
    let auth = scramble("mysql_native_password", "secret", &greeting.nonce);
    let packets = answer(&mut client, &auth);
    assert_eq!(packets.len(), 1, "no fast-auth packet for native passwords");
    assert_eq!(packets[0][0], 0x00);
}

#[test]
fn native_password_is_announced_when_configured() {
    let config = dbwire::server::ServerConfig {
        auth_plugin: dbwire::auth::AuthPlugin::NativePassword,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let (mut client, greeting) = RawClient::connect(server.port);
    assert_eq!(greeting.plugin, "mysql_native_password");
    let auth = scramble("mysql_native_password", "secret", &greeting.nonce);
    let response = handshake_response(BASE_CAPS, "app", &auth, None, Some("mysql_native_password"));
    assert_eq!(
        answer(&mut client, &response),
        [vec![0x00, 0, 0, 2, 0, 0, 0]]
    );
}

#[test]
fn empty_passwords_get_a_plain_ok() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::connect(server.port);
    let response = handshake_response(BASE_CAPS, "root", &[], None, Some("caching_sha2_password"));
    let packets = answer(&mut client, &response);
    assert_eq!(packets.len(), 1);
    assert_eq!(packets[0][0], 0x00);
}

#[test]
fn a_lone_nul_counts_as_an_empty_password() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::connect(server.port);
    let response = handshake_response(BASE_CAPS, "root", &[0], None, Some("caching_sha2_password"));
    assert_eq!(answer(&mut client, &response)[0][0], 0x00);
}

#[test]
fn an_unknown_plugin_is_switched_to_caching_sha2_password() {
    let server = TestServer::start();
    let (mut client, greeting) = RawClient::connect(server.port);
    let response = handshake_response(BASE_CAPS, "app", &[1], None, Some("sha256_password"));
    let switch = answer(&mut client, &response).remove(0);
    assert_eq!(switch[0], 0xfe);
    let mut expected = b"\xfecaching_sha2_password\0".to_vec();
    expected.extend_from_slice(&greeting.nonce);
    expected.push(0);
    assert_eq!(switch, expected, "switch request with the same nonce");

    let auth = scramble("caching_sha2_password", "secret", &greeting.nonce);
    let packets = answer(&mut client, &auth);
    assert_eq!(packets[0], [0x01, 0x03]);
    assert_eq!(packets[1][0], 0x00);
}

#[test]
fn the_switch_goes_to_the_configured_plugin() {
    let config = dbwire::server::ServerConfig {
        auth_plugin: dbwire::auth::AuthPlugin::NativePassword,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let (mut client, greeting) = RawClient::connect(server.port);
    assert_eq!(greeting.plugin, "mysql_native_password");
    let response = handshake_response(BASE_CAPS, "app", &[], None, Some("client_ed25519"));
    let switch = answer(&mut client, &response).remove(0);
    assert!(switch.starts_with(b"\xfemysql_native_password\0"));
    let auth = scramble("mysql_native_password", "secret", &greeting.nonce);
    assert_eq!(answer(&mut client, &auth), [vec![0x00, 0, 0, 2, 0, 0, 0]]);
}

#[test]
fn clients_without_plugin_auth_use_native_scrambles() {
    let server = TestServer::start();
    let (mut client, greeting) = RawClient::connect(server.port);
    let caps = PROTOCOL_41 | SECURE_CONNECTION | LONG_PASSWORD;
    let auth = scramble("mysql_native_password", "secret", &greeting.nonce);
    let mut response = Vec::new();
    response.extend_from_slice(&caps.to_le_bytes());
    response.extend_from_slice(&(1u32 << 24).to_le_bytes());
    response.push(45);
    response.extend_from_slice(&[0; 23]);
    response.extend_from_slice(b"app\0");
    response.push(20);
    response.extend_from_slice(&auth);
    assert_eq!(answer(&mut client, &response)[0][0], 0x00);
}

#[test]
fn wrong_passwords_are_denied_with_1045() {
    let server = TestServer::start();
    let cases = [
        ("app", "wrong", "YES"),
        ("app", "", "NO"),
        ("nobody", "x", "YES"),
        ("root", "x", "YES"),
    ];
    for (user, password, using) in cases {
        let (mut client, greeting) = RawClient::connect(server.port);
        let auth = scramble("caching_sha2_password", password, &greeting.nonce);
        let response =
            handshake_response(BASE_CAPS, user, &auth, None, Some("caching_sha2_password"));
        let reply = answer(&mut client, &response).remove(0);
        let expected = Response::Err {
            code: 1045,
            state: "28000".into(),
            message: format!(
                "Access denied for user '{user}'@'127.0.0.1' (using password: {using})"
            ),
        };
        assert_eq!(parse_err(&reply), expected);
        assert!(client.is_closed());
    }
}

#[test]
fn an_unknown_database_at_login_is_refused() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::connect(server.port);
    let response = handshake_response(
        BASE_CAPS,
        "root",
        &[],
        Some("nope"),
        Some("caching_sha2_password"),
    );
    let reply = answer(&mut client, &response).remove(0);
    assert_eq!(parse_err(&reply).error(), (1049, "42000"));
}

#[test]
fn a_database_named_at_login_is_selected() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::connect(server.port);
    let response = handshake_response(
        BASE_CAPS,
        "root",
        &[],
        Some("shop"),
        Some("caching_sha2_password"),
    );
    assert_eq!(answer(&mut client, &response)[0][0], 0x00);
    let rows = client.query("SELECT DATABASE()").text_rows();
    assert_eq!(rows, [[Some(b"shop".to_vec())]]);
}

#[test]
fn garbage_handshakes_get_an_error_and_the_server_carries_on() {
    let server = TestServer::start();
    for garbage in [&b"\x01\x02\x03"[..], b"", &[0xff; 40]] {
        let (mut client, _) = RawClient::connect(server.port);
        client.write_packet(garbage);
        let reply = client.read_packet().unwrap();
        assert_eq!(parse_err(&reply).error(), (1043, "08S01"));
        assert!(client.is_closed());
    }
    RawClient::login(server.port, "root", "", BASE_CAPS);
}

#[test]
fn tls_requests_and_pre_4_1_clients_are_refused() {
    let server = TestServer::start();
    for caps in [BASE_CAPS | SSL, LONG_PASSWORD | SECURE_CONNECTION] {
        let (mut client, _) = RawClient::connect(server.port);
        let mut request = Vec::new();
        request.extend_from_slice(&caps.to_le_bytes());
        request.extend_from_slice(&[0; 28]);
        client.write_packet(&request);
        let reply = client.read_packet().unwrap();
        assert_eq!(reply[0], 0xff);
        assert!(client.is_closed());
    }
}

#[test]
fn oversized_handshake_responses_are_refused_unread() {
    let server = TestServer::start();
    let (mut client, _) = RawClient::connect(server.port);
    std::io::Write::write_all(&mut client.stream, &[0x00, 0x00, 0x10, 1]).unwrap();
    client.seq = 2;
    let reply = client.read_packet().unwrap();
    assert_eq!(parse_err(&reply).error(), (1153, "08S01"));
    assert!(client.is_closed());
}

/// A COM_CHANGE_USER payload, scrambled with the connection's original nonce.
fn change_user(user: &str, auth: &[u8], database: &str, plugin: &str) -> Vec<u8> {
    let mut out = vec![0x11];
    out.extend_from_slice(user.as_bytes());
    out.push(0);
    out.push(auth.len() as u8);
    out.extend_from_slice(auth);
    out.extend_from_slice(database.as_bytes());
    out.push(0);
    out.extend_from_slice(&45u16.to_le_bytes());
    out.extend_from_slice(plugin.as_bytes());
    out.push(0);
    out
}

#[test]
fn change_user_logs_in_again_with_a_fresh_session() {
    let server = TestServer::start();
    let (mut client, greeting) = RawClient::connect(server.port);
    let response = handshake_response(BASE_CAPS, "root", &[], None, Some("caching_sha2_password"));
    assert_eq!(answer(&mut client, &response)[0][0], 0x00);
    client.query("BEGIN");

    let auth = scramble("caching_sha2_password", "secret", &greeting.nonce);
    client.command(&change_user("app", &auth, "shop", "caching_sha2_password"));
    assert_eq!(client.read_packet().unwrap(), [0x01, 0x03]);
    let ok = client.read_packet().unwrap();
    assert_eq!(ok, [0x00, 0, 0, 2, 0, 0, 0], "OK without IN_TRANS");
    let rows = client.query("SELECT DATABASE()").text_rows();
    assert_eq!(rows, [[Some(b"shop".to_vec())]]);

    client.command(&change_user("app", &[], "", "mysql_native_password"));
    let switch = client.read_packet().unwrap();
    assert!(switch.starts_with(b"\xfemysql_native_password\0"));
    client.write_packet(&scramble(
        "mysql_native_password",
        "secret",
        &greeting.nonce,
    ));
    assert_eq!(client.read_packet().unwrap()[0], 0x00);
}

#[test]
fn a_failed_change_user_ends_the_connection() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    client.command(&change_user("app", &[1; 32], "", "caching_sha2_password"));
    let reply = parse_err(&client.read_packet().unwrap());
    assert_eq!(reply.error(), (1045, "28000"));
    assert!(client.is_closed());
}
