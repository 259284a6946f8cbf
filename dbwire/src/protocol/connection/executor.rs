//! A client connection served as a task on an executor (one per core, io_uring): the task
//! reads every command and relays the proxy's statements itself on non-blocking sockets
//! (leases, see [`crate::proxy::Lease`]); whatever may block (the login, statements whose
//! backend connection must be opened, waited for or aligned, SQLite work, rare commands)
//! runs on one of the core's threads for blocking work ([`BlockingPool`]), with the same
//! code as a connection served wholly on a thread. The connection state moves to that thread and back with the
//! command; bytes one side received and did not read go with it.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};

use futures_lite::{AsyncRead, AsyncWrite};

use super::blocking::BlockingPool;
use super::{
    idle_timeout_error, linger, linger_if_refused, log_in, packet_error_reply, Connection,
    ConnectionError, Flow, Shared,
};
use crate::backend::{Backend, DbError, Session};
use crate::client;
use crate::protocol::async_packet::AsyncPackets;
use crate::protocol::command::Command;
use crate::protocol::packet::PacketError;
use crate::protocol::params::ForwardedExecute;
use crate::protocol::response::encode_err;
use crate::protocol::stream::ClientStream;
use crate::proxy::{relay_lease, Finished, Lease, LeaseOutcome, RelayReport};

/// Largest reply payload accepted from a backend server on the executor path.
const MAX_BACKEND_PAYLOAD: usize = 1 << 30;

/// A backend connection's stream, with what tells whether the connection still exists.
type KeptStream<S> = (Weak<()>, AsyncPackets<S>);

/// One executor's framed, non-blocking streams on backend connections' sockets. Backend
/// connections are opened (and logged in) with blocking sockets on threads; the executor
/// makes its own stream on each socket (`open` turns a duplicate of it into one) the first time it
/// relays a statement there, and keeps it while the connection lives.
pub struct BackendSockets<S> {
    open: fn(TcpStream) -> io::Result<S>,
    by_connection: RefCell<HashMap<usize, KeptStream<S>>>,
    /// Entries after the last sweep of closed connections.
    swept_at: Cell<usize>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> BackendSockets<S> {
    /// Streams made by `open` from a duplicate of a backend connection's socket.
    pub fn new(open: fn(TcpStream) -> io::Result<S>) -> BackendSockets<S> {
        BackendSockets {
            open,
            by_connection: RefCell::new(HashMap::new()),
            swept_at: Cell::new(0),
        }
    }

    /// The stream for `connection`: the one kept for it, or a new one on its socket.
    fn take(&self, connection: &client::Connection) -> io::Result<AsyncPackets<S>> {
        let liveness = connection.liveness();
        let kept = self
            .by_connection
            .borrow_mut()
            .remove(&key(&liveness))
            .filter(|(kept, _)| kept.ptr_eq(&liveness) && kept.strong_count() > 0);
        if let Some((_, packets)) = kept {
            return Ok(packets);
        }
        let socket = connection.socket().try_clone()?;
        let stream = (self.open)(socket)?;
        Ok(AsyncPackets::new(stream, MAX_BACKEND_PAYLOAD))
    }

    /// Keeps `packets` for `connection`'s next statement relayed here.
    fn keep(&self, connection: &client::Connection, packets: AsyncPackets<S>) {
        let liveness = connection.liveness();
        let mut by_connection = self.by_connection.borrow_mut();
        by_connection.insert(key(&liveness), (liveness, packets));
        if by_connection.len() > 2 * self.swept_at.get().max(16) {
            // A closed backend connection's stream would keep its socket open.
            by_connection.retain(|_, (liveness, _)| liveness.strong_count() > 0);
            self.swept_at.set(by_connection.len());
        }
    }
}

/// The map key of a backend connection: the address of its liveness token (which stays
/// allocated, so is never reused, while a `Weak` to it is in the map).
fn key(liveness: &Weak<()>) -> usize {
    liveness.as_ptr() as usize
}

/// What one executor core keeps for its MySQL clients: its index, its streams on backend
/// sockets and its threads for blocking work.
pub struct ExecutorCore<S> {
    index: usize,
    sockets: BackendSockets<S>,
    threads: BlockingPool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ExecutorCore<S> {
    /// Core `index`, making its streams on backend sockets with `open` (see
    /// [`BackendSockets::new`]).
    pub fn new(index: usize, open: fn(TcpStream) -> io::Result<S>) -> ExecutorCore<S> {
        ExecutorCore {
            index,
            sockets: BackendSockets::new(open),
            threads: BlockingPool::new(&format!("db-{index}")),
        }
    }

    /// The core's threads for blocking work.
    pub fn threads(&self) -> &BlockingPool {
        &self.threads
    }
}

/// Serves one client accepted on an executor: `client` is its non-blocking stream,
/// `blocking` a second handle on the same socket for the core's threads.
pub(crate) async fn serve<B, C, S>(
    shared: &Arc<Shared<B>>,
    client: C,
    blocking: ClientStream,
    connection_id: u32,
    core: &ExecutorCore<S>,
) -> Result<(), ConnectionError>
where
    B: Backend,
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    let threads = &core.threads;
    let streams = &core.sockets;
    let core = core.index;
    let login_shared = Arc::clone(shared);
    let connection = threads
        .run(move || log_in(blocking, &login_shared, connection_id, core))
        .await
        .ok_or_else(lost)??;
    let mut connection = Box::new(connection);
    if connection.io.is_compressed() {
        // Compressed packets are framed on the thread only: the whole connection runs there.
        return threads
            .run(move || {
                connection
                    .run()
                    .map_err(|error| linger_if_refused(error, connection.io.writer()))
            })
            .await
            .ok_or_else(lost)?;
    }
    let mut client = AsyncPackets::new(client, shared.config.max_packet);
    let mut served = Served {
        connection: Some(connection),
        client: &mut client,
        threads,
        streams,
    };
    let ended = served.run().await;
    if let Some(connection) = served.connection.take() {
        // A session's pinned backend connection is reset when it goes back: not here.
        let _ = threads.run(move || drop(connection)).await;
    }
    ended
}

/// The error for a connection whose blocking work panicked (its state is lost with it).
fn lost() -> ConnectionError {
    ConnectionError::Io(io::Error::other("the connection's blocking work panicked"))
}

/// A logged-in connection's command loop on the executor.
struct Served<'a, B: Backend, C, S> {
    /// The connection's state; `None` only if its thread panicked with it.
    connection: Option<Box<Connection<B>>>,
    client: &'a mut AsyncPackets<C>,
    threads: &'a BlockingPool,
    streams: &'a BackendSockets<S>,
}

impl<B, C, S> Served<'_, B, C, S>
where
    B: Backend,
    C: AsyncRead + AsyncWrite + Unpin,
    S: AsyncRead + AsyncWrite + Unpin,
{
    async fn run(&mut self) -> Result<(), ConnectionError> {
        let mut payload = Vec::new();
        loop {
            self.client.reset_sequence();
            if let Err(error) = self.client.read_payload_into(&mut payload).await {
                return self.end_on(error).await;
            }
            let flow = match self.relay(&payload).await {
                Some(flow) => flow?,
                None => self.on_thread(&mut payload).await?,
            };
            if flow == Flow::Close {
                return Ok(());
            }
        }
    }

    /// The connection ends because no command could be read: says why when MySQL would.
    async fn end_on(&mut self, error: PacketError) -> Result<(), ConnectionError> {
        let reply = match &error {
            PacketError::Closed => return Ok(()),
            PacketError::TimedOut => Some(idle_timeout_error()),
            other => packet_error_reply(other),
        };
        if let Some(reply) = reply {
            if matches!(error, PacketError::TimedOut) {
                self.client.reset_sequence();
            }
            self.send_error(&reply);
            let _ = self.client.flush().await;
        }
        if let (PacketError::TooLarge { .. }, Some(connection)) = (&error, self.connection.take()) {
            // The client is still sending the packet: let it read the ERR first (on a
            // thread: lingering blocks for up to two seconds).
            let connection = self
                .threads
                .run(move || {
                    linger(connection.io.writer());
                    connection
                })
                .await;
            self.connection = connection;
        }
        Err(error.into())
    }

    fn send_error(&mut self, error: &DbError) {
        let mut payload = Vec::new();
        encode_err(&mut payload, error);
        self.client.write_payload(&payload);
    }

    /// Answers the command on the connection's thread, moving the connection and the
    /// unread bytes there and back.
    async fn on_thread(&mut self, payload: &mut Vec<u8>) -> Result<Flow, ConnectionError> {
        let mut connection = self.connection.take().ok_or_else(lost)?;
        connection
            .shared
            .stats
            .on_threads
            .fetch_add(1, Ordering::Relaxed);
        let unread = self.client.take_buffered();
        let sequence = self.client.sequence();
        let command = std::mem::take(payload);
        let answered = self
            .threads
            .run(move || {
                connection.io.reader_mut().get_mut().unread(unread);
                connection.io.set_sequence(sequence);
                let flow = connection.answer(&command);
                let unread = connection.take_unread();
                (connection, flow, unread, command)
            })
            .await;
        let (connection, flow, unread, command) = answered.ok_or_else(lost)?;
        self.connection = Some(connection);
        self.client.unread(&unread);
        *payload = command;
        flow
    }

    /// Relays a statement the session leases; `None` when the command takes the thread.
    async fn relay(&mut self, payload: &[u8]) -> Option<Result<Flow, ConnectionError>> {
        let connection = self.connection.as_deref_mut()?;
        let deprecate_eof = connection.deprecate_eof();
        let Connection {
            session,
            statements,
            shared,
            ..
        } = connection;
        let leasing = session.leasing()?;
        let lease = match Command::parse(payload).ok()? {
            Command::Query(sql) => leasing.lease_query(sql)?,
            Command::StmtExecute { statement_id, body } => {
                let entry = statements.get_mut(statement_id)?;
                let long_data = entry.bound.long_data.iter().any(Option::is_some);
                if entry.deferred_error.is_some() || long_data {
                    return None;
                }
                let execute = ForwardedExecute::new(body, &mut entry.bound).ok()?;
                leasing.lease_execute(&entry.sql, execute)?
            }
            _ => return None,
        };
        let report = relay_on(self.streams, &lease, self.client, deprecate_eof).await;
        let reply_started = matches!(
            report.outcome,
            LeaseOutcome::Broken {
                reply_started: true
            }
        );
        match leasing.finish(lease, report.outcome) {
            Finished::Done => {}
            Finished::Retry => return None,
            Finished::Lost(error) if reply_started => {
                return Some(Err(ConnectionError::Io(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    error.message,
                ))))
            }
            Finished::Lost(error) => {
                let mut payload = Vec::new();
                encode_err(&mut payload, &error);
                self.client.write_payload(&payload);
            }
        }
        shared.stats.questions.fetch_add(1, Ordering::Relaxed);
        shared.stats.relayed.fetch_add(1, Ordering::Relaxed);
        if let Some(error) = report.client_error {
            return Some(Err(error.into()));
        }
        if let Err(error) = self.client.flush().await {
            return Some(Err(error.into()));
        }
        let killed = self.connection.as_ref().is_some_and(|c| c.session.killed());
        Some(Ok(if killed { Flow::Close } else { Flow::Continue }))
    }
}

/// Relays `lease` on its backend connection's stream from `streams`, keeping the stream
/// for the next lease when the connection came out of it at a command boundary.
async fn relay_on<S, C>(
    streams: &BackendSockets<S>,
    lease: &Lease,
    client: &mut AsyncPackets<C>,
    deprecate_eof: bool,
) -> RelayReport
where
    S: AsyncRead + AsyncWrite + Unpin,
    C: AsyncRead + AsyncWrite + Unpin,
{
    let mut backend = match streams.take(lease.backend()) {
        Ok(backend) => backend,
        Err(error) => {
            log::warn!("no executor stream for a backend connection: {error}");
            return RelayReport {
                outcome: LeaseOutcome::Broken {
                    reply_started: false,
                },
                client_error: None,
            };
        }
    };
    let report = relay_lease(lease, &mut backend, client, deprecate_eof).await;
    if matches!(report.outcome, LeaseOutcome::Relayed(_)) && !backend.has_buffered() {
        streams.keep(lease.backend(), backend);
    }
    report
}
