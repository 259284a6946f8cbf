//! `ALTER TABLE` operations the translator could not turn into in-place SQLite statements.
//!
//! Operations run in order inside one savepoint, so a failing ALTER changes nothing. Those
//! SQLite can do in place (ADD COLUMN without keys, index changes, RENAME COLUMN) run as
//! statements; consecutive ones that need a table rebuild (DROP/CHANGE/MODIFY COLUMN, column
//! defaults, primary and foreign keys) are applied to the table's definition and done in one
//! rebuild. Renaming a table carries its indexes, ON UPDATE triggers and FULLTEXT tables over
//! to the new name. FULLTEXT tables of a rebuilt table are recreated afterwards.

mod definition;
mod rebuild;

use rusqlite::Connection;

use self::definition::{ColumnItem, ConstraintKind, Item, TableDefinition};
use self::rebuild::{has_column, load_definition, ColumnChanges};
use super::fulltext;
use crate::backend::DbError;
use crate::sqlite::errors::{self, codes, ErrorScope};
use crate::sqlite::translate::{self, quote_ident, AlterOp};

/// Why an ALTER TABLE failed.
#[derive(Debug, thiserror::Error)]
pub enum AlterFailure {
    /// SQLite refused a statement.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// The table does not exist.
    #[error("Table '{0}' doesn't exist")]
    NoSuchTable(String),
    /// The new table name is taken.
    #[error("Table '{0}' already exists")]
    TableExists(String),
    /// A column to change does not exist.
    #[error("Unknown column '{column}' in '{table}'")]
    UnknownColumn {
        /// The column.
        column: String,
        /// The table.
        table: String,
    },
    /// A column to add exists already.
    #[error("Duplicate column name '{0}'")]
    DuplicateColumn(String),
    /// A column or key to drop does not exist.
    #[error("Can't DROP '{0}'; check that column/key exists")]
    CantDrop(String),
    /// A second primary key.
    #[error("Multiple primary key defined")]
    MultiplePrimaryKey,
    /// The stored table definition cannot be rebuilt.
    #[error("This version of MySQL doesn't yet support '{0}'")]
    Unsupported(String),
}

/// Result of the steps of an ALTER TABLE.
pub type Outcome<T> = Result<T, AlterFailure>;

impl AlterFailure {
    /// The MySQL error for this failure.
    pub fn into_db_error(self, scope: ErrorScope<'_>) -> DbError {
        let message = self.to_string();
        match self {
            AlterFailure::Sqlite(error) => errors::from_sqlite(&error, scope),
            AlterFailure::NoSuchTable(table) => errors::no_such_table(scope.database, &table),
            AlterFailure::TableExists(_) => DbError::new(codes::TABLE_EXISTS, "42S01", message),
            AlterFailure::UnknownColumn { .. } => DbError::new(codes::BAD_FIELD, "42S22", message),
            AlterFailure::DuplicateColumn(_) => {
                DbError::new(codes::DUP_FIELDNAME, "42S21", message)
            }
            AlterFailure::CantDrop(_) => {
                DbError::new(codes::CANT_DROP_FIELD_OR_KEY, "42000", message)
            }
            AlterFailure::MultiplePrimaryKey => {
                DbError::new(codes::MULTIPLE_PRIMARY_KEY, "42000", message)
            }
            AlterFailure::Unsupported(_) => {
                DbError::new(codes::NOT_SUPPORTED_YET, "42000", message)
            }
        }
    }
}

/// Applies `ops` to `table`, all or nothing.
pub fn alter_table(
    conn: &Connection,
    table: &str,
    ops: &[AlterOp],
    scope: ErrorScope<'_>,
) -> Result<(), DbError> {
    conn.execute_batch("SAVEPOINT ephpm_alter_table")
        .map_err(|error| errors::from_sqlite(&error, scope))?;
    let outcome = apply(conn, table, ops);
    let finish = if outcome.is_ok() {
        "RELEASE ephpm_alter_table"
    } else {
        "ROLLBACK TO ephpm_alter_table; RELEASE ephpm_alter_table"
    };
    let finished = conn.execute_batch(finish);
    outcome.map_err(|failure| failure.into_db_error(scope))?;
    finished.map_err(|error| errors::from_sqlite(&error, scope))
}

/// A rebuild being planned: the edited definition and what happened to the old columns.
struct PendingRebuild {
    definition: TableDefinition,
    changes: ColumnChanges,
}

fn apply(conn: &Connection, table: &str, ops: &[AlterOp]) -> Outcome<()> {
    if !table_exists(conn, table)? {
        return Err(AlterFailure::NoSuchTable(table.to_owned()));
    }
    let mut current = table.to_owned();
    let mut pending: Option<PendingRebuild> = None;
    for op in ops {
        if let Some(statements) = op.in_place_sql(&current) {
            finish_rebuild(conn, &current, pending.take())?;
            run_in_place(conn, &current, op, &statements)?;
            continue;
        }
        match op {
            AlterOp::RenameTo(new_name) => {
                finish_rebuild(conn, &current, pending.take())?;
                rename_table(conn, &current, new_name)?;
                new_name.clone_into(&mut current);
            }
            AlterOp::AddColumn {
                definition_sql,
                name,
            } if pending.is_none() => {
                if !add_column_in_place(conn, &current, name, definition_sql)? {
                    let mut rebuild = start_rebuild(conn, &current)?;
                    edit(&mut rebuild, &current, op)?;
                    pending = Some(rebuild);
                }
            }
            _ => {
                let rebuild = match pending.as_mut() {
                    Some(rebuild) => rebuild,
                    None => pending.insert(start_rebuild(conn, &current)?),
                };
                edit(rebuild, &current, op)?;
            }
        }
    }
    finish_rebuild(conn, &current, pending.take())
}

fn table_exists(conn: &Connection, table: &str) -> Outcome<bool> {
    Ok(conn.query_row(
        "SELECT count(*) > 0 FROM main.sqlite_schema WHERE type = 'table' AND name = ?1 COLLATE NOCASE",
        [table],
        |row| row.get(0),
    )?)
}

/// Runs an operation's in-place statements, with MySQL's errors for missing indexes.
fn run_in_place(
    conn: &Connection,
    table: &str,
    op: &AlterOp,
    statements: &[String],
) -> Outcome<()> {
    if let AlterOp::RenameColumn { old, .. } = op {
        require_column(conn, table, old)?;
    }
    for sql in statements {
        if let Err(error) = conn.execute_batch(sql) {
            if let AlterOp::DropIndex(name) = op {
                if error.to_string().starts_with("no such index") {
                    return Err(AlterFailure::CantDrop(name.clone()));
                }
            }
            return Err(error.into());
        }
    }
    Ok(())
}

fn require_column(conn: &Connection, table: &str, column: &str) -> Outcome<()> {
    let exists = conn.query_row(
        "SELECT count(*) > 0 FROM pragma_table_info(?1) WHERE name = ?2 COLLATE NOCASE",
        [table, column],
        |row| row.get::<_, bool>(0),
    )?;
    if exists {
        Ok(())
    } else {
        Err(AlterFailure::UnknownColumn {
            column: column.to_owned(),
            table: table.to_owned(),
        })
    }
}

/// `ALTER TABLE ... ADD COLUMN` when SQLite allows it; false when the table must be rebuilt.
fn add_column_in_place(
    conn: &Connection,
    table: &str,
    name: &str,
    definition_sql: &str,
) -> Outcome<bool> {
    if require_column(conn, table, name).is_ok() {
        return Err(AlterFailure::DuplicateColumn(name.to_owned()));
    }
    let sql = format!(
        "ALTER TABLE {} ADD COLUMN {definition_sql}",
        quote_ident(table)
    );
    Ok(conn.execute_batch(&sql).is_ok())
}

fn start_rebuild(conn: &Connection, table: &str) -> Outcome<PendingRebuild> {
    Ok(PendingRebuild {
        definition: load_definition(conn, table)?,
        changes: ColumnChanges::default(),
    })
}

fn finish_rebuild(conn: &Connection, table: &str, pending: Option<PendingRebuild>) -> Outcome<()> {
    let Some(pending) = pending else {
        return Ok(());
    };
    let fulltext_indexes = fulltext::indexes_of(conn, table)?;
    for index in &fulltext_indexes {
        fulltext::drop_index(conn, index)?;
    }
    rebuild::rebuild(conn, table, &pending.definition, &pending.changes)?;
    for index in fulltext_indexes {
        let columns: Vec<String> = index
            .columns
            .iter()
            .filter_map(
                |column| match pending.changes.renamed.get(&column.to_lowercase()) {
                    Some(renamed) => Some(renamed.clone()),
                    None => has_column(&pending.definition, column).then(|| column.clone()),
                },
            )
            .collect();
        if !columns.is_empty() {
            fulltext::create_index(conn, table, columns)?;
        }
    }
    Ok(())
}

/// Applies one rebuild operation to the planned definition.
fn edit(rebuild: &mut PendingRebuild, table: &str, op: &AlterOp) -> Outcome<()> {
    let PendingRebuild {
        definition,
        changes,
    } = rebuild;
    match op {
        AlterOp::AddColumn {
            definition_sql,
            name,
        } => {
            if has_column(definition, name) {
                return Err(AlterFailure::DuplicateColumn(name.clone()));
            }
            let column = ColumnItem {
                name: name.clone(),
                sql: definition_sql.clone(),
                source: None,
            };
            if column.is_inline_primary_key() {
                drop_primary_key(definition);
            }
            definition.items.push(Item::Column(column));
        }
        AlterOp::DropColumn(name) => {
            let source = column_source(definition, name)
                .ok_or_else(|| AlterFailure::CantDrop(name.clone()))?;
            definition.remove_column(name);
            changes.dropped.push(source.to_lowercase());
        }
        AlterOp::ChangeColumn {
            old,
            new_name,
            definition_sql,
        } => {
            redefine(definition, changes, table, old, new_name, definition_sql)?;
        }
        AlterOp::ModifyColumn {
            name,
            definition_sql,
        } => {
            redefine(definition, changes, table, name, name, definition_sql)?;
        }
        AlterOp::SetDefault {
            column,
            default_sql,
        } => {
            let item =
                definition
                    .column_mut(column)
                    .ok_or_else(|| AlterFailure::UnknownColumn {
                        column: column.clone(),
                        table: table.to_owned(),
                    })?;
            item.set_default(default_sql.as_deref());
        }
        AlterOp::AddPrimaryKey(columns) => {
            if has_primary_key(definition) {
                return Err(AlterFailure::MultiplePrimaryKey);
            }
            let quoted: Vec<String> = columns.iter().map(|column| quote_ident(column)).collect();
            definition.push_constraint(&format!("PRIMARY KEY ({})", quoted.join(", ")));
        }
        AlterOp::DropPrimaryKey => {
            if !drop_primary_key(definition) {
                return Err(AlterFailure::CantDrop("PRIMARY".to_owned()));
            }
        }
        AlterOp::AddForeignKey { definition_sql, .. } => definition.push_constraint(definition_sql),
        AlterOp::DropForeignKey(name) => drop_foreign_key(definition, table, name)?,
        other => {
            return Err(AlterFailure::Unsupported(format!(
                "ALTER TABLE operation {other:?}"
            )));
        }
    }
    Ok(())
}

/// The original column (of the table before this ALTER) behind column `name`.
fn column_source(definition: &TableDefinition, name: &str) -> Option<String> {
    definition
        .columns()
        .find(|column| column.name.eq_ignore_ascii_case(name))
        .map(|column| column.source.clone().unwrap_or_else(|| column.name.clone()))
}

/// CHANGE/MODIFY COLUMN: a new definition for `old`, keeping its data and its keys.
fn redefine(
    definition: &mut TableDefinition,
    changes: &mut ColumnChanges,
    table: &str,
    old: &str,
    new_name: &str,
    definition_sql: &str,
) -> Outcome<()> {
    let unknown = || AlterFailure::UnknownColumn {
        column: old.to_owned(),
        table: table.to_owned(),
    };
    let source = column_source(definition, old).ok_or_else(unknown)?;
    if !new_name.eq_ignore_ascii_case(old) && has_column(definition, new_name) {
        return Err(AlterFailure::DuplicateColumn(new_name.to_owned()));
    }
    let mut replacement = ColumnItem {
        name: new_name.to_owned(),
        sql: definition_sql.to_owned(),
        source: Some(source.clone()),
    };
    let was_primary_key = definition
        .column_mut(old)
        .ok_or_else(unknown)?
        .is_inline_primary_key();
    if replacement.is_inline_primary_key() && !was_primary_key {
        drop_primary_key(definition);
    }
    let keeps_key_elsewhere = was_primary_key && !replacement.is_inline_primary_key();
    if let Some(item) = definition.column_mut(old) {
        std::mem::swap(item, &mut replacement);
    }
    definition.rename_in_constraints(old, new_name);
    if keeps_key_elsewhere {
        // MySQL keys outlive column redefinitions: keep the primary key as a table constraint.
        definition.push_constraint(&format!("PRIMARY KEY ({})", quote_ident(new_name)));
    }
    let key = source.to_lowercase();
    if !new_name.eq_ignore_ascii_case(&source) {
        changes.renamed.insert(key.clone(), new_name.to_owned());
    } else {
        changes.renamed.remove(&key);
    }
    changes.redefined.push(key);
    Ok(())
}

fn has_primary_key(definition: &TableDefinition) -> bool {
    definition.columns().any(ColumnItem::is_inline_primary_key)
        || definition
            .constraints()
            .any(|constraint| constraint.kind == ConstraintKind::PrimaryKey)
}

/// Removes the primary key (table constraint or inline); false when there was none.
fn drop_primary_key(definition: &mut TableDefinition) -> bool {
    let mut dropped = definition.remove_primary_key_constraint();
    for item in &mut definition.items {
        if let Item::Column(column) = item {
            if column.is_inline_primary_key() {
                column.remove_primary_key();
                dropped = true;
            }
        }
    }
    dropped
}

/// DROP FOREIGN KEY by constraint name, or by MySQL's generated `<table>_ibfk_<n>` name.
fn drop_foreign_key(definition: &mut TableDefinition, table: &str, name: &str) -> Outcome<()> {
    let generated = name
        .strip_prefix(&format!("{table}_ibfk_"))
        .and_then(|number| number.parse::<usize>().ok());
    let mut seen = 0;
    let position = definition.items.iter().position(|item| {
        let Item::Constraint(constraint) = item else {
            return false;
        };
        if constraint.kind != ConstraintKind::ForeignKey {
            return false;
        }
        seen += 1;
        constraint
            .name
            .as_deref()
            .is_some_and(|own| own.eq_ignore_ascii_case(name))
            || generated == Some(seen)
    });
    match position {
        Some(position) => {
            definition.items.remove(position);
            Ok(())
        }
        None => Err(AlterFailure::CantDrop(name.to_owned())),
    }
}

/// RENAME TO: the table and everything named after it.
fn rename_table(conn: &Connection, old: &str, new: &str) -> Outcome<()> {
    if old == new {
        return Ok(());
    }
    if !old.eq_ignore_ascii_case(new) && table_exists(conn, new)? {
        return Err(AlterFailure::TableExists(new.to_owned()));
    }
    let fulltext_indexes = fulltext::indexes_of(conn, old)?;
    for index in &fulltext_indexes {
        fulltext::drop_index(conn, index)?;
    }
    conn.execute(
        &format!(
            "ALTER TABLE {} RENAME TO {}",
            quote_ident(old),
            quote_ident(new)
        ),
        [],
    )?;
    rename_indexes(conn, old, new)?;
    rename_on_update_triggers(conn, old, new)?;
    for index in fulltext_indexes {
        fulltext::create_index(conn, new, index.columns)?;
    }
    Ok(())
}

fn rename_indexes(conn: &Connection, old: &str, new: &str) -> Outcome<()> {
    let indexes: Vec<(String, bool)> = conn
        .prepare(
            "SELECT l.name, l.\"unique\" FROM pragma_index_list(?1) AS l \
             JOIN main.sqlite_schema AS s ON s.name = l.name WHERE s.sql IS NOT NULL",
        )?
        .query_map([new], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (sqlite_name, unique) in indexes {
        let Some(mysql_name) = translate::mysql_index_name(old, &sqlite_name) else {
            continue;
        };
        let columns: Vec<String> = conn
            .prepare("SELECT name FROM pragma_index_info(?1) ORDER BY seqno")?
            .query_map([&sqlite_name], |row| row.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        conn.execute(&format!("DROP INDEX {}", quote_ident(&sqlite_name)), [])?;
        let op = AlterOp::AddIndex {
            name: mysql_name.to_owned(),
            columns,
            unique,
        };
        for sql in op.in_place_sql(new).unwrap_or_default() {
            conn.execute(&sql, [])?;
        }
    }
    Ok(())
}

fn rename_on_update_triggers(conn: &Connection, old: &str, new: &str) -> Outcome<()> {
    let prefix = translate::on_update_trigger_name(old, "");
    let triggers: Vec<(String, String)> = conn
        .prepare(
            "SELECT name, sql FROM main.sqlite_schema WHERE type = 'trigger' \
             AND substr(name, 1, length(?1)) = ?1",
        )?
        .query_map([&prefix], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    for (name, sql) in triggers {
        let column = &name[prefix.len()..];
        let renamed = translate::on_update_trigger_name(new, column);
        conn.execute(&format!("DROP TRIGGER {}", quote_ident(&name)), [])?;
        conn.execute(
            &sql.replacen(&quote_ident(&name), &quote_ident(&renamed), 1),
            [],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(ddl: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(ddl).unwrap();
        conn
    }

    fn scope(conn: &Connection) -> ErrorScope<'_> {
        ErrorScope {
            database: Some("db"),
            conn: Some(conn),
        }
    }

    fn columns(conn: &Connection, table: &str) -> Vec<(String, String, bool)> {
        conn.prepare("SELECT name, type, \"notnull\" FROM pragma_table_info(?1) ORDER BY cid")
            .unwrap()
            .query_map([table], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    const POSTS: &str = "CREATE TABLE \"posts\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \
        \"title\" VARCHAR(200) NOT NULL DEFAULT '' COLLATE NOCASE, \"views\" INT); \
        CREATE INDEX \"posts__title\" ON \"posts\" (\"title\"); \
        INSERT INTO posts (title, views) VALUES ('a', 1), ('b', NULL), ('c', 3); \
        DELETE FROM posts WHERE id = 3;";

    #[test]
    fn change_column_keeps_rows_ids_and_indexes() {
        let conn = connection(POSTS);
        let op = AlterOp::ChangeColumn {
            old: "views".into(),
            new_name: "hits".into(),
            definition_sql: "\"hits\" BIGINT NOT NULL DEFAULT 0".into(),
        };
        alter_table(&conn, "posts", &[op], scope(&conn)).unwrap();
        assert_eq!(
            columns(&conn, "posts")[2],
            ("hits".to_owned(), "BIGINT".to_owned(), true)
        );
        let rows: Vec<(i64, i64)> = conn
            .prepare("SELECT id, hits FROM posts ORDER BY id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows, [(1, 1), (2, 0)], "NULL became the implicit default");
        let index: String = conn
            .query_row(
                "SELECT name FROM sqlite_schema WHERE type = 'index'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(index, "posts__title");
        conn.execute("INSERT INTO posts (title) VALUES ('d')", [])
            .unwrap();
        assert_eq!(
            conn.last_insert_rowid(),
            4,
            "AUTOINCREMENT does not reuse deleted ids"
        );
    }

    #[test]
    fn drop_and_add_columns() {
        let conn = connection(POSTS);
        let ops = [
            AlterOp::DropColumn("title".into()),
            AlterOp::AddColumn {
                definition_sql: "\"slug\" TEXT NOT NULL".into(),
                name: "slug".into(),
            },
        ];
        alter_table(&conn, "posts", &ops, scope(&conn)).unwrap();
        let names: Vec<String> = columns(&conn, "posts").into_iter().map(|c| c.0).collect();
        assert_eq!(names, ["id", "views", "slug"]);
        let indexes: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'index'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(indexes, 0, "the index lost its only column");
        let slug: String = conn
            .query_row("SELECT slug FROM posts WHERE id = 1", [], |row| row.get(0))
            .unwrap();
        assert_eq!(slug, "");
    }

    #[test]
    fn errors_roll_everything_back() {
        let conn = connection(POSTS);
        let ops = [
            AlterOp::DropColumn("views".into()),
            AlterOp::ModifyColumn {
                name: "nope".into(),
                definition_sql: "\"nope\" INT".into(),
            },
        ];
        let error = alter_table(&conn, "posts", &ops, scope(&conn)).unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (1054, "Unknown column 'nope' in 'posts'")
        );
        assert_eq!(columns(&conn, "posts").len(), 3);
        let missing = alter_table(
            &conn,
            "nope",
            &[AlterOp::DropColumn("x".into())],
            scope(&conn),
        )
        .unwrap_err();
        assert_eq!(missing.code, 1146);
        let drop = alter_table(
            &conn,
            "posts",
            &[AlterOp::DropColumn("x".into())],
            scope(&conn),
        )
        .unwrap_err();
        assert_eq!(drop.code, 1091);
        let duplicate = AlterOp::AddColumn {
            definition_sql: "\"views\" INT".into(),
            name: "views".into(),
        };
        assert_eq!(
            alter_table(&conn, "posts", &[duplicate], scope(&conn))
                .unwrap_err()
                .code,
            1060
        );
    }

    #[test]
    fn primary_keys_and_defaults() {
        let conn = connection("CREATE TABLE rel (a INT NOT NULL, b INT NOT NULL DEFAULT 1); INSERT INTO rel VALUES (1, 2);");
        alter_table(
            &conn,
            "rel",
            &[AlterOp::AddPrimaryKey(vec!["a".into(), "b".into()])],
            scope(&conn),
        )
        .unwrap();
        let again = alter_table(
            &conn,
            "rel",
            &[AlterOp::AddPrimaryKey(vec!["a".into()])],
            scope(&conn),
        );
        assert_eq!(again.unwrap_err().code, 1068);
        let default = AlterOp::SetDefault {
            column: "b".into(),
            default_sql: Some("7".into()),
        };
        alter_table(&conn, "rel", &[default], scope(&conn)).unwrap();
        conn.execute("INSERT INTO rel (a) VALUES (5)", []).unwrap();
        let b: i64 = conn
            .query_row("SELECT b FROM rel WHERE a = 5", [], |row| row.get(0))
            .unwrap();
        assert_eq!(b, 7);
        alter_table(&conn, "rel", &[AlterOp::DropPrimaryKey], scope(&conn)).unwrap();
        let keys: i64 = conn
            .query_row(
                "SELECT count(*) FROM pragma_table_info('rel') WHERE pk > 0",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(keys, 0);
        assert_eq!(
            alter_table(&conn, "rel", &[AlterOp::DropPrimaryKey], scope(&conn))
                .unwrap_err()
                .code,
            1091
        );
    }

    #[test]
    fn rename_carries_indexes_triggers_and_fulltext() {
        let conn = connection(POSTS);
        fulltext::create_index(&conn, "posts", vec!["title".into()]).unwrap();
        alter_table(
            &conn,
            "posts",
            &[AlterOp::RenameTo("articles".into())],
            scope(&conn),
        )
        .unwrap();
        let objects: Vec<String> = conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE name NOT LIKE 'sqlite%' AND NOT (type = 'table' \
                 AND sql LIKE 'CREATE TABLE ''%') ORDER BY name",
            )
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            objects,
            [
                "articles",
                "articles__fts__title",
                "articles__fts__title__ad",
                "articles__fts__title__ai",
                "articles__fts__title__au",
                "articles__title"
            ]
        );
        let hits: i64 = conn
            .query_row(
                "SELECT count(*) FROM articles__fts__title WHERE articles__fts__title MATCH 'b'",
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(hits, 1);
        let taken = connection("CREATE TABLE a (x); CREATE TABLE b (y);");
        assert_eq!(
            alter_table(&taken, "a", &[AlterOp::RenameTo("b".into())], scope(&taken))
                .unwrap_err()
                .code,
            1050
        );
    }

    #[test]
    fn rebuild_reindexes_fulltext() {
        let conn = connection(POSTS);
        fulltext::create_index(&conn, "posts", vec!["title".into()]).unwrap();
        let op = AlterOp::ChangeColumn {
            old: "title".into(),
            new_name: "headline".into(),
            definition_sql: "\"headline\" TEXT".into(),
        };
        alter_table(&conn, "posts", &[op], scope(&conn)).unwrap();
        let indexes = fulltext::indexes_of(&conn, "posts").unwrap();
        assert_eq!(indexes[0].columns, ["headline"]);
        conn.execute("INSERT INTO posts (headline) VALUES ('zebra')", [])
            .unwrap();
        let hits: i64 = conn
            .query_row(
                &format!(
                    "SELECT count(*) FROM {0} WHERE {0} MATCH 'zebra OR a'",
                    quote_ident(&indexes[0].name)
                ),
                [],
                |row| row.get(0),
            )
            .unwrap();
        assert_eq!(hits, 2);
    }
}
