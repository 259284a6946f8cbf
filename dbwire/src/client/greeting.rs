//! The connection phase's first two packets, client side: the server's Handshake v10 and
//! the HandshakeResponse41 that answers it.

use super::error::ClientError;
use crate::protocol::constants::{capabilities, DEFAULT_CHARSET};
use crate::protocol::wire::{PayloadReader, PayloadWriter, WireError};

/// MariaDB 10+ prefixes its version with this in the handshake, for old clients' sake.
const MARIADB_VERSION_PREFIX: &str = "5.5.5-";

/// What this client asks for; [`client_capabilities`] keeps what the server offers.
const WANTED: u32 = capabilities::LONG_PASSWORD
    | capabilities::LONG_FLAG
    | capabilities::PROTOCOL_41
    | capabilities::TRANSACTIONS
    | capabilities::SECURE_CONNECTION
    | capabilities::MULTI_STATEMENTS
    | capabilities::MULTI_RESULTS
    | capabilities::PS_MULTI_RESULTS
    | capabilities::PLUGIN_AUTH
    | capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA
    | capabilities::DEPRECATE_EOF;

/// The server's Handshake v10.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerGreeting {
    /// The server's version, without MariaDB's `5.5.5-` prefix.
    pub version: String,
    /// The version exactly as announced (with MariaDB's prefix).
    pub announced_version: String,
    /// The connection's id on the server.
    pub connection_id: u32,
    /// The nonce (both parts, normally 20 bytes) the scramble must cover.
    pub nonce: Vec<u8>,
    /// Capabilities the server offers.
    pub capabilities: u32,
    /// Server status flags.
    pub status: u16,
    /// The authentication plugin the server suggests (empty when it names none).
    pub auth_plugin: Vec<u8>,
}

impl ServerGreeting {
    /// Parses a Handshake v10 payload.
    pub fn parse(payload: &[u8]) -> Result<ServerGreeting, ClientError> {
        let malformed = |e| ClientError::malformed("server handshake", e);
        let mut reader = PayloadReader::new(payload);
        let protocol = reader.u8().map_err(malformed)?;
        if protocol != 10 {
            return Err(ClientError::Protocol(format!(
                "unsupported handshake protocol version {protocol} (expected 10)"
            )));
        }
        let greeting = read_fields(&mut reader).map_err(malformed)?;
        let required = capabilities::PROTOCOL_41 | capabilities::SECURE_CONNECTION;
        if greeting.capabilities & required != required {
            return Err(ClientError::Protocol(
                "the server does not speak protocol 4.1 with secure authentication".into(),
            ));
        }
        Ok(greeting)
    }
}

fn read_fields(reader: &mut PayloadReader<'_>) -> Result<ServerGreeting, WireError> {
    let announced_version = String::from_utf8_lossy(reader.nul_terminated()?).into_owned();
    let version = announced_version
        .strip_prefix(MARIADB_VERSION_PREFIX)
        .unwrap_or(&announced_version)
        .to_owned();
    let connection_id = reader.u32()?;
    let mut nonce = reader.bytes(8)?.to_vec();
    reader.u8()?; // filler
    let mut caps = u32::from(reader.u16()?);
    let mut status = 0;
    let mut auth_plugin = Vec::new();
    if !reader.is_empty() {
        let _charset = reader.u8()?;
        status = reader.u16()?;
        caps |= u32::from(reader.u16()?) << 16;
        let data_len = usize::from(reader.u8()?);
        reader.skip(10)?; // reserved (MariaDB's extended capabilities)
        if caps & capabilities::SECURE_CONNECTION != 0 {
            let part2_len = data_len.saturating_sub(8).max(13);
            let part2 = reader.bytes(part2_len.min(reader.remaining()))?;
            nonce.extend_from_slice(part2.strip_suffix(&[0]).unwrap_or(part2));
        }
        if caps & capabilities::PLUGIN_AUTH != 0 {
            // Some servers omit the final NUL.
            let rest = reader.rest();
            auth_plugin = rest.split(|&b| b == 0).next().unwrap_or(rest).to_vec();
        }
    }
    Ok(ServerGreeting {
        version,
        announced_version,
        connection_id,
        nonce,
        capabilities: caps,
        status,
        auth_plugin,
    })
}

/// The capabilities to announce: what this client wants, CONNECT_WITH_DB when it names a
/// database, the `behaviour` flags asked for, all intersected with what the server offers.
pub(crate) fn client_capabilities(server: u32, with_database: bool, behaviour: u32) -> u32 {
    let mut wanted = WANTED | (behaviour & capabilities::BEHAVIOUR);
    if with_database {
        wanted |= capabilities::CONNECT_WITH_DB;
    }
    wanted & server
}

/// A HandshakeResponse41.
#[derive(Debug, Clone)]
pub(crate) struct LoginRequest<'a> {
    /// From [`client_capabilities`].
    pub capabilities: u32,
    /// The largest packet this client accepts.
    pub max_packet: usize,
    /// User name.
    pub user: &'a str,
    /// The plugin's answer to the nonce.
    pub auth_response: &'a [u8],
    /// The database to select (sent only under CONNECT_WITH_DB).
    pub database: Option<&'a str>,
    /// The plugin `auth_response` is for.
    pub auth_plugin: &'a str,
}

impl LoginRequest<'_> {
    /// The payload. Charset utf8mb4_general_ci.
    pub fn encode(&self) -> Vec<u8> {
        let caps = self.capabilities;
        let mut out = Vec::with_capacity(64 + self.user.len());
        out.put_u32(caps);
        out.put_u32(u32::try_from(self.max_packet).unwrap_or(u32::MAX));
        out.put_u8(DEFAULT_CHARSET);
        out.extend_from_slice(&[0; 23]);
        out.put_nul_terminated(self.user.as_bytes());
        if caps & capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
            out.put_lenenc_bytes(self.auth_response);
        } else {
            // SECURE_CONNECTION (required of the server): a one-byte length.
            let len = self.auth_response.len().min(usize::from(u8::MAX));
            out.put_u8(len as u8);
            out.extend_from_slice(&self.auth_response[..len]);
        }
        if caps & capabilities::CONNECT_WITH_DB != 0 {
            out.put_nul_terminated(self.database.unwrap_or("").as_bytes());
        }
        if caps & capabilities::PLUGIN_AUTH != 0 {
            out.put_nul_terminated(self.auth_plugin.as_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::auth::AuthPlugin;
    use crate::protocol::handshake::{Greeting, HandshakeResponse};

    const NONCE: [u8; 20] = *b"abcdefghijklmnopqrst";

    fn dbwire_greeting() -> Vec<u8> {
        let mut out = Vec::new();
        Greeting {
            connection_id: 77,
            nonce: &NONCE,
            capabilities: capabilities::SERVER,
            charset: DEFAULT_CHARSET,
            status: 2,
            server_version: crate::protocol::constants::SERVER_VERSION,
            auth_plugin: AuthPlugin::CachingSha2Password,
        }
        .encode(&mut out);
        out
    }

    #[test]
    fn parses_the_dbwire_server_greeting() {
        let greeting = ServerGreeting::parse(&dbwire_greeting()).unwrap();
        assert_eq!(greeting.version, crate::protocol::constants::SERVER_VERSION);
        assert_eq!(greeting.connection_id, 77);
        assert_eq!(greeting.nonce, NONCE);
        assert_eq!(greeting.capabilities, capabilities::SERVER);
        assert_eq!(greeting.status, 2);
        assert_eq!(greeting.auth_plugin, b"caching_sha2_password");
    }

    /// A MariaDB 10.11 greeting, as captured on the wire.
    fn mariadb_greeting(plugin_nul: bool) -> Vec<u8> {
        let mut out = vec![10];
        out.put_nul_terminated(b"5.5.5-10.11.19-MariaDB-0+deb12u1");
        out.put_u32(31);
        out.extend_from_slice(&NONCE[..8]);
        out.put_u8(0);
        out.put_u16(0xf7fe);
        out.put_u8(45);
        out.put_u16(2);
        out.put_u16(0x81bf);
        out.put_u8(21);
        out.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0x1d, 0, 0, 0]);
        out.put_nul_terminated(&NONCE[8..]);
        out.extend_from_slice(b"mysql_native_password");
        if plugin_nul {
            out.put_u8(0);
        }
        out
    }

    #[test]
    fn parses_a_mariadb_greeting_and_strips_the_version_prefix() {
        for plugin_nul in [true, false] {
            let greeting = ServerGreeting::parse(&mariadb_greeting(plugin_nul)).unwrap();
            assert_eq!(greeting.version, "10.11.19-MariaDB-0+deb12u1");
            assert_eq!(greeting.connection_id, 31);
            assert_eq!(greeting.nonce, NONCE);
            assert_eq!(greeting.auth_plugin, b"mysql_native_password");
            assert_ne!(greeting.capabilities & capabilities::DEPRECATE_EOF, 0);
        }
    }

    #[test]
    fn refuses_other_protocols_and_truncation() {
        assert!(matches!(
            ServerGreeting::parse(&[9, b'x', 0]),
            Err(ClientError::Protocol(_))
        ));
        let full = dbwire_greeting();
        for len in [0, 1, 5, 12, 18, 30] {
            assert!(ServerGreeting::parse(&full[..len]).is_err(), "{len}");
        }
        let mut old = full.clone();
        // Clear PROTOCOL_41 in the low capability bytes.
        let caps_at = 1 + crate::protocol::constants::SERVER_VERSION.len() + 1 + 4 + 9;
        old[caps_at + 1] &= !((capabilities::PROTOCOL_41 >> 8) as u8);
        assert!(matches!(
            ServerGreeting::parse(&old),
            Err(ClientError::Protocol(message)) if message.contains("4.1")
        ));
    }

    #[test]
    fn capabilities_are_intersected_with_the_server() {
        let caps = client_capabilities(capabilities::SERVER, false, 0);
        assert_eq!(caps & capabilities::CONNECT_WITH_DB, 0);
        assert_eq!(caps & capabilities::CONNECT_ATTRS, 0);
        assert_ne!(caps & capabilities::DEPRECATE_EOF, 0);
        let with_db = client_capabilities(capabilities::SERVER, true, 0);
        assert_ne!(with_db & capabilities::CONNECT_WITH_DB, 0);
        let old_server = capabilities::SERVER & !capabilities::DEPRECATE_EOF;
        assert_eq!(
            client_capabilities(old_server, true, 0) & capabilities::DEPRECATE_EOF,
            0
        );
    }

    #[test]
    fn login_requests_parse_back_with_the_server_parser() {
        let scramble = [7u8; 32];
        for caps in [
            client_capabilities(capabilities::SERVER, true, 0),
            client_capabilities(
                capabilities::SERVER & !capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA,
                true,
                0,
            ),
        ] {
            let request = LoginRequest {
                capabilities: caps,
                max_packet: usize::MAX,
                user: "app",
                auth_response: &scramble,
                database: Some("shop"),
                auth_plugin: "caching_sha2_password",
            };
            let parsed = HandshakeResponse::parse(&request.encode()).unwrap();
            assert_eq!(parsed.capabilities, caps);
            assert_eq!(parsed.max_packet, u32::MAX);
            assert_eq!(parsed.charset, DEFAULT_CHARSET);
            assert_eq!(parsed.user, "app");
            assert_eq!(parsed.auth_response, scramble);
            assert_eq!(parsed.database.as_deref(), Some("shop"));
            assert_eq!(
                parsed.auth_plugin.as_deref(),
                Some(&b"caching_sha2_password"[..])
            );
        }
    }
}
