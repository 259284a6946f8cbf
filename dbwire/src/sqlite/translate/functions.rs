//! Which SQLite function a MySQL function call becomes.
//!
//! Functions SQLite has with MySQL's meaning are renamed to the built-in; the rest keep their
//! MySQL name (lowercased) and are user functions the backend registers ([`USER_FUNCTIONS`]).
//! Calls needing more than a rename (argument reordering, `INTERVAL` units, `SEPARATOR`) are
//! planned here and carried out by the expression rewriter.

/// User functions translated SQL calls, by name (SQLite names are case-insensitive). The
/// backend registers them on every connection with MySQL semantics. Beyond the plain MySQL
/// functions of the same name:
///
/// - `date_add(date, amount, unit)`, `date_sub(...)`: `INTERVAL amount unit` as two
///   arguments, `unit` a string such as `'DAY'` or `'HOUR_MINUTE'` (ADDDATE/SUBDATE too).
/// - `timestampdiff(unit, a, b)`, `timestampadd(unit, n, date)`, `extract(unit, date)`:
///   the unit as a string.
/// - `"right"(s, n)`: quoted in SQL because RIGHT is a keyword in SQLite.
/// - `sysvar(name)`: a system variable (`@@version`, `@@session.sql_mode` give `'version'`,
///   `'sql_mode'`; lowercased, scope dropped).
/// - `current_user()`: USER(), CURRENT_USER, SESSION_USER(), SYSTEM_USER().
/// - `fts_query(query, boolean_mode)`: a MySQL full-text query as an FTS5 query; register
///   [`super::fts_query`].
/// - `mysql_column_type(declared, auto_increment)`, `mysql_data_type(declared,
///   auto_increment)`, `mysql_column_default(sqlite_default)`: the MySQL views of a column
///   used by the emulated `information_schema.COLUMNS` (MySQL's `COLUMN_TYPE` such as
///   `bigint(20) unsigned`, `DATA_TYPE` such as `bigint`, and `COLUMN_DEFAULT` unquoted).
///
/// NOW(), CURDATE() and CURTIME() are UTC; UTC_TIMESTAMP() and friends become them. The math
/// functions (CEIL, FLOOR, POW, LN, ...) are listed because SQLite only has them when compiled
/// with SQLITE_ENABLE_MATH_FUNCTIONS, which the bundled build is not.
pub const USER_FUNCTIONS: &[&str] = &[
    // Strings.
    "concat",
    "concat_ws",
    "right",
    "substring_index",
    "find_in_set",
    "field",
    "locate",
    "lpad",
    "rpad",
    "repeat",
    "reverse",
    "space",
    "format",
    "regexp",
    "md5",
    "sha1",
    "sha2",
    "uuid",
    // Comparison and numbers (the bundled SQLite has no math functions).
    "greatest",
    "least",
    "rand",
    "truncate",
    "ceil",
    "floor",
    "mod",
    "pow",
    "sqrt",
    "exp",
    "ln",
    "log",
    "log2",
    "log10",
    "pi",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "atan2",
    "cot",
    "degrees",
    "radians",
    // Dates and times.
    "now",
    "curdate",
    "curtime",
    "unix_timestamp",
    "from_unixtime",
    "date_add",
    "date_sub",
    "date_format",
    "str_to_date",
    "year",
    "month",
    "day",
    "dayofmonth",
    "hour",
    "minute",
    "second",
    "weekday",
    "dayofweek",
    "dayofyear",
    "dayname",
    "monthname",
    "quarter",
    "week",
    "yearweek",
    "last_day",
    "datediff",
    "timestampdiff",
    "timestampadd",
    "to_days",
    "extract",
    // Session and server.
    "database",
    "version",
    "current_user",
    "connection_id",
    "found_rows",
    "last_insert_id",
    "row_count",
    "sysvar",
    "mysql_integer",
    "sleep",
    "uservar",
    "set_uservar",
    "get_lock",
    "release_lock",
    "is_free_lock",
    // Schema emulation.
    "fts_query",
    "mysql_column_type",
    "mysql_data_type",
    "mysql_column_default",
];

/// How to translate one MySQL function call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Call this function with the arguments unchanged.
    Call(&'static str),
    /// `LEFT(s, n)`: `substr(s, 1, n)`.
    Left,
    /// `RIGHT(s, n)`: the user function, with its name quoted.
    Right,
    /// `LOCATE(needle, haystack)`: `instr(haystack, needle)` (three arguments: user `locate`).
    Locate,
    /// `LOG(x)` is the natural logarithm in MySQL; `LOG(b, x)` matches SQLite.
    Log,
    /// `ISNULL(x)`: `x IS NULL`.
    IsNull,
    /// `GROUP_CONCAT(... SEPARATOR s)`: SQLite's `group_concat(x, s)`.
    GroupConcat,
    /// DATE_ADD/ADDDATE (`subtract` false) or DATE_SUB/SUBDATE: `INTERVAL n unit` as two
    /// arguments; a bare number of days gets the unit `'DAY'`.
    DateArithmetic {
        /// DATE_SUB/SUBDATE.
        subtract: bool,
    },
    /// TIMESTAMPDIFF/TIMESTAMPADD: the leading unit keyword becomes a string.
    UnitFirst(&'static str),
    /// Not a known MySQL-only function: left as written (SQLite built-in or user function).
    Keep,
}

/// The plan for a call of `name` (any case).
pub(crate) fn plan(name: &str) -> Plan {
    let upper = name.to_ascii_uppercase();
    if let Some(plan) = special(&upper) {
        return plan;
    }
    if let Some(native) = native(&upper) {
        return Plan::Call(native);
    }
    user(&upper).map_or(Plan::Keep, Plan::Call)
}

fn special(upper: &str) -> Option<Plan> {
    let plan = match upper {
        "LEFT" => Plan::Left,
        "RIGHT" => Plan::Right,
        "LOCATE" => Plan::Locate,
        "LOG" => Plan::Log,
        "ISNULL" => Plan::IsNull,
        "GROUP_CONCAT" => Plan::GroupConcat,
        "DATE_ADD" | "ADDDATE" => Plan::DateArithmetic { subtract: false },
        "DATE_SUB" | "SUBDATE" => Plan::DateArithmetic { subtract: true },
        "TIMESTAMPDIFF" => Plan::UnitFirst("timestampdiff"),
        "TIMESTAMPADD" => Plan::UnitFirst("timestampadd"),
        _ => return None,
    };
    Some(plan)
}

/// SQLite built-ins that behave like the MySQL function.
fn native(upper: &str) -> Option<&'static str> {
    let name = match upper {
        "IFNULL" => "ifnull",
        "NULLIF" => "nullif",
        "COALESCE" => "coalesce",
        "LENGTH" | "OCTET_LENGTH" => "octet_length",
        "CHAR_LENGTH" | "CHARACTER_LENGTH" => "length",
        "SUBSTRING" | "SUBSTR" | "MID" => "substr",
        "LCASE" | "LOWER" => "lower",
        "UCASE" | "UPPER" => "upper",
        "IF" => "iif",
        "CEIL" | "CEILING" => "ceil",
        "POW" | "POWER" => "pow",
        "ASCII" | "ORD" => "unicode",
        _ => return None,
    };
    Some(name)
}

/// MySQL functions provided as user functions, some under a shared name.
fn user(upper: &str) -> Option<&'static str> {
    let name = match upper {
        "NOW" | "SYSDATE" | "CURRENT_TIMESTAMP" | "LOCALTIME" | "LOCALTIMESTAMP"
        | "UTC_TIMESTAMP" => "now",
        "CURDATE" | "CURRENT_DATE" | "UTC_DATE" => "curdate",
        "CURTIME" | "CURRENT_TIME" | "UTC_TIME" => "curtime",
        "DATABASE" | "SCHEMA" => "database",
        "USER" | "CURRENT_USER" | "SESSION_USER" | "SYSTEM_USER" => "current_user",
        "SHA" => "sha1",
        _ => {
            return USER_FUNCTIONS
                .iter()
                .find(|f| f.eq_ignore_ascii_case(upper))
                .copied()
        }
    };
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        assert_eq!(plan("ifnull"), Plan::Call("ifnull"));
        assert_eq!(plan("Length"), Plan::Call("octet_length"));
        assert_eq!(plan("CHAR_LENGTH"), Plan::Call("length"));
        assert_eq!(plan("NOW"), Plan::Call("now"));
        assert_eq!(plan("current_timestamp"), Plan::Call("now"));
        assert_eq!(plan("DATE_FORMAT"), Plan::Call("date_format"));
        assert_eq!(plan("ADDDATE"), Plan::DateArithmetic { subtract: false });
        assert_eq!(plan("json_extract"), Plan::Keep);
        assert_eq!(plan("count"), Plan::Keep);
    }

    #[test]
    fn user_function_names_are_lowercase_and_unique() {
        for (index, name) in USER_FUNCTIONS.iter().enumerate() {
            assert_eq!(*name, name.to_lowercase());
            assert!(
                !USER_FUNCTIONS[..index].contains(name),
                "{name} listed twice"
            );
        }
    }
}
