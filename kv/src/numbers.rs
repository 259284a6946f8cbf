//! Number parsing and formatting with Redis's exact rules.

/// Parses a signed 64-bit integer the way Redis's `string2ll` does: optional `-`, no `+`, no
/// spaces, no leading zeros (`0` itself is fine, `-0` is not).
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    if s == b"0" {
        return Some(0);
    }
    let (negative, digits) = match s.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut value: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Parses a float like Redis (`strtod` on the whole string): no leading space, no trailing
/// garbage, `inf`/`-inf`/`+inf` accepted, NaN refused.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    let first = *s.first()?;
    if first.is_ascii_whitespace() {
        return None;
    }
    let value: f64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (!value.is_nan()).then_some(value)
}

/// `inf`, `-inf` and `0`, which both formats write the same way.
fn format_special(value: f64) -> Option<String> {
    if value.is_infinite() {
        Some(if value > 0.0 { "inf" } else { "-inf" }.into())
    } else if value == 0.0 {
        Some("0".into())
    } else {
        None
    }
}

/// Formats a score or other double reply: `1`, `1.5`, `inf`, `-inf`, `1e+21`, with the shortest
/// digits that read back as the same double, laid out like C's `%.17g`.
pub fn format_double(value: f64) -> String {
    if let Some(special) = format_special(value) {
        return special;
    }
    let (negative, digits, exp) = decompose(value, None);
    let sign = if negative { "-" } else { "" };
    if !(-4..17).contains(&exp) {
        let mantissa = if digits.len() > 1 {
            format!("{}.{}", &digits[..1], &digits[1..])
        } else {
            digits.clone()
        };
        let exp_sign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{mantissa}e{exp_sign}{:02}", exp.abs());
    }
    format!("{sign}{}", place_point(&digits, exp))
}

/// Formats an INCRBYFLOAT/HINCRBYFLOAT result: plain decimal, no exponent, trailing zeros
/// removed (`10.5`, `5000`, `0.3`). Redis computes these in 80-bit long double and prints
/// `%.17Lf`; with 64-bit doubles we keep 15 significant digits, which prints the short
/// decimals users type the way Redis does (`0.1 + 0.2` is `0.3`).
pub fn format_incr_float(value: f64) -> String {
    if let Some(special) = format_special(value) {
        return special;
    }
    let (_, _, exp) = decompose(value, Some(15));
    // At most 17 digits after the point, as `%.17Lf`.
    let significant = (18 + exp).min(15);
    if significant <= 0 {
        return "0".into();
    }
    let (negative, digits, exp) = decompose(value, Some(significant as usize));
    let text = place_point(digits.trim_end_matches('0'), exp);
    if text == "0" || !negative {
        text
    } else {
        format!("-{text}")
    }
}

/// Splits `value` into sign, significant decimal digits (no trailing zeros) and the decimal
/// exponent of the first digit; `precision` significant digits, or the shortest round trip.
fn decompose(value: f64, precision: Option<usize>) -> (bool, String, i32) {
    let text = match precision {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), value.abs()),
        None => format!("{:e}", value.abs()),
    };
    let (mantissa, exp) = text.split_once('e').unwrap_or((&text, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut digits: String = mantissa.chars().filter(|c| c.is_ascii_digit()).collect();
    while digits.len() > 1 && digits.ends_with('0') {
        digits.pop();
    }
    (value.is_sign_negative(), digits, exp)
}

/// Writes `digits` (first digit at 10^exp) as a plain decimal number.
fn place_point(digits: &str, exp: i32) -> String {
    if digits.is_empty() {
        return "0".into();
    }
    if exp < 0 {
        let zeros = "0".repeat((-exp - 1) as usize);
        return format!("0.{zeros}{digits}");
    }
    let int_len = exp as usize + 1;
    if digits.len() <= int_len {
        format!("{digits}{}", "0".repeat(int_len - digits.len()))
    } else {
        format!("{}.{}", &digits[..int_len], &digits[int_len..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-42"), Some(-42));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"1.0",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn floats_follow_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"5.0e3"), Some(5000.0));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        for bad in [&b""[..], b" 1", b"1 ", b"nan", b"abc", b"1e"] {
            assert_eq!(parse_f64(bad), None);
        }
    }

    #[test]
    fn doubles_print_like_redis() {
        assert_eq!(format_double(1.0), "1");
        assert_eq!(format_double(1.5), "1.5");
        assert_eq!(format_double(-2.25), "-2.25");
        assert_eq!(format_double(f64::INFINITY), "inf");
        assert_eq!(format_double(f64::NEG_INFINITY), "-inf");
        assert_eq!(format_double(1e21), "1e+21");
        assert_eq!(format_double(0.0001), "0.0001");
        assert_eq!(format_double(0.00001), "1e-05");
        assert_eq!(format_double(1234567.0), "1234567");
    }

    #[test]
    fn incr_floats_print_like_redis() {
        assert_eq!(format_incr_float(10.5), "10.5");
        assert_eq!(format_incr_float(5.0e3), "5000");
        assert_eq!(format_incr_float(10.5 + 0.1), "10.6");
        assert_eq!(format_incr_float(0.1 + 0.2), "0.3");
        assert_eq!(format_incr_float(-0.5), "-0.5");
        assert_eq!(format_incr_float(3.0), "3");
        assert_eq!(format_incr_float(1e20), "100000000000000000000");
        assert_eq!(format_incr_float(1e-20), "0");
        assert_eq!(format_incr_float(1.5e-10), "0.00000000015");
    }
}
