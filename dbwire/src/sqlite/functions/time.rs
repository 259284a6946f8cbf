//! Date and time functions: NOW, UNIX_TIMESTAMP, DATE_ADD, DATE_FORMAT, TIMESTAMPDIFF, ...
//! Dates are MySQL's text forms; the clock is UTC.

use rusqlite::functions::Context;
use rusqlite::types::{Value as SqlValue, ValueRef};
use rusqlite::Connection;

use super::datetime::{self, DateTime, Interval, Parsed, TimeOfDay};
use super::{define, float_to_i64, integer_arg, number_of, text_arg, Purity};

const MICROS_PER_SECOND: i64 = 1_000_000;

pub(super) fn register(conn: &Connection) -> rusqlite::Result<()> {
    register_clock(conn)?;
    register_arithmetic(conn)?;
    register_fields(conn)
}

fn register_clock(conn: &Connection) -> rusqlite::Result<()> {
    use Purity::{Deterministic, Volatile};
    define(conn, "now", 0, Volatile, |_| {
        Ok(DateTime::now().to_mysql_string(true))
    })?;
    define(conn, "now", 1, Volatile, |ctx| {
        Ok(now_with_precision(integer_arg(ctx, 0)))
    })?;
    define(conn, "curdate", 0, Volatile, |_| {
        Ok(DateTime::now().to_mysql_string(false))
    })?;
    define(conn, "curtime", 0, Volatile, |_| {
        Ok(time_text(&DateTime::now()))
    })?;
    define(conn, "curtime", 1, Volatile, |_| {
        Ok(time_text(&DateTime::now()))
    })?;
    define(conn, "unix_timestamp", 0, Volatile, |_| {
        Ok(DateTime::now()
            .unix_micros()
            .map(|micros| micros / MICROS_PER_SECOND))
    })?;
    define(conn, "unix_timestamp", 1, Deterministic, |ctx| {
        Ok(unix_timestamp(ctx))
    })?;
    define(conn, "from_unixtime", 1, Deterministic, |ctx| {
        Ok(from_unixtime(ctx).map(|value| value.to_mysql_string(true)))
    })?;
    define(conn, "from_unixtime", 2, Deterministic, |ctx| {
        Ok(from_unixtime(ctx)
            .zip(text_arg(ctx, 1))
            .and_then(|(value, f)| value.format(&f)))
    })
}

fn register_arithmetic(conn: &Connection) -> rusqlite::Result<()> {
    use Purity::Deterministic;
    define(conn, "date_add", 3, Deterministic, |ctx| {
        Ok(shift(ctx, 0, 1, 2, false))
    })?;
    define(conn, "date_sub", 3, Deterministic, |ctx| {
        Ok(shift(ctx, 0, 1, 2, true))
    })?;
    define(conn, "timestampadd", 3, Deterministic, |ctx| {
        Ok(shift(ctx, 2, 1, 0, false))
    })?;
    define(conn, "timestampdiff", 3, Deterministic, |ctx| {
        Ok(timestamp_diff(ctx))
    })?;
    define(conn, "datediff", 2, Deterministic, |ctx| {
        let days = |index| date_arg(ctx, index).and_then(|d| d.value.days_since_epoch());
        Ok(days(0).zip(days(1)).map(|(a, b)| a - b))
    })?;
    define(conn, "to_days", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).and_then(|d| d.value.to_days()))
    })?;
    define(conn, "last_day", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0)
            .and_then(|d| d.value.last_day_of_month())
            .map(|d| d.to_mysql_string(false)))
    })?;
    define(conn, "str_to_date", 2, Deterministic, |ctx| {
        Ok(str_to_date(ctx))
    })
}

fn register_fields(conn: &Connection) -> rusqlite::Result<()> {
    use Purity::Deterministic;
    define(conn, "date_format", 2, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0)
            .zip(text_arg(ctx, 1))
            .and_then(|(d, f)| d.value.format(&f)))
    })?;
    define(conn, "year", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).map(|d| i64::from(d.value.year)))
    })?;
    define(conn, "month", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).map(|d| d.value.month))
    })?;
    for name in ["day", "dayofmonth"] {
        define(conn, name, 1, Deterministic, |ctx| {
            Ok(date_arg(ctx, 0).map(|d| d.value.day))
        })?;
    }
    define(conn, "hour", 1, Deterministic, |ctx| {
        Ok(time_arg(ctx, 0).map(|t| t.hour))
    })?;
    define(conn, "minute", 1, Deterministic, |ctx| {
        Ok(time_arg(ctx, 0).map(|t| t.minute))
    })?;
    define(conn, "second", 1, Deterministic, |ctx| {
        Ok(time_arg(ctx, 0).map(|t| t.second))
    })?;
    define(conn, "weekday", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).and_then(|d| d.value.weekday()))
    })?;
    define(conn, "dayofweek", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0)
            .and_then(|d| d.value.weekday())
            .map(|w| (w + 1) % 7 + 1))
    })?;
    define(conn, "dayofyear", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).and_then(|d| d.value.day_of_year()))
    })?;
    define(conn, "dayname", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).and_then(|d| d.value.format("%W")))
    })?;
    define(conn, "monthname", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).and_then(|d| d.value.format("%M")))
    })?;
    define(conn, "quarter", 1, Deterministic, |ctx| {
        Ok(date_arg(ctx, 0).map(|d| d.value.month.div_ceil(3)))
    })?;
    define(conn, "week", 1, Deterministic, |ctx| {
        Ok(week(ctx, Some(0), false))
    })?;
    define(conn, "week", 2, Deterministic, |ctx| {
        Ok(week(ctx, integer_arg(ctx, 1), false))
    })?;
    define(conn, "yearweek", 1, Deterministic, |ctx| {
        Ok(week(ctx, Some(0), true))
    })?;
    define(conn, "yearweek", 2, Deterministic, |ctx| {
        Ok(week(ctx, integer_arg(ctx, 1), true))
    })?;
    define(conn, "extract", 2, Deterministic, |ctx| Ok(extract(ctx)))
}

fn now_with_precision(precision: Option<i64>) -> String {
    let now = DateTime::now();
    let digits = usize::try_from(precision.unwrap_or(0).clamp(0, 6)).unwrap_or(0);
    let whole = DateTime { micro: 0, ..now }.to_mysql_string(true);
    if digits == 0 {
        return whole;
    }
    let fraction = format!("{:06}", now.micro);
    format!("{whole}.{}", &fraction[..digits])
}

fn time_text(value: &DateTime) -> String {
    format!("{:02}:{:02}:{:02}", value.hour, value.minute, value.second)
}

/// Argument `index` as a date; `None` for NULL or text that is no date.
fn date_arg(ctx: &Context<'_>, index: usize) -> Option<Parsed> {
    datetime::parse(&text_arg(ctx, index)?)
}

/// Argument `index` as a time of day (a TIME, or the time part of a DATETIME).
fn time_arg(ctx: &Context<'_>, index: usize) -> Option<TimeOfDay> {
    datetime::parse_time_of_day(&text_arg(ctx, index)?)
}

/// `UNIX_TIMESTAMP(d)`: seconds since the epoch (fractional when `d` has microseconds); 0 for
/// zero dates, NULL for text that is no date.
fn unix_timestamp(ctx: &Context<'_>) -> SqlValue {
    let Some(parsed) = date_arg(ctx, 0) else {
        return SqlValue::Null;
    };
    let Some(micros) = parsed.value.unix_micros() else {
        return SqlValue::Integer(0);
    };
    if micros % MICROS_PER_SECOND == 0 {
        SqlValue::Integer(micros / MICROS_PER_SECOND)
    } else {
        SqlValue::Real(micros as f64 / 1e6)
    }
}

/// The date `FROM_UNIXTIME(seconds)` names; `None` for NULL or negative seconds.
fn from_unixtime(ctx: &Context<'_>) -> Option<DateTime> {
    let micros = match ctx.get_raw(0) {
        ValueRef::Null => return None,
        ValueRef::Integer(seconds) => seconds.checked_mul(MICROS_PER_SECOND)?,
        other => {
            let seconds = number_of(other);
            if !seconds.is_finite() || seconds.abs() > 1e12 {
                return None;
            }
            float_to_i64((seconds * 1e6).round())
        }
    };
    if micros < 0 {
        return None;
    }
    DateTime::from_unix_micros(micros)
}

/// `date_add(d, amount, unit)` / `date_sub(...)` / `timestampadd(unit, amount, d)`, with the
/// arguments at the given positions. DATE in, DATE out for whole-day units.
fn shift(
    ctx: &Context<'_>,
    date: usize,
    amount: usize,
    unit: usize,
    subtract: bool,
) -> Option<String> {
    let parsed = date_arg(ctx, date)?;
    let unit = text_arg(ctx, unit)?;
    let mut interval = Interval::parse(&text_arg(ctx, amount)?, &unit)?;
    if subtract {
        interval = interval.negated();
    }
    let moved = parsed.value.add(interval)?;
    let with_time = parsed.has_time || !Interval::is_whole_days(&unit);
    Some(moved.to_mysql_string(with_time))
}

/// `TIMESTAMPDIFF(unit, a, b)`: `b - a` in whole units.
fn timestamp_diff(ctx: &Context<'_>) -> Option<i64> {
    let unit = text_arg(ctx, 0)?.trim().to_ascii_uppercase();
    let start = date_arg(ctx, 1)?.value;
    let end = date_arg(ctx, 2)?.value;
    let months = || start.months_until(&end);
    let micros = || Some(end.unix_micros()? - start.unix_micros()?);
    Some(match unit.as_str() {
        "YEAR" => months() / 12,
        "QUARTER" => months() / 3,
        "MONTH" => months(),
        "WEEK" => micros()? / (7 * 86_400 * MICROS_PER_SECOND),
        "DAY" => micros()? / (86_400 * MICROS_PER_SECOND),
        "HOUR" => micros()? / (3600 * MICROS_PER_SECOND),
        "MINUTE" => micros()? / (60 * MICROS_PER_SECOND),
        "SECOND" => micros()? / MICROS_PER_SECOND,
        "MICROSECOND" => micros()?,
        _ => return None,
    })
}

/// `STR_TO_DATE(text, format)`: a DATETIME, DATE or TIME string depending on the format.
fn str_to_date(ctx: &Context<'_>) -> Option<String> {
    let parsed = datetime::parse_with_format(&text_arg(ctx, 0)?, &text_arg(ctx, 1)?)?;
    let value = parsed.value;
    Some(match (parsed.has_date, parsed.has_time) {
        (true, true) => value.to_mysql_string(true),
        (false, true) => time_text(&value),
        _ => value.to_mysql_string(false),
    })
}

/// `WEEK(d[, mode])`, or with `year_week` `YEARWEEK(d[, mode])` (year * 100 + week).
fn week(ctx: &Context<'_>, mode: Option<i64>, year_week: bool) -> Option<i64> {
    let mode = u32::try_from(mode?.rem_euclid(8)).ok()?;
    let (week, year) = date_arg(ctx, 0)?.value.week_of_year(mode, year_week)?;
    Some(if year_week { year * 100 + week } else { week })
}

/// `EXTRACT(unit FROM d)`, called as `extract(unit, d)`.
fn extract(ctx: &Context<'_>) -> Option<i64> {
    let unit = text_arg(ctx, 0)?.trim().to_ascii_uppercase();
    let text = text_arg(ctx, 1)?;
    let date = datetime::parse(&text).map(|parsed| parsed.value);
    let time = datetime::parse_time_of_day(&text)?;
    let (hour, minute, second, micro) = (
        i64::from(time.hour),
        i64::from(time.minute),
        i64::from(time.second),
        i64::from(time.micro),
    );
    let day = || date.map(|d| i64::from(d.day));
    Some(match unit.as_str() {
        "YEAR" => i64::from(date?.year),
        "QUARTER" => i64::from(date?.month.div_ceil(3)),
        "MONTH" => i64::from(date?.month),
        "WEEK" => date?.week_of_year(0, false)?.0,
        "DAY" => day()?,
        "HOUR" => hour,
        "MINUTE" => minute,
        "SECOND" => second,
        "MICROSECOND" => micro,
        "YEAR_MONTH" => i64::from(date?.year) * 100 + i64::from(date?.month),
        "DAY_HOUR" => day()? * 100 + hour,
        "DAY_MINUTE" => (day()? * 100 + hour) * 100 + minute,
        "DAY_SECOND" => ((day()? * 100 + hour) * 100 + minute) * 100 + second,
        "HOUR_MINUTE" => hour * 100 + minute,
        "HOUR_SECOND" => (hour * 100 + minute) * 100 + second,
        "MINUTE_SECOND" => minute * 100 + second,
        "SECOND_MICROSECOND" => second * MICROS_PER_SECOND + micro,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{connection, int_of, query, text_of};
    use rusqlite::types::Value as SqlValue;

    #[test]
    fn clock() {
        let (conn, _) = connection();
        let now = text_of(&conn, "SELECT now()");
        assert!(super::datetime::parse(&now).unwrap().has_time);
        assert_eq!(now.len(), 19);
        assert_eq!(text_of(&conn, "SELECT now(3)").len(), 23);
        assert_eq!(text_of(&conn, "SELECT curdate()").len(), 10);
        assert_eq!(text_of(&conn, "SELECT curtime()").len(), 8);
        assert!(int_of(&conn, "SELECT unix_timestamp()") > 1_700_000_000);
        assert_eq!(
            int_of(&conn, "SELECT unix_timestamp('1970-01-02 00:00:00')"),
            86_400
        );
        assert_eq!(
            int_of(&conn, "SELECT unix_timestamp('0000-00-00 00:00:00')"),
            0
        );
        assert_eq!(
            query(&conn, "SELECT unix_timestamp('junk')"),
            SqlValue::Null
        );
        assert_eq!(
            text_of(&conn, "SELECT from_unixtime(86400)"),
            "1970-01-02 00:00:00"
        );
        assert_eq!(text_of(&conn, "SELECT from_unixtime(86400, '%Y')"), "1970");
        assert_eq!(query(&conn, "SELECT from_unixtime(NULL)"), SqlValue::Null);
    }

    #[test]
    fn arithmetic() {
        let (conn, _) = connection();
        assert_eq!(
            text_of(&conn, "SELECT date_add('2024-01-31', 1, 'MONTH')"),
            "2024-02-29"
        );
        assert_eq!(
            text_of(
                &conn,
                "SELECT date_add('2024-01-31 10:00:00', 90, 'MINUTE')"
            ),
            "2024-01-31 11:30:00"
        );
        assert_eq!(
            text_of(&conn, "SELECT date_sub('2024-01-01', 1, 'SECOND')"),
            "2023-12-31 23:59:59"
        );
        assert_eq!(
            query(&conn, "SELECT date_add('nonsense', 1, 'DAY')"),
            SqlValue::Null
        );
        assert_eq!(
            text_of(&conn, "SELECT timestampadd('DAY', 2, '2024-01-01')"),
            "2024-01-03"
        );
        assert_eq!(
            int_of(
                &conn,
                "SELECT timestampdiff('MONTH', '2024-01-31', '2024-03-30')"
            ),
            1
        );
        assert_eq!(
            int_of(
                &conn,
                "SELECT timestampdiff('HOUR', '2024-01-01 12:00', '2024-01-01 09:30')"
            ),
            -2
        );
        assert_eq!(
            int_of(
                &conn,
                "SELECT timestampdiff('YEAR', '2000-06-01', '2024-05-31')"
            ),
            23
        );
        assert_eq!(
            int_of(&conn, "SELECT datediff('2024-03-01', '2024-02-01')"),
            29
        );
        assert_eq!(int_of(&conn, "SELECT to_days('2007-10-07')"), 733_321);
        assert_eq!(
            text_of(&conn, "SELECT last_day('2023-02-10 08:00:00')"),
            "2023-02-28"
        );
        assert_eq!(
            text_of(&conn, "SELECT str_to_date('09/03/2024', '%d/%m/%Y')"),
            "2024-03-09"
        );
        assert_eq!(
            query(&conn, "SELECT str_to_date('x', '%Y')"),
            SqlValue::Null
        );
    }

    #[test]
    fn fields() {
        let (conn, _) = connection();
        assert_eq!(
            text_of(
                &conn,
                "SELECT date_format('2024-03-09 14:05:07', '%d/%m/%Y %H:%i')"
            ),
            "09/03/2024 14:05"
        );
        assert_eq!(int_of(&conn, "SELECT year('2024-03-09')"), 2024);
        assert_eq!(int_of(&conn, "SELECT month('2024-03-09')"), 3);
        assert_eq!(int_of(&conn, "SELECT dayofmonth('2024-03-09')"), 9);
        assert_eq!(int_of(&conn, "SELECT hour('2024-03-09 14:05:07')"), 14);
        assert_eq!(int_of(&conn, "SELECT minute('14:05:07')"), 5);
        assert_eq!(int_of(&conn, "SELECT second('2024-03-09 14:05:07')"), 7);
        assert_eq!(int_of(&conn, "SELECT weekday('2024-03-11')"), 0);
        assert_eq!(int_of(&conn, "SELECT dayofweek('2024-03-10')"), 1);
        assert_eq!(int_of(&conn, "SELECT year('0000-00-00 00:00:00')"), 0);
        assert_eq!(text_of(&conn, "SELECT monthname('2024-03-09')"), "March");
        assert_eq!(int_of(&conn, "SELECT quarter('2024-08-01')"), 3);
        assert_eq!(int_of(&conn, "SELECT week('2024-01-01')"), 0);
        assert_eq!(int_of(&conn, "SELECT week('2024-01-01', 3)"), 1);
        assert_eq!(int_of(&conn, "SELECT yearweek('2021-01-01')"), 202_052);
        assert_eq!(
            int_of(&conn, "SELECT extract('YEAR_MONTH', '2024-03-09 14:05:07')"),
            202_403
        );
        assert_eq!(
            int_of(&conn, "SELECT extract('HOUR', '2024-03-09 14:05:07')"),
            14
        );
    }
}
