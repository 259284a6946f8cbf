//! A core's pool of PHP threads and its bounded request queue.
//!
//! Executors submit [`PhpJob`]s without blocking; a full queue is reported at once so the
//! client gets a 503 instead of waiting forever. PHP threads are plain OS threads pinned to the
//! executor's core (PHP blocks on I/O, so a core has several).

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use php_sys::Engine;

use super::responder::{ChannelResponder, RequestBody, ResponseEvent};
use super::worker::{WorkerSpec, Workers};
use crate::fault_injection::{self, FaultPoint};

/// PHP threads need a deep stack: PHP 8.2 has no stack guard and overflows 2 MiB on deep
/// recursion, which aborts the process.
pub(crate) const PHP_THREAD_STACK: usize = 8 * 1024 * 1024;

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
    /// The workers' queue, in worker mode.
    worker_jobs: Option<Sender<PhpJob>>,
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

    /// Queues `job` for the worker script's workers (worker mode); gives it back when their
    /// queue is full, or when there are no workers.
    #[allow(clippy::result_large_err)]
    pub fn submit_to_worker(&self, job: PhpJob) -> Result<(), PhpJob> {
        let Some(workers) = &self.worker_jobs else {
            return Err(job);
        };
        workers.try_send(job).map_err(|err| match err {
            TrySendError::Full(job) | TrySendError::Disconnected(job) => job,
        })
    }

    /// Requests waiting for a PHP thread (classic and worker).
    pub fn queued(&self) -> usize {
        self.jobs.len() + self.worker_jobs.as_ref().map_or(0, Sender::len)
    }

    /// PHP threads running a request right now.
    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::Relaxed)
    }
}

/// A running pool: owns the PHP threads.
pub struct PhpPool {
    handle: PoolHandle,
    threads: Arc<Threads>,
    workers: Option<Arc<Workers>>,
}

/// What every PHP thread of a pool is started with, kept so that a thread that dies can be
/// replaced by an identical one.
struct Threads {
    engine: &'static Engine,
    core: Option<core_affinity::CoreId>,
    core_index: usize,
    jobs: Receiver<PhpJob>,
    busy: Arc<AtomicUsize>,
    /// Threads started so far (names are `php-<core>-<n>`).
    started: AtomicUsize,
    /// Every thread started, replacements included, for [`PhpPool::join`].
    handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Threads {
    /// Starts one more PHP thread.
    fn spawn(self: &Arc<Threads>) -> io::Result<()> {
        let n = self.started.fetch_add(1, Ordering::Relaxed);
        let threads = Arc::clone(self);
        let handle = std::thread::Builder::new()
            .name(format!("php-{}-{n}", self.core_index))
            .stack_size(PHP_THREAD_STACK)
            .spawn(move || threads.run())?;
        self.handles
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
        Ok(())
    }

    /// A PHP thread's life: serves jobs until the pool stops. If serving panics (outside PHP:
    /// a panic inside PHP's callbacks aborts), the panic has been logged by the hook, the
    /// thread's PHP context is released as it unwinds, and a replacement is started so the
    /// core keeps its number of PHP threads.
    fn run(self: Arc<Threads>) {
        if let Some(core) = self.core {
            core_affinity::set_for_current(core);
        }
        let served = std::panic::catch_unwind(AssertUnwindSafe(|| serve_jobs(&self)));
        if served.is_err() {
            log::error!(
                "a PHP thread of core {} died; starting a replacement",
                self.core_index
            );
            if let Err(err) = self.spawn() {
                log::error!("could not start a replacement PHP thread: {err}");
            }
        }
    }
}

/// Counts a PHP thread as busy while it lives, even if the request panics.
struct BusyGuard<'a>(&'a AtomicUsize);

impl<'a> BusyGuard<'a> {
    fn enter(busy: &'a AtomicUsize) -> BusyGuard<'a> {
        busy.fetch_add(1, Ordering::Relaxed);
        BusyGuard(busy)
    }
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl PhpPool {
    /// Starts `threads` PHP threads (pinned to `core` when given) behind a queue of
    /// `queue_depth` requests, and the workers of `worker` behind a queue of their own.
    pub fn start(
        engine: &'static Engine,
        core: Option<core_affinity::CoreId>,
        core_index: usize,
        threads: usize,
        queue_depth: usize,
        worker: Option<WorkerSpec>,
    ) -> io::Result<PhpPool> {
        let (jobs_tx, jobs_rx) = crossbeam_channel::bounded(queue_depth.max(1));
        let busy = Arc::new(AtomicUsize::new(0));
        let pool_threads = Arc::new(Threads {
            engine,
            core,
            core_index,
            jobs: jobs_rx,
            busy: Arc::clone(&busy),
            started: AtomicUsize::new(0),
            handles: Mutex::new(Vec::with_capacity(threads)),
        });
        for _ in 0..threads.max(1) {
            pool_threads.spawn()?;
        }
        let (worker_jobs, workers) = match worker {
            Some(spec) => {
                let (tx, rx) = crossbeam_channel::bounded(queue_depth.max(1));
                let workers =
                    Workers::start(engine, core, core_index, spec, rx, Arc::clone(&busy))?;
                (Some(tx), Some(workers))
            }
            None => (None, None),
        };
        Ok(PhpPool {
            handle: PoolHandle {
                jobs: jobs_tx,
                worker_jobs,
                busy,
            },
            threads: pool_threads,
            workers,
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
        let worker_handles = self.workers.as_ref().map(|workers| &workers.handles);
        loop {
            let next = self
                .threads
                .handles
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop()
                .or_else(|| {
                    worker_handles
                        .and_then(|handles| handles.lock().unwrap_or_else(|e| e.into_inner()).pop())
                });
            let Some(thread) = next else {
                return;
            };
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if thread.is_finished() {
                let _ = thread.join();
            }
        }
    }
}

fn serve_jobs(threads: &Threads) {
    let mut php = threads.engine.register_thread();
    while let Ok(job) = threads.jobs.recv() {
        let _busy = BusyGuard::enter(&threads.busy);
        fault_injection::panic_if_asked(FaultPoint::PhpThread, job.request.request_uri());
        let mut responder = ChannelResponder::new(job.events, job.body);
        let outcome = php.execute(&job.request, &mut responder);
        if !outcome.started {
            log::error!("PHP could not start the request");
        }
        responder.complete();
    }
}
