//! Per-connection state: selected database, authentication, client name, MULTI queue, WATCHed
//! keys and pub/sub subscriptions.

use std::collections::HashSet;
use std::time::Duration;

use async_channel::Sender;
use event_listener::EventListener;

use crate::resp::Reply;

/// A queued MULTI transaction.
#[derive(Debug, Default)]
pub(crate) struct Multi {
    pub queue: Vec<Vec<Vec<u8>>>,
    /// Bytes of arguments queued, bounded by [`crate::Limits::max_query_buffer`].
    pub queued_bytes: usize,
    /// A command was refused while queuing: EXEC answers EXECABORT.
    pub failed: bool,
}

/// A WATCHed key and the version it had when watched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Watched {
    pub db: usize,
    pub key: Vec<u8>,
    pub version: u64,
}

/// One client's state. Create it with [`crate::Store::new_session`], pass it to every
/// [`crate::Store::execute`] of that connection, and hand it to
/// [`crate::Store::close_session`] when the connection ends.
#[derive(Debug)]
pub struct Session {
    pub(crate) id: u64,
    pub(crate) db: usize,
    pub(crate) authenticated: bool,
    pub(crate) name: Option<Vec<u8>>,
    pub(crate) addr: String,
    pub(crate) created_ms: u64,
    pub(crate) multi: Option<Multi>,
    pub(crate) watched: Vec<Watched>,
    pub(crate) sink: Option<Sender<Reply>>,
    pub(crate) channels: HashSet<Vec<u8>>,
    pub(crate) patterns: HashSet<Vec<u8>>,
    pub(crate) registered: bool,
}

impl Session {
    pub(crate) fn new(id: u64, authenticated: bool, created_ms: u64) -> Session {
        Session {
            id,
            db: 0,
            authenticated,
            name: None,
            addr: String::new(),
            created_ms,
            multi: None,
            watched: Vec::new(),
            sink: None,
            channels: HashSet::new(),
            patterns: HashSet::new(),
            registered: false,
        }
    }

    /// A session for in-process callers (typed API, scripts): authenticated, on `db`, not
    /// listed by CLIENT LIST.
    pub fn internal(db: usize) -> Session {
        let mut session = Session::new(0, true, 0);
        session.db = db;
        session
    }

    /// The client id (CLIENT ID).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The selected database.
    pub fn db(&self) -> usize {
        self.db
    }

    /// True once AUTH succeeded (or when no password is required).
    pub fn is_authenticated(&self) -> bool {
        self.authenticated
    }

    /// The CLIENT SETNAME name.
    pub fn name(&self) -> Option<&[u8]> {
        self.name.as_deref()
    }

    /// True between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Number of channels plus patterns subscribed to; while nonzero only
    /// (P)(UN)SUBSCRIBE, PING and QUIT are accepted.
    pub fn subscriptions(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Sets the peer address shown by CLIENT LIST/INFO (`ip:port`).
    pub fn set_addr(&mut self, addr: impl Into<String>) {
        self.addr = addr.into();
    }

    /// Gives the session the channel PUBLISH delivers its pub/sub messages to. Without a sink
    /// SUBSCRIBE/PSUBSCRIBE are refused. When a bounded sink is full the store closes it, and
    /// the connection should then disconnect the client (Redis drops slow subscribers too).
    pub fn set_pubsub_sink(&mut self, sink: Sender<Reply>) {
        self.sink = Some(sink);
    }
}

/// What [`crate::Store::execute`] asks the connection to do.
#[derive(Debug)]
pub enum Outcome {
    /// Write this reply.
    Reply(Reply),
    /// Write these replies in order (SUBSCRIBE and friends confirm each channel separately).
    Replies(Vec<Reply>),
    /// BLPOP/BRPOP found nothing: see [`Block`].
    Block(Block),
    /// Write this reply, then close the connection (QUIT).
    Close(Reply),
    /// Nothing to write (blank inline line, `*0`).
    Nothing,
    /// Close the connection without a reply: the client is not speaking Redis (an HTTP
    /// request sent to the RESP port).
    Drop,
}

/// A blocking command that must wait for a push.
///
/// The listener was registered while the command still held its shard locks, so no push can
/// be missed. Wait on it (it is a `Future`; `EventListener::wait_timeout` blocks a thread)
/// until the deadline, which the connection computes once as `now + timeout` at the first
/// `Block` (`None` means wait forever). When it fires, run the same command again with
/// [`crate::Store::execute`]: it answers or returns a fresh `Block` to wait on until the same
/// deadline. At the deadline answer [`Block::timeout_reply`] (a nil array, like Redis).
#[derive(Debug)]
pub struct Block {
    /// Fires when a list in the session's database was pushed to.
    pub listener: EventListener,
    /// The command's timeout; `None` blocks indefinitely.
    pub timeout: Option<Duration>,
}

impl Block {
    /// The reply for a wait that reached its deadline.
    pub fn timeout_reply() -> Reply {
        Reply::Array(None)
    }
}
