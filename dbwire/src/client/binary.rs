//! The binary protocol of prepared statements, client side: COM_STMT_EXECUTE requests and
//! the rows that answer them.
//!
//! Decoded values take the same forms as the rest of dbwire: integers are [`Value::Int`]
//! unless they exceed `i64::MAX` ([`Value::UInt`], as `protocol::params` reads them), dates and
//! times are their text form, so [`crate::protocol::resultset::encode_binary_row`] re-encodes
//! a decoded row to the bytes it came from.

use crate::backend::{column_flags, Column, ColumnType, Value};
use crate::protocol::constants::commands;
use crate::protocol::params::integer;
use crate::protocol::temporal::{DateTime, Time};
use crate::protocol::wire::{PayloadReader, PayloadWriter, WireError};

/// MYSQL_TYPE_NULL.
const TYPE_NULL: u8 = 0x06;
/// MYSQL_TYPE_LONGLONG.
const TYPE_LONGLONG: u8 = 0x08;
/// MYSQL_TYPE_DOUBLE.
const TYPE_DOUBLE: u8 = 0x05;
/// MYSQL_TYPE_BLOB: binary data, which the server takes without charset conversion.
const TYPE_BLOB: u8 = 0xfc;
/// MYSQL_TYPE_STRING: text in the connection's character set.
const TYPE_STRING: u8 = 0xfe;
/// The flag byte after a parameter type that marks it unsigned.
const UNSIGNED: u8 = 0x80;

/// The COM_STMT_EXECUTE payload running statement `id` once, without a cursor, with
/// `params` bound (types sent every time).
pub(crate) fn encode_execute(id: u32, params: &[Value]) -> Vec<u8> {
    let values_len: usize = params.iter().map(value_len).sum();
    let mut out = Vec::with_capacity(16 + params.len() * 3 + values_len);
    out.put_u8(commands::STMT_EXECUTE);
    out.put_u32(id);
    out.put_u8(0); // CURSOR_TYPE_NO_CURSOR
    out.put_u32(1); // iteration count
    if params.is_empty() {
        return out;
    }
    let bitmap_start = out.len();
    out.resize(bitmap_start + params.len().div_ceil(8), 0);
    for (index, value) in params.iter().enumerate() {
        if matches!(value, Value::Null) {
            out[bitmap_start + index / 8] |= 1 << (index % 8);
        }
    }
    out.put_u8(1); // new params bound: types follow
    for value in params {
        let (code, flags) = param_type(value);
        out.extend_from_slice(&[code, flags]);
    }
    for value in params {
        put_param(&mut out, value);
    }
    out
}

/// The type code and flag byte announced for `value`.
fn param_type(value: &Value) -> (u8, u8) {
    match value {
        Value::Null => (TYPE_NULL, 0),
        Value::Int(_) => (TYPE_LONGLONG, 0),
        Value::UInt(_) => (TYPE_LONGLONG, UNSIGNED),
        Value::Double(_) => (TYPE_DOUBLE, 0),
        Value::Bytes(bytes) if std::str::from_utf8(bytes).is_ok() => (TYPE_STRING, 0),
        Value::Bytes(_) => (TYPE_BLOB, 0),
    }
}

fn put_param(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Null => {}
        Value::Int(int) => out.extend_from_slice(&int.to_le_bytes()),
        Value::UInt(uint) => out.put_u64(*uint),
        Value::Double(double) => out.extend_from_slice(&double.to_le_bytes()),
        Value::Bytes(bytes) => out.put_lenenc_bytes(bytes),
    }
}

/// Bytes `value` takes in the request, for sizing the buffer once.
fn value_len(value: &Value) -> usize {
    match value {
        Value::Null => 0,
        Value::Int(_) | Value::UInt(_) | Value::Double(_) => 8,
        Value::Bytes(bytes) => bytes.len() + 9,
    }
}

/// Decodes a binary protocol row: 0x00, the NULL bitmap (offset 2), then each non-NULL value
/// in its column type's encoding.
pub(crate) fn decode_binary_row(
    payload: &[u8],
    columns: &[Column],
) -> Result<Vec<Value>, WireError> {
    let mut reader = PayloadReader::new(payload);
    if reader.u8()? != 0x00 {
        return Err(WireError::InvalidValue("binary row header"));
    }
    let bitmap = reader.bytes((columns.len() + 7 + 2) / 8)?;
    let mut row = Vec::with_capacity(columns.len());
    for (index, column) in columns.iter().enumerate() {
        let bit = index + 2;
        let null = bitmap[bit / 8] & (1 << (bit % 8)) != 0;
        if null || column.column_type == ColumnType::Null {
            row.push(Value::Null);
        } else {
            row.push(decode_value(&mut reader, column)?);
        }
    }
    if !reader.is_empty() {
        return Err(WireError::InvalidValue("binary row length"));
    }
    Ok(row)
}

fn decode_value(reader: &mut PayloadReader<'_>, column: &Column) -> Result<Value, WireError> {
    let unsigned = column.flags & column_flags::UNSIGNED != 0;
    let value = match column.column_type {
        ColumnType::Tiny => integer(reader.u8()?.into(), 8, unsigned),
        ColumnType::Short | ColumnType::Year => integer(reader.u16()?.into(), 16, unsigned),
        ColumnType::Long | ColumnType::Int24 => integer(reader.u32()?.into(), 32, unsigned),
        ColumnType::LongLong => integer(reader.u64()?, 64, unsigned),
        ColumnType::Float => Value::Double(f32::from_le_bytes(reader.array()?).into()),
        ColumnType::Double => Value::Double(f64::from_le_bytes(reader.array()?)),
        ColumnType::Date => text(date_text(DateTime::decode_binary(reader)?, column, true)),
        ColumnType::DateTime | ColumnType::Timestamp => {
            text(date_text(DateTime::decode_binary(reader)?, column, false))
        }
        ColumnType::Time => text(time_text(Time::decode_binary(reader)?, column)),
        ColumnType::Bit => bit(reader.lenenc_bytes()?)?,
        _ => Value::Bytes(reader.lenenc_bytes()?.to_vec()),
    };
    Ok(value)
}

/// A BIT value: up to 8 big-endian bytes.
fn bit(bytes: &[u8]) -> Result<Value, WireError> {
    if bytes.len() > 8 {
        return Err(WireError::InvalidValue("BIT"));
    }
    let raw = bytes
        .iter()
        .fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    Ok(integer(raw, 64, true))
}

/// The text form of a DATE/DATETIME/TIMESTAMP, with as many fractional digits as the
/// column declares (`DATETIME(3)` gives `.123`, as the text protocol prints it).
fn date_text(value: DateTime, column: &Column, date_only: bool) -> String {
    let whole = DateTime { micros: 0, ..value }.to_text(date_only);
    if date_only {
        return whole;
    }
    with_fraction(whole, value.micros, column.decimals)
}

/// The text form of a TIME, with the column's fractional digits.
fn time_text(value: Time, column: &Column) -> String {
    let whole = Time { micros: 0, ..value }.to_text();
    with_fraction(whole, value.micros, column.decimals)
}

/// Appends `.ffffff` cut to `decimals` digits (1 to 6); any other `decimals` (0, or 0x1f for
/// "not fixed") shows all six digits when there are micros, and none otherwise.
fn with_fraction(mut text: String, micros: u32, decimals: u8) -> String {
    let digits = match decimals {
        1..=6 => usize::from(decimals),
        _ if micros != 0 => 6,
        _ => return text,
    };
    let fraction = format!("{:06}", micros.min(999_999));
    text.push('.');
    text.push_str(&fraction[..digits]);
    text
}

fn text(text: String) -> Value {
    Value::Bytes(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::params::{read_params, BoundParams};
    use crate::protocol::resultset::encode_binary_row;

    fn column(name: &str, column_type: ColumnType, flags: u16, decimals: u8) -> Column {
        let mut column = Column::new(name, column_type);
        column.flags = flags;
        column.decimals = decimals;
        column
    }

    fn bytes(text: &str) -> Value {
        Value::Bytes(text.as_bytes().to_vec())
    }

    /// One column of every type, with a value of each, in decoded (canonical) form.
    fn sample() -> (Vec<Column>, Vec<Value>) {
        use column_flags::UNSIGNED as U;
        use ColumnType::*;
        let mut bit = column("bit", Bit, U, 0);
        bit.length = 12;
        let pairs = vec![
            (column("tiny", Tiny, 0, 0), Value::Int(-128)),
            (column("utiny", Tiny, U, 0), Value::Int(255)),
            (column("short", Short, 0, 0), Value::Int(-2)),
            (column("year", Year, U, 0), Value::Int(2024)),
            (column("int24", Int24, 0, 0), Value::Int(-8_388_608)),
            (column("long", Long, 0, 0), Value::Int(i64::from(i32::MIN))),
            (column("ulong", Long, U, 0), Value::Int(i64::from(u32::MAX))),
            (column("big", LongLong, 0, 0), Value::Int(i64::MIN)),
            (column("ubig", LongLong, U, 0), Value::UInt(u64::MAX)),
            (column("flt", Float, 0, 0x1f), Value::Double(0.1f32.into())),
            (column("dbl", Double, 0, 0x1f), Value::Double(-2.25e-3)),
            (column("dec", NewDecimal, 0, 2), bytes("12345.67")),
            (column("d", Date, 0, 0), bytes("2024-02-29")),
            (column("zero", DateTime, 0, 0), bytes("0000-00-00 00:00:00")),
            (column("dt", DateTime, 0, 0), bytes("2024-02-29 13:14:15")),
            (
                column("dt6", DateTime, 0, 6),
                bytes("2024-02-29 13:14:15.123456"),
            ),
            (
                column("dt3", DateTime, 0, 3),
                bytes("2024-02-29 13:14:15.120"),
            ),
            (column("ts", Timestamp, 0, 0), bytes("1970-01-01 00:00:01")),
            (column("tm", Time, 0, 0), bytes("-838:59:59")),
            (column("tm6", Time, 0, 6), bytes("25:00:01.500000")),
            (bit, Value::Int(0x0abc)),
            (column("s", VarString, 0, 0), bytes("héllo")),
            (column("b", Blob, 0, 0), Value::Bytes(vec![0, 0xff, 0xfe])),
            (column("js", Json, 0, 0), bytes("{\"a\": 1}")),
            (column("n", Null, 0, 0), Value::Null),
            (column("nullable", Long, 0, 0), Value::Null),
        ];
        pairs.into_iter().unzip()
    }

    #[test]
    fn rows_decode_and_re_encode_to_the_same_bytes() {
        let (columns, row) = sample();
        let mut encoded = Vec::new();
        encode_binary_row(&mut encoded, &columns, &row);
        let decoded = decode_binary_row(&encoded, &columns).unwrap();
        assert_eq!(decoded, row);
        let mut again = Vec::new();
        encode_binary_row(&mut again, &columns, &decoded);
        assert_eq!(again, encoded);
    }

    #[test]
    fn unsigned_values_beyond_i64_are_uint() {
        let columns = [column("u", ColumnType::LongLong, column_flags::UNSIGNED, 0)];
        let mut encoded = vec![0, 0];
        encoded.extend_from_slice(&(1u64 << 63).to_le_bytes());
        assert_eq!(
            decode_binary_row(&encoded, &columns),
            Ok(vec![Value::UInt(1 << 63)])
        );
    }

    #[test]
    fn fractions_follow_the_column_decimals() {
        assert_eq!(with_fraction("x".into(), 0, 0), "x");
        assert_eq!(with_fraction("x".into(), 0, 2), "x.00");
        assert_eq!(with_fraction("x".into(), 5, 0x1f), "x.000005");
        assert_eq!(with_fraction("x".into(), 123_456, 1), "x.1");
    }

    #[test]
    fn malformed_rows_are_errors() {
        let columns = [column("i", ColumnType::Long, 0, 0)];
        assert!(decode_binary_row(&[], &columns).is_err());
        assert!(decode_binary_row(&[1, 0, 1, 0, 0, 0], &columns).is_err());
        assert!(decode_binary_row(&[0, 0, 1, 0], &columns).is_err());
        assert!(decode_binary_row(&[0, 0, 1, 0, 0, 0, 9], &columns).is_err());
        let bits = [column("b", ColumnType::Bit, 0, 0)];
        assert!(decode_binary_row(&[0, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9], &bits).is_err());
        let dates = [column("d", ColumnType::Date, 0, 0)];
        assert!(decode_binary_row(&[0, 0, 5, 1, 2, 3, 4, 5], &dates).is_err());
    }

    #[test]
    fn execute_requests_parse_back_with_the_server_reader() {
        let params = vec![
            Value::Null,
            Value::Int(-5),
            Value::UInt(u64::MAX),
            Value::Double(2.5),
            bytes("héllo"),
            Value::Bytes(vec![0xff, 0]),
            Value::Null,
            Value::Int(7),
            bytes(""),
        ];
        let payload = encode_execute(42, &params);
        assert_eq!(payload[0], commands::STMT_EXECUTE);
        assert_eq!(&payload[1..5], &42u32.to_le_bytes());
        let mut bound = BoundParams::new(params.len());
        let read = read_params(&payload[5..], &mut bound).unwrap();
        let mut expected = params.clone();
        expected[2] = Value::UInt(u64::MAX);
        assert_eq!(read, expected);
        assert_eq!(bound.types[4].code, TYPE_STRING);
        assert_eq!(bound.types[5].code, TYPE_BLOB);
        assert!(bound.types[2].unsigned);
    }

    #[test]
    fn execute_without_params_has_no_bitmap() {
        assert_eq!(encode_execute(1, &[]), [0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0]);
    }
}
