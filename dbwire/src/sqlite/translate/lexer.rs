//! The token level: one COM_QUERY split into statements, `?` placeholders numbered, and the
//! few token edits that let sqlparser read documented MySQL forms it does not know.
//!
//! Placeholders become `?1`, `?2`, ... in order of appearance, so translations may reorder
//! them (`LIMIT ?, ?` becomes `LIMIT ?2 OFFSET ?1`) or move them between statements of a
//! script while MySQL's positional binding still holds: parameter `n` binds to `?n`.

use sqlparser::ast::Statement as Parsed;
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Span, Token, TokenWithSpan, Tokenizer, Whitespace};

use super::error::{near_text, TranslateError};

/// How deep sqlparser may recurse (nested expressions, subqueries) before refusing.
const RECURSION_LIMIT: usize = 64;

/// The tokens of one statement of a query, with the query text they came from.
pub(crate) struct StatementTokens<'a> {
    source: &'a SourceText<'a>,
    tokens: Vec<TokenWithSpan>,
    /// `CREATE FULLTEXT INDEX`: the FULLTEXT keyword was removed so sqlparser can read it.
    pub fulltext_index: bool,
    /// `UPDATE IGNORE` / `DELETE IGNORE`: the modifier was removed (sqlparser reads
    /// `UPDATE IGNORE t` as table `IGNORE` aliased `t`), as were LOW_PRIORITY and QUICK.
    pub ignore_modifier: bool,
}

/// Query text with an index of line starts, to turn token locations into byte offsets.
pub(crate) struct SourceText<'a> {
    text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> SourceText<'a> {
    /// Indexes `text`.
    pub fn new(text: &'a str) -> SourceText<'a> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(at, _)| at + 1))
            .collect();
        SourceText { text, line_starts }
    }

    /// Byte offset of `location` (1-based line, 1-based character column).
    fn offset(&self, location: Location) -> usize {
        let line = usize::try_from(location.line).unwrap_or(usize::MAX);
        let Some(&start) = line.checked_sub(1).and_then(|l| self.line_starts.get(l)) else {
            return self.text.len();
        };
        let column = usize::try_from(location.column)
            .unwrap_or(usize::MAX)
            .saturating_sub(1);
        self.text[start..]
            .char_indices()
            .nth(column)
            .map_or(self.text.len(), |(at, _)| start + at)
    }

    /// Splits the text into statements at top-level semicolons. Statements with nothing but
    /// whitespace and comments are dropped.
    pub fn statements(&'a self) -> Result<Vec<StatementTokens<'a>>, TranslateError> {
        let tokens = Tokenizer::new(&MySqlDialect {}, self.text)
            .tokenize_with_location()
            .map_err(|error| TranslateError::Syntax {
                near: near_text(&self.text[self.offset(error.location)..]),
                line: error.location.line,
            })?;
        let mut statements = Vec::new();
        for chunk in tokens.split(|t| t.token == Token::SemiColon) {
            if chunk.iter().any(|t| is_significant(&t.token)) {
                statements.push(StatementTokens::new(self, chunk.to_vec()));
            }
        }
        Ok(statements)
    }
}

impl<'a> StatementTokens<'a> {
    fn new(source: &'a SourceText<'a>, mut tokens: Vec<TokenWithSpan>) -> StatementTokens<'a> {
        number_placeholders(&mut tokens);
        remove_sequence(&mut tokens, &["LOCK", "IN", "SHARE", "MODE"]);
        let fulltext_index = starts_with(&tokens, &["CREATE", "FULLTEXT", "INDEX"]);
        if fulltext_index {
            remove_sequence(&mut tokens, &["FULLTEXT"]);
        }
        let mut ignore_modifier = false;
        if starts_with(&tokens, &["UPDATE"]) || starts_with(&tokens, &["DELETE"]) {
            let removed = remove_modifiers(&mut tokens, &["LOW_PRIORITY", "QUICK", "IGNORE"]);
            ignore_modifier = removed.iter().any(|m| m == "IGNORE");
        }
        StatementTokens {
            source,
            tokens,
            fulltext_index,
            ignore_modifier,
        }
    }

    /// The tokens that are not whitespace or comments.
    pub fn significant(&self) -> Vec<&Token> {
        self.tokens
            .iter()
            .map(|t| &t.token)
            .filter(|t| is_significant(t))
            .collect()
    }

    /// True when the statement starts with the keywords `words` (case-insensitive).
    pub fn starts_with(&self, words: &[&str]) -> bool {
        starts_with(&self.tokens, words)
    }

    /// The same statement with its first keyword replaced by `keyword` (`DO x` read as
    /// `SELECT x`).
    pub fn with_first_keyword(&self, keyword: &str) -> StatementTokens<'a> {
        let mut tokens = self.tokens.clone();
        if let Some(first) = tokens.iter_mut().find(|t| is_significant(&t.token)) {
            first.token = Token::make_keyword(keyword);
        }
        StatementTokens {
            source: self.source,
            tokens,
            fulltext_index: self.fulltext_index,
            ignore_modifier: self.ignore_modifier,
        }
    }

    /// Parses the statement with sqlparser's MySQL dialect.
    pub fn parse(&self) -> Result<Parsed, TranslateError> {
        let dialect = MySqlDialect {};
        let mut parser = Parser::new(&dialect)
            .with_recursion_limit(RECURSION_LIMIT)
            .with_tokens_with_locations(self.tokens.clone());
        let parsed = parser.parse_statement();
        let at = parser.peek_token().span.start;
        match parsed {
            Ok(statement) if parser.peek_token().token == Token::EOF => Ok(statement),
            _ => Err(self.syntax_error_at(at)),
        }
    }

    fn syntax_error_at(&self, at: Location) -> TranslateError {
        let end = self
            .tokens
            .last()
            .map_or(self.source.text.len(), |t| self.source.offset(t.span.end));
        let start = if at.line == 0 {
            end
        } else {
            self.source.offset(at).min(end)
        };
        let line = if at.line == 0 { 1 } else { at.line };
        TranslateError::Syntax {
            near: near_text(&self.source.text[start..end]),
            line,
        }
    }
}

/// An unquoted word token's text, uppercased.
pub(crate) fn keyword(token: &Token) -> Option<String> {
    match token {
        Token::Word(word) if word.quote_style.is_none() => Some(word.value.to_ascii_uppercase()),
        _ => None,
    }
}

/// A word token's text as written (quoted or not).
pub(crate) fn word(token: &Token) -> Option<&str> {
    match token {
        Token::Word(word) => Some(&word.value),
        _ => None,
    }
}

fn is_significant(token: &Token) -> bool {
    !matches!(token, Token::Whitespace(_) | Token::EOF)
}

fn is_keyword(token: &Token, expected: &str) -> bool {
    keyword(token).is_some_and(|k| k == expected)
}

fn starts_with(tokens: &[TokenWithSpan], words: &[&str]) -> bool {
    let mut significant = tokens.iter().filter(|t| is_significant(&t.token));
    words
        .iter()
        .all(|w| significant.next().is_some_and(|t| is_keyword(&t.token, w)))
}

fn number_placeholders(tokens: &mut [TokenWithSpan]) {
    let mut next = 1;
    for token in tokens {
        if let Token::Placeholder(text) = &mut token.token {
            if text == "?" {
                *text = format!("?{next}");
                next += 1;
            }
        }
    }
}

/// Removes every run of significant tokens spelling `words` (whitespace between them goes too).
fn remove_sequence(tokens: &mut Vec<TokenWithSpan>, words: &[&str]) {
    let mut index = 0;
    while index < tokens.len() {
        match match_sequence(&tokens[index..], words) {
            Some(length) => {
                tokens.drain(index..index + length);
                tokens.insert(index, space_at(&tokens[index.saturating_sub(1)..]));
            }
            None => index += 1,
        }
    }
}

/// Removes the keywords of `modifiers` that directly follow the first keyword; returns them.
fn remove_modifiers(tokens: &mut Vec<TokenWithSpan>, modifiers: &[&str]) -> Vec<String> {
    let mut removed = Vec::new();
    let Some(first) = tokens.iter().position(|t| is_significant(&t.token)) else {
        return removed;
    };
    let mut index = first + 1;
    while index < tokens.len() {
        let token = &tokens[index].token;
        match keyword(token) {
            _ if !is_significant(token) => index += 1,
            Some(word) if modifiers.contains(&word.as_str()) => {
                tokens.remove(index);
                removed.push(word);
            }
            _ => break,
        }
    }
    removed
}

/// Length (in tokens, whitespace included) of `words` at the start of `tokens`.
fn match_sequence(tokens: &[TokenWithSpan], words: &[&str]) -> Option<usize> {
    let mut length = 0;
    for (position, expected) in words.iter().enumerate() {
        if position > 0 {
            length += tokens[length..]
                .iter()
                .take_while(|t| !is_significant(&t.token))
                .count();
        }
        if !is_keyword(&tokens.get(length)?.token, expected) {
            return None;
        }
        length += 1;
    }
    Some(length)
}

/// A space token (keeps neighbours apart where tokens were removed).
fn space_at(neighbours: &[TokenWithSpan]) -> TokenWithSpan {
    let span = neighbours.first().map_or_else(Span::empty, |t| t.span);
    TokenWithSpan::new(Token::Whitespace(Whitespace::Space), span)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn statements(sql: &str) -> Vec<String> {
        let source = SourceText::new(sql);
        let parsed = source.statements().unwrap();
        parsed
            .iter()
            .map(|s| s.parse().unwrap().to_string())
            .collect()
    }

    #[test]
    fn splits_at_top_level_semicolons_only() {
        assert_eq!(
            statements("SELECT ';' ; SELECT 2;;"),
            ["SELECT ';'", "SELECT 2"]
        );
        assert_eq!(
            statements("/* only a comment */; SELECT 1 -- tail"),
            ["SELECT 1"]
        );
    }

    #[test]
    fn numbers_placeholders_per_statement() {
        assert_eq!(
            statements("SELECT ?, ?; SELECT ?"),
            ["SELECT ?1, ?2", "SELECT ?1"]
        );
    }

    #[test]
    fn strips_lock_in_share_mode() {
        assert_eq!(
            statements("SELECT a FROM t lock in share mode"),
            ["SELECT a FROM t"]
        );
    }

    #[test]
    fn strips_update_and_delete_modifiers() {
        let source = SourceText::new("UPDATE LOW_PRIORITY IGNORE t SET a = 1");
        let parsed = source.statements().unwrap();
        assert!(parsed[0].ignore_modifier);
        assert_eq!(parsed[0].parse().unwrap().to_string(), "UPDATE t SET a = 1");
        assert_eq!(statements("DELETE QUICK FROM t"), ["DELETE FROM t"]);
    }

    #[test]
    fn reads_create_fulltext_index() {
        let source = SourceText::new("CREATE FULLTEXT INDEX ft ON t (a)");
        let parsed = source.statements().unwrap();
        assert!(parsed[0].fulltext_index);
        assert_eq!(
            parsed[0].parse().unwrap().to_string(),
            "CREATE INDEX ft ON t(a)"
        );
    }

    #[test]
    fn syntax_errors_point_at_the_failure() {
        let source = SourceText::new("SELECT 1;\nSELECT * FORM t");
        let parsed = source.statements().unwrap();
        let error = parsed[1].parse().unwrap_err();
        assert_eq!(
            error,
            TranslateError::Syntax {
                near: "FORM t".into(),
                line: 2
            }
        );
    }

    #[test]
    fn tokenizer_errors_are_syntax_errors() {
        let source = SourceText::new("SELECT 'unterminated");
        assert!(matches!(
            source.statements(),
            Err(TranslateError::Syntax { line: 1, .. })
        ));
    }

    #[test]
    fn offsets_count_characters() {
        let source = SourceText::new("é\nxé y");
        assert_eq!(source.offset(Location::new(2, 3)), "é\nxé".len());
        assert_eq!(source.offset(Location::new(9, 1)), source.text.len());
    }
}
