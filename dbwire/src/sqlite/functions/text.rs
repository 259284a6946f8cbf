//! String functions: CONCAT, SUBSTRING_INDEX, FIND_IN_SET, LPAD, REGEXP, MD5, SHA2, ...

use rusqlite::functions::Context;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;
use sha1::Digest as _;

use super::regex::{Regex, RegexError};
use super::{
    bytes_arg, define, eq_ignore_case, integer_arg, is_numeric, md5, number_arg, number_of,
    text_arg, to_i64, value_text, Purity,
};

/// The longest string REPEAT, LPAD, RPAD and SPACE build (MySQL's `max_allowed_packet`).
const MAX_RESULT_BYTES: usize = 64 * 1024 * 1024;

pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    use Purity::Deterministic;
    define(conn, "concat", -1, Deterministic, |ctx| Ok(concat(ctx)))?;
    define(conn, "concat_ws", -1, Deterministic, |ctx| {
        Ok(concat_ws(ctx))
    })?;
    define(conn, "left", 2, Deterministic, |ctx| {
        Ok(text_arg(ctx, 0)
            .zip(integer_arg(ctx, 1))
            .map(|(s, n)| take_chars(&s, n, true)))
    })?;
    define(conn, "right", 2, Deterministic, |ctx| {
        Ok(text_arg(ctx, 0)
            .zip(integer_arg(ctx, 1))
            .map(|(s, n)| take_chars(&s, n, false)))
    })?;
    define(conn, "substring_index", 3, Deterministic, |ctx| {
        Ok(
            match (text_arg(ctx, 0), text_arg(ctx, 1), integer_arg(ctx, 2)) {
                (Some(s), Some(delimiter), Some(count)) => {
                    Some(substring_index(&s, &delimiter, count).to_owned())
                }
                _ => None,
            },
        )
    })?;
    define(conn, "find_in_set", 2, Deterministic, |ctx| {
        Ok(text_arg(ctx, 0)
            .zip(text_arg(ctx, 1))
            .map(|(needle, list)| find_in_set(&needle, &list)))
    })?;
    define(conn, "field", -1, Deterministic, |ctx| Ok(field(ctx)))?;
    define(conn, "locate", 2, Deterministic, |ctx| {
        Ok(locate(ctx, None))
    })?;
    define(conn, "locate", 3, Deterministic, |ctx| {
        Ok(locate(ctx, integer_arg(ctx, 2)))
    })?;
    define(conn, "lpad", 3, Deterministic, |ctx| pad(ctx, true))?;
    define(conn, "rpad", 3, Deterministic, |ctx| pad(ctx, false))?;
    define(conn, "repeat", 2, Deterministic, |ctx| {
        let (Some(s), Some(count)) = (text_arg(ctx, 0), integer_arg(ctx, 1)) else {
            return Ok(None);
        };
        let count = usize::try_from(count).unwrap_or(0);
        if s.len().saturating_mul(count) > MAX_RESULT_BYTES {
            return Ok(None);
        }
        Ok(Some(s.repeat(count)))
    })?;
    define(conn, "reverse", 1, Deterministic, |ctx| {
        Ok(text_arg(ctx, 0).map(|s| s.chars().rev().collect::<String>()))
    })?;
    define(conn, "space", 1, Deterministic, |ctx| {
        let count = integer_arg(ctx, 0).map(|n| usize::try_from(n).unwrap_or(0));
        Ok(count
            .filter(|&n| n <= MAX_RESULT_BYTES)
            .map(|n| " ".repeat(n)))
    })?;
    define(conn, "format", 2, Deterministic, |ctx| {
        Ok(number_arg(ctx, 0)
            .zip(integer_arg(ctx, 1))
            .map(|(x, d)| format_number(x, d)))
    })?;
    define(conn, "format", 3, Deterministic, |ctx| {
        Ok(number_arg(ctx, 0)
            .zip(integer_arg(ctx, 1))
            .map(|(x, d)| format_number(x, d)))
    })?;
    define(conn, "regexp", 2, Deterministic, regexp)?;
    define(conn, "md5", 1, Deterministic, |ctx| {
        Ok(bytes_arg(ctx, 0).map(|b| md5::md5_hex(&b)))
    })?;
    define(conn, "sha1", 1, Deterministic, |ctx| {
        Ok(bytes_arg(ctx, 0).map(|b| hex(&sha1::Sha1::digest(&b))))
    })?;
    define(conn, "sha2", 2, Deterministic, |ctx| {
        Ok(bytes_arg(ctx, 0)
            .zip(integer_arg(ctx, 1))
            .and_then(|(b, bits)| sha2_hex(&b, bits)))
    })
}

/// `CONCAT(...)`: NULL if any argument is NULL; binary if any argument is binary.
fn concat(ctx: &Context<'_>) -> SqlValue {
    let mut out = Vec::new();
    let mut binary = false;
    for index in 0..ctx.len() {
        let value = ctx.get_raw(index);
        if let ValueRef::Blob(blob) = value {
            binary = true;
            out.extend_from_slice(blob);
            continue;
        }
        match value_text(value) {
            Some(part) => out.extend_from_slice(part.as_bytes()),
            None => return SqlValue::Null,
        }
    }
    if binary {
        return SqlValue::Blob(out);
    }
    match String::from_utf8(out) {
        Ok(text) => SqlValue::Text(text),
        Err(invalid) => SqlValue::Blob(invalid.into_bytes()),
    }
}

/// `CONCAT_WS(separator, ...)`: NULL only if the separator is NULL; NULL arguments are skipped.
fn concat_ws(ctx: &Context<'_>) -> Option<String> {
    if ctx.is_empty() {
        return None;
    }
    let separator = text_arg(ctx, 0)?;
    let parts: Vec<String> = (1..ctx.len())
        .filter_map(|index| text_arg(ctx, index))
        .collect();
    Some(parts.join(&separator))
}

/// `LEFT(s, n)` (`from_start`) or `RIGHT(s, n)`, counting characters.
fn take_chars(s: &str, count: i64, from_start: bool) -> String {
    let count = usize::try_from(count).unwrap_or(0);
    if from_start {
        return s.chars().take(count).collect();
    }
    let total = s.chars().count();
    s.chars().skip(total.saturating_sub(count)).collect()
}

/// `SUBSTRING_INDEX(s, delimiter, count)`.
fn substring_index<'a>(s: &'a str, delimiter: &str, count: i64) -> &'a str {
    if delimiter.is_empty() || count == 0 {
        return "";
    }
    let wanted = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    if count > 0 {
        match s.match_indices(delimiter).nth(wanted - 1) {
            Some((at, _)) => &s[..at],
            None => s,
        }
    } else {
        match s.rmatch_indices(delimiter).nth(wanted - 1) {
            Some((at, _)) => &s[at + delimiter.len()..],
            None => s,
        }
    }
}

/// `FIND_IN_SET(needle, list)`: 1-based position in a comma-separated list, 0 if absent.
fn find_in_set(needle: &str, list: &str) -> i64 {
    if needle.contains(',') || list.is_empty() {
        return 0;
    }
    list.split(',')
        .position(|item| eq_ignore_case(item, needle))
        .map_or(0, |index| to_i64(index as u64 + 1))
}

/// `FIELD(s, a, b, ...)`: 1-based position of `s` in the list, 0 if absent or NULL.
fn field(ctx: &Context<'_>) -> i64 {
    if ctx.is_empty() || ctx.get_raw(0) == ValueRef::Null {
        return 0;
    }
    let needle = ctx.get_raw(0);
    let all_numeric = (0..ctx.len()).all(|index| is_numeric(ctx.get_raw(index)));
    (1..ctx.len())
        .find(|&index| {
            let candidate = ctx.get_raw(index);
            if all_numeric {
                return number_of(candidate) == number_of(needle);
            }
            match (value_text(candidate), value_text(needle)) {
                (Some(a), Some(b)) => eq_ignore_case(&a, &b),
                _ => false,
            }
        })
        .map_or(0, |index| to_i64(index as u64))
}

/// `LOCATE(needle, haystack[, start])`: 1-based character position, case-insensitive, 0 if
/// absent.
fn locate(ctx: &Context<'_>, start: Option<i64>) -> Option<i64> {
    let needle: Vec<char> = text_arg(ctx, 0)?.to_lowercase().chars().collect();
    let haystack: Vec<char> = text_arg(ctx, 1)?.to_lowercase().chars().collect();
    let start = start.unwrap_or(1);
    if start < 1 {
        return Some(0);
    }
    let from = usize::try_from(start - 1).unwrap_or(usize::MAX);
    if from > haystack.len() {
        return Some(0);
    }
    if needle.is_empty() {
        return Some(start);
    }
    let found = haystack[from..]
        .windows(needle.len())
        .position(|window| window == needle.as_slice());
    Some(found.map_or(0, |at| to_i64((from + at + 1) as u64)))
}

/// `LPAD(s, length, pad)` (`left`) or `RPAD(...)`: pads or truncates `s` to `length` chars.
fn pad(ctx: &Context<'_>, left: bool) -> rusqlite::Result<Option<String>> {
    let (Some(s), Some(length), Some(padding)) =
        (text_arg(ctx, 0), integer_arg(ctx, 1), text_arg(ctx, 2))
    else {
        return Ok(None);
    };
    let Ok(length) = usize::try_from(length) else {
        return Ok(None);
    };
    if length > MAX_RESULT_BYTES {
        return Ok(None);
    }
    let chars: Vec<char> = s.chars().collect();
    if chars.len() >= length {
        return Ok(Some(chars[..length].iter().collect()));
    }
    if padding.is_empty() {
        return Ok(None);
    }
    let fill: String = padding.chars().cycle().take(length - chars.len()).collect();
    Ok(Some(if left { fill + &s } else { s + &fill }))
}

/// `FORMAT(x, d)`: `x` rounded to `d` decimals with thousands separators (`1,234.50`).
fn format_number(number: f64, decimals: i64) -> String {
    let decimals = usize::try_from(decimals.clamp(0, 30)).unwrap_or(0);
    // Round half away from zero, as MySQL does (formatting alone rounds half to even).
    let scale = 10f64.powi(i32::try_from(decimals).unwrap_or(0));
    let rounded = (number.abs() * scale).round() / scale;
    let magnitude = if rounded.is_finite() {
        rounded
    } else {
        number.abs()
    };
    let fixed = format!("{magnitude:.decimals$}");
    let (whole, fraction) = fixed.split_once('.').unwrap_or((&fixed, ""));
    let mut grouped = String::with_capacity(fixed.len() + whole.len() / 3 + 1);
    for (index, digit) in whole.chars().enumerate() {
        if index > 0 && (whole.len() - index) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if number < 0.0 && fixed.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

/// `regexp(pattern, text)`, which SQLite calls for `text REGEXP pattern`.
fn regexp(ctx: &Context<'_>) -> rusqlite::Result<Option<bool>> {
    if ctx.get_raw(0) == ValueRef::Null || ctx.get_raw(1) == ValueRef::Null {
        return Ok(None);
    }
    let compiled = ctx.get_or_create_aux(0, |pattern| -> Result<Regex, RegexFailure> {
        Regex::new(&value_text(pattern).unwrap_or_default()).map_err(RegexFailure)
    })?;
    Ok(text_arg(ctx, 1).map(|subject| compiled.is_match(&subject)))
}

/// A pattern error, worded like MySQL's "Illegal argument to a regular expression".
#[derive(Debug, thiserror::Error)]
#[error("Illegal argument to a regular expression: {0}")]
struct RegexFailure(RegexError);

/// `SHA2(data, bits)`: the SHA-2 digest of 224, 256 (or 0), 384 or 512 bits as hex.
fn sha2_hex(data: &[u8], bits: i64) -> Option<String> {
    Some(match bits {
        0 | 256 => hex(&sha2::Sha256::digest(data)),
        224 => hex(&sha2::Sha224::digest(data)),
        384 => hex(&sha2::Sha384::digest(data)),
        512 => hex(&sha2::Sha512::digest(data)),
        _ => return None,
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{connection, error_of, int_of, query, text_of};
    use rusqlite::types::Value as SqlValue;

    #[test]
    fn concatenation() {
        let (conn, _) = connection();
        assert_eq!(text_of(&conn, "SELECT concat('a', 1, 2.5)"), "a12.5");
        assert_eq!(query(&conn, "SELECT concat('a', NULL)"), SqlValue::Null);
        assert_eq!(
            query(&conn, "SELECT concat('a', x'ff')"),
            SqlValue::Blob(vec![b'a', 0xff])
        );
        assert_eq!(
            text_of(&conn, "SELECT concat_ws(',', 'a', NULL, 'b')"),
            "a,b"
        );
        assert_eq!(query(&conn, "SELECT concat_ws(NULL, 'a')"), SqlValue::Null);
    }

    #[test]
    fn substrings() {
        let (conn, _) = connection();
        assert_eq!(text_of(&conn, "SELECT left('héllo', 2)"), "hé");
        assert_eq!(text_of(&conn, "SELECT \"right\"('héllo', 3)"), "llo");
        assert_eq!(text_of(&conn, "SELECT left('abc', -1)"), "");
        assert_eq!(
            text_of(&conn, "SELECT substring_index('www.mysql.com', '.', 2)"),
            "www.mysql"
        );
        assert_eq!(
            text_of(&conn, "SELECT substring_index('www.mysql.com', '.', -2)"),
            "mysql.com"
        );
        assert_eq!(
            text_of(&conn, "SELECT substring_index('abc', '.', 1)"),
            "abc"
        );
        assert_eq!(int_of(&conn, "SELECT locate('BAR', 'foobarbar')"), 4);
        assert_eq!(int_of(&conn, "SELECT locate('bar', 'foobarbar', 5)"), 7);
        assert_eq!(int_of(&conn, "SELECT locate('xbar', 'foobar')"), 0);
        assert_eq!(text_of(&conn, "SELECT reverse('abç')"), "çba");
    }

    #[test]
    fn lists_and_fields() {
        let (conn, _) = connection();
        assert_eq!(int_of(&conn, "SELECT find_in_set('b', 'a,B,c')"), 2);
        assert_eq!(int_of(&conn, "SELECT find_in_set('z', 'a,b')"), 0);
        assert_eq!(
            query(&conn, "SELECT find_in_set(NULL, 'a,b')"),
            SqlValue::Null
        );
        assert_eq!(int_of(&conn, "SELECT field('b', 'a', 'B', 'c')"), 2);
        assert_eq!(int_of(&conn, "SELECT field(2, 1, 2.0, 3)"), 2);
        assert_eq!(int_of(&conn, "SELECT field(NULL, 'a')"), 0);
    }

    #[test]
    fn padding_and_formatting() {
        let (conn, _) = connection();
        assert_eq!(text_of(&conn, "SELECT lpad('hi', 5, 'ab')"), "abahi");
        assert_eq!(text_of(&conn, "SELECT rpad('hi', 5, '.')"), "hi...");
        assert_eq!(text_of(&conn, "SELECT lpad('hello', 3, '.')"), "hel");
        assert_eq!(query(&conn, "SELECT lpad('hi', 5, '')"), SqlValue::Null);
        assert_eq!(text_of(&conn, "SELECT repeat('ab', 3)"), "ababab");
        assert_eq!(text_of(&conn, "SELECT repeat('ab', -1)"), "");
        assert_eq!(text_of(&conn, "SELECT space(3)"), "   ");
        assert_eq!(
            text_of(&conn, "SELECT format(1234567.891, 2)"),
            "1,234,567.89"
        );
        assert_eq!(text_of(&conn, "SELECT format(-1234.5, 0)"), "-1,235");
        assert_eq!(text_of(&conn, "SELECT format(12, 2)"), "12.00");
        assert_eq!(text_of(&conn, "SELECT format(-0.001, 2)"), "0.00");
    }

    #[test]
    fn hashes() {
        let (conn, _) = connection();
        assert_eq!(
            text_of(&conn, "SELECT md5('abc')"),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            text_of(&conn, "SELECT sha1('abc')"),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            text_of(&conn, "SELECT sha2('abc', 256)"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(query(&conn, "SELECT sha2('abc', 100)"), SqlValue::Null);
    }

    #[test]
    fn regular_expressions() {
        let (conn, _) = connection();
        assert_eq!(int_of(&conn, "SELECT 'Hello World' REGEXP '^hello'"), 1);
        assert_eq!(int_of(&conn, "SELECT 'abc' REGEXP 'x'"), 0);
        assert_eq!(query(&conn, "SELECT NULL REGEXP 'x'"), SqlValue::Null);
        assert!(error_of(&conn, "SELECT 'a' REGEXP '('")
            .contains("Illegal argument to a regular expression"));
    }
}
