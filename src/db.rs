//! The built-in database: dbwire's MySQL-protocol server over embedded SQLite, started by
//! `ephpm serve` so PHP apps get a database with no setup.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;

use anyhow::Context as _;
use dbwire::server::{self, ServerConfig, StopHandle};
use dbwire::sqlite::{SqliteBackend, SqliteConfig};

use crate::config::DbConfig;

/// The running database listener.
pub struct Database {
    address: SocketAddr,
    stop: StopHandle,
    thread: JoinHandle<()>,
}

impl Database {
    /// Binds the listener and starts serving on a background thread.
    pub fn start(config: &DbConfig) -> anyhow::Result<Database> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating db.data_dir {}", config.data_dir.display()))?;
        let listener = TcpListener::bind(config.listen).with_context(|| {
            format!(
                "binding the database listener to {} (change db.listen, or set db.enabled = false \
                 if another MySQL server owns it)",
                config.listen
            )
        })?;
        let address = listener.local_addr()?;
        let backend = Arc::new(
            SqliteBackend::new(sqlite_config(config))
                .map_err(|err| anyhow::anyhow!("opening the SQLite databases: {err}"))?,
        );
        let stop = StopHandle::new();
        let thread = {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("db-accept".into())
                .spawn(move || {
                    if let Err(err) =
                        server::serve(listener, backend, ServerConfig::default(), stop)
                    {
                        log::error!("database listener stopped: {err}");
                    }
                })
                .context("starting the database thread")?
        };
        log::info!(
            "database: MySQL protocol on {address}, SQLite files in {}",
            config.data_dir.display()
        );
        Ok(Database {
            address,
            stop,
            thread,
        })
    }

    /// The address the listener is bound to.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub fn stop(self) {
        self.stop.stop();
        let _ = self.thread.join();
    }
}

fn sqlite_config(config: &DbConfig) -> SqliteConfig {
    let mut sqlite = SqliteConfig::new(&config.data_dir);
    sqlite.create_databases = config.create_databases;
    if config.username != "root" || !config.password.is_empty() {
        sqlite.users = vec![(config.username.clone(), config.password.clone())];
    }
    sqlite
}

/// The variables PHP apps read to find their database (Laravel's `DB_*`, `DATABASE_URL`).
pub fn php_environment(config: &DbConfig, address: SocketAddr) -> Vec<(String, String)> {
    let host = address.ip().to_string();
    let port = address.port().to_string();
    let url = format!(
        "mysql://{}:{}@{host}:{port}/{}",
        config.username, config.password, config.database
    );
    vec![
        ("DB_CONNECTION".into(), "mysql".into()),
        ("DB_HOST".into(), host),
        ("DB_PORT".into(), port),
        ("DB_DATABASE".into(), config.database.clone()),
        ("DB_USERNAME".into(), config.username.clone()),
        ("DB_PASSWORD".into(), config.password.clone()),
        ("DATABASE_URL".into(), url),
    ]
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
