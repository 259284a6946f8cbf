//! Embedded PHP: engine start-up from the configuration, the per-core thread pools, and the
//! bridge that streams each response from a PHP thread back to its executor.

mod pool;
mod responder;

pub use pool::{PhpJob, PhpPool, PoolHandle};
pub use responder::{RequestBody, ResponseEvent, ResponseHead};

use anyhow::Context as _;
use php_sys::{Engine, EngineConfig, Mode};

use crate::config::Config;

/// Starts the PHP engine for serving requests: production php.ini defaults (close to Debian's
/// php.ini-production under php-fpm), then the configuration's `[php.ini]` entries, which win.
/// `host_functions` are the PHP functions the server adds (the KV store's).
pub fn start_server_engine(
    config: &Config,
    host_functions: Option<php_sys::HostFunctions>,
) -> anyhow::Result<&'static Engine> {
    let body_limit = config.server.max_body_size.0.to_string();
    let mut ini: Vec<(String, String)> = [
        ("display_errors", "0"),
        ("display_startup_errors", "0"),
        ("log_errors", "1"),
        ("html_errors", "0"),
        ("output_buffering", "4096"),
        ("max_execution_time", "30"),
        ("memory_limit", "128M"),
        ("post_max_size", body_limit.as_str()),
        ("upload_max_filesize", body_limit.as_str()),
        ("opcache.enable", "1"),
        ("opcache.memory_consumption", "128"),
        ("opcache.interned_strings_buffer", "16"),
        ("opcache.max_accelerated_files", "20000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    if config.php.jit {
        ini.push(("opcache.jit".into(), "tracing".into()));
        ini.push(("opcache.jit_buffer_size".into(), "64M".into()));
    }
    ini.extend(config.php.ini.iter().map(|(k, v)| (k.clone(), v.clone())));
    Engine::start(EngineConfig {
        mode: Mode::Server,
        ini,
        opcache: config.php.opcache,
        host_functions,
    })
    .context("starting the embedded PHP engine")
}

/// Starts the PHP engine as PHP's CLI would run, for `ephpm php-cli`.
pub fn start_cli_engine(config: &Config) -> anyhow::Result<&'static Engine> {
    let mut ini: Vec<(String, String)> = [
        ("display_errors", "1"),
        ("html_errors", "0"),
        ("implicit_flush", "1"),
        ("output_buffering", "0"),
        ("max_execution_time", "0"),
        ("max_input_time", "-1"),
        ("register_argc_argv", "1"),
        ("memory_limit", "-1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    ini.extend(config.php.ini.iter().map(|(k, v)| (k.clone(), v.clone())));
    Engine::start(EngineConfig {
        mode: Mode::Cli,
        ini,
        opcache: config.php.opcache,
        host_functions: None,
    })
    .context("starting the embedded PHP engine")
}
