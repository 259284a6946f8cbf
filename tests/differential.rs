//! Differential tests of the built-in database: the same PHP client scenarios (PDO and
//! mysqli, text and prepared; tests/fixtures/differential/index.php) run against MariaDB
//! directly, through ePHPm's proxy to that MariaDB, and against ePHPm's SQLite mode, and what
//! the clients saw is compared: values with their types, column metadata, affected rows,
//! warnings and errors.
//!
//! Through the proxy every answer must equal MariaDB's but for the gaps in [`PROXY_GAPS`]. On
//! SQLite, the differences are listed in [`SQLITE_DIFFERENCES`] with the reason, and nowhere
//! else. A listed difference that disappears fails the test too, so the lists stay true.

mod common;

use serde_json::Value;

use common::mariadb::{MariaDbPair, Node, MARIADB_PASSWORD, MARIADB_USER};
use common::{fixture, Server, ServerOptions};

/// How much of a scenario's answer may differ from MariaDB's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Aspect {
    /// Column metadata (types, lengths, flags) only: values, counts and errors must agree.
    Metadata,
    /// The whole answer.
    Answer,
}

/// Where ePHPm's proxy is not yet indistinguishable from MariaDB, and why (issue 16).
const PROXY_GAPS: &[(&str, Aspect, &str)] = &[];

/// Where SQLite mode answers differently from MariaDB, and why: the one list of them. An entry
/// that starts to agree must be taken off.
const SQLITE_DIFFERENCES: &[(&str, Aspect, &str)] = &[
    ("variables", Aspect::Metadata, EXPRESSION_METADATA),
    (
        "multi_statements_pdo",
        Aspect::Metadata,
        EXPRESSION_METADATA,
    ),
    ("compressed_protocol", Aspect::Metadata, EXPRESSION_METADATA),
    ("types_text_mysqli", Aspect::Metadata, TABLE_METADATA),
    ("types_prepared_mysqli", Aspect::Metadata, TABLE_METADATA),
    ("types_text_pdo", Aspect::Metadata, TABLE_METADATA),
    ("types_prepared_pdo", Aspect::Metadata, TABLE_METADATA),
    (
        "typed_parameters",
        Aspect::Metadata,
        "HEX(blob) is a VARCHAR, not a MEDIUMBLOB",
    ),
    ("warnings", Aspect::Metadata, EXPRESSION_METADATA),
    ("kill_query", Aspect::Metadata, EXPRESSION_METADATA),
    ("long_data", Aspect::Metadata, EXPRESSION_METADATA),
    (
        "multi_statements_mysqli",
        Aspect::Metadata,
        EXPRESSION_METADATA,
    ),
    ("affected_rows_and_info", Aspect::Answer, UPSERT_INSERT_ID),
    ("errors", Aspect::Answer, ERROR_WORDING),
    (
        "read_only_transaction",
        Aspect::Metadata,
        EXPRESSION_METADATA,
    ),
    ("change_user", Aspect::Metadata, EXPRESSION_METADATA),
    (
        "no_backslash_escapes",
        Aspect::Metadata,
        EXPRESSION_METADATA,
    ),
    (
        "call_procedure",
        Aspect::Answer,
        "SQLite has no stored procedures",
    ),
    (
        "strict_mode",
        Aspect::Answer,
        "strict mode is not enforced: a value too long for its \
        VARCHAR (1406), out of range (1264), not a number (1366) or not a date (1292) is \
        stored instead of refused",
    ),
    (
        "casts",
        Aspect::Answer,
        "expressions compute in SQLite's floating point and are typed by \
        value: a DECIMAL result loses its scale ('1.50' reads '1.5', 10 / 4 reads '2.5'), \
        0.1 + 0.2 is not exact, CAST(-1 AS UNSIGNED) stays -1",
    ),
    (
        "client_charsets",
        Aspect::Answer,
        "statements are converted to UTF-8 as they arrive, \
        so a binary (VARBINARY/BLOB) column given a literal stores its UTF-8 bytes, not the \
        client's",
    ),
    ("multi_statements_refused", Aspect::Answer, NAMES_MYSQL),
    (
        "load_data_local",
        Aspect::Answer,
        "SQLite mode reads no files: LOAD DATA gets ERROR 1148",
    ),
    (
        "server_version",
        Aspect::Answer,
        "SQLite mode announces itself: 8.0.35-ePHPm",
    ),
];

/// Why syntax errors differ in SQLite mode.
const NAMES_MYSQL: &str = "syntax errors name 'your MySQL server version': SQLite mode \
    announces itself as MySQL 8.0.35-ePHPm, not MariaDB";
/// Why expression columns' metadata differs in SQLite mode.
const EXPRESSION_METADATA: &str = "expression columns: lengths and flags are not MariaDB's";
/// Why table columns' metadata differs in SQLite mode.
const TABLE_METADATA: &str = "an AUTO_INCREMENT key is SQLite's INTEGER rowid (reported as \
    BIGINT UNSIGNED); the NO_DEFAULT_VALUE, PART_KEY and UNIQUE_KEY flags are not kept";
/// Why an upsert's insert id differs in SQLite mode.
const UPSERT_INSERT_ID: &str = "an INSERT ... ON DUPLICATE KEY UPDATE that updates reports no \
    insert id (MariaDB reports the AUTO_INCREMENT value it reserved)";
/// Why some error messages differ in SQLite mode.
const ERROR_WORDING: &str = "a duplicate key's value is not named; 1054 says 'field list' \
    where MariaDB 10.11 says 'SELECT'";

/// The answer without column metadata.
fn without_metadata(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(key, _)| key.as_str() != "columns")
                .map(|(key, value)| (key.clone(), without_metadata(value)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_metadata).collect()),
        other => other.clone(),
    }
}

/// Checks `actual` against MariaDB's `expected` answer of scenario `name`, allowing what
/// `allowed` lists; describes each disagreement in `failures`.
fn compare(
    target: &str,
    name: &str,
    expected: &Value,
    actual: Option<&Value>,
    allowed: &[(&str, Aspect, &str)],
    failures: &mut Vec<String>,
) {
    let listed = allowed
        .iter()
        .find(|(listed, _, _)| *listed == name)
        .map(|(_, aspect, _)| *aspect);
    let same = actual == Some(expected);
    let same_values = actual.map(without_metadata) == Some(without_metadata(expected));
    let fine = match listed {
        None => same,
        Some(Aspect::Metadata) => same_values && !same,
        Some(Aspect::Answer) => !same_values,
    };
    if fine {
        return;
    }
    let verdict = match listed {
        None => "differs from MariaDB",
        Some(Aspect::Metadata) if same => "now agrees with MariaDB: take it off the list",
        Some(Aspect::Metadata) => "differs beyond the column metadata listed",
        Some(Aspect::Answer) => "now agrees but for metadata: list it as Aspect::Metadata",
    };
    failures.push(format!(
        "{name}: {target} {verdict}\n--- MariaDB\n{}\n--- {target}\n{}",
        pretty(Some(expected)),
        pretty(actual)
    ));
}

/// What the scenarios answered on the MySQL server at `port` (with `credentials` appended to
/// the query string, or the server's injected DB_* environment without).
fn answers(server: &Server, query: &str) -> serde_json::Map<String, Value> {
    let response = common::curl_unchecked(&[&server.url(&format!("/index.php?{query}"))]);
    assert_eq!(
        response.status,
        200,
        "the harness failed: {}\n{}",
        response.text(),
        server.log()
    );
    let text = response.text();
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(answers)) => answers,
        _ => panic!("the harness did not answer JSON:\n{text}"),
    }
}

fn pretty(value: Option<&Value>) -> String {
    value.map_or_else(
        || "(missing)".to_owned(),
        |value| serde_json::to_string_pretty(value).unwrap_or_default(),
    )
}

#[test]
fn proxy_and_sqlite_answer_like_mariadb() {
    let pair = MariaDbPair::start(None);
    let proxy = Server::start(
        ServerOptions::default()
            .docroot_source(&fixture("differential"))
            .env("EPHPM_DB__MYSQL__URL", &pair.primary_url("app")),
    );
    let sqlite = Server::start(ServerOptions::default().docroot_source(&fixture("differential")));

    let credentials = format!("db=app&user={MARIADB_USER}&password={MARIADB_PASSWORD}");
    let direct = answers(
        &proxy,
        &format!("port={}&{credentials}", pair.port(Node::Primary)),
    );
    let proxied = answers(&proxy, &format!("port={}&{credentials}", proxy.db_port()));
    let embedded = answers(&sqlite, "");
    assert!(direct.len() >= 15, "scenarios ran: {:?}", direct.keys());

    let mut failures = Vec::new();
    for (name, expected) in &direct {
        if let Some(exception) = expected.get("exception") {
            failures.push(format!("{name}: MariaDB itself threw {exception}"));
        }
        let (proxied, embedded) = (proxied.get(name), embedded.get(name));
        compare("proxy", name, expected, proxied, PROXY_GAPS, &mut failures);
        compare(
            "SQLite",
            name,
            expected,
            embedded,
            SQLITE_DIFFERENCES,
            &mut failures,
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
