//! The primary and the replicas: picking a replica for a read, and the background checks
//! that keep pools healthy and take lagging replicas out of rotation.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::config::{PoolConfig, RoutingConfig};
use super::connection::BackendConnection;
use super::pool::{Pool, PoolSnapshot, Role};
use crate::backend::{QueryResult, Value};
use crate::client::ConnectOptions;

/// Lag value meaning "not replicating, or unknown".
const NO_LAG: i64 = -1;

/// A replica and whether it takes reads.
#[derive(Debug)]
struct Replica {
    /// One pool per core.
    pools: Vec<Arc<Pool>>,
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

/// Every upstream of the proxy. Each upstream has one pool per executor core, so that no
/// lock is shared between cores on the statement path: the configured pool sizes are split
/// between the cores (`max / cores` each, the remainder going to the first cores, at least
/// one connection per core).
#[derive(Debug)]
pub struct Upstreams {
    /// One pool per core.
    primary: Vec<Arc<Pool>>,
    replicas: Vec<Replica>,
    next_replica: AtomicUsize,
    routing: RoutingConfig,
}

impl Upstreams {
    /// Pools for the primary and each replica on each of `cores` cores (no connections
    /// opened yet).
    pub fn new(
        primary: ConnectOptions,
        replicas: Vec<ConnectOptions>,
        pool: &PoolConfig,
        routing: RoutingConfig,
        cores: usize,
    ) -> Upstreams {
        let cores = cores.max(1);
        let replicas = replicas
            .into_iter()
            .map(|options| Replica {
                pools: core_pools(Role::Replica, &options, pool, cores),
                in_rotation: AtomicBool::new(true),
                lag_seconds: AtomicI64::new(NO_LAG),
            })
            .collect();
        Upstreams {
            primary: core_pools(Role::Primary, &primary, pool, cores),
            replicas,
            next_replica: AtomicUsize::new(0),
            routing,
        }
    }

    /// The writer's pool of core 0, for the proxy's own statements (schema checks,
    /// collation look-ups).
    pub fn primary(&self) -> &Arc<Pool> {
        &self.primary[0]
    }

    /// The writer's pool of `core`.
    pub fn primary_for(&self, core: usize) -> &Arc<Pool> {
        &self.primary[core % self.primary.len()]
    }

    /// The version the primary announced at the latest login on any core.
    pub fn announced_version(&self) -> Option<String> {
        self.primary
            .iter()
            .find_map(|pool| pool.announced_version())
    }

    /// Every upstream's numbers, its cores' pools added up; primary first.
    pub fn pool_snapshots(&self) -> Vec<PoolSnapshot> {
        std::iter::once(&self.primary)
            .chain(self.replicas.iter().map(|replica| &replica.pools))
            .map(|pools| {
                pools
                    .iter()
                    .map(|pool| pool.snapshot())
                    .reduce(PoolSnapshot::merge)
                    .expect("an upstream has a pool per core, and at least one core")
            })
            .collect()
    }

    /// Routing settings.
    pub fn routing(&self) -> &RoutingConfig {
        &self.routing
    }

    /// The next replica in rotation that is up (round robin), if any: its pool of core 0.
    pub fn pick_replica(&self) -> Option<&Arc<Pool>> {
        self.pick_replica_for(0)
    }

    /// The next replica in rotation that is up (round robin), if any: its pool of `core`.
    pub fn pick_replica_for(&self, core: usize) -> Option<&Arc<Pool>> {
        let count = self.replicas.len();
        let start = self.next_replica.fetch_add(1, Ordering::Relaxed);
        (0..count)
            .map(|offset| &self.replicas[(start + offset) % count])
            .map(|replica| (replica, &replica.pools[core % replica.pools.len()]))
            .find(|(replica, pool)| replica.in_rotation.load(Ordering::Relaxed) && pool.is_up())
            .map(|(_, pool)| pool)
    }

    /// Every pool of every core, primary first.
    pub fn pools(&self) -> impl Iterator<Item = &Arc<Pool>> {
        self.primary
            .iter()
            .chain(self.replicas.iter().flat_map(|replica| &replica.pools))
    }

    /// Replica states.
    pub fn replica_snapshots(&self) -> Vec<ReplicaSnapshot> {
        self.replicas
            .iter()
            .map(|replica| {
                let lag = replica.lag_seconds.load(Ordering::Relaxed);
                ReplicaSnapshot {
                    address: replica.pools[0].address(),
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
            let lag = replica.pools[0]
                .with_connection(replication_lag)
                .ok()
                .flatten();
            replica
                .lag_seconds
                .store(lag.unwrap_or(NO_LAG), Ordering::Relaxed);
            let healthy = lag.is_some_and(|seconds| seconds as u64 <= max_lag.as_secs());
            let was = replica.in_rotation.swap(healthy, Ordering::Relaxed);
            if was != healthy {
                let address = replica.pools[0].address();
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

/// One pool per core for an upstream, each with its share of the configured sizes.
fn core_pools(
    role: Role,
    options: &ConnectOptions,
    config: &PoolConfig,
    cores: usize,
) -> Vec<Arc<Pool>> {
    (0..cores)
        .map(|core| {
            let share = |total: usize| total / cores + usize::from(core < total % cores);
            let config = PoolConfig {
                max_connections: share(config.max_connections).max(1),
                min_connections: share(config.min_connections),
                ..config.clone()
            };
            Arc::new(Pool::new(role, options.clone(), config))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ConnectOptions {
        ConnectOptions::from_url("mysql://app:secret@127.0.0.1:1/app").expect("a valid URL")
    }

    /// (max, min) connections of each core's pool for the configured `max` and `min`.
    fn sizes(max: usize, min: usize, cores: usize) -> Vec<(usize, usize)> {
        let config = PoolConfig {
            max_connections: max,
            min_connections: min,
            ..PoolConfig::default()
        };
        core_pools(Role::Primary, &options(), &config, cores)
            .iter()
            .map(|pool| (pool.config().max_connections, pool.config().min_connections))
            .collect()
    }

    #[test]
    fn pool_sizes_are_split_between_cores() {
        assert_eq!(sizes(5, 3, 2), vec![(3, 2), (2, 1)]);
        assert_eq!(sizes(30, 0, 1), vec![(30, 0)]);
        // Every core gets a connection, even past the configured maximum.
        assert_eq!(sizes(1, 0, 2), vec![(1, 0), (1, 0)]);
    }

    #[test]
    fn an_upstream_reports_its_cores_pools_added_up() {
        let config = PoolConfig {
            max_connections: 7,
            ..PoolConfig::default()
        };
        let upstreams = Upstreams::new(
            options(),
            vec![options()],
            &config,
            RoutingConfig::default(),
            3,
        );
        let snapshots = upstreams.pool_snapshots();
        assert_eq!(snapshots.len(), 2, "the primary, then the replica");
        assert!(snapshots.iter().all(|pool| pool.max_connections == 7));
        assert_eq!(upstreams.pools().count(), 6);
        assert!(Arc::ptr_eq(
            upstreams.primary_for(4),
            upstreams.primary_for(1)
        ));
    }
}
