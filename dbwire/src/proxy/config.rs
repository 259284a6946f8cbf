//! How the proxy connects, pools, routes and records.

use std::time::Duration;

use crate::client::ConnectOptions;

/// Everything the proxy needs to serve clients.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// The primary (writer): every write, transaction and anything not known to be a read.
    pub primary: ConnectOptions,
    /// Replicas (readers), tried in turn for reads when `routing.read_write_split` is on.
    pub replicas: Vec<ConnectOptions>,
    /// Limits of each upstream's connection pool.
    pub pool: PoolConfig,
    /// Where statements go.
    pub routing: RoutingConfig,
    /// Digests and the slow-query log.
    pub stats: StatsConfig,
    /// Credentials clients log in with: (user, password). Empty means the upstream URL's
    /// user and password.
    pub users: Vec<(String, String)>,
    /// Executor cores serving clients: each upstream gets a pool per core, sharing the
    /// configured sizes (see `Upstreams`).
    pub cores: usize,
}

/// Limits of one upstream's pool of backend connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// Connections kept open even when idle.
    pub min_connections: usize,
    /// Connections open at most; further clients wait for one to come back.
    pub max_connections: usize,
    /// An idle connection above `min_connections` is closed after this long.
    pub idle_timeout: Duration,
    /// A connection is replaced after this long, idle or not (at its next return).
    pub max_lifetime: Duration,
    /// How often idle connections are pinged and the pool topped up.
    pub health_check_interval: Duration,
    /// How long a statement waits for a free connection before failing with ERR 1040.
    pub acquire_timeout: Duration,
    /// Time to connect and log in to the upstream.
    pub connect_timeout: Duration,
    /// Longest pause between reconnect attempts to an upstream that is down (the pause
    /// doubles from 100 ms up to this).
    pub max_reconnect_backoff: Duration,
    /// Server-side prepared statements cached per backend connection.
    pub statements_per_connection: usize,
}

impl Default for PoolConfig {
    fn default() -> PoolConfig {
        PoolConfig {
            min_connections: 2,
            max_connections: 20,
            idle_timeout: Duration::from_secs(300),
            max_lifetime: Duration::from_secs(3600),
            health_check_interval: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            max_reconnect_backoff: Duration::from_secs(5),
            statements_per_connection: 256,
        }
    }
}

/// Read/write splitting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoutingConfig {
    /// Send reads outside transactions to replicas.
    pub read_write_split: bool,
    /// After a session writes, its reads go to the primary for this long, so it reads its
    /// own writes even when replicas lag.
    pub sticky_after_write: Duration,
    /// A replica more than this far behind (or not replicating) gets no reads until it
    /// catches up; `None` turns lag checks off.
    pub max_replica_lag: Option<Duration>,
    /// How often replica lag is checked.
    pub lag_check_interval: Duration,
}

impl Default for RoutingConfig {
    fn default() -> RoutingConfig {
        RoutingConfig {
            read_write_split: true,
            sticky_after_write: Duration::from_secs(1),
            max_replica_lag: Some(Duration::from_secs(10)),
            lag_check_interval: Duration::from_secs(1),
        }
    }
}

/// Query digests and the slow-query log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatsConfig {
    /// Statements slower than this are logged (with EXPLAIN captured in the background).
    pub slow_query_threshold: Duration,
    /// Slow queries kept (the oldest are dropped).
    pub slow_log_entries: usize,
    /// Distinct digests each core tracks; statements of further digests are counted but not
    /// listed.
    pub max_digests: usize,
}

impl Default for StatsConfig {
    fn default() -> StatsConfig {
        StatsConfig {
            slow_query_threshold: Duration::from_secs(1),
            slow_log_entries: 100,
            max_digests: 10_000,
        }
    }
}
