//! The expression rewriter: one pass over a statement's AST that turns MySQL expressions into
//! SQLite ones (functions, operators, literals, identifiers, system variables, MATCH ... AGAINST,
//! `information_schema` tables).

use std::ops::ControlFlow;

use sqlparser::ast::{
    BinaryOperator, CastKind, DateTimeField, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentClause, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Query, SetExpr, TableFactor, TableWithJoins, TrimWhereField, Value, VisitMut,
    VisitorMut,
};
use sqlparser::dialect::SQLiteDialect;
use sqlparser::parser::Parser;

use super::error::TranslateError;
use super::functions::{self, Plan};
use super::types::{cast_target, CastTarget};
use super::{fulltext, info_schema, names};

/// Rewrites every expression, identifier and table reference in `node`.
pub(crate) fn rewrite<T: VisitMut>(node: &mut T) -> Result<(), TranslateError> {
    rewrite_in_scope(node, Scope::default())
}

/// Like [`rewrite`], with `scope` as the tables visible outside any query (UPDATE/DELETE).
pub(crate) fn rewrite_in_scope<T: VisitMut>(
    node: &mut T,
    scope: Scope,
) -> Result<(), TranslateError> {
    let mut rewriter = Rewriter {
        scopes: vec![scope],
    };
    match node.visit(&mut rewriter) {
        ControlFlow::Continue(()) => Ok(()),
        ControlFlow::Break(error) => Err(error),
    }
}

/// The tables a query reads, for resolving `MATCH (columns)` to a table.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    tables: Vec<TableReference>,
}

/// A table in a FROM clause: the name the query uses for it and the table behind it.
#[derive(Debug, Clone)]
struct TableReference {
    reference: String,
    table: Option<String>,
}

impl Scope {
    /// The tables of FROM items `from`.
    pub fn of_from(from: &[TableWithJoins]) -> Scope {
        let mut tables = Vec::new();
        for item in from {
            tables.push(table_reference(&item.relation));
            tables.extend(
                item.joins
                    .iter()
                    .map(|join| table_reference(&join.relation)),
            );
        }
        Scope { tables }
    }

    fn of_query(query: &Query) -> Scope {
        match query.body.as_ref() {
            SetExpr::Select(select) => Scope::of_from(&select.from),
            _ => Scope::default(),
        }
    }

    /// The (reference, table) a MATCH over `columns` belongs to.
    fn match_table(&self, columns: &[ObjectName]) -> Result<(String, String), TranslateError> {
        let qualifier = columns
            .first()
            .and_then(|c| c.0.len().checked_sub(2).map(|i| &c.0[i]));
        let found = match qualifier {
            Some(ObjectNamePart::Identifier(q)) => self
                .tables
                .iter()
                .find(|t| t.reference.eq_ignore_ascii_case(&q.value)),
            Some(_) => None,
            None if self.tables.len() == 1 => self.tables.first(),
            None => None,
        };
        match found {
            Some(TableReference {
                reference,
                table: Some(table),
            }) => Ok((reference.clone(), table.clone())),
            _ => Err(TranslateError::NoFulltextIndex),
        }
    }
}

fn table_reference(factor: &TableFactor) -> TableReference {
    match factor {
        TableFactor::Table { name, alias, .. } => {
            let table = names::last_part(name);
            let reference = alias
                .as_ref()
                .map_or_else(|| table.clone(), |a| a.name.value.clone());
            TableReference {
                reference,
                table: Some(table),
            }
        }
        other => TableReference {
            reference: table_alias(other).unwrap_or_default(),
            table: None,
        },
    }
}

fn table_alias(factor: &TableFactor) -> Option<String> {
    match factor {
        TableFactor::Derived { alias, .. } | TableFactor::NestedJoin { alias, .. } => {
            alias.as_ref().map(|a| a.name.value.clone())
        }
        _ => None,
    }
}

struct Rewriter {
    scopes: Vec<Scope>,
}

impl VisitorMut for Rewriter {
    type Break = TranslateError;

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<TranslateError> {
        self.scopes.push(Scope::of_query(query));
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<TranslateError> {
        self.scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &mut Ident) -> ControlFlow<TranslateError> {
        // Backticks and MySQL's string-literal aliases (`AS 'total'`) become double quotes.
        if matches!(ident.quote_style, Some('`') | Some('\'')) {
            ident.quote_style = Some('"');
        }
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<TranslateError> {
        if let TableFactor::Table {
            index_directives, ..
        } = factor
        {
            // USE/FORCE/IGNORE INDEX hints: SQLite picks indexes itself.
            index_directives.clear();
        }
        into_flow(info_schema::replace_table(factor))
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TranslateError> {
        // `@name := value` becomes a call before `@name` alone would be read as a variable.
        rewrite_assignment(expr);
        // Date arithmetic consumes its INTERVAL before the INTERVAL itself is visited.
        into_flow(rewrite_date_arithmetic(expr))
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<TranslateError> {
        into_flow(rewrite_expr(expr, self.scopes.last()))
    }
}

fn into_flow(result: Result<(), TranslateError>) -> ControlFlow<TranslateError> {
    match result {
        Ok(()) => ControlFlow::Continue(()),
        Err(error) => ControlFlow::Break(error),
    }
}

/// Rewrites one expression whose children are already rewritten.
fn rewrite_expr(expr: &mut Expr, scope: Option<&Scope>) -> Result<(), TranslateError> {
    let replacement = match &mut *expr {
        Expr::Value(value) => literal(&value.value),
        Expr::Prefixed { value, .. } => Some(take(value)),
        Expr::TypedString(typed) => Some(Expr::Value(typed.value.clone())),
        Expr::Identifier(ident) => variable(std::slice::from_ref(ident))?,
        Expr::CompoundIdentifier(parts) => compound_identifier(parts)?,
        Expr::Function(function) => function_call(function)?,
        Expr::RLike { regexp, .. } => {
            *regexp = true;
            None
        }
        Expr::Like { escape_char, .. } if escape_char.is_none() => {
            // MySQL's LIKE escapes with a backslash by default; SQLite's has no escape.
            *escape_char = Some(Box::new(string("\\")));
            None
        }
        Expr::BinaryOp { left, op, right } => binary_op(left, op, right),
        Expr::Collate { collation, .. } => {
            *collation = ObjectName::from(vec![Ident::new(sqlite_collation(collation))]);
            None
        }
        Expr::MatchAgainst {
            columns,
            match_value,
            opt_search_modifier,
        } => {
            let scope = scope.ok_or(TranslateError::NoFulltextIndex)?;
            Some(match_against(
                scope,
                columns,
                &match_value.value,
                opt_search_modifier.as_ref(),
            )?)
        }
        Expr::Interval(_) => {
            return Err(TranslateError::unsupported(
                "INTERVAL outside date arithmetic",
            ));
        }
        other => special_form(other)?,
    };
    if let Some(replacement) = replacement {
        *expr = replacement;
    }
    Ok(())
}

/// The SQL-syntax function forms: CAST, CONVERT, EXTRACT, SUBSTRING ... FROM, TRIM ... FROM,
/// POSITION ... IN, CEIL, FLOOR.
fn special_form(expr: &mut Expr) -> Result<Option<Expr>, TranslateError> {
    let replacement = match expr {
        Expr::Cast {
            expr: inner,
            data_type,
            ..
        }
        | Expr::Convert {
            expr: inner,
            data_type: Some(data_type),
            ..
        } => cast(take(inner), &cast_target(data_type)?),
        Expr::Convert {
            expr: inner,
            data_type: None,
            ..
        } => take(inner),
        Expr::Extract {
            field, expr: inner, ..
        } => extract(field, take(inner)),
        Expr::Substring {
            expr: inner,
            substring_from,
            substring_for,
            ..
        } => substring(take(inner), substring_from.take(), substring_for.take()),
        Expr::Trim {
            trim_where,
            trim_what,
            expr: inner,
            ..
        } => trim(trim_where.as_ref(), trim_what.take(), take(inner)),
        Expr::Position { expr: needle, r#in } => call("instr", vec![take(r#in), take(needle)]),
        Expr::Ceil { expr: inner, .. } => call("ceil", vec![take(inner)]),
        Expr::Floor { expr: inner, .. } => call("floor", vec![take(inner)]),
        _ => return Ok(None),
    };
    Ok(Some(replacement))
}

/// `MATCH (columns) AGAINST (value modifier)` as a query on the FULLTEXT index's FTS5 table.
fn match_against(
    scope: &Scope,
    columns: &[ObjectName],
    value: &Value,
    modifier: Option<&sqlparser::ast::SearchModifier>,
) -> Result<Expr, TranslateError> {
    let (reference, table) = scope.match_table(columns)?;
    let column_names: Vec<String> = columns.iter().map(names::last_part).collect();
    fulltext::match_expression(&reference, &table, &column_names, value, modifier)
}

/// Moves a boxed expression out, leaving a NULL literal behind.
fn take(expr: &mut Box<Expr>) -> Expr {
    std::mem::replace(expr.as_mut(), Expr::Value(Value::Null.with_empty_span()))
}

/// A call of `name` with plain arguments.
pub(crate) fn call(name: &str, args: Vec<Expr>) -> Expr {
    call_with(Ident::new(name), args)
}

fn call_with(name: Ident, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName::from(vec![name]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: Vec::new(),
        }),
        within_group: Vec::new(),
        filter: None,
        null_treatment: None,
        over: None,
    })
}

/// A string literal.
pub(crate) fn string(text: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(text.to_owned()).with_empty_span())
}

fn number(text: &str) -> Expr {
    Expr::Value(Value::Number(text.to_owned(), false).with_empty_span())
}

/// Wraps `expr` in parentheses unless it already binds tighter than any operator.
pub(crate) fn nested(expr: Expr) -> Expr {
    match expr {
        Expr::Identifier(_)
        | Expr::CompoundIdentifier(_)
        | Expr::Value(_)
        | Expr::Function(_)
        | Expr::Nested(_)
        | Expr::Cast { .. } => expr,
        other => Expr::Nested(Box::new(other)),
    }
}

/// MySQL literal spellings SQLite reads differently.
fn literal(value: &Value) -> Option<Expr> {
    match value {
        Value::DoubleQuotedString(text) | Value::NationalStringLiteral(text) => Some(string(text)),
        Value::Boolean(true) => Some(number("1")),
        Value::Boolean(false) => Some(number("0")),
        Value::SingleQuotedByteStringLiteral(bits) => {
            let parsed = u64::from_str_radix(bits, 2).unwrap_or(0);
            Some(number(&parsed.to_string()))
        }
        _ => None,
    }
}

/// `@@name` system variables become `sysvar('name')` (`sysvar('global.name')` for
/// `@@GLOBAL.name`, which session values do not change); `@name` user variables become
/// `uservar('name')`.
fn variable(parts: &[Ident]) -> Result<Option<Expr>, TranslateError> {
    let Some(first) = parts.first().filter(|p| p.quote_style.is_none()) else {
        return Ok(None);
    };
    if let Some(name) = first.value.strip_prefix("@@") {
        let scoped = ["session", "global", "local"]
            .iter()
            .any(|s| name.eq_ignore_ascii_case(s));
        let global = name.eq_ignore_ascii_case("global");
        let name = match (scoped, parts.get(1)) {
            (true, Some(variable)) => variable.value.as_str(),
            _ => name,
        };
        let name = name.to_ascii_lowercase();
        let name = if global {
            format!("global.{name}")
        } else {
            name
        };
        return Ok(Some(call("sysvar", vec![string(&name)])));
    }
    if let Some(name) = user_variable_name(parts) {
        return Ok(Some(call("uservar", vec![string(&name)])));
    }
    Ok(None)
}

fn compound_identifier(parts: &mut Vec<Ident>) -> Result<Option<Expr>, TranslateError> {
    if let Some(replacement) = variable(parts)? {
        return Ok(Some(replacement));
    }
    // information_schema.TABLES.TABLE_NAME: the table is replaced by a subquery named TABLES.
    if parts.len() == 3 && parts[0].value.eq_ignore_ascii_case(info_schema::SCHEMA) {
        parts.remove(0);
    }
    Ok(None)
}

/// The lowercased name of a user variable `@name` (also `@'quoted name'`, read as parts).
fn user_variable_name(parts: &[Ident]) -> Option<String> {
    let first = parts.first()?;
    let name = first.value.strip_prefix('@')?;
    if name.starts_with('@') || parts.len() > 1 {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// `@name := value` sets the user variable and yields the value: `set_uservar('name', value)`
/// (the value is rewritten as the call's argument).
fn rewrite_assignment(expr: &mut Expr) {
    let Expr::BinaryOp {
        left,
        op: BinaryOperator::Assignment,
        right,
    } = expr
    else {
        return;
    };
    let name = match left.as_ref() {
        Expr::Identifier(ident) => user_variable_name(std::slice::from_ref(ident)),
        _ => None,
    };
    if let Some(name) = name {
        *expr = call("set_uservar", vec![string(&name), take(right)]);
    }
}

fn binary_op(left: &mut Box<Expr>, op: &mut BinaryOperator, right: &mut Box<Expr>) -> Option<Expr> {
    match op {
        // `||` is OR in MySQL's default SQL mode.
        BinaryOperator::StringConcat => {
            *op = BinaryOperator::Or;
            None
        }
        BinaryOperator::Spaceship => Some(Expr::IsNotDistinctFrom(
            Box::new(take(left)),
            Box::new(take(right)),
        )),
        // MySQL's `/` never truncates.
        BinaryOperator::Divide => {
            let left = cast(take(left), &CastTarget::Cast("REAL"));
            Some(binary(left, BinaryOperator::Divide, take(right)))
        }
        BinaryOperator::MyIntegerDivide => {
            let quotient = nested(binary(take(left), BinaryOperator::Divide, take(right)));
            Some(cast(quotient, &CastTarget::Cast("INTEGER")))
        }
        BinaryOperator::Xor => {
            let truth = |e: Expr| nested(binary(nested(e), BinaryOperator::NotEq, number("0")));
            Some(binary(
                truth(take(left)),
                BinaryOperator::NotEq,
                truth(take(right)),
            ))
        }
        _ => None,
    }
}

fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}

/// DATE_ADD(date, INTERVAL n unit) and friends, and `date + INTERVAL n unit`, as calls of the
/// user functions with the amount and unit as separate arguments.
fn rewrite_date_arithmetic(expr: &mut Expr) -> Result<(), TranslateError> {
    let replacement = match expr {
        Expr::Function(function) => match functions::plan(&names::last_part(&function.name)) {
            Plan::DateArithmetic { subtract } => {
                Some(date_function(subtract, plain_args(function)?)?)
            }
            _ => None,
        },
        Expr::BinaryOp {
            left,
            op: op @ (BinaryOperator::Plus | BinaryOperator::Minus),
            right,
        } => date_arithmetic(left, op, right),
        _ => None,
    };
    if let Some(replacement) = replacement {
        *expr = replacement;
    }
    Ok(())
}

/// `date + INTERVAL n unit`, `INTERVAL n unit + date`, `date - INTERVAL n unit`.
fn date_arithmetic(
    left: &mut Box<Expr>,
    op: &BinaryOperator,
    right: &mut Box<Expr>,
) -> Option<Expr> {
    let subtract = *op == BinaryOperator::Minus;
    match (left.as_mut(), right.as_mut()) {
        (date, Expr::Interval(interval)) => {
            let (amount, unit) = interval_parts(interval)?;
            let name = if subtract { "date_sub" } else { "date_add" };
            Some(call(
                name,
                vec![std::mem::replace(date, number("0")), amount, unit],
            ))
        }
        (Expr::Interval(interval), date) if !subtract => {
            let (amount, unit) = interval_parts(interval)?;
            Some(call(
                "date_add",
                vec![std::mem::replace(date, number("0")), amount, unit],
            ))
        }
        _ => None,
    }
}

/// The amount and unit (as a string) of `INTERVAL amount unit`.
fn interval_parts(interval: &mut sqlparser::ast::Interval) -> Option<(Expr, Expr)> {
    let unit = interval.leading_field.as_ref()?.to_string();
    Some((take(&mut interval.value), string(&unit)))
}

fn cast(expr: Expr, target: &CastTarget) -> Expr {
    match target {
        CastTarget::Cast(type_name) => Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(expr),
            data_type: sqlparser::ast::DataType::Custom(
                ObjectName::from(vec![Ident::new(*type_name)]),
                Vec::new(),
            ),
            format: None,
        },
        CastTarget::Rounded(scale) => {
            let real = cast(expr, &CastTarget::Cast("REAL"));
            call("round", vec![real, number(&scale.to_string())])
        }
        CastTarget::DateFunction(name) => call(name, vec![expr]),
        CastTarget::Integer => cast(
            call("mysql_integer", vec![expr]),
            &CastTarget::Cast("INTEGER"),
        ),
        CastTarget::Binary => binary_collation(expr),
    }
}

/// `BINARY x`: compare `x` byte by byte. sqlparser reads `BINARY a = b` as `BINARY (a = b)`
/// while MySQL's BINARY binds tighter, so a comparison gets the collation on its left side.
fn binary_collation(expr: Expr) -> Expr {
    let collate = |expr: Expr| Expr::Collate {
        expr: Box::new(nested(expr)),
        collation: ObjectName::from(vec![Ident::new("BINARY")]),
    };
    match expr {
        Expr::BinaryOp { left, op, right }
            if matches!(
                op,
                BinaryOperator::Eq
                    | BinaryOperator::NotEq
                    | BinaryOperator::Lt
                    | BinaryOperator::LtEq
                    | BinaryOperator::Gt
                    | BinaryOperator::GtEq
            ) =>
        {
            Expr::BinaryOp {
                left: Box::new(collate(*left)),
                op,
                right,
            }
        }
        other => collate(other),
    }
}

fn extract(field: &DateTimeField, expr: Expr) -> Expr {
    let unit = field.to_string().to_ascii_uppercase();
    match unit.as_str() {
        "YEAR" | "MONTH" | "DAY" | "HOUR" | "MINUTE" | "SECOND" | "QUARTER" => {
            call(&unit.to_ascii_lowercase(), vec![expr])
        }
        _ => call("extract", vec![string(&unit), expr]),
    }
}

fn substring(expr: Expr, from: Option<Box<Expr>>, length: Option<Box<Expr>>) -> Expr {
    let mut args = vec![expr, from.map_or_else(|| number("1"), |f| *f)];
    args.extend(length.map(|l| *l));
    call("substr", args)
}

fn trim(side: Option<&TrimWhereField>, what: Option<Box<Expr>>, expr: Expr) -> Expr {
    let name = match side {
        Some(TrimWhereField::Leading) => "ltrim",
        Some(TrimWhereField::Trailing) => "rtrim",
        _ => "trim",
    };
    let mut args = vec![expr];
    args.extend(what.map(|w| *w));
    call(name, args)
}

/// MySQL collation names: binary ones compare bytes, the rest ignore case.
fn sqlite_collation(collation: &ObjectName) -> &'static str {
    let name = names::last_part(collation).to_ascii_lowercase();
    if name == "binary" || name.ends_with("_bin") {
        "BINARY"
    } else {
        "NOCASE"
    }
}

fn function_call(function: &mut Function) -> Result<Option<Expr>, TranslateError> {
    let name = names::last_part(&function.name);
    let plan = functions::plan(&name);
    if plan == Plan::GroupConcat {
        group_concat(function);
        return Ok(None);
    }
    // Date arithmetic was rewritten before the arguments were visited.
    if matches!(plan, Plan::Keep | Plan::DateArithmetic { .. }) {
        return Ok(None);
    }
    let mut args = plain_args(function)?;
    let replacement = match plan {
        Plan::Call(sqlite_name) => call(sqlite_name, args),
        Plan::Left => {
            args.insert(1, number("1"));
            call("substr", args)
        }
        Plan::Right => call_with(Ident::with_quote('"', "right"), args),
        Plan::Locate if args.len() == 2 => {
            args.swap(0, 1);
            call("instr", args)
        }
        Plan::Locate => call("locate", args),
        Plan::Log if args.len() == 1 => call("ln", args),
        Plan::Log => call("log", args),
        Plan::IsNull => match args.pop() {
            Some(arg) if args.is_empty() => Expr::IsNull(Box::new(nested(arg))),
            _ => return Err(TranslateError::syntax(&function.to_string())),
        },
        Plan::UnitFirst(sqlite_name) => {
            if let Some(unit) = args.first_mut() {
                *unit = unit_string(unit);
            }
            call(sqlite_name, args)
        }
        Plan::GroupConcat | Plan::Keep | Plan::DateArithmetic { .. } => return Ok(None),
    };
    Ok(Some(replacement))
}

/// The plain argument expressions of a call; named or wildcard arguments are refused.
fn plain_args(function: &Function) -> Result<Vec<Expr>, TranslateError> {
    let list = match &function.args {
        FunctionArguments::None => return Ok(Vec::new()),
        FunctionArguments::List(list) if list.clauses.is_empty() => list,
        _ => return Err(TranslateError::unsupported(function.to_string())),
    };
    list.args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(expr)) => Ok(expr.clone()),
            _ => Err(TranslateError::unsupported(function.to_string())),
        })
        .collect()
}

/// DATE_ADD(date, INTERVAL n unit) and friends; ADDDATE(date, days).
fn date_function(subtract: bool, mut args: Vec<Expr>) -> Result<Expr, TranslateError> {
    let name = if subtract { "date_sub" } else { "date_add" };
    let (date, interval) = match (args.len(), args.pop()) {
        (2, Some(interval)) => (args.remove(0), interval),
        _ => return Err(TranslateError::syntax(name)),
    };
    let (amount, unit) = match interval {
        Expr::Interval(mut interval) => interval_parts(&mut interval)
            .ok_or_else(|| TranslateError::unsupported("INTERVAL without a unit"))?,
        days => (days, string("DAY")),
    };
    Ok(call(name, vec![date, amount, unit]))
}

/// TIMESTAMPDIFF's unit keyword (parsed as a column name) as a string.
fn unit_string(unit: &Expr) -> Expr {
    match unit {
        Expr::Identifier(ident) => string(&ident.value.to_ascii_uppercase()),
        other => other.clone(),
    }
}

/// `GROUP_CONCAT(x ORDER BY y SEPARATOR s)` becomes `group_concat(x, s ORDER BY y)`; SQLite's
/// default separator is also `,`.
fn group_concat(function: &mut Function) {
    let FunctionArguments::List(list) = &mut function.args else {
        return;
    };
    let mut separator = None;
    list.clauses.retain(|clause| match clause {
        FunctionArgumentClause::Separator(value) => {
            separator = Some(value.clone());
            false
        }
        _ => true,
    });
    if let Some(separator) = separator {
        let separator = Expr::Value(separator);
        list.args
            .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(separator)));
    }
}

/// Parses SQLite-syntax expression text the translator builds.
pub(crate) fn parse_sqlite_expr(sql: &str) -> Result<Expr, TranslateError> {
    Parser::new(&SQLiteDialect {})
        .try_with_sql(sql)
        .and_then(|mut parser| parser.parse_expr())
        .map_err(|_| TranslateError::syntax(sql))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sqlparser::dialect::MySqlDialect;

    fn rewritten(select_list: &str) -> String {
        let sql = format!("SELECT {select_list} FROM t");
        let mut parsed = Parser::parse_sql(&MySqlDialect {}, &sql).unwrap();
        rewrite(&mut parsed[0]).unwrap();
        let text = parsed[0].to_string();
        text.strip_prefix("SELECT ")
            .unwrap()
            .strip_suffix(" FROM t")
            .unwrap()
            .to_owned()
    }

    #[test]
    fn identifiers_and_literals() {
        assert_eq!(rewritten("`a`.`b` AS 'x'"), "\"a\".\"b\" AS \"x\"");
        assert_eq!(
            rewritten("\"text\", TRUE, FALSE, b'101', _utf8mb4'x'"),
            "'text', 1, 0, 5, 'x'"
        );
        assert_eq!(rewritten("DATE '2024-01-02'"), "'2024-01-02'");
    }

    #[test]
    fn system_variables() {
        assert_eq!(rewritten("@@version"), "sysvar('version')");
        assert_eq!(rewritten("@@SESSION.sql_mode"), "sysvar('sql_mode')");
        assert_eq!(
            rewritten("@@global.max_allowed_packet"),
            "sysvar('global.max_allowed_packet')"
        );
    }

    #[test]
    fn operators() {
        assert_eq!(rewritten("a || b"), "a OR b");
        assert_eq!(rewritten("a <=> b"), "a IS NOT DISTINCT FROM b");
        assert_eq!(rewritten("a / b"), "CAST(a AS REAL) / b");
        assert_eq!(rewritten("a DIV b"), "CAST((a / b) AS INTEGER)");
        assert_eq!(rewritten("a XOR b"), "(a <> 0) <> (b <> 0)");
        assert_eq!(
            rewritten("a REGEXP 'x', a NOT RLIKE 'y'"),
            "a REGEXP 'x', a NOT REGEXP 'y'"
        );
        assert_eq!(rewritten("a LIKE 'x\\_%'"), "a LIKE 'x\\_%' ESCAPE '\\'");
        assert_eq!(rewritten("a LIKE 'x' ESCAPE '|'"), "a LIKE 'x' ESCAPE '|'");
    }

    #[test]
    fn dates() {
        assert_eq!(
            rewritten("DATE_ADD(NOW(), INTERVAL 1 DAY)"),
            "date_add(now(), 1, 'DAY')"
        );
        assert_eq!(
            rewritten("DATE_SUB(d, INTERVAL ? HOUR)"),
            "date_sub(d, ?, 'HOUR')"
        );
        assert_eq!(rewritten("d - INTERVAL 2 MONTH"), "date_sub(d, 2, 'MONTH')");
        assert_eq!(
            rewritten("INTERVAL 3 SECOND + d"),
            "date_add(d, 3, 'SECOND')"
        );
        assert_eq!(rewritten("ADDDATE(d, 3)"), "date_add(d, 3, 'DAY')");
        assert_eq!(
            rewritten("CURRENT_TIMESTAMP, CURDATE()"),
            "now(), curdate()"
        );
        assert_eq!(rewritten("EXTRACT(YEAR FROM d)"), "year(d)");
        assert_eq!(
            rewritten("TIMESTAMPDIFF(second, a, b)"),
            "timestampdiff('SECOND', a, b)"
        );
    }

    #[test]
    fn functions_and_casts() {
        assert_eq!(
            rewritten("IFNULL(a, 1), LENGTH(a), CHAR_LENGTH(a)"),
            "ifnull(a, 1), octet_length(a), length(a)"
        );
        assert_eq!(
            rewritten("LEFT(a, 2), RIGHT(a, 2)"),
            "substr(a, 1, 2), \"right\"(a, 2)"
        );
        assert_eq!(rewritten("LOCATE('x', a)"), "instr(a, 'x')");
        assert_eq!(
            rewritten("IF(a, 1, 2), CONCAT(a, b)"),
            "iif(a, 1, 2), concat(a, b)"
        );
        assert_eq!(rewritten("SUBSTRING(a FROM 2 FOR 3)"), "substr(a, 2, 3)");
        assert_eq!(rewritten("TRIM(LEADING 'x' FROM a)"), "ltrim(a, 'x')");
        assert_eq!(rewritten("POSITION('a' IN b)"), "instr(b, 'a')");
        assert_eq!(
            rewritten("CAST(a AS SIGNED), CAST(a AS CHAR)"),
            "CAST(mysql_integer(a) AS INTEGER), CAST(a AS TEXT)"
        );
        assert_eq!(
            rewritten("CAST(a AS DECIMAL(10,2))"),
            "round(CAST(a AS REAL), 2)"
        );
        assert_eq!(
            rewritten("CAST(a AS DATETIME), BINARY a"),
            "datetime(a), a COLLATE BINARY"
        );
        assert_eq!(rewritten("BINARY a = 'X'"), "a COLLATE BINARY = 'X'");
        assert_eq!(
            rewritten("CONVERT(a USING utf8mb4), CONVERT(a, UNSIGNED)"),
            "a, CAST(mysql_integer(a) AS INTEGER)"
        );
        assert_eq!(rewritten("ISNULL(a + 1)"), "(a + 1) IS NULL");
        assert_eq!(
            rewritten("a COLLATE utf8mb4_bin, b COLLATE utf8mb4_unicode_ci"),
            "a COLLATE BINARY, b COLLATE NOCASE"
        );
        assert_eq!(
            rewritten("GROUP_CONCAT(DISTINCT a ORDER BY b SEPARATOR ';')"),
            "GROUP_CONCAT(DISTINCT a, ';' ORDER BY b)"
        );
        assert_eq!(
            rewritten("json_extract(a, '$.b')"),
            "json_extract(a, '$.b')"
        );
    }

    #[test]
    fn user_variables() {
        assert_eq!(rewritten("@Total"), "uservar('total')");
        assert_eq!(
            rewritten("@n := @n + 1"),
            "set_uservar('n', uservar('n') + 1)"
        );
    }
}
