//! The MySQL listener: accepts TCP connections and serves each on its own OS thread.
//!
//! Blocking I/O and a thread per connection fit the job: backends like SQLite block anyway,
//! and PHP holds few connections at a time. A connection that panics is logged and dropped;
//! the listener and the other connections carry on.

use std::any::Any;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use crate::backend::{Backend, DbError};
use crate::protocol::async_packet::AsyncPackets;
use crate::protocol::auth::AuthPlugin;
pub use crate::protocol::connection::executor::{BackendSockets, ExecutorCore};
pub use crate::protocol::connection::BlockingPool;
use crate::protocol::connection::{executor, serve_connection, ConnectionError, Shared};
use crate::protocol::constants::errors;
use crate::protocol::packet::{PacketError, PacketIo};
use crate::protocol::response::encode_err;
use crate::protocol::stream::ClientStream;

/// Pause after an accept error such as running out of file descriptors.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// Connection ids, unique across all listeners of the process.
static NEXT_CONNECTION_ID: AtomicU32 = AtomicU32::new(1);

/// Limits and timeouts of a MySQL listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfig {
    /// Largest payload accepted from a client (MySQL's `max_allowed_packet`); larger ones get
    /// ERR 1153 and the connection closes. Also caps a parameter's long data.
    pub max_packet: usize,
    /// Connections served at once; more are refused with ERR 1040.
    pub max_connections: usize,
    /// Idle time after which a logged-in connection is closed (MySQL's `wait_timeout`).
    pub wait_timeout: Duration,
    /// Time a client gets to complete the login exchange (MySQL's `connect_timeout`).
    pub connect_timeout: Duration,
    /// Time a write may block on a client that does not read (MySQL's `net_write_timeout`).
    pub write_timeout: Duration,
    /// The plugin announced in the greeting and used when switching a client's plugin.
    pub auth_plugin: AuthPlugin,
    /// Prepared statements one connection may hold (MySQL's `max_prepared_stmt_count`).
    pub max_prepared_statements: usize,
}

impl Default for ServerConfig {
    /// MySQL 8's defaults.
    fn default() -> ServerConfig {
        ServerConfig {
            max_packet: 64 * 1024 * 1024,
            max_connections: 151,
            wait_timeout: Duration::from_secs(8 * 60 * 60),
            connect_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(60),
            auth_plugin: AuthPlugin::CachingSha2Password,
            max_prepared_statements: 16_382,
        }
    }
}

/// Counters shown by COM_STATISTICS.
#[derive(Debug)]
pub(crate) struct ServerStats {
    /// When the listener started.
    pub started: Instant,
    /// Connections currently open.
    pub connections: AtomicUsize,
    /// COM_QUERY and COM_STMT_EXECUTE commands received.
    pub questions: AtomicU64,
    /// Statements an executor relayed itself (no thread involved).
    pub relayed: AtomicU64,
    /// Commands an executor handed to its blocking threads.
    pub on_threads: AtomicU64,
}

impl ServerStats {
    /// Zeroed counters, started now.
    fn new() -> ServerStats {
        ServerStats {
            started: Instant::now(),
            connections: AtomicUsize::new(0),
            questions: AtomicU64::new(0),
            relayed: AtomicU64::new(0),
            on_threads: AtomicU64::new(0),
        }
    }
}

/// Tells [`serve`] to stop accepting connections. Clones share the same state.
#[derive(Debug, Clone, Default)]
pub struct StopHandle {
    inner: Arc<StopState>,
}

#[derive(Debug, Default)]
struct StopState {
    stopped: AtomicBool,
    /// Addresses to connect to so that blocked `accept` calls return and see the flag.
    wake_addresses: Mutex<Vec<SocketAddr>>,
    /// Unix socket paths to connect to, for the same reason.
    wake_paths: Mutex<Vec<PathBuf>>,
}

impl StopHandle {
    /// A handle that has not been triggered.
    pub fn new() -> StopHandle {
        StopHandle::default()
    }

    /// Makes every [`serve`] using this handle return. Connections already accepted run on
    /// until their clients quit or idle out.
    pub fn stop(&self) {
        self.inner.stopped.store(true, Ordering::SeqCst);
        let addresses = std::mem::take(
            &mut *self
                .inner
                .wake_addresses
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for address in addresses {
            // The connection only wakes the accept loop, which drops it.
            let _ = TcpStream::connect_timeout(&address, Duration::from_secs(1));
        }
        let paths = std::mem::take(
            &mut *self
                .inner
                .wake_paths
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        );
        for path in paths {
            let _ = UnixStream::connect(path);
        }
    }

    /// True once [`StopHandle::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.inner.stopped.load(Ordering::SeqCst)
    }

    fn register(&self, address: SocketAddr) {
        self.inner
            .wake_addresses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(address);
    }
}

/// Accepts MySQL clients on `listener` until `stop` is triggered, serving each connection on
/// its own thread with sessions from `backend`.
pub fn serve<B: Backend>(
    listener: TcpListener,
    backend: Arc<B>,
    config: ServerConfig,
    stop: StopHandle,
) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    stop.register(wake_address(listener.local_addr()?));
    let shared = Arc::new(Shared {
        backend,
        config,
        stats: Arc::new(ServerStats::new()),
    });
    while !stop.is_stopped() {
        match listener.accept() {
            Ok(_) if stop.is_stopped() => break,
            Ok((stream, peer)) => {
                if let Err(error) = stream.set_nodelay(true) {
                    log::debug!("mysql client {peer}: TCP_NODELAY: {error}");
                }
                admit(ClientStream::Tcp(stream), peer.to_string(), &shared);
            }
            Err(error) if error.kind() == io::ErrorKind::InvalidInput => return Err(error),
            Err(error) => accept_failed(&error),
        }
    }
    Ok(())
}

/// Accepts MySQL clients on the Unix socket `listener` (bound at `path`) until `stop` is
/// triggered, like [`serve`].
pub fn serve_unix<B: Backend>(
    listener: UnixListener,
    path: PathBuf,
    backend: Arc<B>,
    config: ServerConfig,
    stop: StopHandle,
) -> io::Result<()> {
    listener.set_nonblocking(false)?;
    stop.inner
        .wake_paths
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(path.clone());
    let shared = Arc::new(Shared {
        backend,
        config,
        stats: Arc::new(ServerStats::new()),
    });
    let peer = format!("unix:{}", path.display());
    while !stop.is_stopped() {
        match listener.accept() {
            Ok(_) if stop.is_stopped() => break,
            Ok((stream, _)) => admit(ClientStream::Unix(stream), peer.clone(), &shared),
            Err(error) if error.kind() == io::ErrorKind::InvalidInput => return Err(error),
            Err(error) => accept_failed(&error),
        }
    }
    Ok(())
}

/// Counters of an [`ExecutorServer`], for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExecutorCounters {
    /// Client connections open.
    pub connections: usize,
    /// Statements the executors relayed themselves.
    pub relayed: u64,
    /// Commands (logins excluded) the executors handed to their blocking threads.
    pub on_threads: u64,
}

/// MySQL clients served as tasks on executors (one per core, each with its own listener):
/// the executor reads each command and relays the statements a proxy session leases on
/// non-blocking sockets; logins and every command that may block run on a thread of the
/// connection's own. Shared by every core.
pub struct ExecutorServer<B: Backend> {
    shared: Arc<Shared<B>>,
}

impl<B: Backend> ExecutorServer<B> {
    /// A server for sessions from `backend`.
    pub fn new(backend: Arc<B>, config: ServerConfig) -> ExecutorServer<B> {
        ExecutorServer {
            shared: Arc::new(Shared {
                backend,
                config,
                stats: Arc::new(ServerStats::new()),
            }),
        }
    }

    /// What the server has done so far.
    pub fn counters(&self) -> ExecutorCounters {
        let stats = &self.shared.stats;
        ExecutorCounters {
            connections: stats.connections.load(Ordering::Relaxed),
            relayed: stats.relayed.load(Ordering::Relaxed),
            on_threads: stats.on_threads.load(Ordering::Relaxed),
        }
    }

    /// The limits and timeouts (the caller applies `wait_timeout` and `write_timeout` to
    /// the non-blocking stream).
    pub fn config(&self) -> &ServerConfig {
        &self.shared.config
    }

    /// Serves one accepted client until it quits: `client` is its non-blocking stream on
    /// the calling executor, `blocking` another handle on the same socket (blocking mode)
    /// for blocking work, `core` what the calling executor keeps for its clients.
    pub async fn serve<C, S>(
        &self,
        client: C,
        blocking: ClientStream,
        peer: &str,
        core: &ExecutorCore<S>,
    ) where
        C: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
        S: futures_lite::AsyncRead + futures_lite::AsyncWrite + Unpin,
    {
        let (_slot, open) = ConnectionSlot::take(&self.shared.stats);
        if open > self.shared.config.max_connections {
            log::warn!(
                "refusing mysql client {peer}: {} connections open",
                open - 1
            );
            let mut payload = Vec::new();
            encode_err(&mut payload, &too_many_connections());
            let mut client = AsyncPackets::new(client, 0);
            client.write_payload(&payload);
            if let Err(error) = client.flush().await {
                log::debug!("could not tell a client the server is full: {error}");
            }
            return;
        }
        let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
        log::debug!("mysql connection {id} from {peer}");
        match executor::serve(&self.shared, client, blocking, id, core).await {
            Ok(()) => log::debug!("mysql connection {id} closed"),
            Err(error) => log_ending(id, peer, &error),
        }
    }
}

/// Where to connect to reach `local`: loopback when it listens on every address.
fn wake_address(local: SocketAddr) -> SocketAddr {
    let ip = match local.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, local.port())
}

fn accept_failed(error: &io::Error) {
    match error.kind() {
        io::ErrorKind::Interrupted | io::ErrorKind::ConnectionAborted => {}
        _ => {
            log::warn!("mysql accept failed: {error}");
            thread::sleep(ACCEPT_ERROR_PAUSE);
        }
    }
}

/// Holds one of the `max_connections` slots until dropped.
struct ConnectionSlot {
    stats: Arc<ServerStats>,
}

impl ConnectionSlot {
    /// Takes a slot; returns the number of connections including this one.
    fn take(stats: &Arc<ServerStats>) -> (ConnectionSlot, usize) {
        let open = stats.connections.fetch_add(1, Ordering::SeqCst) + 1;
        (
            ConnectionSlot {
                stats: Arc::clone(stats),
            },
            open,
        )
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.stats.connections.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Starts a thread for `stream`, or refuses it when the server is full.
fn admit<B: Backend>(stream: ClientStream, peer: String, shared: &Arc<Shared<B>>) {
    let (slot, open) = ConnectionSlot::take(&shared.stats);
    if open > shared.config.max_connections {
        log::warn!(
            "refusing mysql client {peer}: {} connections open",
            open - 1
        );
        refuse_too_many(&stream);
        return;
    }
    let id = NEXT_CONNECTION_ID.fetch_add(1, Ordering::Relaxed);
    let shared = Arc::clone(shared);
    let thread_peer = peer.clone();
    let spawned = thread::Builder::new()
        .name(format!("mysql-conn-{id}"))
        .spawn(move || run_connection(stream, thread_peer, id, &shared, slot));
    if let Err(error) = spawned {
        log::error!("mysql client {peer}: no thread for the connection: {error}");
    }
}

/// Serves one connection on its thread, containing panics.
fn run_connection<B: Backend>(
    stream: ClientStream,
    peer: String,
    id: u32,
    shared: &Arc<Shared<B>>,
    _slot: ConnectionSlot,
) {
    log::debug!("mysql connection {id} from {peer}");
    let outcome = panic::catch_unwind(AssertUnwindSafe(|| serve_connection(stream, shared, id)));
    match outcome {
        Ok(Ok(())) => log::debug!("mysql connection {id} closed"),
        Ok(Err(error)) => log_ending(id, &peer, &error),
        Err(panic) => log::error!(
            "mysql connection {id} from {peer} panicked: {}",
            panic_message(&panic)
        ),
    }
}

fn log_ending(id: u32, peer: &str, error: &ConnectionError) {
    match error {
        ConnectionError::Packet(PacketError::TimedOut) => {
            log::debug!("mysql connection {id} closed: idle timeout");
        }
        ConnectionError::Io(_)
        | ConnectionError::Packet(PacketError::Io(_) | PacketError::Closed) => {
            log::debug!("mysql connection {id} from {peer} ended: {error}");
        }
        ConnectionError::AccessDenied(_)
        | ConnectionError::Handshake(_)
        | ConnectionError::Session(_) => {
            log::info!("mysql connection {id} from {peer} refused: {error}");
        }
        ConnectionError::Packet(_) | ConnectionError::Random(_) => {
            log::warn!("mysql connection {id} from {peer} closed: {error}");
        }
    }
}

pub(crate) fn panic_message(panic: &Box<dyn Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

/// The ERR a client gets in place of the greeting when the server is full.
fn too_many_connections() -> DbError {
    DbError::new(
        errors::TOO_MANY_CONNECTIONS,
        "08004",
        "Too many connections",
    )
}

/// Sends ERR 1040 in place of the greeting.
fn refuse_too_many(stream: &ClientStream) {
    let mut payload = Vec::new();
    encode_err(&mut payload, &too_many_connections());
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let mut io = PacketIo::new(io::empty(), stream, 0);
    if let Err(error) = io.write_payload(&payload).and_then(|()| io.flush()) {
        log::debug!("could not tell a client the server is full: {error}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wake_addresses_use_loopback_for_wildcards() {
        let any: SocketAddr = "0.0.0.0:3306".parse().unwrap();
        assert_eq!(wake_address(any), "127.0.0.1:3306".parse().unwrap());
        let any6: SocketAddr = "[::]:3306".parse().unwrap();
        assert_eq!(wake_address(any6), "[::1]:3306".parse().unwrap());
        let one: SocketAddr = "10.1.2.3:3306".parse().unwrap();
        assert_eq!(wake_address(one), one);
    }

    #[test]
    fn slots_are_released_on_drop() {
        let stats = Arc::new(ServerStats::new());
        let (first, open) = ConnectionSlot::take(&stats);
        assert_eq!(open, 1);
        let (_second, open) = ConnectionSlot::take(&stats);
        assert_eq!(open, 2);
        drop(first);
        assert_eq!(stats.connections.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn panic_messages_are_extracted() {
        let payload: Box<dyn Any + Send> = Box::new("boom");
        assert_eq!(panic_message(&payload), "boom");
        let payload: Box<dyn Any + Send> = Box::new(String::from("bang"));
        assert_eq!(panic_message(&payload), "bang");
    }
}
