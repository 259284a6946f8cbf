//! The built-in database's MySQL clients on a core: the core's own listener on the database
//! address, each client a task on the core's executor. Statements the proxy can relay
//! without blocking are relayed here on io_uring; logins, SQLite statements and everything
//! else that may block run on the core's threads for blocking work (see
//! `dbwire::server::ExecutorServer`).

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;

use dbwire::proxy::ProxyBackend;
use dbwire::server::{ExecutorCore, ExecutorServer};
use dbwire::sqlite::SqliteBackend;
use glommio::net::{TcpListener, TcpStream};

use crate::server::core::{accept, spawn_contained, CoreContext};

/// The database's sessions, limits and counters, shared by every core.
#[derive(Clone)]
pub(crate) enum MysqlServer {
    /// The embedded SQLite databases.
    Sqlite(Arc<ExecutorServer<SqliteBackend>>),
    /// The proxy to `db.mysql.url`.
    Proxy(Arc<ExecutorServer<ProxyBackend>>),
}

impl MysqlServer {
    /// Connections and where commands were answered, for metrics.
    pub(crate) fn counters(&self) -> dbwire::server::ExecutorCounters {
        match self {
            MysqlServer::Sqlite(server) => server.counters(),
            MysqlServer::Proxy(server) => server.counters(),
        }
    }
}

/// What a core needs to serve the database's MySQL clients.
#[derive(Clone)]
pub(crate) struct MysqlSpec {
    /// The address every core listens on (`SO_REUSEPORT`).
    pub(crate) address: SocketAddr,
    /// Sessions, limits and counters, shared by every core.
    pub(crate) server: MysqlServer,
    /// The index of the core this copy is for (its backend pools are that core's).
    pub(crate) core: usize,
}

/// Binds this core's listener on the database address.
pub(crate) fn bind(spec: &MysqlSpec) -> anyhow::Result<TcpListener> {
    TcpListener::bind(spec.address).map_err(|err| {
        anyhow::anyhow!(
            "binding the database listener to {} on a core: {err}",
            spec.address
        )
    })
}

/// Accepts MySQL clients on `listener` until shutdown, serving each on this core.
pub(crate) async fn accept_loop(listener: TcpListener, spec: MysqlSpec, core: Rc<CoreContext>) {
    let executor_core = Rc::new(ExecutorCore::new(spec.core, glommio_stream));
    while let Some(stream) = accept(&listener, &core.shutdown).await {
        let (server, executor_core) = (spec.server.clone(), Rc::clone(&executor_core));
        spawn_contained("MySQL", async move {
            if let Err(err) = serve(stream, &server, &executor_core).await {
                log::debug!("mysql client dropped: {err}");
            }
        });
    }
}

async fn serve(
    stream: TcpStream,
    server: &MysqlServer,
    core: &ExecutorCore<TcpStream>,
) -> io::Result<()> {
    let config = match server {
        MysqlServer::Sqlite(server) => server.config(),
        MysqlServer::Proxy(server) => server.config(),
    };
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(config.wait_timeout))?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    let peer = stream.peer_addr()?.to_string();
    // The connection's thread reads and writes the same socket with blocking calls (the
    // executor's own calls never block, whatever the socket's mode).
    let blocking = std::net::TcpStream::from(socket2::SockRef::from(&stream).try_clone()?);
    blocking.set_nonblocking(false)?;
    let blocking = dbwire::protocol::stream::ClientStream::Tcp(blocking);
    match server {
        MysqlServer::Sqlite(server) => server.serve(stream, blocking, &peer, core).await,
        MysqlServer::Proxy(server) => server.serve(stream, blocking, &peer, core).await,
    }
    Ok(())
}

/// A glommio stream on a backend connection's (duplicated) socket; blocking mode is fine:
/// glommio's own reads and writes never block.
fn glommio_stream(socket: std::net::TcpStream) -> io::Result<TcpStream> {
    Ok(TcpStream::from(socket2::Socket::from(socket)))
}
