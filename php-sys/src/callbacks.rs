//! The functions the C shim calls back into: they forward to the request's
//! [`ResponseHandler`] and never let a Rust panic unwind into C.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::ffi;
use crate::request::{HeaderLines, ResponseHandler};

/// What `ephpm_request.ctx` points at while a request runs.
pub(crate) struct Context<'h> {
    pub(crate) handler: &'h mut dyn ResponseHandler,
}

/// The callback table handed to the shim at engine start-up.
pub(crate) static HOST_CALLBACKS: ffi::ephpm_callbacks = ffi::ephpm_callbacks {
    write: Some(write),
    flush: Some(flush),
    send_headers: Some(send_headers),
    send_informational: Some(send_informational),
    read_body: Some(read_body),
    finish_request: Some(finish_request),
    log_message: Some(log_message),
    call: Some(crate::host::call),
    next_request: Some(crate::worker::next_request),
};

/// The bytes of an `ephpm_str`.
///
/// # Safety
/// `s.ptr` must point at `s.len` readable bytes that outlive the returned slice.
pub(crate) unsafe fn str_bytes<'a>(s: &ffi::ephpm_str) -> &'a [u8] {
    if s.ptr.is_null() || s.len == 0 {
        return &[];
    }
    // SAFETY: guaranteed by the caller.
    unsafe { std::slice::from_raw_parts(s.ptr.cast::<u8>(), s.len) }
}

/// Runs `f` with the request's handler; a panic is logged and turned into `fallback`.
fn with_handler<T>(
    ctx: *mut c_void,
    fallback: T,
    f: impl FnOnce(&mut dyn ResponseHandler) -> T,
) -> T {
    if ctx.is_null() {
        return fallback;
    }
    // SAFETY: the shim passes back the ctx pointer of the running request, which is the
    // `Context` that `Request::execute` keeps alive (and does not touch) during the call.
    let context = unsafe { &mut *ctx.cast::<Context<'_>>() };
    match catch_unwind(AssertUnwindSafe(|| f(&mut *context.handler))) {
        Ok(value) => value,
        Err(_) => {
            log::error!(target: "php", "response handler panicked; request output is dropped");
            fallback
        }
    }
}

unsafe extern "C" fn write(ctx: *mut c_void, data: *const c_char, len: usize) -> usize {
    if data.is_null() || len == 0 {
        return len;
    }
    // SAFETY: PHP passes `len` readable bytes at `data`, valid for this call.
    let bytes = unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) };
    with_handler(ctx, 0, |handler| if handler.write(bytes) { len } else { 0 })
}

unsafe extern "C" fn flush(ctx: *mut c_void) {
    with_handler(ctx, (), |handler| handler.flush());
}

/// The header lines the shim passes to a callback.
///
/// # Safety
/// `lines` must be null or point at `count` entries that stay valid for `'a`.
unsafe fn header_lines<'a>(lines: *const ffi::ephpm_str, count: usize) -> &'a [ffi::ephpm_str] {
    if lines.is_null() || count == 0 {
        &[]
    } else {
        // SAFETY: guaranteed by the caller.
        unsafe { std::slice::from_raw_parts(lines, count) }
    }
}

unsafe extern "C" fn send_headers(
    ctx: *mut c_void,
    status: c_int,
    lines: *const ffi::ephpm_str,
    count: usize,
) {
    // SAFETY: the shim passes an array of `count` entries valid for this call.
    let lines = unsafe { header_lines(lines, count) };
    let status = u16::try_from(status)
        .ok()
        .filter(|s| (100..=999).contains(s))
        .unwrap_or(500);
    with_handler(ctx, (), |handler| {
        handler.send_headers(status, HeaderLines { lines })
    });
}

unsafe extern "C" fn send_informational(
    ctx: *mut c_void,
    status: c_int,
    lines: *const ffi::ephpm_str,
    count: usize,
) {
    // SAFETY: the shim passes an array of `count` entries valid for this call.
    let lines = unsafe { header_lines(lines, count) };
    let Some(status) = u16::try_from(status)
        .ok()
        .filter(|s| (100..200).contains(s))
    else {
        return;
    };
    with_handler(ctx, (), |handler| {
        handler.send_informational(status, HeaderLines { lines })
    });
}

unsafe extern "C" fn read_body(ctx: *mut c_void, buf: *mut c_char, len: usize) -> usize {
    if buf.is_null() || len == 0 {
        return 0;
    }
    // SAFETY: PHP passes a writable buffer of `len` bytes, valid for this call.
    let buf = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    with_handler(ctx, 0, |handler| handler.read_body(buf).min(len))
}

unsafe extern "C" fn finish_request(ctx: *mut c_void) {
    with_handler(ctx, (), |handler| handler.finish_request());
}

unsafe extern "C" fn log_message(message: *const c_char, syslog_type: c_int) {
    if message.is_null() {
        return;
    }
    // SAFETY: PHP passes a NUL-terminated message valid for this call.
    let message = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    // syslog priorities: 0..=3 error, 4 warning, 5..=6 notice/info, 7 debug.
    let level = match syslog_type {
        0..=3 => log::Level::Error,
        4 => log::Level::Warn,
        5 | 6 => log::Level::Info,
        _ => log::Level::Debug,
    };
    let _ = catch_unwind(|| log::log!(target: "php", level, "{message}"));
}
