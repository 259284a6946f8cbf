//! The SQLite [`Backend`]: configuration, credentials, and where database files live.
//!
//! Each MySQL schema is one SQLite file, `<data_dir>/<name>.sqlite`, opened in WAL mode so
//! readers never block the writer. `synchronous=NORMAL`: a commit is durable once `COMMIT`
//! returns as far as the process is concerned (it survives `kill -9`, the log is in the OS
//! page cache); only an operating-system crash or power cut can lose the last commits, and
//! never corrupts the file. Foreign keys are off (MySQL applications written for MyISAM do not
//! expect them) and `LIKE` is case-insensitive, as under MySQL's default collation.

mod changes;
mod results;
mod session;

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use thiserror::Error;

use crate::backend::{AuthResponse, Backend, ClientInfo, DbError};
use crate::protocol::auth::password_matches;
use crate::sqlite::errors;
use crate::sqlite::functions::{self, NamedLocks, SessionContext};
use crate::sqlite::translate::{self, Statement};

pub use self::session::SqliteSession;

/// Longest MySQL schema name.
const MAX_DATABASE_NAME: usize = 64;

/// File extension of database files.
const DATABASE_EXTENSION: &str = "sqlite";

/// Translations kept for reuse (applications repeat their queries).
const TRANSLATION_CACHE_ENTRIES: usize = 1024;

/// Queries longer than this are not cached (they are mostly INSERTs of content).
const TRANSLATION_CACHE_MAX_SQL: usize = 4096;

/// SQLite VM steps between two looks at the statement's deadline.
const PROGRESS_STEPS: std::ffi::c_int = 10_000;

/// Schemas that exist in every MySQL server and cannot be created here.
const SYSTEM_SCHEMAS: &[&str] = &["information_schema", "mysql", "performance_schema", "sys"];

/// How the SQLite backend is set up.
#[derive(Clone)]
pub struct SqliteConfig {
    /// Directory holding one `<name>.sqlite` file per database.
    pub data_dir: PathBuf,
    /// Accounts as (user, password). Empty means `root` with an empty password, like a fresh
    /// MariaDB.
    pub users: Vec<(String, String)>,
    /// Create a database the first time a client selects it (at connect or by `USE`); when
    /// false, selecting a missing database is `ERROR 1049 Unknown database`.
    pub create_databases: bool,
    /// How long a statement waits for another connection's write lock before failing with
    /// `ERROR 1205 Lock wait timeout exceeded`.
    pub busy_timeout: Duration,
    /// Most databases (files) the data directory may hold; creating one more, by `CREATE
    /// DATABASE` or by selecting a new name, fails with `ERROR 1006`. Each open database keeps
    /// a file open, so clients must not be able to create them without bound.
    pub max_databases: usize,
    /// Largest result set a query may build in memory; a bigger one (an endless recursive CTE)
    /// fails with `ERROR 1041`.
    pub max_result_bytes: usize,
    /// Longest a statement may run (MariaDB's `max_statement_time`); `None` is no limit.
    /// An interrupted one fails with `ERROR 1969`.
    pub max_statement_time: Option<Duration>,
}

impl SqliteConfig {
    /// Defaults for `data_dir`: `root` with no password, databases created on first use, a
    /// 5-second lock wait.
    pub fn new(data_dir: impl Into<PathBuf>) -> SqliteConfig {
        SqliteConfig {
            data_dir: data_dir.into(),
            users: Vec::new(),
            create_databases: true,
            busy_timeout: Duration::from_secs(5),
            max_databases: 1000,
            max_result_bytes: 512 * 1024 * 1024,
            max_statement_time: None,
        }
    }
}

impl fmt::Debug for SqliteConfig {
    /// Shows user names but not passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let users: Vec<&str> = self.users.iter().map(|(user, _)| user.as_str()).collect();
        f.debug_struct("SqliteConfig")
            .field("data_dir", &self.data_dir)
            .field("users", &users)
            .field("create_databases", &self.create_databases)
            .field("busy_timeout", &self.busy_timeout)
            .finish()
    }
}

/// Why the backend could not start.
#[derive(Debug, Error)]
pub enum BackendError {
    /// The data directory could not be created.
    #[error("cannot create the database directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
}

/// The embedded SQLite backend, shared by all client connections.
#[derive(Debug, Clone)]
pub struct SqliteBackend {
    shared: Arc<Shared>,
}

/// What every session of one backend shares.
#[derive(Debug)]
struct Shared {
    config: SqliteConfig,
    /// `GET_LOCK()` locks.
    locks: Arc<NamedLocks>,
    /// Every live session, for `KILL`.
    sessions: Arc<functions::SessionRegistry>,
    /// The last session number handed out (`CONNECTION_ID()`).
    last_session_id: AtomicU64,
    /// Translations of recent query texts.
    translations: Mutex<HashMap<String, Arc<Vec<Statement>>>>,
    /// One idle connection per opened database, held for the backend's life. SQLite
    /// checkpoints and deletes the WAL when the last connection to a database closes, and
    /// recreates it on the next open; PHP opens a session per request, so without this every
    /// request would pay for that (about 0.15 ms and several file operations).
    keepers: Mutex<HashMap<String, Connection>>,
}

impl SqliteBackend {
    /// A backend over `config.data_dir`, which is created if missing.
    pub fn new(config: SqliteConfig) -> Result<SqliteBackend, BackendError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| BackendError::DataDir {
            path: config.data_dir.clone(),
            source,
        })?;
        let shared = Shared {
            config,
            locks: Arc::new(NamedLocks::default()),
            sessions: Arc::default(),
            last_session_id: AtomicU64::new(0),
            translations: Mutex::new(HashMap::new()),
            keepers: Mutex::new(HashMap::new()),
        };
        Ok(SqliteBackend {
            shared: Arc::new(shared),
        })
    }

    /// The configuration this backend runs with.
    pub fn config(&self) -> &SqliteConfig {
        &self.shared.config
    }
}

impl Backend for SqliteBackend {
    type Session = SqliteSession;

    fn authenticate(&self, user: &str, auth: AuthResponse<'_>) -> bool {
        let users = &self.shared.config.users;
        if users.is_empty() {
            return user == "root" && password_matches(&auth, "");
        }
        users
            .iter()
            .any(|(name, password)| name == user && password_matches(&auth, password))
    }

    fn open_session(&self, user: &str, database: Option<&str>) -> Result<SqliteSession, DbError> {
        self.open_client_session(user, database, &ClientInfo::default())
    }

    /// The session takes the client's thread id, so that `CONNECTION_ID()`, the greeting and
    /// `KILL` agree; its flags and character set as the handshake named them.
    fn open_client_session(
        &self,
        user: &str,
        database: Option<&str>,
        client: &ClientInfo,
    ) -> Result<SqliteSession, DbError> {
        log::debug!("opening a SQLite session for {user}");
        SqliteSession::open(Arc::clone(&self.shared), user, database, client)
    }
}

impl Shared {
    /// A new session number.
    fn next_session_id(&self) -> u64 {
        self.last_session_id.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The translation of `sql`, from the cache when the text was seen recently.
    fn translate(&self, sql: &str) -> Result<Arc<Vec<Statement>>, DbError> {
        let cacheable = sql.len() <= TRANSLATION_CACHE_MAX_SQL;
        if cacheable {
            let cache = self
                .translations
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(statements) = cache.get(sql) {
                return Ok(Arc::clone(statements));
            }
        }
        let statements = Arc::new(translate::translate(sql)?);
        if cacheable {
            let mut cache = self
                .translations
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if cache.len() >= TRANSLATION_CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(sql.to_owned(), Arc::clone(&statements));
        }
        Ok(statements)
    }

    /// The file of database `name`, after checking the name is a valid schema name.
    fn database_path(&self, name: &str) -> Result<PathBuf, DbError> {
        validate_database_name(name)?;
        Ok(self
            .config
            .data_dir
            .join(format!("{name}.{DATABASE_EXTENSION}")))
    }

    /// Opens database `name`, creating its file when allowed and missing.
    fn open_database(
        &self,
        name: &str,
        context: &Arc<SessionContext>,
    ) -> Result<Connection, DbError> {
        let path = self.database_path(name)?;
        let exists = path.is_file();
        if !exists && (!self.config.create_databases || is_system_schema(name)) {
            return Err(errors::unknown_database(name));
        }
        if !exists {
            self.check_room_for_database(name)?;
        }
        let conn = self.open_file(&path, context)?;
        self.keep_open(name, &path);
        Ok(conn)
    }

    /// Makes sure database `name` has its idle keeper connection (see [`Shared::keepers`]).
    /// A keeper that cannot be opened only costs speed, so failures are logged.
    fn keep_open(&self, name: &str, path: &Path) {
        let mut keepers = self
            .keepers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if keepers.contains_key(name) {
            return;
        }
        match Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            Ok(conn) => {
                // A connection joins the WAL only once it reads.
                let joined = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
                    row.get::<_, i64>(0)
                });
                if let Err(error) = joined {
                    log::warn!("cannot keep database {name} open: {error}");
                }
                keepers.insert(name.to_owned(), conn);
            }
            Err(error) => log::warn!("cannot keep database {name} open: {error}"),
        }
    }

    /// Creates database `name`; false when it already exists.
    fn create_database(&self, name: &str, context: &Arc<SessionContext>) -> Result<bool, DbError> {
        let path = self.database_path(name)?;
        if path.is_file() || is_system_schema(name) {
            return Ok(false);
        }
        self.check_room_for_database(name)?;
        self.open_file(&path, context)?;
        Ok(true)
    }

    /// Refuses to create database `name` when the data directory holds `max_databases`.
    fn check_room_for_database(&self, name: &str) -> Result<(), DbError> {
        let limit = self.config.max_databases;
        if self.database_names().len() >= limit {
            log::warn!("database limit ({limit}) reached: not creating database {name}");
            return Err(errors::too_many_databases(name, limit));
        }
        Ok(())
    }

    /// Deletes database `name` (with its WAL files); false when it does not exist.
    fn drop_database(&self, name: &str) -> Result<bool, DbError> {
        let path = self.database_path(name)?;
        if !path.is_file() {
            return Ok(false);
        }
        self.keepers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(name);
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => {
                    return Err(errors::unknown(format!(
                        "Error dropping database (can't delete '{}': {error})",
                        Path::new(&file).display()
                    )))
                }
            }
        }
        Ok(true)
    }

    /// The names of the databases in the data directory, sorted.
    fn database_names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.config.data_dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let path = entry.path();
                let is_database = path
                    .extension()
                    .is_some_and(|ext| ext == DATABASE_EXTENSION);
                let stem = path.file_stem()?.to_str()?.to_owned();
                (is_database && validate_database_name(&stem).is_ok()).then_some(stem)
            })
            .collect();
        names.sort();
        names
    }

    /// Opens the file at `path` with this backend's settings and MySQL functions.
    fn open_file(&self, path: &Path, context: &Arc<SessionContext>) -> Result<Connection, DbError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn = Connection::open_with_flags(path, flags).map_err(|error| {
            errors::unknown(format!(
                "Can't open database file '{}': {error}",
                path.display()
            ))
        })?;
        self.configure(&mut conn, context).map_err(|error| {
            errors::from_sqlite(
                &error,
                errors::ErrorScope {
                    database: None,
                    conn: None,
                },
            )
        })?;
        Ok(conn)
    }

    /// A connection for a session with no database selected: in memory, so `SELECT 1`,
    /// `SELECT @@version` and the like work, while table access fails with "No database
    /// selected".
    fn open_detached(&self, context: &Arc<SessionContext>) -> Result<Connection, DbError> {
        let scope = errors::ErrorScope {
            database: None,
            conn: None,
        };
        let mut conn =
            Connection::open_in_memory().map_err(|error| errors::from_sqlite(&error, scope))?;
        self.configure(&mut conn, context)
            .map_err(|error| errors::from_sqlite(&error, scope))?;
        Ok(conn)
    }

    fn configure(
        &self,
        conn: &mut Connection,
        context: &Arc<SessionContext>,
    ) -> rusqlite::Result<()> {
        conn.busy_timeout(self.config.busy_timeout)?;
        // Stops a statement past max_statement_time, or one a KILL reached.
        let timed = Arc::clone(context);
        conn.progress_handler(PROGRESS_STEPS, Some(move || timed.statement_overdue()))?;
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") && !mode.eq_ignore_ascii_case("memory") {
            log::warn!("SQLite refused WAL mode (journal_mode is {mode})");
        }
        // recursive_triggers: REPLACE then fires the DELETE triggers that keep FULLTEXT
        // tables in step (the translator's triggers are written to be safe with it).
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; \
             PRAGMA case_sensitive_like = OFF; PRAGMA temp_store = MEMORY; \
             PRAGMA recursive_triggers = ON;",
        )?;
        functions::register(conn, context)
    }
}

/// Checks `name` is a schema name this backend accepts: 1 to 64 characters from
/// `[A-Za-z0-9_$-]`, so it is always a plain file name.
pub fn validate_database_name(name: &str) -> Result<(), DbError> {
    let valid = !name.is_empty()
        && name.len() <= MAX_DATABASE_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'-'));
    if valid {
        Ok(())
    } else {
        Err(DbError::new(
            errors::codes::WRONG_DB_NAME,
            "42000",
            format!("Incorrect database name '{name}'"),
        ))
    }
}

fn is_system_schema(name: &str) -> bool {
    SYSTEM_SCHEMAS
        .iter()
        .any(|system| system.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::auth::native_password_scramble;

    fn backend(users: Vec<(String, String)>) -> (tempfile::TempDir, SqliteBackend) {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SqliteConfig::new(dir.path().join("data"));
        config.users = users;
        let backend = SqliteBackend::new(config).unwrap();
        (dir, backend)
    }

    #[test]
    fn database_names_are_validated() {
        assert!(validate_database_name("wordpress").is_ok());
        assert!(validate_database_name("my-app_2$").is_ok());
        for bad in ["", "../etc", "a/b", "a.b", "名前", &"x".repeat(65)] {
            let error = validate_database_name(bad).unwrap_err();
            assert_eq!(error.code, 1102, "{bad}");
        }
    }

    #[test]
    fn root_without_password_by_default() {
        let (_dir, backend) = backend(Vec::new());
        let nonce = [7u8; 20];
        assert!(backend.authenticate(
            "root",
            AuthResponse::NativePassword {
                response: &[],
                nonce: &nonce
            }
        ));
        assert!(!backend.authenticate(
            "bob",
            AuthResponse::NativePassword {
                response: &[],
                nonce: &nonce
            }
        ));
        let wrong = native_password_scramble("guess", &nonce);
        assert!(!backend.authenticate(
            "root",
            AuthResponse::NativePassword {
                response: &wrong,
                nonce: &nonce
            }
        ));
    }

    #[test]
    fn configured_users_need_their_password() {
        let (_dir, backend) = backend(vec![("wp".to_owned(), "secret".to_owned())]);
        let nonce = [3u8; 20];
        let right = native_password_scramble("secret", &nonce);
        let wrong = native_password_scramble("Secret", &nonce);
        assert!(backend.authenticate(
            "wp",
            AuthResponse::NativePassword {
                response: &right,
                nonce: &nonce
            }
        ));
        assert!(!backend.authenticate(
            "wp",
            AuthResponse::NativePassword {
                response: &wrong,
                nonce: &nonce
            }
        ));
        assert!(!backend.authenticate(
            "root",
            AuthResponse::NativePassword {
                response: &[],
                nonce: &nonce
            }
        ));
    }

    #[test]
    fn creates_lists_and_drops_database_files() {
        let (_dir, backend) = backend(Vec::new());
        let shared = &backend.shared;
        let identity = functions::Identity {
            user: "root".to_owned(),
            connection_id: shared.next_session_id(),
            data_dir: String::new(),
            locks: Arc::clone(&shared.locks),
            sessions: Arc::clone(&shared.sessions),
        };
        let context = Arc::new(SessionContext::new(identity));
        assert!(shared.create_database("shop", &context).unwrap());
        assert!(!shared.create_database("shop", &context).unwrap());
        assert!(!shared.create_database("mysql", &context).unwrap());
        assert_eq!(shared.database_names(), ["shop"]);
        let conn = shared.open_database("shop", &context).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        drop(conn);
        assert!(shared.drop_database("shop").unwrap());
        assert!(!shared.drop_database("shop").unwrap());
        assert!(shared.database_names().is_empty());
    }

    #[test]
    fn missing_databases_are_unknown_when_creation_is_off() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = SqliteConfig::new(dir.path());
        config.create_databases = false;
        let backend = SqliteBackend::new(config).unwrap();
        let error = backend
            .open_session("root", Some("nope"))
            .map(|_| ())
            .unwrap_err();
        assert_eq!(
            (error.code, error.message.as_str()),
            (1049, "Unknown database 'nope'")
        );
    }
}
