//! Spotting several statements in one COM_QUERY, so that a client which did not enable
//! multi-statements gets a syntax error instead of having the extra statements run (the
//! protection against `'; DROP TABLE ...` injection that MySQL gives such clients).

/// Where the scanner is inside the SQL text.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Code,
    Quoted(u8),
    LineComment,
    BlockComment,
}

/// True when `sql` holds a statement after a `;` that is outside quotes and comments.
/// Trailing semicolons, whitespace and comments do not count, nor do the `;` inside the body
/// of a stored program's definition (`CREATE PROCEDURE ... BEGIN ...; ...; END`), which the
/// server parses as one statement.
pub fn has_multiple_statements(sql: &[u8]) -> bool {
    second_statement(sql).is_some()
}

/// Where the second statement of `sql` starts, as [`has_multiple_statements`] sees it.
pub fn second_statement(sql: &[u8]) -> Option<usize> {
    if defines_stored_program(sql) {
        return None;
    }
    code_after_semicolon(sql)
}

/// Words that, after `CREATE` and before the first `(` or `;`, make a statement the
/// definition of a stored program, whose body may hold `;`.
const STORED_PROGRAMS: [&[u8]; 4] = [b"PROCEDURE", b"FUNCTION", b"TRIGGER", b"EVENT"];

/// True for `CREATE [OR REPLACE] [DEFINER = ...] PROCEDURE|FUNCTION|TRIGGER|EVENT ...`.
fn defines_stored_program(sql: &[u8]) -> bool {
    let head = sql
        .split(|&byte| byte == b'(' || byte == b';')
        .next()
        .unwrap_or_default();
    let mut words = head
        .split(|byte| !byte.is_ascii_alphanumeric() && *byte != b'_')
        .filter(|word| !word.is_empty());
    words
        .next()
        .is_some_and(|first| first.eq_ignore_ascii_case(b"CREATE"))
        && words.take(8).any(|word| {
            STORED_PROGRAMS
                .iter()
                .any(|program| word.eq_ignore_ascii_case(program))
        })
}

fn code_after_semicolon(sql: &[u8]) -> Option<usize> {
    let mut state = State::Code;
    let mut after_semicolon = false;
    let mut i = 0;
    while i < sql.len() {
        let byte = sql[i];
        let next = sql.get(i + 1).copied();
        match state {
            State::Code => match byte {
                b';' => after_semicolon = true,
                b'#' => state = State::LineComment,
                b'-' if next == Some(b'-')
                    && sql.get(i + 2).map_or(true, u8::is_ascii_whitespace) =>
                {
                    state = State::LineComment;
                }
                b'/' if next == Some(b'*') => {
                    state = State::BlockComment;
                    i += 1;
                }
                _ if byte.is_ascii_whitespace() => {}
                _ if after_semicolon => return Some(i),
                b'\'' | b'"' | b'`' => state = State::Quoted(byte),
                _ => {}
            },
            State::Quoted(quote) => {
                if byte == b'\\' && quote != b'`' {
                    i += 1;
                } else if byte == quote {
                    state = State::Code;
                }
            }
            State::LineComment => {
                if byte == b'\n' {
                    state = State::Code;
                }
            }
            State::BlockComment => {
                if byte == b'*' && next == Some(b'/') {
                    state = State::Code;
                    i += 1;
                }
            }
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_statements() {
        for sql in [
            "SELECT 1",
            "SELECT 1;",
            "SELECT 1 ;  \n ;",
            "SELECT 1; -- done",
            "SELECT 1; # done",
            "SELECT 1; /* done; really */",
            "SELECT ';'",
            "SELECT \"a;b\"",
            "SELECT `we;ird` FROM t",
            "CREATE PROCEDURE p(IN n INT) BEGIN SELECT n; SELECT n + 1; END",
            "create definer = `app`@`%` function f() returns int begin declare x int; return 1; end",
            "CREATE TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET @a = 1; SET @b = 2; END",
            "SELECT 'it\\'s; fine'",
            "SELECT 'it''s; fine'",
            "SELECT 1 -- ; DROP TABLE t",
            "/* a; b */ SELECT 1",
            "",
        ] {
            assert!(!has_multiple_statements(sql.as_bytes()), "{sql}");
        }
    }

    #[test]
    fn multiple_statements() {
        for sql in [
            "SELECT 1; SELECT 2",
            "SELECT 1;SELECT 2;",
            "SELECT 'x'; DROP TABLE t",
            "SELECT 1; /* c */ SELECT 2",
            "SELECT 1; -- c\nSELECT 2",
            "SELECT 1;'x'",
            "SELECT 1--1; SELECT 2",
            "CREATE TABLE procedure_log (id INT); DROP TABLE t",
            "SELECT 1; CREATE PROCEDURE p() BEGIN SELECT 1; END",
        ] {
            assert!(has_multiple_statements(sql.as_bytes()), "{sql}");
        }
    }

    #[test]
    fn the_second_statement_is_located() {
        assert_eq!(second_statement(b"SELECT 1; SELECT 2"), Some(10));
        assert_eq!(
            second_statement(b"SELECT 1;\n -- c\nDROP TABLE t"),
            Some(16)
        );
        assert_eq!(second_statement(b"SELECT ';'; "), None);
    }
}
