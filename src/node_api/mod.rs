//! The node API: a small HTTP/1.1 listener (default 127.0.0.1:9090) for operators, Prometheus
//! and the admin UI. `/metrics` is the Prometheus scrape endpoint; `/api/db/digests`,
//! `/api/db/slow`, `/api/db/pool` and `/api/kv/stats` answer JSON. With `node_api.secret` set,
//! every request needs `Authorization: Bearer <secret>`.
//!
//! Traffic is a scrape every few seconds, so each connection gets a short-lived thread and
//! one request (`Connection: close`), away from the PHP executors.

mod http;
mod metrics;
mod routes;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use dbwire::proxy::ProxyBackend;

use crate::config::NodeApiConfig;
use crate::server::limit::ConnectionLimit;
use crate::server::tls::HandshakeStats;

/// Pause after an accept error such as running out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// What the node API reports on.
#[derive(Clone, Default)]
pub struct Sources {
    /// The database proxy, when `db.mysql.url` is set.
    pub proxy: Option<Arc<ProxyBackend>>,
    /// The built-in database's MySQL server (either mode), when `[db]` is enabled.
    pub database: Option<crate::server::mysql::MysqlServer>,
    /// The KV store, when enabled.
    pub kv: Option<Arc<kv::Store>>,
    /// The connection limits of the listeners (HTTP, KV, the node API itself).
    pub listeners: Vec<ConnectionLimit>,
    /// HTTPS handshake counters, when `[server.tls]` is on.
    pub tls: Option<Arc<HandshakeStats>>,
    /// The PHP workers' figures, in worker mode.
    pub workers: Option<Arc<crate::php::WorkerStats>>,
    /// Reloads the PHP workers (`POST /api/workers/reload`), in worker mode.
    pub reload: Option<crate::php::Reload>,
}

/// The running node API listener.
pub struct NodeApi {
    address: SocketAddr,
    stopped: Arc<AtomicBool>,
    thread: JoinHandle<()>,
}

impl NodeApi {
    /// Binds `config.listen` and serves on a background thread.
    pub fn start(config: &NodeApiConfig, sources: Sources) -> anyhow::Result<NodeApi> {
        let listener = TcpListener::bind(config.listen).with_context(|| {
            format!(
                "binding the node API to {} (change node_api.listen, or set \
                 node_api.enabled = false)",
                config.listen
            )
        })?;
        let address = listener.local_addr()?;
        let stopped = Arc::new(AtomicBool::new(false));
        let limit = ConnectionLimit::new("node API", config.max_connections);
        let mut sources = sources;
        sources.listeners.push(limit.clone());
        let context = Arc::new(routes::Context {
            sources,
            secret: config.secret.clone(),
        });
        let thread = {
            let stopped = Arc::clone(&stopped);
            std::thread::Builder::new()
                .name("node-api".into())
                .spawn(move || accept_loop(&listener, &context, &stopped, &limit))
                .context("starting the node API thread")?
        };
        log::info!("node API on http://{address} (/metrics, /api/db/*, /api/kv/stats)");
        Ok(NodeApi {
            address,
            stopped,
            thread,
        })
    }

    /// Stops accepting connections and waits for the accept loop to end.
    pub fn stop(self) {
        self.stopped.store(true, Ordering::SeqCst);
        // A connection wakes the blocked accept, which then sees the flag.
        let _ = TcpStream::connect_timeout(&self.address, Duration::from_secs(1));
        let _ = self.thread.join();
    }
}

fn accept_loop(
    listener: &TcpListener,
    context: &Arc<routes::Context>,
    stopped: &AtomicBool,
    limit: &ConnectionLimit,
) {
    loop {
        let accepted = listener.accept();
        if stopped.load(Ordering::SeqCst) {
            return;
        }
        match accepted {
            Ok((stream, peer)) => {
                let Some(permit) = limit.try_acquire() else {
                    http::refuse(stream);
                    continue;
                };
                let context = Arc::clone(context);
                let spawned = std::thread::Builder::new()
                    .name("node-api-conn".into())
                    .spawn(move || {
                        let _permit = permit;
                        http::serve_one(stream, &context);
                    });
                if let Err(err) = spawned {
                    log::warn!("node API: no thread for {peer}: {err}");
                }
            }
            Err(err) => {
                log::warn!("node API: accept failed: {err}");
                std::thread::sleep(ACCEPT_ERROR_PAUSE);
            }
        }
    }
}
