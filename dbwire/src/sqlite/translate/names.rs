//! How translated SQL spells identifiers and literals, and the names of the SQLite objects the
//! translator creates besides tables (indexes, triggers, FULLTEXT shadow tables).

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

/// Separates a table name from the object name in per-table SQLite objects.
const SEPARATOR: &str = "__";

/// Marks FULLTEXT shadow tables: `<table>__fts__<column>[__<column>...]`.
const FULLTEXT_MARKER: &str = "__fts__";

/// Marks `ON UPDATE CURRENT_TIMESTAMP` triggers: `<table>__on_update__<column>`.
const ON_UPDATE_MARKER: &str = "__on_update__";

/// Prefix of tables the translator uses for its own bookkeeping.
pub(crate) const SCRATCH_PREFIX: &str = "_ephpm_";

/// `name` as a double-quoted SQLite identifier.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as a single-quoted SQL string literal.
pub fn quote_str(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The SQLite name of MySQL index `index` on `table`. MySQL index names are per table, SQLite's
/// are per database, so they are prefixed: `wp_posts__post_name`.
pub fn index_name(table: &str, index: &str) -> String {
    format!("{table}{SEPARATOR}{index}")
}

/// The MySQL name of SQLite index `sqlite_index` of `table` (the inverse of [`index_name`]);
/// `None` when the index does not follow the naming scheme.
pub fn mysql_index_name<'a>(table: &str, sqlite_index: &'a str) -> Option<&'a str> {
    let rest = sqlite_index.strip_prefix(table)?;
    rest.strip_prefix(SEPARATOR).filter(|name| !name.is_empty())
}

/// The FTS5 table backing a FULLTEXT index of `table` on `columns`. It is named after the
/// columns (lowercased, sorted) rather than the index, because `MATCH (columns)` must find it
/// without knowing the schema.
pub fn fulltext_table_name(table: &str, columns: &[String]) -> String {
    let mut columns: Vec<String> = columns.iter().map(|c| c.to_lowercase()).collect();
    columns.sort();
    format!("{table}{FULLTEXT_MARKER}{}", columns.join(SEPARATOR))
}

/// The trigger emulating `ON UPDATE CURRENT_TIMESTAMP` for `column` of `table`.
pub fn on_update_trigger_name(table: &str, column: &str) -> String {
    format!("{table}{ON_UPDATE_MARKER}{column}")
}

/// True for tables MySQL clients must not see: SQLite's own tables, FULLTEXT shadow tables
/// (and FTS5's tables behind them) and the translator's scratch tables.
pub fn is_internal_table(name: &str) -> bool {
    name.starts_with("sqlite_")
        || name.contains(FULLTEXT_MARKER)
        || name.starts_with(SCRATCH_PREFIX)
}

/// The SQL condition (over a column holding table names) that keeps only tables MySQL
/// clients may see; the SQL twin of [`is_internal_table`].
pub(crate) fn visible_table_condition(column: &str) -> String {
    format!(
        "{column} NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND {column} NOT LIKE '%\\_\\_fts\\_\\_%' \
         ESCAPE '\\' AND {column} NOT LIKE '\\_ephpm\\_%' ESCAPE '\\'"
    )
}

/// The unquoted last part of `name` (`db.t` is `t`: one SQLite file holds one schema).
pub(crate) fn last_part(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(ident)) => ident.value.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    }
}

/// An identifier the translator writes: always double-quoted.
pub(crate) fn ident(name: &str) -> Ident {
    Ident::with_quote('"', name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_str("it's"), "'it''s'");
    }

    #[test]
    fn index_names_round_trip() {
        let name = index_name("wp_posts", "type_status_date");
        assert_eq!(name, "wp_posts__type_status_date");
        assert_eq!(
            mysql_index_name("wp_posts", &name),
            Some("type_status_date")
        );
        assert_eq!(
            mysql_index_name("wp_posts", "sqlite_autoindex_wp_posts_1"),
            None
        );
        assert_eq!(mysql_index_name("wp_posts", "wp_posts__"), None);
    }

    #[test]
    fn fulltext_names_ignore_column_order_and_case() {
        let a = fulltext_table_name("t", &["Title".into(), "body".into()]);
        let b = fulltext_table_name("t", &["body".into(), "title".into()]);
        assert_eq!(a, "t__fts__body__title");
        assert_eq!(a, b);
        assert!(is_internal_table(&a));
        assert!(is_internal_table(&format!("{a}_data")));
        assert!(is_internal_table("sqlite_sequence"));
        assert!(is_internal_table("_ephpm_delete"));
        assert!(!is_internal_table("wp_posts"));
    }
}
