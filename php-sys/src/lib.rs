//! Embedded ZTS PHP for ePHPm.
//!
//! This crate is the only place in ePHPm with `unsafe` code. It compiles a small C SAPI shim
//! (`csrc/ephpm_sapi.c`) against the libphp built by `scripts/build-php.sh`, generates bindings
//! for the shim with bindgen, and wraps them in a safe API:
//!
//! - [`Engine::start`] starts PHP once per process with the given ini settings;
//! - [`Engine::register_thread`] gives a thread its own PHP context ([`PhpThread`]);
//! - [`PhpThread::execute`] runs one [`Request`] and streams status, headers and body chunks to a
//!   [`ResponseHandler`] as PHP produces them;
//! - [`PhpThread::execute_worker`] runs a worker script that answers many requests
//!   ([`WorkerRequests`]) through `frankenphp_handle_request()`;
//! - [`host`] lets the embedder add PHP functions (and the `ephpm` session save handler)
//!   implemented in Rust.
//!
//! PHP bailouts (fatal errors, `exit()`, `max_execution_time`) are caught inside the shim: they
//! end the request, never the thread or the process.

mod callbacks;
mod engine;
mod ffi;
pub mod host;
mod request;
mod worker;

pub use engine::{Engine, EngineConfig, EngineError, Mode, PhpThread};
pub use host::{HostFunctions, HostHandler};
pub use request::{HeaderLines, Outcome, Request, RequestError, ResponseHandler};
pub use worker::{WorkerOutcome, WorkerRequests};
