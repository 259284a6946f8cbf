//! The server log (`log` crate records, PHP's error log included) via env_logger.

use std::fs::OpenOptions;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;

use crate::config::LogConfig;

/// Installs the logger described by `[log]`. `RUST_LOG` adds module filters on top.
pub fn init(config: &LogConfig) -> anyhow::Result<()> {
    let mut builder = env_logger::Builder::new();
    builder.parse_filters(&config.level);
    if let Ok(filters) = std::env::var("RUST_LOG") {
        builder.parse_filters(&filters);
    }
    match config.error_log.as_str() {
        "stderr" | "" => {
            builder.target(env_logger::Target::Stderr);
        }
        "stdout" => {
            builder.target(env_logger::Target::Stdout);
        }
        path => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("opening error log {path}"))?;
            builder.target(env_logger::Target::Pipe(Box::new(file)));
        }
    }
    builder.try_init().context("installing the logger")?;
    install_panic_hook();
    Ok(())
}

/// Sends panics to the server log with the thread's name and a backtrace, instead of bare
/// stderr: a panic serving one connection is contained (see `server::core::spawn_contained`)
/// and must still be visible to the operator.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let thread = std::thread::current();
        let backtrace = std::backtrace::Backtrace::force_capture();
        log::error!(
            "panic in thread '{}': {info}\nbacktrace:\n{backtrace}",
            thread.name().unwrap_or("unnamed")
        );
    }));
}

/// Lets a repeated message through at most once a second (a flood of refused connections or
/// failed accepts must not flood the log).
#[derive(Debug, Default)]
pub(crate) struct RateLimit {
    /// Unix second of the last message let through.
    last: AtomicU64,
}

impl RateLimit {
    /// A limit that lets the first message through.
    pub(crate) const fn new() -> RateLimit {
        RateLimit {
            last: AtomicU64::new(0),
        }
    }

    /// True when the message should be logged now.
    pub(crate) fn should_log(&self) -> bool {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        self.last.swap(now, Ordering::Relaxed) != now
    }
}
