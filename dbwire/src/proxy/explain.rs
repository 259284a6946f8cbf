//! EXPLAIN for slow queries, captured on a background thread (from a replica when there is
//! one) so the client that ran the slow query does not wait for it.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::stats::QueryStats;
use super::upstreams::Upstreams;
use crate::backend::{QueryResult, Value};

/// Slow queries waiting for EXPLAIN; more are dropped (their entries say so).
const QUEUE: usize = 64;

/// A slow query to explain.
#[derive(Debug)]
pub struct ExplainJob {
    /// Its slow-log id.
    pub id: u64,
    /// The schema it ran in.
    pub schema: Option<String>,
    /// Its text.
    pub sql: String,
}

/// Hands slow queries to the EXPLAIN thread.
#[derive(Debug, Clone)]
pub struct Explainer {
    jobs: SyncSender<ExplainJob>,
    stats: Arc<QueryStats>,
}

impl Explainer {
    /// Starts the EXPLAIN thread; it ends when every [`Explainer`] clone is dropped.
    pub fn start(
        upstreams: Arc<Upstreams>,
        stats: Arc<QueryStats>,
    ) -> std::io::Result<(Explainer, JoinHandle<()>)> {
        let (jobs, queue) = mpsc::sync_channel(QUEUE);
        let thread = {
            let stats = Arc::clone(&stats);
            std::thread::Builder::new()
                .name("db-explain".into())
                .spawn(move || explain_all(&queue, &upstreams, &stats))?
        };
        Ok((Explainer { jobs, stats }, thread))
    }

    /// Queues `job`; when the queue is full the entry records that EXPLAIN was skipped.
    pub fn submit(&self, job: ExplainJob) {
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) => {
                self.stats.set_explain(
                    job.id,
                    Err("EXPLAIN skipped: too many slow queries at once".into()),
                )
            }
        }
    }
}

fn explain_all(queue: &Receiver<ExplainJob>, upstreams: &Upstreams, stats: &QueryStats) {
    for job in queue {
        stats.set_explain(job.id, explain(upstreams, &job));
    }
}

/// Runs `EXPLAIN <sql>` in the job's schema and renders the plan as text rows.
fn explain(upstreams: &Upstreams, job: &ExplainJob) -> Result<Vec<Vec<String>>, String> {
    let pool = upstreams
        .pick_replica()
        .unwrap_or_else(|| upstreams.primary());
    let mut connection = pool.acquire().map_err(|error| error.message)?;
    connection
        .align(job.schema.as_deref(), &[])
        .map_err(|error| error.to_string())?
        .map_err(|error| error.message)?;
    let results = connection
        .query(&format!("EXPLAIN {}", job.sql))
        .map_err(|error| error.to_string())?;
    match results.into_iter().next() {
        Some(Ok(QueryResult::Rows { columns, rows })) => {
            let header = columns.iter().map(|column| column.name.clone()).collect();
            Ok(std::iter::once(header)
                .chain(rows.iter().map(|row| row.iter().map(value_text).collect()))
                .collect())
        }
        Some(Err(error)) => Err(error.message),
        Some(Ok(QueryResult::Ok { .. })) | None => Err("EXPLAIN returned no plan".into()),
    }
}

fn value_text(value: &Value) -> String {
    match value {
        Value::Null => "NULL".into(),
        Value::Int(int) => int.to_string(),
        Value::UInt(uint) => uint.to_string(),
        Value::Double(double) => double.to_string(),
        Value::Bytes(bytes) => String::from_utf8_lossy(bytes).into_owned(),
    }
}
