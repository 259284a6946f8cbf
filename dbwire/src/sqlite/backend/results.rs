//! Parameters into SQLite statements, and SQLite rows out as MySQL result sets: column
//! definitions with MySQL types, names and tables, and values in the shape of their type.

use rusqlite::types::{ToSqlOutput, Value as SqlValue, ValueRef};

use crate::backend::{column_flags, Column, DbError, QueryResult, Value};
use crate::sqlite::errors::codes;
use crate::sqlite::schema::types::{MysqlType, StorageClass, StoredValue};
use crate::sqlite::schema::TableSchema;

/// Binds `params` to `statement`: parameter `n` (`?n` in translated SQL) gets `params[n-1]`.
pub fn bind(statement: &mut rusqlite::Statement<'_>, params: &[Value]) -> Result<(), DbError> {
    let expected = statement.parameter_count();
    if params.len() < expected {
        return Err(DbError::new(
            codes::WRONG_ARGUMENTS,
            "HY000",
            format!(
                "Incorrect arguments to mysqld_stmt_execute ({} given, {expected} expected)",
                params.len()
            ),
        ));
    }
    for (index, value) in params.iter().take(expected).enumerate() {
        statement
            .raw_bind_parameter(index + 1, sql_param(value))
            .map_err(|error| {
                crate::sqlite::errors::unknown(format!(
                    "cannot bind parameter {}: {error}",
                    index + 1
                ))
            })?;
    }
    Ok(())
}

/// A MySQL parameter as a SQLite value. Strings bind as TEXT when they are UTF-8 (so they
/// compare equal to TEXT columns), else as BLOB; unsigned values beyond i64 as their digits.
fn sql_param(value: &Value) -> ToSqlOutput<'_> {
    match value {
        Value::Null => ToSqlOutput::Owned(SqlValue::Null),
        Value::Int(number) => ToSqlOutput::Owned(SqlValue::Integer(*number)),
        Value::UInt(number) => match i64::try_from(*number) {
            Ok(number) => ToSqlOutput::Owned(SqlValue::Integer(number)),
            Err(_) => ToSqlOutput::Owned(SqlValue::Text(number.to_string())),
        },
        Value::Double(number) => ToSqlOutput::Owned(SqlValue::Real(*number)),
        Value::Bytes(bytes) => match std::str::from_utf8(bytes) {
            Ok(_) => ToSqlOutput::Borrowed(ValueRef::Text(bytes)),
            Err(_) => ToSqlOutput::Borrowed(ValueRef::Blob(bytes)),
        },
    }
}

/// Where a result column comes from.
struct Description {
    name: String,
    declared: Option<MysqlType>,
    table: String,
    origin: String,
    flags: u16,
}

fn describe_columns(statement: &rusqlite::Statement<'_>) -> Vec<Description> {
    let declared: Vec<(String, Option<MysqlType>)> = statement
        .columns()
        .map(|column| {
            let mysql = column.decl_type().and_then(MysqlType::from_declared);
            (column.name().to_owned(), mysql)
        })
        .collect();
    let origins: Vec<(String, String)> = statement
        .columns_with_metadata()
        .map(|meta| {
            let table = meta.table_name().unwrap_or_default().to_owned();
            let origin = meta.origin_name().unwrap_or_default().to_owned();
            (table, origin)
        })
        .collect();
    declared
        .into_iter()
        .zip(origins)
        .enumerate()
        .map(|(index, ((name, declared), (table, origin)))| Description {
            flags: key_flags(statement, index),
            origin: if origin.is_empty() {
                name.clone()
            } else {
                origin
            },
            name,
            declared,
            table,
        })
        .collect()
}

/// NOT NULL, PRIMARY KEY and AUTO_INCREMENT flags of a column read straight from a table.
fn key_flags(statement: &rusqlite::Statement<'_>, index: usize) -> u16 {
    let Ok(Some((_, _, _, declared, _, not_null, primary_key, autoincrement))) =
        statement.column_metadata(index)
    else {
        return 0;
    };
    let rowid_alias = primary_key
        && declared
            .as_ref()
            .is_some_and(|d| d.to_bytes().eq_ignore_ascii_case(b"integer"));
    let mut flags = 0;
    if not_null || primary_key {
        flags |= column_flags::NOT_NULL;
    }
    if primary_key {
        flags |= column_flags::PRIMARY_KEY;
    }
    if autoincrement || rowid_alias {
        flags |= column_flags::AUTO_INCREMENT;
    }
    flags
}

fn build_column(description: &Description, mysql: &MysqlType, database: Option<&str>) -> Column {
    let mut column = mysql.column(&description.name);
    column.flags |= description.flags;
    if !description.table.is_empty() {
        column.schema = database.unwrap_or_default().to_owned();
        column.table.clone_from(&description.table);
        column.org_table.clone_from(&description.table);
        column.org_name.clone_from(&description.origin);
    }
    column
}

/// The result columns of a prepared statement, before it runs (expression columns, whose
/// type depends on their values, are reported as VARCHAR).
pub fn describe(statement: &rusqlite::Statement<'_>, database: Option<&str>) -> Vec<Column> {
    describe_columns(statement)
        .iter()
        .map(|description| {
            let mysql = description
                .declared
                .clone()
                .unwrap_or_else(|| MysqlType::from_storage(StorageClass::Text));
            build_column(description, &mysql, database)
        })
        .collect()
}

/// Why reading a result set failed.
#[derive(Debug)]
pub enum ReadError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// The rows took more than this many bytes.
    TooLarge(usize),
}

impl From<rusqlite::Error> for ReadError {
    fn from(error: rusqlite::Error) -> ReadError {
        ReadError::Sqlite(error)
    }
}

/// Bytes a cell costs beyond its data, as counted against a result's size limit.
const CELL_OVERHEAD: usize = 32;

/// Runs `statement` (parameters bound) and reads its rows as a MySQL result set of at most
/// `max_bytes` (counted as cell data plus a fixed cost per cell).
pub fn read(
    statement: &mut rusqlite::Statement<'_>,
    database: Option<&str>,
    max_bytes: usize,
) -> Result<QueryResult, ReadError> {
    let descriptions = describe_columns(statement);
    let width = descriptions.len();
    let mut cells: Vec<Vec<StoredValue>> = Vec::new();
    let mut size = 0usize;
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next()? {
        let mut values = Vec::with_capacity(width);
        for index in 0..width {
            let value = row.get_ref(index)?;
            size = size.saturating_add(CELL_OVERHEAD + value.as_bytes().map_or(0, <[u8]>::len));
            values.push(StoredValue::from_ref(value));
        }
        if size > max_bytes {
            return Err(ReadError::TooLarge(max_bytes));
        }
        cells.push(values);
    }
    let types: Vec<MysqlType> = descriptions
        .iter()
        .enumerate()
        .map(|(index, description)| {
            description
                .declared
                .clone()
                .unwrap_or_else(|| MysqlType::from_storage(storage_class(&cells, index)))
        })
        .collect();
    let columns = descriptions
        .iter()
        .zip(&types)
        .map(|(description, mysql)| build_column(description, mysql, database))
        .collect();
    let rows = cells
        .into_iter()
        .map(|row| {
            row.into_iter()
                .zip(&types)
                .map(|(value, mysql)| mysql.wire_value_owned(value))
                .collect()
        })
        .collect();
    Ok(QueryResult::Rows { columns, rows })
}

/// The storage class an expression column's values share: BLOB beats TEXT beats REAL beats
/// INTEGER. With no rows it is TEXT; with only NULLs, NULL.
fn storage_class(cells: &[Vec<StoredValue>], index: usize) -> StorageClass {
    if cells.is_empty() {
        return StorageClass::Text;
    }
    cells
        .iter()
        .filter_map(|row| row.get(index))
        .fold(StorageClass::Null, |class, value| {
            wider(class, value.class())
        })
}

fn wider(current: StorageClass, seen: StorageClass) -> StorageClass {
    let rank = |class: StorageClass| match class {
        StorageClass::Null => 0,
        StorageClass::Integer => 1,
        StorageClass::Real => 2,
        StorageClass::Text => 3,
        StorageClass::Blob => 4,
    };
    if rank(seen) > rank(current) {
        seen
    } else {
        current
    }
}

/// The columns of `table` as COM_FIELD_LIST describes them.
pub fn table_columns(table: &TableSchema, database: &str) -> Vec<Column> {
    table
        .columns
        .iter()
        .map(|column| {
            let mut definition = column.mysql_type.column(&column.name);
            definition.schema = database.to_owned();
            definition.table.clone_from(&table.name);
            definition.org_table.clone_from(&table.name);
            if column.not_null {
                definition.flags |= column_flags::NOT_NULL;
            }
            if column.primary_key_position > 0 {
                definition.flags |= column_flags::PRIMARY_KEY;
            }
            if column.auto_increment {
                definition.flags |= column_flags::AUTO_INCREMENT;
            }
            match table.key_kind(&column.name) {
                "UNI" => definition.flags |= column_flags::UNIQUE_KEY,
                "MUL" => definition.flags |= column_flags::MULTIPLE_KEY,
                _ => {}
            }
            definition
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::ColumnType;

    #[test]
    fn reads_typed_rows() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, price DECIMAL(10,2)); \
             INSERT INTO t VALUES (1, 'a', 2.5), (2, 'b', NULL);",
        )
        .unwrap();
        let mut statement = conn
            .prepare("SELECT id, name AS label, price, id * 1.5 FROM t ORDER BY id")
            .unwrap();
        let QueryResult::Rows { columns, rows } =
            read(&mut statement, Some("shop"), usize::MAX).unwrap()
        else {
            panic!("expected rows");
        };
        assert_eq!(columns[0].column_type, ColumnType::LongLong);
        assert_ne!(columns[0].flags & column_flags::AUTO_INCREMENT, 0);
        assert_ne!(columns[0].flags & column_flags::PRIMARY_KEY, 0);
        assert_eq!(
            (columns[1].name.as_str(), columns[1].org_name.as_str()),
            ("label", "name")
        );
        assert_eq!(
            (columns[1].table.as_str(), columns[1].schema.as_str()),
            ("t", "shop")
        );
        assert_ne!(columns[1].flags & column_flags::NOT_NULL, 0);
        assert_eq!(columns[2].column_type, ColumnType::NewDecimal);
        assert_eq!(columns[3].column_type, ColumnType::Double);
        assert_eq!(columns[3].table, "");
        assert_eq!(
            rows[0],
            [
                Value::Int(1),
                Value::Bytes(b"a".to_vec()),
                Value::Bytes(b"2.50".to_vec()),
                Value::Double(1.5)
            ]
        );
        assert_eq!(rows[1][2], Value::Null);
    }

    #[test]
    fn binds_mysql_values() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut statement = conn
            .prepare("SELECT ?1, typeof(?2), ?3, typeof(?4), ?5")
            .unwrap();
        let params = [
            Value::Int(-4),
            Value::Bytes(vec![0xff, 0x00]),
            Value::UInt(u64::MAX),
            Value::Bytes(b"text".to_vec()),
            Value::Null,
        ];
        bind(&mut statement, &params).unwrap();
        let QueryResult::Rows { rows, .. } = read(&mut statement, None, usize::MAX).unwrap() else {
            panic!()
        };
        assert_eq!(
            rows[0],
            [
                Value::Int(-4),
                Value::Bytes(b"blob".to_vec()),
                Value::Bytes(u64::MAX.to_string().into_bytes()),
                Value::Bytes(b"text".to_vec()),
                Value::Null
            ]
        );
        let mut too_few = conn.prepare("SELECT ?1, ?2").unwrap();
        assert_eq!(bind(&mut too_few, &[Value::Int(1)]).unwrap_err().code, 1210);
    }
}
