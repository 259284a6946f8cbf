//! The built-in database: dbwire's MySQL-protocol server over embedded SQLite, started by
//! `ephpm serve` so PHP apps get a database with no setup, or the same server as a proxy to
//! a real MySQL/MariaDB primary and its replicas (`[db.mysql]`).

use std::net::SocketAddr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use dbwire::client::ConnectOptions;
use dbwire::proxy::{PoolConfig, ProxyBackend, ProxyConfig, RoutingConfig, StatsConfig};
use dbwire::server::{ExecutorServer, ServerConfig};
use dbwire::sqlite::{SqliteBackend, SqliteConfig};

use crate::config::DbConfig;
use crate::server::mysql::{socket_queues, MysqlServer, MysqlSpec};

/// The running database listener.
pub struct Database {
    proxy: Option<Arc<ProxyBackend>>,
    /// The clients are the cores' (see `src/server/mysql.rs`); `db.socket` is removed at stop.
    executor: MysqlSpec,
}

/// The database listeners, bound but not serving yet.
pub struct BoundDatabase {
    /// Holds `db.listen` (bound, not listening) until the cores bind it themselves.
    reservation: socket2::Socket,
    address: SocketAddr,
    /// `db.socket`, checked and cleared for core 0 to bind.
    socket: Option<PathBuf>,
}

impl BoundDatabase {
    /// Binds `db.listen` the way the cores will (`SO_REUSEPORT`), so that a port another
    /// server holds is an error now, and port 0 becomes the port every core binds.
    pub fn bind(config: &DbConfig) -> anyhow::Result<BoundDatabase> {
        let reservation = reserve(config.listen).with_context(|| {
            format!(
                "binding the database listener to {} (change db.listen, or set db.enabled = false \
                 if another MySQL server owns it)",
                config.listen
            )
        })?;
        let address = reservation
            .local_addr()?
            .as_socket()
            .context("the database listener has no IP address")?;
        let socket = (!config.socket.as_os_str().is_empty())
            .then(|| prepare_socket(&config.socket).map(|()| config.socket.clone()))
            .transpose()?;
        Ok(BoundDatabase {
            reservation,
            address,
            socket,
        })
    }

    /// The address the listener is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Starts serving on background threads: a proxy to `db.mysql.url` when one is set,
    /// else the embedded SQLite databases.
    pub fn start(self, config: &DbConfig, cores: usize) -> anyhow::Result<Database> {
        let BoundDatabase {
            reservation,
            address,
            socket,
        } = self;
        let on = match &socket {
            Some(path) => format!("{address} and {}", path.display()),
            None => address.to_string(),
        };
        // The clients are served by the cores, each on its own listener at this address (and
        // core 0 on the socket).
        drop(reservation);
        let (server, proxy, serving) = if config.mysql.url.is_empty() {
            let backend = Arc::new(open_sqlite(config)?);
            let server = MysqlServer::Sqlite(Arc::new(ExecutorServer::new(
                backend,
                server_config(config),
            )));
            let serving = format!("SQLite files in {}", config.data_dir.display());
            (server, None, serving)
        } else {
            let proxy_config = proxy_config(config, cores)?;
            let upstreams = upstream_list(&proxy_config);
            let backend = Arc::new(
                ProxyBackend::start(proxy_config).context("starting the database proxy threads")?,
            );
            let server = MysqlServer::Proxy(Arc::new(ExecutorServer::new(
                Arc::clone(&backend),
                server_config(config),
            )));
            (server, Some(backend), format!("proxying to {upstreams}"))
        };
        log::info!("database: MySQL protocol on {on}, {serving}");
        Ok(Database {
            proxy,
            executor: MysqlSpec {
                address,
                socket,
                socket_clients: socket_queues(cores),
                server,
                core: 0,
            },
        })
    }
}

impl Database {
    /// What the cores need to serve the MySQL clients.
    pub fn executor_spec(&self) -> MysqlSpec {
        self.executor.clone()
    }

    /// The proxy backend, when the listener proxies to MySQL (for the node API).
    pub fn proxy(&self) -> Option<Arc<ProxyBackend>> {
        self.proxy.clone()
    }

    /// Removes `db.socket` and stops the proxy's background threads (the cores have stopped
    /// accepting clients).
    pub fn stop(self) {
        if let Some(path) = self.executor.socket {
            let _ = std::fs::remove_file(path);
        }
        if let Some(proxy) = self.proxy {
            proxy.shutdown();
        }
    }
}

fn open_sqlite(config: &DbConfig) -> anyhow::Result<SqliteBackend> {
    std::fs::create_dir_all(&config.data_dir)
        .with_context(|| format!("creating db.data_dir {}", config.data_dir.display()))?;
    SqliteBackend::new(sqlite_config(config))
        .map_err(|err| anyhow::anyhow!("opening the SQLite databases: {err}"))
}

/// The listener's limits: MySQL's defaults with `db.max_connections`.
fn server_config(config: &DbConfig) -> ServerConfig {
    ServerConfig {
        max_connections: config.max_connections,
        ..ServerConfig::default()
    }
}

/// A TCP socket bound to `address` with `SO_REUSEADDR` and `SO_REUSEPORT`, as the cores'
/// listeners are (so that the connections they leave in TIME_WAIT do not block a restart).
fn reserve(address: SocketAddr) -> std::io::Result<socket2::Socket> {
    let domain = socket2::Domain::for_address(address);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&address.into())?;
    Ok(socket)
}

/// Readies `db.socket` for core 0 to bind: refuses a path another server listens on, removes
/// a stale socket, creates the directory.
fn prepare_socket(path: &Path) -> anyhow::Result<()> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            anyhow::bail!(
                "db.socket {}: another server is listening on it",
                path.display()
            );
        }
        std::fs::remove_file(path)
            .with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating the directory of db.socket {}", dir.display()))?;
    }
    Ok(())
}

/// The proxy's settings from `[db]` and `[db.mysql]` (URLs were checked by config validation).
fn proxy_config(config: &DbConfig, cores: usize) -> anyhow::Result<ProxyConfig> {
    let mysql = &config.mysql;
    let parse = |url: &str, key: &str| {
        ConnectOptions::from_url(url).map_err(|err| anyhow::anyhow!("config: {key}: {err}"))
    };
    let primary = parse(&mysql.url, "db.mysql.url")?;
    let replicas = mysql
        .replicas
        .urls
        .iter()
        .map(|url| parse(url, "db.mysql.replicas.urls"))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut users = vec![(primary.user.clone(), primary.password.clone())];
    if config.username != "root" || !config.password.is_empty() {
        users.push((config.username.clone(), config.password.clone()));
    }
    let replicas_config = &mysql.replicas;
    Ok(ProxyConfig {
        primary,
        replicas,
        pool: PoolConfig {
            min_connections: mysql.min_connections.min(mysql.max_connections),
            max_connections: mysql.max_connections,
            idle_timeout: mysql.idle_timeout.0,
            max_lifetime: mysql.max_lifetime.0,
            health_check_interval: mysql.health_check_interval.0,
            acquire_timeout: mysql.acquire_timeout.0,
            connect_timeout: mysql.connect_timeout.0,
            ..PoolConfig::default()
        },
        routing: RoutingConfig {
            read_write_split: replicas_config.read_write_split,
            sticky_after_write: replicas_config.sticky_after_write.0,
            max_replica_lag: (!replicas_config.max_replica_lag.0.is_zero())
                .then_some(replicas_config.max_replica_lag.0),
            lag_check_interval: replicas_config.lag_check_interval.0,
        },
        stats: StatsConfig {
            slow_query_threshold: mysql.slow_query_threshold.0,
            slow_log_entries: mysql.slow_log_entries,
            max_digests: mysql.max_digests,
        },
        users,
        cores,
    })
}

/// "primary 10.0.0.1:3306, replicas 10.0.0.2:3306" for the start-up log.
fn upstream_list(config: &ProxyConfig) -> String {
    let mut text = format!("primary {}", config.primary.address());
    if !config.replicas.is_empty() {
        let replicas: Vec<String> = config
            .replicas
            .iter()
            .map(ConnectOptions::address)
            .collect();
        text.push_str(&format!(", replicas {}", replicas.join(", ")));
    }
    text
}

fn sqlite_config(config: &DbConfig) -> SqliteConfig {
    let mut sqlite = SqliteConfig::new(&config.data_dir);
    sqlite.create_databases = config.create_databases;
    sqlite.max_databases = config.max_databases;
    sqlite.max_result_bytes = usize::try_from(config.max_result_size.0).unwrap_or(usize::MAX);
    let statement_time = config.max_statement_time.0;
    sqlite.max_statement_time = (!statement_time.is_zero()).then_some(statement_time);
    if config.username != "root" || !config.password.is_empty() {
        sqlite.users = vec![(config.username.clone(), config.password.clone())];
    }
    sqlite
}

/// The variables PHP apps read to find their database (Laravel's `DB_*`, `DATABASE_URL`):
/// the listener's address, with the proxied server's credentials and database in proxy mode.
pub fn php_environment(config: &DbConfig, address: SocketAddr) -> Vec<(String, String)> {
    let (user, password, database) = match ConnectOptions::from_url(&config.mysql.url) {
        Ok(upstream) if !config.mysql.url.is_empty() => (
            upstream.user,
            upstream.password,
            upstream.database.unwrap_or_else(|| config.database.clone()),
        ),
        _ => (
            config.username.clone(),
            config.password.clone(),
            config.database.clone(),
        ),
    };
    let host = address.ip().to_string();
    let port = address.port().to_string();
    let url = format!("mysql://{user}:{password}@{host}:{port}/{database}");
    vec![
        ("DB_CONNECTION".into(), "mysql".into()),
        ("DB_HOST".into(), host),
        ("DB_PORT".into(), port),
        ("DB_DATABASE".into(), database),
        ("DB_USERNAME".into(), user),
        ("DB_PASSWORD".into(), password),
        ("DATABASE_URL".into(), url),
    ]
    .into_iter()
    .chain(
        (!config.socket.as_os_str().is_empty())
            .then(|| ("DB_SOCKET".into(), config.socket.display().to_string())),
    )
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_names_the_listener_and_database() {
        let config = DbConfig::default();
        let env = php_environment(&config, "127.0.0.1:3306".parse().unwrap());
        let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("DB_HOST"), Some("127.0.0.1"));
        assert_eq!(get("DB_PORT"), Some("3306"));
        assert_eq!(get("DB_DATABASE"), Some("ephpm"));
        assert_eq!(
            get("DATABASE_URL"),
            Some("mysql://root:@127.0.0.1:3306/ephpm")
        );
    }
}
