//! Panics on request, for the end-to-end tests that prove a panic is contained.
//!
//! Only debug builds (the ones `cargo test` runs) have it, and only when the server starts
//! with `EPHPMTEST_FAULTS=1` in its environment (not an `EPHPM_` name, which the configuration
//! would claim). A request for `/__ephpm_test/panic-<point>` then panics at that point. Release
//! builds compile it to nothing.

/// Where a panic can be injected.
#[derive(Debug, Clone, Copy)]
pub(crate) enum FaultPoint {
    /// In the executor task serving an HTTP connection.
    Connection,
    /// In a PHP thread, outside PHP, before the request runs.
    PhpThread,
    /// In the core's accept loop, outside any connection (as if the executor itself failed),
    /// at the next connection it accepts: the whole core is lost.
    Core,
}

/// Panics when fault injection is on and `path` asks for a panic at `point`.
#[cfg(debug_assertions)]
pub(crate) fn panic_if_asked(point: FaultPoint, path: &[u8]) {
    use std::sync::OnceLock;
    static ENABLED: OnceLock<bool> = OnceLock::new();
    if !*ENABLED.get_or_init(|| std::env::var_os("EPHPMTEST_FAULTS").is_some_and(|v| v == "1")) {
        return;
    }
    let wanted: &[u8] = match point {
        FaultPoint::Connection => b"/__ephpm_test/panic-connection",
        FaultPoint::PhpThread => b"/__ephpm_test/panic-php",
        FaultPoint::Core => b"/__ephpm_test/panic-core",
    };
    if path != wanted {
        return;
    }
    match point {
        FaultPoint::Core => CORE_FAULT.with(|fault| fault.set(true)),
        _ => panic!("fault injection: panic at {point:?}"),
    }
}

#[cfg(debug_assertions)]
thread_local! {
    /// Set on a core's thread by a request for `/__ephpm_test/panic-core`.
    static CORE_FAULT: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Panics when a core fault was asked for on this core (called by the accept loop).
#[cfg(debug_assertions)]
pub(crate) fn panic_if_core_fault() {
    if CORE_FAULT.with(|fault| fault.get()) {
        panic!("fault injection: panic at Core");
    }
}

/// Release builds: never panics.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn panic_if_core_fault() {}

/// Release builds: never panics.
#[cfg(not(debug_assertions))]
#[inline(always)]
pub(crate) fn panic_if_asked(_point: FaultPoint, _path: &[u8]) {}
