//! [`Connection`]: one logged-in connection to a MySQL or MariaDB server, and its commands.

use std::io::{self, BufReader};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Weak};
use std::time::Duration;

use super::auth::login;
use super::binary::encode_execute;
use super::error::ClientError;
use super::greeting::{client_capabilities, ServerGreeting};
use super::packets::{parse_err, OkReply};
use super::results::{read_results, PacketSource, RowFormat};
use super::statement::{read_prepare_reply, ServerStatement};
use super::url::ConnectOptions;
use crate::backend::{DbError, QueryResult, ReplySink, Value};
use crate::protocol::constants::{capabilities, commands, errors, markers, status};
use crate::protocol::packet::PacketIo;
use crate::protocol::reply::{ReplyError, ReplySummary, ReplyTracker};

type Io = PacketIo<BufReader<TcpStream>, TcpStream>;

/// How long dropping a connection may block while it says COM_QUIT.
const QUIT_TIMEOUT: Duration = Duration::from_secs(1);

/// One logged-in connection to a MySQL or MariaDB server (blocking I/O, no TLS).
///
/// Every command returns `Err(ClientError)` when the connection itself failed; from then on
/// every command returns [`ClientError::Broken`], and the connection should be dropped. SQL
/// errors come back as `Ok(Err(DbError))` and leave the connection usable. Dropping a
/// connection that is not broken sends COM_QUIT.
#[derive(Debug)]
pub struct Connection {
    io: Io,
    capabilities: u32,
    status: u16,
    server_version: String,
    announced_version: String,
    connection_id: u32,
    broken: bool,
    /// The payload being relayed, reused between packets.
    relay_buffer: Vec<u8>,
    /// Alive as long as the connection: what a cache of other handles on its socket checks.
    token: Arc<()>,
}

/// What [`Connection::relay`] passed on.
#[derive(Debug)]
pub struct Relayed {
    /// What the reply said.
    pub summary: ReplySummary,
    /// The error the receiving side returned, if it failed; the reply was still read to its
    /// end, so the connection stays usable.
    pub sink_error: Option<io::Error>,
}

impl Connection {
    /// Opens a TCP connection (TCP_NODELAY) and logs in. The TCP connect and each read and
    /// write of the login get `connect_timeout` (name resolution has none); then
    /// `read_timeout` applies. A refused login is [`ClientError::Auth`] with the server's
    /// error (1045 for a wrong password).
    pub fn connect(options: &ConnectOptions) -> Result<Connection, ClientError> {
        let stream = open_stream(options)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(options.connect_timeout))?;
        stream.set_write_timeout(Some(options.connect_timeout))?;
        let reader = BufReader::new(stream.try_clone()?);
        let mut io = PacketIo::new(reader, stream, options.max_packet);
        let greeting = read_greeting(&mut io)?;
        let capabilities = client_capabilities(
            greeting.capabilities,
            options.database.is_some(),
            options.behaviour,
        );
        let status = login(&mut io, &greeting, options, capabilities)?;
        let mut connection = Connection {
            io,
            capabilities,
            status,
            server_version: greeting.version,
            announced_version: greeting.announced_version,
            connection_id: greeting.connection_id,
            broken: false,
            relay_buffer: Vec::new(),
            token: Arc::new(()),
        };
        connection.set_read_timeout(options.read_timeout)?;
        if let Some(database) = &options.database {
            if capabilities & capabilities::CONNECT_WITH_DB == 0 {
                connection.init_db(database)?.map_err(ClientError::Auth)?;
            }
        }
        Ok(connection)
    }

    /// COM_QUERY. Returns every result of the reply, in order: one per statement of a
    /// multi-statement query, several for a CALL. A SQL error ends the list as its last
    /// element. Text rows hold every non-NULL value as [`Value::Bytes`] of its text.
    pub fn query(&mut self, sql: &str) -> Result<Vec<Result<QueryResult, DbError>>, ClientError> {
        self.guarded(|connection| {
            connection.send_command(commands::QUERY, sql.as_bytes())?;
            connection.read_results(RowFormat::Text)
        })
    }

    /// COM_STMT_PREPARE.
    pub fn prepare(&mut self, sql: &str) -> Result<Result<ServerStatement, DbError>, ClientError> {
        self.guarded(|connection| {
            connection.send_command(commands::STMT_PREPARE, sql.as_bytes())?;
            let deprecate_eof = connection.deprecate_eof();
            read_prepare_reply(&mut connection.io, deprecate_eof)
        })
    }

    /// COM_STMT_EXECUTE with the binary protocol; rows are decoded into [`Value`]s by column
    /// type (integers as `Int`, or `UInt` beyond `i64::MAX`; FLOAT and DOUBLE as `Double`;
    /// dates and times as their text; BIT as an integer; everything else as `Bytes`).
    /// Parameters: `Null`, `Int` and `UInt` as BIGINT, `Double` as DOUBLE, `Bytes` as a
    /// string when UTF-8, else as a BLOB. A wrong parameter count is error 1210, not sent.
    ///
    /// When the statement returns several results (a CALL), this is the first error among
    /// them, else the first result; [`Connection::execute_all`] returns them all.
    pub fn execute(
        &mut self,
        statement: &ServerStatement,
        params: &[Value],
    ) -> Result<Result<QueryResult, DbError>, ClientError> {
        let results = self.execute_all(statement, params)?;
        let first_error = results.iter().position(Result::is_err);
        results
            .into_iter()
            .nth(first_error.unwrap_or(0))
            .ok_or_else(|| ClientError::Protocol("no result for COM_STMT_EXECUTE".into()))
    }

    /// Like [`Connection::execute`], but returns every result of the reply, as
    /// [`Connection::query`] does.
    pub fn execute_all(
        &mut self,
        statement: &ServerStatement,
        params: &[Value],
    ) -> Result<Vec<Result<QueryResult, DbError>>, ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        if params.len() != usize::from(statement.params) {
            return Ok(vec![Err(wrong_parameter_count(statement, params))]);
        }
        self.guarded(|connection| {
            connection.send_payload(&encode_execute(statement.id, params))?;
            connection.read_results(RowFormat::Binary)
        })
    }

    /// Sends `payload` as a command and passes each packet of the reply to `client` as the
    /// server sent it, converting only the end markers when the client's `DEPRECATE_EOF`
    /// differs from this connection's ([`ReplyTracker`]). Nothing is decoded but the packets
    /// that end a result. A `LOAD DATA LOCAL INFILE` request goes to the client and its file
    /// comes back to the server. When the client fails, the rest of the reply is read and
    /// dropped (and a file the server waits for is ended), so this connection stays usable.
    pub fn relay(
        &mut self,
        payload: &[u8],
        client: &mut dyn ReplySink,
    ) -> Result<Relayed, ClientError> {
        self.guarded(|connection| {
            connection.send_payload(payload)?;
            let mut tracker = ReplyTracker::new(
                connection.deprecate_eof(),
                client.deprecate_eof(),
                connection.status,
            );
            let mut sink_error = None;
            let mut buffer = std::mem::take(&mut connection.relay_buffer);
            let relayed = loop {
                if let Err(error) = connection.io.read_payload_into(&mut buffer) {
                    break Err(error.into());
                }
                let fed = if sink_error.is_some() {
                    tracker.feed(&buffer, &mut |_| Ok(()))
                } else {
                    tracker.feed(&buffer, &mut |payload| client.send(payload))
                };
                match fed {
                    Ok(()) => {}
                    Err(ReplyError::Sink(error)) => sink_error = Some(error),
                    Err(ReplyError::Malformed(error)) => {
                        break Err(ClientError::malformed("reply", error))
                    }
                }
                if tracker.wants_local_file() {
                    if let Err(error) =
                        connection.pass_local_file(client, &mut buffer, &mut sink_error)
                    {
                        break Err(error);
                    }
                    tracker.local_file_sent();
                }
                if tracker.is_done() {
                    break Ok(());
                }
            };
            connection.relay_buffer = buffer;
            relayed?;
            let summary = tracker.summary();
            connection.status = summary.status;
            Ok(Relayed {
                summary,
                sink_error,
            })
        })
    }

    /// Passes the client's `LOAD DATA LOCAL INFILE` packets to the server up to the empty one
    /// that ends the file. A client that fails (or failed before) gets its file ended here.
    fn pass_local_file(
        &mut self,
        client: &mut dyn ReplySink,
        buffer: &mut Vec<u8>,
        sink_error: &mut Option<io::Error>,
    ) -> Result<(), ClientError> {
        if sink_error.is_none() {
            if let Err(error) = client.flush() {
                *sink_error = Some(error);
            }
        }
        loop {
            if sink_error.is_some() {
                buffer.clear();
            } else if let Err(error) = client.receive(buffer) {
                *sink_error = Some(error);
                buffer.clear();
            }
            self.io.write_payload(buffer)?;
            if buffer.is_empty() {
                self.io.flush()?;
                return Ok(());
            }
        }
    }

    /// COM_STMT_CLOSE: deallocates statement `id` on the server (which sends no reply).
    pub fn close_statement(&mut self, id: u32) -> Result<(), ClientError> {
        self.guarded(|connection| connection.send_command(commands::STMT_CLOSE, &id.to_le_bytes()))
    }

    /// COM_PING: checks that the server answers. An ERR (a server shutting down, or one that
    /// killed this connection) is [`ClientError::Server`].
    pub fn ping(&mut self) -> Result<(), ClientError> {
        self.guarded(|connection| {
            connection.send_command(commands::PING, &[])?;
            connection.read_ok()?.map_err(ClientError::Server)
        })
    }

    /// COM_INIT_DB: selects `database`.
    pub fn init_db(&mut self, database: &str) -> Result<Result<(), DbError>, ClientError> {
        self.guarded(|connection| {
            connection.send_command(commands::INIT_DB, database.as_bytes())?;
            connection.read_ok()
        })
    }

    /// COM_RESET_CONNECTION: rolls back any transaction, drops temporary tables, user
    /// variables and this connection's prepared statements, and restores session variables,
    /// without logging in again. The selected database stays.
    pub fn reset_connection(&mut self) -> Result<Result<(), DbError>, ClientError> {
        self.guarded(|connection| {
            connection.send_command(commands::RESET_CONNECTION, &[])?;
            connection.read_ok()
        })
    }

    /// COM_SET_OPTION: turns multi-statement queries on or off for this connection.
    pub fn set_multi_statements(
        &mut self,
        enabled: bool,
    ) -> Result<Result<(), DbError>, ClientError> {
        let option: u16 = if enabled { 0 } else { 1 };
        self.guarded(|connection| {
            connection.send_command(commands::SET_OPTION, &option.to_le_bytes())?;
            let packet = connection.io.next_packet()?;
            match packet.first() {
                // An EOF packet, or an OK under DEPRECATE_EOF.
                Some(&markers::EOF | &markers::OK) => Ok(Ok(())),
                Some(&markers::ERR) => parse_err(&packet)
                    .map(Err)
                    .map_err(|e| ClientError::malformed("ERR packet", e)),
                _ => Err(ClientError::Protocol(
                    "expected an EOF, OK or ERR packet after COM_SET_OPTION".into(),
                )),
            }
        })
    }

    /// COM_QUIT, then closes the connection.
    pub fn close(mut self) -> Result<(), ClientError> {
        let result = self.guarded(|connection| connection.send_command(commands::QUIT, &[]));
        self.broken = true; // nothing more to say in Drop
        result
    }

    /// Server status flags (`constants::status::*`) from the last OK or EOF packet. ERR
    /// packets carry none: after an error these are the flags from before it.
    pub fn status_flags(&self) -> u16 {
        self.status
    }

    /// True while the server reports an open transaction (`SERVER_STATUS_IN_TRANS`).
    pub fn in_transaction(&self) -> bool {
        self.status & status::IN_TRANS != 0
    }

    /// The server's version string (MariaDB's `5.5.5-` compatibility prefix removed).
    pub fn server_version(&self) -> &str {
        &self.server_version
    }

    /// The version exactly as the server announced it (MariaDB's starts with `5.5.5-`).
    pub fn announced_version(&self) -> &str {
        &self.announced_version
    }

    /// The server's id for this connection (`CONNECTION_ID()`, the id `KILL` takes).
    pub fn connection_id(&self) -> u32 {
        self.connection_id
    }

    /// The capability flags both sides agreed on (`constants::capabilities::*`).
    pub fn capabilities(&self) -> u32 {
        self.capabilities
    }

    /// True once a command failed with a [`ClientError`]: the connection must be dropped.
    pub fn is_broken(&self) -> bool {
        self.broken
    }

    /// The socket, for I/O on it outside this type (an executor relaying a reply). Only
    /// between commands, and only when [`Connection::has_buffered_input`] is false.
    pub fn socket(&self) -> &TcpStream {
        self.io.writer()
    }

    /// True when bytes were received and not read: the socket is not at a command boundary.
    pub fn has_buffered_input(&self) -> bool {
        !self.io.reader().buffer().is_empty()
    }

    /// Tells other handles on this connection's socket (see [`Connection::socket`]) whether
    /// the connection still exists; this handle dies with it.
    pub fn liveness(&self) -> Weak<()> {
        Arc::downgrade(&self.token)
    }

    /// Records the outcome of a command run on [`Connection::socket`] by someone else: the
    /// status flags its reply ended with, or that it broke the connection.
    pub fn record_external(&mut self, outcome: Result<u16, ()>) {
        match outcome {
            Ok(status) => self.status = status,
            Err(()) => self.broken = true,
        }
    }

    /// Sets the time each later read and write may block; `None` blocks forever. A zero
    /// duration is refused (an I/O error of kind `InvalidInput`).
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> Result<(), ClientError> {
        let stream = self.io.writer();
        stream.set_read_timeout(timeout)?;
        stream.set_write_timeout(timeout)?;
        Ok(())
    }

    /// Runs `command` unless the connection is broken; marks it broken when `command` fails.
    fn guarded<T>(
        &mut self,
        command: impl FnOnce(&mut Connection) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        if self.broken {
            return Err(ClientError::Broken);
        }
        let result = command(self);
        if result.is_err() {
            self.broken = true;
        }
        result
    }

    /// True when the server negotiated `DEPRECATE_EOF` (OK packets end result sets).
    pub fn deprecate_eof(&self) -> bool {
        self.capabilities & capabilities::DEPRECATE_EOF != 0
    }

    /// Sends a command packet: `command` followed by `body`.
    fn send_command(&mut self, command: u8, body: &[u8]) -> Result<(), ClientError> {
        let mut payload = Vec::with_capacity(1 + body.len());
        payload.push(command);
        payload.extend_from_slice(body);
        self.send_payload(&payload)
    }

    /// Sends `payload` as the first packet of a new exchange.
    fn send_payload(&mut self, payload: &[u8]) -> Result<(), ClientError> {
        self.io.reset_sequence();
        self.io.write_payload(payload)?;
        self.io.flush()?;
        Ok(())
    }

    fn read_results(
        &mut self,
        format: RowFormat,
    ) -> Result<Vec<Result<QueryResult, DbError>>, ClientError> {
        let deprecate_eof = self.deprecate_eof();
        read_results(&mut self.io, format, deprecate_eof, &mut self.status)
    }

    /// Reads the OK or ERR that answers a simple command.
    fn read_ok(&mut self) -> Result<Result<(), DbError>, ClientError> {
        let packet = self.io.next_packet()?;
        match packet.first() {
            Some(&markers::OK) => {
                let ok = OkReply::parse(&packet).map_err(|e| ClientError::malformed("OK", e))?;
                self.status = ok.status;
                Ok(Ok(()))
            }
            Some(&markers::ERR) => parse_err(&packet)
                .map(Err)
                .map_err(|e| ClientError::malformed("ERR packet", e)),
            _ => Err(ClientError::Protocol("expected an OK or ERR packet".into())),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        if !self.broken {
            let _ = self.io.writer().set_write_timeout(Some(QUIT_TIMEOUT));
            let _ = self.send_command(commands::QUIT, &[]);
        }
    }
}

/// Connects to the first address of `options.host` that accepts within the timeout.
fn open_stream(options: &ConnectOptions) -> Result<TcpStream, ClientError> {
    let failed = |source| ClientError::Connect {
        address: options.address(),
        source,
    };
    let addresses = (options.host.as_str(), options.port)
        .to_socket_addrs()
        .map_err(failed)?;
    let mut last_error = None;
    for address in addresses {
        match TcpStream::connect_timeout(&address, options.connect_timeout) {
            Ok(stream) => return Ok(stream),
            Err(error) => last_error = Some(error),
        }
    }
    Err(failed(last_error.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "the host has no address")
    })))
}

/// The server's greeting, or the ERR it sends instead (too many connections, host blocked).
fn read_greeting(io: &mut Io) -> Result<ServerGreeting, ClientError> {
    let packet = io.next_packet()?;
    if packet.first() == Some(&markers::ERR) {
        let error = parse_err(&packet).map_err(|e| ClientError::malformed("ERR packet", e))?;
        return Err(ClientError::Auth(error));
    }
    ServerGreeting::parse(&packet)
}

/// ER_WRONG_ARGUMENTS for an execute with the wrong number of parameters.
fn wrong_parameter_count(statement: &ServerStatement, params: &[Value]) -> DbError {
    DbError::new(
        errors::WRONG_ARGUMENTS,
        "HY000",
        format!(
            "Incorrect arguments to mysqld_stmt_execute: the statement takes {} parameters, \
             {} given",
            statement.params,
            params.len()
        ),
    )
}

#[cfg(test)]
mod tests {
    //! Logins against a scripted fake server: the exchanges dbwire's own server and MariaDB
    //! never produce (auth switches, full caching_sha2 authentication, refusals, garbage).

    use std::net::TcpListener;
    use std::thread::{self, JoinHandle};

    use super::*;
    use crate::client::public_key::tests::{decrypt, key_pair};
    use crate::protocol::auth::{caching_sha2_scramble, native_password_scramble, AuthPlugin};
    use crate::protocol::constants::{DEFAULT_CHARSET, NONCE_LEN};
    use crate::protocol::handshake::{encode_auth_switch, Greeting, HandshakeResponse};
    use crate::protocol::response::{encode_err, OkPacket};

    type ServerIo = PacketIo<BufReader<TcpStream>, TcpStream>;

    const NONCE: [u8; NONCE_LEN] = *b"abcdefghijklmnopqrst";
    const SWITCH_NONCE: [u8; NONCE_LEN] = *b"ABCDEFGHIJKLMNOPQRST";

    /// Runs `script` on the first connection to a fresh loopback port; returns the options
    /// to reach it (user `app`, password `secret`).
    fn fake_server(
        script: impl FnOnce(&mut ServerIo) + Send + 'static,
    ) -> (ConnectOptions, JoinHandle<()>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let reader = BufReader::new(stream.try_clone().unwrap());
            let mut io = PacketIo::new(reader, stream, 1 << 20);
            script(&mut io);
        });
        let mut options = ConnectOptions::new("127.0.0.1", port, "app", "secret");
        options.connect_timeout = Duration::from_secs(5);
        (options, thread)
    }

    fn send(io: &mut ServerIo, encode: impl FnOnce(&mut Vec<u8>)) {
        let mut out = Vec::new();
        encode(&mut out);
        io.write_payload(&out).unwrap();
        io.flush().unwrap();
    }

    fn greeting(plugin: AuthPlugin) -> Vec<u8> {
        let mut out = Vec::new();
        Greeting {
            connection_id: 99,
            nonce: &NONCE,
            capabilities: capabilities::SERVER,
            charset: DEFAULT_CHARSET,
            status: status::AUTOCOMMIT,
            auth_plugin: plugin,
            server_version: crate::protocol::constants::SERVER_VERSION,
        }
        .encode(&mut out);
        out
    }

    /// A greeting that names `plugin`, which dbwire's server does not speak.
    fn greeting_naming(plugin: &[u8]) -> Vec<u8> {
        let mut out = greeting(AuthPlugin::NativePassword);
        out.truncate(out.len() - AuthPlugin::NativePassword.name().len() - 1);
        out.extend_from_slice(plugin);
        out.push(0);
        out
    }

    fn ok(io: &mut ServerIo, status: u16) {
        send(io, |out| {
            OkPacket {
                status,
                ..OkPacket::default()
            }
            .encode(out)
        });
    }

    fn connect_error(options: &ConnectOptions) -> ClientError {
        match Connection::connect(options) {
            Ok(_) => panic!("the login succeeded"),
            Err(error) => error,
        }
    }

    #[test]
    fn auth_switch_to_caching_sha2_then_full_authentication() {
        let (options, server) = fake_server(|io| {
            send(io, |out| {
                out.extend_from_slice(&greeting(AuthPlugin::NativePassword))
            });
            let response = HandshakeResponse::parse(&io.read_payload().unwrap()).unwrap();
            assert_eq!(response.user, "app");
            assert_eq!(
                response.auth_response,
                native_password_scramble("secret", &NONCE)
            );
            assert_eq!(response.charset, DEFAULT_CHARSET);
            send(io, |out| {
                encode_auth_switch(out, AuthPlugin::CachingSha2Password, &SWITCH_NONCE)
            });
            let scramble = io.read_payload().unwrap();
            assert_eq!(scramble, caching_sha2_scramble("secret", &SWITCH_NONCE));
            send(io, |out| out.extend_from_slice(&[0x01, 0x04]));
            assert_eq!(io.read_payload().unwrap(), [0x02]);
            let (private, pem) = key_pair();
            send(io, |out| {
                out.push(0x01);
                out.extend_from_slice(pem.as_bytes());
            });
            let encrypted = io.read_payload().unwrap();
            assert_eq!(decrypt(&private, &encrypted, &SWITCH_NONCE), b"secret\0");
            ok(io, status::AUTOCOMMIT | status::IN_TRANS);
            io.reset_sequence();
            assert_eq!(io.read_payload().unwrap(), [commands::QUIT]);
        });
        let connection = Connection::connect(&options).unwrap();
        assert_eq!(connection.connection_id(), 99);
        assert_eq!(
            connection.server_version(),
            crate::protocol::constants::SERVER_VERSION
        );
        assert!(connection.in_transaction());
        drop(connection);
        server.join().unwrap();
    }

    #[test]
    fn caching_sha2_fast_path_and_an_unknown_greeting_plugin() {
        let (options, server) = fake_server(|io| {
            send(io, |out| {
                out.extend_from_slice(&greeting(AuthPlugin::CachingSha2Password))
            });
            let response = HandshakeResponse::parse(&io.read_payload().unwrap()).unwrap();
            assert_eq!(
                response.auth_response,
                caching_sha2_scramble("secret", &NONCE)
            );
            send(io, |out| out.extend_from_slice(&[0x01, 0x03]));
            ok(io, status::AUTOCOMMIT);
        });
        Connection::connect(&options).unwrap();
        server.join().unwrap();

        let (options, server) = fake_server(|io| {
            send(io, |out| {
                out.extend_from_slice(&greeting_naming(b"client_ed25519"))
            });
            let response = HandshakeResponse::parse(&io.read_payload().unwrap()).unwrap();
            assert_eq!(
                response.auth_plugin.as_deref(),
                Some(&b"mysql_native_password"[..])
            );
            assert_eq!(
                response.auth_response,
                native_password_scramble("secret", &NONCE)
            );
            ok(io, status::AUTOCOMMIT);
        });
        Connection::connect(&options).unwrap();
        server.join().unwrap();
    }

    #[test]
    fn refusals_are_auth_errors() {
        let (options, server) = fake_server(|io| {
            let error = DbError::new(1040, "08004", "Too many connections");
            send(io, |out| encode_err(out, &error));
        });
        match connect_error(&options) {
            ClientError::Auth(error) => assert_eq!(error.code, 1040),
            other => panic!("{other:?}"),
        }
        server.join().unwrap();

        let (options, server) = fake_server(|io| {
            send(io, |out| {
                out.extend_from_slice(&greeting(AuthPlugin::NativePassword))
            });
            io.read_payload().unwrap();
            send(io, |out| {
                out.push(0xfe);
                out.extend_from_slice(b"client_ed25519\0nonce\0");
            });
        });
        match connect_error(&options) {
            ClientError::Auth(error) => {
                assert_eq!(error.code, super::super::AUTH_PLUGIN_CANNOT_LOAD)
            }
            other => panic!("{other:?}"),
        }
        server.join().unwrap();

        let (options, server) = fake_server(|io| {
            send(io, |out| {
                out.extend_from_slice(&greeting(AuthPlugin::CachingSha2Password))
            });
            io.read_payload().unwrap();
            send(io, |out| out.extend_from_slice(&[0x01, 0x04]));
            io.read_payload().unwrap();
            send(io, |out| out.extend_from_slice(b"\x01not a key"));
        });
        match connect_error(&options) {
            ClientError::Auth(error) => {
                assert_eq!(error.code, super::super::AUTH_PLUGIN_ERR);
                assert!(error.message.contains("not cached"), "{}", error.message);
            }
            other => panic!("{other:?}"),
        }
        server.join().unwrap();
    }

    #[test]
    fn garbage_silence_and_hang_ups_are_connection_errors() {
        let (options, server) = fake_server(|io| {
            send(io, |out| out.extend_from_slice(&[10, b'8', 0, 1]));
        });
        assert!(matches!(connect_error(&options), ClientError::Protocol(_)));
        server.join().unwrap();

        let (options, server) = fake_server(|io| {
            send(io, |out| {
                out.extend_from_slice(&greeting(AuthPlugin::NativePassword))
            });
            io.read_payload().unwrap();
            send(io, |out| out.extend_from_slice(&[0x42, 1, 2]));
        });
        assert!(matches!(connect_error(&options), ClientError::Protocol(_)));
        server.join().unwrap();

        let (options, server) = fake_server(|io| {
            send(io, |out| {
                out.extend_from_slice(&greeting(AuthPlugin::NativePassword))
            });
        });
        assert!(matches!(
            connect_error(&options),
            ClientError::Closed | ClientError::Io(_)
        ));
        server.join().unwrap();

        let (mut options, server) = fake_server(|io| {
            // Say nothing until the client gives up.
            let _ = io.read_payload();
        });
        options.connect_timeout = Duration::from_millis(200);
        assert!(matches!(connect_error(&options), ClientError::Timeout));
        server.join().unwrap();
    }

    #[test]
    fn connections_can_move_between_threads() {
        fn assert_send<T: Send>() {}
        assert_send::<Connection>();
        assert_send::<ClientError>();
    }

    #[test]
    fn nothing_listening_is_a_connect_error_naming_the_address() {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let options = ConnectOptions::new("127.0.0.1", port, "app", "secret");
        match connect_error(&options) {
            ClientError::Connect { address, .. } => {
                assert_eq!(address, format!("127.0.0.1:{port}"))
            }
            other => panic!("{other:?}"),
        }
    }
}
