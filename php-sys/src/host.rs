//! Host functions: PHP functions whose implementation lives in the embedding program.
//!
//! The embedder names its functions in [`EngineConfig::host_functions`](crate::EngineConfig)
//! and implements [`HostHandler`]. A call from PHP reaches [`HostHandler::call`] on the PHP
//! thread that runs the script, with the arguments as borrowed scalars; the handler answers a
//! [`Value`] (which PHP receives as a string, int, array, ...) or a [`HostError`] (which PHP
//! receives as an exception). No PHP memory is touched from Rust: the shim converts the
//! arguments before the call and decodes the answer, which Rust encodes into a byte buffer,
//! after it, so a PHP bailout never crosses a Rust frame.
//!
//! The `ephpm` session save handler (`session.save_handler = ephpm`) calls the same handler with
//! the names `session:read` (id, max lifetime) -> string or null, `session:write` (id, data,
//! max lifetime) -> bool, `session:touch` (same) -> bool, `session:destroy` (id) and
//! `session:exists` (id) -> bool.

use std::cell::RefCell;
use std::ffi::c_char;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use crate::callbacks::str_bytes;
use crate::ffi;

/// One argument of a host-function call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Arg<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string (or a `Stringable` object, already converted).
    Str(&'a [u8]),
}

/// A value returned to PHP.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An int.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(Vec<u8>),
    /// A list: an array with keys 0, 1, 2, ...
    List(Vec<Value>),
    /// An array with string keys (numeric strings become int keys, as in PHP).
    Map(Vec<(Vec<u8>, Value)>),
}

/// An error PHP receives as an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostError {
    /// `RuntimeException`.
    Runtime(String),
    /// `TypeError`.
    Type(String),
    /// `ArgumentCountError`.
    ArgumentCount(String),
}

/// The embedder's implementation of its host functions.
pub trait HostHandler: Send + Sync {
    /// Runs host function `name` (or a session hook, see the module docs) with `args`.
    fn call(&self, name: &str, args: &[Arg<'_>]) -> Result<Value, HostError>;
}

/// The functions PHP gets and the handler that implements them.
#[derive(Clone)]
pub struct HostFunctions {
    /// PHP function names (lower case, e.g. `ephpm_kv_get`).
    pub names: Vec<String>,
    /// Their implementation.
    pub handler: &'static dyn HostHandler,
}

impl fmt::Debug for HostFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFunctions")
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

static HANDLER: OnceLock<&'static dyn HostHandler> = OnceLock::new();

/// Answer buffers bigger than this are freed before the next call on the thread.
const MAX_KEPT_ANSWER: usize = 1024 * 1024;

thread_local! {
    /// The encoded answer of the last call on this thread (read by the shim right after).
    static ANSWER: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Installs the handler for the process (once, before the engine starts).
pub(crate) fn install(handler: &'static dyn HostHandler) {
    let _ = HANDLER.set(handler);
}

/// The shim's `call` callback.
pub(crate) unsafe extern "C" fn call(
    name: *const c_char,
    name_len: usize,
    args: *const ffi::ephpm_arg,
    argc: usize,
    out: *mut *const c_char,
    out_len: *mut usize,
) {
    let name = if name.is_null() {
        &[][..]
    } else {
        // SAFETY: the shim passes `name_len` readable bytes, valid for this call.
        unsafe { std::slice::from_raw_parts(name.cast::<u8>(), name_len) }
    };
    let raw_args = if args.is_null() || argc == 0 {
        &[][..]
    } else {
        // SAFETY: the shim passes an array of `argc` arguments, valid for this call.
        unsafe { std::slice::from_raw_parts(args, argc) }
    };
    let answer = catch_unwind(AssertUnwindSafe(|| {
        let args: Vec<Arg<'_>> = raw_args.iter().map(convert_arg).collect();
        dispatch(name, &args)
    }))
    .unwrap_or_else(|_| {
        log::error!(target: "php", "a host function panicked");
        Err(HostError::Runtime(
            "ePHPm: internal error in a host function".into(),
        ))
    });
    ANSWER.with_borrow_mut(|buffer| {
        // The previous answer was decoded already; a big one does not keep its memory.
        if buffer.capacity() > MAX_KEPT_ANSWER {
            *buffer = Vec::new();
        }
        buffer.clear();
        encode_answer(&answer, buffer);
        // SAFETY: `out` and `out_len` point at the shim's locals for this call; the buffer
        // stays untouched until this thread's next call, after the shim has decoded it.
        unsafe {
            *out = buffer.as_ptr().cast::<c_char>();
            *out_len = buffer.len();
        }
    });
}

fn dispatch(name: &[u8], args: &[Arg<'_>]) -> Result<Value, HostError> {
    let name = std::str::from_utf8(name)
        .map_err(|_| HostError::Runtime("ePHPm: host function name is not UTF-8".into()))?;
    match HANDLER.get() {
        Some(handler) => handler.call(name, args),
        None => Err(HostError::Runtime(format!("{name}(): not available"))),
    }
}

fn convert_arg(arg: &ffi::ephpm_arg) -> Arg<'_> {
    match arg.type_ {
        ffi::ephpm_arg_type_EPHPM_ARG_BOOL => Arg::Bool(arg.int_value != 0),
        ffi::ephpm_arg_type_EPHPM_ARG_INT => Arg::Int(arg.int_value),
        ffi::ephpm_arg_type_EPHPM_ARG_FLOAT => Arg::Float(arg.float_value),
        // SAFETY: for string arguments the shim points `str` at bytes that stay valid while
        // the call runs (the PHP values themselves).
        ffi::ephpm_arg_type_EPHPM_ARG_STRING => Arg::Str(unsafe { str_bytes(&arg.str_) }),
        _ => Arg::Null,
    }
}

/// Encodes a call's answer in the format `ephpm_sapi.h` describes.
fn encode_answer(answer: &Result<Value, HostError>, out: &mut Vec<u8>) {
    match answer {
        Ok(value) => encode_value(value, out),
        Err(err) => {
            let (kind, message) = match err {
                HostError::Runtime(m) => (b'R', m),
                HostError::Type(m) => (b'T', m),
                HostError::ArgumentCount(m) => (b'A', m),
            };
            out.push(b'E');
            out.push(kind);
            encode_bytes(message.as_bytes(), out);
        }
    }
}

fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null => out.push(b'N'),
        Value::Bool(false) => out.push(b'F'),
        Value::Bool(true) => out.push(b'T'),
        Value::Int(i) => {
            out.push(b'I');
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(b'D');
            out.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        Value::Str(bytes) => {
            out.push(b'S');
            encode_bytes(bytes, out);
        }
        Value::List(items) => {
            out.push(b'L');
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            items.iter().for_each(|item| encode_value(item, out));
        }
        Value::Map(entries) => {
            out.push(b'M');
            out.extend_from_slice(&(entries.len() as u64).to_le_bytes());
            for (key, item) in entries {
                encode_bytes(key, out);
                encode_value(item, out);
            }
        }
    }
}

fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_nested_values() {
        let mut out = Vec::new();
        encode_value(
            &Value::Map(vec![(
                b"a".to_vec(),
                Value::List(vec![Value::Int(1), Value::Null]),
            )]),
            &mut out,
        );
        let mut expected = vec![b'M'];
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.extend_from_slice(&1u64.to_le_bytes());
        expected.push(b'a');
        expected.push(b'L');
        expected.extend_from_slice(&2u64.to_le_bytes());
        expected.push(b'I');
        expected.extend_from_slice(&1i64.to_le_bytes());
        expected.push(b'N');
        assert_eq!(out, expected);
    }

    #[test]
    fn encodes_errors_with_their_kind() {
        let mut out = Vec::new();
        encode_answer(&Err(HostError::Type("bad".into())), &mut out);
        assert_eq!(&out[..2], b"ET");
        assert_eq!(&out[2..10], &3u64.to_le_bytes());
        assert_eq!(&out[10..], b"bad");
    }
}
