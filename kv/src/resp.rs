//! RESP2, the Redis wire protocol: command parsing (multibulk and inline) and reply encoding.
//!
//! A connection keeps unparsed bytes and hands them to its [`CommandParser`] again when more
//! arrive; the parser remembers how far it has checked a partly received command, so a
//! command with a million arguments arriving in small reads is scanned once, not once per read.
//! Nothing is allocated for a bulk string until all of it has arrived, so a client declaring
//! `$2000000000` costs nothing until it actually sends the bytes (and the declared length is
//! checked against [`Limits::max_bulk_len`] first). [`parse_command`] is the stateless form.

use std::io::Write as _;

use thiserror::Error;

use crate::numbers::parse_i64;

/// Protocol limits, Redis's defaults unless configured otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest bulk string a client may send (`proto-max-bulk-len`, 512 MiB).
    pub max_bulk_len: usize,
    /// Most arguments in one multibulk command (1024 * 1024).
    pub max_multibulk_len: usize,
    /// Longest inline command or `*`/`$` header line (64 KiB, `PROTO_INLINE_MAX_SIZE`).
    pub max_inline_len: usize,
    /// Most bytes a client may have sent and not yet had parsed into a command
    /// (`client-query-buffer-limit`, 1 GiB); a client over it is disconnected.
    pub max_query_buffer: usize,
    /// Largest reply a command may generate beyond the stored data it returns (128 MiB): the
    /// repeats of `SRANDMEMBER key -count`, a script's result. Counted as encoded bytes.
    pub max_reply_bytes: usize,
    /// These are the limits for a client that has not authenticated yet: going over them gets
    /// Redis's "unauthenticated" protocol errors.
    pub unauthenticated: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_multibulk_len: 1024 * 1024,
            max_inline_len: 64 * 1024,
            max_query_buffer: 1024 * 1024 * 1024,
            max_reply_bytes: 128 * 1024 * 1024,
            unauthenticated: false,
        }
    }
}

impl Limits {
    /// What a client may send before AUTH when a password is required: Redis 7's fixed limits
    /// (10 arguments of at most 16 KiB each), whatever the configured ones are.
    pub const fn before_auth() -> Limits {
        Limits {
            max_bulk_len: 16 * 1024,
            max_multibulk_len: 10,
            max_inline_len: 16 * 1024,
            max_query_buffer: 256 * 1024,
            max_reply_bytes: 128 * 1024 * 1024,
            unauthenticated: true,
        }
    }

    fn multibulk_error(&self) -> ProtocolError {
        if self.unauthenticated {
            ProtocolError::UnauthenticatedMultibulkLength
        } else {
            ProtocolError::InvalidMultibulkLength
        }
    }

    fn bulk_error(&self) -> ProtocolError {
        if self.unauthenticated {
            ProtocolError::UnauthenticatedBulkLength
        } else {
            ProtocolError::InvalidBulkLength
        }
    }
}

/// What a reply element costs beyond its data, as counted against
/// [`Limits::max_reply_bytes`]: about the memory of one [`Reply`] node, which is more than its
/// encoding (`$<len>\r\n...\r\n`).
pub(crate) const REPLY_OVERHEAD: usize = 32;

/// Input that is not RESP. Redis answers it with [`ProtocolError::to_reply`] and closes the
/// connection; the connection layer should do the same.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// The `*N` count is not an integer or is over the limit.
    #[error("ERR Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// A `$N` length is not an integer, negative or over the limit.
    #[error("ERR Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// A multibulk element did not start with `$`.
    #[error("ERR Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// An inline command with an unterminated quote.
    #[error("ERR Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// An inline command longer than the limit without a newline.
    #[error("ERR Protocol error: too big inline request")]
    TooBigInline,
    /// A `*` header line longer than the limit.
    #[error("ERR Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// A `$` header line longer than the limit.
    #[error("ERR Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// More arguments than a client may send before AUTH.
    #[error("ERR Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// A longer argument than a client may send before AUTH.
    #[error("ERR Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

impl ProtocolError {
    /// The error reply to send before closing the connection.
    pub fn to_reply(&self) -> Reply {
        Reply::Error(self.to_string())
    }
}

/// A parsed command (arguments, name first) and the number of input bytes it used.
pub type Parsed = (Vec<Vec<u8>>, usize);

/// Parses one command from the front of `buf` (the stateless form of [`CommandParser`]).
///
/// `Ok(None)`: more bytes are needed (nothing consumed). `Ok(Some((args, used)))`: drop `used`
/// bytes from the buffer; `args` is empty for a blank inline line or `*0`, which get no reply.
pub fn parse_command(buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, ProtocolError> {
    CommandParser::default().parse(buf, limits)
}

/// A connection's command parser: like [`parse_command`], but it remembers how much of a partly
/// received multibulk command it has already checked, so every byte is scanned about once.
///
/// Give it the same buffer (grown at the end) until it returns a command or an error.
#[derive(Debug, Default)]
pub struct CommandParser {
    /// The multibulk command being received, if one is partly checked.
    partial: Option<Partial>,
}

/// How far a partly received multibulk command has been checked.
#[derive(Debug, Clone, Copy)]
struct Partial {
    /// Arguments declared by `*N`.
    count: usize,
    /// Arguments known to have fully arrived.
    checked: usize,
    /// Position after the last checked argument.
    pos: usize,
    /// Position of the first argument.
    first: usize,
}

impl CommandParser {
    /// Parses one command from the front of `buf`; see [`parse_command`].
    pub fn parse(&mut self, buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, ProtocolError> {
        let result = match buf.first() {
            None => Ok(None),
            Some(b'*') => self.parse_multibulk(buf, limits),
            Some(_) => parse_inline(buf, limits),
        };
        if !matches!(result, Ok(None)) {
            self.partial = None;
        }
        result
    }

    fn parse_multibulk(
        &mut self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Option<Parsed>, ProtocolError> {
        let mut partial = match self.partial {
            Some(partial) => partial,
            None => match multibulk_header(buf, limits)? {
                Header::Incomplete => return Ok(None),
                Header::Empty(used) => return Ok(Some((Vec::new(), used))),
                Header::Count(count, first) => Partial {
                    count,
                    checked: 0,
                    pos: first,
                    first,
                },
            },
        };
        // First pass: check that the whole command has arrived, allocating nothing.
        while partial.checked < partial.count {
            match bulk_at(buf, partial.pos, limits)? {
                Some((_, next)) => {
                    partial.pos = next;
                    partial.checked += 1;
                }
                None => {
                    self.partial = Some(partial);
                    return Ok(None);
                }
            }
        }
        // Second pass: copy the arguments; every length is now backed by received bytes.
        let mut args = Vec::with_capacity(partial.count);
        let mut pos = partial.first;
        for _ in 0..partial.count {
            if let Some((range, next)) = bulk_at(buf, pos, limits)? {
                args.push(buf[range].to_vec());
                pos = next;
            }
        }
        Ok(Some((args, pos)))
    }
}

/// What the `*N` line at the front of a buffer says.
enum Header {
    Incomplete,
    /// `*0` or a negative count: no command, this many bytes used.
    Empty(usize),
    /// N arguments, the first at this position.
    Count(usize, usize),
}

fn multibulk_header(buf: &[u8], limits: &Limits) -> Result<Header, ProtocolError> {
    let Some((count, pos)) = read_header(buf, 0, limits, ProtocolError::TooBigMultibulkCount)?
    else {
        return Ok(Header::Incomplete);
    };
    let count = count.ok_or(ProtocolError::InvalidMultibulkLength)?;
    if count > limits.max_multibulk_len as i64 {
        return Err(limits.multibulk_error());
    }
    if count <= 0 {
        return Ok(Header::Empty(pos));
    }
    Ok(Header::Count(count as usize, pos))
}

/// The position of the `\r` of the first `\r\n` at or after `from`, or `None` if the line has
/// not fully arrived.
fn find_line_end(buf: &[u8], from: usize) -> Option<usize> {
    let cr = from + buf.get(from..)?.iter().position(|&b| b == b'\r')?;
    (cr + 1 < buf.len()).then_some(cr)
}

/// Reads a `<prefix><integer>\r\n` header at `pos`; returns the integer and the position after
/// the line, `None` if incomplete, or `too_big` when the line exceeds the limit.
fn read_header(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<(Option<i64>, usize)>, ProtocolError> {
    match find_line_end(buf, pos + 1) {
        Some(cr) => Ok(Some((parse_i64(&buf[pos + 1..cr]), cr + 2))),
        None if buf.len() - pos > limits.max_inline_len => Err(too_big),
        None => Ok(None),
    }
}

/// The data range of the bulk string at `pos` and the position after it, if it has arrived.
fn bulk_at(
    buf: &[u8],
    pos: usize,
    limits: &Limits,
) -> Result<Option<(std::ops::Range<usize>, usize)>, ProtocolError> {
    let Some(&first) = buf.get(pos) else {
        return Ok(None);
    };
    if first != b'$' {
        return Err(ProtocolError::ExpectedDollar(first));
    }
    let Some((len, data)) = read_header(buf, pos, limits, ProtocolError::TooBigBulkCount)? else {
        return Ok(None);
    };
    let len = match len {
        Some(len) if len >= 0 && len as u64 <= limits.max_bulk_len as u64 => len as usize,
        Some(len) if len >= 0 => return Err(limits.bulk_error()),
        _ => return Err(ProtocolError::InvalidBulkLength),
    };
    let end = data + len;
    if end + 2 > buf.len() {
        return Ok(None);
    }
    Ok(Some((data..end, end + 2)))
}

fn parse_inline(buf: &[u8], limits: &Limits) -> Result<Option<Parsed>, ProtocolError> {
    let Some(newline) = buf.iter().position(|&b| b == b'\n') else {
        if buf.len() > limits.max_inline_len {
            return Err(ProtocolError::TooBigInline);
        }
        return Ok(None);
    };
    let mut line = &buf[..newline];
    if let Some(stripped) = line.strip_suffix(b"\r") {
        line = stripped;
    }
    let args = split_args(line).ok_or(ProtocolError::UnbalancedQuotes)?;
    Ok(Some((args, newline + 1)))
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Splits an inline command like Redis's `sdssplitargs`: spaces separate arguments,
/// `"..."` supports `\n \r \t \b \a \\ \" \xHH`, `'...'` supports `\'`. `None` on unbalanced
/// quotes (or a closing quote not followed by a space).
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut pos = 0;
    loop {
        while pos < line.len() && is_space(line[pos]) {
            pos += 1;
        }
        // Redis's parser works on a C string: a NUL byte ends the line.
        if pos >= line.len() || line[pos] == 0 {
            return Some(args);
        }
        let (arg, next) = split_one(line, pos)?;
        args.push(arg);
        pos = next;
    }
}

/// One argument starting at `pos`; returns it and the position after it.
fn split_one(line: &[u8], mut pos: usize) -> Option<(Vec<u8>, usize)> {
    let mut current = Vec::new();
    let mut quote: Option<u8> = None;
    loop {
        let Some(&c) = line.get(pos) else {
            return if quote.is_some() {
                None
            } else {
                Some((current, pos))
            };
        };
        if c == 0 && quote.is_some() {
            // The end of Redis's C string inside quotes: unbalanced.
            return None;
        }
        match quote {
            Some(b'"') => {
                if c == b'\\' && line.get(pos + 1) == Some(&b'x') {
                    if let (Some(h), Some(l)) = (
                        line.get(pos + 2).copied().and_then(hex_value),
                        line.get(pos + 3).copied().and_then(hex_value),
                    ) {
                        current.push(h * 16 + l);
                        pos += 4;
                        continue;
                    }
                }
                if c == b'\\' && pos + 1 < line.len() {
                    current.push(match line[pos + 1] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                    pos += 2;
                    continue;
                }
                if c == b'"' {
                    return closing_quote(line, pos, current);
                }
                current.push(c);
            }
            Some(_) => {
                if c == b'\\' && line.get(pos + 1) == Some(&b'\'') {
                    current.push(b'\'');
                    pos += 2;
                    continue;
                }
                if c == b'\'' {
                    return closing_quote(line, pos, current);
                }
                current.push(c);
            }
            None => match c {
                b' ' | b'\n' | b'\r' | b'\t' | 0 => return Some((current, pos)),
                b'"' | b'\'' => quote = Some(c),
                _ => current.push(c),
            },
        }
        pos += 1;
    }
}

/// A closing quote must end the argument.
fn closing_quote(line: &[u8], pos: usize, current: Vec<u8>) -> Option<(Vec<u8>, usize)> {
    match line.get(pos + 1) {
        Some(&next) if !is_space(next) => None,
        _ => Some((current, pos + 1)),
    }
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`: a status line (CR/LF inside are sent as spaces).
    Simple(String),
    /// `-ERR ...`: an error line, code prefix included.
    Error(String),
    /// `:42`.
    Integer(i64),
    /// `$3\r\nfoo`, or `$-1` (nil) for `None`.
    Bulk(Option<Vec<u8>>),
    /// `*2 ...`, or `*-1` (nil array) for `None`.
    Array(Option<Vec<Reply>>),
}

impl Reply {
    /// `+OK`.
    pub fn ok() -> Reply {
        Reply::Simple("OK".into())
    }

    /// A nil bulk string.
    pub fn nil() -> Reply {
        Reply::Bulk(None)
    }

    /// A bulk string.
    pub fn bulk(data: impl Into<Vec<u8>>) -> Reply {
        Reply::Bulk(Some(data.into()))
    }

    /// An array.
    pub fn array(items: Vec<Reply>) -> Reply {
        Reply::Array(Some(items))
    }

    /// An array of bulk strings.
    pub fn bulks<I, T>(items: I) -> Reply
    where
        I: IntoIterator<Item = T>,
        T: Into<Vec<u8>>,
    {
        Reply::array(items.into_iter().map(Reply::bulk).collect())
    }

    /// An error reply (the whole line, e.g. `ERR syntax error`).
    pub fn error(message: impl Into<String>) -> Reply {
        Reply::Error(message.into())
    }

    /// Appends the wire form of the reply to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Reply::Simple(s) => encode_line(out, b'+', s),
            Reply::Error(s) => encode_line(out, b'-', s),
            Reply::Integer(n) => {
                let _ = write!(out, ":{n}\r\n");
            }
            Reply::Bulk(None) => out.extend_from_slice(b"$-1\r\n"),
            Reply::Bulk(Some(data)) => {
                let _ = write!(out, "${}\r\n", data.len());
                out.extend_from_slice(data);
                out.extend_from_slice(b"\r\n");
            }
            Reply::Array(None) => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(Some(items)) => {
                let _ = write!(out, "*{}\r\n", items.len());
                for item in items {
                    item.encode(out);
                }
            }
        }
    }

    /// The wire form as a new buffer.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

fn encode_line(out: &mut Vec<u8>, prefix: u8, text: &str) {
    out.push(prefix);
    out.extend(
        text.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(buf: &[u8]) -> Result<Option<Parsed>, ProtocolError> {
        parse_command(buf, &Limits::default())
    }

    fn args(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_command() {
        let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n";
        assert_eq!(
            parse(buf),
            Ok(Some((args(&["SET", "k", "value"]), buf.len())))
        );
    }

    #[test]
    fn binary_safe_bulk() {
        let buf = b"*1\r\n$4\r\na\r\nb\r\n";
        assert_eq!(parse(buf), Ok(Some((vec![b"a\r\nb".to_vec()], buf.len()))));
    }

    #[test]
    fn every_prefix_of_a_command_is_incomplete() {
        let buf = b"*2\r\n$4\r\nECHO\r\n$11\r\nhello world\r\n";
        for end in 0..buf.len() {
            assert_eq!(parse(&buf[..end]), Ok(None), "prefix of {end} bytes");
        }
        assert!(parse(buf).unwrap().is_some());
    }

    #[test]
    fn pipelined_commands_parse_one_at_a_time() {
        let buf = b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\nPING\r\n";
        let (first, used) = parse(buf).unwrap().unwrap();
        assert_eq!(first, args(&["PING"]));
        let (second, used2) = parse(&buf[used..]).unwrap().unwrap();
        assert_eq!(second, args(&["GET", "x"]));
        let (third, used3) = parse(&buf[used + used2..]).unwrap().unwrap();
        assert_eq!(third, args(&["PING"]));
        assert_eq!(used + used2 + used3, buf.len());
    }

    #[test]
    fn huge_declared_length_waits_without_allocating() {
        // Under the default limit: just incomplete (and nothing was allocated for it).
        assert_eq!(parse(b"*1\r\n$500000000\r\nabc"), Ok(None));
        assert_eq!(
            parse(b"*2000000000\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse(b"*1\r\n$2000000000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        let small = Limits {
            max_bulk_len: 10,
            ..Limits::default()
        };
        assert_eq!(
            parse_command(b"*1\r\n$11\r\n", &small),
            Err(ProtocolError::InvalidBulkLength)
        );
        let few = Limits {
            max_multibulk_len: 2,
            ..Limits::default()
        };
        assert_eq!(
            parse_command(b"*3\r\n", &few),
            Err(ProtocolError::InvalidMultibulkLength)
        );
    }

    #[test]
    fn a_nul_byte_ends_an_inline_command() {
        // Found by fuzz/resp_commands: a NUL ended an argument without being consumed, so the
        // splitter produced empty arguments forever and the server ran out of memory.
        assert_eq!(
            parse(b"SET a\x00b c\r\n"),
            Ok(Some((args(&["SET", "a"]), 11)))
        );
        assert_eq!(
            parse(b"\x0f\x00\x00(SE\rT\n").map(|p| p.map(|(a, _)| a.len())),
            Ok(Some(1))
        );
        assert_eq!(parse(b"\x00\r\n"), Ok(Some((vec![], 3))));
        assert_eq!(
            parse(b"SET \"a\x00\" b\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn the_parser_resumes_where_it_stopped() {
        let buf = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPING\r\n";
        let mut parser = CommandParser::default();
        let limits = Limits::default();
        for end in 0..31 {
            assert_eq!(parser.parse(&buf[..end], &limits), Ok(None), "prefix {end}");
        }
        let (args_1, used) = parser.parse(buf, &limits).unwrap().unwrap();
        assert_eq!((args_1, used), (args(&["SET", "k", "value"]), 31));
        let (args_2, _) = parser.parse(&buf[used..], &limits).unwrap().unwrap();
        assert_eq!(args_2, args(&["PING"]));
    }

    #[test]
    fn a_million_arguments_in_small_reads_are_scanned_once() {
        let count = 200_000;
        let mut buf = format!("*{count}\r\n").into_bytes();
        for _ in 0..count {
            buf.extend_from_slice(b"$1\r\nx\r\n");
        }
        let mut parser = CommandParser::default();
        let limits = Limits::default();
        let started = std::time::Instant::now();
        let mut end = 0;
        let parsed = loop {
            end = (end + 100).min(buf.len());
            if let Some(parsed) = parser.parse(&buf[..end], &limits).unwrap() {
                break parsed;
            }
        };
        assert_eq!(parsed.0.len(), count);
        assert_eq!(parsed.1, buf.len());
        // 14,000 reads of 100 bytes: rescanning from the start each time would take minutes.
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn unauthenticated_clients_get_small_limits() {
        let limits = Limits::before_auth();
        assert_eq!(
            parse_command(b"*11\r\n", &limits).unwrap_err().to_string(),
            "ERR Protocol error: unauthenticated multibulk length"
        );
        assert_eq!(
            parse_command(b"*1\r\n$16385\r\n", &limits)
                .unwrap_err()
                .to_string(),
            "ERR Protocol error: unauthenticated bulk length"
        );
        assert_eq!(
            parse_command(b"*2\r\n$4\r\nAUTH\r\n$3\r\npwd\r\n", &limits)
                .unwrap()
                .unwrap()
                .0,
            args(&["AUTH", "pwd"])
        );
    }

    #[test]
    fn protocol_errors_are_worded_like_redis() {
        assert_eq!(
            parse(b"*1\r\nx3\r\nfoo\r\n").unwrap_err().to_string(),
            "ERR Protocol error: expected '$', got 'x'"
        );
        assert_eq!(
            parse(b"*x\r\n").unwrap_err().to_string(),
            "ERR Protocol error: invalid multibulk length"
        );
        assert_eq!(
            parse(b"*1\r\n$-2\r\n").unwrap_err().to_string(),
            "ERR Protocol error: invalid bulk length"
        );
        assert_eq!(
            parse(b"SET \"k v\r\n").unwrap_err().to_reply(),
            Reply::Error("ERR Protocol error: unbalanced quotes in request".into())
        );
    }

    #[test]
    fn long_header_lines_are_refused() {
        let mut buf = b"*".to_vec();
        buf.extend(vec![b'1'; 70_000]);
        assert_eq!(parse(&buf), Err(ProtocolError::TooBigMultibulkCount));
        let inline = vec![b'a'; 70_000];
        assert_eq!(parse(&inline), Err(ProtocolError::TooBigInline));
    }

    #[test]
    fn empty_multibulk_is_consumed() {
        assert_eq!(parse(b"*0\r\n"), Ok(Some((vec![], 4))));
        assert_eq!(parse(b"*-1\r\n"), Ok(Some((vec![], 5))));
    }

    #[test]
    fn inline_commands() {
        assert_eq!(parse(b"PING\r\n"), Ok(Some((args(&["PING"]), 6))));
        assert_eq!(
            parse(b"SET a  b\n"),
            Ok(Some((args(&["SET", "a", "b"]), 9)))
        );
        assert_eq!(parse(b"\r\n"), Ok(Some((vec![], 2))));
        assert_eq!(parse(b"GET a"), Ok(None));
        let quoted = b"SET \"a b\" 'it\\'s' \"\\x41\\n\"\r\n";
        assert_eq!(
            parse(quoted).unwrap().unwrap().0,
            vec![
                b"SET".to_vec(),
                b"a b".to_vec(),
                b"it's".to_vec(),
                b"A\n".to_vec()
            ]
        );
        assert_eq!(
            parse(b"SET \"a\"b\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
    }

    #[test]
    fn reply_encoding() {
        let reply = Reply::array(vec![
            Reply::ok(),
            Reply::Error("ERR bad\r\nthing".into()),
            Reply::Integer(-3),
            Reply::bulk("hi"),
            Reply::nil(),
            Reply::Array(None),
            Reply::array(vec![]),
        ]);
        assert_eq!(
            reply.to_bytes(),
            b"*7\r\n+OK\r\n-ERR bad  thing\r\n:-3\r\n$2\r\nhi\r\n$-1\r\n*-1\r\n*0\r\n".to_vec()
        );
    }
}
