//! DATE, DATETIME, TIMESTAMP and TIME values: parsed from the text form backends hold, encoded
//! in the binary protocol's compact form, and decoded from binary parameters back to text.

use std::fmt::Write as _;

use super::wire::{PayloadReader, PayloadWriter, WireError};

/// A DATE, DATETIME or TIMESTAMP value. Zero fields are allowed (`0000-00-00`), as in MySQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DateTime {
    /// Year, 0-9999.
    pub year: u16,
    /// Month, 0-12.
    pub month: u8,
    /// Day, 0-31.
    pub day: u8,
    /// Hour, 0-23.
    pub hour: u8,
    /// Minute, 0-59.
    pub minute: u8,
    /// Second, 0-59.
    pub second: u8,
    /// Microseconds, 0-999999.
    pub micros: u32,
}

/// A TIME value: a signed duration (MySQL allows -838:59:59 to 838:59:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Time {
    /// True for a negative duration.
    pub negative: bool,
    /// Whole hours, possibly more than 24.
    pub hours: u32,
    /// Minute, 0-59.
    pub minute: u8,
    /// Second, 0-59.
    pub second: u8,
    /// Microseconds, 0-999999.
    pub micros: u32,
}

impl DateTime {
    /// Parses `YYYY-MM-DD`, optionally followed by ` HH:MM:SS[.ffffff]` (or `T` instead of the
    /// space).
    pub fn parse(text: &[u8]) -> Option<DateTime> {
        let text = std::str::from_utf8(text).ok()?.trim();
        let (date, clock) = match text.split_once([' ', 'T']) {
            Some((date, clock)) => (date, Some(clock)),
            None => (text, None),
        };
        let mut parts = date.split('-');
        let year = number(parts.next()?, 4)?;
        let month = number(parts.next()?, 2)?;
        let day = number(parts.next()?, 2)?;
        if parts.next().is_some() || month > 12 || day > 31 {
            return None;
        }
        let mut value = DateTime {
            year: year as u16,
            month: month as u8,
            day: day as u8,
            ..Default::default()
        };
        if let Some(clock) = clock {
            let (hours, minute, second, micros) = parse_clock(clock)?;
            if hours > 23 {
                return None;
            }
            (value.hour, value.minute, value.second, value.micros) =
                (hours as u8, minute, second, micros);
        }
        Some(value)
    }

    /// Appends the binary protocol form: a length byte (0, 4, 7 or 11) and the fields it
    /// covers. `date_only` drops the time of day (DATE columns).
    pub fn encode_binary(&self, out: &mut Vec<u8>, date_only: bool) {
        let has_date = self.year != 0 || self.month != 0 || self.day != 0;
        let has_clock = !date_only && (self.hour != 0 || self.minute != 0 || self.second != 0);
        let has_micros = !date_only && self.micros != 0;
        let len = match (has_micros, has_clock, has_date) {
            (true, _, _) => 11,
            (false, true, _) => 7,
            (false, false, true) => 4,
            (false, false, false) => 0,
        };
        out.put_u8(len);
        if len >= 4 {
            out.put_u16(self.year);
            out.extend_from_slice(&[self.month, self.day]);
        }
        if len >= 7 {
            out.extend_from_slice(&[self.hour, self.minute, self.second]);
        }
        if len == 11 {
            out.put_u32(self.micros);
        }
    }

    /// Reads the binary protocol form.
    pub fn decode_binary(reader: &mut PayloadReader<'_>) -> Result<DateTime, WireError> {
        let len = reader.u8()?;
        let mut fields = PayloadReader::new(reader.bytes(usize::from(len))?);
        let mut value = DateTime::default();
        if !matches!(len, 0 | 4 | 7 | 11) {
            return Err(WireError::InvalidValue("DATETIME"));
        }
        if len >= 4 {
            value.year = fields.u16()?;
            value.month = fields.u8()?;
            value.day = fields.u8()?;
        }
        if len >= 7 {
            value.hour = fields.u8()?;
            value.minute = fields.u8()?;
            value.second = fields.u8()?;
        }
        if len == 11 {
            value.micros = fields.u32()?;
        }
        Ok(value)
    }

    /// The text form: `YYYY-MM-DD`, or with ` HH:MM:SS` and `.ffffff` when there are micros.
    pub fn to_text(&self, date_only: bool) -> String {
        let mut text = format!("{:04}-{:02}-{:02}", self.year, self.month, self.day);
        if !date_only {
            let _ = write!(
                text,
                " {:02}:{:02}:{:02}",
                self.hour, self.minute, self.second
            );
            push_micros(&mut text, self.micros);
        }
        text
    }
}

impl Time {
    /// Parses `[-][D ]H:MM[:SS[.ffffff]]`, hours possibly beyond 24.
    pub fn parse(text: &[u8]) -> Option<Time> {
        let text = std::str::from_utf8(text).ok()?.trim();
        let (negative, text) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (days, clock) = match text.split_once(' ') {
            Some((days, clock)) => (number(days, 2)?, clock),
            None => (0, text),
        };
        let (hours, minute, second, micros) = parse_clock(clock)?;
        Some(Time {
            negative,
            hours: days * 24 + hours,
            minute,
            second,
            micros,
        })
    }

    /// Appends the binary protocol form: a length byte (0, 8 or 12), sign, days, hours,
    /// minutes, seconds and microseconds.
    pub fn encode_binary(&self, out: &mut Vec<u8>) {
        let zero = self.hours == 0 && self.minute == 0 && self.second == 0 && self.micros == 0;
        let len = match (zero, self.micros != 0) {
            (true, _) => 0,
            (false, false) => 8,
            (false, true) => 12,
        };
        out.put_u8(len);
        if len == 0 {
            return;
        }
        out.put_u8(u8::from(self.negative));
        out.put_u32(self.hours / 24);
        out.extend_from_slice(&[(self.hours % 24) as u8, self.minute, self.second]);
        if len == 12 {
            out.put_u32(self.micros);
        }
    }

    /// Reads the binary protocol form.
    pub fn decode_binary(reader: &mut PayloadReader<'_>) -> Result<Time, WireError> {
        let len = reader.u8()?;
        let mut fields = PayloadReader::new(reader.bytes(usize::from(len))?);
        if !matches!(len, 0 | 8 | 12) {
            return Err(WireError::InvalidValue("TIME"));
        }
        let mut value = Time::default();
        if len >= 8 {
            value.negative = fields.u8()? != 0;
            let days = fields.u32()?;
            let hours = fields.u8()?;
            value.hours = days.saturating_mul(24).saturating_add(u32::from(hours));
            value.minute = fields.u8()?;
            value.second = fields.u8()?;
        }
        if len == 12 {
            value.micros = fields.u32()?;
        }
        Ok(value)
    }

    /// The text form: `[-]HH:MM:SS`, with `.ffffff` when there are micros.
    pub fn to_text(&self) -> String {
        let sign = if self.negative { "-" } else { "" };
        let mut text = format!(
            "{sign}{:02}:{:02}:{:02}",
            self.hours, self.minute, self.second
        );
        push_micros(&mut text, self.micros);
        text
    }
}

/// Parses `H:MM[:SS[.ffffff]]` into (hours, minute, second, micros).
fn parse_clock(clock: &str) -> Option<(u32, u8, u8, u32)> {
    let (clock, fraction) = match clock.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (clock, None),
    };
    let mut parts = clock.split(':');
    let hours = number(parts.next()?, 4)?;
    let minute = number(parts.next()?, 2)?;
    let second = match parts.next() {
        Some(second) => number(second, 2)?,
        None => 0,
    };
    if parts.next().is_some() || minute > 59 || second > 59 {
        return None;
    }
    let micros = match fraction {
        Some(fraction) => parse_micros(fraction)?,
        None => 0,
    };
    Some((hours, minute as u8, second as u8, micros))
}

/// Up to six fractional digits as microseconds; further digits are dropped.
fn parse_micros(fraction: &str) -> Option<u32> {
    if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = &fraction[..fraction.len().min(6)];
    let value: u32 = digits.parse().ok()?;
    Some(value * 10u32.pow(6 - digits.len() as u32))
}

/// A decimal number of 1 to `max_digits` ASCII digits.
fn number(text: &str, max_digits: usize) -> Option<u32> {
    if text.is_empty() || text.len() > max_digits || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn push_micros(text: &mut String, micros: u32) {
    if micros != 0 {
        let _ = write!(text, ".{micros:06}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn binary_datetime(text: &str, date_only: bool) -> Vec<u8> {
        let mut out = Vec::new();
        DateTime::parse(text.as_bytes())
            .unwrap()
            .encode_binary(&mut out, date_only);
        out
    }

    fn binary_time(text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        Time::parse(text.as_bytes())
            .unwrap()
            .encode_binary(&mut out);
        out
    }

    #[test]
    fn datetimes_encode_with_the_shortest_length() {
        assert_eq!(binary_datetime("0000-00-00 00:00:00", false), [0]);
        assert_eq!(binary_datetime("2024-02-29", false), [4, 0xe8, 0x07, 2, 29]);
        assert_eq!(
            binary_datetime("2024-02-29 13:14:15", false),
            [7, 0xe8, 0x07, 2, 29, 13, 14, 15]
        );
        assert_eq!(
            binary_datetime("2024-02-29T13:14:15.5", false),
            [11, 0xe8, 0x07, 2, 29, 13, 14, 15, 0x20, 0xa1, 0x07, 0x00]
        );
        assert_eq!(
            binary_datetime("2024-02-29 13:14:15", true),
            [4, 0xe8, 0x07, 2, 29]
        );
    }

    #[test]
    fn times_encode_days_and_sign() {
        assert_eq!(binary_time("00:00:00"), [0]);
        assert_eq!(binary_time("-838:59:59"), [8, 1, 34, 0, 0, 0, 22, 59, 59]);
        assert_eq!(
            binary_time("01:02:03.000004"),
            [12, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0]
        );
        assert_eq!(binary_time("1 02:00:00"), [8, 0, 1, 0, 0, 0, 2, 0, 0]);
    }

    #[test]
    fn binary_values_decode_to_text() {
        for (text, date_only) in [
            ("2024-02-29", true),
            ("2024-02-29 13:14:15", false),
            ("2024-02-29 13:14:15.000123", false),
            ("0000-00-00 00:00:00", false),
        ] {
            let encoded = binary_datetime(text, date_only);
            let decoded = DateTime::decode_binary(&mut PayloadReader::new(&encoded)).unwrap();
            assert_eq!(decoded.to_text(date_only), text);
        }
        for text in ["-838:59:59", "00:00:00", "25:00:01.500000"] {
            let encoded = binary_time(text);
            let decoded = Time::decode_binary(&mut PayloadReader::new(&encoded)).unwrap();
            assert_eq!(decoded.to_text(), text);
        }
    }

    #[test]
    fn invalid_text_is_rejected() {
        for text in [
            "",
            "2024-13-01",
            "2024-01-01 24:00:00",
            "2024/01/01",
            "20240101",
            "2024-01-01 10:61",
        ] {
            assert_eq!(DateTime::parse(text.as_bytes()), None, "{text}");
        }
        for text in ["", "10", "10:60:00", "ab:cd:ef", "1:2:3:4"] {
            assert_eq!(Time::parse(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn invalid_binary_lengths_are_rejected() {
        assert!(DateTime::decode_binary(&mut PayloadReader::new(&[5, 1, 2, 3, 4, 5])).is_err());
        assert!(Time::decode_binary(&mut PayloadReader::new(&[3, 1, 2, 3])).is_err());
        assert!(Time::decode_binary(&mut PayloadReader::new(&[8, 1])).is_err());
    }
}
