//! CREATE TABLE, CREATE/DROP INDEX, DROP TABLE/VIEW, TRUNCATE, RENAME TABLE and CREATE VIEW,
//! plus the column definitions ALTER TABLE shares.
//!
//! A CREATE TABLE becomes a script: the table, then one `CREATE [UNIQUE] INDEX` per inline
//! key, the FTS5 tables of FULLTEXT keys, the `ON UPDATE CURRENT_TIMESTAMP` triggers and the
//! `AUTO_INCREMENT=n` start value. Table options (ENGINE, CHARSET, COLLATE, ROW_FORMAT,
//! COMMENT) and column CHARACTER SET/COMMENT are dropped; SPATIAL keys are dropped.

use sqlparser::ast::{
    ColumnDef, ColumnOption, CreateIndex, CreateTable, CreateTableOptions, CreateView, Expr,
    ForeignKeyConstraint, GeneratedExpressionMode, Ident, IndexColumn, ObjectName, ObjectType,
    Query, SqlOption, Statement as Parsed, TableConstraint, Value,
};

use super::error::TranslateError;
use super::names::{index_name, last_part, on_update_trigger_name, quote_ident, quote_str};
use super::types::ColumnType;
use super::{alter, expr, fulltext, query, session, AlterOp, SqlKind, Statement, Step};

/// Translates a DDL statement (CREATE/ALTER/DROP/TRUNCATE/RENAME of tables, indexes, views).
pub(crate) fn translate(statement: Parsed) -> Result<Statement, TranslateError> {
    match statement {
        Parsed::CreateTable(table) => create_table(table),
        Parsed::CreateIndex(index) => create_index(index),
        Parsed::AlterTable(alter) => alter::translate(alter),
        Parsed::Drop {
            object_type,
            if_exists,
            names,
            table,
            ..
        } => drop(object_type, if_exists, &names, table.as_ref()),
        Parsed::Truncate(truncate) => match truncate.table_names.as_slice() {
            [only] => Ok(Statement::Truncate {
                table: last_part(&only.name),
            }),
            _ => Err(TranslateError::unsupported("TRUNCATE of several tables")),
        },
        Parsed::RenameTable(renames) => match renames.as_slice() {
            [only] => Ok(Statement::AlterTable {
                table: last_part(&only.old_name),
                ops: vec![AlterOp::RenameTo(last_part(&only.new_name))],
            }),
            _ => Err(TranslateError::unsupported(
                "RENAME TABLE of several tables",
            )),
        },
        Parsed::CreateView(view) => create_view(view),
        other => session::translate(other),
    }
}

/// A column definition translated for SQLite.
#[derive(Debug)]
pub(crate) struct ColumnPlan {
    /// Column name.
    pub name: String,
    /// The SQLite column definition, name first.
    pub definition: String,
    /// The column is the table's `INTEGER PRIMARY KEY AUTOINCREMENT`.
    pub rowid_alias: bool,
    /// `ON UPDATE CURRENT_TIMESTAMP` (needs the trigger).
    pub on_update: bool,
    /// Inline UNIQUE: becomes a separate unique index named after the column.
    pub unique: bool,
    /// SQLite can `ALTER TABLE ADD COLUMN` it (constant default, no key).
    pub addable_in_place: bool,
}

/// What the rest of a table definition says about a column.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ColumnContext {
    /// An AUTO_INCREMENT on this column makes it the primary key: the table's primary key
    /// is exactly this column (CREATE TABLE), or the column is redefined by ALTER TABLE
    /// (MySQL requires AUTO_INCREMENT columns to be keys).
    pub auto_increment_is_key: bool,
}

/// Translates one column definition.
pub(crate) fn column_plan(
    column: &ColumnDef,
    context: ColumnContext,
) -> Result<ColumnPlan, TranslateError> {
    let options: Vec<&ColumnOption> = column.options.iter().map(|o| &o.option).collect();
    let column_type = ColumnType::from_data_type(&column.data_type)?;
    let name = column.name.value.clone();
    let auto_increment = options.iter().any(|o| is_auto_increment(o));
    let primary_key = options
        .iter()
        .any(|o| matches!(o, ColumnOption::PrimaryKey(_)));
    let unique = options.iter().any(|o| matches!(o, ColumnOption::Unique(_)));
    let on_update = options
        .iter()
        .any(|o| matches!(o, ColumnOption::OnUpdate(_)));
    if auto_increment && column_type.is_integer() && (primary_key || context.auto_increment_is_key)
    {
        return Ok(ColumnPlan {
            definition: format!("{} INTEGER PRIMARY KEY AUTOINCREMENT", quote_ident(&name)),
            name,
            rowid_alias: true,
            on_update: false,
            unique: false,
            addable_in_place: false,
        });
    }
    let mut parts = vec![quote_ident(&name), column_type.declaration()];
    let binary_collation = options.iter().any(|o| is_binary_collation(o));
    if column_type.is_text() && !binary_collation {
        parts.push("COLLATE NOCASE".to_owned());
    }
    let mut clauses = column_clauses(&options)?;
    parts.append(&mut clauses.constraints);
    let mut default = clauses.default;
    if clauses.not_null {
        parts.push("NOT NULL".to_owned());
        if default.is_none() && !clauses.generated && !primary_key && !auto_increment {
            default = Some(column_type.implicit_default());
        }
    }
    let constant_default = default
        .as_deref()
        .map_or(true, |d| !d.starts_with("CURRENT_") && !d.starts_with('('));
    if let Some(default) = &default {
        parts.push(format!("DEFAULT {default}"));
    }
    if primary_key {
        parts.push("PRIMARY KEY".to_owned());
    }
    Ok(ColumnPlan {
        definition: parts.join(" "),
        name,
        rowid_alias: false,
        on_update: on_update && column_type.is_date_time(),
        unique,
        addable_in_place: constant_default && !primary_key && !unique && !clauses.generated,
    })
}

/// The clauses of a column definition besides its type, collation and keys.
struct ColumnClauses {
    /// NULL, CHECK, REFERENCES and GENERATED clauses, in SQLite syntax.
    constraints: Vec<String>,
    /// The DEFAULT, in SQLite syntax.
    default: Option<String>,
    not_null: bool,
    generated: bool,
}

fn column_clauses(options: &[&ColumnOption]) -> Result<ColumnClauses, TranslateError> {
    let mut clauses = ColumnClauses {
        constraints: Vec::new(),
        default: None,
        not_null: false,
        generated: false,
    };
    for option in options {
        match option {
            ColumnOption::NotNull => clauses.not_null = true,
            ColumnOption::Null => clauses.constraints.push("NULL".to_owned()),
            ColumnOption::Default(value) => clauses.default = Some(default_sql(value)?),
            ColumnOption::Check(check) => {
                let mut condition = (*check.expr).clone();
                expr::rewrite(&mut condition)?;
                clauses.constraints.push(format!("CHECK ({condition})"));
            }
            ColumnOption::ForeignKey(reference) => {
                clauses.constraints.push(references_sql(reference));
            }
            ColumnOption::Generated {
                generation_expr: Some(generation),
                generation_expr_mode,
                ..
            } => {
                clauses.generated = true;
                let mut generation = generation.clone();
                expr::rewrite(&mut generation)?;
                let mode = match generation_expr_mode {
                    Some(GeneratedExpressionMode::Stored) => "STORED",
                    _ => "VIRTUAL",
                };
                clauses
                    .constraints
                    .push(format!("GENERATED ALWAYS AS ({generation}) {mode}"));
            }
            _ => {}
        }
    }
    Ok(clauses)
}

fn is_auto_increment(option: &ColumnOption) -> bool {
    match option {
        ColumnOption::DialectSpecific(tokens) => tokens
            .iter()
            .any(|t| t.to_string().eq_ignore_ascii_case("AUTO_INCREMENT")),
        _ => false,
    }
}

fn is_binary_collation(option: &ColumnOption) -> bool {
    match option {
        ColumnOption::Collation(name) => {
            let name = last_part(name).to_ascii_lowercase();
            name == "binary" || name.ends_with("_bin")
        }
        ColumnOption::CharacterSet(name) => last_part(name).eq_ignore_ascii_case("binary"),
        _ => false,
    }
}

/// A MySQL column DEFAULT in SQLite's DEFAULT syntax.
pub(crate) fn default_sql(value: &Expr) -> Result<String, TranslateError> {
    match value {
        Expr::Function(function) if is_current_time(&last_part(&function.name)) => {
            let name = last_part(&function.name).to_ascii_uppercase();
            let keyword = match name.as_str() {
                "CURRENT_DATE" | "CURDATE" => "CURRENT_DATE",
                "CURRENT_TIME" | "CURTIME" => "CURRENT_TIME",
                _ => "CURRENT_TIMESTAMP",
            };
            Ok(keyword.to_owned())
        }
        Expr::Value(_) | Expr::UnaryOp { .. } => {
            let mut literal = value.clone();
            expr::rewrite(&mut literal)?;
            Ok(literal.to_string())
        }
        other => {
            let mut expression = other.clone();
            expr::rewrite(&mut expression)?;
            Ok(format!("({expression})"))
        }
    }
}

fn is_current_time(name: &str) -> bool {
    matches!(
        name.to_ascii_uppercase().as_str(),
        "CURRENT_TIMESTAMP"
            | "NOW"
            | "LOCALTIME"
            | "LOCALTIMESTAMP"
            | "CURRENT_DATE"
            | "CURDATE"
            | "CURRENT_TIME"
            | "CURTIME"
    )
}

/// `REFERENCES t (cols) [ON DELETE ..] [ON UPDATE ..]`.
fn references_sql(reference: &ForeignKeyConstraint) -> String {
    let mut sql = format!(
        "REFERENCES {} ({})",
        quote_ident(&last_part(&reference.foreign_table)),
        ident_list(reference.referred_columns.iter().map(|c| c.value.as_str()))
    );
    if let Some(action) = &reference.on_delete {
        sql.push_str(&format!(" ON DELETE {action}"));
    }
    if let Some(action) = &reference.on_update {
        sql.push_str(&format!(" ON UPDATE {action}"));
    }
    sql
}

/// A FOREIGN KEY table constraint.
pub(crate) fn foreign_key_sql(foreign_key: &ForeignKeyConstraint) -> String {
    let name = foreign_key
        .name
        .as_ref()
        .map(|n| format!("CONSTRAINT {} ", quote_ident(&n.value)));
    format!(
        "{}FOREIGN KEY ({}) {}",
        name.unwrap_or_default(),
        ident_list(foreign_key.columns.iter().map(|c| c.value.as_str())),
        references_sql(foreign_key)
    )
}

fn ident_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.map(quote_ident).collect::<Vec<_>>().join(", ")
}

/// The column an index part names (prefix lengths like `meta_key(191)` dropped).
pub(crate) fn index_column_name(column: &IndexColumn) -> Result<String, TranslateError> {
    match &column.column.expr {
        Expr::Identifier(ident) => Ok(ident.value.clone()),
        Expr::CompoundIdentifier(parts) => parts
            .last()
            .map(|p| p.value.clone())
            .ok_or_else(|| TranslateError::syntax("KEY")),
        Expr::Function(function) => Ok(last_part(&function.name)),
        other => Err(TranslateError::unsupported(format!(
            "index on expression {other}"
        ))),
    }
}

fn index_column_names(columns: &[IndexColumn]) -> Result<Vec<String>, TranslateError> {
    columns.iter().map(index_column_name).collect()
}

/// `CREATE [UNIQUE] INDEX [IF NOT EXISTS] "<table>__<name>" ON "<table>" (columns)`.
pub(crate) fn create_index_sql(
    table: &str,
    name: &str,
    columns: &[String],
    unique: bool,
    if_not_exists: bool,
) -> String {
    format!(
        "CREATE {}INDEX {}{} ON {} ({})",
        if unique { "UNIQUE " } else { "" },
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        quote_ident(&index_name(table, name)),
        quote_ident(table),
        ident_list(columns.iter().map(String::as_str))
    )
}

/// The trigger emulating `ON UPDATE CURRENT_TIMESTAMP` for `column` of `table`: after an
/// UPDATE that left the column unchanged, set it to the current time (the second condition
/// stops the trigger's own UPDATE from re-triggering it when recursive triggers are on).
pub(crate) fn on_update_trigger(table: &str, column: &str, if_not_exists: bool) -> String {
    let column = quote_ident(column);
    format!(
        "CREATE TRIGGER {}{} AFTER UPDATE ON {} FOR EACH ROW WHEN NEW.{column} IS OLD.{column} \
         AND OLD.{column} IS NOT CURRENT_TIMESTAMP BEGIN UPDATE {} SET {column} = \
         CURRENT_TIMESTAMP WHERE rowid = NEW.rowid; END",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        quote_ident(&on_update_trigger_name(table, column.trim_matches('"'))),
        quote_ident(table),
        quote_ident(table)
    )
}

/// The keys of a CREATE TABLE, gathered from column options and table constraints.
#[derive(Default)]
struct Keys {
    primary: Option<Vec<String>>,
    indexes: Vec<(String, Vec<String>, bool)>,
    fulltext: Vec<Vec<String>>,
    constraints: Vec<String>,
}

fn table_keys(table: &CreateTable) -> Result<Keys, TranslateError> {
    let mut keys = Keys::default();
    for constraint in &table.constraints {
        match constraint {
            TableConstraint::PrimaryKey(primary) => {
                keys.primary = Some(index_column_names(&primary.columns)?);
            }
            TableConstraint::Unique(unique) => {
                let columns = index_column_names(&unique.columns)?;
                let name = unique.index_name.as_ref().or(unique.name.as_ref());
                keys.indexes.push((key_name(name, &columns), columns, true));
            }
            TableConstraint::Index(index) => {
                let columns = index_column_names(&index.columns)?;
                keys.indexes
                    .push((key_name(index.name.as_ref(), &columns), columns, false));
            }
            TableConstraint::FulltextOrSpatial(key) if key.fulltext => {
                keys.fulltext.push(index_column_names(&key.columns)?);
            }
            TableConstraint::FulltextOrSpatial(_) => {}
            TableConstraint::ForeignKey(foreign_key) => {
                keys.constraints.push(foreign_key_sql(foreign_key));
            }
            TableConstraint::Check(check) => {
                let mut condition = (*check.expr).clone();
                expr::rewrite(&mut condition)?;
                let name = check
                    .name
                    .as_ref()
                    .map(|n| format!("CONSTRAINT {} ", quote_ident(&n.value)));
                keys.constraints
                    .push(format!("{}CHECK ({condition})", name.unwrap_or_default()));
            }
            other => return Err(TranslateError::unsupported(other.to_string())),
        }
    }
    Ok(keys)
}

/// MySQL names an unnamed key after its first column.
fn key_name(name: Option<&Ident>, columns: &[String]) -> String {
    name.map(|n| n.value.clone())
        .or_else(|| columns.first().cloned())
        .unwrap_or_default()
}

fn create_table(mut table: CreateTable) -> Result<Statement, TranslateError> {
    if table.like.is_some() || table.clone.is_some() {
        return Err(TranslateError::unsupported("CREATE TABLE ... LIKE"));
    }
    if let Some(select) = table.query.take() {
        return create_table_as(&table, select);
    }
    let name = last_part(&table.name);
    let mut keys = table_keys(&table)?;
    if table.temporary && !keys.fulltext.is_empty() {
        return Err(TranslateError::unsupported(
            "FULLTEXT keys on TEMPORARY tables",
        ));
    }
    let body = table_body(&table, &mut keys)?;
    let mut steps = vec![Step::ddl(format!(
        "{} ({})",
        create_table_prefix(&table),
        body.definitions.join(", ")
    ))];
    let if_not_exists = table.if_not_exists;
    for (index, columns, unique) in &keys.indexes {
        let sql = create_index_sql(&name, index, columns, *unique, if_not_exists);
        steps.push(Step::ddl(sql));
    }
    for columns in &keys.fulltext {
        let statements = fulltext::create_index(&name, columns, if_not_exists, false);
        steps.extend(statements.into_iter().map(Step::ddl));
    }
    for column in &body.on_update_columns {
        steps.push(Step::ddl(on_update_trigger(&name, column, if_not_exists)));
    }
    let start = auto_increment_start(&table.table_options).filter(|_| body.rowid_alias);
    if let Some(start) = start {
        steps.push(Step::ddl(auto_increment_seed(&name, start)));
    }
    Ok(script(steps, SqlKind::Ddl))
}

/// `CREATE [TEMP] TABLE [IF NOT EXISTS] "name"`.
fn create_table_prefix(table: &CreateTable) -> String {
    format!(
        "CREATE {}TABLE {}{}",
        if table.temporary { "TEMP " } else { "" },
        if table.if_not_exists {
            "IF NOT EXISTS "
        } else {
            ""
        },
        quote_ident(&last_part(&table.name))
    )
}

/// `CREATE TABLE t [AS] SELECT ...`.
fn create_table_as(
    table: &CreateTable,
    mut select: Box<Query>,
) -> Result<Statement, TranslateError> {
    if !table.columns.is_empty() {
        return Err(TranslateError::unsupported(
            "CREATE TABLE with columns and SELECT",
        ));
    }
    query::rewrite_query(&mut select)?;
    let sql = format!("{} AS {select}", create_table_prefix(table));
    Ok(Statement::Sql {
        sql,
        kind: SqlKind::Ddl,
    })
}

/// The inside of a CREATE TABLE's parentheses, and what the columns need besides.
struct TableBody {
    /// Column definitions, then table constraints.
    definitions: Vec<String>,
    /// Columns with `ON UPDATE CURRENT_TIMESTAMP`.
    on_update_columns: Vec<String>,
    /// A column became the `INTEGER PRIMARY KEY AUTOINCREMENT`.
    rowid_alias: bool,
}

/// Translates the columns of `table`; inline UNIQUE columns are added to `keys`.
fn table_body(table: &CreateTable, keys: &mut Keys) -> Result<TableBody, TranslateError> {
    let mut body = TableBody {
        definitions: Vec::new(),
        on_update_columns: Vec::new(),
        rowid_alias: false,
    };
    for column in &table.columns {
        let sole_primary_key = keys
            .primary
            .as_ref()
            .is_some_and(|key| key.len() == 1 && key[0].eq_ignore_ascii_case(&column.name.value));
        let context = ColumnContext {
            auto_increment_is_key: sole_primary_key,
        };
        let plan = column_plan(column, context)?;
        body.rowid_alias |= plan.rowid_alias;
        if plan.unique {
            keys.indexes
                .push((plan.name.clone(), vec![plan.name.clone()], true));
        }
        if plan.on_update {
            body.on_update_columns.push(plan.name.clone());
        }
        body.definitions.push(plan.definition);
    }
    match &keys.primary {
        Some(columns) if !(body.rowid_alias && columns.len() == 1) => {
            let columns = ident_list(columns.iter().map(String::as_str));
            body.definitions.push(format!("PRIMARY KEY ({columns})"));
        }
        _ => {}
    }
    body.definitions.append(&mut keys.constraints);
    Ok(body)
}

/// One statement as [`Statement::Sql`], several as a [`Statement::Script`].
pub(crate) fn script(mut steps: Vec<Step>, kind: SqlKind) -> Statement {
    if steps.len() == 1 && !steps[0].counts_rows {
        if let Some(step) = steps.pop() {
            return Statement::Sql {
                sql: step.sql,
                kind,
            };
        }
    }
    Statement::Script { steps, kind }
}

/// The `AUTO_INCREMENT=n` table option.
fn auto_increment_start(options: &CreateTableOptions) -> Option<u64> {
    let (CreateTableOptions::Plain(options) | CreateTableOptions::With(options)) = options else {
        return None;
    };
    options.iter().find_map(|option| match option {
        SqlOption::KeyValue {
            key,
            value: Expr::Value(value),
        } if key.to_string().eq_ignore_ascii_case("AUTO_INCREMENT") => match &value.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        _ => None,
    })
}

/// Makes the next AUTOINCREMENT value of `table` be `start` (unless rows were numbered).
fn auto_increment_seed(table: &str, start: u64) -> String {
    format!(
        "INSERT INTO sqlite_sequence (name, seq) SELECT {0}, {1} WHERE NOT EXISTS \
         (SELECT 1 FROM sqlite_sequence WHERE name = {0})",
        quote_str(table),
        start.saturating_sub(1)
    )
}

fn create_index(index: CreateIndex) -> Result<Statement, TranslateError> {
    let table = last_part(&index.table_name);
    let columns = index_column_names(&index.columns)?;
    let name = index
        .name
        .as_ref()
        .map_or_else(|| key_name(None, &columns), last_part);
    let sql = create_index_sql(&table, &name, &columns, index.unique, index.if_not_exists);
    Ok(Statement::Sql {
        sql,
        kind: SqlKind::Ddl,
    })
}

/// `CREATE FULLTEXT INDEX name ON t (columns)` (parsed without its FULLTEXT keyword).
pub(crate) fn create_fulltext_index(parsed: Parsed) -> Result<Statement, TranslateError> {
    let Parsed::CreateIndex(index) = parsed else {
        return Err(TranslateError::syntax("CREATE FULLTEXT INDEX"));
    };
    let table = last_part(&index.table_name);
    let columns = index_column_names(&index.columns)?;
    let steps = fulltext::create_index(&table, &columns, index.if_not_exists, true);
    Ok(script(
        steps.into_iter().map(Step::ddl).collect(),
        SqlKind::Ddl,
    ))
}

fn drop(
    object_type: ObjectType,
    if_exists: bool,
    names: &[ObjectName],
    table: Option<&ObjectName>,
) -> Result<Statement, TranslateError> {
    let exists = if if_exists { "IF EXISTS " } else { "" };
    let keyword = match object_type {
        ObjectType::Table => "TABLE",
        ObjectType::View => "VIEW",
        ObjectType::Index => return drop_index(exists, names, table),
        ObjectType::Database | ObjectType::Schema => {
            let name = names.first().map(last_part).unwrap_or_default();
            return Ok(Statement::DropDatabase { name, if_exists });
        }
        other => return Err(TranslateError::unsupported(format!("DROP {other}"))),
    };
    let steps = names
        .iter()
        .map(|name| {
            Step::ddl(format!(
                "DROP {keyword} {exists}{}",
                quote_ident(&last_part(name))
            ))
        })
        .collect();
    Ok(script(steps, SqlKind::Ddl))
}

fn drop_index(
    exists: &str,
    names: &[ObjectName],
    table: Option<&ObjectName>,
) -> Result<Statement, TranslateError> {
    let (Some(table), [index]) = (table, names) else {
        return Err(TranslateError::syntax("DROP INDEX"));
    };
    let (table, index) = (last_part(table), last_part(index));
    if index.eq_ignore_ascii_case("PRIMARY") {
        return Ok(Statement::AlterTable {
            table,
            ops: vec![AlterOp::DropPrimaryKey],
        });
    }
    let sql = format!(
        "DROP INDEX {exists}{}",
        quote_ident(&index_name(&table, &index))
    );
    Ok(Statement::Sql {
        sql,
        kind: SqlKind::Ddl,
    })
}

fn create_view(mut view: CreateView) -> Result<Statement, TranslateError> {
    if view.materialized {
        return Err(TranslateError::unsupported("materialized views"));
    }
    let name = quote_ident(&last_part(&view.name));
    query::rewrite_query(&mut view.query)?;
    let columns = match view.columns.as_slice() {
        [] => String::new(),
        columns => format!(
            " ({})",
            ident_list(columns.iter().map(|c| c.name.value.as_str()))
        ),
    };
    let exists = if view.if_not_exists {
        "IF NOT EXISTS "
    } else {
        ""
    };
    let create = format!("CREATE VIEW {exists}{name}{columns} AS {}", view.query);
    let mut steps = Vec::new();
    if view.or_replace || view.or_alter {
        steps.push(Step::ddl(format!("DROP VIEW IF EXISTS {name}")));
    }
    steps.push(Step::ddl(create));
    Ok(script(steps, SqlKind::Ddl))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;
    use sqlparser::parser::Parser;

    fn translated(mysql: &str) -> Vec<String> {
        let mut parsed = Parser::parse_sql(&MySqlDialect {}, mysql).unwrap();
        match translate(parsed.remove(0)).unwrap() {
            Statement::Sql { sql, .. } => vec![sql],
            Statement::Script { steps, .. } => steps.into_iter().map(|s| s.sql).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn auto_increment_primary_key_folds_into_the_column() {
        let sql = translated(
            "CREATE TABLE IF NOT EXISTS `t` (id bigint(20) unsigned NOT NULL auto_increment, \
             name varchar(20) NOT NULL, PRIMARY KEY (id), KEY name (name(10))) \
             ENGINE=InnoDB AUTO_INCREMENT=100 DEFAULT CHARSET=utf8mb4",
        );
        assert_eq!(
            sql,
            [
                "CREATE TABLE IF NOT EXISTS \"t\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \
                 \"name\" VARCHAR(20) COLLATE NOCASE NOT NULL DEFAULT '')",
                "CREATE INDEX IF NOT EXISTS \"t__name\" ON \"t\" (\"name\")",
                "INSERT INTO sqlite_sequence (name, seq) SELECT 't', 99 WHERE NOT EXISTS \
                 (SELECT 1 FROM sqlite_sequence WHERE name = 't')",
            ]
        );
    }

    #[test]
    fn defaults_collations_and_on_update() {
        let sql = translated(
            "CREATE TABLE t (a datetime NOT NULL DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, \
             b varchar(5) COLLATE utf8mb4_bin DEFAULT NULL, c int DEFAULT -1, d tinyint(1) DEFAULT TRUE)",
        );
        assert_eq!(
            sql[0],
            "CREATE TABLE \"t\" (\"a\" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP, \
             \"b\" VARCHAR(5) DEFAULT NULL, \"c\" INT DEFAULT -1, \"d\" TINYINT(1) DEFAULT 1)"
        );
        assert_eq!(sql[1], on_update_trigger("t", "a", false));
    }

    #[test]
    fn composite_keys_and_foreign_keys() {
        let sql = translated(
            "CREATE TABLE r (a int NOT NULL, b int NOT NULL, PRIMARY KEY (a, b), \
             UNIQUE KEY u (b), CONSTRAINT fk FOREIGN KEY (a) REFERENCES p (id) ON DELETE CASCADE)",
        );
        assert_eq!(
            sql,
            [
                "CREATE TABLE \"r\" (\"a\" INT NOT NULL DEFAULT 0, \"b\" INT NOT NULL DEFAULT 0, \
                 PRIMARY KEY (\"a\", \"b\"), CONSTRAINT \"fk\" FOREIGN KEY (\"a\") REFERENCES \"p\" (\"id\") ON DELETE CASCADE)",
                "CREATE UNIQUE INDEX \"r__u\" ON \"r\" (\"b\")",
            ]
        );
    }

    #[test]
    fn indexes_drops_and_views() {
        assert_eq!(
            translated("CREATE UNIQUE INDEX k ON t (a(10), b)"),
            ["CREATE UNIQUE INDEX \"t__k\" ON \"t\" (\"a\", \"b\")"]
        );
        assert_eq!(translated("DROP INDEX k ON t"), ["DROP INDEX \"t__k\""]);
        assert_eq!(
            translated("DROP TABLE IF EXISTS a, `b`"),
            ["DROP TABLE IF EXISTS \"a\"", "DROP TABLE IF EXISTS \"b\""]
        );
        assert_eq!(
            translated("CREATE OR REPLACE VIEW v AS SELECT a FROM t LIMIT 1, 2"),
            [
                "DROP VIEW IF EXISTS \"v\"",
                "CREATE VIEW \"v\" AS SELECT a FROM t LIMIT 2 OFFSET 1"
            ]
        );
    }
}
