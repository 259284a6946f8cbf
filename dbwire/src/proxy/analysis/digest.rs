//! Query digests: the shape of a query with its data taken out, so that statistics can be
//! kept per query pattern (like ProxySQL's `stats_mysql_query_digest`).
//!
//! The text is rebuilt from tokens, so whitespace and comments vanish and spacing is fixed by
//! the tokens alone: `a=1` and `a = 1` read the same. Literals become `?` (a sign before a
//! number goes with it), `IN (...)` and `VALUES (...)` replace lists of literals, keywords
//! are upper-cased, identifiers, backticks and variables stay as written, `NULL`, `TRUE`
//! and `FALSE` stay, a trailing `;` goes. Executable comments (`/*!40101 ... */`) are code
//! to the server, so their content stays (without the markers); other comments, optimizer
//! hints included, go.

use super::keywords::{self, Class, Entry, Kw};
use super::tokens::{Kind, Token, Tokens};

/// The longest digest text, in bytes (ProxySQL's default `query_digests_max_digest_length`).
/// Longer texts are cut at a character boundary ([`digest`] stops reading the query there).
pub const MAX_DIGEST_LEN: usize = 2048;

/// A query's fingerprint: literals replaced by `?`, `IN`/`VALUES` lists of literals
/// collapsed to `(...)`, comments stripped, whitespace collapsed, keywords upper-cased
/// (identifiers left as written, backticks kept).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Digest {
    /// [`digest_hash`] of `text`: stable across processes, builds and platforms.
    pub hash: u64,
    /// The normalized text, at most [`MAX_DIGEST_LEN`] bytes.
    pub text: String,
}

/// The digest of `sql` (which may hold several statements).
pub fn digest(sql: &str) -> Digest {
    let mut writer = DigestWriter::new(sql);
    let mut tokens = Tokens::new(sql);
    while !writer.is_full() {
        let Some(token) = tokens.next() else {
            break;
        };
        let after = tokens;
        if let Some(resume) = writer.feed(token, word_entry(token, sql), &after) {
            tokens = resume;
        }
    }
    writer.finish()
}

/// The keyword entry of `token` when it is a known word.
pub(super) fn word_entry(token: Token, sql: &str) -> Option<&'static Entry> {
    match token.kind {
        Kind::Word => keywords::lookup(token.text(sql)),
        _ => None,
    }
}

/// Builds a digest from a query's tokens, fed in order: by [`digest`], or by the analysis
/// while it reads the same tokens (see [`super::inspect`]).
pub(super) struct DigestWriter<'a> {
    sql: &'a str,
    writer: Writer,
    /// A `;` came after the last token written.
    semicolon: bool,
    /// Tokens that start before this offset were collapsed into `(...)`.
    skip_to: usize,
}

impl<'a> DigestWriter<'a> {
    /// A writer for the tokens of `sql`.
    pub fn new(sql: &'a str) -> DigestWriter<'a> {
        DigestWriter {
            sql,
            writer: Writer::new(sql.len()),
            semicolon: false,
            skip_to: 0,
        }
    }

    /// True once the text reached [`MAX_DIGEST_LEN`]: further tokens are ignored.
    pub fn is_full(&self) -> bool {
        self.writer.full
    }

    /// Writes `token`, whose keyword entry is `entry` ([`word_entry`]); `after` is a cursor
    /// just past it. When the token starts a collapsed list, returns a cursor past the list
    /// (tokens fed from inside the list are ignored in any case).
    pub fn feed(
        &mut self,
        token: Token,
        entry: Option<&'static Entry>,
        after: &Tokens<'a>,
    ) -> Option<Tokens<'a>> {
        if token.start() < self.skip_to || self.writer.full {
            return None;
        }
        if token.kind == Kind::Semicolon {
            self.semicolon = !self.writer.text.is_empty();
            return None;
        }
        if self.semicolon {
            self.writer.push(";", Piece::Semicolon);
            self.semicolon = false;
        }
        let resume = self.write_token(token, entry, after);
        if let Some(resume) = resume {
            self.skip_to = resume.offset();
        }
        resume
    }

    /// The finished digest.
    pub fn finish(self) -> Digest {
        Digest {
            hash: digest_hash(self.writer.text.as_bytes()),
            text: self.writer.text,
        }
    }

    fn write_token(
        &mut self,
        token: Token,
        entry: Option<&'static Entry>,
        after: &Tokens<'a>,
    ) -> Option<Tokens<'a>> {
        let (sql, writer) = (self.sql, &mut self.writer);
        match token.kind {
            Kind::String | Kind::Number | Kind::Bits | Kind::Placeholder => {
                writer.push("?", Piece::Value);
            }
            Kind::Word => return write_word(writer, after, token, entry, sql),
            Kind::Quoted | Kind::UserVariable | Kind::SystemVariable => {
                writer.push(token.text(sql), Piece::Name);
            }
            Kind::Punct => write_punct(writer, after, token, sql),
            Kind::Semicolon => {}
        }
        None
    }
}

/// The digest hash of `text`: stable across processes, builds and platforms.
///
/// It runs on every query, so it takes 16 bytes per multiplication where FNV-1a takes one:
/// the text is read in 16-byte blocks (two little-endian `u64`s; the last block
/// zero-padded), each folded into the state with wyhash's "mum" step (64×64→128-bit
/// multiply, high half XOR low half) and wyhash's constants. It is not wyhash-compatible,
/// and not meant to resist chosen collisions (neither is FNV-1a).
pub fn digest_hash(text: &[u8]) -> u64 {
    const P0: u64 = 0xa076_1d64_78bd_642f;
    const P1: u64 = 0xe703_7ed1_a0b4_28db;
    let len = text.len() as u64;
    let mut hash = P0 ^ len;
    let mut blocks = text.chunks_exact(16);
    for block in &mut blocks {
        let (a, b) = halves(block);
        hash = mum(a ^ P1, b ^ hash);
    }
    let mut last = [0_u8; 16];
    let rest = blocks.remainder();
    last[..rest.len()].copy_from_slice(rest);
    let (a, b) = halves(&last);
    hash = mum(a ^ P1, b ^ hash);
    mum(hash ^ P0, len ^ P1)
}

/// A 16-byte block as two little-endian words.
fn halves(block: &[u8]) -> (u64, u64) {
    let word = |at: usize| {
        let bytes = block.get(at..at + 8).and_then(|b| b.first_chunk::<8>());
        u64::from_le_bytes(bytes.copied().unwrap_or_default())
    };
    (word(0), word(8))
}

/// wyhash's mixing step.
fn mum(a: u64, b: u64) -> u64 {
    let product = u128::from(a) * u128::from(b);
    (product as u64) ^ ((product >> 64) as u64)
}

/// What a written piece is, for spacing.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece {
    /// A keyword: spaced from a following `(`.
    Keyword,
    /// An identifier, function name or variable: written against a following `(`.
    Name,
    /// `?`, `NULL`, `TRUE`, `FALSE`.
    Value,
    /// A collapsed list, `(...)`.
    List,
    Open,
    Close,
    Comma,
    Dot,
    Semicolon,
    Operator,
}

/// The digest text being written.
struct Writer {
    text: String,
    previous: Option<Piece>,
    /// The text reached [`MAX_DIGEST_LEN`].
    full: bool,
}

impl Writer {
    fn new(sql_len: usize) -> Writer {
        let capacity = (sql_len + sql_len / 4).min(MAX_DIGEST_LEN + 32);
        Writer {
            text: String::with_capacity(capacity),
            previous: None,
            full: false,
        }
    }

    fn push(&mut self, text: &str, piece: Piece) {
        if self.full {
            return;
        }
        if self
            .previous
            .is_some_and(|previous| spaced(previous, piece))
        {
            self.text.push(' ');
        }
        self.text.push_str(text);
        self.previous = Some(piece);
        if self.text.len() >= MAX_DIGEST_LEN {
            let mut end = MAX_DIGEST_LEN;
            while !self.text.is_char_boundary(end) {
                end -= 1;
            }
            self.text.truncate(end);
            self.full = true;
        }
    }

    /// True where a `-` or `+` would be a sign rather than a binary operator.
    fn expects_operand(&self) -> bool {
        matches!(
            self.previous,
            None | Some(
                Piece::Keyword | Piece::Open | Piece::Comma | Piece::Operator | Piece::Semicolon
            )
        )
    }
}

/// True when a space goes between pieces `previous` and `next`.
fn spaced(previous: Piece, next: Piece) -> bool {
    !matches!(
        (previous, next),
        (
            _,
            Piece::Close | Piece::Comma | Piece::Semicolon | Piece::Dot
        ) | (Piece::Open | Piece::Dot, _)
            | (Piece::Name, Piece::Open)
    )
}

/// Writes a word; after `IN` or `VALUES`, returns the cursor past a collapsed list.
fn write_word<'a>(
    writer: &mut Writer,
    after: &Tokens<'a>,
    token: Token,
    entry: Option<&'static Entry>,
    sql: &str,
) -> Option<Tokens<'a>> {
    let text = token.text(sql);
    let Some(entry) = entry else {
        writer.push(text, Piece::Name);
        return None;
    };
    match entry.class {
        Class::Keyword => writer.push(entry.name, Piece::Keyword),
        Class::Function => writer.push(entry.name, Piece::Name),
        Class::Value => writer.push(entry.name, Piece::Value),
        Class::Plain => writer.push(text, Piece::Name),
    }
    match entry.kw {
        Kw::In => collapse(writer, after, sql, false),
        Kw::Values | Kw::Value => collapse(writer, after, sql, true),
        _ => None,
    }
}

fn write_punct(writer: &mut Writer, tokens: &Tokens, token: Token, sql: &str) {
    let text = token.text(sql);
    let piece = match text {
        "(" => Piece::Open,
        ")" => Piece::Close,
        "," => Piece::Comma,
        "." => Piece::Dot,
        "-" | "+" if writer.expects_operand() && next_is_number(tokens) => return,
        _ => Piece::Operator,
    };
    writer.push(text, piece);
}

fn next_is_number(tokens: &Tokens) -> bool {
    tokens
        .peek()
        .is_some_and(|t| matches!(t.kind, Kind::Number | Kind::Bits))
}

/// After `IN` or `VALUES`: replaces a parenthesized list of literals (for `VALUES`, a
/// comma-separated run of them, each optionally `ROW(...)`) with `(...)`. Lists holding
/// anything but literals, `NULL`/`TRUE`/`FALSE`/`DEFAULT`, signs and function calls over
/// those (`IN (SELECT ...)`, `VALUES (a + 1)`, `VALUES(col)` in `ON DUPLICATE KEY UPDATE`)
/// are written out.
fn collapse<'a>(
    writer: &mut Writer,
    after: &Tokens<'a>,
    sql: &str,
    rows: bool,
) -> Option<Tokens<'a>> {
    let mut look = *after;
    if !literal_group(&mut look, sql, rows) {
        return None;
    }
    if rows {
        loop {
            let mut more = look;
            let comma = more.next().is_some_and(|t| t.is_punct(sql, ","));
            if !comma || !literal_group(&mut more, sql, rows) {
                break;
            }
            look = more;
        }
    }
    writer.push("(...)", Piece::List);
    Some(look)
}

/// Reads `( literals )` (after an optional `ROW` when `row` is allowed); true when that is
/// what came.
fn literal_group(look: &mut Tokens, sql: &str, row: bool) -> bool {
    let mut open = look.next();
    if row && open.is_some_and(|t| t.kind == Kind::Word && keywords::kw(t.text(sql)) == Kw::Row) {
        open = look.next();
    }
    if !open.is_some_and(|t| t.is_punct(sql, "(")) {
        return false;
    }
    let mut depth = 1_usize;
    while let Some(token) = look.next() {
        match token.kind {
            _ if token.is_literal() => {}
            Kind::Punct => match token.text(sql) {
                "(" => depth += 1,
                ")" if depth == 1 => return true,
                ")" => depth -= 1,
                "," | "-" | "+" => {}
                _ => return false,
            },
            Kind::Word if is_literal_word(token, look, sql) => {}
            _ => return false,
        }
    }
    false
}

/// `NULL`, `TRUE`, `FALSE`, `DEFAULT`, or a function name followed by `(`.
fn is_literal_word(token: Token, look: &Tokens, sql: &str) -> bool {
    match keywords::lookup(token.text(sql)) {
        Some(entry) if entry.class == Class::Value || entry.kw == Kw::Default => true,
        Some(entry) if entry.class == Class::Keyword => false,
        _ => look.peek().is_some_and(|t| t.is_punct(sql, "(")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(sql: &str) -> String {
        digest(sql).text
    }

    #[test]
    fn literals_become_placeholders() {
        assert_eq!(
            text("SELECT * FROM t WHERE id = 5 AND name = 'x'"),
            "SELECT * FROM t WHERE id = ? AND name = ?"
        );
        assert_eq!(
            text(r#"select a from t where b = -1.5 and c = 0x1F and d = 1e5 and e = "dq""#),
            "SELECT a FROM t WHERE b = ? AND c = ? AND d = ? AND e = ?"
        );
        assert_eq!(
            text(r"SELECT 'it''s', 'a\'b', X'ab', b'01', N'n', _utf8mb4'u', .5, ?"),
            "SELECT ?, ?, ?, ?, ?, ?, ?, ?"
        );
        assert_eq!(
            text("SELECT NULL, true, FALSE FROM t WHERE a IS NULL"),
            "SELECT NULL, TRUE, FALSE FROM t WHERE a IS NULL"
        );
    }

    #[test]
    fn signs_fold_into_literals_but_minus_stays() {
        assert_eq!(
            text("SELECT -1, a-1, a - -1, (-2)"),
            "SELECT ?, a - ?, a - ?, (?)"
        );
        assert_eq!(text("SELECT 1--1"), "SELECT ? - ?");
        assert_eq!(text("SELECT -a"), "SELECT - a");
    }

    #[test]
    fn lists_of_literals_collapse() {
        assert_eq!(
            text("SELECT a FROM t WHERE id IN (1,2,3) AND s NOT IN ('a', 'b')"),
            "SELECT a FROM t WHERE id IN (...) AND s NOT IN (...)"
        );
        assert_eq!(
            text("SELECT 1 WHERE (a, b) IN ((1, 2), (3, -4))"),
            "SELECT ? WHERE (a, b) IN (...)"
        );
        assert_eq!(
            text("INSERT INTO t (a, b) VALUES (1,'a'),(2,'b')"),
            "INSERT INTO t(a, b) VALUES (...)"
        );
        assert_eq!(
            text("INSERT INTO t VALUES (1, NOW(), NULL, DEFAULT), (2, NOW(), 'x', 3)"),
            "INSERT INTO t VALUES (...)"
        );
        assert_eq!(text("insert into t value (1)"), "INSERT INTO t value (...)");
        assert_eq!(text("VALUES ROW(1, 2), ROW(3, 4)"), "VALUES (...)");
    }

    #[test]
    fn lists_of_expressions_stay() {
        assert_eq!(
            text("SELECT a FROM t WHERE id IN (SELECT id FROM u WHERE x = 1)"),
            "SELECT a FROM t WHERE id IN (SELECT id FROM u WHERE x = ?)"
        );
        assert_eq!(
            text("SELECT 1 FROM t WHERE a IN (b, 2)"),
            "SELECT ? FROM t WHERE a IN (b, ?)"
        );
        assert_eq!(
            text("INSERT INTO t VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a) + 1"),
            "INSERT INTO t VALUES (...) ON DUPLICATE KEY UPDATE a = VALUES (a) + ?"
        );
        assert_eq!(text("SELECT 1 IN (1, 2"), "SELECT ? IN (?, ?");
    }

    #[test]
    fn comments_whitespace_and_case_do_not_matter() {
        let variants = [
            "SELECT a FROM t WHERE b=1",
            "select a from t where b = 2;",
            "  /* c */ SELECT\n\ta -- x\nFROM t # y\n WHERE b   =  'three' ;;  ",
            "SELECT /*+ NO_ICP(t) */ a FROM t WHERE b = -4",
        ];
        let expected = digest(variants[0]);
        assert_eq!(expected.text, "SELECT a FROM t WHERE b = ?");
        for sql in variants {
            assert_eq!(digest(sql), expected, "{sql}");
        }
        assert_ne!(digest("SELECT a FROM T WHERE b = 1"), expected);
    }

    #[test]
    fn identifiers_stay_as_written() {
        assert_eq!(
            text("SELECT `Select`, t.* , wp_posts.ID, @x, @@SESSION.sql_mode FROM `db`.`T`"),
            "SELECT `Select`, t.*, wp_posts.ID, @x, @@SESSION.sql_mode FROM `db`.`T`"
        );
        assert_eq!(
            text("select count(*), max(a) from t"),
            "SELECT COUNT(*), MAX(a) FROM t"
        );
        assert_eq!(
            text("SELECT name, role, value FROM t"),
            "SELECT name, role, value FROM t"
        );
    }

    #[test]
    fn executable_comments_keep_their_content() {
        assert_eq!(text("/*!40101 SET NAMES utf8 */;"), "SET NAMES utf8");
        assert_eq!(
            text("SELECT /*!40001 SQL_NO_CACHE */ * FROM t"),
            "SELECT SQL_NO_CACHE * FROM t"
        );
    }

    #[test]
    fn statements_are_separated() {
        assert_eq!(text("SELECT 1; SELECT 'a';"), "SELECT ?; SELECT ?");
        assert_eq!(text("; ; SELECT 1"), "SELECT ?");
        assert_eq!(text("-- nothing"), "");
    }

    #[test]
    fn long_texts_are_cut_on_a_char_boundary() {
        let sql = format!("SELECT {} FROM t", "é, ".repeat(2000));
        let digest = digest(&sql);
        assert!(digest.text.len() <= MAX_DIGEST_LEN);
        assert!(digest.text.len() > MAX_DIGEST_LEN - 4);
        assert!(digest.text.starts_with("SELECT é, é"));
    }

    #[test]
    fn hash_is_stable() {
        // Pinned: changing these changes every stored digest hash.
        let pinned = [b"".as_slice(), b"SELECT ?", &[b'x'; 40]].map(digest_hash);
        let expected = [
            0x832f_f0d4_5093_5050,
            0x740a_83b9_a4b8_1555,
            0x45eb_71ed_42c0_1d13,
        ];
        assert_eq!(pinned, expected);
        assert_eq!(digest("SELECT 1").hash, digest_hash(b"SELECT ?"));
        assert_ne!(digest_hash(b"SELECT ?"), digest_hash(b"SELECT ? "));
        assert_ne!(digest_hash(&[0; 16]), digest_hash(&[0; 17]));
    }
}
