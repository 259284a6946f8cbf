//! Graceful shutdown: SIGTERM/SIGINT set a process-wide flag; each core turns it into a local
//! event its listeners and idle connections wait on.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use event_listener::Event;

/// How often a core looks at the process-wide flag.
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The process-wide request to stop, set from the signal thread.
#[derive(Clone, Default)]
pub(crate) struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    /// Asks every core to stop.
    pub(crate) fn trigger(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    /// True once stopping began.
    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// Registers SIGTERM and SIGINT to set this flag.
    pub(crate) fn install_signal_handlers(&self) -> std::io::Result<()> {
        for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(signal, Arc::clone(&self.0))?;
        }
        Ok(())
    }
}

/// A core's view of shutdown: cheap to check, and awaitable.
pub(crate) struct CoreShutdown {
    triggered: std::cell::Cell<bool>,
    event: Event,
}

impl CoreShutdown {
    pub(crate) fn new() -> CoreShutdown {
        CoreShutdown {
            triggered: std::cell::Cell::new(false),
            event: Event::new(),
        }
    }

    /// True once shutdown began on this core.
    pub(crate) fn is_triggered(&self) -> bool {
        self.triggered.get()
    }

    /// Completes when shutdown begins.
    pub(crate) async fn wait(&self) {
        loop {
            if self.is_triggered() {
                return;
            }
            let listener = self.event.listen();
            if self.is_triggered() {
                return;
            }
            listener.await;
        }
    }

    /// Watches the process-wide flag and wakes this core's waiters when it is set.
    pub(crate) async fn watch(&self, flag: StopFlag) {
        while !flag.is_set() {
            glommio::timer::sleep(POLL_INTERVAL).await;
        }
        self.triggered.set(true);
        self.event.notify(usize::MAX);
    }
}
