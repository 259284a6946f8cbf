//! One upstream's pool of backend connections: bounded, with a wait queue, idle and lifetime
//! limits, health checks and reconnect backoff.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Serialize;

use super::config::PoolConfig;
use super::connection::BackendConnection;
use crate::backend::DbError;
use crate::client::{ClientError, ConnectOptions};
use crate::protocol::constants::{capabilities, errors};

/// First pause after a failed connect; it doubles up to `max_reconnect_backoff`.
const FIRST_BACKOFF: Duration = Duration::from_millis(100);

/// What an upstream is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The writer.
    Primary,
    /// A reader.
    Replica,
}

impl Role {
    /// ProxySQL's convention: hostgroup 0 writes, hostgroup 1 reads.
    pub fn hostgroup(self) -> u32 {
        match self {
            Role::Primary => 0,
            Role::Replica => 1,
        }
    }

    /// "primary" or "replica", for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Replica => "replica",
        }
    }
}

/// Connections of one upstream server.
#[derive(Debug)]
pub struct Pool {
    role: Role,
    options: ConnectOptions,
    config: PoolConfig,
    state: Mutex<PoolState>,
    returned: Condvar,
    health: Mutex<Health>,
    counters: PoolCounters,
    /// The version the upstream announced at the last login, for the proxy's own greeting.
    announced_version: Mutex<Option<String>>,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Idle connections, most recently used last.
    idle: Vec<BackendConnection>,
    /// Connections open (idle, lent out, or being connected).
    open: usize,
    /// Statements waiting for a connection.
    waiting: usize,
}

/// Whether the upstream answers, and when to try again if not.
#[derive(Debug)]
struct Health {
    up: bool,
    last_error: Option<String>,
    backoff: Duration,
    retry_at: Instant,
}

/// Monotonic counters of one pool.
#[derive(Debug, Default)]
struct PoolCounters {
    connects: AtomicU64,
    connect_errors: AtomicU64,
    acquired: AtomicU64,
    wait_timeouts: AtomicU64,
    wait_micros: AtomicU64,
    discarded: AtomicU64,
}

/// A point-in-time view of a pool, for the node API and metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolSnapshot {
    /// "primary" or "replica".
    pub role: &'static str,
    /// ProxySQL-style hostgroup number.
    pub hostgroup: u32,
    /// `host:port` of the upstream.
    pub address: String,
    /// Whether the last connect or health check succeeded.
    pub up: bool,
    /// The last connect or health-check error, if the upstream is down.
    pub last_error: Option<String>,
    /// Connections open.
    pub total: usize,
    /// Connections idle in the pool.
    pub idle: usize,
    /// Connections lent to sessions.
    pub active: usize,
    /// Statements waiting for a connection now.
    pub waiting: usize,
    /// Configured maximum.
    pub max_connections: usize,
    /// Connections opened since start.
    pub connects: u64,
    /// Failed connection attempts since start.
    pub connect_errors: u64,
    /// Connections handed out since start.
    pub acquired: u64,
    /// Acquisitions that timed out in the wait queue.
    pub wait_timeouts: u64,
    /// Total time spent waiting for a connection, in microseconds.
    pub wait_micros: u64,
    /// Connections closed because they broke or came back with state that could not be reset.
    pub discarded: u64,
}

impl PoolSnapshot {
    /// The numbers of two pools of the same upstream (two cores' pools) added up; the
    /// upstream is up when both say so.
    pub fn merge(self, other: PoolSnapshot) -> PoolSnapshot {
        PoolSnapshot {
            up: self.up && other.up,
            last_error: self.last_error.or(other.last_error),
            total: self.total + other.total,
            idle: self.idle + other.idle,
            active: self.active + other.active,
            waiting: self.waiting + other.waiting,
            max_connections: self.max_connections + other.max_connections,
            connects: self.connects + other.connects,
            connect_errors: self.connect_errors + other.connect_errors,
            acquired: self.acquired + other.acquired,
            wait_timeouts: self.wait_timeouts + other.wait_timeouts,
            wait_micros: self.wait_micros + other.wait_micros,
            discarded: self.discarded + other.discarded,
            ..self
        }
    }
}

impl Pool {
    /// A pool for `options`; connections are opened on demand and by [`Pool::maintain`].
    pub fn new(role: Role, options: ConnectOptions, config: PoolConfig) -> Pool {
        Pool {
            role,
            options,
            config,
            state: Mutex::new(PoolState::default()),
            returned: Condvar::new(),
            health: Mutex::new(Health {
                up: true,
                last_error: None,
                backoff: FIRST_BACKOFF,
                retry_at: Instant::now(),
            }),
            counters: PoolCounters::default(),
            announced_version: Mutex::new(None),
        }
    }

    /// The pool's limits.
    pub fn config(&self) -> &PoolConfig {
        &self.config
    }

    /// Primary or replica.
    pub fn role(&self) -> Role {
        self.role
    }

    /// `host:port` of the upstream.
    pub fn address(&self) -> String {
        self.options.address()
    }

    /// The database named in the upstream URL, used by sessions that select none.
    pub fn default_database(&self) -> Option<&str> {
        self.options.database.as_deref()
    }

    /// The version the upstream announced when a connection last logged in, if one did.
    pub fn announced_version(&self) -> Option<String> {
        self.announced_version
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the upstream answered the last connect or health check.
    pub fn is_up(&self) -> bool {
        self.lock_health().up
    }

    /// Lends a connection: an idle one, a new one while below `max_connections`, or the first
    /// one returned within `acquire_timeout`.
    pub fn acquire(self: &Arc<Pool>) -> Result<PooledConnection, DbError> {
        self.acquire_for(0)
    }

    /// Lends a connection that negotiated the `behaviour` flags (`capabilities::BEHAVIOUR`)
    /// the client did. The pool holds every kind; when it is full and only other kinds are
    /// idle, an idle one of another kind is closed to make room.
    pub fn acquire_for(self: &Arc<Pool>, behaviour: u32) -> Result<PooledConnection, DbError> {
        let behaviour = behaviour & capabilities::BEHAVIOUR;
        let started = Instant::now();
        let deadline = started + self.config.acquire_timeout;
        // Declared before the guard, so expired connections close after it is released.
        let mut retired = Vec::new();
        let mut state = self.lock_state();
        loop {
            if let Some(connection) = self.take_idle(&mut state, &mut retired, behaviour) {
                return Ok(self.lend(connection, started));
            }
            if state.open >= self.config.max_connections {
                if let Some(other) = state.idle.pop() {
                    state.open -= 1;
                    retired.push(other);
                }
            }
            if state.open < self.config.max_connections {
                self.refuse_while_backing_off()?;
                state.open += 1;
                drop(state);
                return match self.connect(behaviour) {
                    Ok(connection) => Ok(self.lend(connection, started)),
                    Err(error) => {
                        self.forget_one();
                        Err(error)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                self.counters.wait_timeouts.fetch_add(1, Ordering::Relaxed);
                return Err(self.wait_timed_out());
            }
            state.waiting += 1;
            state = self
                .returned
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting -= 1;
        }
    }

    /// Lends an idle connection of the `behaviour` kind within its lifetime, if one is at hand:
    /// never opens, waits or closes one (for callers that must not block).
    pub fn try_acquire_for(self: &Arc<Pool>, behaviour: u32) -> Option<PooledConnection> {
        let behaviour = behaviour & capabilities::BEHAVIOUR;
        let started = Instant::now();
        let connection = {
            let mut state = self.lock_state();
            let index = state.idle.iter().rposition(|connection| {
                connection.behaviour() == behaviour && connection.age() < self.config.max_lifetime
            })?;
            state.idle.remove(index)
        };
        Some(self.lend(connection, started))
    }

    /// Closes idle connections past their idle timeout or lifetime, pings the rest that have
    /// idled for a health-check interval, and opens connections up to `min_connections`.
    pub fn maintain(&self) {
        let idle = std::mem::take(&mut self.lock_state().idle);
        let mut keep = Vec::with_capacity(idle.len());
        let mut closed = 0;
        let now = Instant::now();
        for mut connection in idle {
            let idle_for = now.saturating_duration_since(connection.last_used());
            let surplus = keep.len() >= self.config.min_connections;
            let retire = connection.age() >= self.config.max_lifetime
                || (surplus && idle_for >= self.config.idle_timeout);
            if retire {
                closed += 1;
            } else if idle_for >= self.config.health_check_interval && connection.ping().is_err() {
                closed += 1;
                self.counters.discarded.fetch_add(1, Ordering::Relaxed);
            } else {
                keep.push(connection);
            }
        }
        {
            let mut state = self.lock_state();
            state.open -= closed;
            keep.append(&mut state.idle);
            state.idle = keep;
        }
        self.returned.notify_all();
        self.top_up();
    }

    /// Runs `check` on a lent connection (for lag checks), returning the connection after.
    pub fn with_connection<T>(
        self: &Arc<Pool>,
        check: impl FnOnce(&mut BackendConnection) -> T,
    ) -> Result<T, DbError> {
        let mut connection = self.acquire()?;
        Ok(check(&mut connection))
    }

    /// The pool's current numbers.
    pub fn snapshot(&self) -> PoolSnapshot {
        let (total, idle, waiting) = {
            let state = self.lock_state();
            (state.open, state.idle.len(), state.waiting)
        };
        let (up, last_error) = {
            let health = self.lock_health();
            (health.up, health.last_error.clone())
        };
        let counters = &self.counters;
        PoolSnapshot {
            role: self.role.name(),
            hostgroup: self.role.hostgroup(),
            address: self.address(),
            up,
            last_error,
            total,
            idle,
            active: total.saturating_sub(idle),
            waiting,
            max_connections: self.config.max_connections,
            connects: counters.connects.load(Ordering::Relaxed),
            connect_errors: counters.connect_errors.load(Ordering::Relaxed),
            acquired: counters.acquired.load(Ordering::Relaxed),
            wait_timeouts: counters.wait_timeouts.load(Ordering::Relaxed),
            wait_micros: counters.wait_micros.load(Ordering::Relaxed),
            discarded: counters.discarded.load(Ordering::Relaxed),
        }
    }

    /// Takes back a lent connection: idle again if healthy and clean, closed otherwise.
    fn give_back(&self, mut connection: BackendConnection) {
        let reusable = !connection.is_broken()
            && connection.age() < self.config.max_lifetime
            && connection.make_clean();
        if !reusable {
            if connection.is_broken() {
                self.connection_failed();
            }
            self.counters.discarded.fetch_add(1, Ordering::Relaxed);
            self.forget_one();
            return;
        }
        connection.touch();
        let waiting = {
            let mut state = self.lock_state();
            state.idle.push(connection);
            state.waiting > 0
        };
        // Waking a condvar costs a system call even when nobody waits on it.
        if waiting {
            self.returned.notify_one();
        }
    }

    /// A lent connection broke: the upstream may have restarted, so the idle ones are
    /// probably dead too. They are closed rather than handed to the next statements.
    fn connection_failed(&self) {
        let stale = std::mem::take(&mut self.lock_state().idle);
        if stale.is_empty() {
            return;
        }
        let count = stale.len();
        drop(stale);
        self.lock_state().open -= count;
        self.counters
            .discarded
            .fetch_add(count as u64, Ordering::Relaxed);
        self.returned.notify_all();
    }

    /// The most recently used idle connection of the `behaviour` kind within its lifetime;
    /// expired ones met on the way go to `retired`, to be closed once the lock is released.
    fn take_idle(
        &self,
        state: &mut PoolState,
        retired: &mut Vec<BackendConnection>,
        behaviour: u32,
    ) -> Option<BackendConnection> {
        while let Some(index) = state
            .idle
            .iter()
            .rposition(|connection| connection.behaviour() == behaviour)
        {
            let connection = state.idle.remove(index);
            if connection.age() < self.config.max_lifetime {
                return Some(connection);
            }
            state.open -= 1;
            retired.push(connection);
        }
        None
    }

    fn lend(self: &Arc<Pool>, connection: BackendConnection, started: Instant) -> PooledConnection {
        let waited = started.elapsed().as_micros().min(u128::from(u64::MAX)) as u64;
        self.counters.acquired.fetch_add(1, Ordering::Relaxed);
        self.counters
            .wait_micros
            .fetch_add(waited, Ordering::Relaxed);
        PooledConnection {
            connection: Some(connection),
            pool: Arc::clone(self),
        }
    }

    /// A connection slot reserved with `open += 1` was not used after all.
    fn forget_one(&self) {
        self.lock_state().open -= 1;
        self.returned.notify_one();
    }

    /// Opens and logs in a new connection, updating the upstream's health.
    fn connect(&self, behaviour: u32) -> Result<BackendConnection, DbError> {
        let mut options = self.options.clone();
        options.connect_timeout = self.config.connect_timeout;
        options.behaviour = behaviour;
        match BackendConnection::open(&options, self.config.statements_per_connection) {
            Ok(connection) => {
                self.counters.connects.fetch_add(1, Ordering::Relaxed);
                *self
                    .announced_version
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner) =
                    Some(connection.announced_version().to_owned());
                self.mark_up();
                Ok(connection)
            }
            Err(error) => {
                self.counters.connect_errors.fetch_add(1, Ordering::Relaxed);
                Err(self.mark_down(&error))
            }
        }
    }

    /// Opens connections until `min_connections` are open (stops at the first failure).
    fn top_up(&self) {
        loop {
            {
                let mut state = self.lock_state();
                if state.open >= self.config.min_connections || self.backing_off() {
                    return;
                }
                state.open += 1;
            }
            match self.connect(0) {
                Ok(connection) => {
                    self.lock_state().idle.insert(0, connection);
                    self.returned.notify_one();
                }
                Err(_) => {
                    self.forget_one();
                    return;
                }
            }
        }
    }

    fn mark_up(&self) {
        let mut health = self.lock_health();
        if !health.up {
            log::info!(
                "database {} {} is back",
                self.role.name(),
                self.options.address()
            );
        }
        health.up = true;
        health.last_error = None;
        health.backoff = FIRST_BACKOFF;
    }

    /// Records a failed connect and returns the error clients get for it.
    fn mark_down(&self, error: &ClientError) -> DbError {
        let mut health = self.lock_health();
        if health.up {
            log::warn!(
                "database {} {} is unreachable: {error}",
                self.role.name(),
                self.options.address()
            );
        }
        health.up = false;
        health.last_error = Some(error.to_string());
        health.retry_at = Instant::now() + health.backoff;
        health.backoff = (health.backoff * 2).min(self.config.max_reconnect_backoff);
        self.unreachable(error)
    }

    fn backing_off(&self) -> bool {
        let health = self.lock_health();
        !health.up && Instant::now() < health.retry_at
    }

    /// Fails fast while a down upstream's backoff runs, instead of every statement waiting
    /// for a connect timeout.
    fn refuse_while_backing_off(&self) -> Result<(), DbError> {
        let health = self.lock_health();
        if health.up || Instant::now() >= health.retry_at {
            return Ok(());
        }
        let reason = health.last_error.as_deref().unwrap_or("connection failed");
        Err(DbError::new(
            errors::CANNOT_CONNECT,
            "HY000",
            format!(
                "ePHPm proxy: {} {} is down ({reason}); retrying in the background",
                self.role.name(),
                self.options.address()
            ),
        ))
    }

    fn unreachable(&self, error: &ClientError) -> DbError {
        match error {
            ClientError::Auth(refused) => DbError::new(
                refused.code,
                std::str::from_utf8(&refused.sql_state).unwrap_or("28000"),
                format!(
                    "ePHPm proxy: {} {} refused the proxy's login: {}",
                    self.role.name(),
                    self.options.address(),
                    refused.message
                ),
            ),
            other => DbError::new(
                errors::CANNOT_CONNECT,
                "HY000",
                format!(
                    "ePHPm proxy: can't connect to {} {}: {other}",
                    self.role.name(),
                    self.options.address()
                ),
            ),
        }
    }

    fn wait_timed_out(&self) -> DbError {
        DbError::new(
            errors::TOO_MANY_CONNECTIONS,
            "08004",
            format!(
                "ePHPm proxy: no connection to {} {} became free within {} ms \
                 (pool max_connections = {})",
                self.role.name(),
                self.options.address(),
                self.config.acquire_timeout.as_millis(),
                self.config.max_connections
            ),
        )
    }

    fn lock_state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_health(&self) -> MutexGuard<'_, Health> {
        self.health.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A connection lent by a [`Pool`]; it goes back (or is closed) when dropped.
#[derive(Debug)]
pub struct PooledConnection {
    connection: Option<BackendConnection>,
    pool: Arc<Pool>,
}

impl PooledConnection {
    /// The pool it came from.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }
}

impl std::ops::Deref for PooledConnection {
    type Target = BackendConnection;

    fn deref(&self) -> &BackendConnection {
        self.connection
            .as_ref()
            .expect("a pooled connection is present until drop")
    }
}

impl std::ops::DerefMut for PooledConnection {
    fn deref_mut(&mut self) -> &mut BackendConnection {
        self.connection
            .as_mut()
            .expect("a pooled connection is present until drop")
    }
}

impl Drop for PooledConnection {
    fn drop(&mut self) {
        if let Some(connection) = self.connection.take() {
            self.pool.give_back(connection);
        }
    }
}
