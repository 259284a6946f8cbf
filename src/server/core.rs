//! One core: a pinned glommio executor with its own `SO_REUSEPORT` listener, accepting
//! connections and serving them with the core's PHP pool.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use futures_lite::{future, AsyncWriteExt as _, FutureExt as _};
use glommio::net::{TcpListener, TcpStream};
use glommio::{LocalExecutorBuilder, Placement, PoolPlacement};

use crate::access_log::AccessLog;
use crate::acme::HttpTokens;
use crate::config::Config;
use crate::http::request::Limits;
use crate::kvstore;
use crate::php::PoolHandle;
use crate::router::DocRoot;
use crate::server::handler::{Client, WorkerRoute};
use crate::server::http1::Connection;
use crate::server::http2;
use crate::server::limit::ConnectionLimit;
use crate::server::shutdown::{CoreShutdown, StopFlag};
use crate::server::tls::{HandshakeOutcome, HandshakeStats, ACME_TLS_ALPN};
use crate::server::within;

/// Everything a core's connections share. Lives on the core's executor thread only.
pub(crate) struct CoreContext {
    pub(crate) docroot: DocRoot,
    pub(crate) pool: PoolHandle,
    pub(crate) limits: Limits,
    pub(crate) header_read_timeout: Duration,
    /// Time a client has to send a whole request body.
    pub(crate) body_timeout: Duration,
    /// Body bytes kept in memory before the body moves to a temporary file.
    pub(crate) body_buffer_size: usize,
    /// `Strict-Transport-Security` value sent on HTTPS responses (`server.tls.hsts`).
    pub(crate) hsts: Option<Vec<u8>>,
    /// The HTTPS port plain requests are redirected to (`server.tls.redirect_http`).
    pub(crate) https_redirect: Option<u16>,
    pub(crate) keep_alive_timeout: Duration,
    /// Longest a write to a client may make no progress before the connection is closed.
    pub(crate) send_timeout: Duration,
    pub(crate) gzip: bool,
    /// `server.http2`: h2c on the plain listener (ALPN decides over TLS).
    pub(crate) http2: bool,
    /// Pending ACME HTTP-01 challenges, answered before routing.
    pub(crate) acme_tokens: Option<Arc<HttpTokens>>,
    /// Requests that would run this script go to the workers, with these `$_SERVER` variables
    /// added (worker mode).
    pub(crate) worker: Option<Arc<WorkerRoute>>,
    pub(crate) shutdown: CoreShutdown,
    pub(crate) access_log: AccessLog,
}

/// What a core needs to start.
pub(crate) struct CoreSpec {
    pub(crate) index: usize,
    pub(crate) cpu: Option<usize>,
    pub(crate) config: Config,
    pub(crate) docroot: DocRoot,
    pub(crate) pool: PoolHandle,
    pub(crate) stop: StopFlag,
    /// The KV store, when `[kv]` is enabled: this core serves its RESP listener.
    pub(crate) kv: Option<Arc<kv::Store>>,
    /// `server.max_connections`, shared by every core.
    pub(crate) http_limit: ConnectionLimit,
    /// `kv.max_connections`, shared by every core.
    pub(crate) kv_limit: ConnectionLimit,
    /// The HTTPS configuration when `[server.tls]` is set: this core serves its listener.
    pub(crate) tls: Option<Arc<rustls::ServerConfig>>,
    /// Handshake counters shared by every core and `/metrics`.
    pub(crate) tls_stats: Arc<HandshakeStats>,
    /// Pending ACME HTTP-01 challenges, when `[server.tls.acme]` uses them.
    pub(crate) acme_tokens: Option<Arc<HttpTokens>>,
    /// The worker script (absolute) and `php.worker.env`, in worker mode.
    pub(crate) worker: Option<Arc<WorkerRoute>>,
    /// The built-in database in proxy mode: this core serves its MySQL clients.
    pub(crate) mysql: Option<crate::server::mysql::MysqlSpec>,
}

/// Reports from a core to the main thread.
pub(crate) enum CoreEvent {
    /// The listener is bound; the core is serving.
    Listening,
    /// The core could not start.
    Failed(String),
    /// The core's executor ended (normally after a stop signal; otherwise the core was lost).
    Exited(usize),
}

/// Sends [`CoreEvent::Exited`] when the executor thread ends, even by a panic.
struct ExitReporter {
    index: usize,
    events: mpsc::Sender<CoreEvent>,
}

impl Drop for ExitReporter {
    fn drop(&mut self) {
        let _ = self.events.send(CoreEvent::Exited(self.index));
    }
}

/// Starts the core's executor thread. Its outcome is reported on `events`.
pub(crate) fn spawn(
    spec: CoreSpec,
    events: mpsc::Sender<CoreEvent>,
) -> anyhow::Result<glommio::ExecutorJoinHandle<()>> {
    let placement = match spec.cpu {
        Some(cpu) => Placement::Fixed(cpu),
        None => Placement::Unbound,
    };
    let failed = events.clone();
    let handle = LocalExecutorBuilder::new(placement)
        .name(&format!("core-{}", spec.index))
        // Blocking work (KV scripts, the expiry sweep) runs on another CPU when one is free
        // instead of taking turns with this executor on its own.
        .blocking_thread_pool_placement(PoolPlacement::Unbound(1))
        .io_memory(usize::try_from(spec.config.server.io_memory.0).unwrap_or(usize::MAX))
        .spawn(move || async move {
            let _exit = ExitReporter {
                index: spec.index,
                events: events.clone(),
            };
            if let Err(err) = run(spec, &events).await {
                let _ = events.send(CoreEvent::Failed(format!("{err:#}")));
            }
        })
        .map_err(|err| {
            let message = match &err {
                glommio::GlommioError::IoError(io) => super::preflight::explain_io_uring_error(io),
                other => format!("could not start the executor: {other}"),
            };
            let _ = failed.send(CoreEvent::Failed(message.clone()));
            anyhow::anyhow!(message)
        })?;
    Ok(handle)
}

async fn run(spec: CoreSpec, events: &mpsc::Sender<CoreEvent>) -> anyhow::Result<()> {
    let server = &spec.config.server;
    let listener = TcpListener::bind(server.listen)
        .map_err(|err| anyhow::anyhow!("binding {}: {err}", server.listen))?;
    let kv_listener = match &spec.kv {
        Some(_) => Some(kvstore::bind(&spec.config.kv)?),
        None => None,
    };
    let mysql = spec
        .mysql
        .as_ref()
        .map(|mysql| crate::server::mysql::MysqlSpec {
            core: spec.index,
            ..mysql.clone()
        });
    let mysql_listeners = mysql.as_ref().map(crate::server::mysql::bind).transpose()?;
    let tls_listener = match &spec.tls {
        Some(tls) => {
            let address = server.tls.listen;
            let listener = TcpListener::bind(address)
                .map_err(|err| anyhow::anyhow!("binding the HTTPS listener {address}: {err}"))?;
            Some((listener, futures_rustls::TlsAcceptor::from(Arc::clone(tls))))
        }
        None => None,
    };
    let core = Rc::new(CoreContext {
        docroot: spec.docroot.clone(),
        pool: spec.pool.clone(),
        limits: Limits {
            max_header_bytes: usize::try_from(server.max_header_size.0).unwrap_or(usize::MAX),
            max_headers: server.max_headers,
            max_body_bytes: server.max_body_size.0,
        },
        header_read_timeout: server.header_read_timeout.0,
        body_timeout: server.body_timeout.0,
        body_buffer_size: usize::try_from(server.body_buffer_size.0).unwrap_or(usize::MAX),
        hsts: (spec.tls.is_some() && !server.tls.hsts.is_empty())
            .then(|| server.tls.hsts.clone().into_bytes()),
        https_redirect: (spec.tls.is_some() && server.tls.redirect_http)
            .then_some(server.tls.listen.port()),
        keep_alive_timeout: server.keep_alive_timeout.0,
        send_timeout: server.send_timeout.0,
        gzip: server.gzip,
        http2: server.http2,
        acme_tokens: spec.acme_tokens.clone(),
        worker: spec.worker.clone(),
        shutdown: CoreShutdown::new(),
        access_log: AccessLog::open(&spec.config.log.access_log)?,
    });
    let _ = events.send(CoreEvent::Listening);

    let watcher = {
        let core = Rc::clone(&core);
        let stop = spec.stop.clone();
        glommio::spawn_local(async move { core.shutdown.watch(stop).await })
    };
    let flusher = {
        let core = Rc::clone(&core);
        glommio::spawn_local(
            async move { core.access_log.flush_periodically(&core.shutdown).await },
        )
    };
    let kv_tasks = match (kv_listener, &spec.kv) {
        (Some(kv_listener), Some(store)) => {
            let accept = glommio::spawn_local(kvstore::accept_loop(
                kv_listener,
                Arc::clone(store),
                Rc::clone(&core),
                spec.kv_limit.clone(),
            ));
            let sweeper = (spec.index == 0).then(|| {
                glommio::spawn_local(kvstore::sweep_periodically(
                    Arc::clone(store),
                    Rc::clone(&core),
                ))
            });
            Some((accept, sweeper))
        }
        _ => None,
    };
    let mysql_task = match (mysql_listeners, mysql) {
        (Some(listeners), Some(mysql)) => Some(glommio::spawn_local(
            crate::server::mysql::accept_loop(listeners, mysql, Rc::clone(&core)),
        )),
        _ => None,
    };
    let active = Rc::new(std::cell::Cell::new(0usize));
    let https = tls_listener.map(|(tls_listener, acceptor)| {
        let (core, active, limit) = (
            Rc::clone(&core),
            Rc::clone(&active),
            spec.http_limit.clone(),
        );
        let tls = TlsEndpoint {
            acceptor,
            stats: Arc::clone(&spec.tls_stats),
        };
        glommio::spawn_local(async move {
            accept_tls_loop(&tls_listener, &core, &active, &limit, &tls).await;
        })
    });
    accept_loop(&listener, &core, &active, &spec.http_limit).await;
    drop(listener);
    if let Some(https) = https {
        https.await;
    }
    drain(&core, &active, server.drain_timeout.0).await;
    watcher.await;
    flusher.await;
    if let Some(mysql_task) = mysql_task {
        mysql_task.await;
    }
    if let Some((accept, sweeper)) = kv_tasks {
        accept.await;
        if let Some(sweeper) = sweeper {
            sweeper.await;
        }
    }
    core.access_log.flush();
    Ok(())
}

async fn accept_loop(
    listener: &TcpListener,
    core: &Rc<CoreContext>,
    active: &Rc<std::cell::Cell<usize>>,
    limit: &ConnectionLimit,
) {
    while let Some(stream) = accept(listener, &core.shutdown).await {
        crate::fault_injection::panic_if_core_fault();
        let Some(admitted) = admit(stream, core, active, limit, Refusal::Http503) else {
            continue;
        };
        let core = Rc::clone(core);
        spawn_contained("HTTP", async move {
            // The slot guards are bound (not `_`) so they live until the connection ends.
            let Admitted {
                stream,
                peer,
                local,
                _permit,
                _active,
            } = admitted;
            Connection::new(stream, peer, local, core).serve().await;
        });
    }
}

/// What a core's HTTPS listener handshakes with, and where it counts the outcomes.
struct TlsEndpoint {
    acceptor: futures_rustls::TlsAcceptor,
    stats: Arc<HandshakeStats>,
}

/// Accepts HTTPS clients: the handshake (within `header_read_timeout`) runs in the
/// connection's own task, then the same connection loop as plain HTTP.
async fn accept_tls_loop(
    listener: &TcpListener,
    core: &Rc<CoreContext>,
    active: &Rc<std::cell::Cell<usize>>,
    limit: &ConnectionLimit,
    tls: &TlsEndpoint,
) {
    while let Some(stream) = accept(listener, &core.shutdown).await {
        let Some(admitted) = admit(stream, core, active, limit, Refusal::Close) else {
            continue;
        };
        let (core, acceptor, stats) = (
            Rc::clone(core),
            tls.acceptor.clone(),
            Arc::clone(&tls.stats),
        );
        spawn_contained("HTTPS", async move {
            let Admitted {
                stream,
                peer,
                local,
                _permit,
                _active,
            } = admitted;
            let handshake = within(core.header_read_timeout, acceptor.accept(stream)).await;
            match handshake {
                Some(Ok(tls)) => {
                    stats.record(HandshakeOutcome::Completed);
                    let alpn = tls.get_ref().1.alpn_protocol();
                    if alpn == Some(ACME_TLS_ALPN) {
                        // A TLS-ALPN-01 validation: the handshake was the answer.
                        return;
                    }
                    if alpn == Some(b"h2") {
                        let client = Client {
                            peer,
                            local,
                            secure: true,
                        };
                        http2::serve(tls, client, core).await;
                    } else {
                        Connection::new(tls, peer, local, core).serve().await;
                    }
                }
                Some(Err(err)) => {
                    stats.record(HandshakeOutcome::Failed);
                    log::debug!("TLS handshake with {peer} failed: {err}");
                }
                None => {
                    stats.record(HandshakeOutcome::TimedOut);
                    log::debug!("TLS handshake with {peer} timed out");
                }
            }
        });
    }
}

/// An accepted connection that got a `max_connections` slot. The slot and the core's count of
/// open connections (for draining) are held until it is dropped.
struct Admitted {
    stream: TcpStream,
    peer: std::net::SocketAddr,
    local: std::net::SocketAddr,
    _permit: crate::server::limit::ConnectionPermit,
    _active: ActiveGuard,
}

/// How a connection over `max_connections` is turned away.
#[derive(Clone, Copy)]
enum Refusal {
    /// A plain-text `503` (the plain HTTP listener).
    Http503,
    /// Closed at once (the HTTPS listener: a plain-text answer would be garbage to a TLS
    /// client, and a handshake is the work being refused).
    Close,
}

/// Sets up an accepted socket and counts it, or refuses it over `max_connections`.
fn admit(
    stream: TcpStream,
    core: &Rc<CoreContext>,
    active: &Rc<std::cell::Cell<usize>>,
    limit: &ConnectionLimit,
    refusal: Refusal,
) -> Option<Admitted> {
    let addresses = stream
        .peer_addr()
        .and_then(|peer| Ok((peer, stream.local_addr()?)));
    let prepared = stream
        .set_write_timeout(Some(core.send_timeout))
        .and_then(|()| stream.set_nodelay(true));
    let (peer, local) = match (addresses, prepared) {
        (Ok(addresses), Ok(())) => addresses,
        (Err(err), _) | (_, Err(err)) => {
            log::debug!("dropping a connection: {err}");
            return None;
        }
    };
    let Some(permit) = limit.try_acquire() else {
        if let Refusal::Http503 = refusal {
            spawn_contained("HTTP", refuse(stream));
        }
        return None;
    };
    active.set(active.get() + 1);
    Some(Admitted {
        stream,
        peer,
        local,
        _permit: permit,
        _active: ActiveGuard(Rc::clone(active)),
    })
}

/// Decrements a core's count of open HTTP connections when dropped.
struct ActiveGuard(Rc<std::cell::Cell<usize>>);

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// The answer to a connection over `server.max_connections`.
const TOO_MANY_CONNECTIONS: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 20\r\nRetry-After: 1\r\nConnection: close\r\n\r\nToo many connections";

/// Answers 503 to a connection over the limit and closes it. Its request is not read, only
/// drained briefly after the answer so that closing does not reset the connection before the
/// client has read it.
async fn refuse(mut stream: TcpStream) {
    use futures_lite::AsyncReadExt as _;
    if stream.write_all(TOO_MANY_CONNECTIONS).await.is_ok()
        && stream.shutdown(std::net::Shutdown::Write).await.is_ok()
        && stream.set_read_timeout(Some(REFUSE_LINGER)).is_ok()
    {
        let mut sink = [0u8; 4096];
        for _ in 0..16 {
            if !matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {
                break;
            }
        }
    }
    let _ = stream.close().await;
}

/// How long a refused connection's request is drained after the 503.
const REFUSE_LINGER: Duration = Duration::from_millis(500);

/// Spawns a connection task on this core. A panic while serving it ends that task only: it is
/// logged (the panic hook prints the backtrace), the connection is dropped, and the executor
/// goes on serving everyone else.
pub(crate) fn spawn_contained(protocol: &'static str, task: impl Future<Output = ()> + 'static) {
    glommio::spawn_local(async move {
        if AssertUnwindSafe(task).catch_unwind().await.is_err() {
            log::error!("a panic while serving a {protocol} connection closed that connection; the server goes on");
        }
    })
    .detach();
}

/// Accept failures logged at most once a second: out of file descriptors, every retry fails.
static ACCEPT_ERRORS: crate::logging::RateLimit = crate::logging::RateLimit::new();

/// The next accepted connection, or None once shutdown begins. Accept errors (EMFILE and
/// friends) are logged and retried after a short back-off instead of spinning.
pub(crate) async fn accept(listener: &TcpListener, shutdown: &CoreShutdown) -> Option<TcpStream> {
    loop {
        let accepted = future::or(async { Some(listener.accept().await) }, async {
            shutdown.wait().await;
            None
        })
        .await?;
        match accepted {
            Ok(stream) => return Some(stream),
            Err(err) => {
                if ACCEPT_ERRORS.should_log() {
                    log::warn!("accept on {:?} failed: {err}", listener.local_addr().ok());
                }
                glommio::timer::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}

/// Lets in-flight requests finish, up to `limit`.
async fn drain(core: &CoreContext, active: &std::cell::Cell<usize>, limit: Duration) {
    let deadline = Instant::now() + limit;
    while active.get() > 0 && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
    if active.get() > 0 {
        log::warn!(
            "drain timeout: closing {} connection(s) still open",
            active.get()
        );
    }
    let _ = core;
}
