//! The threads an executor core runs its MySQL clients' blocking work on (logins, SQLite
//! statements, proxy statements that must wait for or align a backend connection). A job
//! never waits for a thread: when none is idle a new one starts, so a statement that blocks
//! for long (a lock wait, `SLEEP`) can't hold up the others, or the `KILL` that would end
//! it. Threads that stay idle past a timeout exit, down to a few kept for the next burst:
//! the pool is as large as the work the core has blocked at once, not one thread per client.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

/// A unit of blocking work.
type Job = Box<dyn FnOnce() + Send>;

/// Idle threads kept however long they idle.
const KEPT_IDLE: usize = 4;

/// An idle thread beyond [`KEPT_IDLE`] exits after this long.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// One core's pool of threads for blocking work. Clones share the pool.
#[derive(Clone)]
pub struct BlockingPool {
    inner: Arc<Inner>,
}

struct Inner {
    /// Names the threads: `{name}-{n}`.
    name: String,
    state: Mutex<State>,
    work: Condvar,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Job>,
    /// Threads waiting for a job.
    idle: usize,
    /// Threads alive.
    threads: usize,
    /// Threads started so far, for their names.
    started: usize,
}

impl BlockingPool {
    /// An empty pool; threads start with the first jobs.
    pub fn new(name: &str) -> BlockingPool {
        BlockingPool {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                state: Mutex::new(State::default()),
                work: Condvar::new(),
            }),
        }
    }

    /// Runs `job` on a thread of the pool and waits for its result without blocking the
    /// caller's executor; `None` when the job panicked (logged).
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (done, outcome) = async_channel::bounded(1);
        self.submit(Box::new(move || {
            let _ = done.send_blocking(job());
        }))
        .ok()?;
        outcome.recv().await.ok()
    }

    /// Threads alive now.
    pub fn threads(&self) -> usize {
        self.inner.lock().threads
    }

    fn submit(&self, job: Job) -> io::Result<()> {
        let mut state = self.inner.lock();
        state.queue.push_back(job);
        if state.idle >= state.queue.len() {
            drop(state);
            self.inner.work.notify_one();
            return Ok(());
        }
        state.threads += 1;
        state.started += 1;
        let name = format!("{}-{}", self.inner.name, state.started);
        drop(state);
        let inner = Arc::clone(&self.inner);
        let spawned = thread::Builder::new()
            .name(name)
            .spawn(move || inner.work());
        if let Err(error) = spawned {
            let mut state = self.inner.lock();
            state.threads -= 1;
            // The job stays queued for the next thread that frees up.
            log::error!("mysql: no thread for blocking work: {error}");
            if state.threads == 0 {
                state.queue.pop_back();
                return Err(error);
            }
        }
        Ok(())
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A pool thread: runs jobs until it has idled past the timeout and is not needed.
    fn work(&self) {
        loop {
            let Some(job) = self.next_job() else {
                return;
            };
            if let Err(panic) = panic::catch_unwind(AssertUnwindSafe(job)) {
                log::error!(
                    "mysql: blocking work panicked: {}",
                    crate::server::panic_message(&panic)
                );
            }
        }
    }

    /// The next job, or `None` when this thread should exit (it was counted out).
    fn next_job(&self) -> Option<Job> {
        let mut state = self.lock();
        loop {
            if let Some(job) = state.queue.pop_front() {
                return Some(job);
            }
            state.idle += 1;
            let (guard, waited) = self
                .work
                .wait_timeout(state, IDLE_TIMEOUT)
                .unwrap_or_else(PoisonError::into_inner);
            state = guard;
            state.idle -= 1;
            if waited.timed_out() && state.queue.is_empty() && state.idle >= KEPT_IDLE {
                state.threads -= 1;
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;

    use futures_lite::future::block_on;

    use super::*;

    #[test]
    fn jobs_run_and_return_their_results() {
        let pool = BlockingPool::new("test");
        assert_eq!(block_on(pool.run(|| 6 * 7)), Some(42));
        // The result may arrive before the thread is back waiting for work.
        while pool.inner.lock().idle == 0 {
            thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(block_on(pool.run(|| "again")), Some("again"));
        assert_eq!(pool.threads(), 1, "an idle thread takes the next job");
    }

    #[test]
    fn a_blocked_job_does_not_hold_up_the_next() {
        let pool = BlockingPool::new("test");
        let (release, blocked) = mpsc::channel::<()>();
        let first = pool.clone();
        let waiting = thread::spawn(move || block_on(first.run(move || blocked.recv().is_ok())));
        // The first job blocks until the second one runs.
        assert_eq!(
            block_on(pool.run(move || release.send(()).is_ok())),
            Some(true)
        );
        assert_eq!(waiting.join().expect("no panic"), Some(true));
        assert_eq!(pool.threads(), 2);
    }

    #[test]
    fn a_panicking_job_gives_none_and_the_pool_goes_on() {
        let pool = BlockingPool::new("test");
        assert_eq!(block_on(pool.run(|| -> u8 { panic!("boom") })), None);
        assert_eq!(block_on(pool.run(|| 1)), Some(1));
    }
}
