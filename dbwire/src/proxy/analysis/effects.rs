//! What a statement does to the session: the state that ties a client session to one backend
//! connection (pins it), the state that ends, and the settings to replay elsewhere.
//!
//! The analysis reads SQL text only, so it cannot know whether a statement succeeded: the
//! proxy applies these effects after the backend's OK. For transactions and autocommit the
//! backend's `SERVER_STATUS_IN_TRANS` and `SERVER_STATUS_AUTOCOMMIT` flags are authoritative
//! (they also cover the implicit commits of DDL, `LOCK TABLES` and the like, which are not
//! reported here); [`SessionEffects::transaction`] and [`SessionEffects::autocommit`] are
//! what the text says, for deciding before the answer arrives.

/// The start or end of a span of session state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Boundary {
    /// The state begins (and pins the session).
    Start,
    /// The state ends (and may unpin the session).
    End,
}

/// A session setting to replay on whichever backend connection serves the session next.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionVariable {
    /// The variable's name, lower-case: `sql_mode`, `time_zone`, `transaction_isolation`.
    /// `SET NAMES` and `SET CHARACTER SET` are both `names` (they set the same three
    /// character-set variables, so the later one wins).
    pub name: String,
    /// A complete statement that sets it: `SET NAMES utf8mb4`,
    /// `SET SESSION sql_mode = 'TRADITIONAL'`, `SET SESSION TRANSACTION ISOLATION LEVEL
    /// READ COMMITTED`. The value is the original text, so a value that refers to other
    /// state (`CONCAT(@@sql_mode, ',X')`, `@saved`) is re-evaluated where it is replayed.
    pub sql: String,
}

/// What one statement (or, merged, a multi-statement query) does to the session.
///
/// Counters and flags accumulate over the statements of a query; [`Boundary`] and `Option`
/// fields keep the last statement's value; variables keep the last assignment per name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionEffects {
    /// `BEGIN`, `START TRANSACTION`, `XA START`, `COMMIT AND CHAIN`, `SET autocommit = 0`
    /// start a transaction; `COMMIT`, `ROLLBACK` (not `ROLLBACK TO SAVEPOINT`), `XA COMMIT`,
    /// `XA ROLLBACK`, `SET autocommit = 1` end it.
    pub transaction: Option<Boundary>,
    /// `SET [SESSION] autocommit = ...`: `Some(false)` for 0/OFF/FALSE and for values the
    /// text does not settle (`@saved`). While autocommit is off every statement runs in a
    /// transaction, so the session stays pinned past `COMMIT` until autocommit is on again.
    pub autocommit: Option<bool>,
    /// `CREATE TEMPORARY TABLE` statements (counted even with `IF NOT EXISTS`).
    pub temporary_tables_created: u32,
    /// Tables named by `DROP TEMPORARY TABLE` (with `IF EXISTS`, an upper bound). A plain
    /// `DROP TABLE` can drop a temporary table too and is not counted, which errs towards
    /// staying pinned.
    pub temporary_tables_dropped: u32,
    /// User variables were assigned: `SET @x = ...`, `@x := ...`, `SELECT ... INTO @x`.
    /// Pins for the rest of the session.
    pub user_variables: bool,
    /// `GET_LOCK(` calls: named locks possibly acquired (a call that times out counts too).
    pub named_locks_acquired: u32,
    /// `RELEASE_LOCK(` calls.
    pub named_locks_released: u32,
    /// `RELEASE_ALL_LOCKS()` was called.
    pub all_named_locks_released: bool,
    /// `LOCK TABLES`, `FLUSH TABLES ... WITH READ LOCK | FOR EXPORT` and
    /// `LOCK INSTANCE FOR BACKUP` start table locks; `UNLOCK TABLES` and `UNLOCK INSTANCE`
    /// end them.
    pub table_locks: Option<Boundary>,
    /// `SQL_CALC_FOUND_ROWS`: pins until the next statement (usually `SELECT FOUND_ROWS()`).
    pub calc_found_rows: bool,
    /// SQL-level prepared statements: `PREPARE`, `EXECUTE`, `DEALLOCATE PREPARE`,
    /// `DROP PREPARE`. Pins (the proxy cannot tell when the last one is deallocated).
    pub prepared_statements: bool,
    /// `SET TRANSACTION ...` without a scope: sets the characteristics of the next
    /// transaction only, so it pins at least until that transaction ends.
    pub next_transaction: bool,
    /// Code the text does not show runs: `CALL`, MariaDB's `BEGIN NOT ATOMIC`, `HANDLER`.
    /// It may leave any session state behind; pinning is the proxy's choice (ProxySQL does
    /// not pin on `CALL`), so [`SessionEffects::pins`] does not count it.
    pub opaque: bool,
    /// Session settings to replay, in order, at most one per name.
    pub variables: Vec<SessionVariable>,
    /// `USE db`: the new default schema, unquoted.
    pub schema: Option<String>,
}

impl SessionEffects {
    /// True when the statement changes nothing in the session (the common case).
    pub fn is_empty(&self) -> bool {
        *self == SessionEffects::default()
    }

    /// True when the statement creates state that ties the session to its backend
    /// connection: a transaction, autocommit off, temporary tables, user variables, named or
    /// table locks, `SQL_CALC_FOUND_ROWS`, SQL prepared statements, `SET TRANSACTION`.
    pub fn pins(&self) -> bool {
        self.transaction == Some(Boundary::Start)
            || self.autocommit == Some(false)
            || self.temporary_tables_created > 0
            || self.user_variables
            || self.named_locks_acquired > 0
            || self.table_locks == Some(Boundary::Start)
            || self.calc_found_rows
            || self.prepared_statements
            || self.next_transaction
    }

    /// Records a setting to replay; it replaces an earlier one of the same name.
    pub(crate) fn set_variable(&mut self, name: String, sql: String) {
        self.variables.retain(|v| v.name != name);
        self.variables.push(SessionVariable { name, sql });
    }

    /// Records `autocommit` being set (`None`: a value the text does not settle).
    pub(crate) fn set_autocommit(&mut self, on: Option<bool>) {
        let on = on.unwrap_or(false);
        self.autocommit = Some(on);
        self.transaction = Some(if on { Boundary::End } else { Boundary::Start });
    }

    /// Adds the effects of a later statement.
    pub(crate) fn merge(&mut self, later: SessionEffects) {
        self.transaction = later.transaction.or(self.transaction);
        self.autocommit = later.autocommit.or(self.autocommit);
        self.temporary_tables_created = self
            .temporary_tables_created
            .saturating_add(later.temporary_tables_created);
        self.temporary_tables_dropped = self
            .temporary_tables_dropped
            .saturating_add(later.temporary_tables_dropped);
        self.user_variables |= later.user_variables;
        self.named_locks_acquired = self
            .named_locks_acquired
            .saturating_add(later.named_locks_acquired);
        self.named_locks_released = self
            .named_locks_released
            .saturating_add(later.named_locks_released);
        self.all_named_locks_released |= later.all_named_locks_released;
        self.table_locks = later.table_locks.or(self.table_locks);
        self.calc_found_rows |= later.calc_found_rows;
        self.prepared_statements |= later.prepared_statements;
        self.next_transaction |= later.next_transaction;
        self.opaque |= later.opaque;
        for variable in later.variables {
            self.set_variable(variable.name, variable.sql);
        }
        self.schema = later.schema.or(self.schema.take());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_statements_win() {
        let mut first = SessionEffects {
            transaction: Some(Boundary::Start),
            named_locks_acquired: 1,
            schema: Some("a".into()),
            ..SessionEffects::default()
        };
        first.set_variable("sql_mode".into(), "SET SESSION sql_mode = ''".into());
        first.set_variable("time_zone".into(), "SET SESSION time_zone = 'UTC'".into());
        let mut second = SessionEffects {
            transaction: Some(Boundary::End),
            named_locks_acquired: 2,
            ..SessionEffects::default()
        };
        second.set_variable("sql_mode".into(), "SET SESSION sql_mode = 'X'".into());
        first.merge(second);
        assert_eq!(first.transaction, Some(Boundary::End));
        assert_eq!(first.named_locks_acquired, 3);
        assert_eq!(first.schema.as_deref(), Some("a"));
        let names: Vec<_> = first.variables.iter().map(|v| v.sql.as_str()).collect();
        assert_eq!(
            names,
            [
                "SET SESSION time_zone = 'UTC'",
                "SET SESSION sql_mode = 'X'"
            ]
        );
    }

    #[test]
    fn empty_and_pinning() {
        assert!(SessionEffects::default().is_empty());
        assert!(!SessionEffects::default().pins());
        let opaque = SessionEffects {
            opaque: true,
            ..SessionEffects::default()
        };
        assert!(!opaque.is_empty());
        assert!(!opaque.pins());
        let mut autocommit_off = SessionEffects::default();
        autocommit_off.set_autocommit(None);
        assert!(autocommit_off.pins());
    }
}
