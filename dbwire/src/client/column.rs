//! ColumnDefinition41 packets, decoded into [`Column`]s.

use crate::backend::{Column, ColumnType};
use crate::protocol::wire::{PayloadReader, WireError};

/// Decodes a ColumnDefinition41 payload. Names that are not UTF-8 are decoded lossily.
pub(crate) fn parse_column_definition(payload: &[u8]) -> Result<Column, WireError> {
    let mut reader = PayloadReader::new(payload);
    let _catalog = reader.lenenc_bytes()?;
    let mut text = || {
        reader
            .lenenc_bytes()
            .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
    };
    let schema = text()?;
    let table = text()?;
    let org_table = text()?;
    let name = text()?;
    let org_name = text()?;
    let _fixed_length = reader.lenenc_int()?;
    let charset = reader.u16()?;
    let length = reader.u32()?;
    let column_type = column_type(reader.u8()?);
    let flags = reader.u16()?;
    let decimals = reader.u8()?;
    Ok(Column {
        schema,
        table,
        org_table,
        name,
        org_name,
        charset,
        length,
        column_type,
        flags,
        decimals,
    })
}

/// The [`ColumnType`] for a type code. Codes without a variant map to the closest one: the
/// old DECIMAL to NEWDECIMAL, NEWDATE to DATE, VARCHAR to VAR_STRING, the internal
/// TIMESTAMP2/DATETIME2/TIME2 to their plain types, and everything else (TINY/MEDIUM/LONG
/// BLOB, GEOMETRY, VECTOR, unknown codes) to BLOB: such values are length-encoded bytes in
/// both protocols, which is how BLOB values travel.
pub(crate) fn column_type(code: u8) -> ColumnType {
    use ColumnType::*;
    const KNOWN: [ColumnType; 21] = [
        NewDecimal, Tiny, Short, Long, Float, Double, Null, Timestamp, LongLong, Int24, Date, Time,
        DateTime, Year, VarString, String, Blob, Bit, Json, Enum, Set,
    ];
    if let Some(known) = KNOWN.iter().find(|known| **known as u8 == code) {
        return *known;
    }
    match code {
        0x00 => NewDecimal,
        0x0e => Date,
        0x0f => VarString,
        0x11 => Timestamp,
        0x12 => DateTime,
        0x13 => Time,
        _ => Blob,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{charsets, column_flags};
    use crate::protocol::resultset::encode_column_definition;

    #[test]
    fn definitions_round_trip_with_the_server_encoder() {
        let mut column = Column::new("price", ColumnType::NewDecimal);
        column.schema = "shop".into();
        column.table = "i".into();
        column.org_table = "items".into();
        column.org_name = "price_col".into();
        column.charset = charsets::BINARY;
        column.length = 12;
        column.flags = column_flags::NOT_NULL | column_flags::UNSIGNED;
        column.decimals = 2;
        let mut out = Vec::new();
        encode_column_definition(&mut out, &column);
        assert_eq!(parse_column_definition(&out), Ok(column));
    }

    #[test]
    fn every_variant_maps_to_itself() {
        use ColumnType::*;
        for known in [
            NewDecimal, Tiny, Short, Long, Float, Double, Null, Timestamp, LongLong, Int24, Date,
            Time, DateTime, Year, VarString, String, Blob, Bit, Json, Enum, Set,
        ] {
            assert_eq!(column_type(known as u8), known);
        }
    }

    #[test]
    fn other_codes_map_to_the_closest_variant() {
        assert_eq!(column_type(0x00), ColumnType::NewDecimal);
        assert_eq!(column_type(0x0e), ColumnType::Date);
        assert_eq!(column_type(0x0f), ColumnType::VarString);
        assert_eq!(column_type(0x12), ColumnType::DateTime);
        for blob in [0xf9, 0xfa, 0xfb, 0xff, 0xf2, 0x42] {
            assert_eq!(column_type(blob), ColumnType::Blob);
        }
    }

    #[test]
    fn truncated_definitions_are_errors() {
        let mut out = Vec::new();
        encode_column_definition(&mut out, &Column::new("x", ColumnType::Long));
        for len in 0..out.len() - 2 {
            assert!(parse_column_definition(&out[..len]).is_err(), "{len}");
        }
    }
}
