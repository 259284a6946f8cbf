//! Parameters of COM_STMT_EXECUTE in the binary protocol: NULL bitmap, the "new parameters
//! bound" flag with the parameter types, then each value in its type's encoding.

use super::constants::commands;
use super::temporal::{DateTime, Time};
use super::wire::{PayloadReader, PayloadWriter, WireError};
use crate::backend::Value;

/// The unsigned flag in the second byte of a parameter type.
const UNSIGNED_FLAG: u8 = 0x80;

/// The type a client declared for a bound parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamType {
    /// The MySQL type code (`MYSQL_TYPE_*`).
    pub code: u8,
    /// True for unsigned integers.
    pub unsigned: bool,
}

/// What a prepared statement remembers between executes about its parameters.
#[derive(Debug, Clone, Default)]
pub struct BoundParams {
    /// Types from the last execute that sent them; clients send them only when they change.
    pub types: Vec<ParamType>,
    /// Data collected by COM_STMT_SEND_LONG_DATA, per parameter, for the next execute.
    pub long_data: Vec<Option<Vec<u8>>>,
}

impl BoundParams {
    /// State for a statement with `count` parameters.
    pub fn new(count: usize) -> BoundParams {
        BoundParams {
            types: Vec::new(),
            long_data: vec![None; count],
        }
    }

    /// Discards the long data (after an execute, or on COM_STMT_RESET).
    pub fn clear_long_data(&mut self) {
        self.long_data.iter_mut().for_each(|data| *data = None);
    }
}

/// Reads the parameter values from the part of a COM_STMT_EXECUTE payload that follows the
/// statement id, updating `bound` with newly sent types and taking its long data.
pub fn read_params(body: &[u8], bound: &mut BoundParams) -> Result<Vec<Value>, WireError> {
    let count = bound.long_data.len();
    let mut reader = PayloadReader::new(body);
    let _cursor_flags = reader.u8()?;
    let _iterations = reader.u32()?;
    if count == 0 {
        return Ok(Vec::new());
    }
    let null_bitmap = reader.bytes(count.div_ceil(8))?;
    read_bound_types(&mut reader, bound)?;
    let mut values = Vec::with_capacity(count);
    for (index, param_type) in bound.types.iter().enumerate() {
        let value = if let Some(data) = bound.long_data[index].take() {
            Value::Bytes(data)
        } else if null_bitmap[index / 8] & (1 << (index % 8)) != 0 {
            Value::Null
        } else {
            read_value(&mut reader, *param_type)?
        };
        values.push(value);
    }
    Ok(values)
}

/// A client's COM_STMT_EXECUTE made fit to forward to a server connection where the
/// statement has another id: the values exactly as the client sent them, the parameter types
/// always included (a client sends them only when they change, and the server connection may
/// not have seen them), and no cursor (COM_STMT_FETCH is not offered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedExecute {
    payload: Vec<u8>,
}

impl ForwardedExecute {
    /// Rewrites `body`, the part of a COM_STMT_EXECUTE payload after the statement id, for a
    /// statement whose parameters `bound` describes; newly sent types are recorded there.
    /// Long data is not folded in: the caller forwards only executes without it.
    pub fn new(body: &[u8], bound: &mut BoundParams) -> Result<ForwardedExecute, WireError> {
        let count = bound.long_data.len();
        let mut reader = PayloadReader::new(body);
        let _cursor_flags = reader.u8()?;
        let iterations = reader.u32()?;
        let mut payload = Vec::with_capacity(body.len() + 5 + 2 * count);
        payload.put_u8(commands::STMT_EXECUTE);
        payload.put_u32(0);
        payload.put_u8(0);
        payload.put_u32(iterations);
        if count == 0 {
            return Ok(ForwardedExecute { payload });
        }
        payload.extend_from_slice(reader.bytes(count.div_ceil(8))?);
        read_bound_types(&mut reader, bound)?;
        payload.put_u8(1);
        for param_type in &bound.types {
            payload.put_u8(param_type.code);
            payload.put_u8(if param_type.unsigned {
                UNSIGNED_FLAG
            } else {
                0
            });
        }
        payload.extend_from_slice(reader.rest());
        Ok(ForwardedExecute { payload })
    }

    /// The COM_STMT_EXECUTE payload for the server's statement `id`.
    pub fn payload(&mut self, id: u32) -> &[u8] {
        self.payload[1..5].copy_from_slice(&id.to_le_bytes());
        &self.payload
    }

    /// [`ForwardedExecute::payload`], taken.
    pub fn into_payload(mut self, id: u32) -> Vec<u8> {
        self.payload(id);
        self.payload
    }
}

/// Reads the "new parameters bound" flag and, when set, the types that follow it into
/// `bound`; fails when the statement's types were never sent.
fn read_bound_types(
    reader: &mut PayloadReader<'_>,
    bound: &mut BoundParams,
) -> Result<(), WireError> {
    let count = bound.long_data.len();
    if reader.u8()? == 1 {
        bound.types = (0..count)
            .map(|_| read_type(reader))
            .collect::<Result<_, _>>()?;
    }
    if bound.types.len() != count {
        return Err(WireError::InvalidValue("parameter types (never sent)"));
    }
    Ok(())
}

fn read_type(reader: &mut PayloadReader<'_>) -> Result<ParamType, WireError> {
    let code = reader.u8()?;
    let flags = reader.u8()?;
    Ok(ParamType {
        code,
        unsigned: flags & UNSIGNED_FLAG != 0,
    })
}

fn read_value(reader: &mut PayloadReader<'_>, param_type: ParamType) -> Result<Value, WireError> {
    let unsigned = param_type.unsigned;
    let value = match param_type.code {
        0x06 => Value::Null,
        0x01 => integer(reader.u8()?.into(), 8, unsigned),
        0x02 | 0x0d => integer(reader.u16()?.into(), 16, unsigned),
        0x03 | 0x09 => integer(reader.u32()?.into(), 32, unsigned),
        0x08 => integer(reader.u64()?, 64, unsigned),
        0x04 => Value::Double(f32::from_le_bytes(reader.array()?).into()),
        0x05 => Value::Double(f64::from_le_bytes(reader.array()?)),
        0x0a => text(DateTime::decode_binary(reader)?.to_text(true)),
        0x07 | 0x0c => text(DateTime::decode_binary(reader)?.to_text(false)),
        0x0b => text(Time::decode_binary(reader)?.to_text()),
        0x00 | 0x0f | 0x10 | 0xf5..=0xff => Value::Bytes(reader.lenenc_bytes()?.to_vec()),
        _ => return Err(WireError::InvalidValue("parameter type")),
    };
    Ok(value)
}

/// An integer of `bits` bits read as raw `u64`: sign-extended unless `unsigned`; `Int` when
/// it fits in an `i64`, else `UInt`. Shared with the client's binary row decoder.
pub(crate) fn integer(raw: u64, bits: u32, unsigned: bool) -> Value {
    if unsigned {
        return i64::try_from(raw).map_or(Value::UInt(raw), Value::Int);
    }
    let shift = 64 - bits;
    Value::Int(((raw << shift) as i64) >> shift)
}

fn text(text: String) -> Value {
    Value::Bytes(text.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An execute body (after the statement id) with types sent.
    fn body(null_bitmap: &[u8], types: &[(u8, u8)], values: &[u8]) -> Vec<u8> {
        let mut out = vec![0x00];
        out.put_u32(1);
        out.extend_from_slice(null_bitmap);
        out.put_u8(1);
        for &(code, flags) in types {
            out.extend_from_slice(&[code, flags]);
        }
        out.extend_from_slice(values);
        out
    }

    #[test]
    fn reads_integers_with_sign_and_width() {
        let mut values = Vec::new();
        values.push(0xff);
        values.put_u16(0xfffe);
        values.put_u32(0xffff_fffd);
        values.put_u64(u64::MAX);
        values.put_u64(u64::MAX);
        values.push(0xff);
        let types = [
            (0x01, 0),
            (0x02, 0),
            (0x03, 0),
            (0x08, 0),
            (0x08, 0x80),
            (0x01, 0x80),
        ];
        let mut bound = BoundParams::new(6);
        let params = read_params(&body(&[0], &types, &values), &mut bound).unwrap();
        assert_eq!(
            params,
            [
                Value::Int(-1),
                Value::Int(-2),
                Value::Int(-3),
                Value::Int(-1),
                Value::UInt(u64::MAX),
                Value::Int(255)
            ]
        );
    }

    #[test]
    fn reads_floats_strings_and_temporal_values() {
        let mut values = Vec::new();
        values.extend_from_slice(&1.5f32.to_le_bytes());
        values.extend_from_slice(&(-0.25f64).to_le_bytes());
        values.put_lenenc_bytes(b"h\xc3\xa9");
        values.extend_from_slice(&[7, 0xe8, 0x07, 2, 29, 13, 14, 15]);
        values.extend_from_slice(&[4, 0xe8, 0x07, 2, 29]);
        values.extend_from_slice(&[8, 1, 1, 0, 0, 0, 2, 3, 4]);
        values.put_lenenc_bytes(b"12.50");
        let types = [
            (0x04, 0),
            (0x05, 0),
            (0xfd, 0),
            (0x0c, 0),
            (0x0a, 0),
            (0x0b, 0),
            (0xf6, 0),
        ];
        let mut bound = BoundParams::new(types.len());
        let params = read_params(&body(&[0], &types, &values), &mut bound).unwrap();
        let bytes = |s: &str| Value::Bytes(s.as_bytes().to_vec());
        assert_eq!(
            params,
            [
                Value::Double(1.5),
                Value::Double(-0.25),
                bytes("hé"),
                bytes("2024-02-29 13:14:15"),
                bytes("2024-02-29"),
                bytes("-26:03:04"),
                bytes("12.50"),
            ]
        );
    }

    #[test]
    fn the_null_bitmap_skips_values() {
        let mut values = Vec::new();
        values.put_u64(7);
        let types = [(0x08, 0), (0x08, 0), (0x06, 0)];
        let mut bound = BoundParams::new(3);
        let params = read_params(&body(&[0b001], &types, &values), &mut bound).unwrap();
        assert_eq!(params, [Value::Null, Value::Int(7), Value::Null]);
    }

    #[test]
    fn types_are_remembered_when_not_resent() {
        let mut bound = BoundParams::new(1);
        read_params(&body(&[0], &[(0x08, 0)], &5u64.to_le_bytes()), &mut bound).unwrap();
        let mut again = vec![0x00, 1, 0, 0, 0, 0, 0];
        again.extend_from_slice(&9u64.to_le_bytes());
        assert_eq!(read_params(&again, &mut bound).unwrap(), [Value::Int(9)]);
    }

    #[test]
    fn types_must_be_sent_once() {
        let mut bound = BoundParams::new(1);
        let body = [0x00, 1, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0];
        assert!(read_params(&body, &mut bound).is_err());
    }

    #[test]
    fn long_data_replaces_the_value_and_is_consumed() {
        let mut bound = BoundParams::new(2);
        bound.long_data[0] = Some(b"chunk1chunk2".to_vec());
        let mut values = Vec::new();
        values.put_lenenc_bytes(b"x");
        let params =
            read_params(&body(&[0], &[(0xfc, 0), (0xfd, 0)], &values), &mut bound).unwrap();
        assert_eq!(
            params,
            [
                Value::Bytes(b"chunk1chunk2".to_vec()),
                Value::Bytes(b"x".to_vec())
            ]
        );
        assert_eq!(bound.long_data, [None, None]);
    }

    #[test]
    fn truncated_and_unknown_values_are_errors() {
        let mut bound = BoundParams::new(1);
        assert!(read_params(&body(&[0], &[(0x08, 0)], &[1, 2]), &mut bound).is_err());
        assert!(read_params(&body(&[0], &[(0x42, 0)], &[1]), &mut bound).is_err());
        assert!(read_params(&[0x00, 1], &mut bound).is_err());
        assert!(read_params(&body(&[0], &[(0xfc, 0)], &[0x05, b'a']), &mut bound).is_err());
    }

    #[test]
    fn statements_without_parameters_ignore_the_rest() {
        let mut bound = BoundParams::new(0);
        assert_eq!(read_params(&[0, 1, 0, 0, 0], &mut bound).unwrap(), []);
    }

    #[test]
    fn forwarded_executes_always_carry_types_and_the_new_id() {
        let mut bound = BoundParams::new(2);
        let first = body(
            &[0b10],
            &[(0x0a, 0), (0x08, 0x80)],
            &[4, 0xe9, 0x07, 12, 24],
        );
        let mut forwarded = ForwardedExecute::new(&first, &mut bound).expect("first");
        let payload = forwarded.payload(77).to_vec();
        assert_eq!(payload[0], commands::STMT_EXECUTE);
        assert_eq!(&payload[1..5], &77u32.to_le_bytes());
        assert_eq!(&payload[5..], &first[..], "types sent: forwarded unchanged");
        // The next execute omits the types; the forwarded one still has them.
        let mut second = vec![0x00];
        second.put_u32(1);
        second.extend_from_slice(&[0b10, 0, 4, 0xea, 0x07, 1, 2]);
        let mut forwarded = ForwardedExecute::new(&second, &mut bound).expect("second");
        let payload = forwarded.payload(78);
        assert_eq!(&payload[10..17], &[0b10, 1, 0x0a, 0, 0x08, 0x80, 4]);
        assert_eq!(&payload[17..], &[0xea, 0x07, 1, 2]);
        // A cursor request is dropped.
        let mut cursor = first.clone();
        cursor[0] = 1;
        let mut forwarded = ForwardedExecute::new(&cursor, &mut bound).expect("cursor");
        assert_eq!(forwarded.payload(1)[5], 0);
        // Types never sent are an error, as for the decoded path.
        let mut fresh = BoundParams::new(2);
        assert!(ForwardedExecute::new(&second, &mut fresh).is_err());
    }
}
