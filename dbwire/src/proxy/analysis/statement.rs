//! One statement: what its first words make it, the session effects they carry, and the
//! scan of the rest.

use super::digest::{word_entry, DigestWriter};
use super::effects::{Boundary, SessionEffects};
use super::keywords::{self, Kw};
use super::route::Route;
use super::scan::{self, Facts};
use super::set;
use super::tokens::{Kind, Token, Tokens};
use super::StatementInfo;

/// What a statement is, by its first words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Command {
    /// `SELECT`, `WITH`, `TABLE`, `VALUES`, `SHOW`, `HELP`, `EXPLAIN ANALYZE`: a read unless
    /// the scan finds otherwise.
    Read,
    /// `EXPLAIN`, `DESCRIBE`, `DESC` (not `ANALYZE`): a read that executes nothing, so the
    /// rest is not scanned.
    Explain,
    /// Anything else.
    Write,
    /// `CREATE | ALTER` of a `PROCEDURE`, `FUNCTION`, `TRIGGER` or `EVENT`, and MariaDB's
    /// `BEGIN NOT ATOMIC`: a body whose `;`s do not end the statement. It takes the rest of
    /// the text, unscanned.
    Program,
}

/// Analyzes the statement at `tokens` and moves past it (to its `;`, left unread, or to the
/// end of the text), feeding its tokens to `digest` when there is one. `None` for an empty
/// statement.
pub(super) fn analyze_statement<'a>(
    tokens: &mut Tokens<'a>,
    sql: &'a str,
    digest: Option<&mut DigestWriter<'a>>,
) -> Option<StatementInfo> {
    tokens.peek_in_statement()?;
    let mut effects = SessionEffects::default();
    let command = classify(*tokens, sql, &mut effects);
    let facts = match command {
        Command::Read | Command::Write => scan::scan(tokens, sql, &mut effects, digest),
        Command::Explain => {
            skip(tokens, sql, digest, Tokens::next_in_statement);
            Facts::default()
        }
        Command::Program => {
            skip(tokens, sql, digest, Tokens::next);
            Facts::default()
        }
    };
    Some(StatementInfo {
        route: Route::decide(command, facts),
        effects,
    })
}

/// Moves past the tokens that `next` yields, feeding them to `digest`.
fn skip<'a>(
    tokens: &mut Tokens<'a>,
    sql: &'a str,
    mut digest: Option<&mut DigestWriter<'a>>,
    next: fn(&mut Tokens<'a>) -> Option<Token>,
) {
    while let Some(token) = next(tokens) {
        if let Some(digest) = digest.as_deref_mut() {
            digest.feed(token, word_entry(token, sql), tokens);
        }
    }
}

/// The next token and its keyword ([`Kw::None`] when it is not a known word).
fn next_kw(look: &mut Tokens, sql: &str) -> Option<(Token, Kw)> {
    let token = look.next_in_statement()?;
    Some((token, word_kw(token, sql)))
}

fn word_kw(token: Token, sql: &str) -> Kw {
    match token.kind {
        Kind::Word => keywords::kw(token.text(sql)),
        _ => Kw::None,
    }
}

/// True when `token` is the word `word` (any case).
fn is_word(token: Token, sql: &str, word: &str) -> bool {
    token.kind == Kind::Word && token.text(sql).eq_ignore_ascii_case(word)
}

/// Reads the statement's first words, recording the effects they carry.
fn classify(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    let first = loop {
        match next_kw(&mut look, sql) {
            Some((token, _)) if token.is_punct(sql, "(") => continue,
            Some((_, kw)) => break kw,
            None => return Command::Write,
        }
    };
    match first {
        Kw::Select | Kw::With | Kw::Table | Kw::Values | Kw::Help => Command::Read,
        Kw::Show => show(look, sql),
        Kw::Explain | Kw::Describe | Kw::Desc => explain(look, sql),
        Kw::Set => set_statement(look, sql, effects),
        Kw::Begin => begin(look, sql, effects),
        Kw::Start => {
            if next_kw(&mut look, sql).is_some_and(|(_, kw)| kw == Kw::Transaction) {
                effects.transaction = Some(Boundary::Start);
            }
            Command::Write
        }
        Kw::Commit | Kw::Rollback => completion(look, sql, effects),
        Kw::Xa => xa(look, sql, effects),
        Kw::Create | Kw::Alter => create_or_alter(look, sql, effects),
        Kw::Drop => drop_statement(look, sql, effects),
        Kw::Lock | Kw::Unlock => lock(look, sql, first, effects),
        Kw::Flush => flush(look, sql, effects),
        Kw::Use => use_schema(look, sql, effects),
        Kw::Prepare | Kw::Execute | Kw::Deallocate => {
            effects.prepared_statements = true;
            Command::Write
        }
        Kw::Call | Kw::Handler => {
            effects.opaque = true;
            Command::Write
        }
        _ => Command::Write,
    }
}

/// `SHOW ...`: a read, except what reads this connection's previous statement
/// (`WARNINGS`, `ERRORS`, `COUNT(*) ...`, `PROFILE[S]`) or describes one server of the
/// replication set (`MASTER`/`BINARY LOG` status, binary logs, replica status, process list).
fn show(mut look: Tokens, sql: &str) -> Command {
    const SERVER_WORDS: [&str; 7] = [
        "MASTER",
        "BINARY",
        "BINLOG",
        "SLAVE",
        "REPLICA",
        "REPLICAS",
        "PROCESSLIST",
    ];
    for _ in 0..2 {
        let Some((token, kw)) = next_kw(&mut look, sql) else {
            break;
        };
        let session = matches!(
            kw,
            Kw::Warnings | Kw::Errors | Kw::Count | Kw::Profile | Kw::Profiles
        );
        if session || SERVER_WORDS.iter().any(|w| is_word(token, sql, w)) {
            return Command::Write;
        }
    }
    Command::Read
}

/// `EXPLAIN [ANALYZE] ...`: `ANALYZE` runs the statement, so it is analyzed as one.
fn explain(mut look: Tokens, sql: &str) -> Command {
    for _ in 0..5 {
        match next_kw(&mut look, sql) {
            Some((_, Kw::Analyze)) => return Command::Read,
            Some(_) => {}
            None => break,
        }
    }
    Command::Explain
}

/// `SET ...`; MariaDB's `SET STATEMENT var = value FOR statement` is its statement.
fn set_statement(look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    if look
        .peek_in_statement()
        .is_some_and(|t| word_kw(t, sql) == Kw::Statement)
    {
        return set_statement_for(look, sql, effects);
    }
    set::set_statement(look, sql, effects);
    Command::Write
}

fn set_statement_for(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    let mut depth = 0_usize;
    while let Some((token, kw)) = next_kw(&mut look, sql) {
        if token.is_punct(sql, "(") {
            depth += 1;
        } else if token.is_punct(sql, ")") {
            depth = depth.saturating_sub(1);
        } else if kw == Kw::For && depth == 0 {
            return classify(look, sql, effects);
        }
    }
    Command::Write
}

/// `BEGIN [WORK]` starts a transaction; `BEGIN NOT ATOMIC` is a compound statement.
fn begin(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    if next_kw(&mut look, sql).is_some_and(|(_, kw)| kw == Kw::Not) {
        effects.opaque = true;
        return Command::Program;
    }
    effects.transaction = Some(Boundary::Start);
    Command::Write
}

/// `COMMIT` / `ROLLBACK [WORK] [AND [NO] CHAIN] [[NO] RELEASE]` ends the transaction (and
/// `AND CHAIN` starts the next); `ROLLBACK [WORK] TO [SAVEPOINT] x` changes nothing.
fn completion(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    let mut previous = Kw::None;
    let mut boundary = Some(Boundary::End);
    while let Some((_, kw)) = next_kw(&mut look, sql) {
        match kw {
            Kw::To => boundary = None,
            Kw::Chain if previous != Kw::No => boundary = Some(Boundary::Start),
            _ => {}
        }
        previous = kw;
    }
    if boundary.is_some() {
        effects.transaction = boundary;
    }
    Command::Write
}

/// `XA START | BEGIN` starts a transaction, `XA COMMIT | ROLLBACK` ends it.
fn xa(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    match next_kw(&mut look, sql).map(|(_, kw)| kw) {
        Some(Kw::Start | Kw::Begin) => effects.transaction = Some(Boundary::Start),
        Some(Kw::Commit | Kw::Rollback) => effects.transaction = Some(Boundary::End),
        _ => {}
    }
    Command::Write
}

/// `CREATE | ALTER [OR REPLACE] [DEFINER = ...] ...`: temporary tables and stored programs
/// (`ALTER EVENT ... DO BEGIN ...; END` has a body too).
fn create_or_alter(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    const HEAD_TOKENS: usize = 12;
    const OTHER_OBJECTS: [&str; 10] = [
        "INDEX",
        "UNIQUE",
        "FULLTEXT",
        "SPATIAL",
        "DATABASE",
        "SCHEMA",
        "USER",
        "SERVER",
        "TABLESPACE",
        "SEQUENCE",
    ];
    for _ in 0..HEAD_TOKENS {
        let Some((token, kw)) = next_kw(&mut look, sql) else {
            break;
        };
        match kw {
            Kw::Temporary => {
                effects.temporary_tables_created = 1;
                break;
            }
            Kw::Procedure | Kw::Function | Kw::Trigger | Kw::Event => return Command::Program,
            Kw::Table | Kw::View => break,
            _ if token.is_punct(sql, "(") => break,
            _ if OTHER_OBJECTS.iter().any(|w| is_word(token, sql, w)) => break,
            _ => {}
        }
    }
    Command::Write
}

/// `DROP TEMPORARY TABLE [IF EXISTS] a, b` (counted) and `DROP PREPARE`.
fn drop_statement(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    match next_kw(&mut look, sql).map(|(_, kw)| kw) {
        Some(Kw::Temporary) => {
            let mut tables = 1_u32;
            while let Some(token) = look.next_in_statement() {
                if token.is_punct(sql, ",") {
                    tables = tables.saturating_add(1);
                }
            }
            effects.temporary_tables_dropped = tables;
        }
        Some(Kw::Prepare) => effects.prepared_statements = true,
        _ => {}
    }
    Command::Write
}

/// `LOCK TABLES | TABLE | INSTANCE FOR BACKUP` and `UNLOCK TABLES | TABLE | INSTANCE`.
fn lock(mut look: Tokens, sql: &str, first: Kw, effects: &mut SessionEffects) -> Command {
    let what = next_kw(&mut look, sql).map(|(_, kw)| kw);
    if matches!(what, Some(Kw::Tables | Kw::Table | Kw::Instance)) {
        effects.table_locks = Some(if first == Kw::Lock {
            Boundary::Start
        } else {
            Boundary::End
        });
    }
    Command::Write
}

/// `FLUSH TABLES ... WITH READ LOCK` and `FLUSH TABLES ... FOR EXPORT` hold table locks.
fn flush(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    while let Some((token, kw)) = next_kw(&mut look, sql) {
        if kw == Kw::Lock || is_word(token, sql, "EXPORT") {
            effects.table_locks = Some(Boundary::Start);
        }
    }
    Command::Write
}

/// `USE db`: the new default schema, backticks removed.
fn use_schema(mut look: Tokens, sql: &str, effects: &mut SessionEffects) -> Command {
    let Some(token) = look.next_in_statement() else {
        return Command::Write;
    };
    let text = token.text(sql);
    effects.schema = match token.kind {
        Kind::Word => Some(text.to_owned()),
        Kind::Quoted => {
            let inner = text.strip_prefix('`').unwrap_or(text);
            let inner = inner.strip_suffix('`').unwrap_or(inner);
            Some(inner.replace("``", "`"))
        }
        _ => None,
    };
    Command::Write
}
