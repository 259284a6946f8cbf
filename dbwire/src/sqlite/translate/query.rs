//! SELECT: the query-level rewrites (LIMIT, locking clauses, MySQL select modifiers, join
//! spellings, parenthesized set operands, `FROM DUAL`) and the expression rewrites, keeping
//! MySQL's result column names.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, JoinOperator, LimitClause, Offset, OffsetRows, Query, Select, SelectItem, SetExpr,
    Statement as Parsed, TableFactor, Value, VisitMut, VisitorMut,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::error::TranslateError;
use super::{expr, names, SqlKind, Statement};

/// Translates a SELECT (or any query expression).
pub(crate) fn translate_select(mut query: Box<Query>) -> Result<Statement, TranslateError> {
    let calc_found_rows = top_select(&query)
        .and_then(|select| select.select_modifiers.as_ref())
        .is_some_and(|modifiers| modifiers.sql_calc_found_rows);
    rewrite_query(&mut query)?;
    Ok(Statement::Sql {
        sql: query.to_string(),
        kind: SqlKind::Select { calc_found_rows },
    })
}

/// `EXPLAIN SELECT ...`: SQLite's query plan.
pub(crate) fn translate_explain(statement: Parsed) -> Result<Statement, TranslateError> {
    let Parsed::Query(mut query) = statement else {
        return Err(TranslateError::unsupported(
            "EXPLAIN of statements other than SELECT",
        ));
    };
    rewrite_query(&mut query)?;
    Ok(Statement::Sql {
        sql: format!("EXPLAIN QUERY PLAN {query}"),
        kind: SqlKind::Other,
    })
}

/// Rewrites a query for SQLite, naming rewritten result columns as MySQL would.
pub(crate) fn rewrite_query(query: &mut Box<Query>) -> Result<(), TranslateError> {
    shape(query.as_mut())?;
    let original_names = top_select(query).map(column_names).unwrap_or_default();
    expr::rewrite(query.as_mut())?;
    if let Some(select) = top_select_mut(query) {
        keep_column_names(select, &original_names);
    }
    Ok(())
}

/// The count of rows `sqlite_select` (a translated SELECT) returns without its LIMIT, as a
/// query: what FOUND_ROWS() reports after SQL_CALC_FOUND_ROWS. `None` when the text is not a
/// query. Bind it with the same parameters as the SELECT.
pub fn found_rows_query(sqlite_select: &str) -> Option<String> {
    let mut statements = Parser::parse_sql(&SQLiteDialect {}, sqlite_select).ok()?;
    let Some(Parsed::Query(mut query)) = statements.pop().filter(|_| statements.is_empty()) else {
        return None;
    };
    query.limit_clause = None;
    query.order_by = None;
    Some(format!(
        "SELECT count(*) FROM ({query}) AS \"{}found_rows\"",
        names::SCRATCH_PREFIX
    ))
}

fn top_select(query: &Query) -> Option<&Select> {
    let mut body = query.body.as_ref();
    loop {
        match body {
            SetExpr::Select(select) => return Some(select),
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(inner) => body = inner.body.as_ref(),
            _ => return None,
        }
    }
}

fn top_select_mut(query: &mut Query) -> Option<&mut Select> {
    let mut body = query.body.as_mut();
    loop {
        match body {
            SetExpr::Select(select) => return Some(select),
            SetExpr::SetOperation { left, .. } => body = left,
            SetExpr::Query(inner) => body = inner.body.as_mut(),
            _ => return None,
        }
    }
}

/// The MySQL name of each computed result column (`None` for columns and wildcards).
fn column_names(select: &Select) -> Vec<Option<String>> {
    select
        .projection
        .iter()
        .map(|item| match item {
            SelectItem::UnnamedExpr(expr) => mysql_column_name(expr),
            _ => None,
        })
        .collect()
}

/// The name MySQL gives an unaliased result column: a string literal's value, else the
/// expression as written; `None` for column references, which keep their name anyway.
fn mysql_column_name(expr: &Expr) -> Option<String> {
    let literal = match expr {
        Expr::Value(value) => Some(&value.value),
        Expr::Prefixed { value, .. } => match value.as_ref() {
            Expr::Value(value) => Some(&value.value),
            _ => None,
        },
        Expr::Identifier(ident) if !ident.value.starts_with('@') => return None,
        Expr::CompoundIdentifier(parts)
            if !parts.first().is_some_and(|p| p.value.starts_with('@')) =>
        {
            return None;
        }
        _ => None,
    };
    match literal {
        Some(
            Value::SingleQuotedString(text)
            | Value::DoubleQuotedString(text)
            | Value::NationalStringLiteral(text),
        ) => Some(text.clone()),
        Some(Value::Boolean(true)) => Some("TRUE".to_owned()),
        Some(Value::Boolean(false)) => Some("FALSE".to_owned()),
        _ => Some(expr.to_string()),
    }
}

/// Aliases rewritten result columns with their MySQL text, so `SELECT FOUND_ROWS()` still
/// returns a column named `FOUND_ROWS()`.
fn keep_column_names(select: &mut Select, original_names: &[Option<String>]) {
    for (item, original) in select.projection.iter_mut().zip(original_names) {
        let Some(original) = original else { continue };
        if let SelectItem::UnnamedExpr(expr) = item {
            if expr.to_string() != *original {
                let expr = std::mem::replace(expr, Expr::Value(Value::Null.with_empty_span()));
                let alias = Ident::with_quote('"', original.as_str());
                *item = SelectItem::ExprWithAlias { expr, alias };
            }
        }
    }
}

/// Applies the query-level rewrites to `node` and every query inside it.
pub(crate) fn shape<T: VisitMut>(node: &mut T) -> Result<(), TranslateError> {
    match node.visit(&mut Shaper) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => Err(error),
    }
}

struct Shaper;

impl VisitorMut for Shaper {
    type Break = TranslateError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<TranslateError> {
        // FOR UPDATE / FOR SHARE: SQLite locks the whole database while writing.
        query.locks.clear();
        if let Some(limit) = query.limit_clause.take() {
            query.limit_clause = Some(limit_offset(limit));
        }
        unwrap_parenthesized(query);
        flatten_set_operands(query.body.as_mut());
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<TranslateError> {
        if select.into.is_some() {
            return ControlFlow::Break(TranslateError::unsupported("SELECT ... INTO"));
        }
        // SQL_CALC_FOUND_ROWS, STRAIGHT_JOIN, SQL_NO_CACHE, HIGH_PRIORITY, ...
        select.select_modifiers = None;
        select.optimizer_hints.clear();
        remove_dual(select);
        for item in &mut select.from {
            for join in &mut item.joins {
                if let JoinOperator::StraightJoin(constraint) = &join.join_operator {
                    join.join_operator = JoinOperator::Join(constraint.clone());
                }
            }
        }
        ControlFlow::Continue(())
    }
}

/// `LIMIT offset, count` as `LIMIT count OFFSET offset`; MySQL's "no limit" idiom (a count
/// beyond 2^63) as -1.
fn limit_offset(limit: LimitClause) -> LimitClause {
    let (limit, offset, limit_by) = match limit {
        LimitClause::OffsetCommaLimit { offset, limit } => (
            Some(limit),
            Some(Offset {
                value: offset,
                rows: OffsetRows::None,
            }),
            Vec::new(),
        ),
        LimitClause::LimitOffset {
            limit,
            offset,
            limit_by,
        } => (limit, offset, limit_by),
    };
    let limit = limit.map(|count| match &count {
        Expr::Value(value) if is_unbounded(&value.value) => {
            Expr::Value(Value::Number("-1".into(), false).with_empty_span())
        }
        _ => count,
    });
    let limit = match (limit, &offset) {
        (None, Some(_)) => Some(Expr::Value(
            Value::Number("-1".into(), false).with_empty_span(),
        )),
        (limit, _) => limit,
    };
    LimitClause::LimitOffset {
        limit,
        offset,
        limit_by,
    }
}

fn is_unbounded(value: &Value) -> bool {
    matches!(value, Value::Number(n, _) if n.parse::<i64>().is_err() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `(SELECT ...)` as a whole statement or subquery body: SQLite has no parenthesized queries.
fn unwrap_parenthesized(query: &mut Query) {
    let SetExpr::Query(inner) = query.body.as_mut() else {
        return;
    };
    let outer_plain = query.order_by.is_none() && query.limit_clause.is_none();
    let inner_plain =
        inner.order_by.is_none() && inner.limit_clause.is_none() && inner.with.is_none();
    if inner_plain {
        let body = std::mem::replace(inner.body.as_mut(), SetExpr::Values(empty_values()));
        *query.body = body;
    } else if outer_plain && query.with.is_none() {
        let inner = std::mem::replace(inner.as_mut(), empty_query());
        *query = inner;
    }
}

/// Operands of UNION/EXCEPT/INTERSECT written in parentheses: SQLite wants bare SELECTs, so a
/// plain one is unwrapped and one with ORDER BY/LIMIT becomes `SELECT * FROM (...)`.
fn flatten_set_operands(body: &mut SetExpr) {
    let SetExpr::SetOperation { left, right, .. } = body else {
        return;
    };
    for operand in [left, right] {
        flatten_set_operands(operand.as_mut());
        let SetExpr::Query(inner) = operand.as_mut() else {
            continue;
        };
        let plain =
            inner.order_by.is_none() && inner.limit_clause.is_none() && inner.with.is_none();
        let replacement = if plain {
            std::mem::replace(inner.body.as_mut(), SetExpr::Values(empty_values()))
        } else {
            select_star_from(std::mem::replace(inner, Box::new(empty_query())))
        };
        **operand = replacement;
    }
}

fn select_star_from(subquery: Box<Query>) -> SetExpr {
    let template = "SELECT * FROM (SELECT 1) AS \"_ephpm_operand\"";
    let Ok(mut parsed) = Parser::new(&SQLiteDialect {})
        .try_with_sql(template)
        .and_then(|mut p| p.parse_query())
    else {
        return SetExpr::Query(subquery);
    };
    if let SetExpr::Select(select) = parsed.body.as_mut() {
        if let Some(TableFactor::Derived { subquery: slot, .. }) =
            select.from.first_mut().map(|from| &mut from.relation)
        {
            *slot = subquery;
        }
    }
    *parsed.body
}

fn empty_values() -> sqlparser::ast::Values {
    sqlparser::ast::Values {
        explicit_row: false,
        value_keyword: false,
        rows: Vec::new(),
    }
}

pub(crate) fn empty_query() -> Query {
    Query {
        with: None,
        body: Box::new(SetExpr::Values(empty_values())),
        order_by: None,
        limit_clause: None,
        fetch: None,
        locks: Vec::new(),
        for_clause: None,
        settings: None,
        format_clause: None,
        pipe_operators: Vec::new(),
    }
}

/// `FROM DUAL` means no table.
fn remove_dual(select: &mut Select) {
    let is_dual = |select: &Select| match select.from.as_slice() {
        [only] if only.joins.is_empty() => matches!(
            &only.relation,
            TableFactor::Table { name, alias: None, .. } if names::last_part(name).eq_ignore_ascii_case("dual")
        ),
        _ => false,
    };
    if is_dual(select) {
        select.from.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;

    fn translated(mysql: &str) -> (String, SqlKind) {
        let mut parsed = Parser::parse_sql(&MySqlDialect {}, mysql).unwrap();
        let Some(Parsed::Query(query)) = parsed.pop() else {
            panic!("not a query")
        };
        match translate_select(query).unwrap() {
            Statement::Sql { sql, kind } => (sql, kind),
            other => panic!("{other:?}"),
        }
    }

    fn sql(mysql: &str) -> String {
        translated(mysql).0
    }

    #[test]
    fn limit_forms() {
        assert_eq!(
            sql("SELECT a FROM t LIMIT 5, 10"),
            "SELECT a FROM t LIMIT 10 OFFSET 5"
        );
        assert_eq!(sql("SELECT a FROM t LIMIT 10"), "SELECT a FROM t LIMIT 10");
        assert_eq!(
            sql("SELECT a FROM t LIMIT 18446744073709551615 OFFSET 3"),
            "SELECT a FROM t LIMIT -1 OFFSET 3"
        );
    }

    #[test]
    fn modifiers_locks_and_hints_go() {
        let (text, kind) = translated(
            "SELECT SQL_CALC_FOUND_ROWS a FROM t FORCE INDEX (k) STRAIGHT_JOIN u ON t.x = u.x FOR UPDATE",
        );
        assert_eq!(text, "SELECT a FROM t JOIN u ON t.x = u.x");
        assert_eq!(
            kind,
            SqlKind::Select {
                calc_found_rows: true
            }
        );
        assert_eq!(
            translated("SELECT 1").1,
            SqlKind::Select {
                calc_found_rows: false
            }
        );
    }

    #[test]
    fn dual_and_parentheses() {
        assert_eq!(sql("SELECT 1 FROM DUAL"), "SELECT 1");
        assert_eq!(
            sql("(SELECT a FROM t) UNION (SELECT a FROM u)"),
            "SELECT a FROM t UNION SELECT a FROM u"
        );
        assert_eq!(
            sql("(SELECT a FROM t LIMIT 1) UNION ALL (SELECT a FROM u)"),
            "SELECT * FROM (SELECT a FROM t LIMIT 1) AS \"_ephpm_operand\" UNION ALL SELECT a FROM u"
        );
    }

    #[test]
    fn rewritten_columns_keep_their_mysql_names() {
        assert_eq!(
            sql("SELECT FOUND_ROWS()"),
            "SELECT found_rows() AS \"FOUND_ROWS()\""
        );
        assert_eq!(
            sql("SELECT @@SESSION.sql_mode"),
            "SELECT sysvar('sql_mode') AS \"@@SESSION.sql_mode\""
        );
        assert_eq!(
            sql("SELECT COUNT(*), `a` FROM t"),
            "SELECT COUNT(*), \"a\" FROM t"
        );
        assert_eq!(
            sql("SELECT 'it\\'s', \"dq\", TRUE, 1"),
            "SELECT 'it''s' AS \"it's\", 'dq' AS \"dq\", 1 AS \"TRUE\", 1"
        );
    }

    #[test]
    fn found_rows_queries_drop_the_limit() {
        assert_eq!(
            found_rows_query("SELECT a FROM t WHERE b = ?1 ORDER BY a LIMIT ?3 OFFSET ?2").unwrap(),
            "SELECT count(*) FROM (SELECT a FROM t WHERE b = ?1) AS \"_ephpm_found_rows\""
        );
        assert_eq!(found_rows_query("DELETE FROM t"), None);
    }
}
