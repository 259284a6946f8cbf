//! Result set packets: column definitions, and rows in the text protocol (COM_QUERY) and the
//! binary protocol (COM_STMT_EXECUTE).
//!
//! Backends may hand over values whose kind differs from their column's declared type
//! (SQLite is dynamically typed). Text rows render any value as text. Binary rows must match
//! the declared type byte for byte, so values are converted the way MySQL converts them:
//! numbers from text by their numeric prefix (else 0), integers clamped to the column's range,
//! dates and times from their text form (else the zero value).

use std::fmt::Write as _;

use super::constants::markers;
use super::temporal::{DateTime, Time};
use super::wire::PayloadWriter;
use crate::backend::{column_flags, Column, ColumnType, Value};

/// Appends the packet that opens a result set: its column count.
pub fn encode_column_count(out: &mut Vec<u8>, count: usize) {
    out.put_lenenc_int(count as u64);
}

/// Appends a ColumnDefinition41 packet.
pub fn encode_column_definition(out: &mut Vec<u8>, column: &Column) {
    out.put_lenenc_bytes(b"def");
    out.put_lenenc_bytes(column.schema.as_bytes());
    out.put_lenenc_bytes(column.table.as_bytes());
    out.put_lenenc_bytes(column.org_table.as_bytes());
    out.put_lenenc_bytes(column.name.as_bytes());
    out.put_lenenc_bytes(column.org_name.as_bytes());
    out.put_lenenc_int(0x0c);
    out.put_u16(column.charset);
    out.put_u32(column.length);
    out.put_u8(column.column_type as u8);
    out.put_u16(column.flags);
    out.put_u8(column.decimals);
    out.put_u16(0);
}

/// Appends a text protocol row: each value as a length-encoded string, NULL as 0xFB.
/// Missing values (a row shorter than `columns`) are sent as NULL.
pub fn encode_text_row(out: &mut Vec<u8>, columns: &[Column], row: &[Value]) {
    let mut text = String::new();
    for (index, column) in columns.iter().enumerate() {
        match row.get(index).unwrap_or(&Value::Null) {
            Value::Null => out.put_u8(markers::NULL),
            Value::Bytes(bytes) => out.put_lenenc_bytes(bytes),
            value if column.column_type == ColumnType::Bit => {
                out.put_lenenc_bytes(&bit_bytes(column, integer(value)));
            }
            value => {
                text.clear();
                write_number_text(&mut text, column, value);
                out.put_lenenc_bytes(text.as_bytes());
            }
        }
    }
}

/// Appends a binary protocol row: 0x00, the NULL bitmap (offset 2), then each non-NULL value
/// in the encoding of its column's type.
pub fn encode_binary_row(out: &mut Vec<u8>, columns: &[Column], row: &[Value]) {
    out.put_u8(0);
    let bitmap_start = out.len();
    out.resize(bitmap_start + (columns.len() + 7 + 2) / 8, 0);
    for (index, column) in columns.iter().enumerate() {
        let value = row.get(index).unwrap_or(&Value::Null);
        if matches!(value, Value::Null) || column.column_type == ColumnType::Null {
            let bit = index + 2;
            out[bitmap_start + bit / 8] |= 1 << (bit % 8);
        } else {
            encode_binary_value(out, column, value);
        }
    }
}

fn encode_binary_value(out: &mut Vec<u8>, column: &Column, value: &Value) {
    let unsigned = column.flags & column_flags::UNSIGNED != 0;
    match column.column_type {
        ColumnType::Tiny => put_int(out, integer(value), 1, unsigned),
        ColumnType::Short | ColumnType::Year => put_int(out, integer(value), 2, unsigned),
        ColumnType::Long | ColumnType::Int24 => put_int(out, integer(value), 4, unsigned),
        ColumnType::LongLong => put_int(out, integer(value), 8, unsigned),
        ColumnType::Float => out.extend_from_slice(&(float(value) as f32).to_le_bytes()),
        ColumnType::Double => out.extend_from_slice(&float(value).to_le_bytes()),
        ColumnType::Date => datetime(value).encode_binary(out, true),
        ColumnType::DateTime | ColumnType::Timestamp => datetime(value).encode_binary(out, false),
        ColumnType::Time => time(value).encode_binary(out),
        ColumnType::Bit => out.put_lenenc_bytes(&bit_bytes(column, integer(value))),
        _ => match value {
            Value::Bytes(bytes) => out.put_lenenc_bytes(bytes),
            number => {
                let mut text = String::new();
                write_number_text(&mut text, column, number);
                out.put_lenenc_bytes(text.as_bytes());
            }
        },
    }
}

/// Writes the low `width` bytes of `value` after clamping it to the column's range.
fn put_int(out: &mut Vec<u8>, value: i128, width: u32, unsigned: bool) {
    let bits = width * 8;
    let (min, max) = if unsigned {
        (0, (1i128 << bits) - 1)
    } else {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    };
    let clamped = value.clamp(min, max);
    out.extend_from_slice(&clamped.to_le_bytes()[..width as usize]);
}

/// A BIT(n) value: big-endian, in as many bytes as n bits need.
fn bit_bytes(column: &Column, value: i128) -> Vec<u8> {
    let len = (column.length.clamp(1, 64) as usize).div_ceil(8);
    let bytes = (value as u64).to_be_bytes();
    bytes[8 - len..].to_vec()
}

/// Renders a number the way MySQL prints it in text results.
fn write_number_text(text: &mut String, column: &Column, value: &Value) {
    let _ = match *value {
        Value::Int(int) => write!(text, "{int}"),
        Value::UInt(uint) => write!(text, "{uint}"),
        Value::Double(double) if column.column_type == ColumnType::Float => {
            write_float(text, double as f32)
        }
        Value::Double(double) => write_float(text, double),
        Value::Null | Value::Bytes(_) => Ok(()),
    };
}

/// Shortest round-trip digits; exponent form outside 1e-4..1e15 like MySQL (`1e20`).
fn write_float<F>(text: &mut String, value: F) -> std::fmt::Result
where
    F: std::fmt::Display + std::fmt::LowerExp + Into<f64> + Copy,
{
    let magnitude = Into::<f64>::into(value).abs();
    if magnitude == 0.0 || (1e-4..1e15).contains(&magnitude) || !magnitude.is_finite() {
        write!(text, "{value}")
    } else {
        write!(text, "{value:e}")
    }
}

/// A value as an integer: text by its numeric prefix, doubles rounded.
fn integer(value: &Value) -> i128 {
    match *value {
        Value::Int(int) => i128::from(int),
        Value::UInt(uint) => i128::from(uint),
        Value::Double(double) => double.round() as i128,
        Value::Bytes(ref bytes) => integer_from_text(bytes),
        Value::Null => 0,
    }
}

/// A value as a double: text by its numeric prefix.
fn float(value: &Value) -> f64 {
    match *value {
        Value::Int(int) => int as f64,
        Value::UInt(uint) => uint as f64,
        Value::Double(double) => double,
        Value::Bytes(ref bytes) => numeric_prefix(bytes).parse().unwrap_or(0.0),
        Value::Null => 0.0,
    }
}

fn integer_from_text(bytes: &[u8]) -> i128 {
    let prefix = numeric_prefix(bytes);
    prefix.parse::<i128>().unwrap_or_else(|_| {
        prefix
            .parse::<f64>()
            .map_or(0, |double| double.round() as i128)
    })
}

/// The longest prefix of `bytes` (after leading spaces) that reads as a decimal number:
/// sign, digits, fraction, exponent.
fn numeric_prefix(bytes: &[u8]) -> &str {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text.trim_start(),
        Err(error) => std::str::from_utf8(&bytes[..error.valid_up_to()])
            .unwrap_or("")
            .trim_start(),
    };
    let b = text.as_bytes();
    let digits_from = |mut i: usize| {
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut end = usize::from(matches!(b.first(), Some(b'+' | b'-')));
    let int_end = digits_from(end);
    let mut mantissa_digits = int_end - end;
    end = int_end;
    if b.get(end) == Some(&b'.') {
        let frac_end = digits_from(end + 1);
        mantissa_digits += frac_end - end - 1;
        end = frac_end;
    }
    if mantissa_digits == 0 {
        return "";
    }
    if matches!(b.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(b.get(end + 1), Some(b'+' | b'-')));
        let exp_end = digits_from(end + 1 + sign);
        if exp_end > end + 1 + sign {
            end = exp_end;
        }
    }
    &text[..end]
}

fn datetime(value: &Value) -> DateTime {
    let parsed = match value {
        Value::Bytes(bytes) => DateTime::parse(bytes),
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        log::debug!("sending {value:?} as the zero date: not a date");
        DateTime::default()
    })
}

fn time(value: &Value) -> Time {
    let parsed = match value {
        Value::Bytes(bytes) => Time::parse(bytes),
        _ => None,
    };
    parsed.unwrap_or_else(|| {
        log::debug!("sending {value:?} as 00:00:00: not a time");
        Time::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::PayloadReader;

    fn column(column_type: ColumnType) -> Column {
        Column::new("c", column_type)
    }

    fn unsigned(column_type: ColumnType) -> Column {
        let mut column = column(column_type);
        column.flags |= column_flags::UNSIGNED;
        column
    }

    fn binary(column: Column, value: Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_binary_row(&mut out, &[column], &[value]);
        out[2..].to_vec()
    }

    fn text(column: Column, value: Value) -> Vec<u8> {
        let mut out = Vec::new();
        encode_text_row(&mut out, &[column], &[value]);
        let mut reader = PayloadReader::new(&out);
        reader.lenenc_bytes().unwrap().to_vec()
    }

    #[test]
    fn column_definition_layout() {
        let mut col = Column::new("id", ColumnType::LongLong);
        col.table = "t".into();
        col.flags = column_flags::NOT_NULL | column_flags::PRIMARY_KEY;
        let mut out = Vec::new();
        encode_column_definition(&mut out, &col);
        let mut r = PayloadReader::new(&out);
        for expected in [&b"def"[..], b"", b"t", b"", b"id", b"id"] {
            assert_eq!(r.lenenc_bytes().unwrap(), expected);
        }
        assert_eq!(r.lenenc_int(), Ok(0x0c));
        assert_eq!(r.u16(), Ok(63));
        assert_eq!(r.u32(), Ok(20));
        assert_eq!(r.u8(), Ok(0x08));
        assert_eq!(r.u16(), Ok(3));
        assert_eq!(r.u8(), Ok(0));
        assert_eq!(r.u16(), Ok(0));
        assert!(r.is_empty());
    }

    #[test]
    fn text_rows_render_values_and_nulls() {
        let columns = [
            column(ColumnType::LongLong),
            column(ColumnType::VarString),
            column(ColumnType::Double),
        ];
        let mut out = Vec::new();
        encode_text_row(
            &mut out,
            &columns,
            &[Value::Int(-5), Value::Null, Value::Double(0.5)],
        );
        assert_eq!(out, [2, b'-', b'5', 0xfb, 3, b'0', b'.', b'5']);
        out.clear();
        encode_text_row(&mut out, &columns, &[Value::Int(1)]);
        assert_eq!(out, [1, b'1', 0xfb, 0xfb], "missing values are NULL");
    }

    #[test]
    fn doubles_print_like_mysql() {
        let double = || column(ColumnType::Double);
        assert_eq!(text(double(), Value::Double(1.0)), b"1");
        assert_eq!(text(double(), Value::Double(0.1)), b"0.1");
        assert_eq!(text(double(), Value::Double(1e20)), b"1e20");
        assert_eq!(text(double(), Value::Double(-1.5e-7)), b"-1.5e-7");
        assert_eq!(
            text(column(ColumnType::Float), Value::Double(0.1f32 as f64)),
            b"0.1"
        );
        assert_eq!(
            text(double(), Value::UInt(u64::MAX)),
            b"18446744073709551615"
        );
    }

    #[test]
    fn binary_null_bitmap_starts_at_bit_two() {
        let columns: Vec<Column> = (0..7).map(|_| column(ColumnType::Tiny)).collect();
        let mut row = vec![Value::Int(1); 7];
        row[0] = Value::Null;
        row[6] = Value::Null;
        let mut out = Vec::new();
        encode_binary_row(&mut out, &columns, &row);
        assert_eq!(out[0], 0x00);
        assert_eq!(&out[1..3], &[0b0000_0100, 0b0000_0001]);
        assert_eq!(&out[3..], &[1, 1, 1, 1, 1]);
    }

    #[test]
    fn binary_integers_follow_the_column_width() {
        assert_eq!(binary(column(ColumnType::Tiny), Value::Int(-1)), [0xff]);
        assert_eq!(
            binary(column(ColumnType::Short), Value::Int(0x1234)),
            [0x34, 0x12]
        );
        assert_eq!(
            binary(column(ColumnType::Long), Value::Int(-2)),
            [0xfe, 0xff, 0xff, 0xff]
        );
        assert_eq!(
            binary(column(ColumnType::Int24), Value::Int(1)),
            [1, 0, 0, 0]
        );
        assert_eq!(
            binary(column(ColumnType::Year), Value::Int(2024)),
            [0xe8, 0x07]
        );
        assert_eq!(
            binary(column(ColumnType::LongLong), Value::Int(i64::MIN)),
            i64::MIN.to_le_bytes()
        );
        assert_eq!(
            binary(unsigned(ColumnType::LongLong), Value::UInt(u64::MAX)),
            [0xff; 8]
        );
    }

    #[test]
    fn binary_integers_convert_and_clamp() {
        assert_eq!(binary(column(ColumnType::Tiny), Value::Int(1000)), [0x7f]);
        assert_eq!(binary(unsigned(ColumnType::Tiny), Value::Int(-3)), [0]);
        assert_eq!(binary(unsigned(ColumnType::Tiny), Value::Int(200)), [200]);
        assert_eq!(
            binary(column(ColumnType::Long), Value::Bytes(b" 42abc".to_vec())),
            [42, 0, 0, 0]
        );
        assert_eq!(
            binary(column(ColumnType::Long), Value::Bytes(b"abc".to_vec())),
            [0, 0, 0, 0]
        );
        assert_eq!(
            binary(column(ColumnType::Long), Value::Double(2.6)),
            [3, 0, 0, 0]
        );
        assert_eq!(
            binary(column(ColumnType::Long), Value::Bytes(b"1.5e2".to_vec())),
            [150, 0, 0, 0]
        );
    }

    #[test]
    fn binary_floats() {
        assert_eq!(
            binary(column(ColumnType::Double), Value::Double(1.5)),
            1.5f64.to_le_bytes()
        );
        assert_eq!(
            binary(column(ColumnType::Float), Value::Double(1.5)),
            1.5f32.to_le_bytes()
        );
        assert_eq!(
            binary(column(ColumnType::Double), Value::Int(3)),
            3f64.to_le_bytes()
        );
        assert_eq!(
            binary(column(ColumnType::Double), Value::Bytes(b"-2.25".to_vec())),
            (-2.25f64).to_le_bytes()
        );
    }

    #[test]
    fn binary_dates_and_times_come_from_text() {
        let bytes = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        assert_eq!(
            binary(column(ColumnType::Date), bytes("2024-02-29")),
            [4, 0xe8, 0x07, 2, 29]
        );
        assert_eq!(
            binary(column(ColumnType::DateTime), bytes("2024-02-29 01:02:03")),
            [7, 0xe8, 0x07, 2, 29, 1, 2, 3]
        );
        assert_eq!(binary(column(ColumnType::Timestamp), bytes("garbage")), [0]);
        assert_eq!(
            binary(column(ColumnType::Time), bytes("-01:00:00")),
            [8, 1, 0, 0, 0, 0, 1, 0, 0]
        );
    }

    #[test]
    fn binary_strings_are_length_encoded() {
        assert_eq!(
            binary(column(ColumnType::Blob), Value::Bytes(vec![0, 0xff])),
            [2, 0, 0xff]
        );
        assert_eq!(
            binary(column(ColumnType::NewDecimal), Value::Int(12)),
            [2, b'1', b'2']
        );
        assert_eq!(
            binary(column(ColumnType::VarString), Value::Double(2.5)),
            [3, b'2', b'.', b'5']
        );
    }

    #[test]
    fn bit_columns_are_big_endian_bytes() {
        let mut bit = column(ColumnType::Bit);
        bit.length = 10;
        assert_eq!(binary(bit.clone(), Value::Int(0x0102)), [2, 0x01, 0x02]);
        assert_eq!(text(bit, Value::Int(1)), [0x00, 0x01]);
    }

    #[test]
    fn null_typed_columns_are_always_null_in_binary_rows() {
        let mut out = Vec::new();
        encode_binary_row(&mut out, &[column(ColumnType::Null)], &[Value::Int(1)]);
        assert_eq!(out, [0x00, 0b0000_0100]);
    }

    #[test]
    fn numeric_prefixes() {
        assert_eq!(numeric_prefix(b"  -12.5e3xyz"), "-12.5e3");
        assert_eq!(numeric_prefix(b"7e"), "7");
        assert_eq!(numeric_prefix(b".5"), ".5");
        assert_eq!(numeric_prefix(b"-"), "");
        assert_eq!(numeric_prefix(b"\xff12"), "");
        assert_eq!(
            integer_from_text(b"18446744073709551615"),
            i128::from(u64::MAX)
        );
    }
}
