//! A proxy backend: serves clients from a pool of connections to a real MySQL or MariaDB
//! primary and its replicas, with multiplexing, read/write splitting and query digests.
//!
//! Each client session borrows a backend connection per statement and gives it back right
//! after, unless the session holds state on it (a transaction, temporary tables, user
//! variables, named or table locks, `SQL_CALC_FOUND_ROWS`); then the connection stays pinned
//! to the session until the state is gone. Session variables set with SET are replayed on
//! whichever connection serves the next statement, and prepared statements are prepared on
//! each backend connection they run on.

pub mod analysis;
mod async_relay;
pub mod config;
mod connection;
mod explain;
mod kill;
mod lease;
pub mod pool;
mod session;
pub mod stats;
pub mod upstreams;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

pub use async_relay::{relay_lease, RelayReport};
pub use config::{PoolConfig, ProxyConfig, RoutingConfig, StatsConfig};
pub use lease::{Finished, Lease, LeaseOutcome};
pub use pool::PoolSnapshot;
pub use session::ProxySession;
pub use stats::{DigestRow, QueryStats, SlowQuery, Totals};
pub use upstreams::ReplicaSnapshot;

use self::analysis::AnalysisCache;
use self::explain::Explainer;
use self::upstreams::Upstreams;
use crate::backend::{AuthResponse, Backend, ClientInfo, DbError, QueryResult, Value};
use crate::protocol::auth;
use crate::protocol::constants::capabilities;

/// What every session of one proxy shares.
#[derive(Debug)]
struct Shared {
    upstreams: Arc<Upstreams>,
    stats: Arc<QueryStats>,
    explainer: Explainer,
    /// Schemas a login has named that the primary accepted, so later logins naming them
    /// need no check.
    known_schemas: Mutex<HashSet<String>>,
    /// Client sessions by thread id, for `KILL`.
    sessions: kill::Sessions,
    /// Each core's cache of text statements' digests and analyses.
    analyses: Vec<Mutex<AnalysisCache>>,
    /// Collation ids clients named in their handshake: (character set, collation) as the
    /// primary knows them, or `None` when it does not.
    collations: Mutex<HashMap<u8, Option<(String, String)>>>,
}

/// Text statements whose analysis each core keeps (twice as many at most, see
/// [`AnalysisCache`]).
const ANALYSES_PER_CORE: usize = 256;

impl Shared {
    /// The digest and analysis of text statement `sql`, from `core`'s cache.
    fn text_analysis(
        &self,
        core: usize,
        sql: &str,
    ) -> Arc<(analysis::Digest, analysis::StatementInfo)> {
        lock(&self.analyses[core % self.analyses.len()]).inspect(sql)
    }

    /// The character set and name of collation `id`, asked of the primary once.
    fn collation(&self, id: u8) -> Option<(String, String)> {
        if let Some(known) = lock(&self.collations).get(&id) {
            return known.clone();
        }
        let sql = format!(
            "SELECT CHARACTER_SET_NAME, COLLATION_NAME FROM information_schema.COLLATIONS \
             WHERE ID = {id}"
        );
        let mut connection = self.upstreams.primary().acquire().ok()?;
        let results = connection.query(&sql).ok()?;
        let found = match results.into_iter().next() {
            Some(Ok(QueryResult::Rows { rows, .. })) => {
                rows.into_iter()
                    .next()
                    .and_then(|row| match (row.first(), row.get(1)) {
                        (Some(Value::Bytes(charset)), Some(Value::Bytes(collation))) => Some((
                            String::from_utf8_lossy(charset).into_owned(),
                            String::from_utf8_lossy(collation).into_owned(),
                        )),
                        _ => None,
                    })
            }
            _ => None,
        };
        lock(&self.collations).insert(id, found.clone());
        found
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The proxy [`Backend`]: hand it to [`crate::server::serve`].
#[derive(Debug)]
pub struct ProxyBackend {
    shared: Arc<Shared>,
    users: Vec<(String, String)>,
    stop: Arc<AtomicBool>,
    checker: Mutex<Option<JoinHandle<()>>>,
}

impl ProxyBackend {
    /// Builds the pools and starts the background health, lag and EXPLAIN threads. The
    /// upstreams need not be reachable yet: statements fail with clear errors until they are.
    pub fn start(config: ProxyConfig) -> std::io::Result<ProxyBackend> {
        let users = if config.users.is_empty() {
            vec![(config.primary.user.clone(), config.primary.password.clone())]
        } else {
            config.users.clone()
        };
        let upstreams = Arc::new(Upstreams::new(
            config.primary,
            config.replicas,
            &config.pool,
            config.routing,
            config.cores,
        ));
        let stats = Arc::new(QueryStats::new(config.stats, config.cores));
        let (explainer, _explain_thread) =
            Explainer::start(Arc::clone(&upstreams), Arc::clone(&stats))?;
        let stop = Arc::new(AtomicBool::new(false));
        let checker = {
            let upstreams = Arc::clone(&upstreams);
            let stop = Arc::clone(&stop);
            let pool = config.pool;
            std::thread::Builder::new()
                .name("db-health".into())
                .spawn(move || {
                    upstreams.maintain();
                    upstreams.check_replica_lag();
                    upstreams.run_checks(&pool, &stop);
                })?
        };
        Ok(ProxyBackend {
            shared: Arc::new(Shared {
                upstreams,
                stats,
                explainer,
                known_schemas: Mutex::new(HashSet::new()),
                collations: Mutex::new(HashMap::new()),
                sessions: kill::Sessions::default(),
                analyses: (0..config.cores.max(1))
                    .map(|_| Mutex::new(AnalysisCache::new(ANALYSES_PER_CORE)))
                    .collect(),
            }),
            users,
            stop,
            checker: Mutex::new(Some(checker)),
        })
    }

    /// Pool numbers of every upstream, primary first.
    pub fn pools(&self) -> Vec<PoolSnapshot> {
        self.shared.upstreams.pool_snapshots()
    }

    /// Replica rotation and lag.
    pub fn replicas(&self) -> Vec<ReplicaSnapshot> {
        self.shared.upstreams.replica_snapshots()
    }

    /// Digests, the slow log and totals.
    pub fn stats(&self) -> &QueryStats {
        &self.shared.stats
    }

    /// Stops the background checks (sessions keep working).
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let checker = self
            .checker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(checker) = checker {
            checker.thread().unpark();
            let _ = checker.join();
        }
    }
}

impl Drop for ProxyBackend {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl Backend for ProxyBackend {
    type Session = ProxySession;

    /// The primary's own version once a connection to it logged in (the pool opens its
    /// minimum at start), so that clients see the server they are really talking to.
    fn server_version(&self) -> String {
        self.shared
            .upstreams
            .announced_version()
            .unwrap_or_else(|| crate::protocol::constants::SERVER_VERSION.to_owned())
    }

    fn authenticate(&self, user: &str, response: AuthResponse<'_>) -> bool {
        self.users
            .iter()
            .any(|(name, password)| name == user && auth::password_matches(&response, password))
    }

    /// A session with no client connection: multi-statements on, utf8mb4, no thread id.
    fn open_session(&self, user: &str, database: Option<&str>) -> Result<ProxySession, DbError> {
        let client = ClientInfo {
            capabilities: capabilities::MULTI_STATEMENTS,
            ..ClientInfo::default()
        };
        self.open_client_session(user, database, &client)
    }

    /// The session follows the client's behaviour flags, multi-statement option and character
    /// set on its backend connections, and answers `KILL` of its thread id.
    fn open_client_session(
        &self,
        user: &str,
        database: Option<&str>,
        client: &ClientInfo,
    ) -> Result<ProxySession, DbError> {
        let default = self.shared.upstreams.primary().default_database();
        if let Some(database) = database.filter(|&named| Some(named) != default) {
            self.check_schema(database)?;
        }
        let schema = database.or(default).map(str::to_owned);
        Ok(ProxySession::new(
            Arc::clone(&self.shared),
            user,
            schema,
            client,
        ))
    }
}

impl ProxyBackend {
    /// Fails a login that names a database the primary does not have (ERR 1049, as MySQL
    /// answers at connect time). Each name is checked once; the upstream URL's database is
    /// taken as given.
    fn check_schema(&self, database: &str) -> Result<(), DbError> {
        if self.known_schemas().contains(database) {
            return Ok(());
        }
        let mut connection = self.shared.upstreams.primary().acquire()?;
        match connection.align(Some(database), &[]) {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(error) => {
                return Err(DbError::new(
                    crate::protocol::constants::errors::SERVER_LOST,
                    "08S01",
                    format!("ePHPm proxy: lost the connection to the database: {error}"),
                ))
            }
        }
        self.known_schemas().insert(database.to_owned());
        Ok(())
    }

    fn known_schemas(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        self.shared
            .known_schemas
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
