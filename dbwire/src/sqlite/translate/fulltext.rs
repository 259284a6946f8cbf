//! FULLTEXT indexes as FTS5 tables, and `MATCH ... AGAINST` as queries on them.
//!
//! A FULLTEXT index of table `t` on columns `a, b` is an external-content FTS5 table
//! `t__fts__a__b` (see [`names::fulltext_table_name`]) reading `t` by rowid, kept in step by
//! three triggers (`<fts>__ai`, `__ad`, `__au`). Its tokenizer folds case and diacritics like
//! MySQL's default collations.
//!
//! `MATCH (a, b) AGAINST (q [mode])` becomes MySQL's relevance: a number above 0 for matching
//! rows and 0 otherwise, so it works both as a condition and as a score to sort by:
//!
//! `coalesce((SELECT -bm25(f) FROM f WHERE f MATCH fts_query(q, boolean) AND f.rowid = t.rowid), 0)`
//!
//! `fts_query` (a user function, implemented by [`fts_query`]) turns the MySQL query into
//! FTS5 syntax at run time, so it works with placeholders too.
//!
//! Limits: REPLACE INTO deletes conflicting rows without firing delete triggers (unless
//! `recursive_triggers` is on), leaving stale index entries for them; the backend must drop
//! `<table>__fts__*` tables itself when it drops or renames a table.

use sqlparser::ast::{Expr, SearchModifier, Value};

use super::error::TranslateError;
use super::expr::parse_sqlite_expr;
use super::names::{self, quote_ident, quote_str};

/// An FTS5 query that matches nothing (an empty phrase).
const MATCH_NOTHING: &str = "\"\"";

/// The statements creating the FULLTEXT index of `table` on `columns`: the FTS5 table, its
/// triggers and (for an existing table) a rebuild from the table's rows.
pub(crate) fn create_index(
    table: &str,
    columns: &[String],
    if_not_exists: bool,
    populate: bool,
) -> Vec<String> {
    let fts = names::fulltext_table_name(table, columns);
    let exists = if if_not_exists { "IF NOT EXISTS " } else { "" };
    let quoted: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let column_list = quoted.join(", ");
    let values = |row: &str| -> String {
        let mut values = vec![format!("{row}.rowid")];
        values.extend(quoted.iter().map(|c| format!("{row}.{c}")));
        values.join(", ")
    };
    let (q_fts, q_table) = (quote_ident(&fts), quote_ident(table));
    let insert = format!(
        "INSERT INTO {q_fts} (rowid, {column_list}) VALUES ({})",
        values("new")
    );
    let delete = format!(
        "INSERT INTO {q_fts} ({q_fts}, rowid, {column_list}) VALUES ('delete', {})",
        values("old")
    );
    let trigger = |suffix: &str, event: &str, body: &str| {
        let name = quote_ident(&format!("{fts}__{suffix}"));
        format!("CREATE TRIGGER {exists}{name} AFTER {event} ON {q_table} BEGIN {body}; END")
    };
    let mut statements = vec![
        format!(
            "CREATE VIRTUAL TABLE {exists}{q_fts} USING fts5({column_list}, content={}, \
             tokenize='unicode61 remove_diacritics 2')",
            quote_str(table)
        ),
        trigger("ai", "INSERT", &insert),
        trigger("ad", "DELETE", &delete),
        trigger("au", "UPDATE", &format!("{delete}; {insert}")),
    ];
    if populate {
        statements.push(format!("INSERT INTO {q_fts} ({q_fts}) VALUES ('rebuild')"));
    }
    statements
}

/// The relevance expression for `MATCH (columns) AGAINST (value modifier)` on `table`,
/// referenced in the query as `reference`.
pub(crate) fn match_expression(
    reference: &str,
    table: &str,
    columns: &[String],
    value: &Value,
    modifier: Option<&SearchModifier>,
) -> Result<Expr, TranslateError> {
    let fts = quote_ident(&names::fulltext_table_name(table, columns));
    let boolean = u8::from(matches!(modifier, Some(SearchModifier::InBooleanMode)));
    let query = match value {
        Value::DoubleQuotedString(text) => quote_str(text),
        other => other.to_string(),
    };
    let sql = format!(
        "coalesce((SELECT -bm25({fts}) FROM {fts} WHERE {fts} MATCH fts_query({query}, {boolean}) \
         AND {fts}.rowid = {}.rowid), 0)",
        quote_ident(reference)
    );
    parse_sqlite_expr(&sql)
}

/// A MySQL full-text query as an FTS5 query (the `fts_query` user function).
///
/// Natural language mode (`boolean_mode` false): rows with any of the words. Boolean mode:
/// `+word` is required, `-word` excluded, `word*` a prefix, `"a phrase"` a phrase; without
/// required words, rows with any of the other words; `~ < > ( )` are ignored. Queries
/// without words match nothing.
pub fn fts_query(query: &str, boolean_mode: bool) -> String {
    let terms = if boolean_mode {
        boolean_terms(query)
    } else {
        natural_terms(query)
    };
    let required: Vec<&str> = terms
        .iter()
        .filter(|t| t.kind == Kind::Required)
        .map(|t| t.text.as_str())
        .collect();
    let optional: Vec<&str> = terms
        .iter()
        .filter(|t| t.kind == Kind::Optional)
        .map(|t| t.text.as_str())
        .collect();
    let base = if required.is_empty() {
        optional.join(" OR ")
    } else {
        required.join(" AND ")
    };
    if base.is_empty() {
        return MATCH_NOTHING.to_owned();
    }
    let excluded = terms.iter().filter(|t| t.kind == Kind::Excluded);
    excluded.fold(base, |query, term| format!("({query}) NOT {}", term.text))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Required,
    Optional,
    Excluded,
}

/// One term of a full-text query, already in FTS5 syntax.
#[derive(Debug)]
struct Term {
    kind: Kind,
    text: String,
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c))
        .filter(|w| !w.is_empty())
}

fn phrase(words: &[&str]) -> String {
    format!("\"{}\"", words.join(" "))
}

fn natural_terms(query: &str) -> Vec<Term> {
    words(query)
        .map(|w| Term {
            kind: Kind::Optional,
            text: phrase(&[w]),
        })
        .collect()
}

fn boolean_terms(query: &str) -> Vec<Term> {
    let mut terms = Vec::new();
    let mut rest = query;
    while let Some(start) = rest.find(|c: char| is_word_char(c) || matches!(c, '"' | '+' | '-')) {
        let mut kind = Kind::Optional;
        rest = &rest[start..];
        if let Some(after) = rest.strip_prefix('+') {
            (kind, rest) = (Kind::Required, after);
        } else if let Some(after) = rest.strip_prefix('-') {
            (kind, rest) = (Kind::Excluded, after);
        }
        let (text, after) = boolean_term(rest);
        rest = after;
        terms.extend(text.map(|text| Term { kind, text }));
    }
    terms
}

/// The term at the start of `text` (a phrase, or a word with an optional `*`) and the rest.
fn boolean_term(text: &str) -> (Option<String>, &str) {
    if let Some(inner) = text.strip_prefix('"') {
        let end = inner.find('"').unwrap_or(inner.len());
        let phrase_words: Vec<&str> = words(&inner[..end]).collect();
        let rest = inner.get(end + 1..).unwrap_or("");
        return (
            (!phrase_words.is_empty()).then(|| phrase(&phrase_words)),
            rest,
        );
    }
    let end = text.find(|c: char| !is_word_char(c)).unwrap_or(text.len());
    let (word, rest) = text.split_at(end);
    if word.is_empty() {
        return (None, rest);
    }
    match rest.strip_prefix('*') {
        Some(rest) => (Some(format!("{}*", phrase(&[word]))), rest),
        None => (Some(phrase(&[word])), rest),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn natural_language_queries_match_any_word() {
        assert_eq!(fts_query("hello, world!", false), "\"hello\" OR \"world\"");
        assert_eq!(fts_query("  ", false), MATCH_NOTHING);
        assert_eq!(fts_query("don't", false), "\"don\" OR \"t\"");
    }

    #[test]
    fn boolean_queries() {
        assert_eq!(fts_query("+apple +juice", true), "\"apple\" AND \"juice\"");
        assert_eq!(fts_query("apple banana", true), "\"apple\" OR \"banana\"");
        assert_eq!(
            fts_query("+apple -macintosh", true),
            "(\"apple\") NOT \"macintosh\""
        );
        assert_eq!(
            fts_query("appl* \"some words\"", true),
            "\"appl\"* OR \"some words\""
        );
        assert_eq!(fts_query("-only", true), MATCH_NOTHING);
        assert_eq!(fts_query("+(>apple <pie)", true), "\"apple\" OR \"pie\"");
        assert_eq!(fts_query("\"unterminated", true), "\"unterminated\"");
    }

    #[test]
    fn index_statements() {
        let statements = create_index("posts", &["title".into(), "body".into()], true, false);
        assert_eq!(statements.len(), 4);
        assert!(statements[0].starts_with(
            "CREATE VIRTUAL TABLE IF NOT EXISTS \"posts__fts__body__title\" USING fts5(\"title\", \"body\""
        ));
        assert_eq!(
            statements[1],
            "CREATE TRIGGER IF NOT EXISTS \"posts__fts__body__title__ai\" AFTER INSERT ON \"posts\" \
             BEGIN INSERT INTO \"posts__fts__body__title\" (rowid, \"title\", \"body\") \
             VALUES (new.rowid, new.\"title\", new.\"body\"); END"
        );
        assert_eq!(
            create_index("posts", &["body".into()], false, true).len(),
            5
        );
    }

    #[test]
    fn match_expression_reads_the_fts_table() {
        let value = Value::Placeholder("?1".into());
        let expr = match_expression(
            "p",
            "posts",
            &["body".into()],
            &value,
            Some(&SearchModifier::InBooleanMode),
        )
        .unwrap();
        assert_eq!(
            expr.to_string(),
            "coalesce((SELECT -bm25(\"posts__fts__body\") FROM \"posts__fts__body\" WHERE \
             \"posts__fts__body\" MATCH fts_query(?1, 1) AND \"posts__fts__body\".rowid = \"p\".rowid), 0)"
        );
    }
}
