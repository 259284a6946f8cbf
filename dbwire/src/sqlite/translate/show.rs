//! SHOW statements and DESCRIBE, as [`Show`] requests the backend answers.
//!
//! sqlparser reads SHOW TABLES/COLUMNS/VARIABLES/STATUS/CREATE/DATABASES/COLLATION/CHARACTER
//! SET/PROCESSLIST; the SHOW forms it reads only loosely (dropping their LIKE pattern) or not
//! at all (INDEX, TABLE STATUS, WARNINGS, ERRORS, ENGINES, GRANTS, CREATE DATABASE) are read
//! from their tokens. `WHERE` filters are ignored: the backend answers unfiltered.

use sqlparser::ast::{
    ShowCreateObject, ShowStatementFilter, ShowStatementFilterPosition, ShowStatementOptions,
    Statement as Parsed,
};
use sqlparser::tokenizer::Token;

use super::error::TranslateError;
use super::lexer::{keyword, word, StatementTokens};
use super::names::last_part;
use super::Show;

/// The SHOW forms read from tokens (see the module documentation).
pub(crate) fn from_tokens(tokens: &StatementTokens<'_>) -> Option<Show> {
    if !tokens.starts_with(&["SHOW"]) {
        return None;
    }
    let significant = tokens.significant();
    let rest = &significant[1..];
    let words: Vec<String> = rest
        .iter()
        .map(|t| keyword(t).unwrap_or_default())
        .collect();
    let word_at = |index: usize| words.get(index).map(String::as_str);
    let show = match (word_at(0)?, word_at(1)) {
        ("INDEX" | "INDEXES" | "KEYS", _) => Show::Index {
            table: table_after_from(&rest[1..])?,
        },
        ("TABLE", Some("STATUS")) => Show::TableStatus {
            like: like_pattern(rest),
        },
        ("WARNINGS", _) => Show::Warnings,
        ("ERRORS", _) => Show::Errors,
        ("COUNT", _) if words.iter().any(|w| w == "WARNINGS") => Show::Warnings,
        ("COUNT", _) if words.iter().any(|w| w == "ERRORS") => Show::Errors,
        ("ENGINES", _) | ("STORAGE", Some("ENGINES")) => Show::Engines,
        ("GRANTS", _) => Show::Grants,
        ("CREATE", Some("DATABASE" | "SCHEMA")) => {
            let name = rest.iter().skip(2).filter_map(|t| word(t)).next_back()?;
            Show::CreateDatabase {
                name: name.to_owned(),
            }
        }
        _ => return None,
    };
    Some(show)
}

/// The table named after `FROM`/`IN` (`db.t` is `t`).
fn table_after_from(tokens: &[&Token]) -> Option<String> {
    let (first, rest) = tokens.split_first()?;
    if !matches!(keyword(first).as_deref(), Some("FROM" | "IN")) {
        return None;
    }
    let mut name = word(rest.first()?)?;
    if let [_, Token::Period, Token::Word(table), ..] = rest {
        name = &table.value;
    }
    Some(name.to_owned())
}

/// The string after `LIKE`, if any.
fn like_pattern(tokens: &[&Token]) -> Option<String> {
    let at = tokens
        .iter()
        .position(|t| keyword(t).as_deref() == Some("LIKE"))?;
    match tokens.get(at + 1)? {
        Token::SingleQuotedString(text) | Token::DoubleQuotedString(text) => Some(text.clone()),
        _ => None,
    }
}

/// The [`Show`] for a parsed SHOW or DESCRIBE; `None` for other statements.
pub(crate) fn translate(statement: &Parsed) -> Option<Result<Show, TranslateError>> {
    let show = match statement {
        Parsed::ShowTables {
            full, show_options, ..
        } => Show::Tables {
            like: options_like(show_options),
            full: *full,
        },
        Parsed::ShowColumns {
            full, show_options, ..
        } => match options_table(show_options) {
            Some(table) => Show::Columns {
                table,
                full: *full,
                like: options_like(show_options),
            },
            None => return Some(Err(TranslateError::syntax("SHOW COLUMNS"))),
        },
        Parsed::ExplainTable { table_name, .. } => Show::Columns {
            table: last_part(table_name),
            full: false,
            like: None,
        },
        Parsed::ShowVariables { filter, .. } => Show::Variables {
            like: filter_like(filter.as_ref()),
        },
        Parsed::ShowStatus { filter, .. } => Show::Status {
            like: filter_like(filter.as_ref()),
        },
        Parsed::ShowCreate {
            obj_type: ShowCreateObject::Table | ShowCreateObject::View,
            obj_name,
        } => Show::CreateTable {
            table: last_part(obj_name),
        },
        Parsed::ShowDatabases { .. } | Parsed::ShowSchemas { .. } => Show::Databases,
        Parsed::ShowCollation { .. } => Show::Collation,
        Parsed::ShowCharset(_) => Show::CharacterSet,
        Parsed::ShowProcessList { .. } => Show::ProcessList,
        Parsed::ShowVariable { .. } | Parsed::ShowCreate { .. } => {
            return Some(Err(TranslateError::unsupported(statement.to_string())));
        }
        _ => return None,
    };
    Some(Ok(show))
}

fn options_like(options: &ShowStatementOptions) -> Option<String> {
    match &options.filter_position {
        Some(
            ShowStatementFilterPosition::Infix(filter)
            | ShowStatementFilterPosition::Suffix(filter),
        ) => filter_like(Some(filter)),
        None => None,
    }
}

fn filter_like(filter: Option<&ShowStatementFilter>) -> Option<String> {
    match filter? {
        ShowStatementFilter::Like(pattern)
        | ShowStatementFilter::ILike(pattern)
        | ShowStatementFilter::NoKeyword(pattern) => Some(pattern.clone()),
        ShowStatementFilter::Where(_) => None,
    }
}

fn options_table(options: &ShowStatementOptions) -> Option<String> {
    options
        .show_in
        .as_ref()?
        .parent_name
        .as_ref()
        .map(last_part)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::translate::{translate as translate_text, Statement};

    fn show(sql: &str) -> Show {
        match translate_text(sql).unwrap().remove(0) {
            Statement::Show(show) => show,
            other => panic!("{sql}: {other:?}"),
        }
    }

    #[test]
    fn parsed_forms() {
        assert_eq!(
            show("SHOW TABLES LIKE 'wp\\_%'"),
            Show::Tables {
                like: Some("wp\\_%".into()),
                full: false
            }
        );
        assert_eq!(
            show("SHOW FULL TABLES WHERE Table_type = 'BASE TABLE'"),
            Show::Tables {
                like: None,
                full: true
            }
        );
        assert_eq!(
            show("SHOW FULL COLUMNS FROM `wp_posts` LIKE 'post_%'"),
            Show::Columns {
                table: "wp_posts".into(),
                full: true,
                like: Some("post_%".into())
            }
        );
        assert_eq!(
            show("DESCRIBE wp_posts"),
            Show::Columns {
                table: "wp_posts".into(),
                full: false,
                like: None
            }
        );
        assert_eq!(
            show("DESC `t`"),
            Show::Columns {
                table: "t".into(),
                full: false,
                like: None
            }
        );
        assert_eq!(
            show("SHOW CREATE TABLE db.t"),
            Show::CreateTable { table: "t".into() }
        );
        assert_eq!(
            show("SHOW VARIABLES LIKE 'max_allowed_packet'"),
            Show::Variables {
                like: Some("max_allowed_packet".into())
            }
        );
        assert_eq!(show("SHOW SESSION STATUS"), Show::Status { like: None });
        assert_eq!(show("SHOW DATABASES"), Show::Databases);
        assert_eq!(show("SHOW COLLATION"), Show::Collation);
        assert_eq!(show("SHOW CHARACTER SET"), Show::CharacterSet);
        assert_eq!(show("SHOW FULL PROCESSLIST"), Show::ProcessList);
    }

    #[test]
    fn token_forms() {
        assert_eq!(
            show("SHOW INDEX FROM `wp_posts`"),
            Show::Index {
                table: "wp_posts".into()
            }
        );
        assert_eq!(show("SHOW KEYS IN db.t"), Show::Index { table: "t".into() });
        assert_eq!(
            show("SHOW INDEXES FROM t FROM db;"),
            Show::Index { table: "t".into() }
        );
        assert_eq!(
            show("SHOW TABLE STATUS LIKE 'wp_posts'"),
            Show::TableStatus {
                like: Some("wp_posts".into())
            }
        );
        assert_eq!(show("SHOW TABLE STATUS"), Show::TableStatus { like: None });
        assert_eq!(show("SHOW WARNINGS"), Show::Warnings);
        assert_eq!(show("SHOW COUNT(*) ERRORS"), Show::Errors);
        assert_eq!(show("SHOW STORAGE ENGINES"), Show::Engines);
        assert_eq!(show("SHOW GRANTS FOR CURRENT_USER()"), Show::Grants);
        assert_eq!(
            show("SHOW CREATE DATABASE `wp`"),
            Show::CreateDatabase { name: "wp".into() }
        );
    }
}
