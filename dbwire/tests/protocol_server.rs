//! The listener and connection limits: oversized and out-of-order packets, max_connections,
//! idle timeout, panics in the backend, and stopping.

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use dbwire::server::ServerConfig;
use support::raw_client::{parse_err, RawClient, Response, BASE_CAPS};
use support::TestServer;

#[test]
fn oversized_packets_get_1153_and_the_connection_closes() {
    let config = ServerConfig {
        max_packet: 1024,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    // Announce 4 KiB but send only part of it: the server must answer from the header alone.
    client
        .stream
        .write_all(&[0x00, 0x10, 0x00, 0x00, 0x03])
        .unwrap();
    client.stream.write_all(&[b'x'; 100]).unwrap();
    client.seq = 1;
    let reply = parse_err(&client.read_packet().unwrap());
    assert_eq!(
        reply,
        Response::Err {
            code: 1153,
            state: "08S01".into(),
            message: "Got a packet bigger than 'max_allowed_packet' bytes".into()
        }
    );
    assert!(client.is_closed());
    RawClient::login(server.port, "root", "", BASE_CAPS);
}

#[test]
fn packets_up_to_the_limit_are_accepted() {
    let config = ServerConfig {
        max_packet: 1024,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    let sql = format!("SELECT 1{}", " ".repeat(1024 - 9));
    assert_eq!(client.query(&sql).text_rows().len(), 1);
}

#[test]
fn out_of_order_packets_get_1156_and_the_connection_closes() {
    let server = TestServer::start();
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    client.seq = 7;
    client.write_packet(&[0x0e]);
    client.seq = 0;
    assert_eq!(
        parse_err(&client.read_packet().unwrap()).error(),
        (1156, "08S01")
    );
    assert!(client.is_closed());
}

#[test]
fn connections_beyond_the_limit_get_1040() {
    let config = ServerConfig {
        max_connections: 1,
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let first = RawClient::login(server.port, "root", "", BASE_CAPS);
    let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut refused = RawClient {
        stream,
        seq: 0,
        capabilities: BASE_CAPS,
    };
    let reply = parse_err(&refused.read_packet().unwrap());
    assert_eq!(reply.error(), (1040, "08004"));
    assert!(refused.is_closed());

    drop(first);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut client = RawClient {
            stream,
            seq: 0,
            capabilities: BASE_CAPS,
        };
        if client.read_packet().unwrap()[0] == 10 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never released");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn idle_connections_are_closed_after_wait_timeout() {
    let config = ServerConfig {
        wait_timeout: Duration::from_millis(300),
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let mut client = RawClient::login(server.port, "root", "", BASE_CAPS);
    assert_eq!(client.query("SELECT 1").text_rows().len(), 1);
    client.seq = 0;
    let reply = parse_err(&client.read_packet().unwrap());
    assert_eq!(reply.error(), (4031, "HY000"));
    assert!(client.is_closed());
}

#[test]
fn slow_logins_are_cut_by_connect_timeout() {
    let config = ServerConfig {
        connect_timeout: Duration::from_millis(200),
        ..Default::default()
    };
    let server = TestServer::with_config(config);
    let (mut client, _) = RawClient::connect(server.port);
    let started = Instant::now();
    client.read_packet().ok();
    assert!(client.is_closed());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_panicking_backend_drops_only_its_connection() {
    let server = TestServer::start();
    let mut bystander = RawClient::login(server.port, "root", "", BASE_CAPS);
    let mut victim = RawClient::login(server.port, "root", "", BASE_CAPS);
    victim.command(b"\x03PANIC");
    assert!(victim.is_closed());
    assert_eq!(bystander.query("SELECT 1").text_rows().len(), 1);
    let mut newcomer = RawClient::login(server.port, "root", "", BASE_CAPS);
    assert_eq!(newcomer.query("SELECT 1").text_rows().len(), 1);
}

#[test]
fn stopping_ends_serve_and_new_connections_fail() {
    let server = TestServer::start();
    let port = server.port;
    let mut client = RawClient::login(port, "root", "", BASE_CAPS);
    server.stop().unwrap();
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the listener is closed"
    );
    assert_eq!(
        client.query("SELECT 1").text_rows().len(),
        1,
        "open connections carry on"
    );
}
