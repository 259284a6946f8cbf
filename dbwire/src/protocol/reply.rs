//! Following a server's reply to one command, packet by packet, so that a proxy can pass the
//! packets on as the server sent them and still know where the reply ends.
//!
//! A [`ReplyTracker`] reads only what it must: the first byte of each packet, the column count,
//! and the OK/EOF packets that end a result (status flags, affected rows, warnings). The one
//! rewrite it makes is the end-marker framing when the two sides negotiated `DEPRECATE_EOF`
//! differently: with it, column definitions have no closing EOF and rows end with an OK packet
//! whose header is 0xFE; without it, both are classic EOF packets.

use std::io;

use super::constants::{markers, status};
use super::response::{encode_eof, OkPacket};
use super::wire::{PayloadReader, WireError};

/// Payloads at least this long are rows, never end markers, under `DEPRECATE_EOF`.
const MAX_MARKER_LEN_DEPRECATE_EOF: usize = 0xff_ffff;

/// Classic EOF packets are shorter than this (a row starting with 0xFE is at least 9 bytes).
const MAX_EOF_LEN: usize = 9;

/// What the proxy learns from a reply while passing it on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplySummary {
    /// Status flags of the packet that ended the reply (unchanged after an ERR).
    pub status: u16,
    /// Affected rows, summed over the results.
    pub affected_rows: u64,
    /// Rows sent in result sets.
    pub rows: u64,
    /// Warnings of the last result.
    pub warnings: u16,
    /// True when the reply ended with an ERR packet.
    pub failed: bool,
}

/// Where the reply is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Expecting the first packet of a result: OK, ERR or a column count.
    ResultStart,
    /// Column definitions still to come.
    Columns(u64),
    /// The classic EOF after the column definitions.
    ColumnsEnd,
    /// Rows, until an end marker or ERR.
    Rows,
    /// The server asked for a `LOAD DATA LOCAL INFILE` file: the client's data must be passed
    /// to the server before its answer comes.
    LocalFile,
    /// The reply is complete.
    Done,
}

/// Follows one reply. Feed it every payload the server sends until [`ReplyTracker::feed`]
/// says the reply is complete.
#[derive(Debug)]
pub struct ReplyTracker {
    state: State,
    /// The server side negotiated `DEPRECATE_EOF`.
    server_deprecate_eof: bool,
    /// The client side negotiated `DEPRECATE_EOF`.
    client_deprecate_eof: bool,
    summary: ReplySummary,
    scratch: Vec<u8>,
}

impl ReplyTracker {
    /// A tracker for a reply whose sender and receiver negotiated `DEPRECATE_EOF` as given;
    /// `status` is the sender's last known status (reported until a packet carries one).
    pub fn new(server_deprecate_eof: bool, client_deprecate_eof: bool, status: u16) -> Self {
        ReplyTracker {
            state: State::ResultStart,
            server_deprecate_eof,
            client_deprecate_eof,
            summary: ReplySummary {
                status,
                ..ReplySummary::default()
            },
            scratch: Vec::new(),
        }
    }

    /// True once the last packet of the reply went through.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True after the server asked for a `LOAD DATA LOCAL INFILE` file: pass the client's
    /// packets to the server up to the empty one, then call [`ReplyTracker::local_file_sent`].
    pub fn wants_local_file(&self) -> bool {
        self.state == State::LocalFile
    }

    /// The client's file went to the server; its OK or ERR comes next.
    pub fn local_file_sent(&mut self) {
        if self.state == State::LocalFile {
            self.state = State::ResultStart;
        }
    }

    /// What the reply said so far.
    pub fn summary(&self) -> ReplySummary {
        self.summary
    }

    /// Takes the next payload of the reply and passes it (or its rewritten end marker) to
    /// `out`. A payload that cannot be where it is fails with [`ReplyError::Malformed`];
    /// an error from `out` is returned as [`ReplyError::Sink`] after the state has moved on,
    /// so the caller can keep reading the reply to its end without sending more.
    pub fn feed(
        &mut self,
        payload: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<(), ReplyError> {
        match self.state {
            State::ResultStart => self.result_start(payload, out),
            State::Columns(left) => {
                self.state = match (left - 1, self.server_deprecate_eof) {
                    (0, true) => State::Rows,
                    (0, false) => State::ColumnsEnd,
                    (left, _) => State::Columns(left),
                };
                out(payload)?;
                if self.state == State::Rows && !self.client_deprecate_eof {
                    // The server sends no EOF after the columns; this client expects one.
                    self.scratch.clear();
                    encode_eof(&mut self.scratch, 0, self.summary.status);
                    out(&self.scratch)?;
                }
                Ok(())
            }
            State::ColumnsEnd => {
                if !self.is_end_marker(payload) {
                    return Err(ReplyError::Malformed(WireError::InvalidValue(
                        "end of column definitions",
                    )));
                }
                self.state = State::Rows;
                if self.client_deprecate_eof {
                    return Ok(());
                }
                Ok(out(payload)?)
            }
            State::Rows => self.row_or_end(payload, out),
            State::LocalFile | State::Done => Err(ReplyError::Malformed(WireError::InvalidValue(
                "packet after the end of the reply",
            ))),
        }
    }

    fn result_start(
        &mut self,
        payload: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<(), ReplyError> {
        match payload.first() {
            Some(&markers::OK) => {
                let ok = read_ok(payload)?;
                self.summary.affected_rows += ok.affected_rows;
                self.end_result(ok.status, ok.warnings);
            }
            Some(&markers::ERR) => {
                self.summary.failed = true;
                self.state = State::Done;
            }
            Some(&markers::NULL) => self.state = State::LocalFile,
            Some(_) => {
                let count = PayloadReader::new(payload).lenenc_int()?;
                if count == 0 {
                    return Err(ReplyError::Malformed(WireError::InvalidValue(
                        "column count",
                    )));
                }
                self.state = State::Columns(count);
            }
            None => return Err(ReplyError::Malformed(WireError::Truncated)),
        }
        Ok(out(payload)?)
    }

    fn row_or_end(
        &mut self,
        payload: &[u8],
        out: &mut dyn FnMut(&[u8]) -> io::Result<()>,
    ) -> Result<(), ReplyError> {
        if payload.first() == Some(&markers::ERR) {
            self.summary.failed = true;
            self.state = State::Done;
            return Ok(out(payload)?);
        }
        if !self.is_end_marker(payload) {
            self.summary.rows += 1;
            return Ok(out(payload)?);
        }
        let (status, warnings) = if self.server_deprecate_eof {
            let ok = read_ok(payload)?;
            (ok.status, ok.warnings)
        } else {
            read_eof(payload)?
        };
        self.end_result(status, warnings);
        if self.server_deprecate_eof == self.client_deprecate_eof {
            return Ok(out(payload)?);
        }
        self.scratch.clear();
        if self.client_deprecate_eof {
            OkPacket {
                status,
                warnings,
                ..OkPacket::default()
            }
            .encode_as_eof(&mut self.scratch);
        } else {
            encode_eof(&mut self.scratch, warnings, status);
        }
        Ok(out(&self.scratch)?)
    }

    /// Records the end of one result; the reply goes on when more results follow.
    fn end_result(&mut self, status: u16, warnings: u16) {
        self.summary.status = status;
        self.summary.warnings = warnings;
        self.state = if status & status::MORE_RESULTS_EXISTS != 0 {
            State::ResultStart
        } else {
            State::Done
        };
    }

    /// True for an EOF packet (or an OK-as-EOF under `DEPRECATE_EOF`), not a row.
    fn is_end_marker(&self, payload: &[u8]) -> bool {
        let limit = if self.server_deprecate_eof {
            MAX_MARKER_LEN_DEPRECATE_EOF
        } else {
            MAX_EOF_LEN
        };
        payload.first() == Some(&markers::EOF) && payload.len() < limit
    }
}

/// Why a reply could not be passed on.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The server sent something a reply cannot hold at that point.
    #[error("malformed reply: {0}")]
    Malformed(#[from] WireError),
    /// The receiving side failed.
    #[error(transparent)]
    Sink(#[from] io::Error),
}

/// The fields of an OK packet (or OK-as-EOF) a proxy needs.
struct OkFields {
    affected_rows: u64,
    status: u16,
    warnings: u16,
}

fn read_ok(payload: &[u8]) -> Result<OkFields, WireError> {
    let mut reader = PayloadReader::new(payload);
    reader.skip(1)?;
    let affected_rows = reader.lenenc_int()?;
    let _last_insert_id = reader.lenenc_int()?;
    Ok(OkFields {
        affected_rows,
        status: reader.u16()?,
        warnings: reader.u16()?,
    })
}

/// Status flags and warnings of a classic EOF packet.
fn read_eof(payload: &[u8]) -> Result<(u16, u16), WireError> {
    let mut reader = PayloadReader::new(payload);
    reader.skip(1)?;
    let warnings = reader.u16()?;
    Ok((reader.u16()?, warnings))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{Column, ColumnType, Value};
    use crate::protocol::resultset::encode_text_row;
    use crate::protocol::resultset::{encode_column_count, encode_column_definition};

    fn ok(affected: u64, status: u16, warnings: u16) -> Vec<u8> {
        let mut out = Vec::new();
        OkPacket {
            affected_rows: affected,
            status,
            warnings,
            ..OkPacket::default()
        }
        .encode(&mut out);
        out
    }

    fn ok_as_eof(status: u16, warnings: u16) -> Vec<u8> {
        let mut out = Vec::new();
        OkPacket {
            status,
            warnings,
            ..OkPacket::default()
        }
        .encode_as_eof(&mut out);
        out
    }

    fn eof(status: u16, warnings: u16) -> Vec<u8> {
        let mut out = Vec::new();
        encode_eof(&mut out, warnings, status);
        out
    }

    /// A one-column, `rows`-row text result set as a server with or without
    /// DEPRECATE_EOF sends it.
    fn result_set(rows: usize, deprecate_eof: bool, end_status: u16) -> Vec<Vec<u8>> {
        let column = Column::new("v", ColumnType::LongLong);
        let mut packets = Vec::new();
        let mut count = Vec::new();
        encode_column_count(&mut count, 1);
        packets.push(count);
        let mut definition = Vec::new();
        encode_column_definition(&mut definition, &column);
        packets.push(definition);
        if !deprecate_eof {
            packets.push(eof(status::AUTOCOMMIT, 0));
        }
        for row in 0..rows {
            let mut out = Vec::new();
            encode_text_row(
                &mut out,
                std::slice::from_ref(&column),
                &[Value::Int(row as i64)],
            );
            packets.push(out);
        }
        packets.push(if deprecate_eof {
            ok_as_eof(end_status, 1)
        } else {
            eof(end_status, 1)
        });
        packets
    }

    /// Feeds `packets` and returns what came out, checking the tracker ends exactly at the
    /// last packet.
    fn relay(tracker: &mut ReplyTracker, packets: &[Vec<u8>]) -> Vec<Vec<u8>> {
        let mut sent = Vec::new();
        for (index, packet) in packets.iter().enumerate() {
            assert!(!tracker.is_done(), "done before packet {index}");
            tracker
                .feed(packet, &mut |payload| {
                    sent.push(payload.to_vec());
                    Ok(())
                })
                .expect("well-formed reply");
        }
        assert!(tracker.is_done());
        sent
    }

    #[test]
    fn same_framing_passes_every_packet_unchanged() {
        for deprecate_eof in [false, true] {
            let packets = result_set(3, deprecate_eof, status::AUTOCOMMIT);
            let mut tracker = ReplyTracker::new(deprecate_eof, deprecate_eof, 0);
            assert_eq!(relay(&mut tracker, &packets), packets);
            let summary = tracker.summary();
            assert_eq!((summary.rows, summary.warnings), (3, 1));
            assert_eq!(summary.status, status::AUTOCOMMIT);
        }
    }

    #[test]
    fn end_markers_are_rewritten_between_framings() {
        let modern = result_set(2, true, status::AUTOCOMMIT);
        let classic = result_set(2, false, status::AUTOCOMMIT);
        let mut tracker = ReplyTracker::new(true, false, status::AUTOCOMMIT);
        assert_eq!(relay(&mut tracker, &modern), classic);
        let mut tracker = ReplyTracker::new(false, true, status::AUTOCOMMIT);
        assert_eq!(relay(&mut tracker, &classic), modern);
    }

    #[test]
    fn more_results_keep_the_reply_going() {
        // What a CALL sends: a result set, then the procedure's OK.
        let more = status::AUTOCOMMIT | status::MORE_RESULTS_EXISTS;
        let mut packets = result_set(1, true, more);
        packets.push(ok(4, status::AUTOCOMMIT, 2));
        let mut tracker = ReplyTracker::new(true, true, 0);
        relay(&mut tracker, &packets);
        let summary = tracker.summary();
        assert_eq!((summary.rows, summary.affected_rows), (1, 4));
        assert_eq!((summary.status, summary.warnings), (status::AUTOCOMMIT, 2));
        assert!(!summary.failed);
    }

    #[test]
    fn an_error_ends_the_reply() {
        let mut packets = result_set(1, false, 0);
        let mut err = Vec::new();
        crate::protocol::response::encode_err(
            &mut err,
            &crate::DbError::new(1317, "70100", "Query execution was interrupted"),
        );
        // The error replaces the end marker, as when a query is killed mid-rows.
        *packets.last_mut().expect("packets") = err;
        let mut tracker = ReplyTracker::new(false, false, status::AUTOCOMMIT);
        relay(&mut tracker, &packets);
        assert!(tracker.summary().failed);
        assert_eq!(tracker.summary().status, status::AUTOCOMMIT);
    }

    #[test]
    fn a_local_infile_request_waits_for_the_file() {
        let mut tracker = ReplyTracker::new(true, true, 0);
        let mut sent = Vec::new();
        let mut sink = |payload: &[u8]| {
            sent.push(payload.to_vec());
            Ok(())
        };
        tracker
            .feed(b"\xfb/tmp/data.csv", &mut sink)
            .expect("request");
        assert!(tracker.wants_local_file() && !tracker.is_done());
        tracker.local_file_sent();
        tracker.feed(&ok(3, 0, 0), &mut sink).expect("ok");
        assert!(tracker.is_done());
        assert_eq!(tracker.summary().affected_rows, 3);
        assert_eq!(sent.len(), 2);
    }

    #[test]
    fn a_long_row_starting_with_0xfe_is_a_row() {
        let mut tracker = ReplyTracker::new(false, false, 0);
        let mut sink = |_: &[u8]| Ok(());
        tracker.feed(&[1], &mut sink).expect("count");
        tracker
            .feed(&result_set(0, true, 0)[1], &mut sink)
            .expect("column");
        tracker.feed(&eof(0, 0), &mut sink).expect("eof");
        let mut row = vec![0xfe];
        row.extend_from_slice(&[0; 9]);
        tracker.feed(&row, &mut sink).expect("row");
        assert!(!tracker.is_done());
        assert_eq!(tracker.summary().rows, 1);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut noise = crate::noise::Noise::new(7);
        for _ in 0..5_000 {
            let mut tracker = ReplyTracker::new(true, false, 0);
            for _ in 0..4 {
                let payload = noise.bytes(12, &[]);
                if tracker.feed(&payload, &mut |_| Ok(())).is_err() || tracker.is_done() {
                    break;
                }
            }
        }
    }

    #[test]
    fn a_failing_sink_still_moves_the_state() {
        let packets = result_set(1, true, 0);
        let mut tracker = ReplyTracker::new(true, true, 0);
        for packet in &packets {
            let fed = tracker.feed(packet, &mut |_| Err(io::ErrorKind::BrokenPipe.into()));
            assert!(matches!(fed, Err(ReplyError::Sink(_))));
        }
        assert!(tracker.is_done());
    }
}
