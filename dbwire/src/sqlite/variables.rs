//! The MySQL system variables this server reports, for `SHOW VARIABLES` and `SELECT @@name`.
//!
//! Values describe what the SQLite backend actually does (UTF-8 text, case-insensitive
//! comparison, UTC clock, permissive SQL mode), worded the way MySQL 8.0 words them so that
//! applications probing the server (WordPress, Laravel, phpMyAdmin) take their MySQL paths.
//! `SET` of a variable is accepted by the translator and has no effect.

/// The server version reported by `VERSION()` and `@@version`: the handshake's, a MySQL 8.0
/// number (WordPress reads it to decide on utf8mb4 and on integer display widths).
pub use crate::protocol::constants::SERVER_VERSION;

/// A variable's value. `ON`/`OFF` variables read as 1/0 through `@@name`, as in MySQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableValue {
    /// A text value.
    Text(String),
    /// A numeric value.
    Int(i64),
    /// An `ON`/`OFF` switch.
    Switch(bool),
}

impl VariableValue {
    /// The value as `SHOW VARIABLES` prints it.
    pub fn display(&self) -> String {
        match self {
            VariableValue::Text(text) => text.clone(),
            VariableValue::Int(number) => number.to_string(),
            VariableValue::Switch(true) => "ON".to_owned(),
            VariableValue::Switch(false) => "OFF".to_owned(),
        }
    }
}

/// The per-session facts some variables report.
#[derive(Debug, Clone, Copy)]
pub struct SessionFacts<'a> {
    /// Autocommit mode.
    pub autocommit: bool,
    /// A transaction is open (`@@in_transaction`).
    pub in_transaction: bool,
    /// The data directory, reported as `datadir`.
    pub data_dir: &'a str,
}

/// Variables with fixed values, sorted by name.
const FIXED: &[(&str, Fixed)] = &[
    ("auto_increment_increment", Fixed::Int(1)),
    ("auto_increment_offset", Fixed::Int(1)),
    ("character_set_client", Fixed::Text("utf8mb4")),
    ("character_set_connection", Fixed::Text("utf8mb4")),
    ("character_set_database", Fixed::Text("utf8mb4")),
    ("character_set_filesystem", Fixed::Text("binary")),
    ("character_set_results", Fixed::Text("utf8mb4")),
    ("character_set_server", Fixed::Text("utf8mb4")),
    ("character_set_system", Fixed::Text("utf8mb3")),
    ("collation_connection", Fixed::Text("utf8mb4_general_ci")),
    ("collation_database", Fixed::Text("utf8mb4_general_ci")),
    ("collation_server", Fixed::Text("utf8mb4_general_ci")),
    ("default_storage_engine", Fixed::Text("InnoDB")),
    ("default_week_format", Fixed::Int(0)),
    ("div_precision_increment", Fixed::Int(4)),
    ("foreign_key_checks", Fixed::Switch(false)),
    ("group_concat_max_len", Fixed::Int(1024)),
    ("have_ssl", Fixed::Text("DISABLED")),
    ("hostname", Fixed::Text("localhost")),
    ("init_connect", Fixed::Text("")),
    ("innodb_large_prefix", Fixed::Switch(true)),
    ("interactive_timeout", Fixed::Int(28800)),
    ("license", Fixed::Text("MIT OR Apache-2.0")),
    ("lower_case_table_names", Fixed::Int(0)),
    ("max_allowed_packet", Fixed::Int(67_108_864)),
    ("max_connections", Fixed::Int(151)),
    ("net_buffer_length", Fixed::Int(16384)),
    ("net_read_timeout", Fixed::Int(30)),
    ("net_write_timeout", Fixed::Int(60)),
    ("performance_schema", Fixed::Switch(false)),
    ("port", Fixed::Int(3306)),
    ("protocol_version", Fixed::Int(10)),
    ("query_cache_size", Fixed::Int(0)),
    ("query_cache_type", Fixed::Switch(false)),
    ("sql_auto_is_null", Fixed::Switch(false)),
    ("sql_mode", Fixed::Text("NO_ENGINE_SUBSTITUTION")),
    ("sql_safe_updates", Fixed::Switch(false)),
    ("sql_select_limit", Fixed::Int(i64::MAX)),
    ("storage_engine", Fixed::Text("InnoDB")),
    ("system_time_zone", Fixed::Text("UTC")),
    ("time_zone", Fixed::Text("+00:00")),
    ("transaction_isolation", Fixed::Text("SERIALIZABLE")),
    ("transaction_read_only", Fixed::Switch(false)),
    ("tx_isolation", Fixed::Text("SERIALIZABLE")),
    ("tx_read_only", Fixed::Switch(false)),
    ("version_comment", Fixed::Text("ePHPm embedded SQLite")),
    (
        "version_compile_machine",
        Fixed::Text(std::env::consts::ARCH),
    ),
    ("version_compile_os", Fixed::Text(std::env::consts::OS)),
    ("wait_timeout", Fixed::Int(28800)),
];

/// A fixed value (the `const` form of [`VariableValue`]).
#[derive(Debug, Clone, Copy)]
enum Fixed {
    Text(&'static str),
    Int(i64),
    Switch(bool),
}

/// MariaDB 10.11's global variables as `SHOW GLOBAL VARIABLES` printed them on a fresh Debian
/// 12 server (`name<TAB>value`, sorted), without the ones naming that machine (paths, host
/// name, versions, ports): the value of every variable this server does not set itself, so that
/// apps reading e.g. `@@GLOBAL.read_only` get MariaDB's default instead of an error.
const MARIADB_DEFAULTS: &str = include_str!("mariadb_defaults.tsv");

/// The MariaDB defaults, typed as `@@name` returns them: `ON`/`OFF` as switches, integers as
/// integers, the rest as text.
fn mariadb_defaults() -> impl Iterator<Item = (&'static str, VariableValue)> {
    MARIADB_DEFAULTS
        .lines()
        .filter_map(|line| line.split_once('\t'))
        .map(|(name, value)| (name, typed(value)))
}

fn typed(value: &str) -> VariableValue {
    match value {
        "ON" => VariableValue::Switch(true),
        "OFF" => VariableValue::Switch(false),
        _ => value.parse::<i64>().map_or_else(
            |_| VariableValue::Text(value.to_owned()),
            VariableValue::Int,
        ),
    }
}

/// Every variable with its value, sorted by name: this server's own, then MariaDB's defaults
/// for the rest.
pub fn all(facts: SessionFacts<'_>) -> Vec<(String, VariableValue)> {
    let mut variables = own(facts);
    let defaults: Vec<(String, VariableValue)> = mariadb_defaults()
        .filter(|(name, _)| {
            variables
                .binary_search_by(|(own, _)| own.as_str().cmp(name))
                .is_err()
        })
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    variables.extend(defaults);
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    variables
}

/// The variables this server sets itself, sorted by name.
fn own(facts: SessionFacts<'_>) -> Vec<(String, VariableValue)> {
    let mut variables: Vec<(String, VariableValue)> = FIXED
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.to_value()))
        .chain(
            DYNAMIC
                .iter()
                .map(|name| ((*name).to_owned(), dynamic(name, facts))),
        )
        .collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    variables
}

/// Variables whose value comes from the session or the build.
const DYNAMIC: [&str; 4] = ["autocommit", "datadir", "in_transaction", "version"];

/// The value of one of [`DYNAMIC`].
fn dynamic(name: &str, facts: SessionFacts<'_>) -> VariableValue {
    match name {
        "autocommit" => VariableValue::Switch(facts.autocommit),
        "in_transaction" => VariableValue::Int(i64::from(facts.in_transaction)),
        "datadir" => VariableValue::Text(facts.data_dir.to_owned()),
        _ => VariableValue::Text(SERVER_VERSION.to_owned()),
    }
}

impl Fixed {
    fn to_value(self) -> VariableValue {
        match self {
            Fixed::Text(text) => VariableValue::Text(text.to_owned()),
            Fixed::Int(number) => VariableValue::Int(number),
            Fixed::Switch(on) => VariableValue::Switch(on),
        }
    }
}

/// The value of `@@name`, where `name` may carry a `session.`, `global.` or `local.` scope;
/// `None` for variables this server does not know.
pub fn lookup(name: &str, facts: SessionFacts<'_>) -> Option<VariableValue> {
    let lowered = name.trim().trim_start_matches('@').to_ascii_lowercase();
    let bare = ["session.", "global.", "local."]
        .iter()
        .find_map(|scope| lowered.strip_prefix(scope))
        .unwrap_or(&lowered);
    // One variable, without building the whole table (apps read some on every request).
    let own = if DYNAMIC.contains(&bare) {
        Some(dynamic(bare, facts))
    } else {
        FIXED
            .binary_search_by(|(name, _)| (*name).cmp(bare))
            .ok()
            .map(|index| FIXED[index].1.to_value())
    };
    own.or_else(|| {
        mariadb_defaults()
            .find(|(candidate, _)| *candidate == bare)
            .map(|(_, value)| value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FACTS: SessionFacts<'static> = SessionFacts {
        autocommit: true,
        in_transaction: false,
        data_dir: "/data",
    };

    #[test]
    fn looks_up_with_and_without_scope() {
        assert_eq!(
            lookup("version", FACTS),
            Some(VariableValue::Text(SERVER_VERSION.to_owned()))
        );
        assert_eq!(lookup("SESSION.sql_mode", FACTS), lookup("sql_mode", FACTS));
        assert_eq!(
            lookup("@@global.autocommit", FACTS),
            Some(VariableValue::Switch(true))
        );
        assert_eq!(lookup("no_such_thing", FACTS), None);
    }

    #[test]
    fn mariadb_variables_answer_with_their_defaults() {
        assert_eq!(
            lookup("@@GLOBAL.read_only", FACTS),
            Some(VariableValue::Switch(false))
        );
        assert_eq!(
            lookup("innodb_buffer_pool_size", FACTS),
            Some(VariableValue::Int(134_217_728))
        );
        // This server's own values win over MariaDB's defaults.
        assert_eq!(
            lookup("sql_mode", FACTS),
            Some(VariableValue::Text("NO_ENGINE_SUBSTITUTION".to_owned()))
        );
        assert!(all(FACTS).len() > 600);
    }

    #[test]
    fn fixed_variables_are_sorted_for_binary_search() {
        assert!(FIXED.windows(2).all(|pair| pair[0].0 < pair[1].0));
    }

    #[test]
    fn names_are_sorted_and_unique() {
        let names: Vec<String> = all(FACTS).into_iter().map(|(name, _)| name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn switches_display_as_on_off() {
        assert_eq!(VariableValue::Switch(true).display(), "ON");
        assert_eq!(VariableValue::Int(4).display(), "4");
    }
}
