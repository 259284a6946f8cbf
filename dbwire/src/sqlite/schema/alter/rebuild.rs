//! The table rebuild SQLite documents for schema changes it cannot make in place: create the
//! new table under a scratch name, copy the rows, drop the old table, rename the new one, then
//! recreate indexes and triggers. Runs inside the caller's savepoint.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension};

use super::definition::{Item, TableDefinition};
use super::{AlterFailure, Outcome};
use crate::sqlite::schema::types::MysqlType;
use crate::sqlite::schema::{self, has_auto_increment};
use crate::sqlite::translate::{self, quote_ident, AlterOp};

/// Prefix of the scratch table a rebuild fills (hidden from clients like the translator's).
const SCRATCH_PREFIX: &str = "_ephpm_rebuild_";

/// What the edited definition did to the old columns, for indexes and triggers.
#[derive(Debug, Default)]
pub struct ColumnChanges {
    /// Old name (lowercased) to new name.
    pub renamed: HashMap<String, String>,
    /// Old names (lowercased) that are gone.
    pub dropped: Vec<String>,
    /// Old names (lowercased) whose definition changed (their ON UPDATE triggers are redone by
    /// the translator's follow-up statements).
    pub redefined: Vec<String>,
}

impl ColumnChanges {
    /// The new name of old column `name`; `None` when it was dropped.
    fn new_name(&self, name: &str) -> Option<String> {
        let key = name.to_lowercase();
        if self.dropped.contains(&key) {
            return None;
        }
        Some(
            self.renamed
                .get(&key)
                .cloned()
                .unwrap_or_else(|| name.to_owned()),
        )
    }

    fn touches(&self, name: &str) -> bool {
        let key = name.to_lowercase();
        self.dropped.contains(&key)
            || self.renamed.contains_key(&key)
            || self.redefined.contains(&key)
    }
}

/// The stored definition of `table`.
pub fn load_definition(conn: &Connection, table: &str) -> Outcome<TableDefinition> {
    let sql: Option<String> = conn
        .query_row(
            "SELECT sql FROM main.sqlite_schema WHERE type = 'table' AND name = ?1",
            [table],
            |row| row.get(0),
        )
        .optional()?
        .flatten();
    let sql = sql.ok_or_else(|| AlterFailure::NoSuchTable(table.to_owned()))?;
    TableDefinition::parse(&sql)
        .ok_or_else(|| AlterFailure::Unsupported(format!("rebuilding table '{table}'")))
}

/// Replaces `table` by a table defined by `definition`, copying its rows.
pub fn rebuild(
    conn: &Connection,
    table: &str,
    definition: &TableDefinition,
    changes: &ColumnChanges,
) -> Outcome<()> {
    let indexes = separate_indexes(conn, table)?;
    let triggers = kept_triggers(conn, table, changes)?;
    let sequence = sequence_value(conn, table)?;
    let scratch = format!("{SCRATCH_PREFIX}{table}");
    conn.execute(
        &format!("DROP TABLE IF EXISTS {}", quote_ident(&scratch)),
        [],
    )?;
    conn.execute(&definition.to_sql(&scratch), [])?;
    copy_rows(conn, table, &scratch, definition)?;
    conn.execute(&format!("DROP TABLE {}", quote_ident(table)), [])?;
    rename_keeping_references(conn, &scratch, table)?;
    for index in indexes {
        recreate_index(conn, table, &index, changes)?;
    }
    for trigger in triggers {
        conn.execute(&trigger, [])?;
    }
    if let Some(sequence) = sequence {
        restore_sequence(conn, table, sequence)?;
    }
    Ok(())
}

/// Copies every row of `from` into `to`: columns with a source take its values (NULLs
/// become MySQL's implicit default when the column is now NOT NULL), new columns take their
/// default. Row ids are kept so FULLTEXT tables still match.
fn copy_rows(conn: &Connection, from: &str, to: &str, definition: &TableDefinition) -> Outcome<()> {
    let layout = column_layout(conn, to)?;
    let mut targets = Vec::new();
    let mut values = Vec::new();
    for column in definition.columns() {
        let (declared, not_null, has_default) = layout
            .get(&column.name.to_lowercase())
            .cloned()
            .unwrap_or_default();
        let implicit = MysqlType::from_declared(&declared).map(|mysql| mysql.implicit_default());
        let value = match (&column.source, implicit) {
            (Some(source), Some(implicit)) if not_null => {
                format!("coalesce({}, {implicit})", quote_ident(source))
            }
            (Some(source), _) => quote_ident(source),
            (None, Some(implicit)) if not_null && !has_default => implicit,
            (None, _) => continue,
        };
        targets.push(quote_ident(&column.name));
        values.push(value);
    }
    let keeps_rowid =
        is_rowid_table(conn, from)? && is_rowid_table(conn, to)? && !has_auto_increment(conn, to)?;
    if keeps_rowid {
        targets.insert(0, "rowid".to_owned());
        values.insert(0, "rowid".to_owned());
    }
    if targets.is_empty() {
        return Ok(());
    }
    let order = if is_rowid_table(conn, from)? {
        " ORDER BY rowid"
    } else {
        ""
    };
    conn.execute(
        &format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}{order}",
            quote_ident(to),
            targets.join(", "),
            values.join(", "),
            quote_ident(from)
        ),
        [],
    )?;
    Ok(())
}

/// Declared type, NOT NULL and has-a-default of each column of `table`, by lowercased name.
fn column_layout(conn: &Connection, table: &str) -> Outcome<HashMap<String, (String, bool, bool)>> {
    let mut statement = conn.prepare(
        "SELECT name, type, \"notnull\", dflt_value IS NOT NULL FROM pragma_table_info(?1)",
    )?;
    let rows = statement.query_map([table], |row| {
        Ok((
            row.get::<_, String>(0)?.to_lowercase(),
            (row.get(1)?, row.get(2)?, row.get(3)?),
        ))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn is_rowid_table(conn: &Connection, table: &str) -> Outcome<bool> {
    let without: Option<bool> = conn
        .query_row(
            "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = ?1",
            [table],
            |row| row.get(0),
        )
        .optional()?;
    Ok(!without.unwrap_or(false))
}

/// Renames the rebuilt table over the old name without SQLite rewriting views and triggers
/// that already name the old table (they are meant to follow the new one).
fn rename_keeping_references(conn: &Connection, from: &str, to: &str) -> Outcome<()> {
    conn.execute_batch("PRAGMA legacy_alter_table = ON")?;
    let renamed = conn.execute(
        &format!(
            "ALTER TABLE {} RENAME TO {}",
            quote_ident(from),
            quote_ident(to)
        ),
        [],
    );
    conn.execute_batch("PRAGMA legacy_alter_table = OFF")?;
    renamed?;
    Ok(())
}

/// An index created by its own CREATE INDEX statement.
struct SeparateIndex {
    name: String,
    sql: String,
    unique: bool,
    columns: Vec<String>,
}

fn separate_indexes(conn: &Connection, table: &str) -> Outcome<Vec<SeparateIndex>> {
    let mut statement = conn.prepare(
        "SELECT s.name, s.sql, l.\"unique\" FROM main.sqlite_schema AS s \
         JOIN pragma_index_list(?1) AS l ON l.name = s.name \
         WHERE s.type = 'index' AND s.sql IS NOT NULL",
    )?;
    let listed = statement
        .query_map([table], |row| {
            Ok((
                row.get::<_, String>(0)?,
                row.get::<_, String>(1)?,
                row.get(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<(String, String, bool)>>>()?;
    let mut indexes = Vec::with_capacity(listed.len());
    for (name, sql, unique) in listed {
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
            .query_map([&name], |row| row.get::<_, Option<String>>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect();
        indexes.push(SeparateIndex {
            name,
            sql,
            unique,
            columns,
        });
    }
    Ok(indexes)
}

/// Recreates an index after the rebuild: as it was, or (when its columns were renamed or
/// dropped) with the new column list, or not at all when no column is left.
fn recreate_index(
    conn: &Connection,
    table: &str,
    index: &SeparateIndex,
    changes: &ColumnChanges,
) -> Outcome<()> {
    let columns: Vec<String> = index
        .columns
        .iter()
        .filter_map(|column| changes.new_name(column))
        .collect();
    let unchanged = columns.len() == index.columns.len()
        && columns
            .iter()
            .zip(&index.columns)
            .all(|(new, old)| new == old);
    if unchanged {
        conn.execute(&index.sql, [])?;
        return Ok(());
    }
    if columns.is_empty() {
        return Ok(());
    }
    let name = schema::mysql_index_name(table, &index.name);
    let op = AlterOp::AddIndex {
        name,
        columns,
        unique: index.unique,
    };
    for sql in op.in_place_sql(table).unwrap_or_default() {
        conn.execute(&sql, [])?;
    }
    Ok(())
}

/// The triggers of `table` to recreate after the rebuild: not the FULLTEXT ones (the FULLTEXT
/// tables are rebuilt afterwards) and not the ON UPDATE ones of changed columns.
fn kept_triggers(conn: &Connection, table: &str, changes: &ColumnChanges) -> Outcome<Vec<String>> {
    let mut statement = conn.prepare(
        "SELECT name, sql FROM main.sqlite_schema WHERE type = 'trigger' AND tbl_name = ?1 AND sql IS NOT NULL",
    )?;
    let triggers = statement
        .query_map([table], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let fulltext_prefix = translate::fulltext_table_name(table, &[]);
    Ok(triggers
        .into_iter()
        .filter(|(name, _)| !name.starts_with(&fulltext_prefix))
        .filter(|(name, _)| {
            let on_update = translate::on_update_trigger_name(table, "");
            match name.strip_prefix(&on_update) {
                Some(column) => !changes.touches(column),
                None => true,
            }
        })
        .map(|(_, sql)| sql)
        .collect())
}

fn sequence_value(conn: &Connection, table: &str) -> Outcome<Option<i64>> {
    if !has_sequence_table(conn)? {
        return Ok(None);
    }
    Ok(conn
        .query_row(
            "SELECT seq FROM main.sqlite_sequence WHERE name = ?1",
            [table],
            |row| row.get(0),
        )
        .optional()?)
}

fn has_sequence_table(conn: &Connection) -> Outcome<bool> {
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM main.sqlite_schema WHERE type = 'table' AND name = 'sqlite_sequence'",
        [],
        |row| row.get(0),
    )?)
}

/// Keeps the AUTO_INCREMENT high-water mark across the rebuild (rows deleted at the top must
/// not have their ids reused).
fn restore_sequence(conn: &Connection, table: &str, sequence: i64) -> Outcome<()> {
    let autoincrement: bool = conn.query_row(
        "SELECT count(*) > 0 FROM main.sqlite_schema WHERE type = 'table' AND name = ?1 \
         AND upper(sql) LIKE '%AUTOINCREMENT%'",
        [table],
        |row| row.get(0),
    )?;
    if !autoincrement {
        return Ok(());
    }
    conn.execute(
        "DELETE FROM main.sqlite_sequence WHERE name = ?1 AND seq < ?2",
        rusqlite::params![table, sequence],
    )?;
    conn.execute(
        "INSERT INTO main.sqlite_sequence (name, seq) SELECT ?1, ?2 \
         WHERE NOT EXISTS (SELECT 1 FROM main.sqlite_sequence WHERE name = ?1)",
        rusqlite::params![table, sequence],
    )?;
    Ok(())
}

/// Whether the definition still has the column named `name`.
pub fn has_column(definition: &TableDefinition, name: &str) -> bool {
    definition
        .items
        .iter()
        .any(|item| matches!(item, Item::Column(column) if column.name.eq_ignore_ascii_case(name)))
}
