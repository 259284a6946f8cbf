//! `sql_mode = NO_BACKSLASH_ESCAPES`: a backslash inside a string literal is an ordinary
//! character. The MySQL tokenizer always reads `\` as an escape, so under that mode the
//! statement's string literals get their backslashes doubled before it is tokenized.

use std::borrow::Cow;

/// `sql` with every backslash inside a `'...'` or `"..."` literal doubled (comments and
/// backquoted names are left alone); borrowed when there is nothing to double.
pub fn escape_literal_backslashes(sql: &str) -> Cow<'_, str> {
    if !sql.contains('\\') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                if c == '\\' {
                    out.push('\\');
                } else if c == q {
                    // A doubled quote stays inside the literal.
                    if chars.peek() == Some(&q) {
                        out.push(c);
                        chars.next();
                    } else {
                        quote = None;
                    }
                }
                out.push(c);
            }
            None => {
                out.push(c);
                match c {
                    '\'' | '"' => quote = Some(c),
                    '`' => copy_until(&mut chars, &mut out, "`"),
                    '#' => copy_until(&mut chars, &mut out, "\n"),
                    '-' if chars.peek() == Some(&'-') => copy_until(&mut chars, &mut out, "\n"),
                    '/' if chars.peek() == Some(&'*') => copy_until(&mut chars, &mut out, "*/"),
                    _ => {}
                }
            }
        }
    }
    Cow::Owned(out)
}

/// Copies characters up to and including `end`.
fn copy_until(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String, end: &str) {
    for c in chars.by_ref() {
        out.push(c);
        if out.ends_with(end) {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_literals_change() {
        assert_eq!(escape_literal_backslashes("SELECT 1"), "SELECT 1");
        assert_eq!(
            escape_literal_backslashes(r"SELECT 'a\nb', LENGTH('a\nb')"),
            r"SELECT 'a\\nb', LENGTH('a\\nb')"
        );
        assert_eq!(
            escape_literal_backslashes(r"SELECT 'it''s \', `a\b` -- c\d"),
            r"SELECT 'it''s \\', `a\b` -- c\d"
        );
        assert_eq!(
            escape_literal_backslashes(r#"SELECT "x\" /* \ */ "#),
            r#"SELECT "x\\" /* \ */ "#
        );
    }
}
