//! INSERT, REPLACE, UPDATE and DELETE.
//!
//! - `INSERT IGNORE` is `INSERT OR IGNORE`; `REPLACE` stays; `INSERT ... SET a = 1` becomes a
//!   VALUES row; `INSERT INTO t () VALUES ()` is `DEFAULT VALUES`.
//! - `ON DUPLICATE KEY UPDATE c = VALUES(c)` (or `= new.c` with a row alias) is
//!   `ON CONFLICT DO UPDATE SET c = excluded.c`, without a conflict target.
//! - UPDATE/DELETE with ORDER BY or LIMIT select their rows by rowid in a subquery (SQLite
//!   needs a compile option for them).
//! - `UPDATE a JOIN b ON ... SET a.x = b.y` is `UPDATE a SET x = b.y FROM b WHERE ...`.
//! - Multi-table DELETE deletes by rowid from a subquery; with several target tables the
//!   rowids are collected first in a temporary table, so that deleting from one target does
//!   not change which rows of the next one match.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Assignment, AssignmentTarget, BinaryOperator, Delete, DoUpdate, Expr, FromTable, Function,
    FunctionArg, FunctionArgExpr, FunctionArguments, Ident, InTarget, Insert, JoinConstraint,
    JoinOperator, LimitClause, ObjectName, OnConflict, OnConflictAction, OnInsert, OrderBy,
    OrderByExpr, OrderByKind, Parens, Query, SelectItem, SetExpr, SqliteOnConflict, TableFactor,
    TableWithJoins, Update, UpdateTableFromKind, Value, Values, VisitMut, VisitorMut,
};
use sqlparser::dialect::MySqlDialect;
use sqlparser::parser::Parser;

use super::error::TranslateError;
use super::expr::{self, Scope};
use super::names::{self, quote_ident, SCRATCH_PREFIX};
use super::query::{self, shape};
use super::{SqlKind, Statement, Step};

/// The name SQLite's upsert gives the row that could not be inserted.
const EXCLUDED: &str = "excluded";

/// Translates INSERT and REPLACE.
pub(crate) fn translate_insert(mut insert: Insert) -> Result<Statement, TranslateError> {
    let kind = if insert.replace_into {
        SqlKind::Replace
    } else {
        SqlKind::Insert
    };
    insert.priority = None;
    insert.optimizer_hints.clear();
    if insert.ignore {
        insert.ignore = false;
        insert.or = Some(SqliteOnConflict::Ignore);
    }
    assignments_to_values(&mut insert);
    empty_row_to_default_values(&mut insert)?;
    on_duplicate_key_update(&mut insert)?;
    shape(&mut insert)?;
    expr::rewrite(&mut insert)?;
    Ok(Statement::Sql {
        sql: insert.to_string(),
        kind,
    })
}

/// `INSERT INTO t SET a = 1, b = 2` as `INSERT INTO t (a, b) VALUES (1, 2)`.
fn assignments_to_values(insert: &mut Insert) {
    if insert.assignments.is_empty() {
        return;
    }
    let mut row = Vec::new();
    for assignment in std::mem::take(&mut insert.assignments) {
        if let AssignmentTarget::ColumnName(column) = assignment.target {
            insert
                .columns
                .push(ObjectName::from(vec![Ident::new(names::last_part(
                    &column,
                ))]));
            row.push(assignment.value);
        }
    }
    insert.source = Some(Box::new(values_query(vec![row])));
}

fn values_query(rows: Vec<Vec<Expr>>) -> Query {
    let mut query = query::empty_query();
    query.body = Box::new(SetExpr::Values(Values {
        explicit_row: false,
        value_keyword: false,
        rows: rows.into_iter().map(Parens::with_empty_span).collect(),
    }));
    query
}

/// `VALUES ()` with no columns inserts a row of defaults.
fn empty_row_to_default_values(insert: &mut Insert) -> Result<(), TranslateError> {
    let Some(source) = &insert.source else {
        return Ok(());
    };
    let SetExpr::Values(values) = source.body.as_ref() else {
        return Ok(());
    };
    if !values.rows.iter().all(|row| row.content.is_empty()) {
        return Ok(());
    }
    if values.rows.len() != 1 || !insert.columns.is_empty() {
        return Err(TranslateError::unsupported("INSERT of several empty rows"));
    }
    insert.source = None;
    Ok(())
}

fn on_duplicate_key_update(insert: &mut Insert) -> Result<(), TranslateError> {
    let Some(OnInsert::DuplicateKeyUpdate(mut assignments)) = insert.on.take() else {
        return Ok(());
    };
    let row_alias = insert
        .insert_alias
        .take()
        .map(|alias| names::last_part(&alias.row_alias));
    for assignment in &mut assignments {
        unqualify_target(assignment);
        let mut to_excluded = ToExcluded {
            row_alias: row_alias.clone(),
        };
        let _ = assignment.value.visit(&mut to_excluded);
    }
    if let Some(source) = &mut insert.source {
        // SQLite reads `INSERT ... SELECT ... ON CONFLICT` ambiguously without a WHERE.
        if let SetExpr::Select(select) = source.body.as_mut() {
            select.selection.get_or_insert_with(|| number("1"));
        }
    }
    insert.on = Some(OnInsert::OnConflict(OnConflict {
        conflict_target: None,
        action: OnConflictAction::DoUpdate(DoUpdate {
            assignments,
            selection: None,
        }),
    }));
    Ok(())
}

/// `SET t.c = ...`: SQLite assignments name bare columns.
fn unqualify_target(assignment: &mut Assignment) {
    if let AssignmentTarget::ColumnName(column) = &mut assignment.target {
        let Some(last) = column.0.pop() else { return };
        column.0 = vec![last];
    }
}

/// Rewrites `VALUES(c)` and `alias.c` (the row being inserted) as `excluded.c`.
struct ToExcluded {
    row_alias: Option<String>,
}

impl VisitorMut for ToExcluded {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let column = match expr {
            Expr::Function(function) => values_function_column(function),
            Expr::CompoundIdentifier(parts) => match (parts.as_slice(), &self.row_alias) {
                ([alias, column], Some(row_alias))
                    if alias.value.eq_ignore_ascii_case(row_alias) =>
                {
                    Some(column.clone())
                }
                _ => None,
            },
            _ => None,
        };
        if let Some(column) = column {
            *expr = Expr::CompoundIdentifier(vec![Ident::new(EXCLUDED), column]);
        }
        ControlFlow::Continue(())
    }
}

/// The column of `VALUES(column)`.
fn values_function_column(function: &Function) -> Option<Ident> {
    if !names::last_part(&function.name).eq_ignore_ascii_case("VALUES") {
        return None;
    }
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    match list.args.as_slice() {
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(column)))] => {
            Some(column.clone())
        }
        [FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::CompoundIdentifier(parts)))] => {
            parts.last().cloned()
        }
        _ => None,
    }
}

fn number(text: &str) -> Expr {
    Expr::Value(Value::Number(text.to_owned(), false).with_empty_span())
}

/// Translates UPDATE.
pub(crate) fn translate_update(mut update: Update) -> Result<Statement, TranslateError> {
    update.optimizer_hints.clear();
    if !update.order_by.is_empty() || update.limit.is_some() {
        if !update.table.joins.is_empty() {
            return Err(TranslateError::unsupported(
                "multi-table UPDATE with ORDER BY or LIMIT",
            ));
        }
        let subquery = select_query(
            vec![rowid_item(None)],
            vec![update.table.clone()],
            update.selection.take(),
            std::mem::take(&mut update.order_by),
            update.limit.take(),
        )?;
        update.selection = Some(rowid_in(subquery));
    }
    if !update.table.joins.is_empty() {
        update_from_joins(&mut update)?;
    }
    update.assignments.iter_mut().for_each(unqualify_target);
    let mut scope_from = vec![update.table.clone()];
    if let Some(UpdateTableFromKind::AfterSet(from) | UpdateTableFromKind::BeforeSet(from)) =
        &update.from
    {
        scope_from.extend(from.iter().cloned());
    }
    shape(&mut update)?;
    expr::rewrite_in_scope(&mut update, Scope::of_from(&scope_from))?;
    Ok(Statement::Sql {
        sql: update.to_string(),
        kind: SqlKind::Update,
    })
}

/// `SELECT projection FROM from [WHERE selection] [ORDER BY order_by] [LIMIT limit]`.
fn select_query(
    projection: Vec<SelectItem>,
    from: Vec<TableWithJoins>,
    selection: Option<Expr>,
    order_by: Vec<OrderByExpr>,
    limit: Option<Expr>,
) -> Result<Query, TranslateError> {
    let template = "SELECT 1";
    let mut query = Parser::new(&MySqlDialect {})
        .try_with_sql(template)
        .and_then(|mut parser| parser.parse_query())
        .map_err(|_| TranslateError::syntax(template))?;
    if let SetExpr::Select(select) = query.body.as_mut() {
        select.projection = projection;
        select.from = from;
        select.selection = selection;
    }
    if !order_by.is_empty() {
        query.order_by = Some(OrderBy {
            kind: OrderByKind::Expressions(order_by),
            interpolate: None,
        });
    }
    query.limit_clause = limit.map(|limit| LimitClause::LimitOffset {
        limit: Some(limit),
        offset: None,
        limit_by: Vec::new(),
    });
    Ok(*query)
}

/// `rowid`, or `reference.rowid`, as a result column.
fn rowid_item(reference: Option<&str>) -> SelectItem {
    let rowid = Ident::new("rowid");
    SelectItem::UnnamedExpr(match reference {
        Some(reference) => Expr::CompoundIdentifier(vec![names::ident(reference), rowid]),
        None => Expr::Identifier(rowid),
    })
}

/// `rowid IN (subquery)`.
fn rowid_in(subquery: Query) -> Expr {
    Expr::In {
        expr: Box::new(Expr::Identifier(Ident::new("rowid"))),
        target: InTarget::Subquery(Box::new(subquery)),
        negated: false,
        global: false,
    }
}

/// `UPDATE a JOIN b ON c SET a.x = b.y WHERE w` as `UPDATE a SET x = b.y FROM b WHERE c AND w`.
/// Only inner joins: the updated table must be one whose rows all take part.
fn update_from_joins(update: &mut Update) -> Result<(), TranslateError> {
    let target_reference = update.assignments.first().and_then(|a| match &a.target {
        AssignmentTarget::ColumnName(column) if column.0.len() > 1 => {
            column.0.get(column.0.len() - 2).map(ToString::to_string)
        }
        _ => None,
    });
    let table = std::mem::replace(&mut update.table, table_named(""));
    let (mut relations, conditions) = inner_join_parts(table)?;
    let position = match &target_reference {
        Some(reference) => relations
            .iter()
            .position(|r| reference_name(r).eq_ignore_ascii_case(reference.trim_matches('`')))
            .ok_or_else(|| TranslateError::unsupported("UPDATE of a table outside the join"))?,
        None => 0,
    };
    let target = relations.remove(position);
    update.table = TableWithJoins {
        relation: target,
        joins: Vec::new(),
    };
    let from = relations.into_iter().map(|relation| TableWithJoins {
        relation,
        joins: Vec::new(),
    });
    update.from = Some(UpdateTableFromKind::AfterSet(from.collect()));
    update.selection = conjunction(conditions.into_iter().chain(update.selection.take()));
    Ok(())
}

/// A FROM item naming table `name`.
fn table_named(name: &str) -> TableWithJoins {
    TableWithJoins {
        relation: TableFactor::Table {
            name: ObjectName::from(vec![names::ident(name)]),
            alias: None,
            args: None,
            with_hints: Vec::new(),
            version: None,
            with_ordinality: false,
            partitions: Vec::new(),
            json_path: None,
            sample: None,
            index_directives: Vec::new(),
            inheritance: None,
        },
        joins: Vec::new(),
    }
}

/// The relations of an inner-join chain and its ON conditions.
fn inner_join_parts(
    table: TableWithJoins,
) -> Result<(Vec<TableFactor>, Vec<Expr>), TranslateError> {
    let mut relations = vec![table.relation];
    let mut conditions = Vec::new();
    for join in table.joins {
        let constraint = match join.join_operator {
            JoinOperator::Join(c)
            | JoinOperator::Inner(c)
            | JoinOperator::CrossJoin(c)
            | JoinOperator::StraightJoin(c) => c,
            _ => {
                return Err(TranslateError::unsupported(
                    "multi-table UPDATE with outer joins",
                ))
            }
        };
        match constraint {
            JoinConstraint::On(condition) => conditions.push(expr::nested(condition)),
            JoinConstraint::None => {}
            _ => return Err(TranslateError::unsupported("multi-table UPDATE with USING")),
        }
        relations.push(join.relation);
    }
    Ok((relations, conditions))
}

fn conjunction(conditions: impl Iterator<Item = Expr>) -> Option<Expr> {
    conditions
        .map(expr::nested)
        .reduce(|left, right| Expr::BinaryOp {
            left: Box::new(left),
            op: BinaryOperator::And,
            right: Box::new(right),
        })
}

/// The name a query uses for a FROM item (its alias, else its table name).
fn reference_name(factor: &TableFactor) -> String {
    match factor {
        TableFactor::Table {
            alias: Some(alias), ..
        } => alias.name.value.clone(),
        TableFactor::Table { name, .. } => names::last_part(name),
        TableFactor::Derived {
            alias: Some(alias), ..
        } => alias.name.value.clone(),
        _ => String::new(),
    }
}

/// Translates DELETE.
pub(crate) fn translate_delete(mut delete: Delete) -> Result<Statement, TranslateError> {
    delete.optimizer_hints.clear();
    let (targets, sources) = delete_targets(&mut delete)?;
    if targets.is_empty() {
        return translate_single_delete(delete);
    }
    let resolved: Vec<(String, String)> = targets
        .iter()
        .map(|target| resolve_target(target, &sources))
        .collect();
    let selection = delete.selection.take();
    if let [(reference, table)] = resolved.as_slice() {
        let projection = vec![rowid_item(Some(reference))];
        let subquery = select_query(projection, sources, selection, Vec::new(), None)?;
        delete.from = FromTable::WithFromKeyword(vec![table_named(table)]);
        delete.selection = Some(rowid_in(subquery));
        return translate_single_delete(delete);
    }
    multi_target_delete(&resolved, sources, selection)
}

fn translate_single_delete(mut delete: Delete) -> Result<Statement, TranslateError> {
    let from = match &delete.from {
        FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from) => from.clone(),
    };
    if !delete.order_by.is_empty() || delete.limit.is_some() {
        let subquery = select_query(
            vec![rowid_item(None)],
            from.clone(),
            delete.selection.take(),
            std::mem::take(&mut delete.order_by),
            delete.limit.take(),
        )?;
        delete.selection = Some(rowid_in(subquery));
    }
    shape(&mut delete)?;
    expr::rewrite_in_scope(&mut delete, Scope::of_from(&from))?;
    Ok(Statement::Sql {
        sql: delete.to_string(),
        kind: SqlKind::Delete,
    })
}

/// The target tables of a multi-table DELETE and the FROM items rows are chosen from; no
/// targets for a single-table DELETE.
fn delete_targets(
    delete: &mut Delete,
) -> Result<(Vec<ObjectName>, Vec<TableWithJoins>), TranslateError> {
    let from = match &mut delete.from {
        FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from) => from,
    };
    if !delete.tables.is_empty() {
        return Ok((std::mem::take(&mut delete.tables), std::mem::take(from)));
    }
    if let Some(using) = delete.using.take() {
        let targets = std::mem::take(from).into_iter().map(|t| match t.relation {
            TableFactor::Table { name, .. } => Ok(name),
            _ => Err(TranslateError::syntax("DELETE ... USING")),
        });
        return Ok((targets.collect::<Result<_, _>>()?, using));
    }
    let single = matches!(from.as_slice(), [only] if only.joins.is_empty());
    if !single {
        return Err(TranslateError::syntax("DELETE FROM"));
    }
    Ok((Vec::new(), Vec::new()))
}

/// The (reference, table) of multi-table DELETE target `target`: an alias or table name of
/// one of the FROM items `sources`.
fn resolve_target(target: &ObjectName, sources: &[TableWithJoins]) -> (String, String) {
    let reference = names::last_part(target);
    let relations = sources.iter().flat_map(|source| {
        std::iter::once(&source.relation).chain(source.joins.iter().map(|j| &j.relation))
    });
    for relation in relations {
        if let TableFactor::Table { name, .. } = relation {
            if reference_name(relation).eq_ignore_ascii_case(&reference) {
                return (reference, names::last_part(name));
            }
        }
    }
    (reference.clone(), reference)
}

/// Several DELETE targets: collect their rowids first, then delete from each.
fn multi_target_delete(
    targets: &[(String, String)],
    sources: Vec<TableWithJoins>,
    selection: Option<Expr>,
) -> Result<Statement, TranslateError> {
    let scratch = quote_ident(&format!("{SCRATCH_PREFIX}delete"));
    let projection = targets
        .iter()
        .enumerate()
        .map(|(index, (reference, _))| SelectItem::ExprWithAlias {
            expr: Expr::CompoundIdentifier(vec![names::ident(reference), Ident::new("rowid")]),
            alias: Ident::new(format!("r{index}")),
        })
        .collect();
    let select = select_query(projection, sources, selection, Vec::new(), None)?;
    let Statement::Sql { sql: select, .. } = query::translate_select(Box::new(select))? else {
        return Err(TranslateError::syntax("DELETE"));
    };
    let mut steps = vec![
        Step::ddl(format!("DROP TABLE IF EXISTS temp.{scratch}")),
        Step::ddl(format!("CREATE TEMP TABLE {scratch} AS {select}")),
    ];
    for (index, (_, table)) in targets.iter().enumerate() {
        steps.push(Step {
            sql: format!(
                "DELETE FROM {} WHERE rowid IN (SELECT r{index} FROM temp.{scratch})",
                quote_ident(table)
            ),
            counts_rows: true,
        });
    }
    steps.push(Step::ddl(format!("DROP TABLE temp.{scratch}")));
    Ok(Statement::Script {
        steps,
        kind: SqlKind::Delete,
    })
}
