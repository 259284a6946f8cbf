//! Why a statement could not be translated, and the MySQL error each reason becomes.

use crate::backend::DbError;

/// A statement the translator rejects. Converts into the [`DbError`] MySQL would send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TranslateError {
    /// The text does not parse (ER_PARSE_ERROR, 1064).
    #[error(
        "You have an error in your SQL syntax; check the manual that corresponds to your \
         MySQL server version for the right syntax to use near '{near}' at line {line}"
    )]
    Syntax {
        /// The statement text from the point where parsing failed.
        near: String,
        /// 1-based line of that point.
        line: u64,
    },
    /// Nothing but whitespace and comments (ER_EMPTY_QUERY, 1065).
    #[error("Query was empty")]
    EmptyQuery,
    /// Valid MySQL the SQLite backend cannot run (ER_NOT_SUPPORTED_YET, 1235).
    #[error("This version of MySQL doesn't yet support '{0}'")]
    Unsupported(String),
    /// An `information_schema` table the translator does not emulate (ER_UNKNOWN_TABLE, 1109).
    #[error("Unknown table '{0}' in information_schema")]
    UnknownSystemTable(String),
    /// `MATCH (...)` whose columns cannot be tied to one table of the query
    /// (ER_FT_MATCHING_KEY_NOT_FOUND, 1191).
    #[error("Can't find FULLTEXT index matching the column list")]
    NoFulltextIndex,
    /// `LOAD DATA` / `LOAD XML`, refused as MariaDB refuses them with `local_infile` off
    /// (ER_NOT_ALLOWED_COMMAND, 1148).
    #[error("The used command is not allowed with this MariaDB version")]
    CommandNotAllowed,
}

impl TranslateError {
    /// A syntax error for a statement that cannot be parsed at all (no position known).
    pub(crate) fn syntax(near: &str) -> TranslateError {
        TranslateError::Syntax {
            near: near_text(near),
            line: 1,
        }
    }

    /// An [`TranslateError::Unsupported`] naming `what`.
    pub(crate) fn unsupported(what: impl Into<String>) -> TranslateError {
        TranslateError::Unsupported(what.into())
    }

    fn code_and_state(&self) -> (u16, &'static str) {
        match self {
            TranslateError::Syntax { .. } => (1064, "42000"),
            TranslateError::EmptyQuery => (1065, "42000"),
            TranslateError::Unsupported(_) => (1235, "42000"),
            TranslateError::UnknownSystemTable(_) => (1109, "42S02"),
            TranslateError::NoFulltextIndex => (1191, "HY000"),
            TranslateError::CommandNotAllowed => (1148, "42000"),
        }
    }
}

/// At most the first 80 characters of `text`, the way MySQL quotes the rest of a statement in
/// syntax errors.
pub(crate) fn near_text(text: &str) -> String {
    text.trim().chars().take(80).collect()
}

impl From<TranslateError> for DbError {
    fn from(error: TranslateError) -> DbError {
        let (code, state) = error.code_and_state();
        DbError::new(code, state, error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_carry_mysql_codes() {
        let syntax = DbError::from(TranslateError::Syntax {
            near: "FROM".into(),
            line: 2,
        });
        assert_eq!((syntax.code, &syntax.sql_state), (1064, b"42000"));
        assert!(syntax.message.ends_with("near 'FROM' at line 2"));
        let empty = DbError::from(TranslateError::EmptyQuery);
        assert_eq!(
            (empty.code, empty.message.as_str()),
            (1065, "Query was empty")
        );
        let info = DbError::from(TranslateError::UnknownSystemTable("ROUTINES".into()));
        assert_eq!((info.code, &info.sql_state), (1109, b"42S02"));
        let load = DbError::from(TranslateError::CommandNotAllowed);
        assert_eq!(load.code, 1148);
    }

    #[test]
    fn near_text_is_trimmed_and_bounded() {
        assert_eq!(near_text("  x y "), "x y");
        assert_eq!(near_text(&"a".repeat(200)).len(), 80);
    }
}
