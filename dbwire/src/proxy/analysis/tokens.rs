//! A single-pass MySQL tokenizer over bytes: no allocation, no parse tree.
//!
//! It follows the lexing rules of `protocol::multi_statement` (quotes with backslash escapes
//! and doubled quotes, backticks without escapes, `#`, `-- ` and `/* */` comments) and adds
//! what the proxy needs to see: words, numbers, variables and operators as separate tokens.
//! Comments are skipped, except executable comments (`/*! ... */`, `/*!50001 ... */`,
//! MariaDB's `/*M! ... */`): their content is tokenized as ordinary SQL, the way the server
//! runs it, and only the markers are dropped. Optimizer hints (`/*+ ... */`) are comments.
//!
//! Every token starts and ends on an ASCII byte or at the end of the text, so its range is
//! always a valid `str` range. Unterminated strings and comments run to the end of the text.

/// What a token is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Kind {
    /// An unquoted keyword or identifier (may start with a digit: `1abc`).
    Word,
    /// A backticked identifier, backticks included.
    Quoted,
    /// A `'single'` or `"double"` quoted string, also `N'...'` and `_charset'...'`.
    String,
    /// A decimal number: `12`, `1.5`, `.5`, `1e5`, `1.5E-3`.
    Number,
    /// A hexadecimal or bit literal: `X'ab'`, `0xab`, `B'01'`, `0b01`.
    Bits,
    /// A user variable: `@x`, `@'x'`, `` @`x` ``.
    UserVariable,
    /// A system variable: `@@x`, `@@session.x`.
    SystemVariable,
    /// A `?` parameter marker.
    Placeholder,
    /// An operator or punctuation (`(`, `,`, `:=`, `<=>`, ...).
    Punct,
    /// A `;` statement separator.
    Semicolon,
}

/// One token: its kind and byte range in the SQL text.
///
/// Twelve bytes without padding: tokens are copied a lot, and copies of padded tokens cost
/// store-forwarding stalls on the hot path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Token {
    /// What the token is.
    pub kind: Kind,
    start: u32,
    end: u32,
}

impl Token {
    /// Byte offset of the first byte.
    pub fn start(&self) -> usize {
        self.start as usize
    }

    /// Byte offset just past the last byte.
    pub fn end(&self) -> usize {
        self.end as usize
    }

    /// The token's text.
    pub fn text<'a>(&self, sql: &'a str) -> &'a str {
        sql.get(self.start()..self.end()).unwrap_or_default()
    }

    /// True for the punctuation token `punct`.
    pub fn is_punct(&self, sql: &str, punct: &str) -> bool {
        self.kind == Kind::Punct && self.text(sql) == punct
    }

    /// True for a literal value: string, number, bit/hex literal or `?`.
    pub fn is_literal(&self) -> bool {
        matches!(
            self.kind,
            Kind::String | Kind::Number | Kind::Bits | Kind::Placeholder
        )
    }
}

/// The tokenizer: a cursor over the SQL text. Cheap to copy, so copies serve as lookahead.
/// It reads at most the first 4 GiB of a text (MySQL packets stop at 1 GiB).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tokens<'a> {
    sql: &'a [u8],
    pos: usize,
    /// Inside `/*! ... */`: the next `*/` closes it.
    executable: bool,
}

/// The longest text read, so that offsets fit a `u32`.
const MAX_TEXT: usize = u32::MAX as usize;

/// Digits an executable comment's version number may have (`/*!50001`, `/*!080034`).
const MAX_VERSION_DIGITS: usize = 6;

impl<'a> Tokens<'a> {
    /// A tokenizer at the start of `sql`.
    pub fn new(sql: &'a str) -> Tokens<'a> {
        let bytes = sql.as_bytes();
        Tokens {
            sql: bytes.get(..MAX_TEXT).unwrap_or(bytes),
            pos: 0,
            executable: false,
        }
    }

    /// The byte offset of the cursor.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// The next token of the current statement: `None` at a `;` (which is left unread) or at
    /// the end of the text.
    pub fn next_in_statement(&mut self) -> Option<Token> {
        let saved = *self;
        let token = self.next()?;
        if token.kind == Kind::Semicolon {
            *self = saved;
            return None;
        }
        Some(token)
    }

    /// The next token, without consuming it.
    pub fn peek(&self) -> Option<Token> {
        let mut copy = *self;
        copy.next()
    }

    /// The next token of the current statement, without consuming it.
    pub fn peek_in_statement(&self) -> Option<Token> {
        let mut copy = *self;
        copy.next_in_statement()
    }

    fn byte(&self, at: usize) -> Option<u8> {
        self.sql.get(at).copied()
    }

    /// Skips whitespace and comments; the byte after them, `None` at the end of the text.
    fn skip_trivia(&mut self) -> Option<u8> {
        while let Some(byte) = self.byte(self.pos) {
            let class = CLASSES[usize::from(byte)];
            if class & SPACE != 0 {
                self.skip_class(SPACE);
                continue;
            }
            if class & COMMENT == 0 {
                return Some(byte);
            }
            let next = self.byte(self.pos + 1);
            match byte {
                b'#' => self.skip_line(),
                b'-' if next == Some(b'-')
                    && self.byte(self.pos + 2).map_or(true, |b| b <= b' ') =>
                {
                    self.skip_line();
                }
                b'/' if next == Some(b'*') => self.skip_comment_start(),
                b'*' if self.executable && next == Some(b'/') => {
                    self.executable = false;
                    self.pos += 2;
                }
                _ => return Some(byte),
            }
        }
        None
    }

    fn skip_line(&mut self) {
        self.pos = match self.rest().iter().position(|&b| b == b'\n') {
            Some(offset) => self.pos + offset + 1,
            None => self.sql.len(),
        };
    }

    /// At `/*`: enters an executable comment or skips an ordinary one.
    fn skip_comment_start(&mut self) {
        let rest = self.sql.get(self.pos + 2..).unwrap_or_default();
        let marker = if rest.starts_with(b"!") {
            1
        } else if rest.starts_with(b"M!") {
            2
        } else {
            0
        };
        if marker > 0 && !self.executable {
            self.executable = true;
            self.pos += 2 + marker;
            let digits = self
                .rest()
                .iter()
                .take(MAX_VERSION_DIGITS)
                .take_while(|b| b.is_ascii_digit())
                .count();
            self.pos += digits;
            return;
        }
        self.pos = match rest.windows(2).position(|w| w == b"*/") {
            Some(offset) => self.pos + 2 + offset + 2,
            None => self.sql.len(),
        };
    }

    /// Reads the token starting at `self.pos` (not trivia).
    fn token(&mut self, byte: u8) -> Kind {
        let next = self.byte(self.pos + 1);
        match byte {
            b'\'' | b'"' => {
                self.skip_quoted(true);
                Kind::String
            }
            b'`' => {
                self.skip_quoted(false);
                Kind::Quoted
            }
            b'0'..=b'9' => self.number_or_word(),
            b'.' if next.is_some_and(|b| b.is_ascii_digit()) && !self.follows_name() => {
                self.number_or_word()
            }
            b'@' => self.variable(),
            b'?' => {
                self.pos += 1;
                Kind::Placeholder
            }
            b';' => {
                self.pos += 1;
                Kind::Semicolon
            }
            _ if is_word_byte(byte) => self.word(),
            _ => {
                self.operator();
                Kind::Punct
            }
        }
    }

    /// True when the byte before the current one ends a name (`t.5col` is a qualified name).
    fn follows_name(&self) -> bool {
        self.pos
            .checked_sub(1)
            .and_then(|at| self.byte(at))
            .is_some_and(|b| is_word_byte(b) || b == b'`')
    }

    /// At an opening quote: moves past the closing one. `''` inside is an escaped quote, and
    /// so is `\'` when `backslash` escapes are on.
    fn skip_quoted(&mut self, backslash: bool) {
        let Some(quote) = self.byte(self.pos) else {
            return;
        };
        let mut at = self.pos + 1;
        while let Some(byte) = self.byte(at) {
            let escaped = backslash && byte == b'\\';
            if escaped || (byte == quote && self.byte(at + 1) == Some(quote)) {
                at += 2;
            } else if byte == quote {
                self.pos = at + 1;
                return;
            } else {
                at += 1;
            }
        }
        self.pos = self.sql.len();
    }

    fn number_or_word(&mut self) -> Kind {
        let start = self.pos;
        if let Some(kind) = self.prefixed_number() {
            return kind;
        }
        self.skip_digits();
        if self.byte(self.pos) == Some(b'.') {
            self.pos += 1;
            self.skip_digits();
        }
        self.skip_exponent();
        if self.byte(self.pos).is_some_and(is_word_byte) {
            // `1abc` is a name; `.1abc` is a dot and then the name `1abc`.
            self.pos = start;
            if self.byte(start) == Some(b'.') {
                self.pos += 1;
                return Kind::Punct;
            }
            return self.word();
        }
        Kind::Number
    }

    /// `0x1F` or `0b101`, not followed by more name bytes (`0xg` is a name).
    fn prefixed_number(&mut self) -> Option<Kind> {
        let radix = match (self.byte(self.pos), self.byte(self.pos + 1)) {
            (Some(b'0'), Some(b'x' | b'X')) => 16,
            (Some(b'0'), Some(b'b' | b'B')) => 2,
            _ => return None,
        };
        let digits = self
            .sql
            .get(self.pos + 2..)
            .unwrap_or_default()
            .iter()
            .take_while(|&&b| char::from(b).is_digit(radix))
            .count();
        let end = self.pos + 2 + digits;
        if digits == 0 || self.byte(end).is_some_and(is_word_byte) {
            return None;
        }
        self.pos = end;
        Some(Kind::Bits)
    }

    fn skip_digits(&mut self) {
        self.skip_class(DIGIT);
    }

    /// `e5`, `E-3`, `e+10` after a number; nothing when no digit follows.
    fn skip_exponent(&mut self) {
        if !matches!(self.byte(self.pos), Some(b'e' | b'E')) {
            return;
        }
        let sign = usize::from(matches!(self.byte(self.pos + 1), Some(b'+' | b'-')));
        if self
            .byte(self.pos + 1 + sign)
            .is_some_and(|b| b.is_ascii_digit())
        {
            self.pos += 1 + sign;
            self.skip_digits();
        }
    }

    /// A name, or a prefixed string: `X'..'`, `B'..'`, `N'..'`, `_utf8mb4'..'`.
    fn word(&mut self) -> Kind {
        let start = self.pos;
        self.skip_class(WORD);
        if self.byte(self.pos) != Some(b'\'') && self.byte(self.pos) != Some(b'"') {
            return Kind::Word;
        }
        let word = self.sql.get(start..self.pos).unwrap_or_default();
        let quote_is_single = self.byte(self.pos) == Some(b'\'');
        let kind = match word {
            [b'x' | b'X' | b'b' | b'B'] if quote_is_single => Kind::Bits,
            [b'n' | b'N'] if quote_is_single => Kind::String,
            [b'_', ..] => Kind::String,
            _ => return Kind::Word,
        };
        self.skip_quoted(kind == Kind::String);
        kind
    }

    /// At `@`: a user or system variable, or a lone `@` operator.
    fn variable(&mut self) -> Kind {
        if self.byte(self.pos + 1) == Some(b'@') {
            self.pos += 2;
            self.skip_variable_name();
            return Kind::SystemVariable;
        }
        self.pos += 1;
        match self.byte(self.pos) {
            Some(b'\'' | b'"') => self.skip_quoted(true),
            Some(b'`') => self.skip_quoted(false),
            Some(byte) if is_word_byte(byte) || byte == b'.' => self.skip_variable_name(),
            _ => return Kind::Punct,
        }
        Kind::UserVariable
    }

    fn skip_variable_name(&mut self) {
        self.skip_class(WORD | DOT);
    }

    fn operator(&mut self) {
        self.pos += operator_len(self.rest());
    }

    /// The text from the cursor on.
    fn rest(&self) -> &'a [u8] {
        self.sql.get(self.pos..).unwrap_or_default()
    }

    /// Moves past the bytes of class `mask`.
    fn skip_class(&mut self, mask: u8) {
        let rest = self.rest();
        self.pos += rest
            .iter()
            .position(|&b| CLASSES[usize::from(b)] & mask == 0)
            .unwrap_or(rest.len());
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    /// Inlined: a token returned through memory and read back at once cost a
    /// store-forwarding stall per token.
    #[inline(always)]
    fn next(&mut self) -> Option<Token> {
        let byte = self.skip_trivia()?;
        let start = self.pos;
        let kind = self.token(byte);
        // Every token consumes at least one byte, so no input can stall the scan.
        debug_assert!(self.pos > start, "empty token at byte {start}");
        self.pos = self.pos.max(start + 1).min(self.sql.len());
        Some(Token {
            kind,
            start: offset(start),
            end: offset(self.pos),
        })
    }
}

/// `pos` as a token offset (texts are at most [`MAX_TEXT`] long, so it always fits).
fn offset(pos: usize) -> u32 {
    u32::try_from(pos).unwrap_or(u32::MAX)
}

/// Operators of more than one byte are one token.
fn operator_len(rest: &[u8]) -> usize {
    match rest {
        [b'<', b'=', b'>', ..] | [b'-', b'>', b'>', ..] => 3,
        [b'<', b'=' | b'>' | b'<', ..]
        | [b'>', b'=' | b'>', ..]
        | [b'!' | b':', b'=', ..]
        | [b'|', b'|', ..]
        | [b'&', b'&', ..]
        | [b'-', b'>', ..] => 2,
        _ => 1,
    }
}

/// Byte class: a byte of an unquoted name (ASCII letters, digits, `_`, `$`, any non-ASCII).
const WORD: u8 = 1;
/// Byte class: MySQL whitespace (ASCII whitespace and vertical tab).
const SPACE: u8 = 2;
/// Byte class: an ASCII digit.
const DIGIT: u8 = 4;
/// Byte class: `.` (in variable names).
const DOT: u8 = 8;
/// Byte class: may start a comment or end an executable one (`#`, `-`, `/`, `*`).
const COMMENT: u8 = 16;

static CLASSES: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut classes = [0_u8; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80 {
            classes[byte] |= WORD;
        }
        if b.is_ascii_whitespace() || b == 0x0b {
            classes[byte] |= SPACE;
        }
        if b.is_ascii_digit() {
            classes[byte] |= DIGIT;
        }
        if b == b'.' {
            classes[byte] |= DOT;
        }
        if matches!(b, b'#' | b'-' | b'/' | b'*') {
            classes[byte] |= COMMENT;
        }
        byte += 1;
    }
    classes
}

/// A byte of an unquoted name: ASCII letters, digits, `_`, `$`, and any non-ASCII byte.
fn is_word_byte(byte: u8) -> bool {
    CLASSES[usize::from(byte)] & WORD != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(sql: &str) -> Vec<(Kind, &str)> {
        Tokens::new(sql).map(|t| (t.kind, t.text(sql))).collect()
    }

    #[test]
    fn words_numbers_and_operators() {
        use Kind::*;
        assert_eq!(
            kinds("SELECT a.b, 1.5e-3 FROM t1 WHERE x<=>-2 AND y:=.5"),
            [
                (Word, "SELECT"),
                (Word, "a"),
                (Punct, "."),
                (Word, "b"),
                (Punct, ","),
                (Number, "1.5e-3"),
                (Word, "FROM"),
                (Word, "t1"),
                (Word, "WHERE"),
                (Word, "x"),
                (Punct, "<=>"),
                (Punct, "-"),
                (Number, "2"),
                (Word, "AND"),
                (Word, "y"),
                (Punct, ":="),
                (Number, ".5"),
            ]
        );
    }

    #[test]
    fn names_may_start_with_digits() {
        use Kind::*;
        assert_eq!(
            kinds("1abc t.5col 1e5 0x1F 0xg 0b01"),
            [
                (Word, "1abc"),
                (Word, "t"),
                (Punct, "."),
                (Word, "5col"),
                (Number, "1e5"),
                (Bits, "0x1F"),
                (Word, "0xg"),
                (Bits, "0b01"),
            ]
        );
    }

    #[test]
    fn strings_and_escapes() {
        use Kind::*;
        assert_eq!(
            kinds(r#"'it''s' 'a\'b' "q""q" `we``ird` X'ab' b'01' N'n' _utf8mb4'u' x"#),
            [
                (String, "'it''s'"),
                (String, r"'a\'b'"),
                (String, r#""q""q""#),
                (Quoted, "`we``ird`"),
                (Bits, "X'ab'"),
                (Bits, "b'01'"),
                (String, "N'n'"),
                (String, "_utf8mb4'u'"),
                (Word, "x"),
            ]
        );
        assert_eq!(kinds("'open"), [(String, "'open")]);
        assert_eq!(kinds("'ends in \\"), [(String, "'ends in \\")]);
    }

    #[test]
    fn variables() {
        use Kind::*;
        assert_eq!(
            kinds("@x @'y z' @`w` @@session.sql_mode @@x @ 1"),
            [
                (UserVariable, "@x"),
                (UserVariable, "@'y z'"),
                (UserVariable, "@`w`"),
                (SystemVariable, "@@session.sql_mode"),
                (SystemVariable, "@@x"),
                (Punct, "@"),
                (Number, "1"),
            ]
        );
    }

    #[test]
    fn comments_are_skipped() {
        use Kind::*;
        assert_eq!(
            kinds("/* a */ SELECT # b\n 1 -- c\n ;--\n/*+ hint */ 2 /* open"),
            [
                (Word, "SELECT"),
                (Number, "1"),
                (Semicolon, ";"),
                (Number, "2")
            ]
        );
        assert_eq!(
            kinds("1--1"),
            [(Number, "1"), (Punct, "-"), (Punct, "-"), (Number, "1")]
        );
    }

    #[test]
    fn executable_comments_are_code() {
        use Kind::*;
        assert_eq!(
            kinds("/*!40101 SET NAMES utf8 */; SELECT /*! STRAIGHT_JOIN*/ /*M!100100 a */ 2*3"),
            [
                (Word, "SET"),
                (Word, "NAMES"),
                (Word, "utf8"),
                (Semicolon, ";"),
                (Word, "SELECT"),
                (Word, "STRAIGHT_JOIN"),
                (Word, "a"),
                (Number, "2"),
                (Punct, "*"),
                (Number, "3"),
            ]
        );
    }

    #[test]
    fn statements_end_at_semicolons() {
        let sql = "SELECT ';'; SELECT 2";
        let mut tokens = Tokens::new(sql);
        let first: Vec<_> = std::iter::from_fn(|| tokens.next_in_statement())
            .map(|t| t.text(sql))
            .collect();
        assert_eq!(first, ["SELECT", "';'"]);
        assert_eq!(tokens.next().map(|t| t.kind), Some(Kind::Semicolon));
        assert_eq!(
            tokens.next_in_statement().map(|t| t.text(sql)),
            Some("SELECT")
        );
    }

    #[test]
    fn token_ranges_are_char_boundaries() {
        let sql = "SELECT é, 'ü\\é', `ß` FROM tää WHERE x = '€";
        for token in Tokens::new(sql) {
            assert!(sql.get(token.start()..token.end()).is_some(), "{token:?}");
        }
    }
}
