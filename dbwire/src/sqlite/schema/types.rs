//! MySQL column types for SQLite columns, and SQLite values in the shape MySQL sends them.
//!
//! SQLite keeps each column's declared type verbatim (`bigint(20) unsigned`, `varchar(255)`,
//! `datetime`, ...), so the MySQL type is read back from it. Columns without a declared type
//! (expressions) are typed from the values they hold: INTEGER is BIGINT, REAL is DOUBLE, TEXT
//! is VARCHAR and BLOB is a binary BLOB.

use rusqlite::types::ValueRef;

use crate::backend::{charsets, column_flags, Column, ColumnType, Value};
use crate::sqlite::functions::{format_double, leading_number};

/// `ENUM_FLAG` of MySQL column definitions.
pub const ENUM_FLAG: u16 = 256;
/// `SET_FLAG` of MySQL column definitions.
pub const SET_FLAG: u16 = 2048;

/// 2^63, where integers stop fitting in i64.
const TWO_TO_THE_63: f64 = 9_223_372_036_854_775_808.0;

/// Bytes per character of utf8mb4, which MySQL multiplies text lengths by.
const BYTES_PER_CHAR: u32 = 4;

/// A column's MySQL type, as sent in column definitions and printed by `SHOW COLUMNS`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MysqlType {
    /// The wire type code.
    pub column_type: ColumnType,
    /// Type-derived flags: UNSIGNED, BINARY, BLOB, ENUM, SET.
    pub flags: u16,
    /// Maximum display length in bytes.
    pub length: u32,
    /// Digits after the decimal point (0x1f for floating point).
    pub decimals: u8,
    /// Character set number.
    pub charset: u16,
    /// The type as `SHOW COLUMNS` prints it, e.g. `bigint(20) unsigned` or `varchar(255)`.
    pub display: String,
}

/// A SQLite value read out of a row. Unlike rusqlite's `Value` it keeps TEXT as bytes, so
/// text that is not valid UTF-8 survives the trip unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum StoredValue {
    /// NULL.
    Null,
    /// INTEGER.
    Integer(i64),
    /// REAL.
    Real(f64),
    /// TEXT, as stored.
    Text(Vec<u8>),
    /// BLOB.
    Blob(Vec<u8>),
}

impl StoredValue {
    /// Copies a borrowed value.
    pub fn from_ref(value: ValueRef<'_>) -> StoredValue {
        match value {
            ValueRef::Null => StoredValue::Null,
            ValueRef::Integer(number) => StoredValue::Integer(number),
            ValueRef::Real(number) => StoredValue::Real(number),
            ValueRef::Text(bytes) => StoredValue::Text(bytes.to_vec()),
            ValueRef::Blob(bytes) => StoredValue::Blob(bytes.to_vec()),
        }
    }

    /// Borrows the value.
    pub fn as_ref(&self) -> ValueRef<'_> {
        match self {
            StoredValue::Null => ValueRef::Null,
            StoredValue::Integer(number) => ValueRef::Integer(*number),
            StoredValue::Real(number) => ValueRef::Real(*number),
            StoredValue::Text(bytes) => ValueRef::Text(bytes),
            StoredValue::Blob(bytes) => ValueRef::Blob(bytes),
        }
    }

    /// The value's storage class.
    pub fn class(&self) -> StorageClass {
        match self {
            StoredValue::Null => StorageClass::Null,
            StoredValue::Integer(_) => StorageClass::Integer,
            StoredValue::Real(_) => StorageClass::Real,
            StoredValue::Text(_) => StorageClass::Text,
            StoredValue::Blob(_) => StorageClass::Blob,
        }
    }
}

/// The storage class of a SQLite value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageClass {
    /// INTEGER.
    Integer,
    /// REAL.
    Real,
    /// TEXT.
    Text,
    /// BLOB.
    Blob,
    /// Only NULLs seen.
    Null,
}

impl MysqlType {
    /// The MySQL type for a declared column type; `None` when there is no declared type.
    pub fn from_declared(declared: &str) -> Option<MysqlType> {
        let parts = DeclaredType::parse(declared)?;
        Some(parts.to_mysql())
    }

    /// The type of an expression column whose values have storage class `class`.
    pub fn from_storage(class: StorageClass) -> MysqlType {
        match class {
            StorageClass::Integer => numeric(ColumnType::LongLong, 21, 0, "bigint".to_owned()),
            StorageClass::Real => numeric(ColumnType::Double, 23, 0x1f, "double".to_owned()),
            StorageClass::Text => text(ColumnType::VarString, 255 * BYTES_PER_CHAR, "varchar(255)"),
            StorageClass::Blob => binary(ColumnType::Blob, 65535, column_flags::BLOB, "blob"),
            StorageClass::Null => MysqlType {
                column_type: ColumnType::Null,
                flags: column_flags::BINARY,
                length: 0,
                decimals: 0,
                charset: charsets::BINARY,
                display: "null".to_owned(),
            },
        }
    }

    /// True for integer types (TINYINT through BIGINT, YEAR).
    pub fn is_integer(&self) -> bool {
        matches!(
            self.column_type,
            ColumnType::Tiny
                | ColumnType::Short
                | ColumnType::Int24
                | ColumnType::Long
                | ColumnType::LongLong
                | ColumnType::Year
        )
    }

    /// True for TEXT/BLOB types, which MySQL does not give literal defaults.
    pub fn is_blob(&self) -> bool {
        self.flags & column_flags::BLOB != 0
    }

    /// A result-set column of this type.
    pub fn column(&self, name: &str) -> Column {
        let mut column = Column::new(name, self.column_type);
        column.charset = self.charset;
        column.length = self.length;
        column.flags = self.flags;
        column.decimals = self.decimals;
        column
    }

    /// `value` as MySQL would send it for a column of this type: integers as integers,
    /// floating point as doubles, DECIMAL with its scale, everything else as bytes. Text stored
    /// in a numeric column converts the way MySQL converts strings (numeric prefix, else 0).
    pub fn wire_value(&self, value: ValueRef<'_>) -> Value {
        if value == ValueRef::Null {
            return Value::Null;
        }
        match self.column_type {
            _ if self.is_integer() => {
                integer_value(value, self.flags & column_flags::UNSIGNED != 0)
            }
            ColumnType::Float | ColumnType::Double => Value::Double(number(value)),
            ColumnType::NewDecimal => decimal_value(value, self.decimals),
            _ => Value::Bytes(bytes(value)),
        }
    }
}

impl MysqlType {
    /// The value non-strict MySQL stores in a NOT NULL column of this type when given none
    /// (or NULL, when a column becomes NOT NULL), as a SQL literal.
    pub fn implicit_default(&self) -> String {
        match self.column_type {
            _ if self.is_integer() => "0".to_owned(),
            ColumnType::Float | ColumnType::Double | ColumnType::NewDecimal | ColumnType::Bit => {
                "0".to_owned()
            }
            ColumnType::Date => "'0000-00-00'".to_owned(),
            ColumnType::DateTime | ColumnType::Timestamp => "'0000-00-00 00:00:00'".to_owned(),
            ColumnType::Time => "'00:00:00'".to_owned(),
            ColumnType::Json => "'null'".to_owned(),
            _ if self.flags & ENUM_FLAG != 0 => {
                let list = self.display.strip_prefix("enum(").unwrap_or_default();
                let (members, _) = quoted_members(list);
                let first = members.first().map_or("", String::as_str);
                format!("'{}'", first.replace('\'', "''"))
            }
            _ if self.flags & column_flags::BINARY != 0 => "X''".to_owned(),
            _ => "''".to_owned(),
        }
    }

    /// [`MysqlType::wire_value`] for an owned value, moving text and blobs instead of copying.
    pub fn wire_value_owned(&self, value: StoredValue) -> Value {
        let bytes_column = !self.is_integer()
            && !matches!(
                self.column_type,
                ColumnType::Float | ColumnType::Double | ColumnType::NewDecimal
            );
        match value {
            StoredValue::Text(bytes) | StoredValue::Blob(bytes) if bytes_column => {
                Value::Bytes(bytes)
            }
            other => self.wire_value(other.as_ref()),
        }
    }
}

fn numeric(column_type: ColumnType, length: u32, decimals: u8, display: String) -> MysqlType {
    MysqlType {
        column_type,
        flags: 0,
        length,
        decimals,
        charset: charsets::BINARY,
        display,
    }
}

fn text(column_type: ColumnType, length: u32, display: &str) -> MysqlType {
    MysqlType {
        column_type,
        flags: 0,
        length,
        decimals: 0,
        charset: charsets::UTF8MB4_GENERAL_CI,
        display: display.to_owned(),
    }
}

fn binary(column_type: ColumnType, length: u32, flags: u16, display: &str) -> MysqlType {
    MysqlType {
        column_type,
        flags: flags | column_flags::BINARY,
        length,
        decimals: 0,
        charset: charsets::BINARY,
        display: display.to_owned(),
    }
}

fn integer_value(value: ValueRef<'_>, unsigned: bool) -> Value {
    match value {
        ValueRef::Integer(number) => Value::Int(number),
        // SQLite keeps integers beyond i64 as REAL (to 53 bits of precision).
        ValueRef::Real(number) if unsigned && number >= TWO_TO_THE_63 => Value::UInt(number as u64),
        ValueRef::Text(raw) if unsigned => match std::str::from_utf8(raw).map(str::trim) {
            Ok(digits) => match digits.parse::<u64>() {
                Ok(big) => Value::UInt(big),
                Err(_) => Value::Int(rounded(leading_number(raw))),
            },
            Err(_) => Value::Int(0),
        },
        other => Value::Int(rounded(number(other))),
    }
}

fn decimal_value(value: ValueRef<'_>, scale: u8) -> Value {
    let scale = usize::from(scale);
    let text = match value {
        ValueRef::Integer(number) if scale == 0 => number.to_string(),
        ValueRef::Integer(number) => format!("{number}.{}", "0".repeat(scale)),
        ValueRef::Real(number) => format!("{number:.scale$}"),
        other => return Value::Bytes(bytes(other)),
    };
    Value::Bytes(text.into_bytes())
}

fn rounded(number: f64) -> i64 {
    if number.is_finite() {
        number.round() as i64
    } else {
        0
    }
}

fn number(value: ValueRef<'_>) -> f64 {
    match value {
        ValueRef::Null => 0.0,
        ValueRef::Integer(number) => number as f64,
        ValueRef::Real(number) => number,
        ValueRef::Text(raw) | ValueRef::Blob(raw) => leading_number(raw),
    }
}

fn bytes(value: ValueRef<'_>) -> Vec<u8> {
    match value {
        ValueRef::Null => Vec::new(),
        ValueRef::Integer(number) => number.to_string().into_bytes(),
        ValueRef::Real(number) => format_double(number).into_bytes(),
        ValueRef::Text(raw) | ValueRef::Blob(raw) => raw.to_vec(),
    }
}

/// A declared type split into its parts. The translator declares MySQL types in a form
/// SQLite accepts: `BASE [UNSIGNED] [ZEROFILL] [AFFINITY] [(ARGS)] ['MEMBER' ...]`, e.g.
/// `BIGINT UNSIGNED(20)`, `VARBINARY BLOB(16)`, `ENUM TEXT 'a' 'b'`; plain MySQL spellings
/// (`bigint(20) unsigned`) read the same way.
#[derive(Debug)]
struct DeclaredType {
    /// Lowercased base name, e.g. `bigint`, `double precision`.
    base: String,
    /// Text inside the parentheses, verbatim (`255`, `10,2`).
    arguments: Option<String>,
    /// ENUM/SET members.
    members: Vec<String>,
    /// UNSIGNED was given.
    unsigned: bool,
    /// ZEROFILL was given.
    zerofill: bool,
}

impl DeclaredType {
    fn parse(declared: &str) -> Option<DeclaredType> {
        let declared = declared.trim();
        let base_end = declared
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ' '))
            .unwrap_or(declared.len());
        let mut words: Vec<String> = declared[..base_end]
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        let mut rest = &declared[base_end..];
        let mut arguments = None;
        if let Some(inner) = rest.strip_prefix('(') {
            let close = matching_paren(inner)?;
            arguments = Some(inner[..close].trim().to_owned());
            rest = &inner[close + 1..];
        }
        let (members, trailing) = quoted_members(rest);
        words.extend(trailing.split_whitespace().map(str::to_ascii_lowercase));
        if members.is_empty() {
            if let Some(list) = arguments.as_deref().filter(|list| list.starts_with('\'')) {
                let (listed, _) = quoted_members(list);
                return DeclaredType::from_words(&words, None, listed);
            }
        }
        DeclaredType::from_words(&words, arguments, members)
    }

    fn from_words(
        words: &[String],
        arguments: Option<String>,
        members: Vec<String>,
    ) -> Option<DeclaredType> {
        let unsigned = words.iter().any(|w| w == "unsigned");
        let zerofill = words.iter().any(|w| w == "zerofill");
        let base_words: Vec<&str> = words
            .iter()
            .map(String::as_str)
            .take_while(|w| !matches!(*w, "unsigned" | "signed" | "zerofill"))
            .collect();
        let base = match base_words.as_slice() {
            ["double", "precision", ..] => "double".to_owned(),
            [first, ..] => (*first).to_owned(),
            [] => return None,
        };
        Some(DeclaredType {
            base,
            arguments,
            members,
            unsigned,
            zerofill,
        })
    }

    /// The first numeric argument, e.g. 255 of `varchar(255)`.
    fn size(&self) -> Option<u32> {
        self.arguments
            .as_deref()?
            .split(',')
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// The second numeric argument, e.g. 2 of `decimal(10,2)`.
    fn scale(&self) -> Option<u32> {
        self.arguments
            .as_deref()?
            .split(',')
            .nth(1)?
            .trim()
            .parse()
            .ok()
    }

    /// `base(arguments) [unsigned] [zerofill]`.
    fn display(&self, base: &str) -> String {
        let mut display = base.to_owned();
        if let Some(arguments) = &self.arguments {
            display.push('(');
            display.push_str(arguments);
            display.push(')');
        }
        if self.unsigned {
            display.push_str(" unsigned");
        }
        if self.zerofill {
            display.push_str(" zerofill");
        }
        display
    }

    fn to_mysql(&self) -> MysqlType {
        let base = self.base.as_str();
        if let Some(integer) = self.integer_type(base) {
            return integer;
        }
        match base {
            "float" => numeric(ColumnType::Float, 12, 0x1f, self.display("float")),
            "double" | "real" => numeric(ColumnType::Double, 22, 0x1f, self.display("double")),
            "decimal" | "numeric" | "dec" | "fixed" => self.decimal(),
            "date" => self.temporal(ColumnType::Date, 10, "date"),
            "datetime" => self.temporal(ColumnType::DateTime, 19, "datetime"),
            "timestamp" => self.temporal(ColumnType::Timestamp, 19, "timestamp"),
            "time" => self.temporal(ColumnType::Time, 10, "time"),
            "char" | "character" | "nchar" => self.sized_text(ColumnType::String, 1, "char"),
            "varchar" | "nvarchar" | "varchar2" => {
                self.sized_text(ColumnType::VarString, 255, "varchar")
            }
            "binary" => self.sized_binary(ColumnType::String, 1, "binary"),
            "varbinary" => self.sized_binary(ColumnType::VarString, 255, "varbinary"),
            "tinytext" => self.long_text(255, "tinytext"),
            "text" => self.long_text(65_535, "text"),
            "mediumtext" => self.long_text(16_777_215, "mediumtext"),
            "longtext" | "clob" => self.long_text(u32::MAX, "longtext"),
            "tinyblob" => binary(ColumnType::Blob, 255, column_flags::BLOB, "tinyblob"),
            "blob" => binary(ColumnType::Blob, 65_535, column_flags::BLOB, "blob"),
            "mediumblob" => binary(
                ColumnType::Blob,
                16_777_215,
                column_flags::BLOB,
                "mediumblob",
            ),
            "longblob" => binary(ColumnType::Blob, u32::MAX, column_flags::BLOB, "longblob"),
            "enum" => self.member_list(ColumnType::String, ENUM_FLAG, "enum"),
            "set" | "mysql_set" => self.member_list(ColumnType::String, SET_FLAG, "set"),
            "json" => binary(ColumnType::Json, u32::MAX, column_flags::BLOB, "json"),
            "bit" => {
                let bits = self.size().unwrap_or(1);
                let mut bit = numeric(ColumnType::Bit, bits, 0, format!("bit({bits})"));
                bit.flags |= column_flags::UNSIGNED;
                bit
            }
            "geometry" | "point" | "linestring" | "polygon" => {
                binary(ColumnType::Blob, u32::MAX, column_flags::BLOB, base)
            }
            other => affinity_type(other),
        }
    }

    fn integer_type(&self, base: &str) -> Option<MysqlType> {
        let (column_type, signed_length, name) = match base {
            "tinyint" => (ColumnType::Tiny, 4, "tinyint"),
            "bool" | "boolean" => {
                return Some(numeric(ColumnType::Tiny, 1, 0, "tinyint(1)".to_owned()))
            }
            "smallint" => (ColumnType::Short, 6, "smallint"),
            "mediumint" => (ColumnType::Int24, 9, "mediumint"),
            "int" => (ColumnType::Long, 11, "int"),
            // The translator declares only AUTO_INCREMENT keys INTEGER (SQLite's rowid alias);
            // their MySQL type is not kept, and `bigint unsigned` is what applications use.
            "integer" if self.arguments.is_none() && !self.unsigned => {
                let mut id = numeric(ColumnType::LongLong, 20, 0, "bigint unsigned".to_owned());
                id.flags |= column_flags::UNSIGNED;
                return Some(id);
            }
            "integer" | "bigint" => (ColumnType::LongLong, 20, "bigint"),
            "year" => (ColumnType::Year, 4, "year"),
            _ => return None,
        };
        let unsigned_length = if column_type == ColumnType::LongLong {
            signed_length
        } else {
            signed_length - 1
        };
        let default_length = if self.unsigned {
            unsigned_length
        } else {
            signed_length
        };
        let mut mysql = numeric(
            column_type,
            self.size().unwrap_or(default_length),
            0,
            self.display(name),
        );
        if self.unsigned {
            mysql.flags |= column_flags::UNSIGNED;
        }
        if self.zerofill || column_type == ColumnType::Year {
            mysql.flags |= column_flags::UNSIGNED | column_flags::ZEROFILL;
        }
        Some(mysql)
    }

    fn decimal(&self) -> MysqlType {
        let precision = self.size().unwrap_or(10);
        let scale = self.scale().unwrap_or(0);
        let length = precision + u32::from(scale > 0) + u32::from(!self.unsigned);
        let display = if self.arguments.is_some() {
            self.display("decimal")
        } else {
            format!(
                "decimal(10,0){}",
                if self.unsigned { " unsigned" } else { "" }
            )
        };
        let mut mysql = numeric(
            ColumnType::NewDecimal,
            length,
            u8::try_from(scale).unwrap_or(30),
            display,
        );
        if self.unsigned {
            mysql.flags |= column_flags::UNSIGNED;
        }
        mysql
    }

    fn temporal(&self, column_type: ColumnType, length: u32, name: &str) -> MysqlType {
        let fraction = self.size().unwrap_or(0).min(6);
        let length = if fraction > 0 {
            length + 1 + fraction
        } else {
            length
        };
        let mut mysql = text(column_type, length, &self.display(name));
        mysql.charset = charsets::BINARY;
        mysql.flags |= column_flags::BINARY;
        mysql.decimals = u8::try_from(fraction).unwrap_or(0);
        mysql
    }

    fn sized_text(&self, column_type: ColumnType, default: u32, name: &str) -> MysqlType {
        let size = self.size().unwrap_or(default);
        text(
            column_type,
            size.saturating_mul(BYTES_PER_CHAR),
            &format!("{name}({size})"),
        )
    }

    fn sized_binary(&self, column_type: ColumnType, default: u32, name: &str) -> MysqlType {
        let size = self.size().unwrap_or(default);
        binary(column_type, size, 0, &format!("{name}({size})"))
    }

    fn long_text(&self, max_chars: u32, name: &str) -> MysqlType {
        let mut mysql = text(
            ColumnType::Blob,
            max_chars.saturating_mul(BYTES_PER_CHAR),
            name,
        );
        mysql.flags |= column_flags::BLOB;
        mysql
    }

    fn member_list(&self, column_type: ColumnType, flag: u16, name: &str) -> MysqlType {
        let longest = self
            .members
            .iter()
            .map(|member| member.chars().count())
            .max()
            .unwrap_or(1);
        let longest = u32::try_from(longest).unwrap_or(u32::MAX);
        let quoted: Vec<String> = self
            .members
            .iter()
            .map(|member| format!("'{}'", member.replace('\'', "''")))
            .collect();
        let mut mysql = text(
            column_type,
            longest.saturating_mul(BYTES_PER_CHAR),
            &format!("{name}({})", quoted.join(",")),
        );
        mysql.flags |= flag;
        mysql
    }
}

/// Reads the single-quoted strings at the start of `text` (`'a' 'it''s'`, or comma-separated
/// as MySQL writes them), returning them and whatever follows.
fn quoted_members(text: &str) -> (Vec<String>, &str) {
    let mut members = Vec::new();
    let mut rest = text.trim_start();
    while let Some(body) = rest.strip_prefix('\'') {
        let mut member = String::new();
        let mut chars = body.char_indices().peekable();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            if c != '\'' {
                member.push(c);
            } else if chars.peek().is_some_and(|(_, next)| *next == '\'') {
                member.push('\'');
                chars.next();
            } else {
                end = Some(index + 1);
                break;
            }
        }
        let Some(end) = end else { break };
        members.push(member);
        rest = body[end..].trim_start();
        rest = rest.strip_prefix(',').map_or(rest, str::trim_start);
    }
    (members, rest)
}

/// Types named in none of MySQL's spellings, mapped by SQLite's affinity rules.
fn affinity_type(base: &str) -> MysqlType {
    if base.contains("int") {
        numeric(ColumnType::LongLong, 20, 0, "bigint".to_owned())
    } else if base.contains("char") || base.contains("clob") || base.contains("text") {
        let mut mysql = text(ColumnType::Blob, u32::MAX, "longtext");
        mysql.flags |= column_flags::BLOB;
        mysql
    } else if base.contains("blob") {
        binary(ColumnType::Blob, u32::MAX, column_flags::BLOB, "longblob")
    } else if base.contains("real") || base.contains("floa") || base.contains("doub") {
        numeric(ColumnType::Double, 22, 0x1f, "double".to_owned())
    } else {
        text(ColumnType::VarString, 255 * BYTES_PER_CHAR, "varchar(255)")
    }
}

/// Position of the `)` closing an argument list that starts right after a `(`, skipping
/// quoted strings (ENUM members may contain parentheses).
fn matching_paren(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    for (index, c) in inner.char_indices() {
        match (quote, c) {
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') if depth == 0 => return Some(index),
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared(text: &str) -> MysqlType {
        MysqlType::from_declared(text).unwrap()
    }

    #[test]
    fn integer_types_keep_width_and_sign() {
        let id = declared("bigint(20) unsigned");
        assert_eq!(id.column_type, ColumnType::LongLong);
        assert_eq!(id.display, "bigint(20) unsigned");
        assert_eq!(id.length, 20);
        assert_ne!(id.flags & column_flags::UNSIGNED, 0);
        assert_eq!(declared("INT").display, "int");
        assert_eq!(declared("INT").length, 11);
        let rowid = declared("INTEGER");
        assert_eq!(
            (rowid.column_type, rowid.display.as_str()),
            (ColumnType::LongLong, "bigint unsigned")
        );
        let translated = declared("BIGINT UNSIGNED(20)");
        assert_eq!(translated.display, "bigint(20) unsigned");
        assert_eq!(declared("tinyint(1)").column_type, ColumnType::Tiny);
        assert_eq!(declared("boolean").display, "tinyint(1)");
    }

    #[test]
    fn text_types_report_utf8mb4_byte_lengths() {
        let name = declared("varchar(191)");
        assert_eq!(
            (name.column_type, name.length),
            (ColumnType::VarString, 764)
        );
        assert_eq!(name.display, "varchar(191)");
        let body = declared("LONGTEXT");
        assert_eq!(
            (body.column_type, body.display.as_str()),
            (ColumnType::Blob, "longtext")
        );
        assert_ne!(body.flags & column_flags::BLOB, 0);
        assert_eq!(body.flags & column_flags::BINARY, 0);
        assert_eq!(body.charset, charsets::UTF8MB4_GENERAL_CI);
        assert_eq!(declared("TEXT").length, 262_140);
    }

    #[test]
    fn binary_and_special_types() {
        let blob = declared("longblob");
        assert_ne!(blob.flags & column_flags::BINARY, 0);
        assert_eq!(blob.charset, charsets::BINARY);
        let status = declared("enum('publish','draft(old)')");
        assert_eq!(status.display, "enum('publish','draft(old)')");
        assert_ne!(status.flags & ENUM_FLAG, 0);
        let translated = declared("ENUM TEXT 'open' 'it''s'");
        assert_eq!(translated.display, "enum('open','it''s')");
        assert_eq!(translated.length, 16);
        let set = declared("MYSQL_SET TEXT 'a' 'b'");
        assert_eq!(set.display, "set('a','b')");
        assert_ne!(set.flags & SET_FLAG, 0);
        let hash = declared("VARBINARY BLOB(16)");
        assert_eq!(
            (hash.column_type, hash.display.as_str()),
            (ColumnType::VarString, "varbinary(16)")
        );
        assert_eq!(declared("JSON TEXT").column_type, ColumnType::Json);
        let price = declared("decimal(10,2)");
        assert_eq!(
            (price.column_type, price.decimals, price.length),
            (ColumnType::NewDecimal, 2, 12)
        );
        assert_eq!(declared("datetime").column_type, ColumnType::DateTime);
        assert_eq!(declared("datetime(6)").length, 26);
        assert_eq!(declared("double precision").column_type, ColumnType::Double);
        assert_eq!(declared("json").column_type, ColumnType::Json);
        assert_eq!(declared("something odd").column_type, ColumnType::VarString);
        assert_eq!(declared("NUMBERINT").column_type, ColumnType::LongLong);
        assert_eq!(MysqlType::from_declared("  "), None);
    }

    #[test]
    fn values_take_the_column_shape() {
        let int = declared("int");
        assert_eq!(int.wire_value(ValueRef::Integer(5)), Value::Int(5));
        assert_eq!(int.wire_value(ValueRef::Text(b"12abc")), Value::Int(12));
        assert_eq!(int.wire_value(ValueRef::Null), Value::Null);
        let big = declared("bigint unsigned");
        assert_eq!(
            big.wire_value(ValueRef::Text(b"18446744073709551615")),
            Value::UInt(u64::MAX)
        );
        let price = declared("decimal(10,2)");
        assert_eq!(
            price.wire_value(ValueRef::Real(10.5)),
            Value::Bytes(b"10.50".to_vec())
        );
        assert_eq!(
            price.wire_value(ValueRef::Integer(3)),
            Value::Bytes(b"3.00".to_vec())
        );
        let double = declared("double");
        assert_eq!(double.wire_value(ValueRef::Integer(2)), Value::Double(2.0));
        let name = declared("varchar(10)");
        assert_eq!(
            name.wire_value(ValueRef::Integer(7)),
            Value::Bytes(b"7".to_vec())
        );
        assert_eq!(
            name.wire_value(ValueRef::Real(0.5)),
            Value::Bytes(b"0.5".to_vec())
        );
    }

    #[test]
    fn implicit_defaults() {
        assert_eq!(declared("BIGINT UNSIGNED(20)").implicit_default(), "0");
        assert_eq!(
            declared("DATETIME").implicit_default(),
            "'0000-00-00 00:00:00'"
        );
        assert_eq!(declared("VARCHAR(20)").implicit_default(), "''");
        assert_eq!(
            declared("ENUM TEXT 'draft' 'publish'").implicit_default(),
            "'draft'"
        );
        assert_eq!(declared("LONGBLOB").implicit_default(), "X''");
    }

    #[test]
    fn expression_types_come_from_storage_classes() {
        assert_eq!(
            MysqlType::from_storage(StorageClass::Integer).column_type,
            ColumnType::LongLong
        );
        assert_eq!(
            MysqlType::from_storage(StorageClass::Real).column_type,
            ColumnType::Double
        );
        assert_eq!(
            MysqlType::from_storage(StorageClass::Text).column_type,
            ColumnType::VarString
        );
        let blob = MysqlType::from_storage(StorageClass::Blob);
        assert_ne!(blob.flags & column_flags::BINARY, 0);
        assert_eq!(
            MysqlType::from_storage(StorageClass::Null).column_type,
            ColumnType::Null
        );
    }
}
