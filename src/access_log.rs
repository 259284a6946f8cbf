//! The access log: one line per request, in nginx's "combined" format plus the request time.
//!
//! Each core writes through its own buffer (no locks on the hot path) and flushes it every
//! second and at shutdown.

use std::cell::RefCell;
use std::fs::OpenOptions;
use std::io::{self, BufWriter, Write};
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_lite::future;

use crate::http::request::RequestHead;
use crate::server::shutdown::CoreShutdown;

/// What the log keeps of a request head (taken only when the log is on).
pub struct RequestSummary {
    request_line: String,
    referer: Option<Vec<u8>>,
    user_agent: Option<Vec<u8>>,
}

impl RequestSummary {
    /// Captures the logged parts of `head`.
    pub fn of(head: &RequestHead) -> RequestSummary {
        let version = match head.version {
            crate::http::request::Version::Http10 => "HTTP/1.0",
            crate::http::request::Version::Http11 => "HTTP/1.1",
            crate::http::request::Version::Http2 => "HTTP/2.0",
        };
        RequestSummary {
            request_line: format!("{} {} {version}", head.method, head.target),
            referer: head.header("referer").map(<[u8]>::to_vec),
            user_agent: head.header("user-agent").map(<[u8]>::to_vec),
        }
    }
}

/// A core's access log writer (or nothing, when the log is off).
pub struct AccessLog {
    sink: Option<RefCell<Sink>>,
}

struct Sink {
    out: BufWriter<Box<dyn Write>>,
    /// The formatted time of `second`, reused for every line within that second.
    second: u64,
    time: String,
}

impl AccessLog {
    /// Opens the log named by the `log.access_log` setting: `stdout`, `stderr`, `off`, or a
    /// file path (appended to, created when missing).
    pub fn open(target: &str) -> io::Result<AccessLog> {
        let out: Box<dyn Write> = match target {
            "off" | "" => return Ok(AccessLog { sink: None }),
            "stdout" => Box::new(io::stdout()),
            "stderr" => Box::new(io::stderr()),
            path => Box::new(
                OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .map_err(|err| {
                        io::Error::new(err.kind(), format!("access log {path}: {err}"))
                    })?,
            ),
        };
        Ok(AccessLog {
            sink: Some(RefCell::new(Sink {
                out: BufWriter::with_capacity(64 * 1024, out),
                second: 0,
                time: String::new(),
            })),
        })
    }

    /// True unless the log is off (callers skip collecting what it would record).
    pub fn is_enabled(&self) -> bool {
        self.sink.is_some()
    }

    /// Records one request.
    pub fn record(
        &self,
        client: IpAddr,
        request: &RequestSummary,
        status: u16,
        bytes: u64,
        elapsed: Duration,
    ) {
        let Some(sink) = &self.sink else { return };
        let mut sink = sink.borrow_mut();
        let now = SystemTime::now();
        let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if second != sink.second {
            sink.second = second;
            sink.time = httpdate::fmt_http_date(now);
        }
        let Sink { out, time, .. } = &mut *sink;
        let _ = writeln!(
            out,
            "{client} - - [{time}] \"{}\" {status} {bytes} \"{}\" \"{}\" {:.3}",
            escape(request.request_line.as_bytes()),
            escape(request.referer.as_deref().unwrap_or(b"-")),
            escape(request.user_agent.as_deref().unwrap_or(b"-")),
            elapsed.as_secs_f64(),
        );
    }

    /// Writes buffered lines out.
    pub fn flush(&self) {
        if let Some(sink) = &self.sink {
            let _ = sink.borrow_mut().out.flush();
        }
    }

    /// Flushes once a second until shutdown.
    pub(crate) async fn flush_periodically(&self, shutdown: &CoreShutdown) {
        while !shutdown.is_triggered() {
            future::or(
                glommio::timer::sleep(Duration::from_secs(1)),
                shutdown.wait(),
            )
            .await;
            self.flush();
        }
    }
}

/// Makes client-supplied text safe for a log line: quotes, backslashes, control and non-ASCII
/// bytes become `\xHH`, as nginx does.
fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b == b'"' || b == b'\\' || !(0x20..0x7f).contains(&b) {
            out.push_str(&format!("\\x{b:02X}"));
        } else {
            out.push(char::from(b));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_quotes_and_control_bytes() {
        assert_eq!(escape(b"GET /a\"b\n"), "GET /a\\x22b\\x0A");
    }
}
