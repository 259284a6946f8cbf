//! The primary and the replicas: picking a replica for a read, and the background checks
//! that keep pools healthy and take lagging replicas out of rotation.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::config::{PoolConfig, RoutingConfig};
use super::connection::BackendConnection;
use super::pool::{Pool, Role};
use crate::backend::{QueryResult, Value};
use crate::client::ConnectOptions;

/// Lag value meaning "not replicating, or unknown".
const NO_LAG: i64 = -1;

/// A replica and whether it takes reads.
#[derive(Debug)]
struct Replica {
    pool: Arc<Pool>,
    in_rotation: AtomicBool,
    /// Seconds behind the primary at the last check, or [`NO_LAG`].
    lag_seconds: AtomicI64,
}

/// A replica's state, for the node API and metrics.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicaSnapshot {
    /// `host:port`.
    pub address: String,
    /// Whether reads go to it.
    pub in_rotation: bool,
    /// Seconds behind the primary at the last check; `None` when not replicating or unknown.
    pub lag_seconds: Option<i64>,
}

/// Every upstream of the proxy.
#[derive(Debug)]
pub struct Upstreams {
    primary: Arc<Pool>,
    replicas: Vec<Replica>,
    next_replica: AtomicUsize,
    routing: RoutingConfig,
}

impl Upstreams {
    /// Pools for the primary and each replica (no connections opened yet).
    pub fn new(
        primary: ConnectOptions,
        replicas: Vec<ConnectOptions>,
        pool: &PoolConfig,
        routing: RoutingConfig,
    ) -> Upstreams {
        let replicas = replicas
            .into_iter()
            .map(|options| Replica {
                pool: Arc::new(Pool::new(Role::Replica, options, pool.clone())),
                in_rotation: AtomicBool::new(true),
                lag_seconds: AtomicI64::new(NO_LAG),
            })
            .collect();
        Upstreams {
            primary: Arc::new(Pool::new(Role::Primary, primary, pool.clone())),
            replicas,
            next_replica: AtomicUsize::new(0),
            routing,
        }
    }

    /// The writer's pool.
    pub fn primary(&self) -> &Arc<Pool> {
        &self.primary
    }

    /// Routing settings.
    pub fn routing(&self) -> &RoutingConfig {
        &self.routing
    }

    /// The next replica in rotation that is up (round robin), if any.
    pub fn pick_replica(&self) -> Option<&Arc<Pool>> {
        let count = self.replicas.len();
        let start = self.next_replica.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|offset| &self.replicas[(start + offset) % count])
            .find(|replica| replica.in_rotation.load(Ordering::Relaxed) && replica.pool.is_up())
            .map(|replica| &replica.pool)
    }

    /// Every pool, primary first.
    pub fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        std::iter::once(&self.primary).chain(self.replicas.iter().map(|replica| &replica.pool))
    }

    /// Replica states.
    pub fn replica_snapshots(&self) -> Vec<ReplicaSnapshot> {
        self.replicas
            .iter()
            .map(|replica| {
                let lag = replica.lag_seconds.load(Ordering::Relaxed);
                ReplicaSnapshot {
                    address: replica.pool.address(),
                    in_rotation: replica.in_rotation.load(Ordering::Relaxed),
                    lag_seconds: (lag != NO_LAG).then_some(lag),
                }
            })
            .collect()
    }

    /// Health checks and pool top-ups for every upstream.
    pub fn maintain(&self) {
        for pool in self.pools() {
            pool.maintain();
        }
    }

    /// Asks each replica how far behind it is and takes it out of rotation (or back in).
    pub fn check_replica_lag(&self) {
        let Some(max_lag) = self.routing.max_replica_lag else {
            return;
        };
        for replica in &self.replicas {
            let lag = replica.pool.with_connection(replication_lag).ok().flatten();
            replica
                .lag_seconds
                .store(lag.unwrap_or(NO_LAG), Ordering::Relaxed);
            let healthy = lag.is_some_and(|seconds| seconds as u64 <= max_lag.as_secs());
            let was = replica.in_rotation.swap(healthy, Ordering::Relaxed);
            if was != healthy {
                let address = replica.pool.address();
                match lag {
                    _ if healthy => log::info!("replica {address} back in rotation"),
                    Some(seconds) => log::warn!(
                        "replica {address} is {seconds} s behind (max_replica_lag {} s): \
                         no reads until it catches up",
                        max_lag.as_secs()
                    ),
                    None => log::warn!(
                        "replica {address} is not replicating (or unreachable): no reads"
                    ),
                }
            }
        }
    }

    /// Runs [`Upstreams::maintain`] and [`Upstreams::check_replica_lag`] on their intervals
    /// until `stop` is set.
    pub fn run_checks(&self, pool: &PoolConfig, stop: &AtomicBool) {
        let tick = pool
            .health_check_interval
            .min(self.routing.lag_check_interval)
            .max(Duration::from_millis(50));
        let mut last_maintenance = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::park_timeout(tick);
            if stop.load(Ordering::Relaxed) {
                break;
            }
            if last_maintenance.elapsed() >= pool.health_check_interval {
                self.maintain();
                last_maintenance = Instant::now();
            }
            self.check_replica_lag();
        }
    }
}

/// Seconds the replica behind `connection` is behind its primary, `None` when it is not
/// replicating. A server that is not a replica at all counts as current (lag 0).
fn replication_lag(connection: &mut BackendConnection) -> Option<i64> {
    let mut results = connection.query("SHOW REPLICA STATUS").ok()?;
    if matches!(results.first(), Some(Err(_))) {
        results = connection.query("SHOW SLAVE STATUS").ok()?;
    }
    let Some(Ok(QueryResult::Rows { columns, rows })) = results.into_iter().next() else {
        return None;
    };
    let Some(row) = rows.first() else {
        return Some(0);
    };
    let column = columns.iter().position(|column| {
        column.name.eq_ignore_ascii_case("Seconds_Behind_Master")
            || column.name.eq_ignore_ascii_case("Seconds_Behind_Source")
    })?;
    match row.get(column)? {
        Value::Bytes(text) => std::str::from_utf8(text).ok()?.trim().parse().ok(),
        Value::Int(seconds) => Some(*seconds),
        Value::UInt(seconds) => i64::try_from(*seconds).ok(),
        Value::Null | Value::Double(_) => None,
    }
}
