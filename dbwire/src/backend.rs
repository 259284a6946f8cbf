//! What a database backend provides to the protocol layer.
//!
//! The MySQL protocol code (handshake, packets, commands, result encoding) knows nothing about
//! where data lives; it drives a [`Backend`] that opens one [`Session`] per client connection.
//! The embedded SQLite backend implements these traits today; the proxy to a real MySQL server
//! will implement them later.

use std::fmt;
use std::io;
use std::net::IpAddr;

pub use crate::protocol::params::ForwardedExecute;

/// MySQL column types (the `enum_field_types` codes sent in column definitions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum ColumnType {
    /// DECIMAL / NUMERIC.
    NewDecimal = 0xf6,
    /// TINYINT.
    Tiny = 0x01,
    /// SMALLINT.
    Short = 0x02,
    /// INT.
    Long = 0x03,
    /// FLOAT.
    Float = 0x04,
    /// DOUBLE.
    Double = 0x05,
    /// NULL-typed expression.
    Null = 0x06,
    /// TIMESTAMP.
    Timestamp = 0x07,
    /// BIGINT.
    LongLong = 0x08,
    /// MEDIUMINT.
    Int24 = 0x09,
    /// DATE.
    Date = 0x0a,
    /// TIME.
    Time = 0x0b,
    /// DATETIME.
    DateTime = 0x0c,
    /// YEAR.
    Year = 0x0d,
    /// VARCHAR (as sent by servers for VARCHAR columns).
    VarString = 0xfd,
    /// CHAR.
    String = 0xfe,
    /// TEXT/BLOB family (the BINARY flag distinguishes BLOB from TEXT).
    Blob = 0xfc,
    /// BIT.
    Bit = 0x10,
    /// JSON.
    Json = 0xf5,
    /// ENUM.
    Enum = 0xf7,
    /// SET.
    Set = 0xf8,
}

/// Column flags (`NOT_NULL_FLAG`, ...), as sent in column definitions.
pub mod column_flags {
    /// NOT NULL.
    pub const NOT_NULL: u16 = 1;
    /// Part of the primary key.
    pub const PRIMARY_KEY: u16 = 2;
    /// Part of a unique key.
    pub const UNIQUE_KEY: u16 = 4;
    /// Part of a non-unique key.
    pub const MULTIPLE_KEY: u16 = 8;
    /// BLOB or TEXT.
    pub const BLOB: u16 = 16;
    /// UNSIGNED.
    pub const UNSIGNED: u16 = 32;
    /// ZEROFILL (also set on YEAR columns; mysqlnd keeps such values as strings).
    pub const ZEROFILL: u16 = 64;
    /// Binary collation (BLOB, VARBINARY; absent for TEXT).
    pub const BINARY: u16 = 128;
    /// AUTO_INCREMENT.
    pub const AUTO_INCREMENT: u16 = 512;
}

/// Character set numbers used in column definitions.
pub mod charsets {
    /// utf8mb4_general_ci.
    pub const UTF8MB4_GENERAL_CI: u16 = 45;
    /// binary (numbers, blobs).
    pub const BINARY: u16 = 63;
}

/// One column of a result set.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Schema (database) name; may be empty.
    pub schema: String,
    /// Table alias as used in the query; may be empty for expressions.
    pub table: String,
    /// Physical table name; may be empty.
    pub org_table: String,
    /// Column alias as used in the query.
    pub name: String,
    /// Physical column name.
    pub org_name: String,
    /// Character set number ([`charsets`]).
    pub charset: u16,
    /// Maximum display length.
    pub length: u32,
    /// MySQL type.
    pub column_type: ColumnType,
    /// [`column_flags`].
    pub flags: u16,
    /// Decimal digits (0x1f for floating point without a fixed scale).
    pub decimals: u8,
}

impl Column {
    /// A column named `name` of `column_type`, with text charset and no table.
    pub fn new(name: impl Into<String>, column_type: ColumnType) -> Column {
        let name = name.into();
        let numeric = matches!(
            column_type,
            ColumnType::Tiny
                | ColumnType::Short
                | ColumnType::Long
                | ColumnType::LongLong
                | ColumnType::Int24
                | ColumnType::Float
                | ColumnType::Double
                | ColumnType::NewDecimal
                | ColumnType::Year
                | ColumnType::Bit
        );
        Column {
            schema: String::new(),
            table: String::new(),
            org_table: String::new(),
            org_name: name.clone(),
            name,
            charset: if numeric {
                charsets::BINARY
            } else {
                charsets::UTF8MB4_GENERAL_CI
            },
            length: if numeric { 20 } else { 255 },
            column_type,
            flags: 0,
            decimals: if matches!(column_type, ColumnType::Float | ColumnType::Double) {
                0x1f
            } else {
                0
            },
        }
    }
}

/// A value in a row or a prepared-statement parameter.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A signed integer.
    Int(i64),
    /// An unsigned integer (BIGINT UNSIGNED beyond i64).
    UInt(u64),
    /// A floating-point number.
    Double(f64),
    /// Text or binary data; dates and decimals travel as their text form.
    Bytes(Vec<u8>),
}

/// A MySQL error: code, SQLSTATE and message, as sent in an ERR packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbError {
    /// MySQL error number, e.g. 1062 for a duplicate key.
    pub code: u16,
    /// Five-character SQLSTATE, e.g. `23000`.
    pub sql_state: [u8; 5],
    /// Human-readable message, worded like MySQL's.
    pub message: String,
}

impl DbError {
    /// An error with the given code, SQLSTATE and message.
    pub fn new(code: u16, sql_state: &str, message: impl Into<String>) -> DbError {
        let mut state = *b"HY000";
        if sql_state.len() == 5 {
            state.copy_from_slice(sql_state.as_bytes());
        }
        DbError {
            code,
            sql_state: state,
            message: message.into(),
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = String::from_utf8_lossy(&self.sql_state);
        write!(f, "ERROR {} ({state}): {}", self.code, self.message)
    }
}

impl std::error::Error for DbError {}

/// The outcome of one statement.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryResult {
    /// A statement without a result set.
    Ok {
        /// Rows changed, as MySQL counts them.
        affected_rows: u64,
        /// The AUTO_INCREMENT value generated by this statement, else 0.
        last_insert_id: u64,
        /// Warning count.
        warnings: u16,
        /// Optional human-readable info (e.g. "Rows matched: 1  Changed: 1  Warnings: 0").
        info: String,
    },
    /// A result set.
    Rows {
        /// Column definitions.
        columns: Vec<Column>,
        /// Rows, each with one value per column.
        rows: Vec<Vec<Value>>,
    },
}

impl QueryResult {
    /// An OK result with `affected_rows` and no insert id.
    pub fn ok(affected_rows: u64) -> QueryResult {
        QueryResult::Ok {
            affected_rows,
            last_insert_id: 0,
            warnings: 0,
            info: String::new(),
        }
    }
}

/// What COM_STMT_PREPARE reports about a statement.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedStatement {
    /// Number of `?` parameters.
    pub params: u16,
    /// Result columns, when known at prepare time (may be empty).
    pub columns: Vec<Column>,
}

/// Credentials a client presented, checked by [`Backend::authenticate`].
#[derive(Debug, Clone, Copy)]
pub enum AuthResponse<'a> {
    /// `mysql_native_password`: SHA1(password) XOR SHA1(nonce + SHA1(SHA1(password))).
    NativePassword {
        /// The client's scramble response (20 bytes, or empty for an empty password).
        response: &'a [u8],
        /// The 20-byte nonce we sent.
        nonce: &'a [u8],
    },
    /// `caching_sha2_password` fast path: XOR(SHA256(pw), SHA256(SHA256(SHA256(pw)), nonce)).
    CachingSha2 {
        /// The client's scramble response (32 bytes, or empty for an empty password).
        response: &'a [u8],
        /// The 20-byte nonce we sent.
        nonce: &'a [u8],
    },
}

/// A database backend: checks credentials and opens sessions. Shared by all connections.
pub trait Backend: Send + Sync + 'static {
    /// One client's session.
    type Session: Session;

    /// Checks `user`'s credentials. The protocol layer computes nothing itself: the backend
    /// knows the passwords (see `dbwire::auth` helpers for the scramble checks).
    fn authenticate(&self, user: &str, auth: AuthResponse<'_>) -> bool;

    /// Opens a session for `user`, with `database` selected when the client named one.
    fn open_session(&self, user: &str, database: Option<&str>) -> Result<Self::Session, DbError>;

    /// The version announced in the greeting (MySQL's `VERSION()`); [`SERVER_VERSION`] by
    /// default, a proxy's upstream's own.
    ///
    /// [`SERVER_VERSION`]: crate::protocol::constants::SERVER_VERSION
    fn server_version(&self) -> String {
        crate::protocol::constants::SERVER_VERSION.to_owned()
    }

    /// Opens the session of a client connection, which `client` describes (its address,
    /// thread id, capability flags and character set). By default [`Backend::open_session`].
    fn open_client_session(
        &self,
        user: &str,
        database: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Self::Session, DbError> {
        let _ = client;
        self.open_session(user, database)
    }
}

/// What the protocol layer knows of a client when it opens a session for it (at login, and
/// again after COM_CHANGE_USER or COM_RESET_CONNECTION).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address, when the socket knows it.
    pub address: Option<IpAddr>,
    /// The thread id the greeting announced, which `CONNECTION_ID()` and `KILL` use; 0 for a
    /// session no connection opened.
    pub connection_id: u32,
    /// The capability flags both sides agreed on (`protocol::constants::capabilities`);
    /// sessions honour `CLIENT_FOUND_ROWS`, and a proxy `CLIENT_LOCAL_FILES` and
    /// `CLIENT_MULTI_STATEMENTS`.
    pub capabilities: u32,
    /// The collation (character set) the handshake named.
    pub collation: u8,
    /// The executor core serving the client (0 on the blocking listeners): a proxy session
    /// borrows backend connections from that core's pools.
    pub core: usize,
}

impl Default for ClientInfo {
    /// No address or thread id, no capability flags, utf8mb4.
    fn default() -> ClientInfo {
        ClientInfo {
            address: None,
            connection_id: 0,
            capabilities: 0,
            collation: crate::protocol::constants::DEFAULT_CHARSET,
            core: 0,
        }
    }
}

/// One client connection's state: selected database, transaction, prepared statements.
pub trait Session: Send {
    /// Runs the statements of one COM_QUERY (several when the client sent a multi-statement
    /// query); stops at the first error, which is the last element.
    fn query(&mut self, sql: &str) -> Vec<Result<QueryResult, DbError>>;

    /// COM_INIT_DB / `USE db`.
    fn use_database(&mut self, database: &str) -> Result<(), DbError>;

    /// COM_STMT_PREPARE.
    fn prepare(&mut self, sql: &str) -> Result<PreparedStatement, DbError>;

    /// COM_STMT_EXECUTE of a statement `prepare` returned for `sql`, with bound parameters.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<QueryResult, DbError>;

    /// COM_FIELD_LIST: the columns of `table`.
    fn field_list(&mut self, table: &str) -> Result<Vec<Column>, DbError>;

    /// True while a transaction is open (for the SERVER_STATUS_IN_TRANS flag).
    fn in_transaction(&self) -> bool;

    /// True in autocommit mode (for the SERVER_STATUS_AUTOCOMMIT flag).
    fn autocommit(&self) -> bool;

    /// The connection's character set when the protocol layer must convert for this session:
    /// statements arrive in it and text results leave in it. `None` (the default): the
    /// session takes the client's bytes as they are (UTF-8, or relayed).
    fn connection_charset(&self) -> Option<crate::protocol::charset::Charset> {
        None
    }

    /// True once another session killed this one (`KILL CONNECTION`): the server ends the
    /// client connection after answering the command in progress.
    fn killed(&self) -> bool {
        false
    }

    /// Warnings the last statement raised, for the packet that ends its result set (an OK
    /// carries its own count in [`QueryResult::Ok`]).
    fn warning_count(&self) -> u16 {
        0
    }

    /// Tells the session whether its client has multi-statement queries on (negotiated at
    /// login, changed by COM_SET_OPTION, reset by COM_RESET_CONNECTION).
    fn set_multi_statements(&mut self, enabled: bool) {
        let _ = enabled;
    }

    /// The session as a [`Relay`] when it answers commands with a server's own reply packets
    /// (the proxy); `None` (the default) when the protocol layer encodes its results.
    fn relay(&mut self) -> Option<&mut dyn Relay> {
        None
    }

    /// The session as [`Leasing`] when an executor may relay some of its statements itself,
    /// without blocking; `None` (the default) when every command takes the blocking path.
    fn leasing(&mut self) -> Option<&mut dyn Leasing> {
        None
    }
}

/// A relaying session whose statements an executor can relay on its own, non-blocking
/// sockets: the session picks and aligns the backend connection (only when that needs no
/// I/O), the executor moves the bytes, the session records the outcome.
pub trait Leasing {
    /// COM_QUERY with the client's bytes, when its backend connection is at hand and ready.
    fn lease_query(&mut self, sql: &[u8]) -> Option<crate::proxy::Lease>;

    /// COM_STMT_EXECUTE of the statement the session prepared for `sql`, when its backend
    /// connection is at hand, ready and has the statement prepared.
    fn lease_execute(
        &mut self,
        sql: &str,
        execute: ForwardedExecute,
    ) -> Option<crate::proxy::Lease>;

    /// Takes a lease back with what happened to it.
    fn finish(
        &mut self,
        lease: crate::proxy::Lease,
        outcome: crate::proxy::LeaseOutcome,
    ) -> crate::proxy::Finished;
}

/// A session that answers commands by passing a server's reply packets on as the server sent
/// them, instead of results the protocol layer encodes: nothing is decoded and encoded again,
/// and warnings, status flags and the extra results of a `CALL` reach the client.
pub trait Relay {
    /// COM_QUERY, with the SQL as the client sent it (in its own character set, and possibly
    /// several statements: the server judges them). `None` when this statement takes the
    /// decoded path ([`Session::query`]) after all. `Some(Err)` means the client connection
    /// must close: the client is gone, or the server connection broke in the middle of a reply.
    fn relay_query(&mut self, sql: &[u8], reply: &mut dyn ReplySink) -> Option<io::Result<()>>;

    /// COM_STMT_EXECUTE of the statement the session prepared for `sql`; errors as for
    /// [`Relay::relay_query`].
    fn relay_execute(
        &mut self,
        sql: &str,
        execute: &mut ForwardedExecute,
        reply: &mut dyn ReplySink,
    ) -> io::Result<()>;
}

/// Where a [`Relay`] writes a reply: the client's connection.
pub trait ReplySink {
    /// True when the client negotiated `CLIENT_DEPRECATE_EOF`.
    fn deprecate_eof(&self) -> bool;

    /// Queues one payload for the client, as it is.
    fn send(&mut self, payload: &[u8]) -> io::Result<()>;

    /// Queues an ERR packet for `error`.
    fn send_error(&mut self, error: &DbError) -> io::Result<()>;

    /// Sends everything queued.
    fn flush(&mut self) -> io::Result<()>;

    /// Reads the client's next payload within the current exchange: the data of a
    /// `LOAD DATA LOCAL INFILE` the server asked for, ended by an empty payload.
    fn receive(&mut self, payload: &mut Vec<u8>) -> io::Result<()>;
}
