//! MySQL column types as SQLite declared types, and MySQL `CAST` targets as SQLite casts.
//!
//! A declared type keeps the MySQL name so the backend can report MySQL column types, in a
//! form SQLite accepts (arguments must come last) and that gives the right affinity:
//!
//! `BASE [UNSIGNED] [ZEROFILL] [AFFINITY] [(ARGS)] ['MEMBER' ...]`
//!
//! - `bigint(20) unsigned` is `BIGINT UNSIGNED(20)`; `decimal(10,2)` is `DECIMAL(10,2)`.
//! - `varbinary(16)` is `VARBINARY BLOB(16)`, `binary(16)` is `BINARY BLOB(16)`: the `BLOB`
//!   word gives BLOB affinity (SQLite would otherwise give NUMERIC and turn `'0123'` into 123).
//! - `json` is `JSON TEXT`; `enum('a','b')` is `ENUM TEXT 'a' 'b'` and `set('a','b')` is
//!   `MYSQL_SET TEXT 'a' 'b'` (`SET` is reserved in SQLite): TEXT affinity, members as strings.
//! - `bool`/`boolean` are `TINYINT(1)`; `integer` is `INT`; geometry types are `BLOB`.

use sqlparser::ast::{
    BinaryLength, CharacterLength, DataType, EnumMember, ExactNumberInfo, ObjectName, TypeModifier,
};

use super::error::TranslateError;
use super::names::quote_str;

/// What a MySQL type stores, for affinity, collation and implicit defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TypeClass {
    Integer,
    Decimal,
    Float,
    Bit,
    Text,
    Binary,
    Json,
    Date,
    Time,
    DateTime,
    Year,
}

/// A MySQL column type, ready to be declared in SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ColumnType {
    base: String,
    class: TypeClass,
    unsigned: bool,
    zerofill: bool,
    arguments: Option<String>,
    members: Vec<String>,
}

impl ColumnType {
    /// The type of a MySQL column declaration.
    pub fn from_data_type(data_type: &DataType) -> Result<ColumnType, TranslateError> {
        use DataType as D;
        use TypeClass as C;
        let column = match data_type {
            D::Zerofill(inner) => {
                let mut column = ColumnType::from_data_type(inner)?;
                column.zerofill = true;
                column
            }
            D::Bool | D::Boolean => ColumnType::new("TINYINT", C::Integer, &Some(1)),
            D::TinyInt(w) => ColumnType::new("TINYINT", C::Integer, w),
            D::TinyIntUnsigned(w) => ColumnType::new("TINYINT", C::Integer, w).unsigned(),
            D::SmallInt(w) | D::Int2(w) => ColumnType::new("SMALLINT", C::Integer, w),
            D::SmallIntUnsigned(w) | D::Int2Unsigned(w) => {
                ColumnType::new("SMALLINT", C::Integer, w).unsigned()
            }
            D::MediumInt(w) => ColumnType::new("MEDIUMINT", C::Integer, w),
            D::MediumIntUnsigned(w) => ColumnType::new("MEDIUMINT", C::Integer, w).unsigned(),
            D::Int(w) | D::Integer(w) | D::Int4(w) => ColumnType::new("INT", C::Integer, w),
            D::IntUnsigned(w) | D::IntegerUnsigned(w) | D::Int4Unsigned(w) => {
                ColumnType::new("INT", C::Integer, w).unsigned()
            }
            D::BigInt(w) | D::Int8(w) => ColumnType::new("BIGINT", C::Integer, w),
            D::BigIntUnsigned(w) | D::Int8Unsigned(w) => {
                ColumnType::new("BIGINT", C::Integer, w).unsigned()
            }
            D::Decimal(info) | D::Numeric(info) | D::Dec(info) => {
                ColumnType::exact("DECIMAL", C::Decimal, info)
            }
            D::DecimalUnsigned(info) | D::DecUnsigned(info) => {
                ColumnType::exact("DECIMAL", C::Decimal, info).unsigned()
            }
            D::Float(info) => ColumnType::exact("FLOAT", C::Float, info),
            D::FloatUnsigned(info) => ColumnType::exact("FLOAT", C::Float, info).unsigned(),
            D::Double(info) => ColumnType::exact("DOUBLE", C::Float, info),
            D::DoubleUnsigned(info) => ColumnType::exact("DOUBLE", C::Float, info).unsigned(),
            D::DoublePrecision | D::Real | D::Float8 => ColumnType::new("DOUBLE", C::Float, &None),
            D::DoublePrecisionUnsigned | D::RealUnsigned => {
                ColumnType::new("DOUBLE", C::Float, &None).unsigned()
            }
            D::Bit(w) => ColumnType::new("BIT", C::Bit, w),
            D::Char(length) | D::Character(length) => ColumnType::text("CHAR", length),
            D::Varchar(length)
            | D::Nvarchar(length)
            | D::CharVarying(length)
            | D::CharacterVarying(length) => ColumnType::text("VARCHAR", length),
            D::TinyText => ColumnType::new("TINYTEXT", C::Text, &None),
            D::Text => ColumnType::new("TEXT", C::Text, &None),
            D::MediumText => ColumnType::new("MEDIUMTEXT", C::Text, &None),
            D::LongText => ColumnType::new("LONGTEXT", C::Text, &None),
            D::Binary(length) => ColumnType::new("BINARY", C::Binary, length),
            D::Varbinary(length) => ColumnType::new("VARBINARY", C::Binary, &binary_length(length)),
            D::TinyBlob => ColumnType::new("TINYBLOB", C::Binary, &None),
            D::Blob(_) => ColumnType::new("BLOB", C::Binary, &None),
            D::MediumBlob => ColumnType::new("MEDIUMBLOB", C::Binary, &None),
            D::LongBlob => ColumnType::new("LONGBLOB", C::Binary, &None),
            D::Date => ColumnType::new("DATE", C::Date, &None),
            D::Time(precision, _) => ColumnType::new("TIME", C::Time, precision),
            D::Datetime(precision) => ColumnType::new("DATETIME", C::DateTime, precision),
            D::Timestamp(precision, _) => ColumnType::new("TIMESTAMP", C::DateTime, precision),
            D::JSON => ColumnType::new("JSON", C::Json, &None),
            D::Enum(members, _) => ColumnType::members("ENUM", members.iter().map(member_name)),
            D::Set(members) => ColumnType::members("MYSQL_SET", members.iter().cloned()),
            D::GeometricType(_) => ColumnType::new("BLOB", C::Binary, &None),
            D::Custom(name, modifiers) => ColumnType::custom(name, modifiers)?,
            other => return Err(TranslateError::unsupported(format!("column type {other}"))),
        };
        Ok(column)
    }

    fn new(base: &str, class: TypeClass, argument: &Option<u64>) -> ColumnType {
        ColumnType {
            base: base.to_owned(),
            class,
            unsigned: false,
            zerofill: false,
            arguments: argument.map(|a| a.to_string()),
            members: Vec::new(),
        }
    }

    fn exact(base: &str, class: TypeClass, info: &ExactNumberInfo) -> ColumnType {
        let mut column = ColumnType::new(base, class, &None);
        column.arguments = match info {
            ExactNumberInfo::None => None,
            ExactNumberInfo::Precision(p) => Some(p.to_string()),
            ExactNumberInfo::PrecisionAndScale(p, s) => Some(format!("{p},{s}")),
        };
        column
    }

    fn text(base: &str, length: &Option<CharacterLength>) -> ColumnType {
        let length = match length {
            Some(CharacterLength::IntegerLength { length, .. }) => Some(*length),
            _ => None,
        };
        ColumnType::new(base, TypeClass::Text, &length)
    }

    fn members(base: &str, members: impl Iterator<Item = String>) -> ColumnType {
        let mut column = ColumnType::new(base, TypeClass::Text, &None);
        column.members = members.collect();
        column
    }

    /// Types sqlparser does not model (YEAR, SERIAL-less odd names, geometry spellings).
    fn custom(name: &ObjectName, modifiers: &[TypeModifier]) -> Result<ColumnType, TranslateError> {
        let base = name.to_string().to_ascii_uppercase();
        let argument = match modifiers.first() {
            Some(TypeModifier::Number(number, _)) => number.parse().ok(),
            _ => None,
        };
        match base.as_str() {
            "YEAR" => Ok(ColumnType::new("YEAR", TypeClass::Year, &None)),
            "GEOMETRY" | "POINT" | "LINESTRING" | "POLYGON" | "MULTIPOINT" | "MULTILINESTRING"
            | "MULTIPOLYGON" | "GEOMETRYCOLLECTION" => {
                Ok(ColumnType::new("BLOB", TypeClass::Binary, &None))
            }
            "NCHAR" | "NATIONAL CHAR" => Ok(ColumnType::new("CHAR", TypeClass::Text, &argument)),
            "LONG" | "LONG VARCHAR" => Ok(ColumnType::new("MEDIUMTEXT", TypeClass::Text, &None)),
            _ => Err(TranslateError::unsupported(format!("column type {base}"))),
        }
    }

    fn unsigned(mut self) -> ColumnType {
        self.unsigned = true;
        self
    }

    /// The SQLite declared type (see the module documentation).
    pub fn declaration(&self) -> String {
        let mut declaration = self.base.clone();
        if self.unsigned {
            declaration.push_str(" UNSIGNED");
        }
        if self.zerofill {
            declaration.push_str(" ZEROFILL");
        }
        match self.class {
            TypeClass::Binary if self.base.ends_with("BINARY") => declaration.push_str(" BLOB"),
            TypeClass::Json => declaration.push_str(" TEXT"),
            TypeClass::Text if !self.members.is_empty() => declaration.push_str(" TEXT"),
            _ => {}
        }
        if let Some(arguments) = &self.arguments {
            declaration.push_str(&format!("({arguments})"));
        }
        for member in &self.members {
            declaration.push(' ');
            declaration.push_str(&quote_str(member));
        }
        declaration
    }

    /// True for character types, which compare case-insensitively in MySQL by default.
    pub fn is_text(&self) -> bool {
        self.class == TypeClass::Text
    }

    /// True for integer types (candidates for the rowid alias).
    pub fn is_integer(&self) -> bool {
        self.class == TypeClass::Integer
    }

    /// The value MySQL's non-strict mode stores when a NOT NULL column without a DEFAULT is
    /// left out of an INSERT, as a SQL literal.
    pub fn implicit_default(&self) -> String {
        match self.class {
            TypeClass::Integer | TypeClass::Decimal | TypeClass::Float | TypeClass::Bit => {
                "0".to_owned()
            }
            TypeClass::Year => "0000".to_owned(),
            TypeClass::Date => quote_str("0000-00-00"),
            TypeClass::Time => quote_str("00:00:00"),
            TypeClass::DateTime => quote_str("0000-00-00 00:00:00"),
            TypeClass::Json => quote_str("null"),
            TypeClass::Text => quote_str(self.members.first().map_or("", String::as_str)),
            TypeClass::Binary => "X''".to_owned(),
        }
    }

    /// True for DATETIME and TIMESTAMP, the types `CURRENT_TIMESTAMP` defaults apply to.
    pub fn is_date_time(&self) -> bool {
        self.class == TypeClass::DateTime
    }
}

fn member_name(member: &EnumMember) -> String {
    match member {
        EnumMember::Name(name) | EnumMember::NamedValue(name, _) => name.clone(),
    }
}

fn binary_length(length: &Option<BinaryLength>) -> Option<u64> {
    match length {
        Some(BinaryLength::IntegerLength { length }) => Some(*length),
        _ => None,
    }
}

/// What a MySQL `CAST(x AS type)` becomes in SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CastTarget {
    /// `CAST(x AS <type>)` with a SQLite type name.
    Cast(&'static str),
    /// `round(CAST(x AS REAL), scale)`: DECIMAL with a scale.
    Rounded(i64),
    /// A call of the SQLite date function of that name (`date`, `datetime`, `time`).
    DateFunction(&'static str),
    /// `x COLLATE BINARY`: MySQL's BINARY cast, used for case-sensitive comparison.
    Binary,
    /// SIGNED/UNSIGNED: `CAST(mysql_integer(x) AS INTEGER)`. The function converts as MySQL
    /// does and records its warnings; the CAST keeps SQLite's INTEGER affinity, so that
    /// `CAST(v AS SIGNED) > '10'` still compares numbers.
    Integer,
}

/// The SQLite form of a MySQL CAST/CONVERT target type.
pub(crate) fn cast_target(data_type: &DataType) -> Result<CastTarget, TranslateError> {
    use DataType as D;
    let target = match data_type {
        D::Signed | D::SignedInteger | D::Unsigned | D::UnsignedInteger => CastTarget::Integer,
        D::Int(_) | D::Integer(_) | D::BigInt(_) | D::TinyInt(_) | D::SmallInt(_) => {
            CastTarget::Cast("INTEGER")
        }
        D::Char(_) | D::Character(_) | D::Varchar(_) | D::Nvarchar(_) | D::Text => {
            CastTarget::Cast("TEXT")
        }
        D::JSON => CastTarget::Cast("TEXT"),
        D::Decimal(ExactNumberInfo::PrecisionAndScale(_, scale))
        | D::Numeric(ExactNumberInfo::PrecisionAndScale(_, scale))
        | D::Dec(ExactNumberInfo::PrecisionAndScale(_, scale)) => CastTarget::Rounded(*scale),
        D::Decimal(_) | D::Numeric(_) | D::Dec(_) => CastTarget::Cast("NUMERIC"),
        D::Float(_) | D::Double(_) | D::DoublePrecision | D::Real => CastTarget::Cast("REAL"),
        D::Date => CastTarget::DateFunction("date"),
        D::Datetime(_) | D::Timestamp(_, _) => CastTarget::DateFunction("datetime"),
        D::Time(_, _) => CastTarget::DateFunction("time"),
        D::Binary(_) | D::Varbinary(_) | D::Blob(_) => CastTarget::Binary,
        D::Custom(name, _) if name.to_string().eq_ignore_ascii_case("YEAR") => {
            CastTarget::Cast("INTEGER")
        }
        other => return Err(TranslateError::unsupported(format!("CAST to {other}"))),
    };
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn declared(mysql: &str) -> String {
        let sql = format!("CREATE TABLE t (c {mysql})");
        let parsed = Parser::parse_sql(&MySqlDialect {}, &sql).unwrap();
        let sqlparser::ast::Statement::CreateTable(table) = &parsed[0] else {
            panic!()
        };
        ColumnType::from_data_type(&table.columns[0].data_type)
            .unwrap()
            .declaration()
    }

    #[test]
    fn integers_keep_width_and_sign() {
        assert_eq!(declared("bigint(20) unsigned"), "BIGINT UNSIGNED(20)");
        assert_eq!(declared("int(11)"), "INT(11)");
        assert_eq!(declared("INTEGER"), "INT");
        assert_eq!(declared("tinyint(1)"), "TINYINT(1)");
        assert_eq!(declared("boolean"), "TINYINT(1)");
        assert_eq!(
            declared("int(10) unsigned zerofill"),
            "INT UNSIGNED ZEROFILL(10)"
        );
    }

    #[test]
    fn other_types() {
        assert_eq!(declared("decimal(10,2) unsigned"), "DECIMAL UNSIGNED(10,2)");
        assert_eq!(declared("double"), "DOUBLE");
        assert_eq!(declared("varchar(255)"), "VARCHAR(255)");
        assert_eq!(declared("longtext"), "LONGTEXT");
        assert_eq!(declared("varbinary(16)"), "VARBINARY BLOB(16)");
        assert_eq!(declared("datetime(6)"), "DATETIME(6)");
        assert_eq!(declared("year"), "YEAR");
        assert_eq!(declared("json"), "JSON TEXT");
        assert_eq!(declared("enum('a','it''s')"), "ENUM TEXT 'a' 'it''s'");
        assert_eq!(declared("set('x','y')"), "MYSQL_SET TEXT 'x' 'y'");
    }

    #[test]
    fn implicit_defaults_follow_non_strict_mysql() {
        let of = |mysql: &str| {
            let sql = format!("CREATE TABLE t (c {mysql})");
            let parsed = Parser::parse_sql(&MySqlDialect {}, &sql).unwrap();
            let sqlparser::ast::Statement::CreateTable(table) = &parsed[0] else {
                panic!()
            };
            ColumnType::from_data_type(&table.columns[0].data_type)
                .unwrap()
                .implicit_default()
        };
        assert_eq!(of("int"), "0");
        assert_eq!(of("longtext"), "''");
        assert_eq!(of("datetime"), "'0000-00-00 00:00:00'");
        assert_eq!(of("enum('b','a')"), "'b'");
    }

    #[test]
    fn cast_targets() {
        assert_eq!(cast_target(&DataType::Signed).unwrap(), CastTarget::Integer);
        let decimal = DataType::Decimal(ExactNumberInfo::PrecisionAndScale(10, 2));
        assert_eq!(cast_target(&decimal).unwrap(), CastTarget::Rounded(2));
        assert_eq!(
            cast_target(&DataType::Date).unwrap(),
            CastTarget::DateFunction("date")
        );
        assert_eq!(
            cast_target(&DataType::Binary(None)).unwrap(),
            CastTarget::Binary
        );
    }
}
