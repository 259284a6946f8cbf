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
/// Trailing semicolons, whitespace and comments do not count.
pub fn has_multiple_statements(sql: &[u8]) -> bool {
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
                _ if after_semicolon => return true,
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
    false
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
        ] {
            assert!(has_multiple_statements(sql.as_bytes()), "{sql}");
        }
    }
}
