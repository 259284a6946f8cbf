//! MySQL DATE and DATETIME values: MySQL's forgiving literal syntax, calendar arithmetic for
//! `DATE_ADD`/`DATE_SUB`, and `DATE_FORMAT`.
//!
//! Values carry no time zone: like MySQL's DATETIME they are wall-clock readings. The session
//! time zone is UTC, so `NOW()` and `FROM_UNIXTIME()` read the clock in UTC.

use std::fmt::Write as _;
use std::time::{SystemTime, UNIX_EPOCH};

const MICROS_PER_SECOND: i64 = 1_000_000;
/// MySQL's `TO_DAYS('1970-01-01')`.
const DAYS_FROM_YEAR_ZERO_TO_EPOCH: i64 = 719_528;
const SECONDS_PER_DAY: i64 = 86_400;

const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Day names, Monday first (MySQL's WEEKDAY() order).
const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A calendar date and time of day. Month and day may be zero, as in MySQL's
/// `'0000-00-00 00:00:00'`; such "zero dates" support field extraction but not arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DateTime {
    /// Year, 0..=9999.
    pub year: i32,
    /// Month, 1..=12 (0 in a zero date).
    pub month: u32,
    /// Day of month, 1..=31 (0 in a zero date).
    pub day: u32,
    /// Hour, 0..=23.
    pub hour: u32,
    /// Minute, 0..=59.
    pub minute: u32,
    /// Second, 0..=59.
    pub second: u32,
    /// Microseconds, 0..=999_999.
    pub micro: u32,
}

/// A parsed literal: the value and whether the text had a time part (DATE vs DATETIME).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parsed {
    /// The value; the time is midnight when the text had none.
    pub value: DateTime,
    /// True when the text carried a time of day.
    pub has_time: bool,
}

/// A time of day (or a TIME value's hours, which may exceed 23).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeOfDay {
    /// Hours.
    pub hour: u32,
    /// Minutes.
    pub minute: u32,
    /// Seconds.
    pub second: u32,
    /// Microseconds.
    pub micro: u32,
}

impl DateTime {
    /// The current UTC time.
    pub fn now() -> DateTime {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let seconds = i64::try_from(since_epoch.as_secs()).unwrap_or(i64::MAX);
        DateTime::from_unix_micros(seconds.saturating_mul(MICROS_PER_SECOND))
            .unwrap_or(DateTime::ZERO)
    }

    /// `'0000-00-00 00:00:00'`.
    pub const ZERO: DateTime = DateTime {
        year: 0,
        month: 0,
        day: 0,
        hour: 0,
        minute: 0,
        second: 0,
        micro: 0,
    };

    /// The UTC date and time `micros` microseconds after the Unix epoch; `None` outside
    /// years 0..=9999.
    pub fn from_unix_micros(micros: i64) -> Option<DateTime> {
        let seconds = micros.div_euclid(MICROS_PER_SECOND);
        let micro = micros.rem_euclid(MICROS_PER_SECOND);
        let days = seconds.div_euclid(SECONDS_PER_DAY);
        let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        if !(0..=9999).contains(&year) {
            return None;
        }
        Some(DateTime {
            year: i32::try_from(year).ok()?,
            month,
            day,
            hour: u32::try_from(second_of_day / 3600).ok()?,
            minute: u32::try_from(second_of_day / 60 % 60).ok()?,
            second: u32::try_from(second_of_day % 60).ok()?,
            micro: u32::try_from(micro).ok()?,
        })
    }

    /// True for dates with a zero month or day, which MySQL stores but cannot compute with.
    pub fn is_zero_date(&self) -> bool {
        self.month == 0 || self.day == 0
    }

    /// Days since 1970-01-01; `None` for zero dates.
    pub fn days_since_epoch(&self) -> Option<i64> {
        if self.is_zero_date() {
            return None;
        }
        Some(days_from_civil(i64::from(self.year), self.month, self.day))
    }

    /// Microseconds since the Unix epoch, reading the value as UTC; `None` for zero dates.
    pub fn unix_micros(&self) -> Option<i64> {
        let days = self.days_since_epoch()?;
        let seconds = days * SECONDS_PER_DAY
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second);
        Some(seconds * MICROS_PER_SECOND + i64::from(self.micro))
    }

    /// Day of the week, Monday = 0 (MySQL's `WEEKDAY()`); `None` for zero dates.
    pub fn weekday(&self) -> Option<u32> {
        let days = self.days_since_epoch()?;
        u32::try_from((days + 3).rem_euclid(7)).ok()
    }

    /// Day of the year, 1..=366; `None` for zero dates.
    pub fn day_of_year(&self) -> Option<u32> {
        let days = self.days_since_epoch()?;
        let first = days_from_civil(i64::from(self.year), 1, 1);
        u32::try_from(days - first + 1).ok()
    }

    /// MySQL's `TO_DAYS()`: days since year 0; `None` for zero dates.
    pub fn to_days(self) -> Option<i64> {
        Some(self.days_since_epoch()? + DAYS_FROM_YEAR_ZERO_TO_EPOCH)
    }

    /// The last day of the value's month (time dropped); `None` for zero dates.
    pub fn last_day_of_month(&self) -> Option<DateTime> {
        if self.month == 0 {
            return None;
        }
        let day = days_in_month(i64::from(self.year), self.month);
        Some(DateTime {
            day,
            hour: 0,
            minute: 0,
            second: 0,
            micro: 0,
            ..*self
        })
    }

    /// MySQL's `WEEK(date, mode)` and, with `year_of_week`, the year that week belongs to
    /// (as `YEARWEEK()` reports); `None` for zero dates.
    pub fn week_of_year(&self, mode: u32, year_of_week: bool) -> Option<(i64, i64)> {
        let mut rule = WeekRule::from_mode(mode);
        rule.week_year |= year_of_week;
        self.week(rule)
    }

    /// Whole months from `self` to `later` (negative when `later` is earlier), counting a
    /// month only once its day and time are reached, as `TIMESTAMPDIFF(MONTH, ...)` does.
    pub fn months_until(&self, later: &DateTime) -> i64 {
        let (start, end, sign) = if later >= self {
            (self, later, 1)
        } else {
            (later, self, -1)
        };
        let mut months = (i64::from(end.year) - i64::from(start.year)) * 12 + i64::from(end.month)
            - i64::from(start.month);
        let end_rest = (end.day, end.hour, end.minute, end.second, end.micro);
        let start_rest = (
            start.day,
            start.hour,
            start.minute,
            start.second,
            start.micro,
        );
        if end_rest < start_rest {
            months -= 1;
        }
        sign * months
    }

    /// The value moved by `interval`; `None` for zero dates or when the result leaves
    /// years 0..=9999. Month arithmetic clamps the day to the target month's length.
    pub fn add(&self, interval: Interval) -> Option<DateTime> {
        if self.is_zero_date() {
            return None;
        }
        let mut moved = *self;
        if interval.months != 0 {
            let month_index = i64::from(self.year) * 12 + i64::from(self.month) - 1;
            let target = month_index.checked_add(interval.months)?;
            moved.year = i32::try_from(target.div_euclid(12)).ok()?;
            moved.month = u32::try_from(target.rem_euclid(12) + 1).ok()?;
            moved.day = moved
                .day
                .min(days_in_month(i64::from(moved.year), moved.month));
            if !(0..=9999).contains(&moved.year) {
                return None;
            }
        }
        if interval.micros == 0 {
            return Some(moved);
        }
        DateTime::from_unix_micros(moved.unix_micros()?.checked_add(interval.micros)?)
    }

    /// MySQL's text form: `YYYY-MM-DD` when `with_time` is false, else
    /// `YYYY-MM-DD HH:MM:SS` with `.ffffff` appended when there are microseconds.
    pub fn to_mysql_string(self, with_time: bool) -> String {
        let mut text = format!("{:04}-{:02}-{:02}", self.year, self.month, self.day);
        if with_time {
            let _ = write!(
                text,
                " {:02}:{:02}:{:02}",
                self.hour, self.minute, self.second
            );
            if self.micro != 0 {
                let _ = write!(text, ".{:06}", self.micro);
            }
        }
        text
    }

    /// Formats the value with MySQL `DATE_FORMAT` specifiers (`%Y`, `%m`, `%d`, `%H`, `%i`,
    /// `%s`, `%W`, `%M`, `%j`, `%U`, ...). `None` for zero dates, which MySQL cannot format.
    pub fn format(&self, pattern: &str) -> Option<String> {
        let weekday = self.weekday()?;
        let mut out = String::with_capacity(pattern.len() + 8);
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some(spec) => self.format_specifier(spec, weekday, &mut out)?,
                None => out.push('%'),
            }
        }
        Some(out)
    }

    fn format_specifier(&self, spec: char, weekday: u32, out: &mut String) -> Option<()> {
        let month_name = MONTH_NAMES.get(usize::try_from(self.month).ok()?.checked_sub(1)?)?;
        let day_name = DAY_NAMES.get(usize::try_from(weekday).ok()?)?;
        let hour12 = match self.hour % 12 {
            0 => 12,
            h => h,
        };
        let meridiem = if self.hour < 12 { "AM" } else { "PM" };
        let _ = match spec {
            'a' => write!(out, "{}", &day_name[..3]),
            'b' => write!(out, "{}", &month_name[..3]),
            'c' => write!(out, "{}", self.month),
            'D' => write!(out, "{}{}", self.day, ordinal_suffix(self.day)),
            'd' => write!(out, "{:02}", self.day),
            'e' => write!(out, "{}", self.day),
            'f' => write!(out, "{:06}", self.micro),
            'H' => write!(out, "{:02}", self.hour),
            'h' | 'I' => write!(out, "{hour12:02}"),
            'i' => write!(out, "{:02}", self.minute),
            'j' => write!(out, "{:03}", self.day_of_year()?),
            'k' => write!(out, "{}", self.hour),
            'l' => write!(out, "{hour12}"),
            'M' => write!(out, "{month_name}"),
            'm' => write!(out, "{:02}", self.month),
            'p' => write!(out, "{meridiem}"),
            'r' => write!(
                out,
                "{hour12:02}:{:02}:{:02} {meridiem}",
                self.minute, self.second
            ),
            'S' | 's' => write!(out, "{:02}", self.second),
            'T' => write!(
                out,
                "{:02}:{:02}:{:02}",
                self.hour, self.minute, self.second
            ),
            'U' => write!(out, "{:02}", self.week(WeekRule::SUNDAY_FIRST_WEEKDAY)?.0),
            'u' => write!(out, "{:02}", self.week(WeekRule::MONDAY_FOUR_DAYS)?.0),
            'V' => write!(out, "{:02}", self.week(WeekRule::SUNDAY_WEEK_YEAR)?.0),
            'v' => write!(out, "{:02}", self.week(WeekRule::ISO)?.0),
            'W' => write!(out, "{day_name}"),
            'w' => write!(out, "{}", (weekday + 1) % 7),
            'X' => write!(out, "{:04}", self.week(WeekRule::SUNDAY_WEEK_YEAR)?.1),
            'x' => write!(out, "{:04}", self.week(WeekRule::ISO)?.1),
            'Y' => write!(out, "{:04}", self.year),
            'y' => write!(out, "{:02}", self.year.rem_euclid(100)),
            other => write!(out, "{other}"),
        };
        Some(())
    }

    /// The week number and the year it belongs to, by MySQL's `calc_week` rules.
    fn week(&self, rule: WeekRule) -> Option<(i64, i64)> {
        let day_number = self.days_since_epoch()?;
        let mut year = i64::from(self.year);
        let mut first_day = days_from_civil(year, 1, 1);
        let mut weekday = rule.weekday_of(first_day);
        let mut week_year = rule.week_year;
        let first_week_is_short = |weekday: i64| {
            if rule.first_weekday {
                weekday != 0
            } else {
                weekday >= 4
            }
        };

        if self.month == 1 && i64::from(self.day) <= 7 - weekday {
            if !week_year && first_week_is_short(weekday) {
                return Some((0, year));
            }
            week_year = true;
            year -= 1;
            let days = days_in_year(year);
            first_day -= days;
            weekday = (weekday + 53 * 7 - days).rem_euclid(7);
        }
        let days = if first_week_is_short(weekday) {
            day_number - (first_day + (7 - weekday))
        } else {
            day_number - (first_day - weekday)
        };
        if week_year && days >= 52 * 7 {
            let next_weekday = (weekday + days_in_year(year)).rem_euclid(7);
            if !first_week_is_short(next_weekday) {
                return Some((1, year + 1));
            }
        }
        Some((days / 7 + 1, year))
    }
}

/// The flags of MySQL's week modes, as `DATE_FORMAT`'s `%U %u %V %v` use them.
#[derive(Debug, Clone, Copy)]
struct WeekRule {
    /// Weeks start on Monday (else Sunday).
    monday_first: bool,
    /// Week numbers run 1..=53 and early January may belong to the previous year's last week.
    week_year: bool,
    /// Week 1 is the first week containing the first day of the week (else the first week
    /// with four or more days in the year).
    first_weekday: bool,
}

impl WeekRule {
    /// The rule of `WEEK(date, mode)`: bit 0 starts weeks on Monday, bit 1 numbers weeks
    /// 1..=53, bit 2 picks the first-day rule (flipped for Sunday-first modes, as MySQL does).
    fn from_mode(mode: u32) -> WeekRule {
        let mut behaviour = mode & 7;
        if behaviour & 1 == 0 {
            behaviour ^= 4;
        }
        WeekRule {
            monday_first: behaviour & 1 != 0,
            week_year: behaviour & 2 != 0,
            first_weekday: behaviour & 4 != 0,
        }
    }

    const SUNDAY_FIRST_WEEKDAY: WeekRule = WeekRule {
        monday_first: false,
        week_year: false,
        first_weekday: true,
    };
    const MONDAY_FOUR_DAYS: WeekRule = WeekRule {
        monday_first: true,
        week_year: false,
        first_weekday: false,
    };
    const SUNDAY_WEEK_YEAR: WeekRule = WeekRule {
        monday_first: false,
        week_year: true,
        first_weekday: true,
    };
    const ISO: WeekRule = WeekRule {
        monday_first: true,
        week_year: true,
        first_weekday: false,
    };

    /// Position of `day_number` in a week starting on this rule's first day (0-based).
    fn weekday_of(&self, day_number: i64) -> i64 {
        let offset = if self.monday_first { 3 } else { 4 };
        (day_number + offset).rem_euclid(7)
    }
}

/// An amount to add to a date: whole months plus exact microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Interval {
    /// Calendar months (years and quarters fold into this).
    pub months: i64,
    /// Exact time (weeks, days, hours, ... fold into this).
    pub micros: i64,
}

impl Interval {
    /// The interval `INTERVAL <amount> <unit>`, where `amount` is the text of the value (a
    /// number for simple units, e.g. `'1:30'` for `HOUR_MINUTE`). `None` for unknown units or
    /// malformed amounts.
    pub fn parse(amount: &str, unit: &str) -> Option<Interval> {
        let unit = unit.trim().to_ascii_uppercase();
        let parts: &[TimeUnit] = match unit.as_str() {
            "SECOND_MICROSECOND" => &[TimeUnit::Second, TimeUnit::Microsecond],
            "MINUTE_MICROSECOND" => &[TimeUnit::Minute, TimeUnit::Second, TimeUnit::Microsecond],
            "MINUTE_SECOND" => &[TimeUnit::Minute, TimeUnit::Second],
            "HOUR_MICROSECOND" => &[
                TimeUnit::Hour,
                TimeUnit::Minute,
                TimeUnit::Second,
                TimeUnit::Microsecond,
            ],
            "HOUR_SECOND" => &[TimeUnit::Hour, TimeUnit::Minute, TimeUnit::Second],
            "HOUR_MINUTE" => &[TimeUnit::Hour, TimeUnit::Minute],
            "DAY_MICROSECOND" => &[
                TimeUnit::Day,
                TimeUnit::Hour,
                TimeUnit::Minute,
                TimeUnit::Second,
                TimeUnit::Microsecond,
            ],
            "DAY_SECOND" => &[
                TimeUnit::Day,
                TimeUnit::Hour,
                TimeUnit::Minute,
                TimeUnit::Second,
            ],
            "DAY_MINUTE" => &[TimeUnit::Day, TimeUnit::Hour, TimeUnit::Minute],
            "DAY_HOUR" => &[TimeUnit::Day, TimeUnit::Hour],
            "YEAR_MONTH" => &[TimeUnit::Year, TimeUnit::Month],
            simple => return Interval::simple(amount, TimeUnit::from_name(simple)?),
        };
        Interval::compound(amount, parts)
    }

    /// True when the unit moves dates by whole days or more, so a DATE stays a DATE.
    pub fn is_whole_days(unit: &str) -> bool {
        matches!(
            unit.trim().to_ascii_uppercase().as_str(),
            "DAY" | "WEEK" | "MONTH" | "QUARTER" | "YEAR" | "YEAR_MONTH"
        )
    }

    /// The interval negated (for `DATE_SUB`).
    pub fn negated(self) -> Interval {
        Interval {
            months: -self.months,
            micros: -self.micros,
        }
    }

    fn simple(amount: &str, unit: TimeUnit) -> Option<Interval> {
        let value: f64 = amount.trim().parse().ok()?;
        if !value.is_finite() {
            return None;
        }
        if unit == TimeUnit::Second {
            let micros = (value * 1e6).round();
            return Some(Interval {
                months: 0,
                micros: float_to_i64(micros)?,
            });
        }
        unit.times(float_to_i64(value.round())?)
    }

    fn compound(amount: &str, parts: &[TimeUnit]) -> Option<Interval> {
        let trimmed = amount.trim();
        let negative = trimmed.starts_with('-');
        let groups: Vec<&str> = trimmed
            .split(|c: char| !c.is_ascii_digit())
            .filter(|g| !g.is_empty())
            .collect();
        if groups.is_empty() || groups.len() > parts.len() {
            return None;
        }
        // Too few groups means the leftmost units were left out.
        let units = &parts[parts.len() - groups.len()..];
        let mut total = Interval::default();
        for (unit, group) in units.iter().zip(&groups) {
            let count: i64 = if *unit == TimeUnit::Microsecond {
                format!("{group:0<6}").get(..6)?.parse().ok()?
            } else {
                group.parse().ok()?
            };
            let part = unit.times(count)?;
            total.months = total.months.checked_add(part.months)?;
            total.micros = total.micros.checked_add(part.micros)?;
        }
        Some(if negative { total.negated() } else { total })
    }
}

/// One unit of an `INTERVAL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeUnit {
    Microsecond,
    Second,
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Quarter,
    Year,
}

impl TimeUnit {
    fn from_name(name: &str) -> Option<TimeUnit> {
        Some(match name {
            "MICROSECOND" => TimeUnit::Microsecond,
            "SECOND" => TimeUnit::Second,
            "MINUTE" => TimeUnit::Minute,
            "HOUR" => TimeUnit::Hour,
            "DAY" => TimeUnit::Day,
            "WEEK" => TimeUnit::Week,
            "MONTH" => TimeUnit::Month,
            "QUARTER" => TimeUnit::Quarter,
            "YEAR" => TimeUnit::Year,
            _ => return None,
        })
    }

    /// `count` of this unit.
    fn times(self, count: i64) -> Option<Interval> {
        let micros_per_unit = match self {
            TimeUnit::Microsecond => 1,
            TimeUnit::Second => MICROS_PER_SECOND,
            TimeUnit::Minute => 60 * MICROS_PER_SECOND,
            TimeUnit::Hour => 3600 * MICROS_PER_SECOND,
            TimeUnit::Day => SECONDS_PER_DAY * MICROS_PER_SECOND,
            TimeUnit::Week => 7 * SECONDS_PER_DAY * MICROS_PER_SECOND,
            TimeUnit::Month => {
                return Some(Interval {
                    months: count,
                    micros: 0,
                })
            }
            TimeUnit::Quarter => {
                return Some(Interval {
                    months: count.checked_mul(3)?,
                    micros: 0,
                })
            }
            TimeUnit::Year => {
                return Some(Interval {
                    months: count.checked_mul(12)?,
                    micros: 0,
                })
            }
        };
        Some(Interval {
            months: 0,
            micros: count.checked_mul(micros_per_unit)?,
        })
    }
}

/// Parses MySQL's DATE/DATETIME literal forms: `YYYY-MM-DD[ HH:MM:SS[.ffffff]]` with any
/// punctuation as delimiters (also `T` between date and time), two-digit years, and the
/// all-digit forms `YYYYMMDD`, `YYMMDD`, `YYYYMMDDHHMMSS`, `YYMMDDHHMMSS`.
pub fn parse(text: &str) -> Option<Parsed> {
    let text = text.trim();
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) if whole.bytes().all(|b| b.is_ascii_digit()) => {
            (whole, Some(fraction))
        }
        _ => (text, None),
    };
    if !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) {
        return parse_digits(whole, fraction);
    }
    parse_delimited(text)
}

fn parse_digits(digits: &str, fraction: Option<&str>) -> Option<Parsed> {
    let (year_len, has_time) = match digits.len() {
        8 => (4, false),
        6 => (2, false),
        14 => (4, true),
        12 => (2, true),
        _ => return None,
    };
    let mut fields = vec![&digits[..year_len]];
    let mut rest = &digits[year_len..];
    while !rest.is_empty() {
        fields.push(&rest[..2]);
        rest = &rest[2..];
    }
    if let Some(fraction) = fraction.filter(|_| has_time) {
        fields.push(fraction);
    }
    build(&fields, has_time)
}

fn parse_delimited(text: &str) -> Option<Parsed> {
    let mut fields: Vec<&str> = Vec::with_capacity(7);
    let mut start = None;
    for (index, c) in text.char_indices() {
        match (c.is_ascii_digit(), start) {
            (true, None) => start = Some(index),
            (false, Some(from)) => {
                fields.push(&text[from..index]);
                start = None;
            }
            _ => {}
        }
        if fields.len() > 7 {
            return None;
        }
    }
    if let Some(from) = start {
        fields.push(&text[from..]);
    }
    if fields.len() < 3 || fields.len() > 7 {
        return None;
    }
    let has_time = fields.len() > 3;
    build(&fields, has_time)
}

/// Builds a value from year, month, day[, hour, minute, second[, fraction]] digit strings.
fn build(fields: &[&str], has_time: bool) -> Option<Parsed> {
    let number = |index: usize| -> Option<u32> {
        match fields.get(index) {
            Some(field) if field.len() <= 9 => field.parse().ok(),
            Some(_) => None,
            None => Some(0),
        }
    };
    let year_field = fields.first()?;
    let mut year = i32::try_from(number(0)?).ok()?;
    if year_field.len() <= 2 {
        year += if year < 70 { 2000 } else { 1900 };
    }
    let micro = match fields.get(6) {
        Some(fraction) => format!("{fraction:0<6}").get(..6)?.parse().ok()?,
        None => 0,
    };
    let value = DateTime {
        year,
        month: number(1)?,
        day: number(2)?,
        hour: number(3)?,
        minute: number(4)?,
        second: number(5)?,
        micro,
    };
    is_valid(&value).then_some(Parsed { value, has_time })
}

fn is_valid(value: &DateTime) -> bool {
    let day_ok = value.day == 0
        || value.month == 0
        || value.day <= days_in_month(i64::from(value.year), value.month);
    (0..=9999).contains(&value.year)
        && value.month <= 12
        && value.day <= 31
        && day_ok
        && value.hour < 24
        && value.minute < 60
        && value.second < 60
}

/// Parses the time of day in a DATETIME literal, or a TIME literal `[-]H:MM[:SS[.ffffff]]`.
pub fn parse_time_of_day(text: &str) -> Option<TimeOfDay> {
    let trimmed = text.trim();
    if trimmed.contains(':') && !trimmed.contains('-') {
        let (whole, fraction) = trimmed.split_once('.').unwrap_or((trimmed, ""));
        let mut numbers = whole.split(':').map(|part| part.trim().parse::<u32>().ok());
        let hour = numbers.next()??;
        let minute = numbers.next()??;
        let second = numbers.next().unwrap_or(Some(0))?;
        if numbers.next().is_some() || minute >= 60 || second >= 60 {
            return None;
        }
        let micro = if fraction.is_empty() {
            0
        } else {
            format!("{fraction:0<6}").get(..6)?.parse().ok()?
        };
        return Some(TimeOfDay {
            hour,
            minute,
            second,
            micro,
        });
    }
    let parsed = parse(trimmed)?;
    let value = parsed.value;
    Some(TimeOfDay {
        hour: value.hour,
        minute: value.minute,
        second: value.second,
        micro: value.micro,
    })
}

/// What [`parse_with_format`] read: the value and which parts the format had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Formatted {
    /// The value (missing parts are zero).
    pub value: DateTime,
    /// The format had date specifiers.
    pub has_date: bool,
    /// The format had time specifiers.
    pub has_time: bool,
}

/// MySQL's `STR_TO_DATE(text, format)`: reads `text` with `DATE_FORMAT` specifiers (`%Y %y
/// %m %c %d %e %H %k %h %I %l %i %s %S %f %p %M %b %W %a %j %T %r %%`).
pub fn parse_with_format(text: &str, format: &str) -> Option<Formatted> {
    let mut reader = FormatReader {
        text: text.trim_start().chars().collect(),
        pos: 0,
    };
    let mut value = DateTime::ZERO;
    let (mut has_date, mut has_time, mut pm) = (false, false, None);
    let mut twelve_hour = false;
    let mut spec = format.chars();
    while let Some(c) = spec.next() {
        if c != '%' {
            if c.is_whitespace() {
                reader.skip_spaces();
            } else if !reader.literal(c) {
                return None;
            }
            continue;
        }
        let specifier = spec.next()?;
        match specifier {
            'Y' => value.year = i32::try_from(reader.number(4)?).ok()?,
            'y' => {
                let short = reader.number(2)?;
                value.year = i32::try_from(if short < 70 {
                    2000 + short
                } else {
                    1900 + short
                })
                .ok()?;
            }
            'm' | 'c' => value.month = u32::try_from(reader.number(2)?).ok()?,
            'd' | 'e' => value.day = u32::try_from(reader.number(2)?).ok()?,
            'j' => {
                let day_of_year = reader.number(3)?;
                let days = days_from_civil(i64::from(value.year), 1, 1) + day_of_year - 1;
                let (_, month, day) = civil_from_days(days);
                (value.month, value.day) = (month, day);
            }
            'H' | 'k' => value.hour = u32::try_from(reader.number(2)?).ok()?,
            'h' | 'I' | 'l' => {
                value.hour = u32::try_from(reader.number(2)?).ok()?;
                twelve_hour = true;
            }
            'i' => value.minute = u32::try_from(reader.number(2)?).ok()?,
            's' | 'S' => value.second = u32::try_from(reader.number(2)?).ok()?,
            'f' => value.micro = reader.fraction()?,
            'p' => pm = Some(reader.meridiem()?),
            'M' | 'b' => value.month = reader.month_name()?,
            'W' | 'a' => reader.day_name()?,
            'T' | 'r' => {
                value.hour = u32::try_from(reader.number(2)?).ok()?;
                reader.literal(':').then_some(())?;
                value.minute = u32::try_from(reader.number(2)?).ok()?;
                reader.literal(':').then_some(())?;
                value.second = u32::try_from(reader.number(2)?).ok()?;
                if specifier == 'r' {
                    reader.skip_spaces();
                    pm = Some(reader.meridiem()?);
                    twelve_hour = true;
                }
            }
            '%' => reader.literal('%').then_some(())?,
            _ => return None,
        }
        let is_time = matches!(
            specifier,
            'H' | 'k' | 'h' | 'I' | 'l' | 'i' | 's' | 'S' | 'f' | 'p' | 'T' | 'r'
        );
        has_time |= is_time;
        has_date |= !is_time && specifier != '%';
    }
    if let Some(pm) = pm {
        if !twelve_hour || value.hour == 0 || value.hour > 12 {
            return None;
        }
        value.hour = value.hour % 12 + if pm { 12 } else { 0 };
    }
    is_valid(&value).then_some(Formatted {
        value,
        has_date,
        has_time,
    })
}

/// A cursor over the text `parse_with_format` reads.
struct FormatReader {
    text: Vec<char>,
    pos: usize,
}

impl FormatReader {
    fn skip_spaces(&mut self) {
        while self.text.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn literal(&mut self, expected: char) -> bool {
        if self.text.get(self.pos) == Some(&expected) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Up to `max_digits` digits.
    fn number(&mut self, max_digits: usize) -> Option<i64> {
        let start = self.pos;
        while self.pos - start < max_digits
            && self.text.get(self.pos).is_some_and(char::is_ascii_digit)
        {
            self.pos += 1;
        }
        let digits: String = self.text[start..self.pos].iter().collect();
        digits.parse().ok()
    }

    /// Up to six digits of a fraction, as microseconds.
    fn fraction(&mut self) -> Option<u32> {
        let start = self.pos;
        while self.pos - start < 6 && self.text.get(self.pos).is_some_and(char::is_ascii_digit) {
            self.pos += 1;
        }
        let digits: String = self.text[start..self.pos].iter().collect();
        format!("{digits:0<6}").parse().ok()
    }

    /// `AM` (false) or `PM` (true), any case.
    fn meridiem(&mut self) -> Option<bool> {
        let word = self.word();
        match word.to_ascii_uppercase().as_str() {
            "AM" => Some(false),
            "PM" => Some(true),
            _ => None,
        }
    }

    fn word(&mut self) -> String {
        let start = self.pos;
        while self.text.get(self.pos).is_some_and(|c| c.is_alphabetic()) {
            self.pos += 1;
        }
        self.text[start..self.pos].iter().collect()
    }

    /// A month name or its three-letter abbreviation, as 1..=12.
    fn month_name(&mut self) -> Option<u32> {
        let word = self.word().to_lowercase();
        let position = MONTH_NAMES.iter().position(|name| {
            let name = name.to_lowercase();
            name == word || (word.len() == 3 && name.starts_with(&word))
        })?;
        u32::try_from(position + 1).ok()
    }

    /// A day name or abbreviation (checked, then ignored: the date fields decide the day).
    fn day_name(&mut self) -> Option<()> {
        let word = self.word().to_lowercase();
        DAY_NAMES
            .iter()
            .any(|name| {
                let name = name.to_lowercase();
                name == word || (word.len() == 3 && name.starts_with(&word))
            })
            .then_some(())
    }
}

fn float_to_i64(value: f64) -> Option<i64> {
    // Within ±2^62 the conversion is exact enough and cannot saturate.
    (value.abs() < 4.6e18).then_some(value as i64)
}

fn ordinal_suffix(day: u32) -> &'static str {
    match (day % 10, day % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    }
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_year(year: i64) -> i64 {
    if is_leap_year(year) {
        366
    } else {
        365
    }
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days from 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date `days` after 1970-01-01.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both values are in 1..=31 and 1..=12 by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datetime(text: &str) -> DateTime {
        parse(text).unwrap().value
    }

    #[test]
    fn parses_mysql_literal_forms() {
        let expected = DateTime {
            year: 2024,
            month: 3,
            day: 9,
            hour: 14,
            minute: 5,
            second: 7,
            micro: 0,
        };
        assert_eq!(datetime("2024-03-09 14:05:07"), expected);
        assert_eq!(datetime("2024/03/09T14.05.07"), expected);
        assert_eq!(datetime("20240309140507"), expected);
        assert_eq!(datetime("24-3-9 14:5:7"), expected);
        assert_eq!(datetime("2024-03-09 14:05:07.25").micro, 250_000);
        assert!(!parse("2024-03-09").unwrap().has_time);
        assert!(parse("2024-03-09 00:00").unwrap().has_time);
        assert_eq!(datetime("0000-00-00 00:00:00"), DateTime::ZERO);
    }

    #[test]
    fn rejects_impossible_dates() {
        assert_eq!(parse("2023-02-29"), None);
        assert_eq!(parse("2024-13-01"), None);
        assert_eq!(parse("2024-01-01 24:00:00"), None);
        assert_eq!(parse("hello"), None);
        assert_eq!(parse("12"), None);
        assert!(parse("2024-02-29").is_some());
    }

    #[test]
    fn unix_time_round_trips() {
        let value = datetime("2001-09-09 01:46:40");
        assert_eq!(value.unix_micros(), Some(1_000_000_000_000_000));
        assert_eq!(
            DateTime::from_unix_micros(1_000_000_000_000_000),
            Some(value)
        );
        assert_eq!(
            DateTime::from_unix_micros(0).unwrap().to_mysql_string(true),
            "1970-01-01 00:00:00"
        );
        let before_epoch = DateTime::from_unix_micros(-1).unwrap();
        assert_eq!(
            before_epoch.to_mysql_string(true),
            "1969-12-31 23:59:59.999999"
        );
    }

    #[test]
    fn adds_intervals_like_mysql() {
        let add = |text: &str, amount: &str, unit: &str| {
            datetime(text)
                .add(Interval::parse(amount, unit).unwrap())
                .unwrap()
                .to_mysql_string(true)
        };
        assert_eq!(add("2024-01-31", "1", "MONTH"), "2024-02-29 00:00:00");
        assert_eq!(
            add("2024-12-31 23:59:59", "1", "SECOND"),
            "2025-01-01 00:00:00"
        );
        assert_eq!(add("2024-03-01", "-1", "DAY"), "2024-02-29 00:00:00");
        assert_eq!(add("2024-01-01", "2", "WEEK"), "2024-01-15 00:00:00");
        assert_eq!(
            add("2024-01-01", "1:30", "HOUR_MINUTE"),
            "2024-01-01 01:30:00"
        );
        assert_eq!(
            add("2024-01-01", "1-2", "YEAR_MONTH"),
            "2025-03-01 00:00:00"
        );
        assert_eq!(add("2024-01-01", "-1 2", "DAY_HOUR"), "2023-12-30 22:00:00");
        assert_eq!(
            add("2024-01-01", "1.5", "SECOND"),
            "2024-01-01 00:00:01.500000"
        );
        assert_eq!(Interval::parse("1", "FORTNIGHT"), None);
        assert_eq!(
            DateTime::ZERO.add(Interval {
                months: 1,
                micros: 0
            }),
            None
        );
    }

    #[test]
    fn formats_every_specifier() {
        let value = datetime("2024-03-09 14:05:07.000120");
        assert_eq!(
            value.format("%Y-%m-%d %H:%i:%s").unwrap(),
            "2024-03-09 14:05:07"
        );
        assert_eq!(
            value
                .format("%a %b %c %D %e %f %h %I %j %k %l %M %p %r %T %W %w %y %%")
                .unwrap(),
            "Sat Mar 3 9th 9 000120 02 02 069 14 2 March PM 02:05:07 PM 14:05:07 Saturday 6 24 %"
        );
        assert_eq!(DateTime::ZERO.format("%Y"), None);
    }

    #[test]
    fn week_numbers_follow_mysql_modes() {
        // MySQL: DATE_FORMAT('2024-01-01', '%U %u %V %v %X %x') = '00 01 53 01 2023 2024'.
        assert_eq!(
            datetime("2024-01-01").format("%U %u %V %v %X %x").unwrap(),
            "00 01 53 01 2023 2024"
        );
        // MySQL: DATE_FORMAT('2021-01-01', '%U %u %V %v %X %x') = '00 00 52 53 2020 2020'.
        assert_eq!(
            datetime("2021-01-01").format("%U %u %V %v %X %x").unwrap(),
            "00 00 52 53 2020 2020"
        );
        // MySQL: DATE_FORMAT('2024-12-31', '%U %u %V %v %X %x') = '52 53 52 01 2024 2025'.
        assert_eq!(
            datetime("2024-12-31").format("%U %u %V %v %X %x").unwrap(),
            "52 53 52 01 2024 2025"
        );
    }

    #[test]
    fn week_modes_and_day_counts() {
        let value = datetime("2024-01-01");
        assert_eq!(value.week_of_year(0, false).unwrap().0, 0);
        assert_eq!(value.week_of_year(3, false).unwrap().0, 1);
        assert_eq!(
            datetime("2021-01-01").week_of_year(0, true),
            Some((52, 2020))
        );
        assert_eq!(datetime("2007-10-07").to_days(), Some(733_321));
        assert_eq!(
            datetime("2024-02-10")
                .last_day_of_month()
                .unwrap()
                .to_mysql_string(false),
            "2024-02-29"
        );
        let start = datetime("2024-01-31 10:00:00");
        assert_eq!(start.months_until(&datetime("2024-02-29 10:00:00")), 0);
        assert_eq!(start.months_until(&datetime("2024-03-31 10:00:00")), 2);
        assert_eq!(datetime("2024-03-31").months_until(&start), -1);
        assert_eq!(datetime("2024-03-31 10:00:00").months_until(&start), -2);
    }

    #[test]
    fn parses_with_formats() {
        let parsed = parse_with_format("09/03/2024 2:05:07 PM", "%d/%m/%Y %h:%i:%s %p").unwrap();
        assert_eq!(parsed.value.to_mysql_string(true), "2024-03-09 14:05:07");
        assert!(parsed.has_date && parsed.has_time);
        let date = parse_with_format("March 9, 2024", "%M %e, %Y").unwrap();
        assert_eq!(date.value.to_mysql_string(false), "2024-03-09");
        assert!(!date.has_time);
        assert_eq!(parse_with_format("2024-02-30", "%Y-%m-%d"), None);
        assert_eq!(parse_with_format("nope", "%Y"), None);
        let time = parse_with_format("13:45:00", "%T").unwrap();
        assert!(!time.has_date && time.has_time);
    }

    #[test]
    fn reads_time_of_day() {
        let time = parse_time_of_day("10:05:03").unwrap();
        assert_eq!((time.hour, time.minute, time.second), (10, 5, 3));
        assert_eq!(parse_time_of_day("2024-01-01 23:59:58").unwrap().second, 58);
        assert_eq!(parse_time_of_day("100:00").unwrap().hour, 100);
    }

    #[test]
    fn weekdays_and_ordinals() {
        assert_eq!(datetime("1970-01-01").weekday(), Some(3));
        assert_eq!(datetime("2024-03-11").weekday(), Some(0));
        assert_eq!(ordinal_suffix(11), "th");
        assert_eq!(ordinal_suffix(22), "nd");
        assert_eq!(ordinal_suffix(23), "rd");
        assert_eq!(ordinal_suffix(31), "st");
    }
}
