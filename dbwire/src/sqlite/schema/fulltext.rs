//! Upkeep of the FTS5 tables behind FULLTEXT indexes when their table changes.
//!
//! The translator creates, for a FULLTEXT index of `t` on columns `a, b`, an external-content
//! FTS5 table `t__fts__a__b` reading `t` by rowid, plus triggers keeping it in step. Dropping,
//! renaming or rebuilding `t` is the backend's business, so this module drops and recreates
//! those tables (the recreation reindexes from the table's rows).

use rusqlite::Connection;

use crate::sqlite::translate::{self, quote_ident, AlterOp};

/// A FULLTEXT table: its name and indexed columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FulltextIndex {
    /// The FTS5 table's name.
    pub name: String,
    /// The indexed columns of the content table.
    pub columns: Vec<String>,
}

/// The FULLTEXT indexes of `table`.
pub fn indexes_of(conn: &Connection, table: &str) -> rusqlite::Result<Vec<FulltextIndex>> {
    let prefix = translate::fulltext_table_name(table, &[]);
    let names: Vec<String> = conn
        .prepare(
            "SELECT name FROM main.sqlite_schema WHERE type = 'table' \
             AND substr(name, 1, length(?1)) = ?1 AND sql LIKE 'CREATE VIRTUAL TABLE%'",
        )?
        .query_map([&prefix], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut indexes = Vec::with_capacity(names.len());
    for name in names {
        let columns = conn
            .prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?
            .query_map([&name], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        indexes.push(FulltextIndex { name, columns });
    }
    Ok(indexes)
}

/// Drops a FULLTEXT table and its triggers.
pub fn drop_index(conn: &Connection, index: &FulltextIndex) -> rusqlite::Result<()> {
    let trigger_prefix = format!("{}__", index.name);
    let triggers: Vec<String> = conn
        .prepare(
            "SELECT name FROM main.sqlite_schema WHERE type = 'trigger' \
             AND substr(name, 1, length(?1)) = ?1",
        )?
        .query_map([&trigger_prefix], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for trigger in triggers {
        conn.execute(
            &format!("DROP TRIGGER IF EXISTS {}", quote_ident(&trigger)),
            [],
        )?;
    }
    conn.execute(
        &format!("DROP TABLE IF EXISTS {}", quote_ident(&index.name)),
        [],
    )?;
    Ok(())
}

/// Creates (and fills) a FULLTEXT index of `table` on `columns`.
pub fn create_index(conn: &Connection, table: &str, columns: Vec<String>) -> rusqlite::Result<()> {
    let op = AlterOp::AddFulltextIndex {
        name: String::new(),
        columns,
    };
    for sql in op.in_place_sql(table).unwrap_or_default() {
        conn.execute(&sql, [])?;
    }
    Ok(())
}

/// Drops FULLTEXT tables whose table no longer exists (after `DROP TABLE`).
pub fn drop_orphans(conn: &Connection) -> rusqlite::Result<()> {
    let orphans: Vec<String> = conn
        .prepare(
            "SELECT f.name FROM main.sqlite_schema AS f WHERE f.type = 'table' \
             AND f.sql LIKE 'CREATE VIRTUAL TABLE%' AND instr(f.name, '__fts__') > 1 \
             AND NOT EXISTS (SELECT 1 FROM main.sqlite_schema AS t WHERE t.type = 'table' \
             AND t.name = substr(f.name, 1, instr(f.name, '__fts__') - 1))",
        )?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for name in orphans {
        drop_index(
            conn,
            &FulltextIndex {
                name,
                columns: Vec::new(),
            },
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE posts (id INTEGER PRIMARY KEY, title TEXT, body TEXT); \
             INSERT INTO posts (title, body) VALUES ('Hello', 'first post'), ('Bye', 'last');",
        )
        .unwrap();
        create_index(&conn, "posts", vec!["title".to_owned(), "body".to_owned()]).unwrap();
        conn
    }

    #[test]
    fn creates_lists_and_drops() {
        let conn = connection();
        let indexes = indexes_of(&conn, "posts").unwrap();
        assert_eq!(indexes.len(), 1);
        assert_eq!(indexes[0].columns, ["title", "body"]);
        let hits: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {} WHERE {0} MATCH 'first'",
                    quote_ident(&indexes[0].name)
                ),
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(hits, 1);
        drop_index(&conn, &indexes[0]).unwrap();
        assert!(indexes_of(&conn, "posts").unwrap().is_empty());
        let triggers: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(triggers, 0);
    }

    #[test]
    fn orphans_go_with_their_table() {
        let conn = connection();
        conn.execute_batch("CREATE TABLE other (x)").unwrap();
        drop_orphans(&conn).unwrap();
        assert_eq!(indexes_of(&conn, "posts").unwrap().len(), 1);
        conn.execute_batch("DROP TABLE posts").unwrap();
        drop_orphans(&conn).unwrap();
        let left: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'posts%'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(left, 0);
    }
}
