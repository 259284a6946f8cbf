//! Shorthand for tests that drive servers with `dbwire::client`: statements that must succeed
//! or fail, prepared statements, and result-set accessors.

#![allow(dead_code)]

use dbwire::client::{Connection, ServerStatement};
use dbwire::{Column, DbError, QueryResult, Value};

/// A text value.
pub fn bytes(text: &str) -> Value {
    Value::Bytes(text.as_bytes().to_vec())
}

/// The single result of `sql`, which must succeed.
pub fn query_one(connection: &mut Connection, sql: &str) -> QueryResult {
    let mut results = connection.query(sql).unwrap();
    assert_eq!(results.len(), 1, "{sql}: {results:?}");
    results
        .remove(0)
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// The columns and rows of a result set.
pub fn result_set(result: QueryResult) -> (Vec<Column>, Vec<Vec<Value>>) {
    match result {
        QueryResult::Rows { columns, rows } => (columns, rows),
        other => panic!("expected rows, got {other:?}"),
    }
}

/// The rows of a result set.
pub fn rows(result: QueryResult) -> Vec<Vec<Value>> {
    result_set(result).1
}

/// The rows `sql` returns.
pub fn query_rows(connection: &mut Connection, sql: &str) -> Vec<Vec<Value>> {
    rows(query_one(connection, sql))
}

/// The SQL error `sql` fails with (the last result).
pub fn query_error(connection: &mut Connection, sql: &str) -> DbError {
    match connection.query(sql).unwrap().pop() {
        Some(Err(error)) => error,
        other => panic!("{sql}: expected an error, got {other:?}"),
    }
}

/// Prepares `sql`, which must succeed.
pub fn prepare(connection: &mut Connection, sql: &str) -> ServerStatement {
    connection
        .prepare(sql)
        .unwrap()
        .unwrap_or_else(|error| panic!("{sql}: {error}"))
}

/// Executes `statement` with `params`, which must succeed.
pub fn execute(
    connection: &mut Connection,
    statement: &ServerStatement,
    params: &[Value],
) -> QueryResult {
    connection
        .execute(statement, params)
        .unwrap()
        .unwrap_or_else(|error| panic!("execute: {error}"))
}
