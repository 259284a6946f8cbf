//! `/metrics` in the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write as _;

use dbwire::proxy::{PoolSnapshot, ProxyBackend};

use super::Sources;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::php::{WorkerSlot, WorkerStats};
use crate::server::limit::ConnectionLimit;
use crate::server::tls::HandshakeStats;

/// A per-pool metric: name, help, and how to read it from a snapshot.
type PoolMetric = (&'static str, &'static str, fn(&PoolSnapshot) -> f64);

/// Builds the exposition: one `# HELP` / `# TYPE` pair per family, then its samples.
struct Exposition {
    text: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut Self {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        self
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (index, (label, raw)) in labels.iter().enumerate() {
                if index > 0 {
                    self.text.push(',');
                }
                let escaped = raw
                    .replace('\\', "\\\\")
                    .replace('"', "\\\"")
                    .replace('\n', "\\n");
                let _ = write!(self.text, "{label}=\"{escaped}\"");
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    /// A family with a single unlabeled sample.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        self.family(name, kind, help).sample(name, &[], value);
    }
}

/// Open, maximum and refused connections per listener (`max_connections`).
fn render_listeners(out: &mut Exposition, listeners: &[ConnectionLimit]) {
    if listeners.is_empty() {
        return;
    }
    let label = |limit: &ConnectionLimit| limit.name().to_ascii_lowercase().replace(' ', "_");
    for (name, kind, help, value) in LISTENER_METRICS {
        out.family(name, kind, help);
        for limit in listeners {
            out.sample(name, &[("listener", &label(limit))], value(limit));
        }
    }
}

/// A per-listener metric: name, type, help, and how to read it from the listener's limit.
type ListenerMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ConnectionLimit) -> u64,
);

/// The per-listener families, in exposition order.
const LISTENER_METRICS: [ListenerMetric; 3] = [
    (
        "ephpm_connections",
        "gauge",
        "Client connections open now, per listener.",
        |limit| limit.active() as u64,
    ),
    (
        "ephpm_connections_max",
        "gauge",
        "The listener's max_connections.",
        |limit| limit.max() as u64,
    ),
    (
        "ephpm_connections_refused_total",
        "counter",
        "Connections refused because the listener was at max_connections.",
        ConnectionLimit::refused,
    ),
];

/// HTTPS handshakes by outcome, and when each certificate expires.
fn render_tls(out: &mut Exposition, stats: &HandshakeStats) {
    let expiry = "ephpm_tls_certificate_expiry_timestamp_seconds";
    out.family(
        expiry,
        "gauge",
        "When each served certificate expires (Unix time), by subject.",
    );
    for certificate in &stats.certificates.describe() {
        out.sample(
            expiry,
            &[("subject", &certificate.subject)],
            certificate.not_after,
        );
    }
    let name = "ephpm_tls_handshakes_total";
    out.family(
        name,
        "counter",
        "TLS handshakes on the HTTPS listener, by outcome.",
    );
    for (outcome, counter) in [
        ("completed", &stats.completed),
        ("failed", &stats.failed),
        ("timed_out", &stats.timed_out),
    ] {
        out.sample(
            name,
            &[("outcome", outcome)],
            counter.load(Ordering::Relaxed),
        );
    }
}

/// Every metric of the node.
pub(super) fn render(sources: &Sources) -> String {
    let mut out = Exposition {
        text: String::new(),
    };
    out.single("ephpm_up", "gauge", "1 while the node serves.", 1);
    if let Some(database) = &sources.database {
        render_database(&mut out, &database.counters());
    }
    if let Some(proxy) = &sources.proxy {
        render_proxy(&mut out, proxy);
    }
    if let Some(store) = &sources.kv {
        render_kv(&mut out, store);
    }
    render_listeners(&mut out, &sources.listeners);
    if let Some(tls) = &sources.tls {
        render_tls(&mut out, tls);
    }
    if let Some(workers) = &sources.workers {
        render_workers(&mut out, workers);
    }
    out.text
}

/// The built-in database's clients, and where their commands were answered.
fn render_database(out: &mut Exposition, counters: &dbwire::server::ExecutorCounters) {
    out.single(
        "ephpm_db_client_connections",
        "gauge",
        "MySQL client connections open on the TCP listener.",
        counters.connections,
    );
    let name = "ephpm_db_commands_total";
    out.family(
        name,
        "counter",
        "MySQL commands by where they were answered: relayed by a core's executor, or on its \
         blocking threads.",
    );
    out.sample(name, &[("path", "executor")], counters.relayed);
    out.sample(name, &[("path", "thread")], counters.on_threads);
}

/// Each PHP worker's memory, requests and restarts (worker mode).
fn render_workers(out: &mut Exposition, stats: &WorkerStats) {
    let slots = stats.snapshot();
    type Figure = fn(&WorkerSlot) -> &AtomicU64;
    let families: [(&str, &str, &str, Figure); 3] = [
        (
            "ephpm_php_worker_memory_bytes",
            "gauge",
            "PHP memory a worker holds between requests (memory_get_usage()).",
            |slot| &slot.memory_bytes,
        ),
        (
            "ephpm_php_worker_requests_total",
            "counter",
            "Requests a worker answered.",
            |slot| &slot.requests,
        ),
        (
            "ephpm_php_worker_restarts_total",
            "counter",
            "Times a worker's script was started again (crash, max_requests, reload).",
            |slot| &slot.restarts,
        ),
    ];
    for (name, kind, help, figure) in families {
        out.family(name, kind, help);
        for slot in &slots {
            let (core, worker) = (slot.core.to_string(), slot.index.to_string());
            out.sample(
                name,
                &[("core", &core), ("worker", &worker)],
                figure(slot).load(Ordering::Relaxed),
            );
        }
    }
}

fn render_proxy(out: &mut Exposition, proxy: &ProxyBackend) {
    let totals = proxy.stats().totals();
    let by_hostgroup = [
        (
            "0",
            totals.primary_queries,
            totals.primary_errors,
            totals.primary_micros,
        ),
        (
            "1",
            totals.replica_queries,
            totals.replica_errors,
            totals.replica_micros,
        ),
    ];
    let queries = "ephpm_db_queries_total";
    out.family(
        queries,
        "counter",
        "Statements proxied, by hostgroup (0 primary, 1 replicas).",
    );
    for (hostgroup, count, _, _) in by_hostgroup {
        out.sample(queries, &[("hostgroup", hostgroup)], count);
    }
    let errors = "ephpm_db_query_errors_total";
    out.family(errors, "counter", "Statements that failed, by hostgroup.");
    for (hostgroup, _, count, _) in by_hostgroup {
        out.sample(errors, &[("hostgroup", hostgroup)], count);
    }
    let seconds = "ephpm_db_query_seconds_total";
    out.family(
        seconds,
        "counter",
        "Time spent in proxied statements, by hostgroup.",
    );
    for (hostgroup, _, _, micros) in by_hostgroup {
        out.sample(seconds, &[("hostgroup", hostgroup)], micros as f64 / 1e6);
    }
    out.single(
        "ephpm_db_slow_queries_total",
        "counter",
        "Statements over db.mysql.slow_query_threshold.",
        totals.slow_queries,
    );
    out.single(
        "ephpm_db_digests",
        "gauge",
        "Distinct query digests tracked.",
        totals.digests,
    );
    render_pools(out, proxy);
}

fn render_pools(out: &mut Exposition, proxy: &ProxyBackend) {
    let pools = proxy.pools();
    let gauges: [PoolMetric; 6] = [
        ("ephpm_db_backend_up", "1 if the upstream answers.", |p| {
            f64::from(u8::from(p.up))
        }),
        (
            "ephpm_db_pool_connections",
            "Backend connections open.",
            |p| p.total as f64,
        ),
        (
            "ephpm_db_pool_idle_connections",
            "Backend connections idle.",
            |p| p.idle as f64,
        ),
        (
            "ephpm_db_pool_active_connections",
            "Backend connections lent to sessions.",
            |p| p.active as f64,
        ),
        (
            "ephpm_db_pool_waiting",
            "Statements waiting for a backend connection.",
            |p| p.waiting as f64,
        ),
        (
            "ephpm_db_pool_max_connections",
            "Configured pool maximum.",
            |p| p.max_connections as f64,
        ),
    ];
    render_pool_families(out, "gauge", &gauges, &pools);
    let counters: [PoolMetric; 5] = [
        (
            "ephpm_db_pool_connects_total",
            "Backend connections opened.",
            |p| p.connects as f64,
        ),
        (
            "ephpm_db_pool_connect_errors_total",
            "Failed backend connects.",
            |p| p.connect_errors as f64,
        ),
        (
            "ephpm_db_pool_wait_timeouts_total",
            "Statements that found no free connection.",
            |p| p.wait_timeouts as f64,
        ),
        (
            "ephpm_db_pool_wait_seconds_total",
            "Time statements waited for a connection.",
            |p| p.wait_micros as f64 / 1e6,
        ),
        (
            "ephpm_db_pool_discarded_total",
            "Connections closed broken or dirty.",
            |p| p.discarded as f64,
        ),
    ];
    render_pool_families(out, "counter", &counters, &pools);
    let replicas = proxy.replicas();
    if replicas.is_empty() {
        return;
    }
    let rotation = "ephpm_db_replica_in_rotation";
    out.family(rotation, "gauge", "1 while reads go to the replica.");
    for replica in &replicas {
        let labels = [("backend", replica.address.as_str())];
        out.sample(rotation, &labels, u8::from(replica.in_rotation));
    }
    let lag = "ephpm_db_replica_lag_seconds";
    out.family(
        lag,
        "gauge",
        "Seconds the replica is behind (absent when not replicating).",
    );
    for replica in &replicas {
        if let Some(seconds) = replica.lag_seconds {
            out.sample(lag, &[("backend", replica.address.as_str())], seconds);
        }
    }
}

/// One family per metric, one sample per pool.
fn render_pool_families(
    out: &mut Exposition,
    kind: &str,
    metrics: &[PoolMetric],
    pools: &[PoolSnapshot],
) {
    for (name, help, value) in metrics {
        out.family(name, kind, help);
        for pool in pools {
            let labels = [("backend", pool.address.as_str()), ("role", pool.role)];
            out.sample(name, &labels, value(pool));
        }
    }
}

fn render_kv(out: &mut Exposition, store: &kv::Store) {
    let stats = store.stats();
    let keys: usize = stats.dbs.iter().map(|db| db.keys).sum();
    out.single("ephpm_kv_keys", "gauge", "Keys in the KV store.", keys);
    out.single(
        "ephpm_kv_used_memory_bytes",
        "gauge",
        "Accounted bytes of KV entries.",
        stats.used_memory,
    );
    out.single(
        "ephpm_kv_hits_total",
        "counter",
        "KV reads that found their key.",
        stats.keyspace_hits,
    );
    out.single(
        "ephpm_kv_misses_total",
        "counter",
        "KV reads that did not.",
        stats.keyspace_misses,
    );
    out.single(
        "ephpm_kv_evicted_keys_total",
        "counter",
        "Keys evicted by maxmemory.",
        stats.evicted_keys,
    );
    out.single(
        "ephpm_kv_commands_total",
        "counter",
        "KV commands executed.",
        stats.total_commands_processed,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped_and_families_typed() {
        let mut out = Exposition {
            text: String::new(),
        };
        out.family("m", "gauge", "help")
            .sample("m", &[("l", "a\"b\\c")], 2);
        assert_eq!(
            out.text,
            "# HELP m help\n# TYPE m gauge\nm{l=\"a\\\"b\\\\c\"} 2\n"
        );
        assert!(render(&Sources::default()).contains("ephpm_up 1"));
    }
}
