//! Clients served the executor way (`ExecutorServer`): the proxy in front of dbwire's own
//! server over SQLite, with the command loop driven by a minimal executor (each stream
//! blocks inside its poll functions, so `block_on` runs the same code glommio runs). Leased
//! statements, the hand-off of other commands to the blocking threads, and commands that
//! arrive together in one write all give the answers a thread-per-client server gives.

mod client_support;
mod proxy_support;
mod sqlite_support;

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread;

use dbwire::client::Connection;
use dbwire::protocol::stream::ClientStream;
use dbwire::proxy::{PoolConfig, ProxyBackend};
use dbwire::server::{ExecutorCore, ExecutorServer, ServerConfig};
use dbwire::{QueryResult, Value};
use futures_lite::future::block_on;
use futures_lite::{AsyncRead, AsyncWrite};
use proxy_support::{proxy_client, proxy_config, run, shop_options};
use sqlite_support::BackendServer;

/// A socket whose async reads and writes block: enough for `block_on`.
struct Blocking(TcpStream);

impl AsyncRead for Blocking {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.0.read(buf))
    }
}

impl AsyncWrite for Blocking {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(self.0.write(buf))
    }

    fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.flush())
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.0.shutdown(std::net::Shutdown::Write))
    }
}

/// The proxy (over an upstream on SQLite) served the executor way on a port of its own.
struct Stack {
    port: u16,
    _upstream: BackendServer,
    _fixture: sqlite_support::Fixture,
}

impl Stack {
    fn start() -> Stack {
        let fixture = sqlite_support::Fixture::new();
        let upstream = BackendServer::start(Arc::new(fixture.backend.clone()));
        let pool = PoolConfig {
            max_connections: 2,
            ..PoolConfig::default()
        };
        let primary = shop_options(upstream.port, "root", "");
        let proxy = ProxyBackend::start(proxy_config(primary, pool)).unwrap();
        let server = Arc::new(ExecutorServer::new(
            Arc::new(proxy),
            ServerConfig::default(),
        ));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let server = Arc::clone(&server);
                thread::spawn(move || {
                    let core = ExecutorCore::new(0, |socket| Ok(Blocking(socket)));
                    let blocking = ClientStream::Tcp(stream.try_clone().unwrap());
                    block_on(server.serve(Blocking(stream), blocking, "test", &core));
                });
            }
        });
        Stack {
            port,
            _upstream: upstream,
            _fixture: fixture,
        }
    }

    fn client(&self) -> Connection {
        proxy_client(self.port)
    }
}

fn single_value(result: &QueryResult) -> Value {
    match result {
        QueryResult::Rows { rows, .. } => rows[0][0].clone(),
        QueryResult::Ok { .. } => panic!("no rows"),
    }
}

#[test]
fn statements_transactions_and_prepared_statements_through_the_executor_path() {
    let stack = Stack::start();
    let mut client = stack.client();
    run(
        &mut client,
        "CREATE TABLE items (id INT PRIMARY KEY, name TEXT)",
    );
    run(
        &mut client,
        "INSERT INTO items VALUES (1, 'one'), (2, 'two')",
    );
    let count = run(&mut client, "SELECT COUNT(*) FROM items");
    assert_eq!(single_value(&count), Value::Bytes(b"2".to_vec()));

    // A transaction pins its backend connection; the rollback undoes the insert.
    run(&mut client, "BEGIN");
    run(&mut client, "INSERT INTO items VALUES (3, 'three')");
    assert!(client.in_transaction());
    run(&mut client, "ROLLBACK");
    let count = run(&mut client, "SELECT COUNT(*) FROM items");
    assert_eq!(single_value(&count), Value::Bytes(b"2".to_vec()));

    // Prepared on the blocking path, executed on the leased path once the backend has it.
    let statement = client
        .prepare("SELECT name FROM items WHERE id = ?")
        .unwrap()
        .unwrap();
    for (id, name) in [(1, "one"), (2, "two"), (1, "one")] {
        let result = client
            .execute(&statement, &[Value::Int(id)])
            .unwrap()
            .unwrap();
        assert_eq!(
            single_value(&result),
            Value::Bytes(name.as_bytes().to_vec())
        );
    }
    let error = client.query("SELECT nope FROM items").unwrap().remove(0);
    assert_eq!(error.unwrap_err().code, 1054);
    // Still usable after the error.
    let count = run(&mut client, "SELECT COUNT(*) FROM items");
    assert_eq!(single_value(&count), Value::Bytes(b"2".to_vec()));
}

#[test]
fn commands_sent_together_are_answered_in_order() {
    let stack = Stack::start();
    let client = stack.client();
    let mut socket = client.socket().try_clone().unwrap();
    // COM_PING (answered on the blocking path), then COM_QUERY (leased), in one write.
    let mut both = Vec::new();
    both.extend_from_slice(&[1, 0, 0, 0, 0x0e]);
    let query = b"\x03SELECT 41 + 1";
    both.extend_from_slice(&[query.len() as u8, 0, 0, 0]);
    both.extend_from_slice(query);
    socket.write_all(&both).unwrap();
    let ping = read_packet(&mut socket);
    assert_eq!(ping[0], 0x00, "OK for the ping: {ping:?}");
    let mut packets = Vec::new();
    loop {
        let packet = read_packet(&mut socket);
        let last = packet[0] == 0xfe && packet.len() < 9 && packets.len() > 2;
        packets.push(packet);
        if last || packets.len() > 8 {
            break;
        }
    }
    assert_eq!(packets[0], vec![1], "one column");
    assert!(
        packets.iter().any(|packet| packet == b"\x0242"),
        "the row: {packets:?}"
    );
    drop(socket);
    drop(client);
}

/// One packet's payload from `socket`.
fn read_packet(socket: &mut TcpStream) -> Vec<u8> {
    let mut header = [0u8; 4];
    socket.read_exact(&mut header).unwrap();
    let len = usize::from(header[0]) | usize::from(header[1]) << 8 | usize::from(header[2]) << 16;
    let mut payload = vec![0u8; len];
    socket.read_exact(&mut payload).unwrap();
    payload
}
