//! Argument parsing shared by the handlers.

use std::time::Duration;

use crate::error::KvError;
use crate::numbers::{parse_f64, parse_i64};

/// An integer argument.
pub(crate) fn int(arg: &[u8]) -> Result<i64, KvError> {
    parse_i64(arg).ok_or(KvError::NotInteger)
}

/// True when `arg` is `word`, ignoring ASCII case.
pub(crate) fn is(arg: &[u8], word: &str) -> bool {
    arg.eq_ignore_ascii_case(word.as_bytes())
}

/// A count that must not be negative (LPOP, SPOP, ZPOPMIN...).
pub(crate) fn positive_count(arg: &[u8]) -> Result<usize, KvError> {
    let n = int(arg).map_err(|_| KvError::err("value is out of range, must be positive"))?;
    usize::try_from(n).map_err(|_| KvError::err("value is out of range, must be positive"))
}

/// A blocking-command timeout in seconds (fractions allowed); `None` means forever.
pub(crate) fn timeout(arg: &[u8]) -> Result<Option<Duration>, KvError> {
    let secs = parse_f64(arg)
        .filter(|s| s.is_finite())
        .ok_or_else(|| KvError::err("timeout is not a float or out of range"))?;
    if secs < 0.0 {
        return Err(KvError::err("timeout is negative"));
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Duration::try_from_secs_f64(secs)
        .map(Some)
        .map_err(|_| KvError::err("timeout is not a float or out of range"))
}

/// Resolves Redis start/stop indexes (negative from the end) over `len` elements to an
/// inclusive range, or `None` when it selects nothing.
pub(crate) fn index_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (len + start).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        len + stop
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len && stop >= 0).then_some((start as usize, stop as usize))
}

/// Lossy text of an argument, for error messages.
pub(crate) fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(arg).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_ranges_match_lrange() {
        assert_eq!(index_range(0, -1, 3), Some((0, 2)));
        assert_eq!(index_range(-100, 100, 3), Some((0, 2)));
        assert_eq!(index_range(2, 1, 3), None);
        assert_eq!(index_range(5, 10, 3), None);
        assert_eq!(index_range(0, -4, 3), None);
        assert_eq!(index_range(0, 0, 0), None);
    }

    #[test]
    fn timeouts() {
        assert_eq!(timeout(b"0"), Ok(None));
        assert_eq!(timeout(b"1.5"), Ok(Some(Duration::from_millis(1500))));
        assert_eq!(
            timeout(b"-1").unwrap_err().to_string(),
            "ERR timeout is negative"
        );
        assert_eq!(
            timeout(b"x").unwrap_err().to_string(),
            "ERR timeout is not a float or out of range"
        );
    }
}
