//! A core's pool of PHP threads and its bounded request queue.
//!
//! Executors submit [`PhpJob`]s without blocking; a full queue is reported at once so the
//! client gets a 503 instead of waiting forever. PHP threads are plain OS threads pinned to the
//! executor's core (PHP blocks on I/O, so a core has several).

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use php_sys::Engine;

use super::responder::{ChannelResponder, RequestBody, ResponseEvent};

/// PHP threads need a deep stack: PHP 8.2 has no stack guard and overflows 2 MiB on deep
/// recursion, which aborts the process.
const PHP_THREAD_STACK: usize = 8 * 1024 * 1024;

/// One request for a PHP thread.
pub struct PhpJob {
    /// What PHP sees: method, URI, script, `$_SERVER`.
    pub request: php_sys::Request,
    /// The request body (already read and de-chunked by the executor).
    pub body: RequestBody,
    /// Where the response goes.
    pub events: async_channel::Sender<ResponseEvent>,
}

/// The executor's side of a pool: submits jobs. Cheap to clone, `Send`.
#[derive(Clone)]
pub struct PoolHandle {
    jobs: Sender<PhpJob>,
    busy: Arc<AtomicUsize>,
}

impl PoolHandle {
    /// Queues `job`; gives it back when the queue is full (or the pool stopped).
    #[allow(clippy::result_large_err)]
    pub fn submit(&self, job: PhpJob) -> Result<(), PhpJob> {
        self.jobs.try_send(job).map_err(|err| match err {
            TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
        })
    }

    /// Requests waiting for a PHP thread.
    pub fn queued(&self) -> usize {
        self.jobs.len()
    }

    /// PHP threads running a request right now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }
}

/// A running pool: owns the PHP threads.
pub struct PhpPool {
    handle: PoolHandle,
    threads: Vec<JoinHandle<()>>,
}

impl PhpPool {
    /// Starts `threads` PHP threads (pinned to `core` when given) behind a queue of
    /// `queue_depth` requests.
    pub fn start(
        engine: &'static Engine,
        core: Option<core_affinity::CoreId>,
        core_index: usize,
        threads: usize,
        queue_depth: usize,
    ) -> io::Result<PhpPool> {
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(queue_depth.max(1));
        let busy = Arc::new(AtomicUsize::new(0));
        let mut handles = Vec::with_capacity(threads);
        for n in 0..threads.max(1) {
            let jobs = jobs_rx.clone();
            let busy = Arc::clone(&busy);
            let handle = std::thread::Builder::new()
                .name(format!("php-{core_index}-{n}"))
                .stack_size(PHP_THREAD_STACK)
                .spawn(move || run_php_thread(engine, core, &jobs, &busy))?;
            handles.push(handle);
        }
        Ok(PhpPool {
            handle: PoolHandle {
                jobs: jobs_tx,
                busy,
            },
            threads: handles,
        })
    }

    /// A handle for the executor of this pool's core.
    pub fn handle(&self) -> PoolHandle {
        self.handle.clone()
    }

    /// Waits up to `deadline` for the threads to finish once every handle is dropped.
    /// Threads still running a request then are left to the process exit.
    pub fn join(self, deadline: Instant) {
        drop(self.handle);
        for thread in self.threads {
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

fn run_php_thread(
    engine: &'static Engine,
    core: Option<core_affinity::CoreId>,
    jobs: &Receiver<PhpJob>,
    busy: &AtomicUsize,
) {
    if let Some(core) = core {
        core_affinity::set_for_current(core);
    }
    let mut php = engine.register_thread();
    while let Ok(job) = jobs.recv() {
        busy.fetch_add(1, Ordering::Relaxed);
        let mut responder = ChannelResponder::new(job.events, job.body);
        let outcome = php.execute(&job.request, &mut responder);
        if !outcome.started {
            log::error!("PHP could not start the request");
        }
        responder.complete();
        busy.fetch_sub(1, Ordering::Relaxed);
    }
}
