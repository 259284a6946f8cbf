//! One PHP request: its description ([`Request`]) and the receiver of its response
//! ([`ResponseHandler`]).

use std::ffi::{c_char, c_void};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use crate::callbacks::Context;
use crate::ffi;

/// Receives a request's response while PHP produces it. Called on the PHP thread.
pub trait ResponseHandler {
    /// Reads request-body bytes into `buf`; returns how many (0 = end of body).
    fn read_body(&mut self, buf: &mut [u8]) -> usize;
    /// The status and header lines (`Name: value`), once, before any body bytes.
    fn send_headers(&mut self, status: u16, headers: HeaderLines<'_>);
    /// Body bytes. Returns false when the client is gone (PHP then sees an aborted connection).
    fn write(&mut self, data: &[u8]) -> bool;
    /// PHP's `flush()`: send buffered body bytes to the client now.
    fn flush(&mut self);
    /// `fastcgi_finish_request()`: the response is complete; the script keeps running and its
    /// later output is discarded by the SAPI.
    fn finish_request(&mut self);
    /// An informational (1xx) response before the final one: `headers_send(103)` sends the
    /// Link headers set so far as 103 Early Hints. Ignored unless overridden.
    fn send_informational(&mut self, _status: u16, _headers: HeaderLines<'_>) {}
}

/// The header lines PHP sends, as raw `Name: value` byte strings.
pub struct HeaderLines<'a> {
    pub(crate) lines: &'a [ffi::ephpm_str],
}

impl<'a> Iterator for HeaderLines<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let (first, rest) = self.lines.split_first()?;
        self.lines = rest;
        // SAFETY: each entry points at a header PHP owns for the duration of the send_headers
        // callback, which outlives this iterator (it is only handed out inside the callback).
        Some(unsafe { crate::callbacks::str_bytes(first) })
    }
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// False when PHP could not start the request at all.
    pub started: bool,
    /// The script's exit status: 255 after a fatal error or timeout, else `exit()`'s value.
    pub exit_status: i32,
}

/// Errors building a [`Request`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RequestError {
    /// A field holds a NUL byte, which C strings cannot carry.
    #[error("{0} contains a NUL byte")]
    InteriorNul(&'static str),
}

#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: usize,
    len: usize,
}

/// A request for PHP: method, URI, script, headers and `$_SERVER` variables.
///
/// All strings are stored NUL-terminated in one arena that is reused between requests
/// ([`Request::clear`]), so building a request allocates nothing in the steady state.
#[derive(Debug, Default)]
pub struct Request {
    arena: Vec<u8>,
    method: Span,
    request_uri: Span,
    query_string: Span,
    script_filename: Span,
    content_type: Option<Span>,
    cookie: Option<Span>,
    authorization: Option<Span>,
    content_length: Option<u64>,
    head_only: bool,
    server_vars: Vec<(Span, Span)>,
    headers: Vec<(Span, Span)>,
}

impl Request {
    /// An empty request.
    pub fn new() -> Request {
        Request::default()
    }

    /// An empty request with room for `bytes` of strings and `vars` server variables, so a
    /// typical request is built without reallocating.
    pub fn with_capacity(bytes: usize, vars: usize) -> Request {
        Request {
            arena: Vec::with_capacity(bytes),
            server_vars: Vec::with_capacity(vars),
            headers: Vec::with_capacity(vars / 2),
            ..Request::default()
        }
    }

    /// Forgets everything, keeping the allocated capacity.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.server_vars.clear();
        self.headers.clear();
        self.content_type = None;
        self.cookie = None;
        self.authorization = None;
        self.content_length = None;
        self.head_only = false;
        self.method = Span::default();
        self.request_uri = Span::default();
        self.query_string = Span::default();
        self.script_filename = Span::default();
    }

    fn push(&mut self, field: &'static str, bytes: &[u8]) -> Result<Span, RequestError> {
        if memchr_nul(bytes) {
            return Err(RequestError::InteriorNul(field));
        }
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        self.arena.push(0);
        Ok(Span {
            start,
            len: bytes.len(),
        })
    }

    /// The request method (`GET`, `POST`, ...).
    pub fn set_method(&mut self, method: &str) -> Result<(), RequestError> {
        self.method = self.push("method", method.as_bytes())?;
        Ok(())
    }

    /// The request-target as the client sent it (`$_SERVER['REQUEST_URI']`).
    pub fn set_request_uri(&mut self, uri: &[u8]) -> Result<(), RequestError> {
        self.request_uri = self.push("request URI", uri)?;
        Ok(())
    }

    /// The request-target set with [`Request::set_request_uri`].
    pub fn request_uri(&self) -> &[u8] {
        let span = self.request_uri;
        self.arena
            .get(span.start..span.start + span.len)
            .unwrap_or(&[])
    }

    /// The query string without `?` (parsed into `$_GET`).
    pub fn set_query_string(&mut self, query: &[u8]) -> Result<(), RequestError> {
        self.query_string = self.push("query string", query)?;
        Ok(())
    }

    /// The absolute path of the script to run.
    pub fn set_script_filename(&mut self, path: &Path) -> Result<(), RequestError> {
        self.script_filename = self.push("script path", path.as_os_str().as_bytes())?;
        Ok(())
    }

    /// The body's `Content-Type` (drives `$_POST` and `$_FILES` parsing).
    pub fn set_content_type(&mut self, value: &[u8]) -> Result<(), RequestError> {
        self.content_type = Some(self.push("Content-Type", value)?);
        Ok(())
    }

    /// The body's length in bytes.
    pub fn set_content_length(&mut self, len: u64) {
        self.content_length = Some(len);
    }

    /// The `Cookie` header (parsed into `$_COOKIE`).
    pub fn set_cookie(&mut self, value: &[u8]) -> Result<(), RequestError> {
        self.cookie = Some(self.push("Cookie", value)?);
        Ok(())
    }

    /// The `Authorization` header (fills `PHP_AUTH_USER`/`PHP_AUTH_PW` for Basic auth).
    pub fn set_authorization(&mut self, value: &[u8]) -> Result<(), RequestError> {
        self.authorization = Some(self.push("Authorization", value)?);
        Ok(())
    }

    /// A HEAD request: PHP runs the script but the body is not sent.
    pub fn set_head_only(&mut self, head_only: bool) {
        self.head_only = head_only;
    }

    /// Adds a `$_SERVER` variable.
    pub fn add_server_var(&mut self, name: &str, value: &[u8]) -> Result<(), RequestError> {
        let name = self.push("server variable name", name.as_bytes())?;
        let value = self.push("server variable", value)?;
        self.server_vars.push((name, value));
        Ok(())
    }

    /// Adds a request header as the client sent it (for `getallheaders()`).
    pub fn add_header(&mut self, name: &str, value: &[u8]) -> Result<(), RequestError> {
        let name = self.push("header name", name.as_bytes())?;
        let value = self.push("header value", value)?;
        self.headers.push((name, value));
        Ok(())
    }

    fn c_str(&self, span: Span) -> *const c_char {
        self.arena[span.start..].as_ptr().cast()
    }

    fn c_pairs(&self, pairs: &[(Span, Span)]) -> Vec<ffi::ephpm_str> {
        let mut out = Vec::with_capacity(pairs.len() * 2);
        for (name, value) in pairs {
            for span in [name, value] {
                out.push(ffi::ephpm_str {
                    ptr: self.c_str(*span),
                    len: span.len,
                });
            }
        }
        out
    }

    pub(crate) fn execute(&self, handler: &mut dyn ResponseHandler) -> Outcome {
        let mut context = Context { handler };
        let raw = self.raw((&mut context as *mut Context<'_>).cast::<c_void>());
        // SAFETY: every pointer in `raw` points into `self.arena`, its own pair arrays or
        // `context`, all alive until this call returns; the shim keeps none of them after
        // returning. The calling thread is registered with PHP (we are reached through a
        // PhpThread, which is !Send). `context` is only used by the callbacks during the call.
        let outcome = unsafe { ffi::ephpm_execute(&raw.request) };
        Outcome::from(outcome)
    }

    /// The C view of this request, with `ctx` as its callback context. The pointers in it stay
    /// valid while `self` is neither changed nor dropped and the returned value lives.
    pub(crate) fn raw(&self, ctx: *mut c_void) -> RawRequest {
        // An empty arena would leave the required fields dangling: point them at a "".
        const EMPTY: &[u8; 1] = b"\0";
        let c_str = |span: Span| {
            if self.arena.is_empty() {
                EMPTY.as_ptr().cast::<c_char>()
            } else {
                self.c_str(span)
            }
        };
        let vars = self.c_pairs(&self.server_vars);
        let headers = self.c_pairs(&self.headers);
        let optional = |span: Option<Span>| span.map_or(std::ptr::null(), c_str);
        let request = ffi::ephpm_request {
            ctx,
            method: c_str(self.method),
            request_uri: c_str(self.request_uri),
            query_string: c_str(self.query_string),
            script_filename: c_str(self.script_filename),
            content_type: optional(self.content_type),
            content_length: self
                .content_length
                .and_then(|len| i64::try_from(len).ok())
                .unwrap_or(-1),
            cookie: optional(self.cookie),
            authorization: optional(self.authorization),
            head_only: i32::from(self.head_only),
            server_vars: vars.as_ptr(),
            server_vars_count: self.server_vars.len(),
            headers: headers.as_ptr(),
            headers_count: self.headers.len(),
        };
        RawRequest {
            request,
            _vars: vars,
            _headers: headers,
        }
    }
}

/// An `ephpm_request` and the pair arrays it points into.
pub(crate) struct RawRequest {
    pub(crate) request: ffi::ephpm_request,
    _vars: Vec<ffi::ephpm_str>,
    _headers: Vec<ffi::ephpm_str>,
}

impl From<ffi::ephpm_outcome> for Outcome {
    fn from(outcome: ffi::ephpm_outcome) -> Outcome {
        Outcome {
            started: outcome.started != 0,
            exit_status: outcome.exit_status,
        }
    }
}

fn memchr_nul(bytes: &[u8]) -> bool {
    bytes.contains(&0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_nul_bytes() {
        let mut request = Request::new();
        assert_eq!(
            request.add_server_var("X", b"a\0b"),
            Err(RequestError::InteriorNul("server variable"))
        );
    }

    #[test]
    fn arena_strings_are_nul_terminated() {
        let mut request = Request::new();
        request.set_method("GET").unwrap();
        request.add_server_var("A", b"bc").unwrap();
        assert_eq!(request.arena, b"GET\0A\0bc\0");
        request.clear();
        assert!(request.arena.is_empty());
    }
}
