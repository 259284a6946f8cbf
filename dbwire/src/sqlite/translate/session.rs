//! Statements about the session rather than data: USE, transactions, SET, CREATE/DROP
//! DATABASE, and the administrative statements that mean nothing to SQLite (accepted as
//! no-ops), including the documented ones sqlparser cannot parse.

use sqlparser::ast::{
    ContextModifier, Expr, ObjectName, SchemaName, Set, Statement as Parsed, UnaryOperator, Use,
    Value,
};
use sqlparser::tokenizer::Token;

use super::error::{near_text, TranslateError};
use super::lexer::{keyword, StatementTokens};
use super::names::{last_part, quote_ident};
use super::{SessionValue, SqlKind, Statement};

const VARIABLE_REASON: &str =
    "session variables (sql_mode, time_zone, ...) do not change how SQLite runs statements";
const LOCK_REASON: &str = "SQLite locks the database for each transaction";
const MAINTENANCE_REASON: &str = "SQLite needs no table maintenance";
const ACCOUNT_REASON: &str = "accounts come from ePHPm's configuration";

/// The documented statements recognized from their tokens because sqlparser cannot parse them:
/// `OPTIMIZE|REPAIR|CHECK|ANALYZE|CHECKSUM TABLE`, `ALTER TABLE t` with only table options
/// (`CONVERT TO CHARACTER SET`, `[DEFAULT] CHARSET`, `ENGINE`, mysqldump's `DISABLE KEYS`,
/// ...) and `SET CHARACTER SET`.
pub(crate) fn from_tokens(tokens: &StatementTokens<'_>) -> Option<Statement> {
    let words: Vec<Option<String>> = tokens.significant().into_iter().map(keyword).collect();
    let word = |index: usize| words.get(index).cloned().flatten();
    let first = word(0)?;
    let maintenance = ["OPTIMIZE", "REPAIR", "CHECK", "ANALYZE", "CHECKSUM"];
    if maintenance.contains(&first.as_str()) {
        let table_at = if matches!(word(1).as_deref(), Some("NO_WRITE_TO_BINLOG" | "LOCAL")) {
            2
        } else {
            1
        };
        if matches!(word(table_at).as_deref(), Some("TABLE" | "TABLES")) {
            return Some(Statement::Ignored {
                reason: MAINTENANCE_REASON,
            });
        }
    }
    if first == "KILL" {
        if let Some(kill) = kill(&tokens.significant()[1..]) {
            return Some(kill);
        }
    }
    if tokens.starts_with(&["START", "TRANSACTION"])
        && only_transaction_characteristics(&tokens.significant()[2..])
    {
        // WITH CONSISTENT SNAPSHOT is what a SQLite transaction gives anyway; READ WRITE is
        // the default.
        let read_only = tokens.significant()[2..].windows(2).any(|pair| {
            keyword(pair[0]).as_deref() == Some("READ")
                && keyword(pair[1]).as_deref() == Some("ONLY")
        });
        return Some(if read_only {
            Statement::BeginReadOnly
        } else {
            Statement::Begin
        });
    }
    if tokens.starts_with(&["SET", "CHARACTER", "SET"]) || tokens.starts_with(&["SET", "CHARSET"]) {
        let charset = tokens
            .significant()
            .last()
            .map_or_else(String::new, |token| {
                super::lexer::word(token).map_or_else(|| token.to_string(), str::to_owned)
            });
        return Some(Statement::SetNames(charset));
    }
    if tokens.starts_with(&["ALTER", "TABLE"]) && only_table_options(&tokens.significant()[2..]) {
        return Some(Statement::Ignored {
            reason: "table options (character set, collation, engine, row format) mean nothing to SQLite",
        });
    }
    None
}

/// `KILL [HARD | SOFT] [CONNECTION | QUERY] id` after the `KILL`.
fn kill(tokens: &[&Token]) -> Option<Statement> {
    let mut query_only = false;
    let mut rest = tokens;
    while let [first, tail @ ..] = rest {
        match keyword(first).as_deref() {
            Some("HARD" | "SOFT" | "CONNECTION") => {}
            Some("QUERY") => query_only = true,
            _ => break,
        }
        rest = tail;
    }
    match rest {
        [Token::Number(id, _)] => Some(Statement::Kill {
            connection_id: id.parse().ok()?,
            query_only,
        }),
        _ => None,
    }
}

/// True when the words after `START TRANSACTION` are only its characteristics (`WITH
/// CONSISTENT SNAPSHOT`, `READ ONLY`, `READ WRITE`, separated by commas).
fn only_transaction_characteristics(tokens: &[&Token]) -> bool {
    let allowed = ["WITH", "CONSISTENT", "SNAPSHOT", "READ", "ONLY", "WRITE"];
    tokens.iter().all(|token| {
        matches!(token, Token::Comma)
            || keyword(token).is_some_and(|word| allowed.contains(&word.as_str()))
    })
}

/// True for `name option...` where every option is a table option, not a change of columns
/// or keys.
fn only_table_options(tokens: &[&Token]) -> bool {
    let name_length = match tokens {
        [Token::Word(_), Token::Period, Token::Word(_), ..] => 3,
        [Token::Word(_), ..] => 1,
        _ => return false,
    };
    let options = &tokens[name_length..];
    let starts = [
        "CONVERT",
        "DEFAULT",
        "CHARACTER",
        "CHARSET",
        "COLLATE",
        "ENGINE",
        "ROW_FORMAT",
        "COMMENT",
        "KEY_BLOCK_SIZE",
        "DISABLE",
        "ENABLE",
        "PACK_KEYS",
        "STATS_PERSISTENT",
    ];
    let changes = [
        "ADD", "DROP", "CHANGE", "MODIFY", "RENAME", "ALTER", "ORDER",
    ];
    let first = options.first().and_then(|t| keyword(t));
    first.is_some_and(|word| starts.contains(&word.as_str()))
        && !options
            .iter()
            .filter_map(|t| keyword(t))
            .any(|word| changes.contains(&word.as_str()))
}

/// Translates session and administrative statements; anything else is unsupported.
pub(crate) fn translate(statement: Parsed) -> Result<Statement, TranslateError> {
    let translated = match statement {
        Parsed::Set(set) => translate_set(set)?,
        Parsed::StartTransaction { statements, .. } if statements.is_empty() => Statement::Begin,
        Parsed::Commit { .. } => Statement::Commit,
        Parsed::Rollback {
            savepoint: None, ..
        } => Statement::Rollback,
        Parsed::Rollback {
            savepoint: Some(name),
            ..
        } => other_sql(format!(
            "ROLLBACK TO SAVEPOINT {}",
            quote_ident(&name.value)
        )),
        Parsed::Savepoint { name } => other_sql(format!("SAVEPOINT {}", quote_ident(&name.value))),
        Parsed::ReleaseSavepoint { name } => {
            other_sql(format!("RELEASE SAVEPOINT {}", quote_ident(&name.value)))
        }
        Parsed::Use(used) => Statement::Use(use_name(&used)?),
        Parsed::CreateDatabase {
            db_name,
            if_not_exists,
            ..
        } => Statement::CreateDatabase {
            name: last_part(&db_name),
            if_not_exists,
        },
        Parsed::CreateSchema {
            schema_name,
            if_not_exists,
            ..
        } => Statement::CreateDatabase {
            name: schema_name_text(&schema_name),
            if_not_exists,
        },
        Parsed::LockTables { .. } | Parsed::UnlockTables | Parsed::Lock(_) => Statement::Ignored {
            reason: LOCK_REASON,
        },
        Parsed::Flush { .. } => Statement::Ignored {
            reason: "SQLite has no caches or logs to flush",
        },
        Parsed::Analyze(_) | Parsed::OptimizeTable { .. } => Statement::Ignored {
            reason: MAINTENANCE_REASON,
        },
        Parsed::Grant(_) | Parsed::Revoke(_) | Parsed::CreateUser(_) | Parsed::AlterUser(_) => {
            Statement::Ignored {
                reason: ACCOUNT_REASON,
            }
        }
        other => return Err(TranslateError::unsupported(near_text(&other.to_string()))),
    };
    Ok(translated)
}

fn other_sql(sql: String) -> Statement {
    Statement::Sql {
        sql,
        kind: SqlKind::Other,
    }
}

fn use_name(used: &Use) -> Result<String, TranslateError> {
    match used {
        Use::Object(name) | Use::Database(name) | Use::Schema(name) | Use::Catalog(name) => {
            Ok(last_part(name))
        }
        other => Err(TranslateError::unsupported(other.to_string())),
    }
}

fn schema_name_text(name: &SchemaName) -> String {
    match name {
        SchemaName::Simple(name) | SchemaName::NamedAuthorization(name, _) => last_part(name),
        SchemaName::UnnamedAuthorization(ident) => ident.value.clone(),
    }
}

fn translate_set(set: Set) -> Result<Statement, TranslateError> {
    let mut global = false;
    let assignments: Vec<(ObjectName, Expr)> = match set {
        Set::SingleAssignment {
            variable,
            mut values,
            scope,
            ..
        } => {
            global = scope == Some(ContextModifier::Global);
            match values.pop() {
                Some(value) if values.is_empty() => vec![(variable, value)],
                _ => Vec::new(),
            }
        }
        Set::MultipleAssignments { assignments } => {
            global = assignments
                .iter()
                .any(|a| a.scope == Some(ContextModifier::Global));
            assignments.into_iter().map(|a| (a.name, a.value)).collect()
        }
        Set::SetNames { charset_name, .. } => {
            return Ok(Statement::SetNames(charset_name.value));
        }
        Set::SetNamesDefault {} => return Ok(Statement::SetNames("utf8mb4".to_owned())),
        Set::SetTransaction { .. } => {
            return Ok(Statement::Ignored {
                reason: "SQLite transactions are always serializable",
            });
        }
        _ => Vec::new(),
    };
    if assignments.iter().any(|(name, _)| is_user_variable(name)) {
        return set_user_variables(&assignments);
    }
    let autocommit = assignments
        .iter()
        .find_map(|(name, value)| is_autocommit(name).then(|| truth(value)));
    Ok(match autocommit {
        Some(Some(on)) => Statement::SetAutocommit(on),
        _ => session_values(&assignments, global).unwrap_or(Statement::Ignored {
            reason: VARIABLE_REASON,
        }),
    })
}

/// `@name` (not `@@name`).
fn is_user_variable(name: &ObjectName) -> bool {
    let text = name.to_string();
    text.starts_with('@') && !text.starts_with("@@")
}

/// `SET @a = x, @b = y` runs as `SELECT @a := (x), @b := (y)` whose rows are dropped. System
/// variables set in the same statement (`SET @OLD = @@UNIQUE_CHECKS, UNIQUE_CHECKS = 0`, as
/// dumps write) are left out, as a lone `SET` of them would be ignored.
fn set_user_variables(assignments: &[(ObjectName, Expr)]) -> Result<Statement, TranslateError> {
    let sets: Vec<String> = assignments
        .iter()
        .filter(|(name, _)| is_user_variable(name))
        .map(|(name, value)| format!("{name} := ({value})"))
        .collect();
    let select = format!("SELECT {}", sets.join(", "));
    let source = super::lexer::SourceText::new(&select);
    let statements = source.statements()?;
    let [tokens] = statements.as_slice() else {
        return Err(TranslateError::unsupported("SET of user variables"));
    };
    super::discard(tokens)
}

/// `SET [SESSION] name = literal, ...` as session values, when every assignment is one (a
/// global, a user variable or an expression leaves the statement ignored, as before).
fn session_values(assignments: &[(ObjectName, Expr)], global: bool) -> Option<Statement> {
    if global || assignments.is_empty() {
        return None;
    }
    let mut values = Vec::with_capacity(assignments.len());
    for (name, value) in assignments {
        let name = session_variable_name(name)?;
        let value = match value {
            Expr::Value(value) => match &value.value {
                Value::Number(number, _) => Some(
                    number
                        .parse::<i64>()
                        .map_or_else(|_| SessionValue::Text(number.clone()), SessionValue::Int),
                ),
                Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => {
                    Some(SessionValue::Text(text.clone()))
                }
                Value::Boolean(on) => Some(SessionValue::Int(i64::from(*on))),
                _ => return None,
            },
            Expr::Identifier(word) if word.value.eq_ignore_ascii_case("DEFAULT") => None,
            Expr::Identifier(word) if word.quote_style.is_none() => {
                Some(SessionValue::Text(word.value.clone()))
            }
            _ => return None,
        };
        values.push((name, value));
    }
    Some(Statement::SetSession(values))
}

/// The system variable a session assignment names (`x`, `@@x`, `@@session.x`,
/// `@@local.x`), lowercased; `None` for user variables and globals.
fn session_variable_name(name: &ObjectName) -> Option<String> {
    let text = name.to_string().to_ascii_lowercase();
    let text = match text.strip_prefix("@@") {
        Some(system) => system,
        None if text.starts_with('@') => return None,
        None => &text,
    };
    if text.starts_with("global.") {
        return None;
    }
    let bare = ["session.", "local."]
        .iter()
        .find_map(|scope| text.strip_prefix(scope))
        .unwrap_or(text);
    (!bare.is_empty() && !bare.contains(['.', '@', '`'])).then(|| bare.to_owned())
}

/// `autocommit`, `@@autocommit`, `@@session.autocommit`, `SESSION autocommit`.
fn is_autocommit(name: &ObjectName) -> bool {
    let last = last_part(name);
    last.trim_start_matches("@@")
        .eq_ignore_ascii_case("autocommit")
}

/// The truth value of `1`, `0`, `ON`, `OFF`, `TRUE`, `FALSE`.
fn truth(value: &Expr) -> Option<bool> {
    match value {
        Expr::Value(value) => match &value.value {
            Value::Number(number, _) => number.parse::<i64>().ok().map(|n| n != 0),
            Value::Boolean(on) => Some(*on),
            Value::SingleQuotedString(text) | Value::DoubleQuotedString(text) => word_truth(text),
            _ => None,
        },
        Expr::Identifier(ident) => word_truth(&ident.value),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            ..
        } => Some(true),
        _ => None,
    }
}

fn word_truth(word: &str) -> Option<bool> {
    match word.to_ascii_uppercase().as_str() {
        "ON" | "TRUE" | "1" => Some(true),
        "OFF" | "FALSE" | "0" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::translate::translate as translate_text;

    fn one(sql: &str) -> Statement {
        let mut statements = translate_text(sql).unwrap();
        assert_eq!(statements.len(), 1);
        statements.remove(0)
    }

    #[test]
    fn unparseable_administration_is_ignored() {
        for sql in [
            "OPTIMIZE TABLE wp_options",
            "REPAIR TABLE t",
            "CHECK TABLE t",
            "ANALYZE NO_WRITE_TO_BINLOG TABLE t",
            "ALTER TABLE wp_posts CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_520_ci",
            "ALTER TABLE `db`.`t` ENGINE=InnoDB",
            "ALTER TABLE t DEFAULT CHARACTER SET utf8mb4",
            "/*!40000 ALTER TABLE `t` DISABLE KEYS */",
        ] {
            assert!(matches!(one(sql), Statement::Ignored { .. }), "{sql}");
        }
    }

    #[test]
    fn alter_table_with_changes_is_not_swallowed() {
        let error = translate_text("ALTER TABLE t ENGINE=InnoDB, ADD COLUMN c int").unwrap_err();
        assert_eq!(error.code, 1064);
    }

    #[test]
    fn transactions_and_variables() {
        assert_eq!(one("START TRANSACTION"), Statement::Begin);
        assert_eq!(
            one("START TRANSACTION WITH CONSISTENT SNAPSHOT"),
            Statement::Begin
        );
        assert_eq!(
            one("start transaction read only, with consistent snapshot"),
            Statement::BeginReadOnly
        );
        assert_eq!(one("START TRANSACTION READ WRITE"), Statement::Begin);
        assert_eq!(one("BEGIN"), Statement::Begin);
        assert_eq!(
            one("KILL QUERY 12"),
            Statement::Kill {
                connection_id: 12,
                query_only: true
            }
        );
        assert_eq!(
            one("kill hard connection 7"),
            Statement::Kill {
                connection_id: 7,
                query_only: false
            }
        );
        assert_eq!(one("commit"), Statement::Commit);
        assert_eq!(one("ROLLBACK"), Statement::Rollback);
        assert_eq!(
            one("ROLLBACK TO SAVEPOINT sp1"),
            Statement::Sql {
                sql: "ROLLBACK TO SAVEPOINT \"sp1\"".into(),
                kind: SqlKind::Other
            }
        );
        assert_eq!(one("SET autocommit=0"), Statement::SetAutocommit(false));
        assert_eq!(
            one("SET @@session.autocommit = ON"),
            Statement::SetAutocommit(true)
        );
        assert_eq!(
            one("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci"),
            Statement::SetNames("utf8mb4".into())
        );
        assert_eq!(
            one("set names 'latin1' collate 'latin1_swedish_ci'"),
            Statement::SetNames("latin1".into())
        );
        assert_eq!(
            one("SET CHARACTER SET big5"),
            Statement::SetNames("big5".into())
        );
        assert_eq!(
            one("SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION', @@local.wait_timeout = 5"),
            Statement::SetSession(vec![
                (
                    "sql_mode".into(),
                    Some(SessionValue::Text("NO_ENGINE_SUBSTITUTION".into()))
                ),
                ("wait_timeout".into(), Some(SessionValue::Int(5))),
            ])
        );
        assert_eq!(
            one("SET time_zone = DEFAULT"),
            Statement::SetSession(vec![("time_zone".into(), None)])
        );
        assert!(matches!(
            one("SET @x = 1, @@session.unique_checks = 0"),
            Statement::Sql {
                kind: SqlKind::Discard,
                ..
            }
        ));
        // Globals and expressions are accepted and ignored.
        for sql in [
            "SET GLOBAL max_connections = 10",
            "SET @@global.sql_mode = ''",
            "SET sql_mode = CONCAT(@@sql_mode, ',STRICT_ALL_TABLES')",
        ] {
            assert!(matches!(one(sql), Statement::Ignored { .. }), "{sql}");
        }
        assert!(matches!(
            one("LOCK TABLES t WRITE"),
            Statement::Ignored { .. }
        ));
        assert!(matches!(one("UNLOCK TABLES"), Statement::Ignored { .. }));
    }

    #[test]
    fn databases() {
        assert_eq!(one("USE `wp`"), Statement::Use("wp".into()));
        assert_eq!(
            one("CREATE DATABASE IF NOT EXISTS `wp` DEFAULT CHARACTER SET utf8mb4"),
            Statement::CreateDatabase {
                name: "wp".into(),
                if_not_exists: true
            }
        );
        assert_eq!(
            one("DROP SCHEMA wp"),
            Statement::DropDatabase {
                name: "wp".into(),
                if_exists: false
            }
        );
    }
}
