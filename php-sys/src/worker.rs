//! Worker mode, as FrankenPHP defines it: a script boots once and answers many requests, each
//! through a `frankenphp_handle_request(callable)` call that blocks until the host hands it
//! the next one.

use std::ffi::c_void;
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::callbacks::Context;
use crate::ffi;
use crate::request::{Outcome, RawRequest, Request, ResponseHandler};

/// Where a worker script's requests come from.
pub trait WorkerRequests {
    /// Blocks until the next request arrives, with the handler its response goes to; `None`
    /// stops the worker (`frankenphp_handle_request()` returns false). `memory_bytes` is the
    /// worker's PHP memory use now (`memory_get_usage()`), between two requests.
    fn next(&mut self, memory_bytes: u64) -> Option<(Request, Box<dyn ResponseHandler>)>;
}

/// How a worker script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkerOutcome {
    /// The script's own outcome (started, exit status).
    pub outcome: Outcome,
    /// Requests handed to the script.
    pub requests: u64,
    /// The script ended while answering a request (a fatal error, `exit()`, a timeout): that
    /// request was answered with what PHP produced (500 when it had sent nothing).
    pub ended_in_request: bool,
}

/// The request a worker is answering, kept in place while PHP runs it.
struct Current {
    /// Points into `context` and `request`.
    raw: Option<Box<RawRequest>>,
    /// Borrows `handler`.
    context: Option<Box<Context<'static>>>,
    /// From `Box::into_raw`; freed in Drop after `raw` and `context`.
    handler: *mut dyn ResponseHandler,
    _request: Request,
}

impl Current {
    fn new(request: Request, handler: Box<dyn ResponseHandler>) -> Current {
        let handler = Box::into_raw(handler);
        // SAFETY: `handler` comes from Box::into_raw and is freed only in Drop, after the
        // context that borrows it (and PHP, which reaches it through the context) is done.
        let context = Box::new(Context {
            handler: unsafe { &mut *handler },
        });
        let ctx = (&*context as *const Context<'static>)
            .cast_mut()
            .cast::<c_void>();
        let raw = Box::new(request.raw(ctx));
        Current {
            raw: Some(raw),
            context: Some(context),
            handler,
            _request: request,
        }
    }

    /// Ends the response (idempotent in the handler) before the request is dropped.
    fn finish(&mut self) {
        if let Some(context) = self.context.as_mut() {
            context.handler.finish_request();
        }
    }

    fn raw(&self) -> Option<&ffi::ephpm_request> {
        self.raw.as_ref().map(|raw| &raw.request)
    }
}

impl Drop for Current {
    fn drop(&mut self) {
        drop(self.raw.take());
        drop(self.context.take());
        // SAFETY: `handler` came from Box::into_raw in `new`; the context borrowing it is gone
        // and the shim has moved past this request.
        drop(unsafe { Box::from_raw(self.handler) });
    }
}

/// What the shim's `next_request` callback reaches through its `worker` pointer.
pub(crate) struct WorkerState<'w> {
    requests: &'w mut dyn WorkerRequests,
    current: Option<Current>,
    handed: u64,
}

impl<'w> WorkerState<'w> {
    pub(crate) fn new(requests: &'w mut dyn WorkerRequests) -> WorkerState<'w> {
        WorkerState {
            requests,
            current: None,
            handed: 0,
        }
    }

    /// The shim finished the current request (it called `finish_request` for it): drop it and
    /// wait for the next one.
    fn next(&mut self, memory_bytes: u64) -> Option<&ffi::ephpm_request> {
        self.current = None;
        let (request, handler) = self.requests.next(memory_bytes)?;
        self.handed += 1;
        let current = self.current.insert(Current::new(request, handler));
        current.raw()
    }

    /// After the script ended: completes a request it was still answering.
    pub(crate) fn finish(mut self, outcome: Outcome) -> WorkerOutcome {
        let ended_in_request = match self.current.as_mut() {
            Some(current) => {
                current.finish();
                true
            }
            None => false,
        };
        self.current = None;
        WorkerOutcome {
            outcome,
            requests: self.handed,
            ended_in_request,
        }
    }
}

/// The shim's `next_request` callback.
pub(crate) unsafe extern "C" fn next_request(worker: *mut c_void) -> *const ffi::ephpm_request {
    if worker.is_null() {
        return std::ptr::null();
    }
    // SAFETY: `worker` is the WorkerState that PhpThread::execute_worker passed to the shim
    // and keeps alive (untouched) for the whole call; the shim calls back on the same thread.
    let state = unsafe { &mut *worker.cast::<WorkerState<'_>>() };
    // SAFETY: called by the shim on the worker's PHP thread, between two requests.
    let memory = unsafe { ffi::ephpm_memory_usage() };
    let memory = u64::try_from(memory).unwrap_or(u64::MAX);
    match catch_unwind(AssertUnwindSafe(|| {
        state
            .next(memory)
            .map_or(std::ptr::null(), |raw| raw as *const ffi::ephpm_request)
    })) {
        Ok(raw) => raw,
        Err(_) => {
            log::error!(target: "php", "the worker's request source panicked; stopping the worker");
            std::ptr::null()
        }
    }
}
