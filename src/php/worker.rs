//! A core's worker threads (worker mode): each runs the worker script, which boots the
//! application once and answers request after request through `frankenphp_handle_request()`.
//! A worker that ends (a fatal error, `exit()`, a timeout, `max_requests`) is started again;
//! one that keeps ending before it answered anything is restarted with backoff.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;
use php_sys::{Engine, HeaderLines, ResponseHandler, WorkerRequests};

use super::pool::{PhpJob, PHP_THREAD_STACK};
use super::responder::ChannelResponder;

/// The first wait before restarting a worker that failed to boot; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The longest wait between two boots of a failing worker.
const MAX_BACKOFF: Duration = Duration::from_secs(10);
/// How often a worker waiting for a request looks for a reload.
const RELOAD_POLL: Duration = Duration::from_millis(200);
/// How long the workers get to boot at start-up (reach their first
/// `frankenphp_handle_request()`).
const BOOT_TIMEOUT: Duration = Duration::from_secs(60);

/// What a core's workers run.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    /// The worker script, absolute.
    pub script: PathBuf,
    /// The document root, for the script's own `$_SERVER`.
    pub docroot: PathBuf,
    /// Worker threads on the core.
    pub workers: usize,
    /// Requests before a worker is restarted; 0 means no limit.
    pub max_requests: u64,
    /// Bumped to restart every worker (SIGHUP, a watched file changed).
    pub reload: Reload,
    /// Where the workers report their figures for `/metrics`.
    pub stats: Arc<WorkerStats>,
    /// `php.worker.env`: added to `$_SERVER` of the script and of every request.
    pub env: Vec<(String, String)>,
}

/// The figures of every worker of every core, for `/metrics`.
#[derive(Debug, Default)]
pub struct WorkerStats {
    workers: Mutex<Vec<Arc<WorkerSlot>>>,
}

/// One worker's figures.
#[derive(Debug)]
pub struct WorkerSlot {
    /// The core the worker runs on.
    pub core: usize,
    /// The worker's number on its core.
    pub index: usize,
    /// PHP memory in use after the last request (`memory_get_usage()`).
    pub memory_bytes: AtomicU64,
    /// Requests answered.
    pub requests: AtomicU64,
    /// Times the script was started again (crash, max_requests, reload).
    pub restarts: AtomicU64,
}

impl WorkerStats {
    fn register(&self, core: usize, index: usize) -> Arc<WorkerSlot> {
        let slot = Arc::new(WorkerSlot {
            core,
            index,
            memory_bytes: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
        });
        self.workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Arc::clone(&slot));
        slot
    }

    /// Every worker's figures, by core and number.
    pub fn snapshot(&self) -> Vec<Arc<WorkerSlot>> {
        let mut slots = self
            .workers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        slots.sort_by_key(|slot| (slot.core, slot.index));
        slots
    }
}

/// Asks every worker of every core to restart: each finishes the request it is answering,
/// then boots the script again, one at a time as they come back for their next request, so
/// queued requests wait instead of failing.
#[derive(Debug, Clone, Default)]
pub struct Reload(Arc<AtomicU64>);

impl Reload {
    /// Restarts the workers.
    pub fn trigger(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    fn generation(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The worker threads of one core.
pub(crate) struct Workers {
    engine: &'static Engine,
    core: Option<core_affinity::CoreId>,
    core_index: usize,
    spec: WorkerSpec,
    jobs: Receiver<PhpJob>,
    busy: Arc<AtomicUsize>,
    pub(crate) handles: Mutex<Vec<JoinHandle<()>>>,
}

impl Workers {
    /// Starts the workers of a core, answering the jobs of `jobs`, and waits until each has
    /// booted (reached `frankenphp_handle_request()`): a script that ends before is an error.
    pub(crate) fn start(
        engine: &'static Engine,
        core: Option<core_affinity::CoreId>,
        core_index: usize,
        spec: WorkerSpec,
        jobs: Receiver<PhpJob>,
        busy: Arc<AtomicUsize>,
    ) -> io::Result<Arc<Workers>> {
        let workers = Arc::new(Workers {
            engine,
            core,
            core_index,
            jobs,
            busy,
            handles: Mutex::new(Vec::with_capacity(spec.workers)),
            spec,
        });
        let (booted_tx, booted_rx) = crossbeam_channel::unbounded();
        let count = workers.spec.workers.max(1);
        for n in 0..count {
            let this = Arc::clone(&workers);
            let booted = booted_tx.clone();
            let slot = workers.spec.stats.register(core_index, n);
            let handle = std::thread::Builder::new()
                .name(format!("worker-{core_index}-{n}"))
                .stack_size(PHP_THREAD_STACK)
                .spawn(move || this.run_contained(booted, &slot))?;
            workers
                .handles
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(handle);
        }
        let script = workers.spec.script.display().to_string();
        for _ in 0..count {
            match booted_rx.recv_timeout(BOOT_TIMEOUT) {
                Ok(Ok(())) => {}
                Ok(Err(why)) => {
                    return Err(io::Error::other(format!(
                        "the worker script {script} did not boot: {why} (see the PHP log above)"
                    )))
                }
                Err(_) => {
                    return Err(io::Error::other(format!(
                        "the worker script {script} did not reach frankenphp_handle_request() within {}s",
                        BOOT_TIMEOUT.as_secs()
                    )))
                }
            }
        }
        Ok(workers)
    }

    /// One worker thread: runs the script again whenever it ends, until the pool stops. Its
    /// first boot is reported on `booted`.
    /// [`Workers::run`], started again on the same thread if it panics (outside PHP: a
    /// panic inside PHP's callbacks aborts), so the core keeps its number of workers. The
    /// thread's PHP context is released as the panic unwinds.
    fn run_contained(
        &self,
        booted: crossbeam_channel::Sender<Result<(), String>>,
        slot: &WorkerSlot,
    ) {
        let mut booted = Some(booted);
        while std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.run(&mut booted, slot);
        }))
        .is_err()
        {
            log::error!(
                "a worker thread of core {} died; starting its worker again",
                self.core_index
            );
            slot.restarts.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn run(
        &self,
        booted: &mut Option<crossbeam_channel::Sender<Result<(), String>>>,
        slot: &WorkerSlot,
    ) {
        if let Some(core) = self.core {
            core_affinity::set_for_current(core);
        }
        let mut php = self.engine.register_thread();
        let boot = match self.boot_request() {
            Ok(boot) => boot,
            Err(err) => {
                if let Some(booted) = booted.take() {
                    let _ = booted.send(Err(err.to_string()));
                }
                return;
            }
        };
        let mut failures = 0u32;
        loop {
            let mut source = JobSource {
                jobs: &self.jobs,
                reload: &self.spec.reload,
                generation: self.spec.reload.generation(),
                limit: self.spec.max_requests,
                served: 0,
                busy: &self.busy,
                stopped: false,
                booted: booted.take(),
                slot,
            };
            let mut boot_output = BootOutput;
            let outcome = php.execute_worker(&boot, &mut boot_output, &mut source);
            if source.stopped {
                return;
            }
            slot.restarts.fetch_add(1, Ordering::Relaxed);
            if let Some(never_booted) = source.booted.take() {
                let why = format!("it ended with exit status {}", outcome.outcome.exit_status);
                let _ = never_booted.send(Err(why));
            }
            if outcome.requests == 0 {
                failures += 1;
                let wait = backoff(failures);
                log::error!(
                    "worker {} (core {}) ended before answering a request (exit status {}); restarting in {} ms",
                    self.spec.script.display(),
                    self.core_index,
                    outcome.outcome.exit_status,
                    wait.as_millis()
                );
                std::thread::sleep(wait);
            } else {
                failures = 0;
                if source.generation != self.spec.reload.generation() {
                    log::info!(
                        "worker {} (core {}) reloading",
                        self.spec.script.display(),
                        self.core_index
                    );
                } else if outcome.ended_in_request {
                    log::warn!(
                        "worker {} ended while answering a request (exit status {}); restarting it",
                        self.spec.script.display(),
                        outcome.outcome.exit_status
                    );
                }
            }
        }
    }

    /// The worker script's own request, as if `GET /` had run it.
    fn boot_request(&self) -> Result<php_sys::Request, php_sys::RequestError> {
        let mut request = php_sys::Request::with_capacity(1024, 8);
        request.set_method("GET")?;
        request.set_request_uri(b"/")?;
        request.set_query_string(b"")?;
        request.set_script_filename(&self.spec.script)?;
        let script = self.spec.script.to_string_lossy();
        let docroot = self.spec.docroot.to_string_lossy();
        request.add_server_var("SCRIPT_FILENAME", script.as_bytes())?;
        request.add_server_var("DOCUMENT_ROOT", docroot.as_bytes())?;
        request.add_server_var("FRANKENPHP_WORKER", b"1")?;
        for (name, value) in &self.spec.env {
            request.add_server_var(name, value.as_bytes())?;
        }
        Ok(request)
    }
}

/// The jobs one run of the worker script answers.
struct JobSource<'a> {
    jobs: &'a Receiver<PhpJob>,
    reload: &'a Reload,
    /// The reload generation this run of the script started in.
    generation: u64,
    /// `max_requests`: this run ends after that many requests (0: never).
    limit: u64,
    /// Requests handed to this run so far.
    served: u64,
    busy: &'a Arc<AtomicUsize>,
    /// The pool stopped: the worker must not be started again.
    stopped: bool,
    /// Told once, when the script first asks for a request (it booted).
    booted: Option<crossbeam_channel::Sender<Result<(), String>>>,
    slot: &'a WorkerSlot,
}

impl WorkerRequests for JobSource<'_> {
    fn next(&mut self, memory_bytes: u64) -> Option<(php_sys::Request, Box<dyn ResponseHandler>)> {
        self.slot
            .memory_bytes
            .store(memory_bytes, Ordering::Relaxed);
        if let Some(booted) = self.booted.take() {
            let _ = booted.send(Ok(()));
        }
        if self.limit > 0 && self.served >= self.limit {
            // This run reached max_requests: end it; the worker starts afresh.
            return None;
        }
        let job = loop {
            if self.reload.generation() != self.generation {
                return None;
            }
            match self.jobs.recv_timeout(RELOAD_POLL) {
                Ok(job) => break job,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {}
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                    self.stopped = true;
                    return None;
                }
            }
        };
        self.served += 1;
        self.slot.requests.fetch_add(1, Ordering::Relaxed);
        self.busy.fetch_add(1, Ordering::Relaxed);
        let responder = BusyResponder {
            inner: ChannelResponder::new(job.events, job.body),
            busy: Arc::clone(self.busy),
        };
        Some((job.request, Box::new(responder)))
    }
}

/// A worker's responder, counted as a busy PHP thread until the response is complete.
struct BusyResponder {
    inner: ChannelResponder,
    busy: Arc<AtomicUsize>,
}

impl ResponseHandler for BusyResponder {
    fn read_body(&mut self, buf: &mut [u8]) -> usize {
        self.inner.read_body(buf)
    }

    fn send_headers(&mut self, status: u16, headers: HeaderLines<'_>) {
        self.inner.send_headers(status, headers);
    }

    fn write(&mut self, data: &[u8]) -> bool {
        self.inner.write(data)
    }

    fn flush(&mut self) {
        self.inner.flush();
    }

    fn finish_request(&mut self) {
        self.inner.complete();
    }

    fn send_informational(&mut self, status: u16, headers: HeaderLines<'_>) {
        self.inner.send_informational(status, headers);
    }
}

impl Drop for BusyResponder {
    fn drop(&mut self) {
        self.inner.complete();
        self.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Where the worker script's output outside requests goes: the log.
struct BootOutput;

impl ResponseHandler for BootOutput {
    fn read_body(&mut self, _buf: &mut [u8]) -> usize {
        0
    }

    fn send_headers(&mut self, _status: u16, _headers: HeaderLines<'_>) {}

    fn write(&mut self, data: &[u8]) -> bool {
        let text = String::from_utf8_lossy(data);
        let text = text.trim_end();
        if !text.is_empty() {
            log::warn!(target: "php", "worker output outside a request: {text}");
        }
        true
    }

    fn flush(&mut self) {}

    fn finish_request(&mut self) {}
}

fn backoff(failures: u32) -> Duration {
    FIRST_BACKOFF
        .saturating_mul(1u32 << failures.saturating_sub(1).min(10))
        .min(MAX_BACKOFF)
}

/// How often watched files are looked at.
const WATCH_INTERVAL: Duration = Duration::from_secs(1);
/// Most directory entries looked at per check (a runaway tree is not walked whole).
const WATCH_LIMIT: usize = 100_000;

/// Development: reloads the workers whenever a file under `paths` changes (is added, removed or
/// modified), looking every second from a thread of its own.
pub fn watch_files(paths: Vec<PathBuf>, reload: Reload) -> io::Result<()> {
    std::thread::Builder::new()
        .name("ephpm-watch".to_owned())
        .spawn(move || {
            let mut last = fingerprint(&paths);
            loop {
                std::thread::sleep(WATCH_INTERVAL);
                let now = fingerprint(&paths);
                if now != last {
                    log::info!("watched files changed: reloading the PHP workers");
                    reload.trigger();
                    last = now;
                }
            }
        })?;
    Ok(())
}

/// The newest modification time and the number of entries under `paths`.
fn fingerprint(paths: &[PathBuf]) -> (Option<std::time::SystemTime>, usize) {
    let mut newest = None;
    let mut entries = 0;
    let mut pending: Vec<PathBuf> = paths.to_vec();
    while let Some(path) = pending.pop() {
        if entries >= WATCH_LIMIT {
            break;
        }
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        entries += 1;
        newest = newest.max(meta.modified().ok());
        if meta.is_dir() {
            if let Ok(dir) = std::fs::read_dir(&path) {
                pending.extend(dir.flatten().map(|entry| entry.path()));
            }
        }
    }
    (newest, entries)
}
