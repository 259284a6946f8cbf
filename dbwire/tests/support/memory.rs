//! A tiny in-memory backend with canned queries, for driving the protocol layer.
//!
//! Users: `root` with an empty password, `app` with password `secret`. Databases: `test`,
//! `shop`. Statements (case-insensitive, `;` separates several in one query):
//! `SELECT 1`, `SELECT 2`, `SELECT * FROM typed`, `SELECT * FROM missing` (ERR 1146),
//! `SELECT big` (a 20 MiB blob), `SELECT DATABASE()`, `BEGIN`, `COMMIT`, `ROLLBACK`,
//! `SET autocommit=0|1`, other `SET ...`, `USE db`, `INSERT INTO t VALUES (1)`,
//! `UPDATE t SET x = 1`, `DELETE FROM kv`, `SELECT * FROM kv`, `PANIC`; prepared:
//! `SELECT ?, ...` (echoes its parameters), `INSERT INTO kv VALUES (?, ?)`,
//! `SELECT v FROM kv WHERE k = ?`, and any of the above without parameters.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dbwire::backend::{charsets, column_flags};
use dbwire::{
    auth, AuthResponse, Backend, Column, ColumnType, DbError, PreparedStatement, QueryResult,
    Session, Value,
};

/// Size of the blob `SELECT big` returns.
pub const BIG_LEN: usize = 20 * 1024 * 1024;

/// The byte at `index` of the `SELECT big` blob.
pub fn big_byte(index: usize) -> u8 {
    (index % 251) as u8
}

type Store = Arc<Mutex<Vec<Vec<Value>>>>;

/// The backend: fixed users and databases, one shared key/value table.
pub struct MemoryBackend {
    users: HashMap<String, String>,
    databases: Vec<String>,
    kv: Store,
}

impl MemoryBackend {
    /// `root` (no password) and `app` (`secret`); databases `test` and `shop`.
    pub fn new() -> MemoryBackend {
        let users = [("root", ""), ("app", "secret")];
        MemoryBackend {
            users: users
                .iter()
                .map(|(u, p)| (u.to_string(), p.to_string()))
                .collect(),
            databases: vec!["test".into(), "shop".into()],
            kv: Store::default(),
        }
    }

    fn check_database(&self, name: &str) -> Result<(), DbError> {
        if self.databases.iter().any(|db| db == name) {
            Ok(())
        } else {
            Err(DbError::new(
                1049,
                "42000",
                format!("Unknown database '{name}'"),
            ))
        }
    }
}

impl Backend for MemoryBackend {
    type Session = MemorySession;

    fn authenticate(&self, user: &str, response: AuthResponse<'_>) -> bool {
        self.users
            .get(user)
            .is_some_and(|password| auth::password_matches(&response, password))
    }

    fn open_session(&self, _user: &str, database: Option<&str>) -> Result<MemorySession, DbError> {
        if let Some(database) = database {
            self.check_database(database)?;
        }
        Ok(MemorySession {
            databases: self.databases.clone(),
            database: database.map(str::to_owned),
            kv: Arc::clone(&self.kv),
            in_transaction: false,
            autocommit: true,
        })
    }
}

/// One client's session.
pub struct MemorySession {
    databases: Vec<String>,
    database: Option<String>,
    kv: Store,
    in_transaction: bool,
    autocommit: bool,
}

fn normalize(sql: &str) -> String {
    sql.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn bytes(text: &str) -> Value {
    Value::Bytes(text.as_bytes().to_vec())
}

fn column(name: &str, column_type: ColumnType, flags: u16, decimals: u8) -> Column {
    let mut column = Column::new(name, column_type);
    column.flags = flags;
    column.decimals = decimals;
    column.table = "typed".into();
    column.org_table = "typed".into();
    column.schema = "test".into();
    column
}

/// The columns of `typed`.
pub fn typed_columns() -> Vec<Column> {
    use column_flags::*;
    use ColumnType::*;
    let mut columns = vec![
        column("id", LongLong, NOT_NULL | PRIMARY_KEY | AUTO_INCREMENT, 0),
        column("tiny", Tiny, 0, 0),
        column("small", Short, 0, 0),
        column("medium", Int24, 0, 0),
        column("int", Long, 0, 0),
        column("big", LongLong, 0, 0),
        column("ubig", LongLong, UNSIGNED, 0),
        column("flt", Float, 0, 0x1f),
        column("dbl", Double, 0, 0x1f),
        column("dec", NewDecimal, 0, 2),
        column("d", Date, 0, 0),
        column("dt", DateTime, 0, 6),
        column("ts", Timestamp, 0, 0),
        column("tm", Time, 0, 0),
        column("yr", Year, UNSIGNED, 0),
        column("name", VarString, 0, 0),
        column("bin", Blob, BLOB | BINARY, 0),
        column("txt", Blob, BLOB, 0),
        column("nul", Null, 0, 0),
        column("js", Json, BINARY, 0),
    ];
    columns[16].charset = charsets::BINARY;
    columns
}

/// The rows of `typed`: one with a value in every column but `nul`, one all NULL but `id`.
pub fn typed_rows() -> Vec<Vec<Value>> {
    let full = vec![
        Value::Int(1),
        Value::Int(-128),
        Value::Int(32767),
        Value::Int(-8_388_608),
        Value::Int(2_147_483_647),
        Value::Int(i64::MIN),
        Value::UInt(u64::MAX),
        Value::Double(1.5),
        Value::Double(-2.25e-3),
        bytes("12345.67"),
        bytes("2024-02-29"),
        bytes("2024-02-29 13:14:15.123456"),
        bytes("1970-01-01 00:00:01"),
        bytes("-838:59:59"),
        Value::Int(2024),
        bytes("héllo wörld ☃"),
        Value::Bytes(vec![0, 1, 2, 0xff, 0xfe]),
        bytes("long text"),
        Value::Null,
        bytes("{\"a\": 1}"),
    ];
    let mut empty = vec![Value::Null; full.len()];
    empty[0] = Value::Int(2);
    vec![full, empty]
}

fn rows(columns: Vec<Column>, rows: Vec<Vec<Value>>) -> QueryResult {
    QueryResult::Rows { columns, rows }
}

fn single(name: &str, column_type: ColumnType, value: Value) -> QueryResult {
    rows(vec![Column::new(name, column_type)], vec![vec![value]])
}

fn syntax_error(sql: &str) -> DbError {
    DbError::new(
        1064,
        "42000",
        format!(
            "You have an error in your SQL syntax; check the manual that corresponds to your \
             MySQL server version for the right syntax to use near '{sql}' at line 1"
        ),
    )
}

fn kv_columns() -> Vec<Column> {
    vec![
        Column::new("k", ColumnType::VarString),
        Column::new("v", ColumnType::Blob),
    ]
}

/// Columns describing echoed parameters, typed after their values.
fn echo_columns(params: &[Value]) -> Vec<Column> {
    params
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let name = format!("p{index}");
            match value {
                Value::Null => Column::new(name, ColumnType::Null),
                Value::Int(_) => Column::new(name, ColumnType::LongLong),
                Value::UInt(_) => {
                    let mut column = Column::new(name, ColumnType::LongLong);
                    column.flags = column_flags::UNSIGNED;
                    column
                }
                Value::Double(_) => Column::new(name, ColumnType::Double),
                Value::Bytes(data) if std::str::from_utf8(data).is_ok() => {
                    Column::new(name, ColumnType::VarString)
                }
                Value::Bytes(_) => {
                    let mut column = Column::new(name, ColumnType::Blob);
                    column.flags = column_flags::BLOB | column_flags::BINARY;
                    column.charset = charsets::BINARY;
                    column
                }
            }
        })
        .collect()
}

impl MemorySession {
    fn run(&mut self, sql: &str) -> Result<QueryResult, DbError> {
        let statement = normalize(sql);
        let result = match statement.as_str() {
            "select 1" => single("1", ColumnType::LongLong, Value::Int(1)),
            "select 2" => single("2", ColumnType::LongLong, Value::Int(2)),
            "select * from typed" => rows(typed_columns(), typed_rows()),
            "select * from missing" => {
                return Err(DbError::new(
                    1146,
                    "42S02",
                    "Table 'test.missing' doesn't exist",
                ))
            }
            "select big" => {
                let blob = (0..BIG_LEN).map(big_byte).collect();
                let mut column = Column::new("big", ColumnType::Blob);
                column.flags = column_flags::BLOB | column_flags::BINARY;
                column.charset = charsets::BINARY;
                column.length = u32::MAX;
                rows(vec![column], vec![vec![Value::Bytes(blob)]])
            }
            "select database()" => {
                let name = self.database.as_deref().map_or(Value::Null, bytes);
                single("DATABASE()", ColumnType::VarString, name)
            }
            "select @@version_comment limit 1" => single(
                "@@version_comment",
                ColumnType::VarString,
                bytes("ePHPm test backend"),
            ),
            "begin" | "start transaction" => {
                self.in_transaction = true;
                QueryResult::ok(0)
            }
            "commit" | "rollback" => {
                self.in_transaction = false;
                QueryResult::ok(0)
            }
            "set autocommit=0" | "set autocommit = 0" => {
                self.autocommit = false;
                QueryResult::ok(0)
            }
            "set autocommit=1" | "set autocommit = 1" => {
                self.autocommit = true;
                QueryResult::ok(0)
            }
            "insert into t values (1)" => QueryResult::Ok {
                affected_rows: 1,
                last_insert_id: 42,
                warnings: 1,
                info: String::new(),
            },
            "update t set x = 1" => QueryResult::Ok {
                affected_rows: 3,
                last_insert_id: 0,
                warnings: 0,
                info: "Rows matched: 3  Changed: 3  Warnings: 0".into(),
            },
            "select * from kv" => rows(kv_columns(), self.lock_kv().clone()),
            "delete from kv" => {
                let mut kv = self.lock_kv();
                let deleted = kv.len() as u64;
                kv.clear();
                QueryResult::ok(deleted)
            }
            "panic" => panic!("the test backend was asked to panic"),
            other if other.starts_with("use ") => {
                self.use_database(other.trim_start_matches("use ").trim_matches('`'))?;
                QueryResult::ok(0)
            }
            other if other.starts_with("set ") => QueryResult::ok(0),
            _ => return Err(syntax_error(sql.trim())),
        };
        Ok(result)
    }

    fn lock_kv(&self) -> std::sync::MutexGuard<'_, Vec<Vec<Value>>> {
        self.kv
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Session for MemorySession {
    fn query(&mut self, sql: &str) -> Vec<Result<QueryResult, DbError>> {
        let mut results = Vec::new();
        for statement in sql.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let result = self.run(statement);
            let failed = result.is_err();
            results.push(result);
            if failed {
                break;
            }
        }
        results
    }

    fn use_database(&mut self, database: &str) -> Result<(), DbError> {
        if !self.databases.iter().any(|db| db == database) {
            return Err(DbError::new(
                1049,
                "42000",
                format!("Unknown database '{database}'"),
            ));
        }
        self.database = Some(database.to_owned());
        Ok(())
    }

    fn prepare(&mut self, sql: &str) -> Result<PreparedStatement, DbError> {
        let statement = normalize(sql);
        let params = sql.matches('?').count() as u16;
        let columns = match statement.as_str() {
            "select * from typed" => typed_columns(),
            "select 1" => vec![Column::new("1", ColumnType::LongLong)],
            "select * from kv" => kv_columns(),
            "select v from kv where k = ?" => vec![Column::new("v", ColumnType::Blob)],
            s if s.starts_with("select ?") || s.starts_with("insert into kv values") => Vec::new(),
            s if params == 0 && !s.starts_with("select") => Vec::new(),
            "select big" | "select * from missing" => Vec::new(),
            _ => return Err(syntax_error(sql.trim())),
        };
        Ok(PreparedStatement { params, columns })
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<QueryResult, DbError> {
        let statement = normalize(sql);
        if statement.starts_with("select ?") {
            return Ok(rows(echo_columns(params), vec![params.to_vec()]));
        }
        if statement == "insert into kv values (?, ?)" {
            let mut kv = self.lock_kv();
            kv.push(params.to_vec());
            return Ok(QueryResult::Ok {
                affected_rows: 1,
                last_insert_id: kv.len() as u64,
                warnings: 0,
                info: String::new(),
            });
        }
        if statement == "select v from kv where k = ?" {
            let found = self
                .lock_kv()
                .iter()
                .filter(|row| row.first() == params.first())
                .map(|row| vec![row[1].clone()])
                .collect();
            return Ok(rows(vec![Column::new("v", ColumnType::Blob)], found));
        }
        self.run(sql)
    }

    fn field_list(&mut self, table: &str) -> Result<Vec<Column>, DbError> {
        match table {
            "typed" => Ok(typed_columns()),
            _ => Err(DbError::new(
                1146,
                "42S02",
                format!("Table 'test.{table}' doesn't exist"),
            )),
        }
    }

    fn in_transaction(&self) -> bool {
        self.in_transaction
    }

    fn autocommit(&self) -> bool {
        self.autocommit
    }
}
