//! One client connection, from greeting to COM_QUIT: the login exchange, then a loop that
//! reads a command, runs it on the backend [`Session`] and writes the reply.

mod blocking;
mod commands;
mod deadline;
pub(crate) mod executor;
pub use blocking::BlockingPool;
mod login;
mod prepared;
mod statements;

use std::io::{self, BufRead, BufReader, Read};
use std::net::Shutdown;

use crate::protocol::stream::ClientStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use thiserror::Error;

use self::deadline::DeadlineReader;
use self::statements::StatementRegistry;
use super::auth::Nonce;
use super::charset::Charset;
use super::command::Command;
use super::constants::{capabilities, errors, status};
use super::handshake::HandshakeError;
use super::packet::{PacketError, PacketIo};
use super::response::{encode_eof, encode_err, OkPacket};
use super::resultset::{
    encode_binary_row, encode_column_count, encode_column_definition, encode_text_row,
};
use crate::backend::{
    charsets, Backend, ClientInfo, Column, DbError, QueryResult, ReplySink, Session, Value,
};
use crate::server::{ServerConfig, ServerStats};

/// How long a refused client gets to read our last packet before the socket closes.
const LINGER: Duration = Duration::from_secs(2);

/// Limit on payloads before login: a handshake response with its connection attributes is
/// far smaller, and unauthenticated clients should not make the server buffer megabytes.
const LOGIN_MAX_PAYLOAD: usize = 64 * 1024;

/// Why a connection ended other than by the client quitting or closing.
#[derive(Debug, Error)]
pub enum ConnectionError {
    /// A packet could not be read or written.
    #[error(transparent)]
    Packet(#[from] PacketError),
    /// The socket failed.
    #[error(transparent)]
    Io(#[from] io::Error),
    /// The handshake response was refused.
    #[error("handshake refused: {0}")]
    Handshake(#[from] HandshakeError),
    /// Wrong user name or password.
    #[error("access denied for user '{0}'")]
    AccessDenied(String),
    /// The backend refused to open a session.
    #[error("no session: {0}")]
    Session(DbError),
    /// The operating system had no randomness for the nonce.
    #[error("no random nonce: {0}")]
    Random(getrandom::Error),
}

/// Whether a connection goes on after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// Read the next command.
    Continue,
    /// The client quit or was killed.
    Close,
}

/// What the connection loop needs from the server.
pub(crate) struct Shared<B: Backend> {
    /// The backend every session comes from.
    pub backend: Arc<B>,
    /// Limits and timeouts.
    pub config: ServerConfig,
    /// Counters for COM_STATISTICS.
    pub stats: Arc<ServerStats>,
}

/// A logged-in client.
/// A client connection's packets: reads bounded by the login deadline until login ends.
type ServerIo = PacketIo<BufReader<DeadlineReader>, ClientStream>;

struct Connection<B: Backend> {
    io: ServerIo,
    shared: Arc<Shared<B>>,
    session: B::Session,
    user: String,
    /// The database selected at login or by COM_INIT_DB, for COM_RESET_CONNECTION.
    database: Option<String>,
    /// The client as every session of the connection sees it (thread id, capabilities,
    /// character set).
    client: ClientInfo,
    /// The greeting's nonce, for COM_CHANGE_USER.
    nonce: Nonce,
    multi_statements: bool,
    statements: StatementRegistry,
    /// Reused buffer for the payload under construction.
    scratch: Vec<u8>,
}

/// Serves one client until it quits, disconnects or is refused.
pub(crate) fn serve_connection<B: Backend>(
    stream: ClientStream,
    shared: &Arc<Shared<B>>,
    connection_id: u32,
) -> Result<(), ConnectionError> {
    let mut connection = log_in(stream, shared, connection_id, 0)?;
    connection
        .run()
        .map_err(|error| linger_if_refused(error, connection.io.writer()))
}

/// Runs the login exchange on `stream` for a client served by executor `core`; the
/// logged-in connection is ready for commands.
fn log_in<B: Backend>(
    stream: ClientStream,
    shared: &Arc<Shared<B>>,
    connection_id: u32,
    core: usize,
) -> Result<Connection<B>, ConnectionError> {
    let config = &shared.config;
    stream.set_write_timeout(Some(config.write_timeout))?;
    // `connect_timeout` bounds the whole login, however slowly the client sends it.
    let login_deadline = Instant::now() + config.connect_timeout;
    let reader = BufReader::new(DeadlineReader::new(stream.try_clone()?, login_deadline));
    let mut io = PacketIo::new(reader, stream, LOGIN_MAX_PAYLOAD.min(config.max_packet));
    let logged_in = match login::login(&mut io, shared, connection_id, core) {
        Ok(logged_in) => logged_in,
        Err(error) => return Err(linger_if_refused(error, io.writer())),
    };
    io.reader_mut().get_mut().clear_deadline();
    io.set_max_payload(config.max_packet);
    io.writer().set_read_timeout(Some(config.wait_timeout))?;
    Ok(Connection {
        io,
        shared: Arc::clone(shared),
        session: logged_in.session,
        user: logged_in.user,
        database: logged_in.database,
        multi_statements: logged_in.client.capabilities & capabilities::MULTI_STATEMENTS != 0,
        client: logged_in.client,
        nonce: logged_in.nonce,
        statements: StatementRegistry::new(),
        scratch: Vec::new(),
    })
}

/// After refusing an oversized packet, lets the client read the ERR before the socket closes.
fn linger_if_refused(error: ConnectionError, stream: &ClientStream) -> ConnectionError {
    if let ConnectionError::Packet(PacketError::TooLarge { .. }) = error {
        linger(stream);
    }
    error
}

/// Sends the ERR an oversized or out-of-order packet deserves; the connection ends after it.
fn answer_packet_error<R: Read>(
    io: &mut PacketIo<R, ClientStream>,
    error: &PacketError,
) -> io::Result<()> {
    let Some(reply) = packet_error_reply(error) else {
        return Ok(());
    };
    let mut payload = Vec::new();
    encode_err(&mut payload, &reply);
    io.write_payload(&payload)?;
    io.flush()
}

/// The ERR a client gets for a packet that can't be read: oversized or out of order (none
/// when the connection itself failed).
fn packet_error_reply(error: &PacketError) -> Option<DbError> {
    match error {
        PacketError::TooLarge { .. } => Some(DbError::new(
            errors::PACKET_TOO_LARGE,
            "08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        )),
        PacketError::OutOfOrder { .. } => Some(DbError::new(
            errors::PACKETS_OUT_OF_ORDER,
            "08S01",
            "Got packets out of order",
        )),
        PacketError::TimedOut | PacketError::Closed | PacketError::Io(_) => None,
    }
}

/// The ERR an idle client gets before it is disconnected (MySQL 8.0.24+ sends one).
fn idle_timeout_error() -> DbError {
    DbError::new(
        errors::CLIENT_INTERACTION_TIMEOUT,
        "HY000",
        "The client was disconnected by the server because of inactivity. \
         See wait_timeout and interactive_timeout for configuring this behavior.",
    )
}

/// Half-closes the socket and discards what the client still sends for a while, so that it
/// reads our ERR instead of a connection reset.
fn linger(stream: &ClientStream) {
    let deadline = Instant::now() + LINGER;
    let _ = stream.shutdown(Shutdown::Write);
    let mut sink = [0u8; 64 * 1024];
    let mut reader = stream;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            return;
        }
        match reader.read(&mut sink) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

impl<B: Backend> Connection<B> {
    /// Reads and answers commands until the client quits.
    fn run(&mut self) -> Result<(), ConnectionError> {
        loop {
            self.io.reset_sequence();
            let payload = match self.io.read_payload() {
                Ok(payload) => payload,
                Err(PacketError::Closed) => return Ok(()),
                Err(PacketError::TimedOut) => {
                    self.send_idle_timeout()?;
                    return Err(PacketError::TimedOut.into());
                }
                Err(error) => {
                    answer_packet_error(&mut self.io, &error)?;
                    return Err(error.into());
                }
            };
            if self.answer(&payload)? == Flow::Close {
                return Ok(());
            }
        }
    }

    /// Takes the bytes received from the client and not read yet (for the executor, which
    /// reads the next command).
    fn take_unread(&mut self) -> Vec<u8> {
        let reader = self.io.reader_mut();
        let mut unread = reader.buffer().to_vec();
        reader.consume(unread.len());
        unread.extend_from_slice(&reader.get_mut().take_pending());
        unread
    }

    /// Answers one command whose payload was read; says whether the connection goes on.
    fn answer(&mut self, payload: &[u8]) -> Result<Flow, ConnectionError> {
        match Command::parse(payload) {
            Ok(Command::Quit) => return Ok(Flow::Close),
            Ok(command) => self.dispatch(command)?,
            Err(error) => self.send_err(&malformed(error))?,
        }
        self.io.flush()?;
        // As MySQL does after `KILL CONNECTION`: the connection ends.
        Ok(if self.session.killed() {
            Flow::Close
        } else {
            Flow::Continue
        })
    }

    /// Tells an idle client why it is being disconnected: unsolicited, so with sequence id 0,
    /// as MySQL 8.0.24+ does.
    fn send_idle_timeout(&mut self) -> io::Result<()> {
        self.io.reset_sequence();
        self.send_err(&idle_timeout_error())?;
        self.io.flush()
    }

    fn dispatch(&mut self, command: Command<'_>) -> Result<(), ConnectionError> {
        let replied = match command {
            Command::Quit => Ok(()),
            Command::ChangeUser(body) => return self.change_user(body),
            Command::Query(sql) => self.query(sql),
            Command::InitDb(database) => self.init_db(database),
            Command::FieldList { table, .. } => self.field_list(table),
            Command::Statistics => self.statistics(),
            Command::Ping => self.send_ok(&QueryResult::ok(0), false),
            Command::SetMultiStatements(enabled) => self.set_multi_statements(enabled),
            Command::ResetConnection => self.reset_connection(),
            Command::StmtPrepare(sql) => self.prepare(sql),
            Command::StmtExecute { statement_id, body } => self.execute(statement_id, body),
            Command::StmtSendLongData {
                statement_id,
                param_index,
                data,
            } => {
                self.send_long_data(statement_id, param_index, data);
                Ok(())
            }
            Command::StmtClose(statement_id) => {
                self.statements.remove(statement_id);
                Ok(())
            }
            Command::StmtReset(statement_id) => self.reset_statement(statement_id),
            Command::Unsupported(code) => {
                log::debug!("unsupported command 0x{code:02x}");
                self.send_err(&DbError::new(
                    errors::UNKNOWN_COMMAND,
                    "08S01",
                    "Unknown command",
                ))
            }
        };
        Ok(replied?)
    }

    fn deprecate_eof(&self) -> bool {
        self.client.capabilities & capabilities::DEPRECATE_EOF != 0
    }

    /// Status flags from the session, plus MORE_RESULTS_EXISTS when `more` follow.
    fn status(&self, more: bool) -> u16 {
        session_status(&self.session, more)
    }

    /// Builds a payload in the scratch buffer with `encode` and queues it.
    fn send(&mut self, encode: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        self.scratch.clear();
        encode(&mut self.scratch);
        self.io.write_payload(&self.scratch)
    }

    fn send_err(&mut self, error: &DbError) -> io::Result<()> {
        self.send(|out| encode_err(out, error))
    }

    /// Sends `result` as an OK packet (a result set is acknowledged as zero rows affected).
    fn send_ok(&mut self, result: &QueryResult, more: bool) -> io::Result<()> {
        let status = self.status(more);
        let ok = match result {
            QueryResult::Ok {
                affected_rows,
                last_insert_id,
                warnings,
                info,
            } => OkPacket {
                affected_rows: *affected_rows,
                last_insert_id: *last_insert_id,
                status,
                warnings: *warnings,
                info,
            },
            QueryResult::Rows { .. } => OkPacket {
                status,
                ..OkPacket::default()
            },
        };
        self.send(|out| ok.encode(out))
    }

    /// Ends a row or column list: an EOF packet, or an OK with 0xFE under DEPRECATE_EOF.
    fn send_end_marker(&mut self, more: bool) -> io::Result<()> {
        let status = self.status(more);
        let warnings = self.session.warning_count();
        if self.deprecate_eof() {
            self.send(|out| {
                OkPacket {
                    status,
                    warnings,
                    ..OkPacket::default()
                }
                .encode_as_eof(out)
            })
        } else {
            self.send(|out| encode_eof(out, warnings, status))
        }
    }

    /// Sends column definitions, followed by an EOF unless DEPRECATE_EOF was negotiated.
    fn send_column_definitions(&mut self, columns: &[Column]) -> io::Result<()> {
        for column in columns {
            self.send(|out| encode_column_definition(out, column))?;
        }
        if !self.deprecate_eof() {
            self.send_end_marker(false)?;
        }
        Ok(())
    }

    /// Sends one statement's outcome; `binary` selects the prepared-statement row format.
    fn send_result(&mut self, result: &QueryResult, more: bool, binary: bool) -> io::Result<()> {
        let (columns, rows) = match result {
            QueryResult::Rows { columns, rows } if !columns.is_empty() => (columns, rows),
            _ => return self.send_ok(result, more),
        };
        self.send(|out| encode_column_count(out, columns.len()))?;
        self.send_column_definitions(columns)?;
        for row in rows {
            self.send_row(columns, row, binary)?;
        }
        self.send_end_marker(more)
    }

    fn send_row(&mut self, columns: &[Column], row: &[Value], binary: bool) -> io::Result<()> {
        if binary {
            self.send(|out| encode_binary_row(out, columns, row))
        } else {
            self.send(|out| encode_text_row(out, columns, row))
        }
    }
}

impl<B: Backend> Connection<B> {
    /// SQL text from the client's bytes: converted from the connection's character set when
    /// the session has one, else required to be UTF-8.
    fn statement_text<'t>(&self, bytes: &'t [u8]) -> Result<std::borrow::Cow<'t, str>, DbError> {
        match self.session.connection_charset() {
            Some(charset) => Ok(charset.decode(bytes)),
            None => utf8(bytes).map(std::borrow::Cow::Borrowed),
        }
    }

    /// Puts the text of result sets in the connection's character set (when it is not UTF-8).
    fn recode_results(&self, results: &mut [Result<QueryResult, DbError>]) {
        if let Some(charset) = self.session.connection_charset() {
            for result in results.iter_mut().flatten() {
                recode(result, charset);
            }
        }
    }
}

/// `result`'s text columns (those not of the binary character set) in `charset`, and
/// reported in it.
fn recode(result: &mut QueryResult, charset: Charset) {
    let QueryResult::Rows { columns, rows } = result else {
        return;
    };
    let text: Vec<bool> = columns
        .iter()
        .map(|column| column.charset != charsets::BINARY)
        .collect();
    for (column, is_text) in columns.iter_mut().zip(&text) {
        if *is_text {
            column.charset = u16::from(charset.collation);
        }
    }
    for row in rows {
        for (value, is_text) in row.iter_mut().zip(&text) {
            if let (Value::Bytes(bytes), true) = (&*value, *is_text) {
                *value = Value::Bytes(charset.encode(&String::from_utf8_lossy(bytes)));
            }
        }
    }
}

/// The client connection as a [`ReplySink`] for a relaying session.
struct ClientSink<'a> {
    io: &'a mut ServerIo,
    scratch: &'a mut Vec<u8>,
    deprecate_eof: bool,
}

impl ReplySink for ClientSink<'_> {
    fn deprecate_eof(&self) -> bool {
        self.deprecate_eof
    }

    fn send(&mut self, payload: &[u8]) -> io::Result<()> {
        self.io.write_payload(payload)
    }

    fn send_error(&mut self, error: &DbError) -> io::Result<()> {
        self.scratch.clear();
        encode_err(self.scratch, error);
        self.io.write_payload(self.scratch)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.io.flush()
    }

    fn receive(&mut self, payload: &mut Vec<u8>) -> io::Result<()> {
        self.io
            .read_payload_into(payload)
            .map_err(|error| match error {
                PacketError::Io(error) => error,
                other => io::Error::new(io::ErrorKind::InvalidData, other),
            })
    }
}

/// Status flags from `session`, plus MORE_RESULTS_EXISTS when `more` results follow.
fn session_status<S: Session>(session: &S, more: bool) -> u16 {
    let mut flags = 0;
    if session.autocommit() {
        flags |= status::AUTOCOMMIT;
    }
    if session.in_transaction() {
        flags |= status::IN_TRANS;
    }
    if more {
        flags |= status::MORE_RESULTS_EXISTS;
    }
    flags
}

/// The ERR for a command packet that does not parse.
fn malformed(error: impl std::fmt::Display) -> DbError {
    DbError::new(
        errors::UNKNOWN_COMMAND,
        "08S01",
        format!("Malformed packet: {error}"),
    )
}

/// Decodes SQL text or a name, refusing bytes that are not UTF-8 (utf8mb4 is the only
/// connection character set this server speaks).
fn utf8(bytes: &[u8]) -> Result<&str, DbError> {
    std::str::from_utf8(bytes).map_err(|error| {
        let start = error.valid_up_to();
        let bad: String = bytes[start..]
            .iter()
            .take(4)
            .map(|b| format!("{b:02X}"))
            .collect();
        DbError::new(
            errors::INVALID_CHARACTER_STRING,
            "HY000",
            format!("Invalid utf8mb4 character string: '{bad}'"),
        )
    })
}
