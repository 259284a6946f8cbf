//! What MySQL clients learn about tables: the SQLite schema read back as MySQL columns, keys
//! and DDL, for `SHOW ...`, `DESCRIBE`, the `information_schema` helper functions and
//! `ALTER TABLE` rebuilds.

pub mod alter;
pub mod fulltext;
pub mod show;
pub mod types;

use rusqlite::{Connection, OptionalExtension};

use self::types::MysqlType;
use crate::sqlite::translate;

/// Name of the key MySQL calls the primary key.
pub const PRIMARY: &str = "PRIMARY";

/// A table as MySQL describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct TableSchema {
    /// Table name.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<ColumnSchema>,
    /// The primary key (if any) first, then the other indexes in creation order.
    pub indexes: Vec<IndexSchema>,
    /// The `CREATE TABLE` statement SQLite stored.
    pub sql: String,
    /// True for views.
    pub is_view: bool,
}

/// One column.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSchema {
    /// Column name.
    pub name: String,
    /// The declared type, verbatim.
    pub declared_type: String,
    /// The MySQL type read from the declared type.
    pub mysql_type: MysqlType,
    /// NOT NULL (primary-key columns count as NOT NULL, as in MySQL).
    pub not_null: bool,
    /// The DEFAULT expression as SQL text (`'abc'`, `0`, `CURRENT_TIMESTAMP`), if any.
    pub default: Option<String>,
    /// 1-based position in the primary key, 0 when not part of it.
    pub primary_key_position: u32,
    /// True for the rowid alias of a rowid table, which SQLite numbers automatically like
    /// MySQL's AUTO_INCREMENT.
    pub auto_increment: bool,
}

/// One index (or the primary key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexSchema {
    /// The MySQL key name (`PRIMARY` for the primary key).
    pub name: String,
    /// The SQLite index name; `None` for a rowid primary key, which has no separate index.
    pub sqlite_name: Option<String>,
    /// UNIQUE (always true for the primary key).
    pub unique: bool,
    /// The primary key.
    pub primary: bool,
    /// Column names in key order.
    pub columns: Vec<String>,
    /// True when the index was created by `CREATE INDEX` (not inline in `CREATE TABLE`).
    pub created_separately: bool,
}

impl TableSchema {
    /// The column named `name` (case-insensitively, as MySQL matches column names).
    pub fn column(&self, name: &str) -> Option<&ColumnSchema> {
        self.columns
            .iter()
            .find(|column| column.name.eq_ignore_ascii_case(name))
    }

    /// The primary key, if the table has one.
    pub fn primary_key(&self) -> Option<&IndexSchema> {
        self.indexes.iter().find(|index| index.primary)
    }

    /// The column numbered automatically on insert, if any.
    pub fn auto_increment_column(&self) -> Option<&ColumnSchema> {
        self.columns.iter().find(|column| column.auto_increment)
    }

    /// `SHOW COLUMNS`' Key for `column`: PRI, UNI, MUL or empty.
    pub fn key_kind(&self, column: &str) -> &'static str {
        let leads = |index: &&IndexSchema| {
            index
                .columns
                .first()
                .is_some_and(|first| first.eq_ignore_ascii_case(column))
        };
        if self
            .primary_key()
            .is_some_and(|pk| pk.columns.iter().any(|c| c.eq_ignore_ascii_case(column)))
        {
            "PRI"
        } else if self
            .indexes
            .iter()
            .filter(leads)
            .any(|index| index.unique && index.columns.len() == 1)
        {
            "UNI"
        } else if self.indexes.iter().any(|index| leads(&index)) {
            "MUL"
        } else {
            ""
        }
    }
}

/// A user-visible table or view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableName {
    /// Name.
    pub name: String,
    /// True for views.
    pub is_view: bool,
}

/// The tables and views of the connection's main database that MySQL clients should see,
/// sorted by name: SQLite's own tables, FULLTEXT (FTS5) tables with their shadow tables, and
/// the translator's scratch tables are left out.
pub fn table_names(conn: &Connection) -> rusqlite::Result<Vec<TableName>> {
    let mut statement = conn.prepare(
        "SELECT name, type FROM pragma_table_list WHERE schema = 'main' \
         AND type IN ('table', 'view') ORDER BY name",
    )?;
    let rows = statement.query_map([], |row| {
        Ok(TableName {
            name: row.get(0)?,
            is_view: row.get::<_, String>(1)? == "view",
        })
    })?;
    let mut names = rows.collect::<rusqlite::Result<Vec<_>>>()?;
    names.retain(|table| !translate::is_internal_table(&table.name));
    Ok(names)
}

/// Reads `table` of the main database; `None` when there is no such table or view.
pub fn load_table(conn: &Connection, table: &str) -> rusqlite::Result<Option<TableSchema>> {
    let found: Option<(String, String, Option<String>)> = conn
        .query_row(
            "SELECT name, type, sql FROM main.sqlite_schema \
             WHERE type IN ('table', 'view') AND name = ?1 COLLATE NOCASE",
            [table],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .optional()?;
    let Some((name, kind, sql)) = found else {
        return Ok(None);
    };
    let columns = load_columns(conn, &name)?;
    let indexes = if kind == "view" {
        Vec::new()
    } else {
        load_indexes(conn, &name, &columns)?
    };
    Ok(Some(TableSchema {
        name,
        columns,
        indexes,
        sql: sql.unwrap_or_default(),
        is_view: kind == "view",
    }))
}

fn load_columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<ColumnSchema>> {
    let mut statement = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value, pk FROM pragma_table_xinfo(?1) \
         WHERE hidden IN (0, 2, 3) ORDER BY cid",
    )?;
    let mut columns = statement
        .query_map([table], |row| {
            let declared_type: String = row.get(1)?;
            let primary_key_position: u32 = row.get(4)?;
            Ok(ColumnSchema {
                name: row.get(0)?,
                mysql_type: MysqlType::from_declared(&declared_type)
                    .unwrap_or_else(|| types::MysqlType::from_storage(types::StorageClass::Text)),
                declared_type,
                not_null: row.get::<_, bool>(2)? || primary_key_position > 0,
                default: row.get(3)?,
                primary_key_position,
                auto_increment: false,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let key_columns: Vec<usize> = columns
        .iter()
        .enumerate()
        .filter(|(_, column)| column.primary_key_position > 0)
        .map(|(index, _)| index)
        .collect();
    if let [only] = key_columns.as_slice() {
        let is_rowid_alias = columns[*only].declared_type.eq_ignore_ascii_case("integer")
            && !is_without_rowid(conn, table)?;
        columns[*only].auto_increment = is_rowid_alias;
    }
    Ok(columns)
}

/// True when the main database has a table (or view) named `name`.
pub fn table_exists(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) > 0 FROM main.sqlite_schema WHERE type IN ('table', 'view') AND name = ?1",
        [name],
        |row| row.get(0),
    )
}

/// True when `table` numbers its rows itself: its primary key is the single `INTEGER` column
/// SQLite makes the rowid alias (what the translator makes of AUTO_INCREMENT).
pub fn has_auto_increment(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    let key_types: Vec<String> = conn
        .prepare_cached("SELECT type FROM pragma_table_info(?1) WHERE pk > 0")?
        .query_map([table], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    match key_types.as_slice() {
        [only] if only.eq_ignore_ascii_case("integer") => Ok(!is_without_rowid(conn, table)?),
        _ => Ok(false),
    }
}

fn is_without_rowid(conn: &Connection, table: &str) -> rusqlite::Result<bool> {
    let without: Option<bool> = conn
        .query_row(
            "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
            [table],
            |row| row.get(0),
        )
        .optional()?;
    Ok(without.unwrap_or(false))
}

fn load_indexes(
    conn: &Connection,
    table: &str,
    columns: &[ColumnSchema],
) -> rusqlite::Result<Vec<IndexSchema>> {
    let mut indexes = Vec::new();
    let mut key_columns: Vec<&ColumnSchema> = columns
        .iter()
        .filter(|column| column.primary_key_position > 0)
        .collect();
    key_columns.sort_by_key(|column| column.primary_key_position);
    let mut statement = conn
        .prepare("SELECT name, \"unique\", origin FROM pragma_index_list(?1) ORDER BY seq DESC")?;
    let listed = statement
        .query_map([table], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, bool>(1)?,
                row.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut has_primary_index = false;
    for (sqlite_name, unique, origin) in listed {
        let primary = origin == "pk";
        has_primary_index |= primary;
        let index_columns = index_columns(conn, &sqlite_name)?;
        let name = if primary {
            PRIMARY.to_owned()
        } else if origin == "u" {
            index_columns
                .first()
                .cloned()
                .unwrap_or_else(|| sqlite_name.clone())
        } else {
            mysql_index_name(table, &sqlite_name)
        };
        indexes.push(IndexSchema {
            name,
            sqlite_name: Some(sqlite_name),
            unique,
            primary,
            columns: index_columns,
            created_separately: origin == "c",
        });
    }
    if !has_primary_index && !key_columns.is_empty() {
        indexes.push(IndexSchema {
            name: PRIMARY.to_owned(),
            sqlite_name: None,
            unique: true,
            primary: true,
            columns: key_columns
                .iter()
                .map(|column| column.name.clone())
                .collect(),
            created_separately: false,
        });
    }
    // Primary key first, as MySQL lists it.
    indexes.sort_by_key(|index| !index.primary);
    Ok(indexes)
}

fn index_columns(conn: &Connection, index: &str) -> rusqlite::Result<Vec<String>> {
    let mut statement = conn.prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?;
    let names = statement
        .query_map([index], |row| row.get::<_, Option<String>>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    // Expression index parts have no name; MySQL has no equivalent, so they are left out.
    Ok(names.into_iter().flatten().collect())
}

/// The MySQL name of SQLite index `sqlite_name` on `table`: the translator prefixes index
/// names with the table name, since SQLite's are global to the database and MySQL's per table.
pub fn mysql_index_name(table: &str, sqlite_name: &str) -> String {
    translate::mysql_index_name(table, sqlite_name)
        .unwrap_or(sqlite_name)
        .to_owned()
}

/// Quotes an identifier for SQLite (double quotes, doubled inside).
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes an identifier the MySQL way, for DDL shown to clients.
pub fn quote_mysql_identifier(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(ddl: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(ddl).unwrap();
        conn
    }

    #[test]
    fn reads_columns_keys_and_auto_increment() {
        let conn = connection(
            "CREATE TABLE wp_posts (ID INTEGER PRIMARY KEY AUTOINCREMENT, \
             post_name varchar(200) NOT NULL DEFAULT '', post_date datetime, \
             UNIQUE (post_date)); \
             CREATE INDEX wp_posts__post_name ON wp_posts (post_name);",
        );
        let table = load_table(&conn, "WP_POSTS").unwrap().unwrap();
        assert_eq!(table.name, "wp_posts");
        let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["ID", "post_name", "post_date"]);
        assert!(table.columns[0].auto_increment && table.columns[0].not_null);
        assert_eq!(table.columns[1].default.as_deref(), Some("''"));
        assert_eq!(table.columns[1].mysql_type.display, "varchar(200)");
        let keys: Vec<(&str, bool, &[String])> = table
            .indexes
            .iter()
            .map(|index| (index.name.as_str(), index.unique, index.columns.as_slice()))
            .collect();
        assert_eq!(keys[0].0, PRIMARY);
        assert!(keys.contains(&("post_name", false, &["post_name".to_owned()][..])));
        assert!(keys.contains(&("post_date", true, &["post_date".to_owned()][..])));
        assert_eq!(table.key_kind("id"), "PRI");
        assert_eq!(table.key_kind("post_name"), "MUL");
        assert_eq!(table.key_kind("post_date"), "UNI");
    }

    #[test]
    fn composite_keys_and_without_rowid() {
        let conn = connection(
            "CREATE TABLE rel (a INTEGER NOT NULL, b INTEGER NOT NULL, PRIMARY KEY (b, a)); \
             CREATE TABLE kv (k INTEGER PRIMARY KEY, v TEXT) WITHOUT ROWID;",
        );
        let rel = load_table(&conn, "rel").unwrap().unwrap();
        assert_eq!(rel.primary_key().unwrap().columns, ["b", "a"]);
        assert!(rel.auto_increment_column().is_none());
        let kv = load_table(&conn, "kv").unwrap().unwrap();
        assert!(kv.auto_increment_column().is_none());
        assert!(load_table(&conn, "missing").unwrap().is_none());
    }

    #[test]
    fn lists_user_tables_only() {
        let conn = connection(
            "CREATE TABLE b (x); CREATE TABLE a (y INTEGER PRIMARY KEY AUTOINCREMENT); \
             CREATE VIEW v AS SELECT 1; CREATE VIRTUAL TABLE b__fts__x USING fts5(x); \
             CREATE TABLE _ephpm_scratch (z);",
        );
        let names: Vec<(String, bool)> = table_names(&conn)
            .unwrap()
            .into_iter()
            .map(|t| (t.name, t.is_view))
            .collect();
        assert_eq!(
            names,
            [
                ("a".to_owned(), false),
                ("b".to_owned(), false),
                ("v".to_owned(), true)
            ]
        );
    }

    #[test]
    fn index_names_round_trip() {
        assert_eq!(
            mysql_index_name(
                "wp_posts",
                &translate::index_name("wp_posts", "type_status")
            ),
            "type_status"
        );
        assert_eq!(mysql_index_name("wp_posts", "other"), "other");
        assert_eq!(quote_identifier("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_mysql_identifier("a`b"), "`a``b`");
    }
}
