//! The built-in database's MySQL clients on a core: the core's own listener on the database
//! address, each client a task on the core's executor. Statements the proxy can relay
//! without blocking are relayed here on io_uring; logins, SQLite statements and everything
//! else that may block run on the core's threads for blocking work (see
//! `dbwire::server::ExecutorServer`).

use std::future::Future as _;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use dbwire::protocol::stream::ClientStream;
use dbwire::proxy::ProxyBackend;
use dbwire::server::{ExecutorCore, ExecutorServer};
use dbwire::sqlite::SqliteBackend;
use futures_lite::{future, AsyncRead, AsyncWrite};
use glommio::net::{AcceptedUnixStream, TcpListener, TcpStream, UnixListener, UnixStream};
use glommio::timer::Timer;

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
    /// The limits and timeouts clients are served with.
    fn config(&self) -> &dbwire::server::ServerConfig {
        match self {
            MysqlServer::Sqlite(server) => server.config(),
            MysqlServer::Proxy(server) => server.config(),
        }
    }

    /// Serves one client (see `ExecutorServer::serve`).
    async fn serve<C>(
        &self,
        client: C,
        blocking: ClientStream,
        peer: &str,
        core: &ExecutorCore<TcpStream>,
    ) where
        C: AsyncRead + AsyncWrite + Unpin,
    {
        match self {
            MysqlServer::Sqlite(server) => server.serve(client, blocking, peer, core).await,
            MysqlServer::Proxy(server) => server.serve(client, blocking, peer, core).await,
        }
    }

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
    /// `db.socket`, accepted by core 0 (checked and cleared by the main thread).
    pub(crate) socket: Option<PathBuf>,
    /// Core 0 hands every core its turn of the `db.socket` clients (one queue per core).
    pub(crate) socket_clients: Arc<Vec<SocketQueue>>,
    /// Sessions, limits and counters, shared by every core.
    pub(crate) server: MysqlServer,
    /// The index of the core this copy is for (its backend pools are that core's).
    pub(crate) core: usize,
}

/// Accepted `db.socket` clients on their way to the core that serves them.
#[derive(Clone)]
pub(crate) struct SocketQueue {
    sender: async_channel::Sender<AcceptedUnixStream>,
    receiver: async_channel::Receiver<AcceptedUnixStream>,
}

/// One queue per core, for [`MysqlSpec::socket_clients`].
pub(crate) fn socket_queues(cores: usize) -> Arc<Vec<SocketQueue>> {
    Arc::new(
        (0..cores.max(1))
            .map(|_| {
                let (sender, receiver) = async_channel::unbounded();
                SocketQueue { sender, receiver }
            })
            .collect(),
    )
}

/// A core's database listeners.
pub(crate) struct MysqlListeners {
    tcp: TcpListener,
    /// `db.socket`, on core 0.
    unix: Option<UnixListener>,
}

/// Binds this core's listener on the database address, and on core 0 `db.socket`.
pub(crate) fn bind(spec: &MysqlSpec) -> anyhow::Result<MysqlListeners> {
    let tcp = TcpListener::bind(spec.address).map_err(|err| {
        anyhow::anyhow!(
            "binding the database listener to {} on a core: {err}",
            spec.address
        )
    })?;
    let unix = match (&spec.socket, spec.core) {
        (Some(path), 0) => Some(bind_unix(path)?),
        _ => None,
    };
    Ok(MysqlListeners { tcp, unix })
}

/// Binds `db.socket`, open to local users as MySQL's socket is.
fn bind_unix(path: &Path) -> anyhow::Result<UnixListener> {
    let listener = UnixListener::bind(path)
        .map_err(|err| anyhow::anyhow!("binding db.socket {}: {err}", path.display()))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o777)).map_err(
        |err| anyhow::anyhow!("opening db.socket {} to local users: {err}", path.display()),
    )?;
    Ok(listener)
}

/// Accepts MySQL clients until shutdown, serving each on this core; core 0 also accepts the
/// `db.socket` clients and deals them out to the cores in turn.
pub(crate) async fn accept_loop(listeners: MysqlListeners, spec: MysqlSpec, core: Rc<CoreContext>) {
    let executor_core = Rc::new(ExecutorCore::new(spec.core, glommio_stream));
    let dealer = listeners.unix.map(|listener| {
        let (queues, core) = (Arc::clone(&spec.socket_clients), Rc::clone(&core));
        glommio::spawn_local(async move { deal_socket_clients(&listener, &queues, &core).await })
    });
    let receiver = spec.socket_clients.get(spec.core).map(|queue| {
        let (receiver, server, executor_core, core) = (
            queue.receiver.clone(),
            spec.server.clone(),
            Rc::clone(&executor_core),
            Rc::clone(&core),
        );
        glommio::spawn_local(async move {
            serve_socket_clients(&receiver, &server, &executor_core, &core).await;
        })
    });
    while let Some(stream) = accept(&listeners.tcp, &core.shutdown).await {
        let (server, executor_core) = (spec.server.clone(), Rc::clone(&executor_core));
        spawn_contained("MySQL", async move {
            if let Err(err) = serve_tcp(stream, &server, &executor_core).await {
                log::debug!("mysql client dropped: {err}");
            }
        });
    }
    if let Some(dealer) = dealer {
        dealer.await;
    }
    if let Some(receiver) = receiver {
        receiver.await;
    }
}

/// Accepts clients on `db.socket` until shutdown and queues each for the next core in turn
/// (a Unix socket can't be bound once per core as a TCP port can).
async fn deal_socket_clients(listener: &UnixListener, queues: &[SocketQueue], core: &CoreContext) {
    let mut next = 0;
    loop {
        let accepted = future::or(async { Some(listener.shared_accept().await) }, async {
            core.shutdown.wait().await;
            None
        })
        .await;
        let stream = match accepted {
            None => return,
            Some(Ok(stream)) => stream,
            Some(Err(err)) => {
                log::warn!("accept on db.socket failed: {err}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if let Some(queue) = queues.get(next % queues.len().max(1)) {
            if let Err(err) = queue.sender.try_send(stream) {
                log::warn!("a db.socket client was dropped: its core is gone ({err})");
            }
        }
        next = next.wrapping_add(1);
    }
}

/// Serves the `db.socket` clients queued for this core until shutdown.
async fn serve_socket_clients(
    queue: &async_channel::Receiver<AcceptedUnixStream>,
    server: &MysqlServer,
    executor_core: &Rc<ExecutorCore<TcpStream>>,
    core: &CoreContext,
) {
    loop {
        let received = future::or(async { queue.recv().await.ok() }, async {
            core.shutdown.wait().await;
            None
        })
        .await;
        let Some(accepted) = received else {
            return;
        };
        let stream = accepted.bind_to_executor();
        let (server, executor_core) = (server.clone(), Rc::clone(executor_core));
        spawn_contained("MySQL", async move {
            if let Err(err) = serve_unix(stream, &server, &executor_core).await {
                log::debug!("mysql client on db.socket dropped: {err}");
            }
        });
    }
}

async fn serve_tcp(
    stream: TcpStream,
    server: &MysqlServer,
    core: &ExecutorCore<TcpStream>,
) -> io::Result<()> {
    let config = server.config();
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(config.wait_timeout))?;
    stream.set_write_timeout(Some(config.write_timeout))?;
    let peer = stream.peer_addr()?.to_string();
    // The core's blocking threads read and write the same socket with blocking calls (the
    // executor's own calls never block, whatever the socket's mode).
    let blocking = std::net::TcpStream::from(socket2::SockRef::from(&stream).try_clone()?);
    blocking.set_nonblocking(false)?;
    server
        .serve(stream, ClientStream::Tcp(blocking), &peer, core)
        .await;
    Ok(())
}

async fn serve_unix(
    stream: UnixStream,
    server: &MysqlServer,
    core: &ExecutorCore<TcpStream>,
) -> io::Result<()> {
    let config = server.config();
    let blocking =
        std::os::unix::net::UnixStream::from(socket2::SockRef::from(&stream).try_clone()?);
    blocking.set_nonblocking(false)?;
    // glommio's Unix streams have no timeouts of their own.
    let stream = Timed::new(stream, config.wait_timeout, config.write_timeout);
    server
        .serve(stream, ClientStream::Unix(blocking), "localhost", core)
        .await;
    Ok(())
}

/// A glommio stream on a backend connection's (duplicated) socket; blocking mode is fine:
/// glommio's own reads and writes never block.
fn glommio_stream(socket: std::net::TcpStream) -> io::Result<TcpStream> {
    Ok(TcpStream::from(socket2::Socket::from(socket)))
}

/// A stream whose reads and writes fail with `TimedOut` after making no progress for their
/// timeout (what glommio's TCP streams do by themselves).
struct Timed<S> {
    inner: S,
    read_timeout: Duration,
    write_timeout: Duration,
    read_deadline: Option<Timer>,
    write_deadline: Option<Timer>,
}

impl<S> Timed<S> {
    fn new(inner: S, read_timeout: Duration, write_timeout: Duration) -> Timed<S> {
        Timed {
            inner,
            read_timeout,
            write_timeout,
            read_deadline: None,
            write_deadline: None,
        }
    }
}

/// Completes `outcome`, or fails with `TimedOut` once `deadline` (started at the first
/// pending poll) passes.
fn within_deadline<T>(
    outcome: Poll<io::Result<T>>,
    deadline: &mut Option<Timer>,
    timeout: Duration,
    cx: &mut Context<'_>,
) -> Poll<io::Result<T>> {
    if outcome.is_ready() {
        *deadline = None;
        return outcome;
    }
    let timer = deadline.get_or_insert_with(|| Timer::new(timeout));
    match Pin::new(timer).poll(cx) {
        Poll::Ready(_) => {
            *deadline = None;
            Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no progress within the timeout",
            )))
        }
        Poll::Pending => Poll::Pending,
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let outcome = Pin::new(&mut this.inner).poll_read(cx, buf);
        within_deadline(outcome, &mut this.read_deadline, this.read_timeout, cx)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let outcome = Pin::new(&mut this.inner).poll_write(cx, buf);
        within_deadline(outcome, &mut this.write_deadline, this.write_timeout, cx)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let outcome = Pin::new(&mut this.inner).poll_flush(cx);
        within_deadline(outcome, &mut this.write_deadline, this.write_timeout, cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[cfg(test)]
mod tests {
    use futures_lite::{AsyncReadExt as _, AsyncWriteExt as _};
    use glommio::LocalExecutorBuilder;

    use super::*;

    #[test]
    fn a_timed_stream_fails_a_read_that_makes_no_progress() {
        let executor = LocalExecutorBuilder::default()
            .io_memory(1 << 20)
            .make()
            .expect("an executor");
        executor.run(async {
            let (ours, mut theirs) = UnixStream::pair().expect("a socket pair");
            let timeout = Duration::from_millis(100);
            let mut timed = Timed::new(ours, timeout, timeout);
            let mut buf = [0u8; 4];
            theirs.write_all(b"ping").await.expect("writing");
            timed.read_exact(&mut buf).await.expect("data in time");
            assert_eq!(&buf, b"ping");
            let started = std::time::Instant::now();
            let error = timed.read(&mut buf).await.expect_err("nothing comes");
            assert_eq!(error.kind(), io::ErrorKind::TimedOut);
            assert!(started.elapsed() >= timeout);
            // The deadline starts again with the next read.
            theirs.write_all(b"pong").await.expect("writing");
            timed.read_exact(&mut buf).await.expect("data in time");
            assert_eq!(&buf, b"pong");
        });
    }
}
