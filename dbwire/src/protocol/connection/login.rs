//! The connection phase: greeting, handshake response, optional AuthSwitchRequest, password
//! check by the backend, session opening, and the final OK or ERR.
//!
//! A client that answers the greeting with the plugin it names (caching_sha2_password by
//! default) is checked at once. A client that answers with another plugin gets an
//! AuthSwitchRequest: to that plugin when this server speaks it (the client may not have
//! computed its first answer for our nonce; libmariadb sends an empty one), else to the
//! configured plugin. The backend knows the plain passwords, so either plugin can be checked.

use std::io;
use std::net::IpAddr;

use super::{answer_packet_error, session_status, ConnectionError, Shared};
use crate::backend::{Backend, ClientInfo, DbError, Session};
use crate::protocol::auth::{generate_nonce, AuthPlugin, Nonce};
use crate::protocol::constants::{capabilities, errors, markers, status, DEFAULT_CHARSET};
use crate::protocol::handshake::{encode_auth_switch, Greeting, HandshakeResponse};
use crate::protocol::response::{encode_err, OkPacket};

type Io = super::ServerIo;

/// A client that passed authentication, with its session.
pub(super) struct LoggedIn<S> {
    /// The backend session.
    pub session: S,
    /// The authenticated user.
    pub user: String,
    /// The database named in the handshake.
    pub database: Option<String>,
    /// The client as its sessions see it: address, thread id, capabilities both sides
    /// support, character set.
    pub client: ClientInfo,
    /// The greeting's nonce, which COM_CHANGE_USER scrambles against too.
    pub nonce: Nonce,
}

/// What a client presents to log in, in a handshake response or a COM_CHANGE_USER.
pub(super) struct Credentials<'a> {
    /// User name.
    pub user: &'a str,
    /// The database to select.
    pub database: Option<&'a str>,
    /// The plugin the client answered with, if it said.
    pub auth_plugin: Option<&'a [u8]>,
    /// The client's answer to the nonce.
    pub auth_response: &'a [u8],
}

/// Runs the connection phase.
pub(super) fn login<B: Backend>(
    io: &mut Io,
    shared: &Shared<B>,
    connection_id: u32,
    core: usize,
) -> Result<LoggedIn<B::Session>, ConnectionError> {
    let nonce = generate_nonce().map_err(ConnectionError::Random)?;
    send_greeting(io, shared, connection_id, &nonce)?;
    let payload = read(io)?;
    let response = match HandshakeResponse::parse(&payload) {
        Ok(response) => response,
        Err(error) => {
            let bad_handshake = DbError::new(errors::HANDSHAKE_ERROR, "08S01", "Bad handshake");
            send_error(io, &bad_handshake)?;
            return Err(error.into());
        }
    };
    log::debug!(
        "connection {connection_id}: user '{}', client capabilities {:#x}, attributes {:?}",
        response.user,
        response.capabilities,
        response.attributes
    );
    let client = ClientInfo {
        address: client_ip(io),
        connection_id,
        capabilities: response.capabilities & capabilities::SERVER,
        collation: response.charset,
        core,
    };
    let credentials = Credentials {
        user: &response.user,
        database: response.database.as_deref(),
        auth_plugin: response.auth_plugin.as_deref(),
        auth_response: &response.auth_response,
    };
    let session = admit(io, shared, &client, &credentials, &nonce)?;
    send_welcome(io, &session)?;
    if client.capabilities & capabilities::COMPRESS != 0 {
        io.enable_compression();
    }
    Ok(LoggedIn {
        session,
        user: response.user,
        database: response.database,
        client,
        nonce,
    })
}

/// Checks `credentials` (switching the client's plugin if needed) and opens a session. Sends
/// ERR and fails when the password is wrong or the backend refuses the session; the caller
/// sends the final OK.
pub(super) fn admit<B: Backend>(
    io: &mut Io,
    shared: &Shared<B>,
    client: &ClientInfo,
    credentials: &Credentials<'_>,
    nonce: &Nonce,
) -> Result<B::Session, ConnectionError> {
    let (plugin, auth_response) =
        negotiate_plugin(io, shared, client.capabilities, credentials, nonce)?;
    authenticate(io, shared, credentials.user, plugin, &auth_response, nonce)?;
    match shared
        .backend
        .open_client_session(credentials.user, credentials.database, client)
    {
        Ok(session) => Ok(session),
        Err(error) => {
            send_error(io, &error)?;
            Err(ConnectionError::Session(error))
        }
    }
}

/// The client's IP address, when the socket still knows it.
pub(super) fn client_ip(io: &Io) -> Option<IpAddr> {
    io.writer().peer_ip().ok()
}

fn send_greeting<B: Backend>(
    io: &mut Io,
    shared: &Shared<B>,
    connection_id: u32,
    nonce: &Nonce,
) -> io::Result<()> {
    let server_version = shared.backend.server_version();
    let greeting = Greeting {
        server_version: &server_version,
        connection_id,
        nonce,
        capabilities: capabilities::SERVER,
        charset: DEFAULT_CHARSET,
        status: status::AUTOCOMMIT,
        auth_plugin: shared.config.auth_plugin,
    };
    let mut payload = Vec::new();
    greeting.encode(&mut payload);
    io.write_payload(&payload)?;
    io.flush()
}

/// Reads one connection-phase packet, answering packet-level failures.
fn read(io: &mut Io) -> Result<Vec<u8>, ConnectionError> {
    io.read_payload().or_else(|error| {
        answer_packet_error(io, &error)?;
        Err(error.into())
    })
}

/// The plugin the client's answer is for, after switching the client to another plugin when
/// it did not answer with the announced one.
fn negotiate_plugin<B: Backend>(
    io: &mut Io,
    shared: &Shared<B>,
    capabilities: u32,
    credentials: &Credentials<'_>,
    nonce: &Nonce,
) -> Result<(AuthPlugin, Vec<u8>), ConnectionError> {
    if capabilities & capabilities::PLUGIN_AUTH == 0 {
        // Pre-plugin 4.1 clients always scramble the native way.
        return Ok((
            AuthPlugin::NativePassword,
            credentials.auth_response.to_vec(),
        ));
    }
    let announced = shared.config.auth_plugin;
    let requested = credentials.auth_plugin.and_then(AuthPlugin::from_name);
    if requested == Some(announced) {
        return Ok((announced, credentials.auth_response.to_vec()));
    }
    let plugin = requested.unwrap_or(announced);
    log::debug!(
        "client answered with plugin {:?}; switching it to {}",
        credentials.auth_plugin.map(String::from_utf8_lossy),
        plugin.name()
    );
    let mut payload = Vec::new();
    encode_auth_switch(&mut payload, plugin, nonce);
    io.write_payload(&payload)?;
    io.flush()?;
    Ok((plugin, read(io)?))
}

/// Asks the backend; on success sends caching_sha2_password's "fast auth OK" when a scramble
/// was checked, on failure sends ERR 1045.
fn authenticate<B: Backend>(
    io: &mut Io,
    shared: &Shared<B>,
    user: &str,
    plugin: AuthPlugin,
    auth_response: &[u8],
    nonce: &Nonce,
) -> Result<(), ConnectionError> {
    // caching_sha2_password clients send a lone NUL for an empty password.
    let auth_response = if auth_response == [0] {
        &[][..]
    } else {
        auth_response
    };
    if !shared
        .backend
        .authenticate(user, plugin.response(auth_response, nonce))
    {
        let host = io.writer().peer_host();
        let using_password = if auth_response.is_empty() {
            "NO"
        } else {
            "YES"
        };
        let message =
            format!("Access denied for user '{user}'@'{host}' (using password: {using_password})");
        send_error(io, &DbError::new(errors::ACCESS_DENIED, "28000", message))?;
        return Err(ConnectionError::AccessDenied(user.to_owned()));
    }
    if plugin == AuthPlugin::CachingSha2Password && !auth_response.is_empty() {
        io.write_payload(&[markers::AUTH_MORE_DATA, markers::FAST_AUTH_SUCCESS])?;
    }
    Ok(())
}

fn send_welcome<S: Session>(io: &mut Io, session: &S) -> io::Result<()> {
    let mut payload = Vec::new();
    OkPacket {
        status: session_status(session, false),
        ..OkPacket::default()
    }
    .encode(&mut payload);
    io.write_payload(&payload)?;
    io.flush()
}

fn send_error(io: &mut Io, error: &DbError) -> io::Result<()> {
    let mut payload = Vec::new();
    encode_err(&mut payload, error);
    io.write_payload(&payload)?;
    io.flush()
}
