//! Where a statement may run: a replica, or the primary on the session's own connection.

use super::scan::Facts;
use super::statement::Command;

/// Where a statement may run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    /// A read that any server may answer: a replica, or any pooled connection.
    Read,
    /// Everything not clearly such a read: data and schema changes, transaction control,
    /// `SET`, `CALL`, unknown statements, and reads that lock rows (`FOR UPDATE`,
    /// `FOR SHARE`, `LOCK IN SHARE MODE`), write (`INTO`), take or test named locks,
    /// assign or read user variables, or read the previous statement's result on this
    /// connection (`LAST_INSERT_ID()`, `FOUND_ROWS()`, `ROW_COUNT()`, `@@warning_count`,
    /// `SHOW WARNINGS`, and `SQL_CALC_FOUND_ROWS`, whose `FOUND_ROWS()` must follow on the
    /// same connection). These run on the primary, on the connection the session is on.
    Write,
}

impl Route {
    /// The route of a statement of kind `command` whose scan found `facts`.
    pub(super) fn decide(command: Command, facts: Facts) -> Route {
        match command {
            Command::Read if !facts.primary && !facts.changes_data => Route::Read,
            Command::Explain => Route::Read,
            _ => Route::Write,
        }
    }
}
