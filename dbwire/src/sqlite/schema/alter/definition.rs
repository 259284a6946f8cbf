//! A stored `CREATE TABLE` statement as a list of column definitions and table constraints,
//! so a rebuild can change columns and keys while keeping every other detail the translator
//! wrote (collations, defaults, CHECKs, AUTOINCREMENT) verbatim.
//!
//! The statement is split lexically: quotes, bracketed identifiers, comments and nested
//! parentheses are respected, so commas inside `DEFAULT 'a,b'` or `DECIMAL(10,2)` do not split
//! items. Table constraints with a column list (PRIMARY KEY, UNIQUE, FOREIGN KEY) keep the
//! list as names, so columns can be renamed or removed in them.

use crate::sqlite::translate::quote_ident;

/// The table's items and what follows the closing parenthesis (`WITHOUT ROWID`, `STRICT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDefinition {
    /// Column definitions and table constraints, in order.
    pub items: Vec<Item>,
    /// Table options after the column list.
    pub options: String,
}

/// One item of the column list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A column definition.
    Column(ColumnItem),
    /// A table constraint.
    Constraint(Constraint),
}

/// A column definition and where its values come from during a rebuild.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnItem {
    /// Column name.
    pub name: String,
    /// The whole definition, name first.
    pub sql: String,
    /// The column of the old table whose values it takes; `None` for a new column.
    pub source: Option<String>,
}

/// A table constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Constraint {
    /// What kind of constraint it is.
    pub kind: ConstraintKind,
    /// `CONSTRAINT name`, if given.
    pub name: Option<String>,
    /// Text before the column list (`PRIMARY KEY`, `CONSTRAINT "x" UNIQUE`).
    pub head: String,
    /// Column names of the list, for constraints that have one.
    pub columns: Vec<String>,
    /// Text after the column list (`REFERENCES ...`, `ON CONFLICT ...`); for constraints
    /// without a column list, the whole text.
    pub tail: String,
}

/// Kinds of table constraints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConstraintKind {
    /// PRIMARY KEY (...).
    PrimaryKey,
    /// UNIQUE (...).
    Unique,
    /// FOREIGN KEY (...) REFERENCES ...
    ForeignKey,
    /// CHECK (...) and anything else, kept verbatim.
    Other,
}

impl TableDefinition {
    /// Splits `create_sql` (from `sqlite_schema`); `None` when it is not a CREATE TABLE with a
    /// column list.
    pub fn parse(create_sql: &str) -> Option<TableDefinition> {
        let (body, options) = column_list(create_sql)?;
        let items = split_top_level(body)
            .into_iter()
            .map(|text| Item::parse(text.trim()))
            .collect();
        Some(TableDefinition {
            items,
            options: options.trim().to_owned(),
        })
    }

    /// The `CREATE TABLE` statement for a table named `name`.
    pub fn to_sql(&self, name: &str) -> String {
        let items: Vec<String> = self.items.iter().map(Item::to_sql).collect();
        let options = if self.options.is_empty() {
            String::new()
        } else {
            format!(" {}", self.options)
        };
        format!(
            "CREATE TABLE {} ({}){options}",
            quote_ident(name),
            items.join(", ")
        )
    }

    /// The column definitions.
    pub fn columns(&self) -> impl Iterator<Item = &ColumnItem> {
        self.items.iter().filter_map(|item| match item {
            Item::Column(column) => Some(column),
            Item::Constraint(_) => None,
        })
    }

    /// The column named `name` (case-insensitively).
    pub fn column_mut(&mut self, name: &str) -> Option<&mut ColumnItem> {
        self.items.iter_mut().find_map(|item| match item {
            Item::Column(column) if column.name.eq_ignore_ascii_case(name) => Some(column),
            _ => None,
        })
    }

    /// The table constraints.
    pub fn constraints(&self) -> impl Iterator<Item = &Constraint> {
        self.items.iter().filter_map(|item| match item {
            Item::Constraint(constraint) => Some(constraint),
            Item::Column(_) => None,
        })
    }

    /// Removes column `name` and drops it from key column lists; keys left without columns go,
    /// and so do foreign keys that used it.
    pub fn remove_column(&mut self, name: &str) {
        let uses = |constraint: &Constraint| {
            constraint
                .columns
                .iter()
                .any(|c| c.eq_ignore_ascii_case(name))
        };
        self.items.retain(|item| match item {
            Item::Column(column) => !column.name.eq_ignore_ascii_case(name),
            Item::Constraint(constraint) => {
                !(constraint.kind == ConstraintKind::ForeignKey && uses(constraint))
            }
        });
        for item in &mut self.items {
            if let Item::Constraint(constraint) = item {
                constraint
                    .columns
                    .retain(|column| !column.eq_ignore_ascii_case(name));
            }
        }
        self.items.retain(|item| match item {
            Item::Constraint(constraint) => {
                constraint.kind == ConstraintKind::Other || !constraint.columns.is_empty()
            }
            Item::Column(_) => true,
        });
    }

    /// Renames column `old` to `new` in constraint column lists.
    pub fn rename_in_constraints(&mut self, old: &str, new: &str) {
        for item in &mut self.items {
            if let Item::Constraint(constraint) = item {
                for column in &mut constraint.columns {
                    if column.eq_ignore_ascii_case(old) {
                        new.clone_into(column);
                    }
                }
            }
        }
    }

    /// Removes every table-level PRIMARY KEY constraint; true when there was one.
    pub fn remove_primary_key_constraint(&mut self) -> bool {
        let before = self.items.len();
        self.items.retain(|item| {
            !matches!(item, Item::Constraint(constraint) if constraint.kind == ConstraintKind::PrimaryKey)
        });
        self.items.len() != before
    }

    /// Appends a table constraint written as SQL.
    pub fn push_constraint(&mut self, sql: &str) {
        self.items.push(Item::parse(sql.trim()));
    }
}

impl Item {
    fn parse(text: &str) -> Item {
        let (first, _) = leading_identifier(text);
        let keyword = first.to_ascii_uppercase();
        if matches!(
            keyword.as_str(),
            "CONSTRAINT" | "PRIMARY" | "UNIQUE" | "CHECK" | "FOREIGN"
        ) {
            return Item::Constraint(Constraint::parse(text));
        }
        Item::Column(ColumnItem {
            name: first.clone(),
            sql: text.to_owned(),
            source: Some(first),
        })
    }

    fn to_sql(&self) -> String {
        match self {
            Item::Column(column) => column.sql.clone(),
            Item::Constraint(constraint) => constraint.to_sql(),
        }
    }
}

impl ColumnItem {
    /// True when the definition declares the column PRIMARY KEY (outside quotes).
    pub fn is_inline_primary_key(&self) -> bool {
        let words = top_level_words(&self.sql);
        words
            .windows(2)
            .any(|pair| pair[0] == "PRIMARY" && pair[1] == "KEY")
    }

    /// Replaces the DEFAULT clause (`None` removes it).
    pub fn set_default(&mut self, default_sql: Option<&str>) {
        let spans = word_spans(&self.sql);
        if let Some(word) = spans.iter().find(|span| span.word == "DEFAULT") {
            let end = expression_end(&self.sql, word.end);
            let end = end + (self.sql.len() - end - self.sql[end..].trim_start().len());
            self.sql.replace_range(word.start..end, "");
            self.sql.truncate(self.sql.trim_end().len());
        }
        if let Some(default_sql) = default_sql {
            self.sql = format!("{} DEFAULT {default_sql}", self.sql.trim_end());
        }
    }

    /// Removes an inline `PRIMARY KEY [ASC|DESC] [ON CONFLICT x] [AUTOINCREMENT]`.
    pub fn remove_primary_key(&mut self) {
        let spans = word_spans(&self.sql);
        let Some(start) = spans
            .windows(2)
            .position(|pair| pair[0].word == "PRIMARY" && pair[1].word == "KEY")
        else {
            return;
        };
        let mut end = start + 1;
        while let Some(next) = spans.get(end + 1) {
            match next.word.as_str() {
                "ASC" | "DESC" | "AUTOINCREMENT" => end += 1,
                "ON" if spans.get(end + 2).is_some_and(|w| w.word == "CONFLICT") => end += 3,
                _ => break,
            }
        }
        let end = spans
            .get(end)
            .map_or(self.sql.len(), |span| span.end)
            .min(self.sql.len());
        let end = end + (self.sql.len() - end - self.sql[end..].trim_start().len());
        self.sql.replace_range(spans[start].start..end, "");
        self.sql.truncate(self.sql.trim_end().len());
    }
}

/// A bare word outside quotes and parentheses, uppercased, with its byte range.
#[derive(Debug)]
struct WordSpan {
    word: String,
    start: usize,
    end: usize,
}

fn word_spans(text: &str) -> Vec<WordSpan> {
    let mut spans: Vec<WordSpan> = Vec::new();
    let mut current: Option<WordSpan> = None;
    scan(text, |index, c, depth| {
        let is_word = depth == 0 && (c.is_ascii_alphanumeric() || c == '_');
        match (&mut current, is_word) {
            (Some(span), true) if span.end == index => {
                span.word.push(c.to_ascii_uppercase());
                span.end = index + c.len_utf8();
            }
            (slot, true) => {
                if let Some(done) = slot.take() {
                    spans.push(done);
                }
                *slot = Some(WordSpan {
                    word: c.to_ascii_uppercase().to_string(),
                    start: index,
                    end: index + 1,
                });
            }
            (slot, false) => {
                if let Some(done) = slot.take() {
                    spans.push(done);
                }
            }
        }
        true
    });
    spans.extend(current);
    spans
}

/// Where the expression starting after byte `from` ends: a parenthesized group, a quoted
/// literal, a number or a single word.
fn expression_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    let offset = rest.len() - rest.trim_start().len();
    let start = from + offset;
    let tail = &text[start..];
    let Some(first) = tail.chars().next() else {
        return start;
    };
    let length = match first {
        '(' => first_parenthesized(tail).map_or(tail.len(), |(before, inside, _)| {
            before.len() + inside.len() + 2
        }),
        '\'' | '"' => quoted_length(tail, first),
        'x' | 'X' if tail[1..].starts_with('\'') => 1 + quoted_length(&tail[1..], '\''),
        _ => tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')))
            .unwrap_or(tail.len()),
    };
    start + length
}

/// Length of the quoted literal at the start of `text` (quote doubled inside).
fn quoted_length(text: &str, quote: char) -> usize {
    let mut chars = text.char_indices().skip(1).peekable();
    while let Some((index, c)) = chars.next() {
        if c == quote {
            if chars.peek().is_some_and(|(_, next)| *next == quote) {
                chars.next();
            } else {
                return index + c.len_utf8();
            }
        }
    }
    text.len()
}

impl Constraint {
    fn parse(text: &str) -> Constraint {
        let mut name = None;
        let (first, mut rest) = leading_identifier(text);
        if first.eq_ignore_ascii_case("CONSTRAINT") {
            let (constraint_name, after) = leading_identifier(rest);
            name = Some(constraint_name);
            rest = after;
        }
        let words = top_level_words(if name.is_some() { rest } else { text });
        let kind = match words.first().map(String::as_str) {
            Some("PRIMARY") => ConstraintKind::PrimaryKey,
            Some("UNIQUE") => ConstraintKind::Unique,
            Some("FOREIGN") => ConstraintKind::ForeignKey,
            _ => ConstraintKind::Other,
        };
        let other = Constraint {
            kind: ConstraintKind::Other,
            name: name.clone(),
            head: String::new(),
            columns: Vec::new(),
            tail: text.to_owned(),
        };
        if kind == ConstraintKind::Other {
            return other;
        }
        let Some((head, list, tail)) = first_parenthesized(text) else {
            return other;
        };
        let columns = split_top_level(list)
            .into_iter()
            .map(|part| leading_identifier(part.trim()).0)
            .filter(|column| !column.is_empty())
            .collect();
        Constraint {
            kind,
            name,
            head: head.trim_end().to_owned(),
            columns,
            tail: tail.trim().to_owned(),
        }
    }

    fn to_sql(&self) -> String {
        if self.kind == ConstraintKind::Other {
            return self.tail.clone();
        }
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|column| quote_ident(column))
            .collect();
        let tail = if self.tail.is_empty() {
            String::new()
        } else {
            format!(" {}", self.tail)
        };
        format!("{} ({}){tail}", self.head, columns.join(", "))
    }
}

/// Lexical state while scanning SQL text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scan {
    Code,
    Quoted(char),
    LineComment,
    BlockComment,
}

/// Walks `text`, calling `visit(index, char, depth)` for every character outside quotes and
/// comments, with the parenthesis depth before the character. Stops when `visit` says so.
fn scan(text: &str, mut visit: impl FnMut(usize, char, usize) -> bool) {
    let mut state = Scan::Code;
    let mut depth = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((index, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        match state {
            Scan::Quoted(close) => {
                if c == close {
                    if next == Some(close) && close != ']' {
                        chars.next();
                    } else {
                        state = Scan::Code;
                    }
                }
            }
            Scan::LineComment => {
                if c == '\n' {
                    state = Scan::Code;
                }
            }
            Scan::BlockComment => {
                if c == '*' && next == Some('/') {
                    chars.next();
                    state = Scan::Code;
                }
            }
            Scan::Code => match c {
                '\'' | '"' | '`' => state = Scan::Quoted(c),
                '[' => state = Scan::Quoted(']'),
                '-' if next == Some('-') => state = Scan::LineComment,
                '/' if next == Some('*') => state = Scan::BlockComment,
                _ => {
                    if !visit(index, c, depth) {
                        return;
                    }
                    match c {
                        '(' => depth += 1,
                        ')' => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                }
            },
        }
    }
}

/// The text between the first top-level `(` and its `)`, and what follows.
fn column_list(sql: &str) -> Option<(&str, &str)> {
    first_parenthesized(sql).map(|(_, body, tail)| (body, tail))
}

/// Splits `text` at its first top-level parenthesized group: (before, inside, after).
fn first_parenthesized(text: &str) -> Option<(&str, &str, &str)> {
    let mut open = None;
    let mut close = None;
    scan(text, |index, c, depth| {
        match (c, depth) {
            ('(', 0) if open.is_none() => open = Some(index),
            (')', 1) if open.is_some() => {
                close = Some(index);
                return false;
            }
            _ => {}
        }
        true
    });
    let (open, close) = (open?, close?);
    Some((&text[..open], &text[open + 1..close], &text[close + 1..]))
}

/// Splits `text` at commas outside quotes, comments and parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    scan(text, |index, c, depth| {
        if c == ',' && depth == 0 {
            parts.push(&text[start..index]);
            start = index + 1;
        }
        true
    });
    parts.push(&text[start..]);
    parts
        .into_iter()
        .filter(|part| !part.trim().is_empty())
        .collect()
}

/// Uppercased bare words outside quotes, comments and parentheses.
fn top_level_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    scan(text, |_, c, depth| {
        if depth == 0 && (c.is_ascii_alphanumeric() || c == '_') {
            current.push(c.to_ascii_uppercase());
        } else if !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        true
    });
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// The identifier at the start of `text` (quoted with `"`, `` ` `` or `[]`, or bare),
/// unquoted, and the rest of the text.
fn leading_identifier(text: &str) -> (String, &str) {
    let text = text.trim_start();
    let mut chars = text.char_indices();
    let Some((_, first)) = chars.next() else {
        return (String::new(), text);
    };
    let close = match first {
        '"' => '"',
        '`' => '`',
        '[' => ']',
        _ => {
            let end = text
                .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(text.len());
            return (text[..end].to_owned(), &text[end..]);
        }
    };
    let mut name = String::new();
    let mut iter = text[first.len_utf8()..].char_indices().peekable();
    while let Some((index, c)) = iter.next() {
        if c == close {
            if close != ']' && iter.peek().is_some_and(|(_, next)| *next == close) {
                name.push(c);
                iter.next();
                continue;
            }
            return (name, &text[first.len_utf8() + index + c.len_utf8()..]);
        }
        name.push(c);
    }
    (name, "")
}

#[cfg(test)]
mod tests {
    use super::*;

    const WP_POSTMETA: &str = "CREATE TABLE \"wp_postmeta\" (\"meta_id\" INTEGER PRIMARY KEY \
        AUTOINCREMENT, \"post_id\" BIGINT UNSIGNED(20) NOT NULL DEFAULT 0, \"meta_key\" \
        VARCHAR(255) DEFAULT NULL COLLATE NOCASE, \"note\" TEXT DEFAULT 'a, (b)' COLLATE NOCASE, \
        \"price\" DECIMAL(10,2), CONSTRAINT \"pk\" UNIQUE (\"post_id\", \"meta_key\"), \
        FOREIGN KEY (\"post_id\") REFERENCES \"wp_posts\" (\"ID\"), CHECK (price >= 0))";

    #[test]
    fn splits_columns_and_constraints() {
        let definition = TableDefinition::parse(WP_POSTMETA).unwrap();
        let names: Vec<&str> = definition.columns().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["meta_id", "post_id", "meta_key", "note", "price"]);
        let kinds: Vec<ConstraintKind> = definition.constraints().map(|c| c.kind).collect();
        assert_eq!(
            kinds,
            [
                ConstraintKind::Unique,
                ConstraintKind::ForeignKey,
                ConstraintKind::Other
            ]
        );
        let unique = definition.constraints().next().unwrap();
        assert_eq!(unique.name.as_deref(), Some("pk"));
        assert_eq!(unique.columns, ["post_id", "meta_key"]);
        assert!(definition.columns().next().unwrap().is_inline_primary_key());
        assert!(!definition.columns().nth(3).unwrap().is_inline_primary_key());
    }

    #[test]
    fn round_trips_and_edits() {
        let mut definition = TableDefinition::parse(WP_POSTMETA).unwrap();
        let again = TableDefinition::parse(&definition.to_sql("wp_postmeta")).unwrap();
        assert_eq!(again, definition);
        definition.rename_in_constraints("meta_key", "key");
        definition.remove_column("post_id");
        let sql = definition.to_sql("copy");
        assert!(
            sql.starts_with("CREATE TABLE \"copy\" (\"meta_id\""),
            "{sql}"
        );
        assert!(sql.contains("CONSTRAINT \"pk\" UNIQUE (\"key\")"), "{sql}");
        assert!(!sql.contains("FOREIGN KEY"), "{sql}");
        assert!(sql.contains("CHECK (price >= 0)"), "{sql}");
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            &definition
                .to_sql("copy")
                .replace("\"meta_key\" VARCHAR", "\"key\" VARCHAR"),
        )
        .unwrap();
    }

    #[test]
    fn options_and_primary_keys() {
        let mut definition = TableDefinition::parse(
            "CREATE TABLE t (a INT, b INT, PRIMARY KEY (a, b)) WITHOUT ROWID",
        )
        .unwrap();
        assert_eq!(definition.options, "WITHOUT ROWID");
        assert!(definition.remove_primary_key_constraint());
        assert!(!definition.remove_primary_key_constraint());
        definition.push_constraint("PRIMARY KEY (\"b\")");
        assert_eq!(
            definition.to_sql("t"),
            "CREATE TABLE \"t\" (a INT, b INT, PRIMARY KEY (\"b\")) WITHOUT ROWID"
        );
        assert_eq!(TableDefinition::parse("CREATE VIEW v AS SELECT 1"), None);
    }

    #[test]
    fn edits_defaults_and_inline_keys() {
        let mut column = ColumnItem {
            name: "a".to_owned(),
            sql: "\"a\" TEXT NOT NULL DEFAULT 'x''y' COLLATE NOCASE".to_owned(),
            source: None,
        };
        column.set_default(Some("'z'"));
        assert_eq!(column.sql, "\"a\" TEXT NOT NULL COLLATE NOCASE DEFAULT 'z'");
        column.set_default(None);
        assert_eq!(column.sql, "\"a\" TEXT NOT NULL COLLATE NOCASE");
        let mut number = ColumnItem {
            name: "n".to_owned(),
            sql: "n INT DEFAULT -1.5 NOT NULL".to_owned(),
            source: None,
        };
        number.set_default(None);
        assert_eq!(number.sql, "n INT NOT NULL");
        let mut expression = ColumnItem {
            name: "t".to_owned(),
            sql: "t TEXT DEFAULT (datetime('now'))".to_owned(),
            source: None,
        };
        expression.set_default(Some("CURRENT_TIMESTAMP"));
        assert_eq!(expression.sql, "t TEXT DEFAULT CURRENT_TIMESTAMP");
        let mut id = ColumnItem {
            name: "id".to_owned(),
            sql: "\"id\" INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL".to_owned(),
            source: None,
        };
        assert!(id.is_inline_primary_key());
        id.remove_primary_key();
        assert_eq!(id.sql, "\"id\" INTEGER NOT NULL");
        assert!(!id.is_inline_primary_key());
    }

    #[test]
    fn identifiers() {
        assert_eq!(
            leading_identifier("\"a\"\"b\" INT"),
            ("a\"b".to_owned(), " INT")
        );
        assert_eq!(leading_identifier("`x` TEXT"), ("x".to_owned(), " TEXT"));
        assert_eq!(
            leading_identifier("[y z] TEXT"),
            ("y z".to_owned(), " TEXT")
        );
        assert_eq!(
            leading_identifier("plain_1 INT"),
            ("plain_1".to_owned(), " INT")
        );
        assert_eq!(
            top_level_words("x INT DEFAULT 'PRIMARY KEY' CHECK (PRIMARY)"),
            ["X", "INT", "DEFAULT", "CHECK"]
        );
    }
}
