//! Relaying a leased statement on non-blocking sockets: the command goes to the backend, each
//! packet of the reply goes to the client as the backend sent it (end markers converted as
//! [`ReplyTracker`] does), and a `LOAD DATA LOCAL INFILE` file goes from the client to the
//! backend. The same exchange as [`crate::client::Connection::relay`], for an executor.

use std::io;

use futures_lite::{AsyncRead, AsyncWrite};

use super::lease::{Lease, LeaseOutcome};
use crate::protocol::async_packet::AsyncPackets;
use crate::protocol::reply::{ReplyError, ReplyTracker};

/// What relaying a lease did.
#[derive(Debug)]
pub struct RelayReport {
    /// What to hand back to the session with the lease.
    pub outcome: LeaseOutcome,
    /// The client failed (it is gone): its connection must close. The reply was still read
    /// to its end, so the backend connection stays usable.
    pub client_error: Option<io::Error>,
}

/// Sends the lease's command on `backend` and passes the reply to `client` (queued there;
/// flushed as it grows, and by the caller at the end).
pub async fn relay_lease<B, C>(
    lease: &Lease,
    backend: &mut AsyncPackets<B>,
    client: &mut AsyncPackets<C>,
    client_deprecate_eof: bool,
) -> RelayReport
where
    B: AsyncRead + AsyncWrite + Unpin,
    C: AsyncRead + AsyncWrite + Unpin,
{
    let mut relay = Relay {
        client,
        client_error: None,
        reply_started: false,
    };
    let outcome = match relay.run(lease, backend, client_deprecate_eof).await {
        Ok(outcome) => outcome,
        Err(error) => {
            log::debug!("backend connection failed during a relayed statement: {error}");
            LeaseOutcome::Broken {
                reply_started: relay.reply_started,
            }
        }
    };
    RelayReport {
        outcome,
        client_error: relay.client_error,
    }
}

/// The client side of one relayed exchange.
struct Relay<'c, C> {
    client: &'c mut AsyncPackets<C>,
    client_error: Option<io::Error>,
    reply_started: bool,
}

/// Why the backend side of a relay failed.
#[derive(Debug)]
enum BackendFailure {
    Packet(crate::protocol::packet::PacketError),
    Io(io::Error),
    Malformed(crate::protocol::wire::WireError),
}

impl std::fmt::Display for BackendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendFailure::Packet(error) => write!(f, "{error}"),
            BackendFailure::Io(error) => write!(f, "{error}"),
            BackendFailure::Malformed(error) => write!(f, "malformed reply: {error}"),
        }
    }
}

impl<C: AsyncRead + AsyncWrite + Unpin> Relay<'_, C> {
    async fn run<B: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        lease: &Lease,
        backend: &mut AsyncPackets<B>,
        client_deprecate_eof: bool,
    ) -> Result<LeaseOutcome, BackendFailure> {
        let server = lease.backend();
        let mut tracker = ReplyTracker::new(
            server.deprecate_eof(),
            client_deprecate_eof,
            server.status_flags(),
        );
        backend.reset_sequence();
        backend.write_payload(lease.payload());
        backend.flush().await.map_err(BackendFailure::Io)?;
        let mut payload = Vec::new();
        while !tracker.is_done() {
            backend
                .read_payload_into(&mut payload)
                .await
                .map_err(BackendFailure::Packet)?;
            self.pass_on(&mut tracker, &payload)?;
            if tracker.wants_local_file() {
                self.pass_local_file(backend, &mut payload).await?;
                tracker.local_file_sent();
            } else if self.client_error.is_none() {
                if let Err(error) = self.client.flush_if_full().await {
                    self.client_error = Some(error);
                }
            }
        }
        Ok(LeaseOutcome::Relayed(tracker.summary()))
    }

    /// Feeds one reply packet to the tracker, queuing what it passes on for the client
    /// (nothing once the client failed).
    fn pass_on(
        &mut self,
        tracker: &mut ReplyTracker,
        payload: &[u8],
    ) -> Result<(), BackendFailure> {
        let fed = if self.client_error.is_some() {
            tracker.feed(payload, &mut |_| Ok(()))
        } else {
            let client = &mut *self.client;
            let started = &mut self.reply_started;
            tracker.feed(payload, &mut |packet| {
                *started = true;
                client.write_payload(packet);
                Ok(())
            })
        };
        match fed {
            Ok(()) | Err(ReplyError::Sink(_)) => Ok(()),
            Err(ReplyError::Malformed(error)) => Err(BackendFailure::Malformed(error)),
        }
    }

    /// Passes the client's `LOAD DATA LOCAL INFILE` packets to the backend up to the empty
    /// one that ends the file; a client that fails (or failed before) gets its file ended.
    async fn pass_local_file<B: AsyncRead + AsyncWrite + Unpin>(
        &mut self,
        backend: &mut AsyncPackets<B>,
        buffer: &mut Vec<u8>,
    ) -> Result<(), BackendFailure> {
        if self.client_error.is_none() {
            if let Err(error) = self.client.flush().await {
                self.client_error = Some(error);
            }
        }
        loop {
            buffer.clear();
            if self.client_error.is_none() {
                if let Err(error) = self.client.read_payload_into(buffer).await {
                    self.client_error = Some(io::Error::new(io::ErrorKind::InvalidData, error));
                    buffer.clear();
                }
            }
            backend.write_payload(buffer);
            if buffer.is_empty() {
                return backend.flush().await.map_err(BackendFailure::Io);
            }
            backend.flush_if_full().await.map_err(BackendFailure::Io)?;
        }
    }
}
