//! Per-digest statistics (ProxySQL's `stats_mysql_query_digest`), the slow-query log and the
//! proxy's query counters.
//!
//! Each executor core counts in tables of its own, so that recording a statement touches no
//! memory another core writes; readers (the node API, metrics) add the cores up, so their
//! answers are exact. Only the slow log, written for slow statements, is shared.

use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::analysis::Digest;
use super::config::StatsConfig;

/// Longest statement text kept in a slow-log entry.
const MAX_LOGGED_QUERY: usize = 4096;

/// One finished statement, as the session reports it.
#[derive(Debug)]
pub struct Execution<'a> {
    /// The executor core whose session ran it (its tables count it).
    pub core: usize,
    /// Hostgroup it ran on (0 primary, 1 replicas).
    pub hostgroup: u32,
    /// Schema selected when it ran.
    pub schema: &'a str,
    /// Client user.
    pub user: &'a str,
    /// Client IP address.
    pub client_address: &'a str,
    /// Its digest.
    pub digest: &'a Digest,
    /// The statement as sent (for the slow log).
    pub sql: &'a str,
    /// Time from sending it upstream to having the whole answer.
    pub elapsed: Duration,
    /// Rows changed.
    pub rows_affected: u64,
    /// Rows returned.
    pub rows_sent: u64,
    /// Whether it failed.
    pub failed: bool,
}

/// A row of the digest table, serialized with ProxySQL's column names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DigestRow {
    /// Hostgroup the statements ran on.
    pub hostgroup: u32,
    /// Schema they ran in.
    pub schemaname: String,
    /// Client user.
    pub username: String,
    /// Client IP address.
    pub client_address: String,
    /// Digest hash as `0x` and 16 hex digits.
    pub digest: String,
    /// The normalized statement.
    pub digest_text: String,
    /// Executions.
    pub count_star: u64,
    /// First execution, seconds since the Unix epoch.
    pub first_seen: u64,
    /// Latest execution, seconds since the Unix epoch.
    pub last_seen: u64,
    /// Total time, microseconds.
    pub sum_time: u64,
    /// Fastest execution, microseconds.
    pub min_time: u64,
    /// Slowest execution, microseconds.
    pub max_time: u64,
    /// Rows changed in total.
    pub sum_rows_affected: u64,
    /// Rows returned in total.
    pub sum_rows_sent: u64,
}

/// A statement slower than the threshold.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlowQuery {
    /// Sequence number, increasing.
    pub id: u64,
    /// When it finished, seconds since the Unix epoch.
    pub time: u64,
    /// How long it took, microseconds.
    pub duration_us: u64,
    /// Hostgroup it ran on.
    pub hostgroup: u32,
    /// Schema it ran in.
    pub schemaname: String,
    /// Client user.
    pub username: String,
    /// Client IP address.
    pub client_address: String,
    /// Digest hash as `0x` and 16 hex digits.
    pub digest: String,
    /// The normalized statement.
    pub digest_text: String,
    /// The statement as sent (cut at 4 KiB).
    pub query: String,
    /// Rows returned.
    pub rows_sent: u64,
    /// EXPLAIN's output, once captured: a header row, then one row per plan step.
    pub explain: Option<Vec<Vec<String>>>,
    /// Why EXPLAIN is not available, when it is not.
    pub explain_error: Option<String>,
}

/// Totals per hostgroup.
#[derive(Debug, Default)]
struct HostgroupTotals {
    queries: AtomicU64,
    errors: AtomicU64,
    micros: AtomicU64,
}

/// Proxy-wide totals, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Totals {
    /// Statements on the primary.
    pub primary_queries: u64,
    /// Statements on replicas.
    pub replica_queries: u64,
    /// Failed statements on the primary.
    pub primary_errors: u64,
    /// Failed statements on replicas.
    pub replica_errors: u64,
    /// Time on the primary, microseconds.
    pub primary_micros: u64,
    /// Time on replicas, microseconds.
    pub replica_micros: u64,
    /// Statements over the slow threshold.
    pub slow_queries: u64,
    /// Distinct digests tracked.
    pub digests: u64,
    /// Statements of digests not tracked because the table was full.
    pub untracked: u64,
}

#[derive(Debug, Clone)]
struct DigestEntry {
    row: DigestRow,
}

/// Digests, the slow log and counters, shared by every session.
#[derive(Debug)]
pub struct QueryStats {
    config: StatsConfig,
    cores: Vec<CoreStats>,
    slow: Mutex<VecDeque<SlowQuery>>,
    slow_total: AtomicU64,
}

/// One core's digest table and totals (aligned so that two cores' never share a cache line).
#[derive(Debug, Default)]
#[repr(align(128))]
struct CoreStats {
    digests: Mutex<HashMap<u64, DigestEntry>>,
    untracked: AtomicU64,
    hostgroups: [HostgroupTotals; 2],
}

impl QueryStats {
    /// Empty statistics for sessions on `cores` executor cores.
    pub fn new(config: StatsConfig, cores: usize) -> QueryStats {
        QueryStats {
            config,
            cores: (0..cores.max(1)).map(|_| CoreStats::default()).collect(),
            slow: Mutex::new(VecDeque::new()),
            slow_total: AtomicU64::new(0),
        }
    }

    fn core(&self, core: usize) -> &CoreStats {
        &self.cores[core % self.cores.len()]
    }

    /// Records a statement; returns the slow-log id when it was slow.
    pub fn record(&self, execution: &Execution<'_>) -> Option<u64> {
        let micros = duration_micros(execution.elapsed);
        let core = self.core(execution.core);
        let totals = &core.hostgroups[usize::from(execution.hostgroup != 0)];
        totals.queries.fetch_add(1, Ordering::Relaxed);
        totals.micros.fetch_add(micros, Ordering::Relaxed);
        if execution.failed {
            totals.errors.fetch_add(1, Ordering::Relaxed);
        }
        self.record_digest(core, execution, micros);
        (execution.elapsed >= self.config.slow_query_threshold).then(|| self.log_slow(execution))
    }

    /// Fills in a slow-log entry's EXPLAIN output (or why there is none).
    pub fn set_explain(&self, id: u64, explain: Result<Vec<Vec<String>>, String>) {
        let mut slow = self.lock_slow();
        if let Some(entry) = slow.iter_mut().find(|entry| entry.id == id) {
            match explain {
                Ok(rows) => entry.explain = Some(rows),
                Err(reason) => entry.explain_error = Some(reason),
            }
        }
    }

    /// The digest table, busiest digests first (each core's rows of a digest added up).
    pub fn digests(&self) -> Vec<DigestRow> {
        let mut merged: HashMap<u64, DigestRow> = HashMap::new();
        for core in &self.cores {
            for (key, entry) in lock(&core.digests).iter() {
                match merged.get_mut(key) {
                    Some(row) => add_row(row, &entry.row),
                    None => {
                        merged.insert(*key, entry.row.clone());
                    }
                }
            }
        }
        let mut rows: Vec<DigestRow> = merged.into_values().collect();
        rows.sort_by(|a, b| b.sum_time.cmp(&a.sum_time).then(a.digest.cmp(&b.digest)));
        rows
    }

    /// The slow log, newest first.
    pub fn slow_queries(&self) -> Vec<SlowQuery> {
        self.lock_slow().iter().rev().cloned().collect()
    }

    /// Proxy-wide totals.
    pub fn totals(&self) -> Totals {
        let sum = |value: &dyn Fn(&CoreStats) -> u64| self.cores.iter().map(value).sum::<u64>();
        let load = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let mut digests = std::collections::HashSet::new();
        for core in &self.cores {
            digests.extend(lock(&core.digests).keys().copied());
        }
        Totals {
            primary_queries: sum(&|core| load(&core.hostgroups[0].queries)),
            replica_queries: sum(&|core| load(&core.hostgroups[1].queries)),
            primary_errors: sum(&|core| load(&core.hostgroups[0].errors)),
            replica_errors: sum(&|core| load(&core.hostgroups[1].errors)),
            primary_micros: sum(&|core| load(&core.hostgroups[0].micros)),
            replica_micros: sum(&|core| load(&core.hostgroups[1].micros)),
            slow_queries: self.slow_total.load(Ordering::Relaxed),
            digests: digests.len() as u64,
            untracked: sum(&|core| load(&core.untracked)),
        }
    }

    /// Counts `execution` in `core`'s row of its digest; each core's table holds at most
    /// `max_digests` rows.
    fn record_digest(&self, core: &CoreStats, execution: &Execution<'_>, micros: u64) {
        let key = digest_key(execution);
        let now = unix_seconds();
        let mut digests = lock(&core.digests);
        if let Some(entry) = digests.get_mut(&key) {
            let row = &mut entry.row;
            row.count_star += 1;
            row.last_seen = now;
            row.sum_time += micros;
            row.min_time = row.min_time.min(micros);
            row.max_time = row.max_time.max(micros);
            row.sum_rows_affected += execution.rows_affected;
            row.sum_rows_sent += execution.rows_sent;
            return;
        }
        if digests.len() >= self.config.max_digests {
            core.untracked.fetch_add(1, Ordering::Relaxed);
            return;
        }
        digests.insert(
            key,
            DigestEntry {
                row: first_row(execution, micros, now),
            },
        );
    }

    fn log_slow(&self, execution: &Execution<'_>) -> u64 {
        let id = self.slow_total.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = SlowQuery {
            id,
            time: unix_seconds(),
            duration_us: duration_micros(execution.elapsed),
            hostgroup: execution.hostgroup,
            schemaname: execution.schema.to_owned(),
            username: execution.user.to_owned(),
            client_address: execution.client_address.to_owned(),
            digest: digest_hex(execution.digest.hash),
            digest_text: execution.digest.text.clone(),
            query: truncate(execution.sql, MAX_LOGGED_QUERY).to_owned(),
            rows_sent: execution.rows_sent,
            explain: None,
            explain_error: None,
        };
        let mut slow = self.lock_slow();
        while slow.len() >= self.config.slow_log_entries.max(1) {
            slow.pop_front();
        }
        slow.push_back(entry);
        id
    }

    fn lock_slow(&self) -> MutexGuard<'_, VecDeque<SlowQuery>> {
        lock(&self.slow)
    }
}

/// Adds another core's counts of the same digest row to `row`.
fn add_row(row: &mut DigestRow, other: &DigestRow) {
    row.count_star += other.count_star;
    row.first_seen = row.first_seen.min(other.first_seen);
    row.last_seen = row.last_seen.max(other.last_seen);
    row.sum_time += other.sum_time;
    row.min_time = row.min_time.min(other.min_time);
    row.max_time = row.max_time.max(other.max_time);
    row.sum_rows_affected += other.sum_rows_affected;
    row.sum_rows_sent += other.sum_rows_sent;
}

fn first_row(execution: &Execution<'_>, micros: u64, now: u64) -> DigestRow {
    DigestRow {
        hostgroup: execution.hostgroup,
        schemaname: execution.schema.to_owned(),
        username: execution.user.to_owned(),
        client_address: execution.client_address.to_owned(),
        digest: digest_hex(execution.digest.hash),
        digest_text: execution.digest.text.clone(),
        count_star: 1,
        first_seen: now,
        last_seen: now,
        sum_time: micros,
        min_time: micros,
        max_time: micros,
        sum_rows_affected: execution.rows_affected,
        sum_rows_sent: execution.rows_sent,
    }
}

/// One table row per (hostgroup, schema, user, client, digest), like ProxySQL.
fn digest_key(execution: &Execution<'_>) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    execution.digest.hash.hash(&mut hasher);
    execution.hostgroup.hash(&mut hasher);
    execution.schema.hash(&mut hasher);
    execution.user.hash(&mut hasher);
    execution.client_address.hash(&mut hasher);
    hasher.finish()
}

/// `0x` and the hash in 16 upper-case hex digits, as ProxySQL prints digests.
pub fn digest_hex(hash: u64) -> String {
    format!("0x{hash:016X}")
}

fn duration_micros(duration: Duration) -> u64 {
    duration.as_micros().min(u128::from(u64::MAX)) as u64
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

/// `text` cut to at most `max` bytes on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution<'a>(digest: &'a Digest, elapsed_ms: u64, hostgroup: u32) -> Execution<'a> {
        Execution {
            core: 0,
            hostgroup,
            schema: "app",
            user: "ephpm",
            client_address: "127.0.0.1",
            digest,
            sql: "SELECT * FROM t WHERE id = 1",
            elapsed: Duration::from_millis(elapsed_ms),
            rows_affected: 0,
            rows_sent: 1,
            failed: false,
        }
    }

    fn digest() -> Digest {
        Digest {
            hash: 42,
            text: "SELECT * FROM t WHERE id = ?".into(),
        }
    }

    #[test]
    fn executions_of_one_digest_share_a_row() {
        let stats = QueryStats::new(StatsConfig::default(), 1);
        let digest = digest();
        stats.record(&execution(&digest, 2, 1));
        stats.record(&execution(&digest, 4, 1));
        stats.record(&execution(&digest, 3, 0));
        let rows = stats.digests();
        assert_eq!(rows.len(), 2, "one row per hostgroup");
        let replica = rows.iter().find(|row| row.hostgroup == 1).unwrap();
        assert_eq!(replica.count_star, 2);
        assert_eq!(replica.sum_time, 6000);
        assert_eq!(replica.min_time, 2000);
        assert_eq!(replica.max_time, 4000);
        assert_eq!(replica.sum_rows_sent, 2);
        assert_eq!(replica.digest, "0x000000000000002A");
        assert_eq!(stats.totals().replica_queries, 2);
        assert_eq!(stats.totals().primary_queries, 1);
    }

    #[test]
    fn slow_statements_are_logged_and_explained() {
        let config = StatsConfig {
            slow_query_threshold: Duration::from_millis(10),
            slow_log_entries: 2,
            max_digests: 100,
        };
        let stats = QueryStats::new(config, 1);
        let digest = digest();
        assert_eq!(stats.record(&execution(&digest, 1, 0)), None);
        let ids: Vec<_> = (0..3)
            .filter_map(|_| stats.record(&execution(&digest, 20, 0)))
            .collect();
        assert_eq!(ids, [1, 2, 3]);
        stats.set_explain(3, Ok(vec![vec!["id".into()], vec!["1".into()]]));
        let slow = stats.slow_queries();
        assert_eq!(slow.len(), 2, "only the newest entries are kept");
        assert_eq!(slow[0].id, 3);
        assert!(slow[0].explain.is_some());
        assert_eq!(slow[1].explain, None);
    }

    #[test]
    fn a_full_table_counts_new_digests_without_listing_them() {
        let config = StatsConfig {
            max_digests: 1,
            ..StatsConfig::default()
        };
        let stats = QueryStats::new(config, 1);
        let first = digest();
        let second = Digest {
            hash: 7,
            text: "DELETE FROM t".into(),
        };
        stats.record(&execution(&first, 1, 0));
        stats.record(&execution(&second, 1, 0));
        assert_eq!(stats.digests().len(), 1);
        assert_eq!(stats.totals().untracked, 1);
    }

    #[test]
    fn cores_count_apart_and_read_as_one() {
        let stats = QueryStats::new(StatsConfig::default(), 2);
        let digest = digest();
        for (core, elapsed_ms) in [(0, 2), (1, 5), (1, 1), (2, 3)] {
            stats.record(&Execution {
                core,
                ..execution(&digest, elapsed_ms, 0)
            });
        }
        assert_eq!(
            lock(&stats.cores[1].digests)
                .values()
                .next()
                .map(|entry| entry.row.count_star),
            Some(2),
            "core 1 counted its own two statements"
        );
        let rows = stats.digests();
        assert_eq!(rows.len(), 1);
        let row = &rows[0];
        assert_eq!(row.count_star, 4, "core 2 wraps around to core 0");
        assert_eq!(
            (row.sum_time, row.min_time, row.max_time),
            (11_000, 1_000, 5_000)
        );
        assert_eq!(row.sum_rows_sent, 4);
        let totals = stats.totals();
        assert_eq!((totals.primary_queries, totals.digests), (4, 1));
    }

    #[test]
    fn truncation_respects_character_boundaries() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
