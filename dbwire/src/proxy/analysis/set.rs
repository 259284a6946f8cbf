//! `SET` statements: which session settings they change, split per variable into statements
//! the proxy can replay on another backend connection.
//!
//! Scopes follow MySQL: a `GLOBAL`, `PERSIST`, `PERSIST_ONLY`, `SESSION` or `LOCAL` keyword
//! applies to the assignments after it until the next such keyword; an `@@global.` (or
//! `@@session.`, ...) prefix applies to its own assignment only. Global assignments change
//! nothing in the session. `SET autocommit` is reported as [`SessionEffects::autocommit`],
//! user variables as [`SessionEffects::user_variables`], `SET TRANSACTION` without a scope
//! (next transaction only) as [`SessionEffects::next_transaction`]; `SET PASSWORD`,
//! `SET DEFAULT ROLE` and `SET RESOURCE GROUP` have no session effect here.

use super::effects::SessionEffects;
use super::keywords::{self, Kw};
use super::tokens::{Kind, Token, Tokens};

/// Which variables an assignment sets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// No scope keyword yet: session variables, or the next transaction for `TRANSACTION`.
    Default,
    /// `SESSION`, `LOCAL`, `@@session.`, `@@local.`, `@@`.
    Session,
    /// `GLOBAL`, `PERSIST`, `PERSIST_ONLY` and their `@@` prefixes.
    Global,
}

/// Records the effects of the `SET` statement whose tokens follow `look` (after `SET`).
pub(super) fn set_statement(mut look: Tokens, sql: &str, effects: &mut SessionEffects) {
    let Some(first) = look.peek_in_statement() else {
        return;
    };
    match kw(first, sql) {
        Kw::Password | Kw::Resource => return,
        Kw::Default if look_kw(&look, sql, 2) == Kw::Role => return,
        Kw::Role => {
            look.next_in_statement();
            let roles = rest_text(&mut look, sql);
            effects.set_variable("role".into(), format!("SET ROLE {roles}"));
            return;
        }
        _ => {}
    }
    let mut scope = Scope::Default;
    while assignment(&mut look, sql, &mut scope, effects) {
        let comma = look.next_in_statement();
        if !comma.is_some_and(|t| t.is_punct(sql, ",")) {
            return;
        }
    }
}

/// The keyword of `token` when it is a word.
fn kw(token: Token, sql: &str) -> Kw {
    match token.kind {
        Kind::Word => keywords::kw(token.text(sql)),
        _ => Kw::None,
    }
}

/// The keyword of the `nth` token (1-based) after `look`.
fn look_kw(look: &Tokens, sql: &str, nth: usize) -> Kw {
    let mut copy = *look;
    let mut token = None;
    for _ in 0..nth {
        token = copy.next_in_statement();
    }
    token.map_or(Kw::None, |t| kw(t, sql))
}

/// Reads one assignment; false when the text is not one this module understands (the
/// statement is then left as it is: a write with no further session effects).
fn assignment(
    look: &mut Tokens,
    sql: &str,
    scope: &mut Scope,
    effects: &mut SessionEffects,
) -> bool {
    let Some(mut token) = look.next_in_statement() else {
        return false;
    };
    if let Some(keyword_scope) = scope_keyword(kw(token, sql)) {
        *scope = keyword_scope;
        let Some(next) = look.next_in_statement() else {
            return false;
        };
        token = next;
    }
    match (token.kind, kw(token, sql)) {
        (Kind::Word, Kw::Names) => {
            let value = value_text(look, sql);
            effects.set_variable("names".into(), format!("SET NAMES {value}"));
            true
        }
        (Kind::Word, Kw::Charset) => character_set(look, sql, effects),
        (Kind::Word, Kw::Character) if look_kw(look, sql, 1) == Kw::Set => {
            look.next_in_statement();
            character_set(look, sql, effects)
        }
        (Kind::Word, Kw::Transaction) => {
            transaction(look, sql, *scope, effects);
            true
        }
        (Kind::UserVariable, _) => {
            effects.user_variables = true;
            assigned_value(look, sql).is_some()
        }
        (Kind::SystemVariable, _) => {
            let (prefix_scope, name) = split_system_variable(token.text(sql));
            system_variable(look, sql, name, prefix_scope, effects)
        }
        (Kind::Word, _) => {
            let name = dotted_name(look, token, sql);
            system_variable(look, sql, name, *scope, effects)
        }
        _ => false,
    }
}

fn scope_keyword(kw: Kw) -> Option<Scope> {
    match kw {
        Kw::Global | Kw::Persist | Kw::PersistOnly => Some(Scope::Global),
        Kw::Session | Kw::Local => Some(Scope::Session),
        _ => None,
    }
}

/// `SET CHARACTER SET x` / `SET CHARSET x`, after the keywords.
fn character_set(look: &mut Tokens, sql: &str, effects: &mut SessionEffects) -> bool {
    let value = value_text(look, sql);
    effects.set_variable("names".into(), format!("SET CHARACTER SET {value}"));
    true
}

/// `name = value` for a system variable: replayed when it is a session one.
fn system_variable(
    look: &mut Tokens,
    sql: &str,
    name: &str,
    scope: Scope,
    effects: &mut SessionEffects,
) -> bool {
    let Some(value) = assigned_value(look, sql) else {
        return false;
    };
    if scope == Scope::Global || name.is_empty() {
        return true;
    }
    let name = name.to_ascii_lowercase();
    if name == "autocommit" {
        effects.set_autocommit(switch_value(value));
        return true;
    }
    let sql = format!("SET SESSION {name} = {value}");
    effects.set_variable(canonical_name(name), sql);
    true
}

/// `SET [scope] TRANSACTION characteristic, ...`, after `TRANSACTION`.
fn transaction(look: &mut Tokens, sql: &str, scope: Scope, effects: &mut SessionEffects) {
    match scope {
        Scope::Global => {}
        Scope::Default => effects.next_transaction = true,
        Scope::Session => loop {
            let first = look.peek_in_statement().map(|t| kw(t, sql));
            let name = match first {
                Some(Kw::Isolation) => "transaction_isolation",
                Some(Kw::Read) => "transaction_read_only",
                _ => return,
            };
            let item = value_text(look, sql);
            effects.set_variable(name.into(), format!("SET SESSION TRANSACTION {item}"));
            let comma = look.peek_in_statement();
            if !comma.is_some_and(|t| t.is_punct(sql, ",")) {
                return;
            }
            look.next_in_statement();
        },
    }
}

/// After a variable name: `=` or `:=` and the value's text (empty when it is missing).
fn assigned_value<'a>(look: &mut Tokens, sql: &'a str) -> Option<&'a str> {
    let operator = look.next_in_statement()?;
    if !(operator.is_punct(sql, "=") || operator.is_punct(sql, ":=")) {
        return None;
    }
    Some(value_text(look, sql))
}

/// The source text of the tokens up to the next top-level `,` or the statement's end.
fn value_text<'a>(look: &mut Tokens, sql: &'a str) -> &'a str {
    let mut depth = 0_usize;
    let mut range: Option<(usize, usize)> = None;
    while let Some(token) = look.peek_in_statement() {
        if depth == 0 && token.is_punct(sql, ",") {
            break;
        }
        if token.is_punct(sql, "(") {
            depth += 1;
        } else if token.is_punct(sql, ")") {
            depth = depth.saturating_sub(1);
        }
        look.next_in_statement();
        range = Some((range.map_or(token.start(), |r| r.0), token.end()));
    }
    range
        .and_then(|(start, end)| sql.get(start..end))
        .unwrap_or_default()
}

/// The source text of the rest of the statement.
fn rest_text<'a>(look: &mut Tokens, sql: &'a str) -> &'a str {
    let Some(first) = look.next_in_statement() else {
        return "";
    };
    let mut end = first.end();
    while let Some(token) = look.next_in_statement() {
        end = token.end();
    }
    sql.get(first.start()..end).unwrap_or_default()
}

/// A variable name as a word, with its dotted continuation (`validate_password.length`).
fn dotted_name<'a>(look: &mut Tokens, first: Token, sql: &'a str) -> &'a str {
    let mut end = first.end();
    loop {
        let mut copy = *look;
        let dot = copy.next_in_statement();
        let part = copy.next_in_statement();
        match (dot, part) {
            (Some(d), Some(p)) if d.is_punct(sql, ".") && p.kind == Kind::Word => {
                end = p.end();
                *look = copy;
            }
            _ => break,
        }
    }
    sql.get(first.start()..end).unwrap_or_default()
}

/// `@@x`, `@@session.x`, `@@global.x`: the prefix's scope and the name.
fn split_system_variable(text: &str) -> (Scope, &str) {
    let name = text.trim_start_matches('@');
    let Some((prefix, rest)) = name.split_once('.') else {
        return (Scope::Session, name);
    };
    let scope = match prefix.to_ascii_lowercase().as_str() {
        "session" | "local" => Scope::Session,
        "global" | "persist" | "persist_only" => Scope::Global,
        _ => return (Scope::Session, name),
    };
    (scope, rest)
}

/// Old names of variables, mapped to the current ones so that both forms replace each other.
fn canonical_name(name: String) -> String {
    match name.as_str() {
        "tx_isolation" => "transaction_isolation".into(),
        "tx_read_only" => "transaction_read_only".into(),
        _ => name,
    }
}

/// `1`/`ON`/`TRUE` is on, `0`/`OFF`/`FALSE` off (quoted or not); `None` for other values.
fn switch_value(value: &str) -> Option<bool> {
    let value = value.trim_matches(|c| c == '\'' || c == '"');
    match value.to_ascii_lowercase().as_str() {
        "1" | "on" | "true" => Some(true),
        "0" | "off" | "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The effects of a SET statement (the text after `SET`).
    fn set(sql: &str) -> SessionEffects {
        let mut effects = SessionEffects::default();
        set_statement(Tokens::new(sql), sql, &mut effects);
        effects
    }

    fn replayed(sql: &str) -> Vec<(String, String)> {
        set(sql)
            .variables
            .into_iter()
            .map(|v| (v.name, v.sql))
            .collect()
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected
            .iter()
            .map(|(n, s)| ((*n).to_owned(), (*s).to_owned()))
            .collect()
    }

    #[test]
    fn names_and_character_sets() {
        assert_eq!(
            replayed("NAMES utf8mb4"),
            pairs(&[("names", "SET NAMES utf8mb4")])
        );
        assert_eq!(
            replayed("names 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'"),
            pairs(&[("names", "SET NAMES 'utf8mb4' COLLATE 'utf8mb4_unicode_ci'")])
        );
        assert_eq!(
            replayed("CHARACTER SET latin1, NAMES utf8"),
            pairs(&[("names", "SET NAMES utf8")])
        );
        assert_eq!(
            replayed("CHARSET utf8"),
            pairs(&[("names", "SET CHARACTER SET utf8")])
        );
    }

    #[test]
    fn session_variables_split_per_assignment() {
        assert_eq!(
            replayed(
                "@@session.sql_mode='TRADITIONAL', time_zone = '+00:00', LOCAL wait_timeout=60"
            ),
            pairs(&[
                ("sql_mode", "SET SESSION sql_mode = 'TRADITIONAL'"),
                ("time_zone", "SET SESSION time_zone = '+00:00'"),
                ("wait_timeout", "SET SESSION wait_timeout = 60"),
            ])
        );
        assert_eq!(
            replayed("SESSION sql_mode = CONCAT(@@sql_mode, ',NO_ZERO_DATE'), @@SQL_MODE = ''"),
            pairs(&[("sql_mode", "SET SESSION sql_mode = ''")])
        );
        assert_eq!(
            replayed("@@validate_password.length = 8, sort_buffer_size := 1 + (2*3)"),
            pairs(&[
                (
                    "validate_password.length",
                    "SET SESSION validate_password.length = 8"
                ),
                (
                    "sort_buffer_size",
                    "SET SESSION sort_buffer_size = 1 + (2*3)"
                ),
            ])
        );
    }

    #[test]
    fn global_assignments_are_not_session_effects() {
        assert!(set("GLOBAL max_connections = 1000, sort_buffer_size = 1").is_empty());
        assert!(set("@@global.max_connections = 1000").is_empty());
        assert!(set("PERSIST max_connections = 1000").is_empty());
        assert_eq!(
            replayed("GLOBAL a = 1, SESSION b = 2"),
            pairs(&[("b", "SET SESSION b = 2")])
        );
        assert_eq!(
            replayed("@@global.a = 1, b = 2"),
            pairs(&[("b", "SET SESSION b = 2")])
        );
    }

    #[test]
    fn autocommit() {
        for (sql, on) in [
            ("autocommit=0", false),
            ("autocommit = OFF", false),
            ("@@session.autocommit = 'off'", false),
            ("AUTOCOMMIT=1", true),
            ("autocommit = ON", true),
            ("autocommit = @saved", false),
        ] {
            let effects = set(sql);
            assert_eq!(effects.autocommit, Some(on), "{sql}");
            assert!(effects.variables.is_empty(), "{sql}");
        }
        assert!(set("GLOBAL autocommit = 0").is_empty());
    }

    #[test]
    fn user_variables() {
        let effects = set("@x = 1, @`y` := 'a,b', sql_mode = ''");
        assert!(effects.user_variables);
        assert_eq!(effects.variables.len(), 1);
    }

    #[test]
    fn transactions() {
        assert!(set("TRANSACTION ISOLATION LEVEL READ COMMITTED").next_transaction);
        assert!(set("GLOBAL TRANSACTION READ ONLY").is_empty());
        assert_eq!(
            replayed("SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY"),
            pairs(&[
                (
                    "transaction_isolation",
                    "SET SESSION TRANSACTION ISOLATION LEVEL SERIALIZABLE"
                ),
                ("transaction_read_only", "SET SESSION TRANSACTION READ ONLY"),
            ])
        );
        assert_eq!(
            replayed("tx_isolation = 'READ-COMMITTED', SESSION TRANSACTION READ WRITE"),
            pairs(&[
                (
                    "transaction_isolation",
                    "SET SESSION tx_isolation = 'READ-COMMITTED'"
                ),
                (
                    "transaction_read_only",
                    "SET SESSION TRANSACTION READ WRITE"
                ),
            ])
        );
        assert_eq!(
            replayed("SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED; x = 1"),
            pairs(&[(
                "transaction_isolation",
                "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED"
            )])
        );
        assert!(set("SESSION TRANSACTION bogus").is_empty());
    }

    #[test]
    fn other_set_forms() {
        assert!(set("PASSWORD = 'x'").is_empty());
        assert!(set("PASSWORD FOR 'u'@'h' = 'x'").is_empty());
        assert!(set("DEFAULT ROLE ALL TO 'u'@'h'").is_empty());
        assert!(set("RESOURCE GROUP rg").is_empty());
        assert_eq!(
            replayed("ROLE 'admin', 'dev'"),
            pairs(&[("role", "SET ROLE 'admin', 'dev'")])
        );
        assert!(set("").is_empty());
        assert!(set("= 1").is_empty());
        assert!(set("sql_mode").is_empty());
    }
}
