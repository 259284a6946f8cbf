//! Embedded PHP: engine start-up from the configuration, the per-core thread pools, and the
//! bridge that streams each response from a PHP thread back to its executor.

mod pool;
mod responder;
mod worker;

pub use pool::{PhpJob, PhpPool, PoolHandle};
pub use responder::{RequestBody, ResponseEvent};
pub use worker::{watch_files, Reload, WorkerSlot, WorkerSpec, WorkerStats};

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
    disable_process_control(&mut ini);
    Engine::start(EngineConfig {
        mode: Mode::Server,
        ini,
        opcache: config.php.opcache,
        host_functions,
    })
    .context("starting the embedded PHP engine")
}

/// The `pcntl_*` functions Debian's php.ini disables for php-fpm and mod_php: from a web
/// request they would fork the whole server (every core, the store, the database), replace
/// it (`pcntl_exec`) or signal it (`pcntl_alarm`). `ephpm php-cli` keeps them.
const PROCESS_CONTROL_FUNCTIONS: &str = "pcntl_alarm,pcntl_fork,pcntl_waitpid,pcntl_wait,\
pcntl_wifexited,pcntl_wifstopped,pcntl_wifsignaled,pcntl_wifcontinued,pcntl_wexitstatus,\
pcntl_wtermsig,pcntl_wstopsig,pcntl_signal,pcntl_signal_get_handler,pcntl_signal_dispatch,\
pcntl_get_last_error,pcntl_strerror,pcntl_sigprocmask,pcntl_sigwaitinfo,pcntl_sigtimedwait,\
pcntl_exec,pcntl_getpriority,pcntl_setpriority,pcntl_async_signals,pcntl_unshare";

/// Adds [`PROCESS_CONTROL_FUNCTIONS`] to `disable_functions`, keeping any the configuration
/// names (the last `disable_functions` entry is the one PHP uses).
fn disable_process_control(ini: &mut Vec<(String, String)>) {
    let configured = ini
        .iter()
        .rev()
        .find(|(key, _)| key == "disable_functions")
        .map(|(_, value)| value.trim().to_owned())
        .unwrap_or_default();
    ini.retain(|(key, _)| key != "disable_functions");
    let value = if configured.is_empty() {
        PROCESS_CONTROL_FUNCTIONS.to_owned()
    } else {
        format!("{PROCESS_CONTROL_FUNCTIONS},{configured}")
    };
    ini.push(("disable_functions".to_owned(), value));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_control_is_disabled_and_configured_functions_kept() {
        let mut ini = vec![("memory_limit".to_owned(), "1G".to_owned())];
        disable_process_control(&mut ini);
        assert_eq!(ini[1].0, "disable_functions");
        assert!(ini[1].1.starts_with("pcntl_alarm,pcntl_fork,"));
        assert!(!ini[1].1.contains(' '));
        let mut ini = vec![(
            "disable_functions".to_owned(),
            "exec, shell_exec".to_owned(),
        )];
        disable_process_control(&mut ini);
        assert_eq!(ini.len(), 1);
        assert!(ini[0].1.ends_with("pcntl_unshare,exec, shell_exec"));
    }
}
