//! The `Date` header value, cached per thread.
//!
//! Formatting an IMF-fixdate costs far more than comparing two integers, and
//! the value only changes once per second, so every executor thread keeps the
//! last formatted date and refreshes it when the wall-clock second changes.

use std::cell::Cell;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use httpdate::HttpDate;

/// Length of an IMF-fixdate such as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const HTTP_DATE_LEN: usize = 29;

/// First second of the year 10000, which an IMF-fixdate cannot represent.
const YEAR_10000_UNIX_SECS: u64 = 253_402_300_800;

/// The epoch itself, used if formatting ever fails.
const EPOCH_HTTP_DATE: [u8; HTTP_DATE_LEN] = *b"Thu, 01 Jan 1970 00:00:00 GMT";

/// One formatted date and the Unix second it describes.
#[derive(Clone, Copy)]
struct CachedDate {
    unix_secs: u64,
    text: [u8; HTTP_DATE_LEN],
}

thread_local! {
    static CACHED_DATE: Cell<Option<CachedDate>> = const { Cell::new(None) };
}

/// Calls `f` with the current time formatted as an IMF-fixdate
/// (`Sun, 06 Nov 1994 08:49:37 GMT`), the format of the `Date` header.
///
/// The formatted value is cached per thread and re-formatted at most once per
/// wall-clock second. `f` may itself call `with_http_date`.
pub fn with_http_date<R>(f: impl FnOnce(&[u8]) -> R) -> R {
    let unix_secs = current_unix_secs();
    let text = CACHED_DATE.with(|cache| match cache.get() {
        Some(cached) if cached.unix_secs == unix_secs => cached.text,
        _ => {
            let text = format_http_date(unix_secs);
            cache.set(Some(CachedDate { unix_secs, text }));
            text
        }
    });
    f(&text)
}

/// Seconds since the Unix epoch, clamped to the range an IMF-fixdate can show.
fn current_unix_secs() -> u64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    since_epoch.as_secs().min(YEAR_10000_UNIX_SECS - 1)
}

/// Formats `unix_secs` (which must be before the year 10000) as an IMF-fixdate.
fn format_http_date(unix_secs: u64) -> [u8; HTTP_DATE_LEN] {
    let date = HttpDate::from(UNIX_EPOCH + Duration::from_secs(unix_secs));
    let mut text = [0u8; HTTP_DATE_LEN];
    let mut cursor = &mut text[..];
    match write!(cursor, "{date}") {
        Ok(()) if cursor.is_empty() => text,
        _ => EPOCH_HTTP_DATE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_known_instants() {
        assert_eq!(&format_http_date(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &format_http_date(784_111_777),
            b"Sun, 06 Nov 1994 08:49:37 GMT"
        );
        assert_eq!(
            &format_http_date(YEAR_10000_UNIX_SECS - 1),
            b"Fri, 31 Dec 9999 23:59:59 GMT"
        );
    }

    #[test]
    fn current_date_round_trips_through_a_parser() {
        let text = with_http_date(|date| String::from_utf8(date.to_vec()).unwrap());
        assert_eq!(text.len(), HTTP_DATE_LEN);
        let parsed = httpdate::parse_http_date(&text).unwrap();
        let age = SystemTime::now().duration_since(parsed).unwrap();
        assert!(age < Duration::from_secs(5));
    }

    #[test]
    fn nested_calls_are_allowed() {
        let (outer, inner) =
            with_http_date(|outer| (outer.to_vec(), with_http_date(|inner| inner.to_vec())));
        // Both calls may straddle a second boundary; they must still be well-formed.
        assert_eq!(outer.len(), HTTP_DATE_LEN);
        assert_eq!(inner.len(), HTTP_DATE_LEN);
    }

    #[test]
    fn cache_is_refreshed_when_the_second_changes() {
        CACHED_DATE.with(|cache| {
            cache.set(Some(CachedDate {
                unix_secs: 0,
                text: EPOCH_HTTP_DATE,
            }))
        });
        let text = with_http_date(<[u8]>::to_vec);
        assert_ne!(text, EPOCH_HTTP_DATE);
    }
}
