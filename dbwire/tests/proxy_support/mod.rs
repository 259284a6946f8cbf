//! The proxy in front of an upstream in the tests: its settings, and its clients.

#![allow(dead_code)]

use dbwire::client::{ConnectOptions, Connection};
use dbwire::proxy::{PoolConfig, ProxyConfig, RoutingConfig, StatsConfig};
use dbwire::QueryResult;

/// Options for `user` on the server at `port`, in database `shop`.
pub fn shop_options(port: u16, user: &str, password: &str) -> ConnectOptions {
    let mut options = ConnectOptions::new("127.0.0.1", port, user, password);
    options.database = Some("shop".into());
    options
}

/// A proxy to `primary` (no replicas) with `pool`, which clients log in to as `app`/`secret`.
pub fn proxy_config(primary: ConnectOptions, pool: PoolConfig) -> ProxyConfig {
    ProxyConfig {
        primary,
        replicas: Vec::new(),
        pool,
        routing: RoutingConfig::default(),
        stats: StatsConfig::default(),
        users: vec![("app".into(), "secret".into())],
        cores: 1,
    }
}

/// A client of the proxy listening on `port`, as `app`.
pub fn proxy_client(port: u16) -> Connection {
    Connection::connect(&shop_options(port, "app", "secret")).unwrap()
}

/// The one result of `sql`, which must succeed.
pub fn run(connection: &mut Connection, sql: &str) -> QueryResult {
    let mut results = connection.query(sql).unwrap();
    results
        .remove(0)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}
