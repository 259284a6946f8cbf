//! The built-in database's MySQL clients on a core (proxy mode): the core's own listener on
//! the database address, each client a task on the core's executor. Statements the proxy
//! can relay without blocking are relayed here on io_uring; logins and everything that may
//! block run on a thread of the client's own (see `dbwire::server::ExecutorServer`).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::{Arc, Weak};

use dbwire::proxy::ProxyBackend;
use dbwire::server::{BackendStreams, ExecutorServer};
use glommio::net::{TcpListener, TcpStream};

use crate::server::core::{accept, spawn_contained, CoreContext};

/// What a core needs to serve the database's MySQL clients.
#[derive(Clone)]
pub(crate) struct MysqlSpec {
    /// The address every core listens on (`SO_REUSEPORT`).
    pub(crate) address: SocketAddr,
    /// Sessions, limits and counters, shared by every core.
    pub(crate) server: Arc<ExecutorServer<ProxyBackend>>,
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
    let streams = Rc::new(ExecutorStreams::default());
    while let Some(stream) = accept(&listener, &core.shutdown).await {
        let (server, streams) = (Arc::clone(&spec.server), Rc::clone(&streams));
        spawn_contained("MySQL", async move {
            if let Err(err) = serve(stream, &server, &streams).await {
                log::debug!("mysql client dropped: {err}");
            }
        });
    }
}

async fn serve(
    stream: TcpStream,
    server: &ExecutorServer<ProxyBackend>,
    streams: &ExecutorStreams,
) -> io::Result<()> {
    let config = server.config();
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(config.wait_timeout))?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    let peer = stream.peer_addr()?.to_string();
    // The connection's thread reads and writes the same socket with blocking calls (the
    // executor's own calls never block, whatever the socket's mode).
    let blocking = std::net::TcpStream::from(socket2::SockRef::from(&stream).try_clone()?);
    blocking.set_nonblocking(false)?;
    let blocking = dbwire::protocol::stream::ClientStream::Tcp(blocking);
    server.serve(stream, blocking, &peer, streams).await;
    Ok(())
}

/// This core's non-blocking streams on backend connections' sockets, one per connection,
/// made when a connection first serves a statement here and dropped once it is closed.
#[derive(Default)]
struct ExecutorStreams {
    by_connection: RefCell<HashMap<usize, (Weak<()>, TcpStream)>>,
    /// Entries after the last sweep of closed connections.
    swept_at: std::cell::Cell<usize>,
}

impl BackendStreams for ExecutorStreams {
    type Stream = TcpStream;

    fn take(&self, connection: &dbwire::client::Connection) -> io::Result<TcpStream> {
        let liveness = connection.liveness();
        let kept = self
            .by_connection
            .borrow_mut()
            .remove(&key(&liveness))
            .filter(|(kept, _)| kept.ptr_eq(&liveness) && kept.strong_count() > 0);
        if let Some((_, stream)) = kept {
            return Ok(stream);
        }
        let socket = connection.socket().try_clone()?;
        Ok(TcpStream::from(socket2::Socket::from(socket)))
    }

    fn keep(&self, connection: &dbwire::client::Connection, stream: TcpStream) {
        let liveness = connection.liveness();
        let mut by_connection = self.by_connection.borrow_mut();
        by_connection.insert(key(&liveness), (liveness, stream));
        if by_connection.len() > 2 * self.swept_at.get().max(16) {
            // A closed backend connection's stream would keep its socket open.
            by_connection.retain(|_, (liveness, _)| liveness.strong_count() > 0);
            self.swept_at.set(by_connection.len());
        }
    }
}

/// The map key of a backend connection: the address of its liveness token (kept allocated,
/// so never reused, while a `Weak` to it is in the map).
fn key(liveness: &Weak<()>) -> usize {
    liveness.as_ptr() as usize
}
