//! ALTER TABLE: operations SQLite does in place become a script; the rest become
//! [`AlterOp`]s for the backend's table rebuild.
//!
//! In place: ADD COLUMN without keys or a non-constant default, ADD [UNIQUE|FULLTEXT]
//! INDEX, DROP INDEX, RENAME COLUMN. Everything else (DROP/CHANGE/MODIFY COLUMN, defaults,
//! primary and foreign keys, renaming the table) needs the rebuild. Table options (ENGINE,
//! AUTO_INCREMENT, ALGORITHM, LOCK) are ignored.

use sqlparser::ast::{
    AlterColumnOperation, AlterTable, AlterTableOperation, ColumnDef, ColumnOption,
    ColumnOptionDef, DataType, Ident, RenameTableNameKind, TableConstraint,
};

use super::ddl::{
    column_plan, create_index_sql, default_sql, foreign_key_sql, index_column_name,
    on_update_trigger, script, ColumnContext,
};
use super::error::TranslateError;
use super::names::{index_name, last_part, quote_ident};
use super::{fulltext, AlterOp, SqlKind, Statement, Step};

/// Columns ALTER TABLE defines: an AUTO_INCREMENT one becomes the rowid alias.
const ALTERED: ColumnContext = ColumnContext {
    auto_increment_is_key: true,
};

/// Translates ALTER TABLE.
pub(crate) fn translate(alter: AlterTable) -> Result<Statement, TranslateError> {
    let table = last_part(&alter.name);
    let mut planned: Vec<(AlterOp, Option<Vec<String>>)> = Vec::new();
    for operation in alter.operations {
        for op in alter_ops(&table, operation)? {
            let in_place = match &op {
                Planned::InPlace(op, statements) => (op.clone(), Some(statements.clone())),
                Planned::Op(op) => (op.clone(), in_place_sql(op, &table)),
            };
            planned.push(in_place);
        }
    }
    if planned.is_empty() {
        return Ok(Statement::Ignored {
            reason: "ALTER TABLE options (ENGINE, AUTO_INCREMENT, ...) mean nothing to SQLite",
        });
    }
    if planned.iter().all(|(_, statements)| statements.is_some()) {
        let steps = planned
            .into_iter()
            .flat_map(|(_, statements)| statements.unwrap_or_default());
        return Ok(script(steps.map(Step::ddl).collect(), SqlKind::Ddl));
    }
    Ok(Statement::AlterTable {
        table,
        ops: planned.into_iter().map(|(op, _)| op).collect(),
    })
}

/// An operation, with the statements doing it in place when the translator knows them.
enum Planned {
    InPlace(AlterOp, Vec<String>),
    Op(AlterOp),
}

/// The SQLite statements doing `op` in place on `table`; `None` when it needs a rebuild.
pub(crate) fn in_place_sql(op: &AlterOp, table: &str) -> Option<Vec<String>> {
    let statements = match op {
        AlterOp::AddIndex {
            name,
            columns,
            unique,
        } => {
            vec![create_index_sql(table, name, columns, *unique, false)]
        }
        AlterOp::AddFulltextIndex { columns, .. } => {
            fulltext::create_index(table, columns, false, true)
        }
        AlterOp::DropIndex(name) => vec![format!(
            "DROP INDEX {}",
            quote_ident(&index_name(table, name))
        )],
        AlterOp::RenameColumn { old, new_name } => vec![format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            quote_ident(table),
            quote_ident(old),
            quote_ident(new_name)
        )],
        AlterOp::ExtraSql(sql) => vec![sql.clone()],
        _ => return None,
    };
    Some(statements)
}

fn alter_ops(table: &str, operation: AlterTableOperation) -> Result<Vec<Planned>, TranslateError> {
    use AlterTableOperation as A;
    let ops = match operation {
        A::AddColumn { column_def, .. } => add_column(table, &column_def)?,
        A::DropColumn { column_names, .. } => column_names
            .into_iter()
            .map(|c| Planned::Op(AlterOp::DropColumn(c.value)))
            .collect(),
        A::ChangeColumn {
            old_name,
            new_name,
            data_type,
            options,
            ..
        } => {
            let (definition_sql, extra) = redefine(table, &new_name, data_type, options)?;
            let change = AlterOp::ChangeColumn {
                old: old_name.value,
                new_name: new_name.value,
                definition_sql,
            };
            std::iter::once(Planned::Op(change)).chain(extra).collect()
        }
        A::ModifyColumn {
            col_name,
            data_type,
            options,
            ..
        } => {
            let (definition_sql, extra) = redefine(table, &col_name, data_type, options)?;
            let modify = AlterOp::ModifyColumn {
                name: col_name.value,
                definition_sql,
            };
            std::iter::once(Planned::Op(modify)).chain(extra).collect()
        }
        A::RenameColumn {
            old_column_name,
            new_column_name,
        } => vec![Planned::Op(AlterOp::RenameColumn {
            old: old_column_name.value,
            new_name: new_column_name.value,
        })],
        A::AlterColumn { column_name, op } => vec![Planned::Op(set_default(column_name, op)?)],
        A::AddConstraint { constraint, .. } => vec![Planned::Op(add_constraint(constraint)?)],
        A::DropIndex { name } if name.value.eq_ignore_ascii_case("PRIMARY") => {
            vec![Planned::Op(AlterOp::DropPrimaryKey)]
        }
        A::DropIndex { name } => vec![Planned::Op(AlterOp::DropIndex(name.value))],
        A::DropPrimaryKey { .. } => vec![Planned::Op(AlterOp::DropPrimaryKey)],
        A::DropForeignKey { name, .. } | A::DropConstraint { name, .. } => {
            vec![Planned::Op(AlterOp::DropForeignKey(name.value))]
        }
        A::RenameTable {
            table_name: RenameTableNameKind::To(name) | RenameTableNameKind::As(name),
        } => {
            vec![Planned::Op(AlterOp::RenameTo(last_part(&name)))]
        }
        A::AutoIncrement { .. } | A::Algorithm { .. } | A::Lock { .. } => Vec::new(),
        other => {
            return Err(TranslateError::unsupported(format!(
                "ALTER TABLE ... {other}"
            )))
        }
    };
    Ok(ops)
}

fn add_column(table: &str, column: &ColumnDef) -> Result<Vec<Planned>, TranslateError> {
    let plan = column_plan(column, ALTERED)?;
    let add = AlterOp::AddColumn {
        definition_sql: plan.definition.clone(),
        name: plan.name.clone(),
    };
    let mut ops = if plan.addable_in_place {
        let sql = format!(
            "ALTER TABLE {} ADD COLUMN {}",
            quote_ident(table),
            plan.definition
        );
        vec![Planned::InPlace(add, vec![sql])]
    } else {
        vec![Planned::Op(add)]
    };
    ops.extend(column_extras(
        table,
        &plan.name,
        plan.unique,
        plan.on_update,
    ));
    Ok(ops)
}

/// The new definition of a changed column, and the operations its options add (a unique
/// index, the ON UPDATE trigger).
fn redefine(
    table: &str,
    name: &Ident,
    data_type: DataType,
    options: Vec<ColumnOption>,
) -> Result<(String, Vec<Planned>), TranslateError> {
    let options = options
        .into_iter()
        .map(|option| ColumnOptionDef { name: None, option })
        .collect();
    let column = ColumnDef {
        name: name.clone(),
        data_type,
        options,
    };
    let plan = column_plan(&column, ALTERED)?;
    let extras = column_extras(table, &plan.name, plan.unique, plan.on_update);
    Ok((plan.definition, extras))
}

fn column_extras(table: &str, column: &str, unique: bool, on_update: bool) -> Vec<Planned> {
    let mut extras = Vec::new();
    if unique {
        let columns = vec![column.to_owned()];
        extras.push(Planned::Op(AlterOp::AddIndex {
            name: column.to_owned(),
            columns,
            unique: true,
        }));
    }
    if on_update {
        extras.push(Planned::Op(AlterOp::ExtraSql(on_update_trigger(
            table, column, true,
        ))));
    }
    extras
}

fn set_default(column: Ident, op: AlterColumnOperation) -> Result<AlterOp, TranslateError> {
    let default_sql = match op {
        AlterColumnOperation::SetDefault { value } => Some(default_sql(&value)?),
        AlterColumnOperation::DropDefault => None,
        other => {
            return Err(TranslateError::unsupported(format!(
                "ALTER COLUMN ... {other}"
            )))
        }
    };
    Ok(AlterOp::SetDefault {
        column: column.value,
        default_sql,
    })
}

fn add_constraint(constraint: TableConstraint) -> Result<AlterOp, TranslateError> {
    let columns = |parts: &[sqlparser::ast::IndexColumn]| -> Result<Vec<String>, TranslateError> {
        parts.iter().map(index_column_name).collect()
    };
    let key_name = |name: Option<&Ident>, columns: &[String]| {
        name.map(|n| n.value.clone())
            .or_else(|| columns.first().cloned())
            .unwrap_or_default()
    };
    let op = match constraint {
        TableConstraint::PrimaryKey(primary) => AlterOp::AddPrimaryKey(columns(&primary.columns)?),
        TableConstraint::Unique(unique) => {
            let columns = columns(&unique.columns)?;
            let name = key_name(
                unique.index_name.as_ref().or(unique.name.as_ref()),
                &columns,
            );
            AlterOp::AddIndex {
                name,
                columns,
                unique: true,
            }
        }
        TableConstraint::Index(index) => {
            let columns = columns(&index.columns)?;
            AlterOp::AddIndex {
                name: key_name(index.name.as_ref(), &columns),
                columns,
                unique: false,
            }
        }
        TableConstraint::FulltextOrSpatial(key) if key.fulltext => {
            let columns = columns(&key.columns)?;
            AlterOp::AddFulltextIndex {
                name: key_name(key.opt_index_name.as_ref(), &columns),
                columns,
            }
        }
        TableConstraint::ForeignKey(foreign_key) => AlterOp::AddForeignKey {
            name: foreign_key.name.as_ref().map(|n| n.value.clone()),
            definition_sql: foreign_key_sql(&foreign_key),
        },
        other => {
            return Err(TranslateError::unsupported(format!(
                "ALTER TABLE ADD {other}"
            )))
        }
    };
    Ok(op)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::ast::Statement as Parsed;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn translated(mysql: &str) -> Statement {
        let mut parsed = Parser::parse_sql(&MySqlDialect {}, mysql).unwrap();
        let Parsed::AlterTable(alter) = parsed.remove(0) else {
            panic!("not ALTER TABLE")
        };
        translate(alter).unwrap()
    }

    #[test]
    fn in_place_operations_become_a_script() {
        let statement = translated(
            "ALTER TABLE t ADD COLUMN c varchar(10) NOT NULL AFTER b, ADD INDEX k (c(5)), DROP INDEX old",
        );
        let Statement::Script {
            steps,
            kind: SqlKind::Ddl,
        } = statement
        else {
            panic!("{statement:?}")
        };
        let sql: Vec<&str> = steps.iter().map(|s| s.sql.as_str()).collect();
        assert_eq!(
            sql,
            [
                "ALTER TABLE \"t\" ADD COLUMN \"c\" VARCHAR(10) COLLATE NOCASE NOT NULL DEFAULT ''",
                "CREATE INDEX \"t__k\" ON \"t\" (\"c\")",
                "DROP INDEX \"t__old\"",
            ]
        );
    }

    #[test]
    fn rebuild_operations() {
        let statement = translated(
            "ALTER TABLE t CHANGE COLUMN a b bigint(20) NOT NULL, MODIFY c text, DROP d, \
             ALTER COLUMN e SET DEFAULT 'x', ADD PRIMARY KEY (b), DROP FOREIGN KEY fk, RENAME TO u",
        );
        assert_eq!(
            statement,
            Statement::AlterTable {
                table: "t".into(),
                ops: vec![
                    AlterOp::ChangeColumn {
                        old: "a".into(),
                        new_name: "b".into(),
                        definition_sql: "\"b\" BIGINT(20) NOT NULL DEFAULT 0".into(),
                    },
                    AlterOp::ModifyColumn {
                        name: "c".into(),
                        definition_sql: "\"c\" TEXT COLLATE NOCASE".into()
                    },
                    AlterOp::DropColumn("d".into()),
                    AlterOp::SetDefault {
                        column: "e".into(),
                        default_sql: Some("'x'".into())
                    },
                    AlterOp::AddPrimaryKey(vec!["b".into()]),
                    AlterOp::DropForeignKey("fk".into()),
                    AlterOp::RenameTo("u".into()),
                ],
            }
        );
    }

    #[test]
    fn auto_increment_columns_become_the_rowid_alias() {
        let statement = translated(
            "ALTER TABLE t CHANGE COLUMN ID ID bigint(20) unsigned NOT NULL auto_increment",
        );
        let Statement::AlterTable { ops, .. } = statement else {
            panic!()
        };
        assert_eq!(
            ops,
            [AlterOp::ChangeColumn {
                old: "ID".into(),
                new_name: "ID".into(),
                definition_sql: "\"ID\" INTEGER PRIMARY KEY AUTOINCREMENT".into(),
            }]
        );
    }

    #[test]
    fn options_only_is_ignored() {
        assert!(matches!(
            translated("ALTER TABLE t AUTO_INCREMENT = 5"),
            Statement::Ignored { .. }
        ));
    }
}
