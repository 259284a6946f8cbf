//! One pass over a statement's tokens for what can appear anywhere in it: locking clauses,
//! named-lock and session-state functions, user variables, `SQL_CALC_FOUND_ROWS`, and data
//! changes after a `WITH` clause.

use super::digest::{word_entry, DigestWriter};
use super::effects::SessionEffects;
use super::keywords::{Entry, Kw};
use super::tokens::{Kind, Token, Tokens};

/// What the scan found that bears on routing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Facts {
    /// The statement must run on the primary, on the session's own connection: a locking
    /// read, `INTO`, a named-lock or sequence function, a function or variable that reads
    /// the previous statement's result, a user variable, `SQL_CALC_FOUND_ROWS`.
    pub primary: bool,
    /// `INSERT`, `UPDATE`, `DELETE` or `REPLACE` outside parentheses (`WITH ... UPDATE`).
    pub changes_data: bool,
}

/// System variables that hold the previous statement's result on this connection.
const RESULT_VARIABLES: [&str; 5] = [
    "warning_count",
    "error_count",
    "identity",
    "last_insert_id",
    "insert_id",
];

/// Reads the rest of the statement (up to its `;`), recording effects found anywhere in it,
/// and feeding every token to `digest` when there is one.
pub(super) fn scan<'a>(
    tokens: &mut Tokens<'a>,
    sql: &'a str,
    effects: &mut SessionEffects,
    mut digest: Option<&mut DigestWriter<'a>>,
) -> Facts {
    let mut scan = Scan {
        sql,
        facts: Facts::default(),
        depth: 0,
        previous: Kw::None,
    };
    let mut current = tokens.next_in_statement();
    while let Some(token) = current {
        let after = *tokens;
        let next = tokens.next_in_statement();
        let entry = word_entry(token, sql);
        if let Some(digest) = digest.as_deref_mut() {
            digest.feed(token, entry, &after);
        }
        scan.token(token, entry, next, effects);
        current = next;
    }
    scan.facts
}

/// The scan's state between tokens.
struct Scan<'a> {
    sql: &'a str,
    facts: Facts,
    /// Parenthesis depth.
    depth: usize,
    /// The previous token's keyword ([`Kw::None`] when it was not a word).
    previous: Kw,
}

impl Scan<'_> {
    fn token(
        &mut self,
        token: Token,
        entry: Option<&Entry>,
        next: Option<Token>,
        effects: &mut SessionEffects,
    ) {
        let kw = entry.map_or(Kw::None, |e| e.kw);
        match token.kind {
            Kind::Word => self.word(kw, next, effects),
            Kind::UserVariable => {
                self.facts.primary = true;
                if next.is_some_and(|t| t.is_punct(self.sql, ":=")) {
                    effects.user_variables = true;
                }
            }
            Kind::SystemVariable if is_result_variable(token.text(self.sql)) => {
                self.facts.primary = true;
            }
            Kind::Punct => match token.text(self.sql) {
                "(" => self.depth += 1,
                ")" => self.depth = self.depth.saturating_sub(1),
                _ => {}
            },
            _ => {}
        }
        self.previous = kw;
    }

    fn word(&mut self, kw: Kw, next: Option<Token>, effects: &mut SessionEffects) {
        if kw == Kw::None {
            return;
        }
        let call = next.is_some_and(|t| t.is_punct(self.sql, "("));
        match kw {
            Kw::GetLock if call => {
                effects.named_locks_acquired = effects.named_locks_acquired.saturating_add(1);
                self.facts.primary = true;
            }
            Kw::ReleaseLock if call => {
                effects.named_locks_released = effects.named_locks_released.saturating_add(1);
                self.facts.primary = true;
            }
            Kw::ReleaseAllLocks if call => {
                effects.all_named_locks_released = true;
                self.facts.primary = true;
            }
            Kw::IsFreeLock
            | Kw::IsUsedLock
            | Kw::LastInsertId
            | Kw::FoundRows
            | Kw::RowCount
            | Kw::Nextval
            | Kw::Setval
            | Kw::Lastval
                if call =>
            {
                self.facts.primary = true;
            }
            Kw::SqlCalcFoundRows => {
                effects.calc_found_rows = true;
                self.facts.primary = true;
            }
            Kw::Update | Kw::Share if self.previous == Kw::For => self.facts.primary = true,
            Kw::In if self.previous == Kw::Lock => self.facts.primary = true,
            Kw::Into => {
                self.facts.primary = true;
                if next.is_some_and(|t| t.kind == Kind::UserVariable) {
                    effects.user_variables = true;
                }
            }
            Kw::Insert | Kw::Update | Kw::Delete | Kw::Replace if self.depth == 0 && !call => {
                self.facts.changes_data = true;
            }
            _ => {}
        }
    }
}

/// True for `@@warning_count`, `@@session.last_insert_id` and the like.
fn is_result_variable(text: &str) -> bool {
    let name = text.rsplit('.').next().unwrap_or(text);
    let name = name.trim_start_matches('@');
    RESULT_VARIABLES
        .iter()
        .any(|v| v.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(sql: &str) -> (Facts, SessionEffects) {
        let mut effects = SessionEffects::default();
        let facts = scan(&mut Tokens::new(sql), sql, &mut effects, None);
        (facts, effects)
    }

    #[test]
    fn plain_reads_have_no_facts() {
        for sql in [
            "SELECT a FROM t WHERE b = 'FOR UPDATE' AND `get_lock` = 1",
            "SELECT REPLACE(a, 'x', 'y'), INSERT(a, 1, 2, 'z') FROM t -- FOR UPDATE",
            "SELECT @@version, @@session.sql_mode /* INTO @x */",
            "SELECT get_lock FROM t",
        ] {
            assert_eq!(
                facts(sql),
                (Facts::default(), SessionEffects::default()),
                "{sql}"
            );
        }
    }

    #[test]
    fn locking_reads_and_session_reads_need_the_primary() {
        for sql in [
            "SELECT a FROM t FOR UPDATE",
            "SELECT a FROM t for share nowait",
            "SELECT a FROM t LOCK IN SHARE MODE",
            "SELECT a INTO OUTFILE '/tmp/x' FROM t",
            "SELECT LAST_INSERT_ID()",
            "select found_rows()",
            "SELECT ROW_COUNT()",
            "SELECT @@warning_count",
            "SELECT @@session.identity",
            "SELECT @x",
            "SELECT IS_USED_LOCK('a')",
        ] {
            assert!(facts(sql).0.primary, "{sql}");
        }
    }

    #[test]
    fn named_locks_are_counted() {
        let (facts, effects) = facts(
            "SELECT GET_LOCK('a', 1), get_lock('b', 1), RELEASE_LOCK('c'), RELEASE_ALL_LOCKS()",
        );
        assert!(facts.primary);
        assert_eq!(effects.named_locks_acquired, 2);
        assert_eq!(effects.named_locks_released, 1);
        assert!(effects.all_named_locks_released);
    }

    #[test]
    fn user_variable_assignments() {
        assert!(facts("SELECT @rn := @rn + 1 FROM t").1.user_variables);
        assert!(facts("SELECT a INTO @x FROM t").1.user_variables);
        assert!(!facts("SELECT @x = 1").1.user_variables);
    }

    #[test]
    fn calc_found_rows() {
        let (facts, effects) = facts("SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 10");
        assert!(facts.primary && effects.calc_found_rows);
    }

    #[test]
    fn data_changes_outside_parentheses() {
        assert!(
            facts("WITH c AS (SELECT 1) UPDATE t SET a = 1")
                .0
                .changes_data
        );
        assert!(facts("WITH c AS (SELECT 1) DELETE FROM t").0.changes_data);
        assert!(
            !facts("WITH c AS (SELECT REPLACE(a, 'b', 'c') FROM t) SELECT * FROM c")
                .0
                .changes_data
        );
    }

    #[test]
    fn stops_at_the_statement_end() {
        let sql = "SELECT 1; SELECT a FROM t FOR UPDATE";
        let mut tokens = Tokens::new(sql);
        let found = scan(&mut tokens, sql, &mut SessionEffects::default(), None);
        assert!(!found.primary);
        assert_eq!(tokens.next().map(|t| t.kind), Some(Kind::Semicolon));
    }
}
