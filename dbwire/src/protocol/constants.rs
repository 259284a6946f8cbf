//! Numbers of the MySQL client/server protocol: capability and status flags, command bytes,
//! packet markers and the error codes this server sends itself.

/// The version string in the handshake. mysqlnd and WordPress parse the leading number.
pub const SERVER_VERSION: &str = "8.0.35-ePHPm";

/// Default character set announced in the handshake: utf8mb4_general_ci.
pub const DEFAULT_CHARSET: u8 = 45;

/// Length of the authentication nonce ("scramble") sent in the handshake.
pub const NONCE_LEN: usize = 20;

/// Capability flags (`CLIENT_*`), negotiated in the handshake.
pub mod capabilities {
    /// New, more secure passwords (always set by 4.1+ clients).
    pub const LONG_PASSWORD: u32 = 1;
    /// Affected rows count found rows instead of changed rows.
    pub const FOUND_ROWS: u32 = 1 << 1;
    /// Longer column flags in column definitions.
    pub const LONG_FLAG: u32 = 1 << 2;
    /// A database can be named in the handshake response.
    pub const CONNECT_WITH_DB: u32 = 1 << 3;
    /// Compressed protocol.
    pub const COMPRESS: u32 = 1 << 5;
    /// LOAD DATA LOCAL INFILE.
    pub const LOCAL_FILES: u32 = 1 << 7;
    /// The 4.1 protocol: SQLSTATEs, column definition 41, status flags in OK/EOF.
    pub const PROTOCOL_41: u32 = 1 << 9;
    /// Interactive client (interactive_timeout instead of wait_timeout).
    pub const INTERACTIVE: u32 = 1 << 10;
    /// TLS; the client sends an SSLRequest before its handshake response.
    pub const SSL: u32 = 1 << 11;
    /// The client understands transaction status flags.
    pub const TRANSACTIONS: u32 = 1 << 13;
    /// 4.1 authentication: length-prefixed auth response.
    pub const SECURE_CONNECTION: u32 = 1 << 15;
    /// Several statements in one COM_QUERY.
    pub const MULTI_STATEMENTS: u32 = 1 << 16;
    /// Several result sets for one COM_QUERY.
    pub const MULTI_RESULTS: u32 = 1 << 17;
    /// Several result sets for one COM_STMT_EXECUTE.
    pub const PS_MULTI_RESULTS: u32 = 1 << 18;
    /// Authentication plugins, named in the handshake and its response.
    pub const PLUGIN_AUTH: u32 = 1 << 19;
    /// Connection attributes in the handshake response.
    pub const CONNECT_ATTRS: u32 = 1 << 20;
    /// Length-encoded auth response in the handshake response.
    pub const PLUGIN_AUTH_LENENC_CLIENT_DATA: u32 = 1 << 21;
    /// Session state tracking in OK packets.
    pub const SESSION_TRACK: u32 = 1 << 23;
    /// OK packets (with a 0xFE header) replace EOF packets.
    pub const DEPRECATE_EOF: u32 = 1 << 24;
    /// Query attributes in COM_QUERY and COM_STMT_EXECUTE.
    pub const QUERY_ATTRIBUTES: u32 = 1 << 27;

    /// Flags a client chooses at login that change what the server does for it (affected-row
    /// counts, `LOAD DATA LOCAL INFILE` requests): a proxy runs a client's statements only on
    /// backend connections that negotiated the same ones.
    pub const BEHAVIOUR: u32 = FOUND_ROWS | LOCAL_FILES;

    /// What this server offers. No TLS or session tracking (SQLite mode refuses `LOAD DATA`).
    pub const SERVER: u32 = LONG_PASSWORD
        | FOUND_ROWS
        | LOCAL_FILES
        | LONG_FLAG
        | COMPRESS
        | CONNECT_WITH_DB
        | PROTOCOL_41
        | TRANSACTIONS
        | SECURE_CONNECTION
        | MULTI_STATEMENTS
        | MULTI_RESULTS
        | PS_MULTI_RESULTS
        | PLUGIN_AUTH
        | CONNECT_ATTRS
        | PLUGIN_AUTH_LENENC_CLIENT_DATA
        | DEPRECATE_EOF;
}

/// Server status flags (`SERVER_STATUS_*`), sent in OK and EOF packets.
pub mod status {
    /// A transaction is open.
    pub const IN_TRANS: u16 = 1;
    /// Autocommit mode.
    pub const AUTOCOMMIT: u16 = 1 << 1;
    /// Another result set follows this one.
    pub const MORE_RESULTS_EXISTS: u16 = 1 << 3;
}

/// Command bytes (`COM_*`): the first byte of every packet a client sends after login.
pub mod commands {
    /// Close the connection.
    pub const QUIT: u8 = 0x01;
    /// Select the default database.
    pub const INIT_DB: u8 = 0x02;
    /// Run a text query.
    pub const QUERY: u8 = 0x03;
    /// List a table's columns.
    pub const FIELD_LIST: u8 = 0x04;
    /// Human-readable server statistics.
    pub const STATISTICS: u8 = 0x09;
    /// Log in again as another (or the same) user, resetting the session.
    pub const CHANGE_USER: u8 = 0x11;
    /// Liveness check.
    pub const PING: u8 = 0x0e;
    /// Prepare a statement.
    pub const STMT_PREPARE: u8 = 0x16;
    /// Execute a prepared statement.
    pub const STMT_EXECUTE: u8 = 0x17;
    /// Send a chunk of a parameter's value ahead of the execute.
    pub const STMT_SEND_LONG_DATA: u8 = 0x18;
    /// Deallocate a prepared statement.
    pub const STMT_CLOSE: u8 = 0x19;
    /// Discard a prepared statement's long data.
    pub const STMT_RESET: u8 = 0x1a;
    /// Turn multi-statements on or off.
    pub const SET_OPTION: u8 = 0x1b;
    /// Reset the session without re-authenticating.
    pub const RESET_CONNECTION: u8 = 0x1f;
}

/// First payload bytes that mark a packet's kind.
pub mod markers {
    /// OK packet.
    pub const OK: u8 = 0x00;
    /// Extra authentication data (caching_sha2_password's fast-auth result).
    pub const AUTH_MORE_DATA: u8 = 0x01;
    /// NULL in a text row.
    pub const NULL: u8 = 0xfb;
    /// EOF packet, OK packet replacing EOF, or AuthSwitchRequest.
    pub const EOF: u8 = 0xfe;
    /// ERR packet.
    pub const ERR: u8 = 0xff;
    /// caching_sha2_password: the scramble matched the cached hash.
    pub const FAST_AUTH_SUCCESS: u8 = 0x03;
}

/// Error codes this layer sends on its own (the backend supplies the rest).
pub mod errors {
    /// ER_CON_COUNT_ERROR.
    pub const TOO_MANY_CONNECTIONS: u16 = 1040;
    /// ER_NO_SUCH_THREAD: `KILL` of a thread no session has.
    pub const UNKNOWN_THREAD: u16 = 1094;
    /// ER_CONNECTION_KILLED.
    pub const CONNECTION_KILLED: u16 = 1927;
    /// ER_HANDSHAKE_ERROR.
    pub const HANDSHAKE_ERROR: u16 = 1043;
    /// ER_ACCESS_DENIED_ERROR.
    pub const ACCESS_DENIED: u16 = 1045;
    /// ER_UNKNOWN_COM_ERROR, also used for malformed packets.
    pub const UNKNOWN_COMMAND: u16 = 1047;
    /// ER_PARSE_ERROR.
    pub const PARSE_ERROR: u16 = 1064;
    /// ER_EMPTY_QUERY.
    pub const EMPTY_QUERY: u16 = 1065;
    /// ER_NET_PACKET_TOO_LARGE.
    pub const PACKET_TOO_LARGE: u16 = 1153;
    /// ER_NET_PACKETS_OUT_OF_ORDER.
    pub const PACKETS_OUT_OF_ORDER: u16 = 1156;
    /// ER_WRONG_ARGUMENTS.
    pub const WRONG_ARGUMENTS: u16 = 1210;
    /// ER_UNKNOWN_STMT_HANDLER.
    pub const UNKNOWN_STMT_HANDLER: u16 = 1243;
    /// ER_INVALID_CHARACTER_STRING.
    pub const INVALID_CHARACTER_STRING: u16 = 1300;
    /// ER_MAX_PREPARED_STMT_COUNT_REACHED.
    pub const MAX_PREPARED_STMT_COUNT_REACHED: u16 = 1461;
    /// ER_CLIENT_INTERACTION_TIMEOUT.
    pub const CLIENT_INTERACTION_TIMEOUT: u16 = 4031;
    /// ER_CONNECT_TO_FOREIGN_DATA_SOURCE: the proxy could not reach its upstream. (Client
    /// error codes like 2003 cannot be sent: libmariadb calls such an ERR malformed.)
    pub const CANNOT_CONNECT: u16 = 1429;
    /// ER_NET_READ_ERROR: the upstream connection broke during a statement.
    pub const SERVER_LOST: u16 = 1158;
}
