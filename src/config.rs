//! Server configuration.
//!
//! Settings are layered; each layer overrides the ones before it:
//!
//! 1. built-in defaults ([`Config::default`], documented in `config/ephpm.toml`);
//! 2. the TOML file given with `--config`, or `./ephpm.toml` when it exists;
//! 3. `EPHPM_<SECTION>__<KEY>` environment variables, e.g.
//!    `EPHPM_SERVER__LISTEN=127.0.0.1:9000`;
//! 4. the flags of `ephpm serve` ([`Config::apply_cli`]).
//!
//! Layers 2 and 3 are collected as raw TOML values keyed by their setting
//! path, checked against the shape of the defaults (so an unknown key is
//! reported with its source), and only then deserialized into [`Config`].
//! Every error names the offending setting and where it came from.
//!
//! # Environment variables
//!
//! The part after `EPHPM_` is lowercased and split on `__`: the first part is
//! the section, the second the key. A php.ini entry takes a third part,
//! `EPHPM_PHP__INI__MEMORY_LIMIT=256M` sets `memory_limit`; further `__`
//! become dots, so `EPHPM_PHP__INI__OPCACHE__JIT_BUFFER_SIZE=64M` sets
//! `opcache.jit_buffer_size`. Values of string settings (including sizes,
//! durations and php.ini entries) are taken verbatim; values of number and
//! boolean settings are parsed as TOML scalars (`4`, `true`). Any `EPHPM_`
//! variable that names no setting is an error.
//!
//! # php.ini entries
//!
//! `[php.ini]` takes strings, numbers and booleans (passed to PHP as `"1"`
//! and `"0"`). Dotted names need no quotes: `opcache.enable = 1` (a nested
//! table in TOML) is joined back into the directive `opcache.enable`.
//!
//! # Sizes and durations
//!
//! A [`ByteSize`] is an integer number of bytes or a string made of an integer
//! and a unit: `B`, `K`, `M`, `G` or `T`, optionally followed by `B` or `iB`,
//! case-insensitive. Every unit is 1024-based, as in php.ini: `"64M"`,
//! `"64MB"` and `"64MiB"` all mean 64 × 1024 × 1024 bytes.
//!
//! A [`Timeout`] is an integer number of seconds or a string made of an
//! integer and a unit: `ms`, `s`, `m`, `h` or `d` (`"500ms"`, `"30s"`, `"2m"`,
//! `"30d"`).

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use toml::{Table, Value};

use crate::cli::ServeArgs;

/// The file read from the current directory when no `--config` is given.
pub const DEFAULT_CONFIG_FILE: &str = "ephpm.toml";

/// Prefix of the environment variables that override settings.
pub const ENV_PREFIX: &str = "EPHPM_";

/// Separator between the parts of a setting path in an environment variable.
const ENV_SEPARATOR: &str = "__";

/// The log levels accepted by `log.level`, least verbose first.
pub const LOG_LEVELS: [&str; 5] = ["error", "warn", "info", "debug", "trace"];

/// One kibibyte, the unit `K` of a [`ByteSize`].
const KIB: u64 = 1024;
/// One mebibyte, the unit `M` of a [`ByteSize`].
const MIB: u64 = 1024 * KIB;
/// One gibibyte, the unit `G` of a [`ByteSize`].
const GIB: u64 = 1024 * MIB;
/// One tebibyte, the unit `T` of a [`ByteSize`].
const TIB: u64 = 1024 * GIB;

/// The complete ePHPm configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The `[server]` section: listening, HTTP limits and timeouts.
    pub server: ServerConfig,
    /// The `[php]` section: the embedded PHP runtime.
    pub php: PhpConfig,
    /// The `[log]` section: log level and log destinations.
    pub log: LogConfig,
    /// The `[db]` section: the built-in MySQL-protocol database.
    pub db: DbConfig,
    /// The `[kv]` section: the built-in Redis-compatible key-value store.
    pub kv: KvConfig,
    /// The `[node_api]` section: metrics and JSON status for operators and the admin UI.
    pub node_api: NodeApiConfig,
}

/// The `[server]` section: listening, HTTP limits and timeouts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address and port every core's listener binds (with `SO_REUSEPORT`).
    pub listen: SocketAddr,
    /// Directory that static files and PHP scripts are served from.
    pub document_root: PathBuf,
    /// Number of cores to run an executor on; 0 means all available cores.
    pub cores: usize,
    /// Largest request body accepted; larger requests get 413.
    pub max_body_size: ByteSize,
    /// Request body bytes kept in memory; a bigger body is written to an anonymous temporary
    /// file (in `$TMPDIR`) while it arrives, as nginx does.
    pub body_buffer_size: ByteSize,
    /// Largest request head (request line plus headers) accepted; larger get 431.
    pub max_header_size: ByteSize,
    /// Most request headers accepted; more get 431.
    pub max_headers: usize,
    /// Time a client has to send a complete request head.
    pub header_read_timeout: Timeout,
    /// Time a client has to send a complete request body (a total, not per read); slower
    /// bodies get 408.
    pub body_timeout: Timeout,
    /// Time an idle keep-alive connection is kept open.
    pub keep_alive_timeout: Timeout,
    /// Time in-flight requests get to finish on shutdown.
    pub drain_timeout: Timeout,
    /// PHP requests that may wait per core for a free PHP thread before
    /// new ones are answered with 503.
    pub queue_depth: usize,
    /// Whether compressible responses are gzip-encoded for clients that accept it.
    pub gzip: bool,
    /// Whether HTTP/2 is served: over TLS when the client offers `h2` in ALPN, and as h2c on
    /// the plain listener to clients that start with the HTTP/2 preface.
    pub http2: bool,
    /// Memory each executor preallocates and registers with io_uring for
    /// file I/O. It is locked memory, so every core's share counts against
    /// `RLIMIT_MEMLOCK` (`ulimit -l`); glommio uses at least 64 KiB.
    pub io_memory: ByteSize,
    /// Most HTTP connections open at once (all cores together); more are answered 503 and
    /// closed.
    pub max_connections: usize,
    /// Longest a write to a client (HTTP or Redis) may make no progress before the connection
    /// is closed (nginx's `send_timeout`).
    pub send_timeout: Timeout,
    /// `[server.tls]`: HTTPS.
    pub tls: TlsConfig,
}

/// The `[server.tls]` table: an HTTPS listener next to the plain one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsConfig {
    /// Address of the HTTPS listener (every core binds it with `SO_REUSEPORT`); used once
    /// `cert` and `key` are set.
    pub listen: SocketAddr,
    /// PEM certificate chain, leaf first; empty means no HTTPS.
    pub cert: PathBuf,
    /// PEM private key of the leaf certificate (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// Without `cert` and `key`: serve HTTPS with a certificate for `localhost` and
    /// `127.0.0.1` made at start-up (local development; browsers will warn).
    pub self_signed: bool,
    /// Answer every request on the plain listener with a 308 to the same path and query over
    /// HTTPS.
    pub redirect_http: bool,
    /// `Strict-Transport-Security` value added to HTTPS responses (e.g.
    /// `max-age=31536000`); empty sends none.
    pub hsts: String,
    /// More certificates, chosen by the name the client asks for (SNI); `cert` and `key` stay
    /// the default for other names and clients that send none.
    pub certificates: Vec<CertificatePair>,
    /// Automatic certificates from an ACME CA (Let's Encrypt by default).
    pub acme: AcmeConfig,
}

/// How the ACME CA checks that we control a domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AcmeChallenge {
    /// A token fetched over plain HTTP on port 80 (`server.listen` must receive it).
    #[serde(rename = "http-01")]
    Http01,
    /// A special certificate presented over TLS on port 443 (`server.tls.listen`).
    #[serde(rename = "tls-alpn-01")]
    TlsAlpn01,
}

/// Let's Encrypt's production directory.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The `[server.tls.acme]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AcmeConfig {
    /// Domains on the certificate; empty turns ACME off.
    pub domains: Vec<String>,
    /// Contact address given to the CA (expiry warnings); empty sends none.
    pub email: String,
    /// The CA's directory URL: Let's Encrypt production by default; its staging directory or any
    /// RFC 8555 CA by URL.
    pub directory: String,
    /// A PEM CA certificate to trust for the directory's HTTPS (a private or test CA); empty
    /// trusts the system's roots.
    pub ca_root: PathBuf,
    /// Where the account key and certificates are kept (0600), reused across restarts.
    pub storage: PathBuf,
    /// The challenge answered: `http-01` or `tls-alpn-01`.
    pub challenge: AcmeChallenge,
    /// Renew when the certificate expires within this time.
    pub renew_before: Timeout,
    /// Longest time between two looks at the certificate's expiry; also the shortest time
    /// between two renewals.
    pub check_interval: Timeout,
}

impl Default for AcmeConfig {
    fn default() -> Self {
        Self {
            domains: Vec::new(),
            email: String::new(),
            directory: LETS_ENCRYPT.to_owned(),
            ca_root: PathBuf::new(),
            storage: PathBuf::from(".ephpm/acme"),
            challenge: AcmeChallenge::Http01,
            renew_before: Timeout(Duration::from_secs(30 * 24 * 3600)),
            check_interval: Timeout(Duration::from_secs(12 * 3600)),
        }
    }
}

impl AcmeConfig {
    /// True when certificates are to be obtained.
    pub fn enabled(&self) -> bool {
        !self.domains.is_empty()
    }
}

/// One `[[server.tls.certificates]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CertificatePair {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key of the leaf certificate.
    pub key: PathBuf,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8443)),
            cert: PathBuf::new(),
            key: PathBuf::new(),
            self_signed: false,
            redirect_http: false,
            hsts: String::new(),
            certificates: Vec::new(),
            acme: AcmeConfig::default(),
        }
    }
}

impl TlsConfig {
    /// True when HTTPS is configured.
    pub fn enabled(&self) -> bool {
        !self.cert.as_os_str().is_empty() || self.self_signed || self.acme.enabled()
    }

    /// Both files or neither, and not both files and `self_signed`.
    fn validate(&self) -> Result<(), ConfigError> {
        let cert = !self.cert.as_os_str().is_empty();
        let key = !self.key.as_os_str().is_empty();
        if self.self_signed && (cert || key) {
            return Err(ConfigError::invalid(
                "server.tls.self_signed",
                "set either server.tls.cert and server.tls.key or self_signed, not both",
            ));
        }
        match (cert, key) {
            (true, false) => Err(ConfigError::invalid(
                "server.tls.key",
                "server.tls.cert is set: the key is needed too",
            )),
            (false, true) => Err(ConfigError::invalid(
                "server.tls.cert",
                "server.tls.key is set: the certificate is needed too",
            )),
            _ => Ok(()),
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            document_root: PathBuf::from("."),
            cores: 0,
            max_body_size: ByteSize(64 * MIB),
            body_buffer_size: ByteSize(MIB),
            max_header_size: ByteSize(16 * KIB),
            max_headers: 100,
            header_read_timeout: Timeout(Duration::from_secs(10)),
            body_timeout: Timeout(Duration::from_secs(120)),
            keep_alive_timeout: Timeout(Duration::from_secs(75)),
            drain_timeout: Timeout(Duration::from_secs(30)),
            queue_depth: 1024,
            gzip: true,
            http2: true,
            io_memory: ByteSize(512 * KIB),
            max_connections: 10_000,
            send_timeout: Timeout(Duration::from_secs(60)),
            tls: TlsConfig::default(),
        }
    }
}

/// The `[php]` section: the embedded PHP runtime.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PhpConfig {
    /// PHP worker threads started on every core.
    pub threads_per_core: usize,
    /// php.ini directives, e.g. `memory_limit = "256M"`. In TOML, numbers
    /// and booleans are accepted (booleans become `"1"` and `"0"`), and
    /// dotted names need no quotes: `opcache.enable = 1`.
    #[serde(deserialize_with = "deserialize_ini")]
    pub ini: BTreeMap<String, String>,
    /// Whether OPcache is enabled.
    pub opcache: bool,
    /// Whether the OPcache JIT is enabled (needs `opcache`).
    pub jit: bool,
    /// Worker mode (FrankenPHP's): a script booted once that answers many requests.
    pub worker: WorkerConfig,
}

impl Default for PhpConfig {
    fn default() -> Self {
        Self {
            threads_per_core: 8,
            ini: BTreeMap::new(),
            opcache: true,
            jit: false,
            worker: WorkerConfig::default(),
        }
    }
}

/// The `[php.worker]` table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// The worker script, relative to the document root or absolute; empty turns worker mode
    /// off. Requests that would run this script go to its workers.
    pub script: PathBuf,
    /// Worker threads per core, besides the classic PHP threads; 0 means
    /// `php.threads_per_core`.
    pub workers: usize,
    /// Requests a worker answers before it is restarted; 0 means no limit.
    pub max_requests: u64,
    /// Variables added to `$_SERVER` for the worker script and every request it answers (e.g.
    /// `APP_RUNTIME` for symfony/runtime).
    pub env: BTreeMap<String, String>,
    /// Development: files or directories (relative to the document root, or absolute) whose
    /// changes reload the workers; empty watches nothing.
    pub watch: Vec<PathBuf>,
}

impl WorkerConfig {
    /// True when a worker script is configured.
    pub fn enabled(&self) -> bool {
        !self.script.as_os_str().is_empty()
    }
}

/// The `[log]` section: log level and log destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Most verbose level logged: one of [`LOG_LEVELS`].
    pub level: String,
    /// Where access log lines go: `"stdout"`, `"off"` or a file path.
    pub access_log: String,
    /// Where server and PHP errors go: `"stderr"` or a file path.
    pub error_log: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".to_owned(),
            access_log: "stdout".to_owned(),
            error_log: "stderr".to_owned(),
        }
    }
}

/// The `[db]` section: the MySQL wire server PHP connects to, backed by embedded SQLite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DbConfig {
    /// Whether `ephpm serve` starts the database listener.
    pub enabled: bool,
    /// Address of the MySQL-protocol listener.
    pub listen: SocketAddr,
    /// A Unix socket the MySQL protocol is also served on (e.g. `/run/ephpm/mysqld.sock`;
    /// PHP's mysqlnd uses it for `localhost`); empty serves none.
    pub socket: PathBuf,
    /// Directory holding one SQLite file per MySQL database.
    pub data_dir: PathBuf,
    /// User clients log in as; with no password set, only `root` with an empty password on a
    /// loopback listener is accepted (like a fresh MariaDB).
    pub username: String,
    /// Password for `username`; empty means none.
    pub password: String,
    /// Create a database on first use (connect or `USE`); otherwise unknown ones are errors.
    pub create_databases: bool,
    /// The database named in the injected environment (`DB_DATABASE`, `DATABASE_URL`).
    pub database: String,
    /// Put `DB_HOST`, `DB_PORT`, `DB_DATABASE`, `DB_USERNAME`, `DB_PASSWORD` and
    /// `DATABASE_URL` into PHP's environment.
    pub inject_env: bool,
    /// Client connections served at once (MySQL's `max_connections`); more get ERR 1040.
    pub max_connections: usize,
    /// Most databases (SQLite files) clients may create; more get ERR 1006.
    pub max_databases: usize,
    /// Largest result set one query may build (SQLite mode); bigger ones get ERR 1041.
    pub max_result_size: ByteSize,
    /// Longest a statement may run (SQLite mode, MariaDB's `max_statement_time`); longer ones
    /// are interrupted with ERR 1969. `0s` means no limit.
    pub max_statement_time: Timeout,
    /// `[db.mysql]`: proxy to a real MySQL/MariaDB server instead of the embedded SQLite.
    pub mysql: MysqlConfig,
}

/// The `[db.mysql]` table: with a `url`, the database listener is a proxy to that server
/// (pooling, multiplexing, digests, slow log, read/write splitting) instead of SQLite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MysqlConfig {
    /// The primary, as `mysql://user:password@host:port/database`; empty means no proxy.
    pub url: String,
    /// Connections to each upstream kept open even when idle.
    pub min_connections: usize,
    /// Connections to each upstream at most; statements beyond wait for a free one. Split
    /// between the cores, each with pools of its own (see `dbwire::proxy::upstreams`).
    pub max_connections: usize,
    /// An idle connection above `min_connections` is closed after this long.
    pub idle_timeout: Timeout,
    /// A connection is replaced after this long.
    pub max_lifetime: Timeout,
    /// How often idle connections are pinged and pools topped up.
    pub health_check_interval: Timeout,
    /// How long a statement waits for a free connection before ERR 1040.
    pub acquire_timeout: Timeout,
    /// Time to connect and log in to an upstream.
    pub connect_timeout: Timeout,
    /// Statements slower than this go to the slow-query log.
    pub slow_query_threshold: Timeout,
    /// Slow queries kept.
    pub slow_log_entries: usize,
    /// Distinct query digests tracked, per core.
    pub max_digests: usize,
    /// `[db.mysql.replicas]`: read replicas.
    pub replicas: ReplicasConfig,
}

impl Default for MysqlConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            min_connections: 2,
            max_connections: 20,
            idle_timeout: Timeout(Duration::from_secs(300)),
            max_lifetime: Timeout(Duration::from_secs(3600)),
            health_check_interval: Timeout(Duration::from_secs(5)),
            acquire_timeout: Timeout(Duration::from_secs(10)),
            connect_timeout: Timeout(Duration::from_secs(5)),
            slow_query_threshold: Timeout(Duration::from_secs(1)),
            slow_log_entries: 100,
            max_digests: 10_000,
            replicas: ReplicasConfig::default(),
        }
    }
}

/// The `[db.mysql.replicas]` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReplicasConfig {
    /// Replica URLs, like `db.mysql.url`.
    pub urls: Vec<String>,
    /// Send reads outside transactions to the replicas.
    pub read_write_split: bool,
    /// After a session writes, its reads stay on the primary this long.
    pub sticky_after_write: Timeout,
    /// A replica further behind than this (or not replicating) gets no reads; `0s` turns
    /// lag checks off.
    pub max_replica_lag: Timeout,
    /// How often replica lag is checked.
    pub lag_check_interval: Timeout,
}

impl Default for ReplicasConfig {
    fn default() -> Self {
        Self {
            urls: Vec::new(),
            read_write_split: true,
            sticky_after_write: Timeout(Duration::from_secs(1)),
            max_replica_lag: Timeout(Duration::from_secs(10)),
            lag_check_interval: Timeout(Duration::from_secs(1)),
        }
    }
}

/// The `[node_api]` section: `/metrics` (Prometheus) and `/api/...` JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeApiConfig {
    /// Whether `ephpm serve` starts the node API.
    pub enabled: bool,
    /// Address of the node API listener.
    pub listen: SocketAddr,
    /// Bearer token clients must send (`Authorization: Bearer <secret>`); empty means no
    /// authentication, allowed on loopback addresses only.
    pub secret: String,
    /// Most connections served at once (each holds a thread); more are answered 503.
    pub max_connections: usize,
}

impl Default for NodeApiConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9090)),
            secret: String::new(),
            max_connections: 64,
        }
    }
}

impl Default for DbConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 3306)),
            socket: PathBuf::new(),
            data_dir: PathBuf::from(".ephpm/data"),
            username: "root".to_owned(),
            password: String::new(),
            create_databases: true,
            database: "ephpm".to_owned(),
            inject_env: true,
            max_connections: 1000,
            max_databases: 1000,
            max_result_size: ByteSize(512 * MIB),
            max_statement_time: Timeout(Duration::from_secs(60)),
            mysql: MysqlConfig::default(),
        }
    }
}

/// The `[kv]` section: the in-process Redis-compatible store, reachable from PHP through the
/// `ephpm_kv_*` functions and from Redis clients over RESP2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KvConfig {
    /// Whether `ephpm serve` starts the store (the PHP functions and the RESP listener).
    pub enabled: bool,
    /// Address every core's RESP listener binds (with `SO_REUSEPORT`).
    pub listen: SocketAddr,
    /// Password Redis clients must give with AUTH; empty means none (loopback only).
    pub password: String,
    /// Most memory the data may use; 0 means no limit.
    pub maxmemory: ByteSize,
    /// What happens at the limit: `noeviction` (writes fail with OOM), `allkeys-lru`,
    /// `volatile-lru`, `allkeys-random`, `volatile-random` or `volatile-ttl`.
    pub maxmemory_policy: String,
    /// Keep the data on disk (snapshots, plus the append-only log when `appendonly`) and load
    /// it at start-up; off, the store is a cache that starts empty.
    pub persistence: bool,
    /// Directory for the snapshot and the append-only log.
    pub data_dir: PathBuf,
    /// Log every write to an append-only file (replayed after the last snapshot at start-up).
    pub appendonly: bool,
    /// When the log reaches the disk: `always` (before each write is answered: no
    /// acknowledged write is lost), `everysec` or `no` (the OS decides).
    pub appendfsync: String,
    /// How often a snapshot is written when something changed; `0s`: only at shutdown (and
    /// on SAVE/BGSAVE).
    pub snapshot_interval: Timeout,
    /// Store string values of at least `compression_min_size` zstd-compressed (when that saves
    /// space); clients always see the original bytes, maxmemory counts the stored size.
    pub compression: bool,
    /// Smallest string value that is compressed.
    pub compression_min_size: ByteSize,
    /// Most Redis clients connected at once (Redis's `maxclients`); more get
    /// `-ERR max number of clients reached`.
    pub max_connections: usize,
}

impl Default for KvConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 6379)),
            password: String::new(),
            maxmemory: ByteSize(0),
            maxmemory_policy: "noeviction".to_owned(),
            persistence: false,
            data_dir: PathBuf::from(".ephpm/kv"),
            appendonly: true,
            appendfsync: "everysec".to_owned(),
            snapshot_interval: Timeout(Duration::from_secs(300)),
            compression: false,
            compression_min_size: ByteSize(KIB),
            max_connections: 10_000,
        }
    }
}

/// Where a setting's value came from, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A configuration file.
    File(PathBuf),
    /// An `EPHPM_*` environment variable, by name.
    Env(String),
    /// A command-line flag of `ephpm serve`, e.g. `--cores`.
    Flag(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "in {}", path.display()),
            Origin::Env(name) => write!(f, "from environment variable {name}"),
            Origin::Flag(flag) => write!(f, "from command-line flag {flag}"),
        }
    }
}

/// Why the configuration could not be loaded.
///
/// Every message starts with `config: ` and is complete on its own: the
/// underlying I/O or TOML error is part of the message rather than a
/// [`std::error::Error::source`], so it is printed exactly once.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("config: cannot read {}: {error}", path.display())]
    Read {
        /// The file that could not be read.
        path: PathBuf,
        /// The underlying I/O error.
        error: std::io::Error,
    },

    /// The configuration file is not valid TOML.
    #[error("config: {} is not valid TOML: {error}", path.display())]
    Syntax {
        /// The file that failed to parse.
        path: PathBuf,
        /// The parser's error, with line and column.
        error: toml::de::Error,
    },

    /// The configuration file has a key that is not a setting.
    #[error("config: {key}: unknown setting in {}", path.display())]
    UnknownKey {
        /// The dotted path of the key, e.g. `server.listn`.
        key: String,
        /// The file that has the key.
        path: PathBuf,
    },

    /// An `EPHPM_*` environment variable names no setting.
    #[error(
        "config: environment variable {name} names no setting; \
         expected EPHPM_<SECTION>__<KEY>, e.g. EPHPM_SERVER__LISTEN"
    )]
    UnknownEnvVar {
        /// The variable's name.
        name: String,
    },

    /// A setting has a value of the wrong type or out of range.
    #[error("config: {key}: {message}{}", origin_suffix(.origin.as_ref()))]
    InvalidValue {
        /// The dotted path of the setting, e.g. `server.cores`.
        key: String,
        /// What is wrong with the value.
        message: String,
        /// Where the value came from, when known.
        origin: Option<Origin>,
    },

    /// A `--php-ini` flag is not a `key=value` pair.
    #[error("config: --php-ini {0:?} is not a key=value pair")]
    InvalidIniFlag(String),

    /// The assembled settings could not be deserialized.
    #[error("config: {0}")]
    Deserialize(toml::de::Error),

    /// The built-in defaults could not be turned into a TOML table, which
    /// is needed to recognize setting names.
    #[error("config: cannot describe the built-in defaults: {0}")]
    Defaults(toml::ser::Error),
}

/// Formats an optional origin as ` (in ephpm.toml)`, or nothing.
fn origin_suffix(origin: Option<&Origin>) -> String {
    origin.map_or_else(String::new, |origin| format!(" ({origin})"))
}

impl Config {
    /// Loads the configuration: defaults, then `file` (or `./ephpm.toml`
    /// when `file` is `None` and it exists), then the `EPHPM_*` variables in
    /// `env`, then [`Config::validate`].
    ///
    /// Variables in `env` without the `EPHPM_` prefix are ignored, so the
    /// whole environment can be passed. Use `std::env::vars_os()` keeping the
    /// UTF-8 pairs: `std::env::vars()` panics on a non-UTF-8 variable.
    /// A `file` that was given but does not exist is an error.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        Self::load_with_default_file(file, Path::new(DEFAULT_CONFIG_FILE), env)
    }

    /// [`Config::load`], with `default_file` read when `file` is `None` and
    /// `default_file` exists.
    fn load_with_default_file(
        file: Option<&Path>,
        default_file: &Path,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let file = file.or_else(|| default_file.exists().then_some(default_file));
        let schema = Schema::new()?;
        let mut settings = Settings::default();
        if let Some(path) = file {
            settings.add_file(&schema, path, read_table(path)?)?;
        }
        for (name, value) in env {
            if name.starts_with(ENV_PREFIX) {
                settings.add_env_var(&schema, name, value)?;
            }
        }
        settings.into_config()
    }

    /// Applies the flags of `ephpm serve` over this configuration, then
    /// validates it. `--config` is not applied here; it selects the file
    /// given to [`Config::load`].
    pub fn apply_cli(&mut self, args: &ServeArgs) -> Result<(), ConfigError> {
        if let Some(root) = &args.root {
            self.server.document_root.clone_from(root);
        }
        if let Some(listen) = args.listen {
            self.server.listen = listen;
        }
        if let Some(cores) = args.cores {
            self.server.cores = cores;
        }
        if let Some(threads) = args.threads {
            self.php.threads_per_core = threads;
        }
        if let Some(script) = &args.worker {
            self.php.worker.script = script.clone();
        }
        if let Some(cert) = &args.tls_cert {
            self.server.tls.cert = cert.clone();
        }
        if let Some(key) = &args.tls_key {
            self.server.tls.key = key.clone();
        }
        for pair in &args.php_ini {
            let (key, value) = parse_ini_flag(pair)?;
            self.php.ini.insert(key, value);
        }
        self.validate()
            .map_err(|error| error.or_origin(|key| flag_for_setting(args, key).map(Origin::Flag)))
    }

    /// Checks the values that deserialization alone cannot: minimums, the
    /// log level and php.ini entry syntax. [`Config::load`] and
    /// [`Config::apply_cli`] call it and add the origin of a bad value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let server = &self.server;
        at_least("server.max_header_size", server.max_header_size.0, KIB)?;
        at_least("server.max_headers", server.max_headers, 1)?;
        at_least("server.queue_depth", server.queue_depth, 1)?;
        at_least("server.io_memory", server.io_memory.0, 64 * KIB)?;
        at_least("server.max_connections", server.max_connections, 1)?;
        server.tls.validate()?;
        at_least("kv.max_connections", self.kv.max_connections, 1)?;
        at_least("node_api.max_connections", self.node_api.max_connections, 1)?;
        let one_millisecond = Duration::from_millis(1);
        at_least(
            "server.header_read_timeout",
            server.header_read_timeout.0,
            one_millisecond,
        )?;
        at_least(
            "server.keep_alive_timeout",
            server.keep_alive_timeout.0,
            one_millisecond,
        )?;
        at_least(
            "server.send_timeout",
            server.send_timeout.0,
            one_millisecond,
        )?;
        at_least("php.threads_per_core", self.php.threads_per_core, 1)?;
        self.php.ini.iter().try_for_each(check_ini_entry)?;
        self.db.validate()?;
        self.kv.validate()?;
        self.node_api.validate()?;
        self.log.validate()
    }
}

impl DbConfig {
    /// Refuses an unauthenticated database on a non-loopback address.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.username.is_empty() {
            return Err(ConfigError::invalid("db.username", "must not be empty"));
        }
        at_least("db.max_connections", self.max_connections, 1)?;
        at_least("db.max_databases", self.max_databases, 1)?;
        if !self.mysql.url.is_empty() {
            at_least("db.mysql.max_connections", self.mysql.max_connections, 1)?;
            if let Err(error) = dbwire::client::ConnectOptions::from_url(&self.mysql.url) {
                return Err(ConfigError::invalid("db.mysql.url", error.to_string()));
            }
            for url in &self.mysql.replicas.urls {
                if let Err(error) = dbwire::client::ConnectOptions::from_url(url) {
                    return Err(ConfigError::invalid(
                        "db.mysql.replicas.urls",
                        error.to_string(),
                    ));
                }
            }
        }
        if self.enabled && !self.listen.ip().is_loopback() {
            if self.password.is_empty() {
                return Err(ConfigError::invalid(
                    "db.listen",
                    "without db.password the database listens on loopback addresses only",
                ));
            }
            // In proxy mode clients may also log in with the upstream URL's account.
            let url_password = dbwire::client::ConnectOptions::from_url(&self.mysql.url)
                .map(|upstream| upstream.password)
                .unwrap_or_default();
            if !self.mysql.url.is_empty() && url_password.is_empty() {
                return Err(ConfigError::invalid(
                    "db.listen",
                    "db.mysql.url names an account without a password, which clients could \
                     log in with: the proxy listens on loopback addresses only then",
                ));
            }
        }
        Ok(())
    }
}

impl NodeApiConfig {
    /// Refuses an unauthenticated node API on a non-loopback address.
    fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled && self.secret.is_empty() && !self.listen.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "node_api.listen",
                "without node_api.secret the node API listens on loopback addresses only",
            ));
        }
        Ok(())
    }
}

impl KvConfig {
    /// Checks the eviction policy and refuses an unauthenticated listener off loopback.
    fn validate(&self) -> Result<(), ConfigError> {
        if let Err(err) = self.maxmemory_policy.parse::<kv::EvictionPolicy>() {
            return Err(ConfigError::invalid("kv.maxmemory_policy", err.to_string()));
        }
        if let Err(err) = self.appendfsync.parse::<kv::AppendFsync>() {
            return Err(ConfigError::invalid("kv.appendfsync", err.to_string()));
        }
        if self.enabled && self.password.is_empty() && !self.listen.ip().is_loopback() {
            return Err(ConfigError::invalid(
                "kv.listen",
                "without kv.password the store listens on loopback addresses only",
            ));
        }
        Ok(())
    }
}

impl LogConfig {
    /// Checks the level and that both destinations are named.
    fn validate(&self) -> Result<(), ConfigError> {
        if !LOG_LEVELS.contains(&self.level.as_str()) {
            let message = format!(
                "unknown level {:?}, expected one of {}",
                self.level,
                LOG_LEVELS.join(", ")
            );
            return Err(ConfigError::invalid("log.level", message));
        }
        if self.access_log.is_empty() {
            return Err(ConfigError::invalid(
                "log.access_log",
                "must be \"stdout\", \"off\" or a file path",
            ));
        }
        if self.error_log.is_empty() {
            return Err(ConfigError::invalid(
                "log.error_log",
                "must be \"stderr\" or a file path",
            ));
        }
        Ok(())
    }
}

impl ConfigError {
    /// A [`ConfigError::InvalidValue`] whose origin is not known yet.
    fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::InvalidValue {
            key: key.into(),
            message: message.into(),
            origin: None,
        }
    }

    /// Fills in the origin of a [`ConfigError::InvalidValue`] that has
    /// none, looking it up by the setting's dotted path.
    fn or_origin(self, find: impl FnOnce(&str) -> Option<Origin>) -> Self {
        match self {
            ConfigError::InvalidValue {
                key,
                message,
                origin: None,
            } => {
                let origin = find(&key);
                ConfigError::InvalidValue {
                    key,
                    message,
                    origin,
                }
            }
            other => other,
        }
    }
}

/// Requires `value >= minimum`.
fn at_least<T: PartialOrd + fmt::Debug>(
    key: &str,
    value: T,
    minimum: T,
) -> Result<(), ConfigError> {
    if value >= minimum {
        Ok(())
    } else {
        let message = format!("must be at least {minimum:?}, got {value:?}");
        Err(ConfigError::invalid(key, message))
    }
}

/// Rejects php.ini entries that could not be written as a `key=value` line.
fn check_ini_entry((name, value): (&String, &String)) -> Result<(), ConfigError> {
    let key = || format!("php.ini.{name}");
    let bad_name_char = |c: char| c == '=' || c.is_whitespace() || c.is_control();
    if name.is_empty() || name.contains(bad_name_char) {
        return Err(ConfigError::invalid(
            key(),
            "a php.ini name must be non-empty, without spaces, '=' or control characters",
        ));
    }
    if value.contains(['\n', '\r', '\0']) {
        return Err(ConfigError::invalid(
            key(),
            "a php.ini value must not contain line breaks or NUL",
        ));
    }
    Ok(())
}

/// Splits a `--php-ini key=value` flag, trimming both halves.
fn parse_ini_flag(pair: &str) -> Result<(String, String), ConfigError> {
    match pair.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => {
            Ok((key.trim().to_owned(), value.trim().to_owned()))
        }
        _ => Err(ConfigError::InvalidIniFlag(pair.to_owned())),
    }
}

/// The `serve` flag that set the setting `key`, if one did.
fn flag_for_setting(args: &ServeArgs, key: &str) -> Option<&'static str> {
    match key {
        "server.document_root" if args.root.is_some() => Some("--root"),
        "server.listen" if args.listen.is_some() => Some("--listen"),
        "server.cores" if args.cores.is_some() => Some("--cores"),
        "php.threads_per_core" if args.threads.is_some() => Some("--threads"),
        "php.worker.script" if args.worker.is_some() => Some("--worker"),
        "server.tls.cert" if args.tls_cert.is_some() => Some("--tls-cert"),
        "server.tls.key" if args.tls_key.is_some() => Some("--tls-key"),
        _ if key.starts_with("php.ini.") && !args.php_ini.is_empty() => Some("--php-ini"),
        _ => None,
    }
}

/// Reads and parses a TOML file.
fn read_table(path: &Path) -> Result<Table, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
        path: path.to_owned(),
        error,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Syntax {
        path: path.to_owned(),
        error,
    })
}

/// What kind of value a setting holds, as far as raw input is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SettingKind {
    /// Written as a string in TOML: text, addresses, paths, sizes, durations.
    Text,
    /// A TOML number or boolean.
    Scalar,
    /// A list of strings (in an environment variable: comma-separated, or a TOML array).
    List,
    /// A table of arbitrary entries, like `php.ini`.
    Map,
    /// A table of known settings, like `[db.mysql]`.
    Section,
}

/// The known settings, taken from the serialized defaults so that it can
/// never disagree with [`Config`].
struct Schema {
    defaults: Table,
}

impl Schema {
    fn new() -> Result<Self, ConfigError> {
        let defaults = Table::try_from(Config::default()).map_err(ConfigError::Defaults)?;
        Ok(Self { defaults })
    }

    fn has_section(&self, section: &str) -> bool {
        self.defaults.contains_key(section)
    }

    /// The kind of the setting at `path` (`["db", "mysql", "url"]`), or `None` if there is
    /// no such setting.
    fn kind(&self, path: &[String]) -> Option<SettingKind> {
        let (last, parents) = path.split_last()?;
        let mut table = &self.defaults;
        for parent in parents {
            table = table.get(parent)?.as_table()?;
        }
        Some(match table.get(last)? {
            Value::String(_) => SettingKind::Text,
            Value::Array(_) => SettingKind::List,
            // Maps (php.ini) have no entries by default; sections always have settings.
            Value::Table(entries) if entries.is_empty() => SettingKind::Map,
            Value::Table(_) => SettingKind::Section,
            _ => SettingKind::Scalar,
        })
    }
}

/// A raw value from a file or an environment variable.
#[derive(Debug)]
struct RawSetting {
    value: Value,
    origin: Origin,
}

/// Every setting given by the file and the environment, keyed by its path
/// (`["server", "cores"]`, `["php", "ini", "memory_limit"]`). Later layers
/// replace earlier ones.
#[derive(Debug, Default)]
struct Settings {
    by_path: BTreeMap<Vec<String>, RawSetting>,
}

impl Settings {
    /// Adds every key of a parsed configuration file.
    fn add_file(&mut self, schema: &Schema, path: &Path, table: Table) -> Result<(), ConfigError> {
        let unknown = |key: String| ConfigError::UnknownKey {
            key,
            path: path.to_owned(),
        };
        for (section, value) in table {
            if !schema.has_section(&section) {
                return Err(unknown(section));
            }
            let Value::Table(entries) = value else {
                // Not a table: the typed check reports the wrong type.
                self.insert(vec![section], value, Origin::File(path.to_owned()));
                continue;
            };
            self.add_file_table(schema, &[section], entries, path)?;
        }
        Ok(())
    }

    /// Adds the settings of the table at `prefix` (a section, or a nested one like
    /// `db.mysql`), splitting maps into their entries.
    fn add_file_table(
        &mut self,
        schema: &Schema,
        prefix: &[String],
        entries: Table,
        file: &Path,
    ) -> Result<(), ConfigError> {
        for (key, value) in entries {
            let path = [prefix, &[key]].concat();
            let kind = schema.kind(&path).ok_or_else(|| ConfigError::UnknownKey {
                key: path.join("."),
                path: file.to_owned(),
            })?;
            match (kind, value) {
                (SettingKind::Map, Value::Table(entries)) => {
                    for (name, value) in flatten_table(entries) {
                        let entry_path = [path.as_slice(), &[name]].concat();
                        self.insert(entry_path, value, Origin::File(file.to_owned()));
                    }
                }
                (SettingKind::Section, Value::Table(entries)) => {
                    self.add_file_table(schema, &path, entries, file)?;
                }
                (_, value) => self.insert(path, value, Origin::File(file.to_owned())),
            }
        }
        Ok(())
    }

    /// Adds an `EPHPM_<SECTION>__<KEY>[__<ENTRY>]` variable.
    fn add_env_var(
        &mut self,
        schema: &Schema,
        name: String,
        raw: String,
    ) -> Result<(), ConfigError> {
        let Some((path, kind)) = env_setting_path(schema, &name) else {
            return Err(ConfigError::UnknownEnvVar { name });
        };
        let value = match kind {
            SettingKind::Scalar => parse_scalar(raw),
            SettingKind::List => parse_list(raw),
            SettingKind::Text | SettingKind::Map | SettingKind::Section => Value::String(raw),
        };
        self.insert(path, value, Origin::Env(name));
        Ok(())
    }

    fn insert(&mut self, path: Vec<String>, value: Value, origin: Origin) {
        self.by_path.insert(path, RawSetting { value, origin });
    }

    /// Where the setting with dotted path `key` came from.
    fn origin_of(&self, key: &str) -> Option<Origin> {
        self.by_path
            .iter()
            .find(|(path, _)| path.join(".") == key)
            .map(|(_, setting)| setting.origin.clone())
    }

    /// Checks each setting's type on its own, so that an error names it,
    /// then builds and validates the [`Config`].
    fn into_config(self) -> Result<Config, ConfigError> {
        for (path, setting) in &self.by_path {
            nest(path, setting.value.clone())
                .try_into::<Config>()
                .map_err(|error| ConfigError::InvalidValue {
                    key: path.join("."),
                    message: error.message().to_owned(),
                    origin: Some(setting.origin.clone()),
                })?;
        }
        let mut table = Table::new();
        for (path, setting) in &self.by_path {
            insert_at(&mut table, path, setting.value.clone());
        }
        let config: Config = Value::Table(table)
            .try_into()
            .map_err(ConfigError::Deserialize)?;
        config
            .validate()
            .map_err(|error| error.or_origin(|key| self.origin_of(key)))?;
        Ok(config)
    }
}

/// The leaves of `table` with dotted names: `{opcache = {enable = 1}}`
/// becomes `opcache.enable = 1`.
fn flatten_table(table: Table) -> Vec<(String, Value)> {
    let mut flat = Vec::new();
    for (name, value) in table {
        match value {
            Value::Table(inner) => flat.extend(
                flatten_table(inner)
                    .into_iter()
                    .map(|(rest, value)| (format!("{name}.{rest}"), value)),
            ),
            value => flat.push((name, value)),
        }
    }
    flat
}

/// The setting path and kind named by an `EPHPM_` variable, if it names one:
/// `EPHPM_DB__MYSQL__URL` is `db.mysql.url`, `EPHPM_PHP__INI__OPCACHE__JIT` the php.ini
/// entry `opcache.jit`.
fn env_setting_path(schema: &Schema, name: &str) -> Option<(Vec<String>, SettingKind)> {
    let name = name.strip_prefix(ENV_PREFIX)?.to_lowercase();
    let parts: Vec<&str> = name.split(ENV_SEPARATOR).collect();
    if parts.len() < 2 || parts.iter().any(|part| part.is_empty()) {
        return None;
    }
    let mut path = vec![parts[0].to_owned()];
    for (index, part) in parts.iter().enumerate().skip(1) {
        path.push((*part).to_owned());
        let last = index + 1 == parts.len();
        match schema.kind(&path)? {
            SettingKind::Section if !last => continue,
            SettingKind::Map if !last => {
                path.push(parts[index + 1..].join("."));
                return Some((path, SettingKind::Map));
            }
            kind @ (SettingKind::Text | SettingKind::Scalar | SettingKind::List) if last => {
                return Some((path, kind));
            }
            _ => return None,
        }
    }
    None
}

/// Parses an environment value as a list: a TOML array of strings (`["a", "b"]`) or
/// comma-separated items.
fn parse_list(raw: String) -> Value {
    if raw.trim_start().starts_with('[') {
        if let Ok(value @ Value::Array(_)) =
            Value::deserialize(toml::de::ValueDeserializer::new(&raw))
        {
            return value;
        }
        return Value::String(raw);
    }
    Value::Array(
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| Value::String(item.to_owned()))
            .collect(),
    )
}

/// Parses an environment value as a TOML number or boolean, falling back to
/// the verbatim string (which the typed check then reports as wrong).
fn parse_scalar(raw: String) -> Value {
    match Value::deserialize(toml::de::ValueDeserializer::new(&raw)) {
        Ok(value @ (Value::Integer(_) | Value::Float(_) | Value::Boolean(_))) => value,
        _ => Value::String(raw),
    }
}

/// Wraps `value` in one table per element of `path`.
fn nest(path: &[String], value: Value) -> Value {
    path.iter().rev().fold(value, |inner, key| {
        let mut table = Table::new();
        table.insert(key.clone(), inner);
        Value::Table(table)
    })
}

/// Inserts `value` at `path`, creating tables on the way.
fn insert_at(table: &mut Table, path: &[String], value: Value) {
    match path {
        [] => {}
        [last] => {
            table.insert(last.clone(), value);
        }
        [first, rest @ ..] => {
            let child = table
                .entry(first.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            if let Value::Table(child) = child {
                insert_at(child, rest, value);
            }
        }
    }
}

/// Deserializes the php.ini map, accepting numbers and booleans as values and
/// joining nested tables with dots (`opcache.enable = 1` in TOML is a table).
fn deserialize_ini<'de, D>(deserializer: D) -> Result<BTreeMap<String, String>, D::Error>
where
    D: Deserializer<'de>,
{
    let entries = BTreeMap::<String, IniEntry>::deserialize(deserializer)?;
    let mut flat = BTreeMap::new();
    flatten_ini(None, entries, &mut flat);
    Ok(flat)
}

/// Adds `entries` to `flat`, prefixing names with `prefix` and a dot.
fn flatten_ini(
    prefix: Option<&str>,
    entries: BTreeMap<String, IniEntry>,
    flat: &mut BTreeMap<String, String>,
) {
    for (name, entry) in entries {
        let name = match prefix {
            Some(prefix) => format!("{prefix}.{name}"),
            None => name,
        };
        match entry {
            IniEntry::Value(value) => {
                flat.insert(name, value);
            }
            IniEntry::Table(inner) => flatten_ini(Some(&name), inner, flat),
        }
    }
}

/// A php.ini value, or a table of them under a dotted prefix.
enum IniEntry {
    /// A string, or a number or boolean turned into one.
    Value(String),
    /// Entries whose names continue the key, e.g. `enable` under `opcache`.
    Table(BTreeMap<String, IniEntry>),
}

impl<'de> Deserialize<'de> for IniEntry {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(IniEntryVisitor)
    }
}

struct IniEntryVisitor;

impl<'de> Visitor<'de> for IniEntryVisitor {
    type Value = IniEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number or boolean")
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<IniEntry, E> {
        Ok(IniEntry::Value(value.to_owned()))
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<IniEntry, E> {
        Ok(IniEntry::Value(if value { "1" } else { "0" }.to_owned()))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<IniEntry, E> {
        Ok(IniEntry::Value(value.to_string()))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<IniEntry, E> {
        Ok(IniEntry::Value(value.to_string()))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<IniEntry, E> {
        Ok(IniEntry::Value(value.to_string()))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<IniEntry, A::Error> {
        let mut entries = BTreeMap::new();
        while let Some((name, entry)) = map.next_entry::<String, IniEntry>()? {
            entries.insert(name, entry);
        }
        Ok(IniEntry::Table(entries))
    }
}

/// A string that is not a valid size or duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {input:?}: {reason}")]
pub struct ParseQuantityError {
    what: &'static str,
    input: String,
    reason: String,
}

impl ParseQuantityError {
    fn new(what: &'static str, input: &str, reason: impl Into<String>) -> Self {
        Self {
            what,
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Splits `"64 MiB"` into the number 64 and the unit `"MiB"`.
fn split_quantity<'a>(
    what: &'static str,
    input: &'a str,
) -> Result<(u64, &'a str), ParseQuantityError> {
    let trimmed = input.trim();
    let unit_start = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (digits, unit) = trimmed.split_at(unit_start);
    if digits.is_empty() {
        return Err(ParseQuantityError::new(
            what,
            input,
            "expected a whole number followed by a unit",
        ));
    }
    let number = digits
        .parse::<u64>()
        .map_err(|_| ParseQuantityError::new(what, input, "number is too large"))?;
    Ok((number, unit.trim()))
}

/// A number of bytes, written in configuration as an integer or a string
/// like `"64M"`, `"16KiB"` or `"1G"` (all units 1024-based).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

/// Units of [`ByteSize`] from largest to smallest, with their display suffix.
const SIZE_UNITS: [(u64, &str); 5] = [
    (TIB, "TiB"),
    (GIB, "GiB"),
    (MIB, "MiB"),
    (KIB, "KiB"),
    (1, "B"),
];

/// The multiplier of a lowercased size unit.
fn size_unit(unit: &str) -> Option<u64> {
    match unit {
        "" | "b" => Some(1),
        "k" | "kb" | "kib" => Some(KIB),
        "m" | "mb" | "mib" => Some(MIB),
        "g" | "gb" | "gib" => Some(GIB),
        "t" | "tb" | "tib" => Some(TIB),
        _ => None,
    }
}

impl FromStr for ByteSize {
    type Err = ParseQuantityError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_quantity("size", input)?;
        let multiplier = size_unit(&unit.to_ascii_lowercase()).ok_or_else(|| {
            ParseQuantityError::new(
                "size",
                input,
                format!("unknown unit {unit:?}, expected B, K, M, G or T (optionally + B or iB)"),
            )
        })?;
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| ParseQuantityError::new("size", input, "too large"))
    }
}

/// Formats with the largest unit that divides the size exactly: `64MiB`.
impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (unit, suffix) = SIZE_UNITS
            .into_iter()
            .find(|(unit, _)| self.0 % unit == 0 && self.0 >= *unit)
            .unwrap_or((1, "B"));
        write!(f, "{}{suffix}", self.0 / unit)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ByteSizeVisitor)
    }
}

struct ByteSizeVisitor;

impl Visitor<'_> for ByteSizeVisitor {
    type Value = ByteSize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of bytes or a string like \"64M\"")
    }

    fn visit_u64<E: de::Error>(self, bytes: u64) -> Result<ByteSize, E> {
        Ok(ByteSize(bytes))
    }

    fn visit_i64<E: de::Error>(self, bytes: i64) -> Result<ByteSize, E> {
        u64::try_from(bytes)
            .map(ByteSize)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(bytes), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<ByteSize, E> {
        text.parse().map_err(E::custom)
    }
}

/// A timeout, written in configuration as an integer number of seconds or a
/// string like `"500ms"`, `"30s"`, `"2m"`, `"1h"` or `"30d"`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timeout(pub Duration);

impl FromStr for Timeout {
    type Err = ParseQuantityError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_quantity("duration", input)?;
        let seconds_per_unit = match unit.to_ascii_lowercase().as_str() {
            "ms" => return Ok(Timeout(Duration::from_millis(number))),
            "" | "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 24 * 3600,
            _ => {
                let reason = format!("unknown unit {unit:?}, expected ms, s, m, h or d");
                return Err(ParseQuantityError::new("duration", input, reason));
            }
        };
        number
            .checked_mul(seconds_per_unit)
            .map(|seconds| Timeout(Duration::from_secs(seconds)))
            .ok_or_else(|| ParseQuantityError::new("duration", input, "too large"))
    }
}

/// Formats with the largest unit that represents the timeout exactly
/// (`75s`, `2m`), or in milliseconds, truncating anything finer.
impl fmt::Display for Timeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.subsec_nanos() != 0 {
            return write!(f, "{}ms", self.0.as_millis());
        }
        match self.0.as_secs() {
            0 => f.write_str("0s"),
            secs if secs % 86400 == 0 => write!(f, "{}d", secs / 86400),
            secs if secs % 3600 == 0 => write!(f, "{}h", secs / 3600),
            secs if secs % 60 == 0 => write!(f, "{}m", secs / 60),
            secs => write!(f, "{secs}s"),
        }
    }
}

impl Serialize for Timeout {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timeout {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TimeoutVisitor)
    }
}

struct TimeoutVisitor;

impl Visitor<'_> for TimeoutVisitor {
    type Value = Timeout;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number of seconds or a string like \"30s\", \"500ms\" or \"2m\"")
    }

    fn visit_u64<E: de::Error>(self, seconds: u64) -> Result<Timeout, E> {
        Ok(Timeout(Duration::from_secs(seconds)))
    }

    fn visit_i64<E: de::Error>(self, seconds: i64) -> Result<Timeout, E> {
        u64::try_from(seconds)
            .map(|seconds| Timeout(Duration::from_secs(seconds)))
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(seconds), &self))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Timeout, E> {
        text.parse().map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const EXAMPLE_FILE: &str = include_str!("../config/ephpm.toml");

    fn env(vars: &[(&str, &str)]) -> Vec<(String, String)> {
        vars.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    fn load_text(text: &str, vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let file = config_file(text);
        Config::load(Some(file.path()), env(vars))
    }

    fn load_env(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let no_default_file = Path::new("/nonexistent/ephpm.toml");
        Config::load_with_default_file(None, no_default_file, env(vars))
    }

    fn load_text_error(text: &str) -> (String, PathBuf) {
        let file = config_file(text);
        let error = Config::load(Some(file.path()), Vec::new()).unwrap_err();
        (error.to_string(), file.path().to_owned())
    }

    fn load_env_error(vars: &[(&str, &str)]) -> String {
        load_env(vars).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_production_values() {
        let config = Config::default();
        assert_eq!(config.server.listen, "0.0.0.0:8080".parse().unwrap());
        assert_eq!(config.server.document_root, PathBuf::from("."));
        assert_eq!(config.server.cores, 0);
        assert_eq!(config.server.max_body_size, ByteSize(64 << 20));
        assert_eq!(config.server.max_header_size, ByteSize(16 << 10));
        assert_eq!(config.server.max_headers, 100);
        assert_eq!(
            config.server.header_read_timeout,
            Timeout(Duration::from_secs(10))
        );
        assert_eq!(
            config.server.keep_alive_timeout,
            Timeout(Duration::from_secs(75))
        );
        assert_eq!(
            config.server.drain_timeout,
            Timeout(Duration::from_secs(30))
        );
        assert_eq!(config.server.queue_depth, 1024);
        assert!(config.server.gzip);
        assert_eq!(config.server.io_memory, ByteSize(512 << 10));
        assert_eq!(config.php.threads_per_core, 8);
        assert!(config.php.ini.is_empty());
        assert!(config.php.opcache);
        assert!(!config.php.jit);
        assert_eq!(config.log.level, "info");
        assert_eq!(config.log.access_log, "stdout");
        assert_eq!(config.log.error_log, "stderr");
        config.validate().unwrap();
    }

    #[test]
    fn example_file_matches_the_defaults() {
        let parsed: Config = toml::from_str(EXAMPLE_FILE).unwrap();
        assert_eq!(parsed, Config::default());
    }

    #[test]
    fn example_file_lists_every_setting_in_canonical_form() {
        let listed: Table = toml::from_str(EXAMPLE_FILE).unwrap();
        let defaults = Table::try_from(Config::default()).unwrap();
        assert_eq!(listed, defaults);
    }

    #[test]
    fn no_file_and_no_env_gives_the_defaults() {
        assert_eq!(load_env(&[]).unwrap(), Config::default());
    }

    #[test]
    fn file_settings_override_the_defaults() {
        let config = load_text(
            r#"
            [server]
            listen = "127.0.0.1:9000"
            document_root = "/srv/app/public"
            cores = 2
            max_body_size = "8M"
            max_header_size = 32768
            keep_alive_timeout = 5
            drain_timeout = "500ms"
            gzip = false

            [php]
            threads_per_core = 4
            jit = true

            [php.ini]
            memory_limit = "256M"
            max_execution_time = 30
            display_errors = false
            opcache.jit_buffer_size = "64M"

            [log]
            level = "debug"
            access_log = "off"
            "#,
            &[],
        )
        .unwrap();

        let mut expected = Config::default();
        expected.server.listen = "127.0.0.1:9000".parse().unwrap();
        expected.server.document_root = PathBuf::from("/srv/app/public");
        expected.server.cores = 2;
        expected.server.max_body_size = ByteSize(8 << 20);
        expected.server.max_header_size = ByteSize(32768);
        expected.server.keep_alive_timeout = Timeout(Duration::from_secs(5));
        expected.server.drain_timeout = Timeout(Duration::from_millis(500));
        expected.server.gzip = false;
        expected.php.threads_per_core = 4;
        expected.php.jit = true;
        expected.php.ini = BTreeMap::from([
            ("display_errors".to_owned(), "0".to_owned()),
            ("max_execution_time".to_owned(), "30".to_owned()),
            ("memory_limit".to_owned(), "256M".to_owned()),
            ("opcache.jit_buffer_size".to_owned(), "64M".to_owned()),
        ]);
        expected.log.level = "debug".to_owned();
        expected.log.access_log = "off".to_owned();
        assert_eq!(config, expected);
    }

    #[test]
    fn explicit_missing_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.toml");
        let error = Config::load(Some(&path), Vec::new()).unwrap_err();
        assert!(matches!(error, ConfigError::Read { .. }), "{error:?}");
        assert!(
            error.to_string().contains(&path.display().to_string()),
            "{error}"
        );
    }

    #[test]
    fn invalid_toml_is_an_error_naming_the_file_and_line() {
        let (message, path) = load_text_error("[server]\ncores = = 2\n");
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("line 2"), "{message}");
    }

    #[test]
    fn unknown_key_in_file_is_an_error_naming_it() {
        let (message, path) = load_text_error("[server]\nlistn = \"127.0.0.1:1\"\n");
        assert_eq!(
            message,
            format!(
                "config: server.listn: unknown setting in {}",
                path.display()
            )
        );
    }

    #[test]
    fn unknown_section_in_file_is_an_error_naming_it() {
        let (message, _) = load_text_error("[sever]\nlisten = \"127.0.0.1:1\"\n");
        assert!(
            message.starts_with("config: sever: unknown setting"),
            "{message}"
        );
    }

    #[test]
    fn wrong_type_in_file_names_the_key_and_file() {
        let (message, path) = load_text_error("[server]\ncores = \"x\"\n");
        assert_eq!(
            message,
            format!(
                "config: server.cores: invalid type: string \"x\", expected usize (in {})",
                path.display()
            )
        );
    }

    #[test]
    fn section_that_is_not_a_table_is_an_error_naming_it() {
        let (message, _) = load_text_error("server = 5\n");
        assert!(
            message.starts_with("config: server: invalid type"),
            "{message}"
        );
    }

    #[test]
    fn bad_values_in_file_name_the_key() {
        let cases = [
            ("[server]\nlisten = \"localhost\"", "server.listen"),
            ("[server]\nmax_body_size = \"64X\"", "server.max_body_size"),
            ("[server]\nmax_body_size = -1", "server.max_body_size"),
            ("[server]\ndrain_timeout = \"soon\"", "server.drain_timeout"),
            ("[server]\ngzip = \"yes\"", "server.gzip"),
            ("[php.ini]\nmemory_limit = [1]", "php.ini.memory_limit"),
            ("[php]\nini = \"memory_limit=1\"", "php.ini"),
            ("[log]\nlevel = \"loud\"", "log.level"),
        ];
        for (text, key) in cases {
            let (message, path) = load_text_error(text);
            assert!(
                message.starts_with(&format!("config: {key}: ")),
                "{text}: {message}"
            );
            assert!(
                message.ends_with(&format!("(in {})", path.display())),
                "{text}: {message}"
            );
        }
    }

    #[test]
    fn env_overrides_scalars_strings_and_the_file() {
        let config = load_text(
            "[server]\ncores = 2\nlisten = \"127.0.0.1:1\"\n",
            &[
                ("EPHPM_SERVER__LISTEN", "127.0.0.1:9000"),
                ("EPHPM_SERVER__CORES", "4"),
                ("EPHPM_SERVER__GZIP", "false"),
                ("EPHPM_SERVER__MAX_BODY_SIZE", "1G"),
                ("EPHPM_SERVER__KEEP_ALIVE_TIMEOUT", "2m"),
                ("EPHPM_LOG__LEVEL", "trace"),
                ("EPHPM_LOG__ACCESS_LOG", "123"),
                ("PATH", "/usr/bin"),
            ],
        )
        .unwrap();
        assert_eq!(config.server.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.server.cores, 4);
        assert!(!config.server.gzip);
        assert_eq!(config.server.max_body_size, ByteSize(1 << 30));
        assert_eq!(
            config.server.keep_alive_timeout,
            Timeout(Duration::from_secs(120))
        );
        assert_eq!(config.log.level, "trace");
        assert_eq!(config.log.access_log, "123");
    }

    #[test]
    fn nested_db_mysql_tables_come_from_files_and_env() {
        let config = load_text(
            "[db.mysql]\nurl = \"mysql://app:pw@10.0.0.1/shop\"\nmax_connections = 7\n\
             [db.mysql.replicas]\nurls = [\"mysql://app:pw@10.0.0.2/shop\"]\n\
             sticky_after_write = \"250ms\"\n",
            &[
                ("EPHPM_DB__MYSQL__MIN_CONNECTIONS", "3"),
                ("EPHPM_DB__MYSQL__REPLICAS__READ_WRITE_SPLIT", "false"),
            ],
        )
        .unwrap();
        let mysql = &config.db.mysql;
        assert_eq!(mysql.url, "mysql://app:pw@10.0.0.1/shop");
        assert_eq!((mysql.min_connections, mysql.max_connections), (3, 7));
        assert_eq!(mysql.replicas.urls, ["mysql://app:pw@10.0.0.2/shop"]);
        assert!(!mysql.replicas.read_write_split);
        assert_eq!(
            mysql.replicas.sticky_after_write,
            Timeout(Duration::from_millis(250))
        );

        let urls = "mysql://a@h1/db, mysql://a@h2/db";
        let config = load_text("", &[("EPHPM_DB__MYSQL__REPLICAS__URLS", urls)]).unwrap();
        assert_eq!(
            config.db.mysql.replicas.urls,
            ["mysql://a@h1/db", "mysql://a@h2/db"]
        );
        let array = "[\"mysql://a@h3/db\"]";
        let config = load_text("", &[("EPHPM_DB__MYSQL__REPLICAS__URLS", array)]).unwrap();
        assert_eq!(config.db.mysql.replicas.urls, ["mysql://a@h3/db"]);
    }

    #[test]
    fn nested_tables_reject_unknown_keys_and_bad_urls() {
        let err = load_text("[db.mysql.replicas]\nurl = \"x\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("db.mysql.replicas.url"), "{err}");
        let err = load_text("", &[("EPHPM_DB__MYSQL__NOPE", "1")]).unwrap_err();
        assert!(err.to_string().contains("EPHPM_DB__MYSQL__NOPE"), "{err}");
        let err = load_text("[db.mysql]\nurl = \"postgres://x\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("db.mysql.url"), "{err}");
    }

    #[test]
    fn a_public_proxy_needs_a_password_on_the_upstream_account_too() {
        let open_upstream = "[db]\nlisten = \"0.0.0.0:3306\"\npassword = \"p\"\n\
                             [db.mysql]\nurl = \"mysql://app@db:3306/app\"\n";
        let err = load_text(open_upstream, &[]).unwrap_err();
        assert!(err.to_string().contains("without a password"), "{err}");
        let closed_upstream = "[db]\nlisten = \"0.0.0.0:3306\"\npassword = \"p\"\n\
                               [db.mysql]\nurl = \"mysql://app:secret@db:3306/app\"\n";
        load_text(closed_upstream, &[]).unwrap();
        let loopback = "[db.mysql]\nurl = \"mysql://app@db:3306/app\"\n";
        load_text(loopback, &[]).unwrap();
    }

    #[test]
    fn node_api_without_a_secret_stays_on_loopback() {
        let err = load_text("[node_api]\nlisten = \"0.0.0.0:9090\"\n", &[]).unwrap_err();
        assert!(err.to_string().contains("node_api.listen"), "{err}");
        load_text(
            "[node_api]\nlisten = \"0.0.0.0:9090\"\nsecret = \"s\"\n",
            &[],
        )
        .unwrap();
    }

    #[test]
    fn env_sets_php_ini_entries_with_lowercased_dotted_names() {
        let config = load_text(
            "[php.ini]\nmemory_limit = \"128M\"\ndisplay_errors = \"On\"\n",
            &[
                ("EPHPM_PHP__INI__MEMORY_LIMIT", "256M"),
                ("EPHPM_PHP__INI__OPCACHE__JIT_BUFFER_SIZE", "64M"),
                ("EPHPM_PHP__INI__MAX_EXECUTION_TIME", "30"),
            ],
        )
        .unwrap();
        let expected = BTreeMap::from([
            ("display_errors".to_owned(), "On".to_owned()),
            ("max_execution_time".to_owned(), "30".to_owned()),
            ("memory_limit".to_owned(), "256M".to_owned()),
            ("opcache.jit_buffer_size".to_owned(), "64M".to_owned()),
        ]);
        assert_eq!(config.php.ini, expected);
    }

    #[test]
    fn unknown_env_vars_are_errors_naming_the_variable() {
        for name in [
            "EPHPM_SERVER__LISTN",
            "EPHPM_SEVER__LISTEN",
            "EPHPM_SERVER",
            "EPHPM_LISTEN",
            "EPHPM_SERVER__LISTEN__PORT",
            "EPHPM_PHP__INI",
            "EPHPM_PHP__INI____X",
        ] {
            let message = load_env_error(&[(name, "1")]);
            assert!(
                message.starts_with(&format!("config: environment variable {name} names no")),
                "{message}"
            );
        }
    }

    #[test]
    fn wrong_type_in_env_names_the_key_and_variable() {
        assert_eq!(
            load_env_error(&[("EPHPM_SERVER__CORES", "x")]),
            "config: server.cores: invalid type: string \"x\", expected usize \
             (from environment variable EPHPM_SERVER__CORES)"
        );
        assert_eq!(
            load_env_error(&[("EPHPM_SERVER__CORES", "-1")]),
            "config: server.cores: invalid value: integer `-1`, expected usize \
             (from environment variable EPHPM_SERVER__CORES)"
        );
    }

    #[test]
    fn out_of_range_values_name_the_key_and_source() {
        assert_eq!(
            load_env_error(&[("EPHPM_PHP__THREADS_PER_CORE", "0")]),
            "config: php.threads_per_core: must be at least 1, got 0 \
             (from environment variable EPHPM_PHP__THREADS_PER_CORE)"
        );
        let (message, path) = load_text_error("[server]\nmax_header_size = \"512B\"\n");
        assert_eq!(
            message,
            format!(
                "config: server.max_header_size: must be at least 1024, got 512 (in {})",
                path.display()
            )
        );
    }

    #[test]
    fn bad_ini_entries_name_the_entry_and_source() {
        let (message, path) = load_text_error("[php.ini]\nopcache.x = \"1\\nextension=evil.so\"\n");
        assert_eq!(
            message,
            format!(
                "config: php.ini.opcache.x: a php.ini value must not contain line breaks or NUL \
                 (in {})",
                path.display()
            )
        );
    }

    #[test]
    fn validate_checks_every_limit() {
        type Breakage = fn(&mut Config);
        let cases: [(&str, Breakage); 8] = [
            ("server.max_headers", |c| c.server.max_headers = 0),
            ("server.queue_depth", |c| c.server.queue_depth = 0),
            ("server.io_memory", |c| c.server.io_memory = ByteSize(4096)),
            ("server.header_read_timeout", |c| {
                c.server.header_read_timeout = Timeout(Duration::ZERO);
            }),
            ("server.keep_alive_timeout", |c| {
                c.server.keep_alive_timeout = Timeout(Duration::ZERO);
            }),
            ("php.ini.a b", |c| {
                c.php.ini.insert("a b".into(), "1".into());
            }),
            ("php.ini.x", |c| {
                c.php.ini.insert("x".into(), "1\nextension=evil.so".into());
            }),
            ("log.error_log", |c| c.log.error_log.clear()),
        ];
        for (key, break_it) in cases {
            let mut config = Config::default();
            break_it(&mut config);
            let message = config.validate().unwrap_err().to_string();
            assert!(
                message.starts_with(&format!("config: {key}: ")),
                "{message}"
            );
        }
    }

    #[test]
    fn apply_cli_overrides_the_loaded_config() {
        let mut config = Config::default();
        let args = ServeArgs {
            root: Some(PathBuf::from("public")),
            listen: Some("127.0.0.1:9000".parse().unwrap()),
            cores: Some(1),
            config: Some(PathBuf::from("ignored.toml")),
            php_ini: vec!["memory_limit=512M".into(), " date.timezone = UTC ".into()],
            threads: Some(2),
            tls_cert: Some(PathBuf::from("site.crt")),
            tls_key: Some(PathBuf::from("site.key")),
            worker: Some(PathBuf::from("public/index.php")),
        };
        config.apply_cli(&args).unwrap();
        assert_eq!(config.php.worker.script, PathBuf::from("public/index.php"));
        assert_eq!(config.server.tls.cert, PathBuf::from("site.crt"));
        assert_eq!(config.server.tls.key, PathBuf::from("site.key"));
        assert_eq!(config.server.document_root, PathBuf::from("public"));
        assert_eq!(config.server.listen, "127.0.0.1:9000".parse().unwrap());
        assert_eq!(config.server.cores, 1);
        assert_eq!(config.php.threads_per_core, 2);
        assert_eq!(config.php.ini["memory_limit"], "512M");
        assert_eq!(config.php.ini["date.timezone"], "UTC");
    }

    #[test]
    fn apply_cli_without_flags_changes_nothing() {
        let mut config = Config::default();
        config.apply_cli(&ServeArgs::default()).unwrap();
        assert_eq!(config, Config::default());
    }

    #[test]
    fn apply_cli_rejects_an_ini_flag_without_equals() {
        let mut config = Config::default();
        for pair in ["memory_limit", "=1"] {
            let args = ServeArgs {
                php_ini: vec![pair.into()],
                ..ServeArgs::default()
            };
            let message = config.apply_cli(&args).unwrap_err().to_string();
            assert_eq!(
                message,
                format!("config: --php-ini {pair:?} is not a key=value pair")
            );
        }
    }

    #[test]
    fn apply_cli_names_the_flag_of_an_invalid_value() {
        let mut config = Config::default();
        let args = ServeArgs {
            threads: Some(0),
            ..ServeArgs::default()
        };
        assert_eq!(
            config.apply_cli(&args).unwrap_err().to_string(),
            "config: php.threads_per_core: must be at least 1, got 0 \
             (from command-line flag --threads)"
        );
    }

    #[test]
    fn sizes_parse_with_1024_based_units() {
        let cases = [
            ("0", 0),
            ("100", 100),
            ("100B", 100),
            ("16k", 16 << 10),
            ("16K", 16 << 10),
            ("512KiB", 512 << 10),
            ("64M", 64 << 20),
            ("100MB", 100 << 20),
            ("64 MiB", 64 << 20),
            (" 1G ", 1 << 30),
            ("2gb", 2 << 30),
            ("1T", 1 << 40),
        ];
        for (text, bytes) in cases {
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)), "{text}");
        }
    }

    #[test]
    fn bad_sizes_are_errors_naming_the_input() {
        for text in [
            "",
            "M",
            "1.5G",
            "64X",
            "64iB",
            "-1",
            "99999999999999999999",
            "99999999T",
        ] {
            let error = text.parse::<ByteSize>().unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("invalid size {text:?}: ")),
                "{error}"
            );
        }
    }

    #[test]
    fn sizes_display_in_the_largest_exact_unit() {
        let cases = [
            (0, "0B"),
            (100, "100B"),
            (1536, "1536B"),
            (16 << 10, "16KiB"),
            (64 << 20, "64MiB"),
            (3 << 30, "3GiB"),
            (2 << 40, "2TiB"),
        ];
        for (bytes, text) in cases {
            assert_eq!(ByteSize(bytes).to_string(), text);
            assert_eq!(text.parse::<ByteSize>(), Ok(ByteSize(bytes)));
        }
    }

    #[test]
    fn sizes_deserialize_from_integers_and_strings() {
        #[derive(Deserialize, Serialize, Debug, PartialEq)]
        struct Doc {
            size: ByteSize,
        }
        let parse = |text: &str| toml::from_str::<Doc>(text).map(|doc| doc.size);
        assert_eq!(parse("size = 4096").unwrap(), ByteSize(4096));
        assert_eq!(parse("size = \"4K\"").unwrap(), ByteSize(4096));
        assert!(parse("size = -4").is_err());
        assert!(parse("size = 1.5").is_err());
        let serialized = toml::to_string(&Doc {
            size: ByteSize(4096),
        })
        .unwrap();
        assert_eq!(serialized.trim(), "size = \"4KiB\"");
    }

    #[test]
    fn durations_parse_seconds_and_units() {
        let cases = [
            ("0", Duration::ZERO),
            ("30", Duration::from_secs(30)),
            ("30s", Duration::from_secs(30)),
            ("500ms", Duration::from_millis(500)),
            ("2m", Duration::from_secs(120)),
            ("1h", Duration::from_secs(3600)),
            ("30d", Duration::from_secs(30 * 86400)),
            (" 10 S ", Duration::from_secs(10)),
        ];
        for (text, duration) in cases {
            assert_eq!(text.parse::<Timeout>(), Ok(Timeout(duration)), "{text}");
        }
        for text in ["", "s", "1.5s", "10w", "-1s", "99999999999999999999h"] {
            let error = text.parse::<Timeout>().unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("invalid duration {text:?}: ")),
                "{error}"
            );
        }
    }

    #[test]
    fn durations_format_in_the_largest_exact_unit() {
        let cases = [
            (Duration::ZERO, "0s"),
            (Duration::from_millis(1500), "1500ms"),
            (Duration::from_secs(75), "75s"),
            (Duration::from_secs(120), "2m"),
            (Duration::from_secs(7200), "2h"),
        ];
        for (duration, text) in cases {
            assert_eq!(Timeout(duration).to_string(), text);
            assert_eq!(text.parse::<Timeout>(), Ok(Timeout(duration)));
        }
    }

    #[test]
    fn durations_deserialize_from_integers_and_strings() {
        let parse = |text: &str| {
            toml::from_str::<Config>(&format!("[server]\ndrain_timeout = {text}"))
                .map(|config| config.server.drain_timeout.0)
        };
        assert_eq!(parse("7").unwrap(), Duration::from_secs(7));
        assert_eq!(parse("\"250ms\"").unwrap(), Duration::from_millis(250));
        assert!(parse("-7").is_err());
        assert!(parse("true").is_err());
    }

    #[test]
    fn ini_values_stringify_numbers_and_booleans() {
        let config: Config = toml::from_str(
            r#"
            [php.ini]
            a = "text"
            b = 42
            c = -1
            d = 0.5
            e = true
            f = false
            [php.ini.session]
            save_path = "/tmp"
            "#,
        )
        .unwrap();
        let expected = BTreeMap::from([
            ("a".to_owned(), "text".to_owned()),
            ("b".to_owned(), "42".to_owned()),
            ("c".to_owned(), "-1".to_owned()),
            ("d".to_owned(), "0.5".to_owned()),
            ("e".to_owned(), "1".to_owned()),
            ("f".to_owned(), "0".to_owned()),
            ("session.save_path".to_owned(), "/tmp".to_owned()),
        ]);
        assert_eq!(config.php.ini, expected);
    }

    #[test]
    fn config_round_trips_through_toml() {
        let mut config = Config::default();
        config.server.drain_timeout = Timeout(Duration::from_millis(2500));
        config.server.max_body_size = ByteSize(1000);
        config.php.ini.insert("opcache.enable".into(), "1".into());
        let text = toml::to_string(&config).unwrap();
        assert_eq!(toml::from_str::<Config>(&text).unwrap(), config);
    }

    #[test]
    fn default_file_is_read_when_no_file_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let default_file = dir.path().join(DEFAULT_CONFIG_FILE);
        std::fs::write(&default_file, "[server]\ncores = 3\n").unwrap();
        let config = Config::load_with_default_file(None, &default_file, Vec::new()).unwrap();
        assert_eq!(config.server.cores, 3);
    }

    #[test]
    fn default_file_is_ignored_when_a_file_is_given() {
        let dir = tempfile::tempdir().unwrap();
        let default_file = dir.path().join(DEFAULT_CONFIG_FILE);
        std::fs::write(&default_file, "[server]\ncores = 3\n").unwrap();
        let given = config_file("[server]\ncores = 5\n");
        let config =
            Config::load_with_default_file(Some(given.path()), &default_file, Vec::new()).unwrap();
        assert_eq!(config.server.cores, 5);
    }
}
