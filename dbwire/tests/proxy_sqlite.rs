//! The proxy backend in process, in front of dbwire's own server over SQLite: statements and
//! prepared statements pass through, the pool's wait queue ends in ERR 1040, an unreachable
//! upstream gives ERR 1429 quickly, and digests are recorded.

mod client_support;
mod proxy_support;
mod sqlite_support;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::{Duration, Instant};

use client_support::rows;
use dbwire::client::{ConnectOptions, Connection};
use dbwire::proxy::{PoolConfig, ProxyBackend};
use dbwire::Value;
use proxy_support::{proxy_client, proxy_config, run, shop_options};
use sqlite_support::BackendServer;

/// An upstream over SQLite, and the proxy in front of it.
struct Stack {
    proxy: Arc<ProxyBackend>,
    front: BackendServer,
    _upstream: BackendServer,
    _fixture: sqlite_support::Fixture,
}

impl Stack {
    fn start(pool: PoolConfig) -> Stack {
        let fixture = sqlite_support::Fixture::new();
        let upstream = BackendServer::start(Arc::new(fixture.backend.clone()));
        let proxy = Arc::new(
            ProxyBackend::start(proxy_config(shop_options(upstream.port, "root", ""), pool))
                .unwrap(),
        );
        let front = BackendServer::start(Arc::clone(&proxy));
        Stack {
            proxy,
            front,
            _upstream: upstream,
            _fixture: fixture,
        }
    }

    fn client(&self) -> Connection {
        proxy_client(self.front.port)
    }
}

#[test]
fn statements_and_prepared_statements_pass_through() {
    let stack = Stack::start(PoolConfig {
        max_connections: 2,
        ..PoolConfig::default()
    });
    let mut client = stack.client();
    run(
        &mut client,
        "CREATE TABLE items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20))",
    );
    run(&mut client, "INSERT INTO items (name) VALUES ('a'), ('b')");
    let select = client
        .prepare("SELECT name FROM items WHERE id = ?")
        .unwrap()
        .unwrap();
    // Other sessions churn the pool's connections between the executions, so the statement
    // runs on whichever backend connection is free and is prepared there first if needed.
    for id in [1, 2, 1] {
        let mut other = stack.client();
        run(&mut other, "SELECT COUNT(*) FROM items");
        let result = client.execute(&select, &[Value::Int(id)]).unwrap().unwrap();
        let expected = if id == 1 { "a" } else { "b" };
        assert_eq!(rows(result), [[Value::Bytes(expected.into())]]);
    }
    let error = client
        .query("SELECT * FROM missing")
        .unwrap()
        .remove(0)
        .unwrap_err();
    assert_eq!(error.code, 1146);

    let digests = stack.proxy.stats().digests();
    let counted = digests
        .iter()
        .find(|row| row.digest_text == "SELECT COUNT(*) FROM items")
        .expect("a digest for the count");
    assert_eq!(counted.count_star, 3);
    assert_eq!(counted.schemaname, "shop");
    assert_eq!(counted.username, "app");
    assert_eq!(counted.client_address, "127.0.0.1");
    assert!(stack.proxy.pools()[0].total <= 2);
}

#[test]
fn a_full_pool_makes_statements_wait_then_fail_with_1040() {
    let stack = Stack::start(PoolConfig {
        min_connections: 0,
        max_connections: 1,
        acquire_timeout: Duration::from_millis(300),
        ..PoolConfig::default()
    });
    let mut holder = stack.client();
    run(&mut holder, "CREATE TABLE t (id INT)");
    run(&mut holder, "BEGIN");
    run(&mut holder, "INSERT INTO t VALUES (1)");

    let mut waiter = stack.client();
    let started = Instant::now();
    let error = waiter.query("SELECT 1").unwrap().remove(0).unwrap_err();
    assert_eq!(error.code, 1040, "{error}");
    assert!(error.message.contains("max_connections = 1"), "{error}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    assert_eq!(stack.proxy.pools()[0].wait_timeouts, 1);

    // Once the transaction ends the connection is shared again.
    run(&mut holder, "COMMIT");
    assert_eq!(rows(run(&mut waiter, "SELECT COUNT(*) FROM t")).len(), 1);
}

#[test]
fn an_unreachable_upstream_fails_fast_with_1429() {
    let closed = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let pool = PoolConfig {
        min_connections: 0,
        connect_timeout: Duration::from_secs(1),
        ..PoolConfig::default()
    };
    let proxy =
        Arc::new(ProxyBackend::start(proxy_config(shop_options(port, "root", ""), pool)).unwrap());
    let front = BackendServer::start(Arc::clone(&proxy));
    let mut client = proxy_client(front.port);
    for _ in 0..2 {
        let started = Instant::now();
        let error = client.query("SELECT 1").unwrap().remove(0).unwrap_err();
        assert_eq!(error.code, 1429, "{error}");
        assert!(error.message.contains("ePHPm proxy"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    assert!(!proxy.pools()[0].up);
    // A wrong password is refused by the proxy itself.
    let mut wrong = ConnectOptions::new("127.0.0.1", front.port, "app", "nope");
    wrong.database = None;
    assert!(Connection::connect(&wrong).is_err());
}
