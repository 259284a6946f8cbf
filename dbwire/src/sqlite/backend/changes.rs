//! Counting a statement's row changes the way MySQL reports them.
//!
//! SQLite's `changes()` counts rows an UPDATE *matched*; MySQL reports rows it *changed* (an
//! UPDATE that writes the same values affects 0 rows), counts a REPLACE that replaced a row as
//! 2 (delete + insert) and an `INSERT ... ON DUPLICATE KEY UPDATE` that updated a row as 2.
//! The SQLite pre-update hook sees every row before it is written, with old and new values,
//! so it can count exactly that. The authorizer, called while a statement is prepared, names
//! the statement's target table, so rows written by triggers or FULLTEXT shadow tables are
//! left out, and the first inserted rowid gives MySQL's `LAST_INSERT_ID()` for multi-row
//! inserts (the first generated id, where SQLite's `last_insert_rowid()` is the last).

use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::hooks::{Action, AuthAction, AuthContext, Authorization, PreUpdateCase};
use rusqlite::Connection;

/// What one statement did to its target table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct StatementChanges {
    /// The table the statement writes (from the authorizer), if it writes one.
    pub target: Option<String>,
    /// Rows inserted.
    pub inserted: u64,
    /// Rows deleted (including rows a REPLACE removed).
    pub deleted: u64,
    /// Rows an UPDATE (or upsert) matched.
    pub matched: u64,
    /// Matched rows whose values actually changed.
    pub changed: u64,
    /// The rowid of the first row inserted.
    pub first_insert_rowid: Option<i64>,
}

/// Collects [`StatementChanges`] from a connection's hooks.
#[derive(Debug, Clone, Default)]
pub struct ChangeTracker {
    state: Arc<Mutex<StatementChanges>>,
}

impl ChangeTracker {
    /// A tracker with nothing recorded.
    pub fn new() -> ChangeTracker {
        ChangeTracker::default()
    }

    /// Installs the authorizer and pre-update hook on `conn`, reporting to this tracker.
    pub fn install(&self, conn: &mut Connection) -> rusqlite::Result<()> {
        let state = Arc::clone(&self.state);
        conn.authorizer(Some(move |context: AuthContext<'_>| {
            record_target(&mut lock(&state), context);
            Authorization::Allow
        }))?;
        let state = Arc::clone(&self.state);
        conn.preupdate_hook(Some(
            move |_action: Action, database: &str, table: &str, case: &PreUpdateCase| {
                record_row(&mut lock(&state), database, table, case);
            },
        ))
    }

    /// Forgets what the previous statement did; call before preparing the next one.
    pub fn reset(&self) {
        *lock(&self.state) = StatementChanges::default();
    }

    /// What the statement prepared and run since the last [`ChangeTracker::reset`] did.
    pub fn take(&self) -> StatementChanges {
        std::mem::take(&mut *lock(&self.state))
    }
}

fn lock(state: &Mutex<StatementChanges>) -> MutexGuard<'_, StatementChanges> {
    // Hooks cannot panic while holding the lock, but a poisoned counter is still usable.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Notes the first table a top-level statement writes in the main database.
fn record_target(changes: &mut StatementChanges, context: AuthContext<'_>) {
    if changes.target.is_some() || context.accessor.is_some() {
        return;
    }
    if context
        .database_name
        .is_some_and(|database| database != "main")
    {
        return;
    }
    let table = match context.action {
        AuthAction::Insert { table_name }
        | AuthAction::Delete { table_name }
        | AuthAction::Update { table_name, .. } => table_name,
        _ => return,
    };
    changes.target = Some(table.to_owned());
}

/// Counts one row change of the target table made by the statement itself (not a trigger).
fn record_row(changes: &mut StatementChanges, database: &str, table: &str, case: &PreUpdateCase) {
    let is_target = changes
        .target
        .as_deref()
        .is_some_and(|target| target.eq_ignore_ascii_case(table));
    if database != "main" || !is_target {
        return;
    }
    match case {
        PreUpdateCase::Insert(new) if new.get_query_depth() == 0 => {
            changes.inserted += 1;
            changes
                .first_insert_rowid
                .get_or_insert(new.get_new_row_id());
        }
        PreUpdateCase::Delete(old) if old.get_query_depth() == 0 => changes.deleted += 1,
        PreUpdateCase::Update {
            old_value_accessor: old,
            new_value_accessor: new,
        } if old.get_query_depth() == 0 => {
            changes.matched += 1;
            let row_id_moved = old.get_old_row_id() != new.get_new_row_id();
            let value_changed = (0..old.get_column_count()).any(|column| {
                match (
                    old.get_old_column_value(column),
                    new.get_new_column_value(column),
                ) {
                    (Ok(before), Ok(after)) => before != after,
                    _ => true,
                }
            });
            if row_id_moved || value_changed {
                changes.changed += 1;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Connection, ChangeTracker) {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v INTEGER); \
             CREATE TABLE log (what TEXT); \
             CREATE TRIGGER t_log AFTER UPDATE ON t BEGIN INSERT INTO log VALUES ('u'); END; \
             INSERT INTO t (k, v) VALUES ('a', 1), ('b', 2), ('c', 3);",
        )
        .unwrap();
        let tracker = ChangeTracker::new();
        tracker.install(&mut conn).unwrap();
        (conn, tracker)
    }

    fn run(conn: &Connection, tracker: &ChangeTracker, sql: &str) -> StatementChanges {
        tracker.reset();
        conn.execute(sql, []).unwrap();
        tracker.take()
    }

    #[test]
    fn updates_count_changed_rows_not_matched_rows() {
        let (conn, tracker) = setup();
        let changes = run(&conn, &tracker, "UPDATE t SET v = 2 WHERE v <= 2");
        assert_eq!(changes.target.as_deref(), Some("t"));
        assert_eq!((changes.matched, changes.changed), (2, 1));
        let unchanged = run(&conn, &tracker, "UPDATE t SET v = v");
        assert_eq!((unchanged.matched, unchanged.changed), (3, 0));
    }

    #[test]
    fn inserts_record_the_first_rowid() {
        let (conn, tracker) = setup();
        let changes = run(
            &conn,
            &tracker,
            "INSERT INTO t (k, v) VALUES ('d', 4), ('e', 5)",
        );
        assert_eq!(changes.inserted, 2);
        assert_eq!(changes.first_insert_rowid, Some(4));
    }

    #[test]
    fn replace_counts_delete_and_insert() {
        let (conn, tracker) = setup();
        let changes = run(&conn, &tracker, "REPLACE INTO t (k, v) VALUES ('a', 9)");
        assert_eq!((changes.deleted, changes.inserted), (1, 1));
        let fresh = run(&conn, &tracker, "REPLACE INTO t (k, v) VALUES ('z', 9)");
        assert_eq!((fresh.deleted, fresh.inserted), (0, 1));
    }

    #[test]
    fn upserts_count_updates_that_changed_something() {
        let (conn, tracker) = setup();
        let sql =
            "INSERT INTO t (k, v) VALUES ('a', 7) ON CONFLICT (k) DO UPDATE SET v = excluded.v";
        let updated = run(&conn, &tracker, sql);
        assert_eq!((updated.inserted, updated.changed), (0, 1));
        let same = run(&conn, &tracker, sql);
        assert_eq!((same.inserted, same.matched, same.changed), (0, 1, 0));
    }

    #[test]
    fn trigger_writes_are_not_counted() {
        let (conn, tracker) = setup();
        let changes = run(&conn, &tracker, "UPDATE t SET v = 100 WHERE k = 'a'");
        assert_eq!(changes.changed, 1);
        assert_eq!(
            changes.inserted, 0,
            "the trigger's insert into log is not the statement's"
        );
    }
}
