//! [`ClientError`]: why a connection to the server can no longer be used.

use std::io;

use thiserror::Error;

use crate::backend::DbError;
use crate::protocol::packet::PacketError;
use crate::protocol::wire::WireError;

/// `CR_AUTH_PLUGIN_CANNOT_LOAD`: the server wants a plugin this client does not speak.
pub const AUTH_PLUGIN_CANNOT_LOAD: u16 = 2059;

/// `CR_AUTH_PLUGIN_ERR`: a plugin this client speaks could not complete the exchange.
pub const AUTH_PLUGIN_ERR: u16 = 2061;

/// Connection-level failure: the connection must be discarded.
///
/// SQL errors (a missing table, a duplicate key, ...) are not `ClientError`s: commands return
/// them as `Ok(Err(DbError))`, and the connection stays usable.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The TCP connection could not be opened.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// `host:port` (no credentials).
        address: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The socket failed.
    #[error("I/O error on the server connection: {0}")]
    Io(io::Error),
    /// The server closed the connection.
    #[error("the server closed the connection")]
    Closed,
    /// The server did not answer within the connect or read timeout.
    #[error("no answer from the server within the timeout")]
    Timeout,
    /// The server sent a payload larger than [`super::ConnectOptions::max_packet`].
    #[error("the server sent a packet larger than the {limit}-byte limit")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// The server sent something the protocol does not allow here.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The login was refused: an ERR during the connection phase (1045 wrong password, 1049
    /// unknown database, 1040 too many connections, ...), or an authentication exchange this
    /// client cannot complete (codes [`AUTH_PLUGIN_CANNOT_LOAD`] and [`AUTH_PLUGIN_ERR`]).
    #[error("login refused: {0}")]
    Auth(DbError),
    /// The server answered with ERR where the protocol has no room for a SQL error (a ping,
    /// or a server that is shutting down or killed this connection).
    #[error("the server reported an error: {0}")]
    Server(DbError),
    /// An earlier command on this connection failed with a `ClientError`.
    #[error("the connection failed earlier and can no longer be used")]
    Broken,
}

impl ClientError {
    /// A protocol error for a server packet that does not parse as `what`.
    pub(crate) fn malformed(what: &str, error: WireError) -> ClientError {
        ClientError::Protocol(format!("malformed {what}: {error}"))
    }

    /// A refused login for a server-side authentication plugin this client lacks.
    pub(crate) fn unsupported_plugin(name: &[u8]) -> ClientError {
        ClientError::Auth(DbError::new(
            AUTH_PLUGIN_CANNOT_LOAD,
            "HY000",
            format!(
                "Authentication plugin '{}' cannot be loaded: this client speaks only \
                 mysql_native_password and caching_sha2_password",
                String::from_utf8_lossy(name)
            ),
        ))
    }

    /// A refused login because `plugin` failed on the client side.
    pub(crate) fn plugin_failed(plugin: &str, reason: impl std::fmt::Display) -> ClientError {
        ClientError::Auth(DbError::new(
            AUTH_PLUGIN_ERR,
            "HY000",
            format!("Authentication plugin '{plugin}' reported error: {reason}"),
        ))
    }
}

impl From<io::Error> for ClientError {
    fn from(error: io::Error) -> ClientError {
        match error.kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout,
            _ => ClientError::Io(error),
        }
    }
}

impl From<PacketError> for ClientError {
    fn from(error: PacketError) -> ClientError {
        match error {
            PacketError::Closed => ClientError::Closed,
            PacketError::TimedOut => ClientError::Timeout,
            PacketError::TooLarge { limit } => ClientError::TooLarge { limit },
            PacketError::OutOfOrder { .. } => ClientError::Protocol(error.to_string()),
            PacketError::Io(error) => error.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_are_recognised_whatever_the_layer() {
        let would_block = io::Error::from(io::ErrorKind::WouldBlock);
        assert!(matches!(
            ClientError::from(would_block),
            ClientError::Timeout
        ));
        assert!(matches!(
            ClientError::from(PacketError::TimedOut),
            ClientError::Timeout
        ));
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        assert!(matches!(ClientError::from(reset), ClientError::Io(_)));
    }

    #[test]
    fn packet_errors_map_to_their_kind() {
        assert!(matches!(
            ClientError::from(PacketError::Closed),
            ClientError::Closed
        ));
        assert!(matches!(
            ClientError::from(PacketError::TooLarge { limit: 9 }),
            ClientError::TooLarge { limit: 9 }
        ));
        let out_of_order = PacketError::OutOfOrder {
            expected: 1,
            received: 3,
        };
        assert!(matches!(
            ClientError::from(out_of_order),
            ClientError::Protocol(message) if message.contains("sequence")
        ));
    }

    #[test]
    fn plugin_errors_carry_client_codes() {
        match ClientError::unsupported_plugin(b"client_ed25519") {
            ClientError::Auth(error) => {
                assert_eq!(error.code, AUTH_PLUGIN_CANNOT_LOAD);
                assert!(error.message.contains("client_ed25519"));
            }
            other => panic!("{other:?}"),
        }
    }
}
