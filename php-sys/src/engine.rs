//! Process-wide PHP engine start-up and per-thread registration.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use crate::callbacks::{Context, HOST_CALLBACKS};
use crate::ffi;
use crate::host::HostFunctions;
use crate::request::{Outcome, Request, ResponseHandler};
use crate::worker::{WorkerOutcome, WorkerRequests, WorkerState};

/// How the engine presents itself to scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A web server SAPI (`PHP_SAPI === "ephpm"`), requests come from [`PhpThread::execute`].
    Server,
    /// The command-line SAPI (`PHP_SAPI === "cli"`), for [`Engine::run_cli`].
    Cli,
}

/// Settings fixed for the life of the process.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Server or CLI.
    pub mode: Mode,
    /// php.ini settings, applied in order (later entries win).
    pub ini: Vec<(String, String)>,
    /// Load the OPcache Zend extension that was built with libphp.
    pub opcache: bool,
    /// PHP functions implemented by the embedder (server mode only).
    pub host_functions: Option<HostFunctions>,
}

/// Errors starting the engine.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// `Engine::start` was called a second time.
    #[error("the PHP engine is already started")]
    AlreadyStarted,
    /// An ini key or value holds a newline or NUL, which would inject other settings.
    #[error("invalid php.ini setting {key:?}: keys and values may not contain newlines or NUL")]
    InvalidIni {
        /// The offending key.
        key: String,
    },
    /// A CLI argument holds a NUL byte.
    #[error("invalid argument {0:?}: contains a NUL byte")]
    InvalidArgument(String),
    /// A host function name is not a valid PHP function name.
    #[error("invalid host function name {0:?}")]
    InvalidFunctionName(String),
    /// PHP's module start-up failed (its own message went to the log).
    #[error("PHP module start-up failed (see the messages above)")]
    StartupFailed,
}

/// The started PHP engine. There is at most one per process and it lives until exit.
#[derive(Debug)]
pub struct Engine {
    mode: Mode,
}

static ENGINE: OnceLock<Engine> = OnceLock::new();

impl Engine {
    /// Starts PHP (TSRM, SAPI and module start-up) with `config`. Call once, from the thread
    /// that will later run [`Engine::run_cli`] if in CLI mode.
    pub fn start(config: EngineConfig) -> Result<&'static Engine, EngineError> {
        if ENGINE.get().is_some() {
            return Err(EngineError::AlreadyStarted);
        }
        let ini = CString::new(ini_entries(&config)?).map_err(|_| EngineError::InvalidIni {
            key: String::from("(ini)"),
        })?;
        let cli = c_int::from(config.mode == Mode::Cli);
        let names = function_names(config.host_functions.as_ref())?;
        let name_ptrs: Vec<*const c_char> = names.iter().map(|n| n.as_ptr()).collect();
        if let Some(functions) = &config.host_functions {
            crate::host::install(functions.handler);
        }
        // SAFETY: `ini` is a valid NUL-terminated string the shim copies; so are the function
        // names (`name_ptrs` has `names.len()` entries and the shim copies each). HOST_CALLBACKS
        // is a 'static table of functions with the signatures the header declares. ENGINE being
        // unset guarantees this is the first start-up in the process.
        let rc = unsafe {
            ffi::ephpm_engine_start(
                ini.as_ptr(),
                &HOST_CALLBACKS,
                cli,
                name_ptrs.as_ptr(),
                name_ptrs.len(),
            )
        };
        if rc != 0 {
            return Err(EngineError::StartupFailed);
        }
        Ok(ENGINE.get_or_init(|| Engine { mode: config.mode }))
    }

    /// The engine's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Gives the calling thread its own PHP context. The thread must not be the one that
    /// started the engine (that one is registered already). Use an 8 MiB stack: PHP has no
    /// stack guard and deep recursion overflows 2 MiB.
    pub fn register_thread(&'static self) -> PhpThread {
        // SAFETY: the engine is started (we hold &Engine); ts_resource(0) allocates this
        // thread's globals and is safe to call from any thread after TSRM start-up.
        unsafe { ffi::ephpm_thread_init() };
        PhpThread {
            _engine: self,
            _not_send: PhantomData,
        }
    }

    /// Runs `script` with `args` as PHP's CLI would, on the calling thread (the one that
    /// started the engine in [`Mode::Cli`]). Returns the script's exit status.
    pub fn run_cli(&self, script: &Path, args: &[String]) -> Result<i32, EngineError> {
        let script_c = path_to_cstring(script)?;
        let mut argv_owned = vec![script_c.clone()];
        for arg in args {
            argv_owned.push(
                CString::new(arg.as_str())
                    .map_err(|_| EngineError::InvalidArgument(arg.clone()))?,
            );
        }
        let mut argv: Vec<*mut c_char> = argv_owned.iter().map(|a| a.as_ptr().cast_mut()).collect();
        argv.push(std::ptr::null_mut());
        let argc = c_int::try_from(argv_owned.len())
            .map_err(|_| EngineError::InvalidArgument(String::from("too many arguments")))?;
        // SAFETY: script_c and every argv entry outlive the call; argv is NULL-terminated;
        // the engine runs in CLI mode on this (the starting) thread.
        let status = unsafe { ffi::ephpm_run_cli(script_c.as_ptr(), argc, argv.as_mut_ptr()) };
        Ok(status)
    }

    /// PHP's version, e.g. `8.2.32`.
    pub fn php_version() -> &'static str {
        // SAFETY: returns a pointer to the static PHP_VERSION string literal.
        let version = unsafe { CStr::from_ptr(ffi::ephpm_php_version()) };
        version.to_str().unwrap_or("unknown")
    }

    /// Names of the loaded PHP modules and Zend extensions (e.g. `Core`, `pdo_mysql`,
    /// `Zend OPcache`).
    pub fn extensions(&self) -> Vec<String> {
        unsafe extern "C" fn collect(ud: *mut c_void, name: *const c_char) {
            // SAFETY: ud is the &mut Vec<String> passed below, alive for the whole call;
            // name is a NUL-terminated module name owned by PHP.
            let names = unsafe { &mut *ud.cast::<Vec<String>>() };
            let name = unsafe { CStr::from_ptr(name) };
            names.push(name.to_string_lossy().into_owned());
        }
        let mut names: Vec<String> = Vec::new();
        // SAFETY: the engine is started; the callback only touches `names`, which outlives
        // the call, and does not unwind.
        unsafe {
            ffi::ephpm_list_extensions(Some(collect), (&mut names as *mut Vec<String>).cast());
        }
        names
    }

    /// Where the OPcache shared object built with libphp lives.
    pub fn opcache_path() -> PathBuf {
        Path::new(env!("EPHPM_PHP_EXTENSION_DIR")).join("opcache.so")
    }
}

/// A thread's PHP context. Not `Send`: PHP's globals for it live in this OS thread.
pub struct PhpThread {
    _engine: &'static Engine,
    _not_send: PhantomData<*const ()>,
}

impl PhpThread {
    /// Runs one request to completion, streaming its response to `handler`. A fatal error or a
    /// timeout ends only this request (PHP answers 500 itself when no output was sent yet).
    pub fn execute(&mut self, request: &Request, handler: &mut dyn ResponseHandler) -> Outcome {
        request.execute(handler)
    }
}

impl PhpThread {
    /// Runs a worker script (FrankenPHP worker mode) until it ends: `boot` is the script's own
    /// request, whose output outside handled requests goes to `boot_handler`; each
    /// `frankenphp_handle_request()` call answers the next request from `requests`.
    pub fn execute_worker(
        &mut self,
        boot: &Request,
        boot_handler: &mut dyn ResponseHandler,
        requests: &mut dyn WorkerRequests,
    ) -> WorkerOutcome {
        let mut context = Context {
            handler: boot_handler,
        };
        let raw = boot.raw((&mut context as *mut Context<'_>).cast::<c_void>());
        let mut state = WorkerState::new(requests);
        let worker = (&mut state as *mut WorkerState<'_>).cast::<c_void>();
        // SAFETY: `raw` points into `boot` and `context`, and `worker` at `state`; all live
        // until this call returns and the shim keeps none of them afterwards. The shim calls
        // back (next_request, the response callbacks) only on this thread, during the call.
        // The thread is registered with PHP (PhpThread is !Send).
        let outcome = unsafe { ffi::ephpm_execute_worker(&raw.request, worker) };
        state.finish(Outcome::from(outcome))
    }
}

impl Drop for PhpThread {
    fn drop(&mut self) {
        // SAFETY: this thread was registered by register_thread and runs no request now
        // (execute borrows self mutably, so it cannot be in progress).
        unsafe { ffi::ephpm_thread_shutdown() };
    }
}

fn ini_entries(config: &EngineConfig) -> Result<String, EngineError> {
    let mut out = String::new();
    if config.opcache {
        out.push_str(&format!(
            "zend_extension={}\n",
            Engine::opcache_path().display()
        ));
    }
    for (key, value) in &config.ini {
        let bad = |s: &str| s.contains(['\n', '\r', '\0']);
        if bad(key) || bad(value) || key.contains('=') || key.trim().is_empty() {
            return Err(EngineError::InvalidIni { key: key.clone() });
        }
        out.push_str(key);
        out.push('=');
        out.push_str(value);
        out.push('\n');
    }
    Ok(out)
}

/// The host function names as C strings, checked to be plain PHP identifiers.
fn function_names(functions: Option<&HostFunctions>) -> Result<Vec<CString>, EngineError> {
    let Some(functions) = functions else {
        return Ok(Vec::new());
    };
    functions
        .names
        .iter()
        .map(|name| {
            let valid = name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !valid {
                return Err(EngineError::InvalidFunctionName(name.clone()));
            }
            CString::new(name.as_str()).map_err(|_| EngineError::InvalidFunctionName(name.clone()))
        })
        .collect()
}

fn path_to_cstring(path: &Path) -> Result<CString, EngineError> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(path.as_os_str().as_bytes())
        .map_err(|_| EngineError::InvalidArgument(path.display().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_rejects_injection() {
        let config = EngineConfig {
            mode: Mode::Server,
            ini: vec![("memory_limit".into(), "1M\nextension=evil".into())],
            opcache: false,
            host_functions: None,
        };
        assert!(matches!(
            ini_entries(&config),
            Err(EngineError::InvalidIni { .. })
        ));
    }

    #[test]
    fn ini_entries_are_lines() {
        let config = EngineConfig {
            mode: Mode::Server,
            ini: vec![
                ("a".into(), "1".into()),
                ("b".into(), "E_ALL & ~E_NOTICE".into()),
            ],
            opcache: false,
            host_functions: None,
        };
        assert_eq!(ini_entries(&config).unwrap(), "a=1\nb=E_ALL & ~E_NOTICE\n");
    }
}
