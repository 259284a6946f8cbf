//! The connection phase's packets: the server's greeting (Handshake v10), the client's
//! HandshakeResponse41 and the AuthSwitchRequest.

use thiserror::Error;

use super::auth::{AuthPlugin, Nonce};
use super::constants::{capabilities, markers};
use super::wire::{PayloadReader, PayloadWriter, WireError};

/// Why a handshake response was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// The packet does not parse.
    #[error("malformed handshake response: {0}")]
    Malformed(#[from] WireError),
    /// A pre-4.1 client.
    #[error("the client does not speak protocol 4.1")]
    OldProtocol,
    /// The client wants TLS, which this server does not offer.
    #[error("the client asked for TLS")]
    TlsRequested,
}

/// The server's first packet.
#[derive(Debug, Clone)]
pub struct Greeting<'a> {
    /// The connection's id (`CONNECTION_ID()`).
    pub connection_id: u32,
    /// The nonce the client's scramble must cover.
    pub nonce: &'a Nonce,
    /// Capabilities the server offers.
    pub capabilities: u32,
    /// Default character set number.
    pub charset: u8,
    /// Server status flags.
    pub status: u16,
    /// The plugin the client should answer with.
    pub auth_plugin: AuthPlugin,
    /// The version announced (`SERVER_VERSION` unless the backend names its own).
    pub server_version: &'a str,
}

impl Greeting<'_> {
    /// Appends the Handshake v10 payload to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let caps = self.capabilities.to_le_bytes();
        out.put_u8(10);
        out.put_nul_terminated(self.server_version.as_bytes());
        out.put_u32(self.connection_id);
        out.extend_from_slice(&self.nonce[..8]);
        out.put_u8(0);
        out.extend_from_slice(&caps[..2]);
        out.put_u8(self.charset);
        out.put_u16(self.status);
        out.extend_from_slice(&caps[2..]);
        out.put_u8(self.nonce.len() as u8 + 1);
        out.extend_from_slice(&[0; 10]);
        out.put_nul_terminated(&self.nonce[8..]);
        out.put_nul_terminated(self.auth_plugin.name().as_bytes());
    }
}

/// What a client answers to the greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// The client's capabilities (not yet intersected with the server's).
    pub capabilities: u32,
    /// The largest packet the client accepts.
    pub max_packet: u32,
    /// The client's character set number.
    pub charset: u8,
    /// User name.
    pub user: String,
    /// The plugin's answer to the nonce (empty for an empty password).
    pub auth_response: Vec<u8>,
    /// The database to select, if the client named one.
    pub database: Option<String>,
    /// The plugin the client used, if it said.
    pub auth_plugin: Option<Vec<u8>>,
    /// Connection attributes (`_client_name`, ...), read for logging only.
    pub attributes: Vec<(String, String)>,
}

impl HandshakeResponse {
    /// Parses a HandshakeResponse41 payload.
    pub fn parse(payload: &[u8]) -> Result<HandshakeResponse, HandshakeError> {
        let mut reader = PayloadReader::new(payload);
        let capabilities = reader.u32()?;
        if capabilities & capabilities::PROTOCOL_41 == 0 {
            return Err(HandshakeError::OldProtocol);
        }
        if capabilities & capabilities::SSL != 0 {
            return Err(HandshakeError::TlsRequested);
        }
        let max_packet = reader.u32()?;
        let charset = reader.u8()?;
        reader.skip(23)?;
        let user = text(reader.nul_terminated()?)?;
        let auth_response = read_auth_response(&mut reader, capabilities)?.to_vec();
        let mut response = HandshakeResponse {
            capabilities,
            max_packet,
            charset,
            user,
            auth_response,
            database: None,
            auth_plugin: None,
            attributes: Vec::new(),
        };
        response.read_optional_fields(&mut reader)?;
        Ok(response)
    }

    /// Reads the fields that follow the auth response; old clients stop early.
    fn read_optional_fields(
        &mut self,
        reader: &mut PayloadReader<'_>,
    ) -> Result<(), HandshakeError> {
        if self.capabilities & capabilities::CONNECT_WITH_DB != 0 && !reader.is_empty() {
            let database = text(reader.nul_terminated()?)?;
            self.database = Some(database).filter(|db| !db.is_empty());
        }
        if self.capabilities & capabilities::PLUGIN_AUTH != 0 && !reader.is_empty() {
            self.auth_plugin = Some(reader.nul_terminated()?.to_vec());
        }
        if self.capabilities & capabilities::CONNECT_ATTRS != 0 && !reader.is_empty() {
            // Attributes only feed a debug log: a malformed block is ignored, not fatal.
            self.attributes = read_attributes(reader).unwrap_or_default();
        }
        Ok(())
    }
}

/// COM_CHANGE_USER's body (after the command byte): a new login on an open connection,
/// scrambled with the nonce of the original greeting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeUser {
    /// User name.
    pub user: String,
    /// The plugin's answer to the nonce (empty for an empty password).
    pub auth_response: Vec<u8>,
    /// The database to select, if the client named one.
    pub database: Option<String>,
    /// The plugin the client used, if it said.
    pub auth_plugin: Option<Vec<u8>>,
}

impl ChangeUser {
    /// Parses the body of a COM_CHANGE_USER from a client with `capabilities`.
    pub fn parse(body: &[u8], capabilities: u32) -> Result<ChangeUser, WireError> {
        let mut reader = PayloadReader::new(body);
        let user = text(reader.nul_terminated()?)?;
        let auth_response = if capabilities & capabilities::SECURE_CONNECTION != 0 {
            let len = reader.u8()?;
            reader.bytes(usize::from(len))?
        } else {
            reader.nul_terminated()?
        };
        let database = text(reader.nul_terminated()?)?;
        let mut request = ChangeUser {
            user,
            auth_response: auth_response.to_vec(),
            database: Some(database).filter(|db| !db.is_empty()),
            auth_plugin: None,
        };
        if reader.remaining() >= 2 {
            let _charset = reader.u16()?;
        }
        if capabilities & capabilities::PLUGIN_AUTH != 0 && !reader.is_empty() {
            request.auth_plugin = Some(reader.nul_terminated()?.to_vec());
        }
        // Connection attributes may follow; they are not needed.
        Ok(request)
    }
}

/// Appends an AuthSwitchRequest asking the client to answer `nonce` with `plugin`.
pub fn encode_auth_switch(out: &mut Vec<u8>, plugin: AuthPlugin, nonce: &Nonce) {
    out.put_u8(markers::EOF);
    out.put_nul_terminated(plugin.name().as_bytes());
    out.put_nul_terminated(nonce);
}

fn read_auth_response<'a>(
    reader: &mut PayloadReader<'a>,
    capabilities: u32,
) -> Result<&'a [u8], WireError> {
    if capabilities & capabilities::PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        reader.lenenc_bytes()
    } else if capabilities & capabilities::SECURE_CONNECTION != 0 {
        let len = reader.u8()?;
        reader.bytes(usize::from(len))
    } else {
        reader.nul_terminated()
    }
}

fn read_attributes(reader: &mut PayloadReader<'_>) -> Result<Vec<(String, String)>, WireError> {
    let len = usize::try_from(reader.lenenc_int()?).map_err(|_| WireError::Truncated)?;
    let mut block = PayloadReader::new(reader.bytes(len)?);
    let mut attributes = Vec::new();
    while !block.is_empty() {
        let key = String::from_utf8_lossy(block.lenenc_bytes()?).into_owned();
        let value = String::from_utf8_lossy(block.lenenc_bytes()?).into_owned();
        attributes.push((key, value));
    }
    Ok(attributes)
}

fn text(bytes: &[u8]) -> Result<String, WireError> {
    String::from_utf8(bytes.to_vec()).map_err(|_| WireError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::constants::{DEFAULT_CHARSET, NONCE_LEN, SERVER_VERSION};

    const NONCE: Nonce = *b"abcdefghijklmnopqrst";

    fn greeting() -> Vec<u8> {
        let mut out = Vec::new();
        Greeting {
            connection_id: 7,
            nonce: &NONCE,
            capabilities: capabilities::SERVER,
            charset: DEFAULT_CHARSET,
            status: 2,
            server_version: SERVER_VERSION,
            auth_plugin: AuthPlugin::CachingSha2Password,
        }
        .encode(&mut out);
        out
    }

    #[test]
    fn greeting_layout() {
        let out = greeting();
        let mut r = PayloadReader::new(&out);
        assert_eq!(r.u8(), Ok(10));
        assert_eq!(r.nul_terminated(), Ok(&b"8.0.35-ePHPm"[..]));
        assert_eq!(r.u32(), Ok(7));
        assert_eq!(r.bytes(8), Ok(&b"abcdefgh"[..]));
        assert_eq!(r.u8(), Ok(0));
        let low = r.u16().unwrap();
        assert_eq!(r.u8(), Ok(DEFAULT_CHARSET));
        assert_eq!(r.u16(), Ok(2));
        let high = r.u16().unwrap();
        let caps = u32::from(low) | u32::from(high) << 16;
        assert_eq!(caps, capabilities::SERVER);
        assert_eq!(caps & capabilities::SSL, 0);
        assert_eq!(r.u8(), Ok(NONCE_LEN as u8 + 1));
        assert_eq!(r.bytes(10), Ok(&[0u8; 10][..]));
        assert_eq!(r.nul_terminated(), Ok(&b"ijklmnopqrst"[..]));
        assert_eq!(r.nul_terminated(), Ok(&b"caching_sha2_password"[..]));
        assert!(r.is_empty());
    }

    fn response(caps: u32, tail: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        out.put_u32(caps);
        out.put_u32(16 * 1024 * 1024);
        out.put_u8(45);
        out.extend_from_slice(&[0; 23]);
        out.put_nul_terminated(b"root");
        tail(&mut out);
        out
    }

    #[test]
    fn parses_a_modern_response_with_attributes() {
        let caps = capabilities::SERVER;
        let payload = response(caps, |out| {
            out.put_lenenc_bytes(&[9; 32]);
            out.put_nul_terminated(b"shop");
            out.put_nul_terminated(b"caching_sha2_password");
            let mut attrs = Vec::new();
            attrs.put_lenenc_bytes(b"_client_name");
            attrs.put_lenenc_bytes(b"mysqlnd");
            out.put_lenenc_bytes(&attrs);
        });
        let parsed = HandshakeResponse::parse(&payload).unwrap();
        assert_eq!(parsed.user, "root");
        assert_eq!(parsed.auth_response, vec![9; 32]);
        assert_eq!(parsed.database.as_deref(), Some("shop"));
        assert_eq!(
            parsed.auth_plugin.as_deref(),
            Some(&b"caching_sha2_password"[..])
        );
        assert_eq!(
            parsed.attributes,
            [("_client_name".into(), "mysqlnd".into())]
        );
    }

    #[test]
    fn parses_a_one_byte_length_auth_response_and_empty_database() {
        let caps = capabilities::PROTOCOL_41
            | capabilities::SECURE_CONNECTION
            | capabilities::CONNECT_WITH_DB;
        let payload = response(caps, |out| {
            out.put_u8(20);
            out.extend_from_slice(&[1; 20]);
            out.put_nul_terminated(b"");
        });
        let parsed = HandshakeResponse::parse(&payload).unwrap();
        assert_eq!(parsed.auth_response, vec![1; 20]);
        assert_eq!(parsed.database, None);
        assert_eq!(parsed.auth_plugin, None);
    }

    #[test]
    fn refuses_old_protocol_tls_and_truncation() {
        let old = response(capabilities::LONG_PASSWORD, |_| {});
        assert_eq!(
            HandshakeResponse::parse(&old),
            Err(HandshakeError::OldProtocol)
        );
        let tls = response(capabilities::PROTOCOL_41 | capabilities::SSL, |_| {});
        assert_eq!(
            HandshakeResponse::parse(&tls),
            Err(HandshakeError::TlsRequested)
        );
        let truncated = response(capabilities::SERVER, |out| out.put_u8(40));
        assert!(matches!(
            HandshakeResponse::parse(&truncated),
            Err(HandshakeError::Malformed(_))
        ));
        assert!(HandshakeResponse::parse(&[1, 2, 3]).is_err());
    }

    #[test]
    fn parses_change_user() {
        let mut body = Vec::new();
        body.put_nul_terminated(b"app");
        body.put_u8(32);
        body.extend_from_slice(&[7; 32]);
        body.put_nul_terminated(b"shop");
        body.put_u16(45);
        body.put_nul_terminated(b"caching_sha2_password");
        let parsed = ChangeUser::parse(&body, capabilities::SERVER).unwrap();
        assert_eq!(parsed.user, "app");
        assert_eq!(parsed.auth_response, vec![7; 32]);
        assert_eq!(parsed.database.as_deref(), Some("shop"));
        assert_eq!(
            parsed.auth_plugin.as_deref(),
            Some(&b"caching_sha2_password"[..])
        );

        let short = b"root\0\0\0";
        let parsed = ChangeUser::parse(short, capabilities::SERVER).unwrap();
        assert_eq!(
            (
                parsed.auth_response.len(),
                parsed.database,
                parsed.auth_plugin
            ),
            (0, None, None)
        );
        assert!(ChangeUser::parse(b"root\0\x05ab", capabilities::SERVER).is_err());
    }

    #[test]
    fn auth_switch_layout() {
        let mut out = Vec::new();
        encode_auth_switch(&mut out, AuthPlugin::NativePassword, &NONCE);
        assert_eq!(out[0], 0xfe);
        assert_eq!(&out[1..23], b"mysql_native_password\0");
        assert_eq!(&out[23..], b"abcdefghijklmnopqrst\0");
    }
}
