//! The login exchange, client side: the HandshakeResponse41, AuthSwitchRequests to either
//! plugin, and caching_sha2_password's fast-auth result or full authentication (the password
//! RSA-encrypted with the server's public key, as this client speaks no TLS).

use std::io::{Read, Write};

use super::error::ClientError;
use super::greeting::{LoginRequest, ServerGreeting};
use super::packets::{parse_err, OkReply};
use super::public_key::encrypt_password;
use super::url::ConnectOptions;
use crate::protocol::auth::{caching_sha2_scramble, native_password_scramble, AuthPlugin};
use crate::protocol::constants::markers;
use crate::protocol::packet::PacketIo;
use crate::protocol::wire::PayloadReader;

/// caching_sha2_password: the server needs the password itself (its cache has no entry).
const PERFORM_FULL_AUTHENTICATION: u8 = 0x04;
/// caching_sha2_password: the client asks for the server's RSA public key.
const REQUEST_PUBLIC_KEY: u8 = 0x02;
/// The plugin an AuthSwitchRequest without a name means (pre-4.1 passwords).
const OLD_PASSWORD_PLUGIN: &[u8] = b"mysql_old_password";
/// Server packets a login may take before it must have ended.
const MAX_AUTH_PACKETS: usize = 8;

/// The login after the greeting: sends the HandshakeResponse41 and answers until the server
/// accepts (returns the OK's status flags) or refuses ([`ClientError::Auth`]).
pub(crate) fn login<R: Read, W: Write>(
    io: &mut PacketIo<R, W>,
    greeting: &ServerGreeting,
    options: &ConnectOptions,
    capabilities: u32,
) -> Result<u16, ClientError> {
    // A plugin this client lacks gets a native answer; the server switches us if it must.
    let mut plugin =
        AuthPlugin::from_name(&greeting.auth_plugin).unwrap_or(AuthPlugin::NativePassword);
    let mut nonce = greeting.nonce.clone();
    let password = options.password.as_bytes();
    let auth_response = scramble(plugin, password, &nonce);
    let request = LoginRequest {
        capabilities,
        max_packet: options.max_packet,
        user: &options.user,
        auth_response: &auth_response,
        database: options.database.as_deref(),
        auth_plugin: plugin.name(),
    };
    send(io, &request.encode())?;
    for _ in 0..MAX_AUTH_PACKETS {
        let packet = io.read_payload()?;
        match packet.first() {
            Some(&markers::OK) => {
                let ok = OkReply::parse(&packet).map_err(|e| ClientError::malformed("OK", e))?;
                return Ok(ok.status);
            }
            Some(&markers::ERR) => return Err(refusal(&packet)),
            Some(&markers::EOF) => {
                (plugin, nonce) = parse_auth_switch(&packet)?;
                send(io, &scramble(plugin, password, &nonce))?;
            }
            Some(&markers::AUTH_MORE_DATA) if plugin == AuthPlugin::CachingSha2Password => {
                caching_sha2_more_data(io, &packet[1..], password, &nonce)?;
            }
            _ => {
                return Err(ClientError::Protocol(format!(
                    "unexpected packet during {} authentication",
                    plugin.name()
                )))
            }
        }
    }
    Err(ClientError::Protocol(format!(
        "the login did not end after {MAX_AUTH_PACKETS} server packets"
    )))
}

/// `plugin`'s answer to `nonce`: empty for an empty password.
fn scramble(plugin: AuthPlugin, password: &[u8], nonce: &[u8]) -> Vec<u8> {
    if password.is_empty() {
        return Vec::new();
    }
    match plugin {
        AuthPlugin::NativePassword => native_password_scramble(password, nonce).to_vec(),
        AuthPlugin::CachingSha2Password => caching_sha2_scramble(password, nonce).to_vec(),
    }
}

/// An AuthSwitchRequest: 0xFE, the plugin name, its data (the new nonce, NUL-terminated).
fn parse_auth_switch(packet: &[u8]) -> Result<(AuthPlugin, Vec<u8>), ClientError> {
    if packet.len() == 1 {
        return Err(ClientError::unsupported_plugin(OLD_PASSWORD_PLUGIN));
    }
    let mut reader = PayloadReader::new(&packet[1..]);
    let name = reader
        .nul_terminated()
        .map_err(|e| ClientError::malformed("AuthSwitchRequest", e))?;
    let plugin =
        AuthPlugin::from_name(name).ok_or_else(|| ClientError::unsupported_plugin(name))?;
    let data = reader.rest();
    let nonce = data.strip_suffix(&[0]).unwrap_or(data).to_vec();
    Ok((plugin, nonce))
}

/// caching_sha2_password's AuthMoreData: fast auth succeeded (an OK follows), or the server
/// wants the full password.
fn caching_sha2_more_data<R: Read, W: Write>(
    io: &mut PacketIo<R, W>,
    data: &[u8],
    password: &[u8],
    nonce: &[u8],
) -> Result<(), ClientError> {
    match data {
        [markers::FAST_AUTH_SUCCESS] => Ok(()),
        [PERFORM_FULL_AUTHENTICATION] => full_authentication(io, password, nonce),
        _ => Err(ClientError::Protocol(
            "unexpected caching_sha2_password data from the server".into(),
        )),
    }
}

/// Asks for the server's RSA public key and sends the password encrypted with it. The
/// server's verdict (OK or ERR) is read by the caller.
fn full_authentication<R: Read, W: Write>(
    io: &mut PacketIo<R, W>,
    password: &[u8],
    nonce: &[u8],
) -> Result<(), ClientError> {
    const PLUGIN: &str = "caching_sha2_password";
    send(io, &[REQUEST_PUBLIC_KEY])?;
    let packet = io.read_payload()?;
    match packet.split_first() {
        Some((&markers::AUTH_MORE_DATA, pem)) => {
            let encrypted = encrypt_password(password, nonce, pem).map_err(|reason| {
                ClientError::plugin_failed(
                    PLUGIN,
                    format!(
                        "full authentication (the account's password is not cached on the \
                         server) failed: {reason}"
                    ),
                )
            })?;
            send(io, &encrypted)
        }
        Some((&markers::ERR, _)) => Err(refusal(&packet)),
        _ => Err(ClientError::Protocol(
            "no RSA public key in the server's answer".into(),
        )),
    }
}

/// The ERR that refuses a login.
fn refusal(packet: &[u8]) -> ClientError {
    match parse_err(packet) {
        Ok(error) => ClientError::Auth(error),
        Err(error) => ClientError::malformed("ERR packet", error),
    }
}

fn send<R: Read, W: Write>(io: &mut PacketIo<R, W>, payload: &[u8]) -> Result<(), ClientError> {
    io.write_payload(payload)?;
    io.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_passwords_give_empty_responses() {
        for plugin in [AuthPlugin::NativePassword, AuthPlugin::CachingSha2Password] {
            assert!(scramble(plugin, b"", b"nonce").is_empty());
        }
        assert_eq!(
            scramble(AuthPlugin::NativePassword, b"pw", &[1; 20]).len(),
            20
        );
        assert_eq!(
            scramble(AuthPlugin::CachingSha2Password, b"pw", &[1; 20]).len(),
            32
        );
    }

    #[test]
    fn auth_switch_requests() {
        let mut packet = vec![0xfe];
        packet.extend_from_slice(b"mysql_native_password\0abcdefghijklmnopqrst\0");
        let (plugin, nonce) = parse_auth_switch(&packet).unwrap();
        assert_eq!(plugin, AuthPlugin::NativePassword);
        assert_eq!(nonce, b"abcdefghijklmnopqrst");

        let unsupported = |packet: &[u8]| match parse_auth_switch(packet) {
            Err(ClientError::Auth(error)) => error.message,
            other => panic!("{other:?}"),
        };
        assert!(unsupported(b"\xfeclient_ed25519\0xyz\0").contains("client_ed25519"));
        assert!(unsupported(b"\xfe").contains("mysql_old_password"));
        assert!(matches!(
            parse_auth_switch(b"\xfeno terminator"),
            Err(ClientError::Protocol(_))
        ));
    }
}
