//! One Redis client: reads pipelined RESP2 commands, runs them against the store and writes
//! the replies, with blocking list pops and pub/sub delivery.
//!
//! What a client can cost is bounded: its unparsed input by the store's query-buffer limit
//! (much smaller before AUTH), its pending replies by [`FLUSH_AT`] (replies to a pipeline are
//! written as they pile up, and a client that stops reading hits the socket's write timeout),
//! and its effect on the core by running scripts (which may take seconds while holding every
//! shard) on a blocking thread instead of the executor.

use std::io;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_lite::{future, AsyncReadExt, AsyncWriteExt};
use glommio::net::TcpStream;
use kv::{Block, CommandParser, Outcome, Reply, Session, Store};

use crate::server::read_buffer::ReadBuffer;
use crate::server::shutdown::CoreShutdown;

/// Bytes asked of the socket per read.
const READ_CHUNK: usize = 16 * 1024;
/// Buffers bigger than this are given back once drained.
const KEEP_BUFFER_CAPACITY: usize = 64 * 1024;
/// Pub/sub messages that may wait for a slow subscriber before it is disconnected.
const PUBSUB_BACKLOG: usize = 4096;
/// Pending reply bytes that are written before the next pipelined command runs.
const FLUSH_AT: usize = 64 * 1024;
/// HTTP requests sent to the RESP port are logged at most once a second.
static HTTP_ON_RESP: crate::logging::RateLimit = crate::logging::RateLimit::new();

/// Redis's answer to a client over `maxclients`.
pub(crate) const MAX_CLIENTS_REPLY: &[u8] = b"-ERR max number of clients reached\r\n";

/// What reading the socket (or waiting for pub/sub messages) produced.
enum Input {
    /// This many bytes arrived (0: the client closed).
    Bytes(usize),
    /// A pub/sub message to forward.
    Message(Reply),
    /// The server is shutting down, or the subscriber fell too far behind.
    Stop,
}

/// Serves one client until it quits or disconnects, or the server shuts down.
pub(crate) async fn serve(
    mut stream: TcpStream,
    store: &Arc<Store>,
    shutdown: &CoreShutdown,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut session = store.new_session();
    if let Ok(peer) = stream.peer_addr() {
        session.set_addr(peer.to_string());
    }
    let (sink, messages) = async_channel::bounded(PUBSUB_BACKLOG);
    session.set_pubsub_sink(sink);
    let mut client = Client {
        stream: &mut stream,
        store,
        session: &mut session,
        input: ReadBuffer::default(),
        parser: CommandParser::default(),
        output: Vec::new(),
    };
    let result = client.run(&messages, shutdown).await;
    store.close_session(&mut session);
    let _ = stream.close().await;
    result
}

struct Client<'a> {
    stream: &'a mut TcpStream,
    store: &'a Arc<Store>,
    session: &'a mut Session,
    input: ReadBuffer,
    parser: CommandParser,
    output: Vec<u8>,
}

impl Client<'_> {
    async fn run(
        &mut self,
        messages: &async_channel::Receiver<Reply>,
        shutdown: &CoreShutdown,
    ) -> io::Result<()> {
        loop {
            if !self.run_buffered_commands(shutdown).await? {
                return Ok(());
            }
            self.flush().await?;
            match self.next_input(messages, shutdown).await? {
                Input::Bytes(0) | Input::Stop => return Ok(()),
                Input::Bytes(_) => {}
                Input::Message(message) => {
                    message.encode(&mut self.output);
                    while let Ok(more) = messages.try_recv() {
                        more.encode(&mut self.output);
                    }
                }
            }
        }
    }

    /// Runs every complete command in the input buffer, queueing their replies. Returns false
    /// when the connection must close (QUIT, a protocol error, shutdown during a block).
    async fn run_buffered_commands(&mut self, shutdown: &CoreShutdown) -> io::Result<bool> {
        loop {
            let limits = self.store.limits_for(self.session);
            let parsed = self.parser.parse(self.input.filled(), &limits);
            let args = match parsed {
                Ok(Some((args, used))) => {
                    self.input.consume(used);
                    args
                }
                Ok(None) if self.input.filled().len() > limits.max_query_buffer => {
                    log::warn!(
                        "kv: closing a client over the query buffer limit ({} bytes)",
                        limits.max_query_buffer
                    );
                    return Ok(false);
                }
                Ok(None) => {
                    self.input.shrink_if_empty(KEEP_BUFFER_CAPACITY);
                    return Ok(true);
                }
                Err(err) => {
                    // Like Redis: answer the protocol error, then close.
                    err.to_reply().encode(&mut self.output);
                    self.flush().await?;
                    return Ok(false);
                }
            };
            let (outcome, args) = if kv::may_run_long(&args) || self.store.script_running() {
                match self.execute_off_core(args).await {
                    Some(done) => done,
                    None => return Ok(false),
                }
            } else {
                (self.store.execute(self.session, &args), args)
            };
            match outcome {
                Outcome::Reply(reply) => reply.encode(&mut self.output),
                Outcome::Replies(replies) => {
                    replies.iter().for_each(|r| r.encode(&mut self.output));
                }
                Outcome::Nothing => {}
                Outcome::Drop => {
                    if HTTP_ON_RESP.should_log() {
                        log::warn!(
                            "kv: possible security attack: a client sent an HTTP request to the \
                             Redis port; connection closed"
                        );
                    }
                    return Ok(false);
                }
                Outcome::Close(reply) => {
                    reply.encode(&mut self.output);
                    self.flush().await?;
                    return Ok(false);
                }
                Outcome::Block(block) => {
                    self.flush().await?;
                    match self.wait_blocked(block, &args, shutdown).await {
                        Some(reply) => reply.encode(&mut self.output),
                        None => return Ok(false),
                    }
                }
            }
            if self.output.len() >= FLUSH_AT {
                self.flush().await?;
            }
        }
    }

    /// Runs a command that may take long (a script, or any command while a script holds the
    /// shards) on the executor's blocking thread, so the core keeps serving HTTP and other
    /// clients meanwhile. The arguments come back with the outcome (a blocked BLPOP runs them
    /// again). None if the command panicked: the connection is closed.
    async fn execute_off_core(&mut self, args: Vec<Vec<u8>>) -> Option<(Outcome, Vec<Vec<u8>>)> {
        let store = Arc::clone(self.store);
        let mut session = std::mem::replace(self.session, Session::internal(0));
        let (session, outcome, args) = glommio::executor()
            .spawn_blocking(move || {
                let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    store.execute(&mut session, &args)
                }));
                (session, outcome, args)
            })
            .await;
        *self.session = session;
        Some((outcome.ok()?, args))
    }

    /// Waits for a blocked BLPOP/BRPOP to be served or to time out (None on shutdown).
    async fn wait_blocked(
        &mut self,
        mut block: Block,
        args: &[Vec<u8>],
        shutdown: &CoreShutdown,
    ) -> Option<Reply> {
        let deadline = block.timeout.map(|timeout| Instant::now() + timeout);
        loop {
            let woken = future::or(
                async {
                    future::or(
                        async {
                            (&mut block.listener).await;
                            true
                        },
                        async {
                            match deadline {
                                Some(at) => {
                                    glommio::timer::sleep(
                                        at.saturating_duration_since(Instant::now()),
                                    )
                                    .await
                                }
                                None => future::pending::<()>().await,
                            }
                            false
                        },
                    )
                    .await
                },
                async {
                    shutdown.wait().await;
                    false
                },
            )
            .await;
            if shutdown.is_triggered() {
                return None;
            }
            if !woken {
                return Some(Block::timeout_reply());
            }
            match self.store.execute(self.session, args) {
                Outcome::Block(next) => block = next,
                Outcome::Reply(reply) | Outcome::Close(reply) => return Some(reply),
                Outcome::Replies(mut replies) => return replies.pop(),
                Outcome::Nothing | Outcome::Drop => return Some(Block::timeout_reply()),
            }
        }
    }

    /// Reads more input, or (while subscribed) whichever comes first: input or a message.
    async fn next_input(
        &mut self,
        messages: &async_channel::Receiver<Reply>,
        shutdown: &CoreShutdown,
    ) -> io::Result<Input> {
        let spare = self.input.spare(READ_CHUNK);
        let stream = &mut *self.stream;
        let input = future::or(
            async { stream.read(spare).await.map(Input::Bytes) },
            future::or(
                async {
                    match messages.recv().await {
                        Ok(message) => Ok(Input::Message(message)),
                        // The store closed the sink: the subscriber fell behind.
                        Err(_) => Ok(Input::Stop),
                    }
                },
                async {
                    shutdown.wait().await;
                    Ok(Input::Stop)
                },
            ),
        )
        .await?;
        if let Input::Bytes(n) = input {
            self.input.commit(n);
        }
        Ok(input)
    }

    async fn flush(&mut self) -> io::Result<()> {
        if !self.output.is_empty() {
            self.stream.write_all(&self.output).await?;
            self.output.clear();
            if self.output.capacity() > KEEP_BUFFER_CAPACITY {
                self.output = Vec::new();
            }
        }
        Ok(())
    }
}
