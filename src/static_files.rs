//! Builds responses for static files: validators, conditional requests, byte ranges and gzip.
//!
//! [`respond`] is pure logic over a path and its metadata; it only touches the filesystem to
//! gzip a compressible file. The connection loop writes the status line, the returned headers,
//! `Content-Length` (from [`StaticResponse::content_length`]) and streams the body.
//!
//! Choices where HTTP leaves room:
//!
//! * Uncompressed bodies are always [`StaticBody::File`], whatever their size, so `respond`
//!   never blocks on reading a file it does not compress and the loop has a single way to send
//!   files (it may read small ones in one go). Empty files get [`StaticBody::Empty`].
//! * A request carrying `Range` is never gzipped (ranges address the identity bytes), even when the
//!   range itself ends up ignored.
//! * `Vary: Accept-Encoding` is sent for every gzip-eligible file, gzipped or not, so shared
//!   caches never hand a gzipped body to a client that did not ask for one.
//! * `If-None-Match` is compared against the ETag of the representation that would be sent
//!   (`"…-gz"` for the gzip variant).
//! * Gzipped bodies are cached process-wide in a `Mutex<HashMap>` keyed by path and validated by
//!   (mtime, size), within a [`GZIP_CACHE_BUDGET`] byte budget and first-in first-out eviction.
//!   The lock is only held to look up or insert; compression happens outside it, so two cores
//!   missing at once may both compress (harmless). A hit costs one copy of the compressed bytes,
//!   because [`StaticBody::Bytes`] owns its buffer.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, Metadata};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use flate2::write::GzEncoder;
use flate2::Compression;

/// Smallest file worth compressing.
const GZIP_MIN_SIZE: u64 = 1024;
/// Largest file compressed in memory. Compression runs on the executor (once per file
/// version, then cached), so this bounds how long one request can hold the core: about 10 ms.
/// Bigger files are sent as they are.
const GZIP_MAX_SIZE: u64 = 1024 * 1024;
/// zlib level: close to the best ratio for text at a fraction of level 9's cost.
const GZIP_LEVEL: u32 = 5;
/// Upper bound on the total size of the cached gzipped bodies.
pub const GZIP_CACHE_BUDGET: usize = 32 * 1024 * 1024;

/// The parts of a GET or HEAD request that matter for a static file; header values are raw.
#[derive(Debug, Default, Clone, Copy)]
pub struct StaticRequest<'a> {
    /// True for HEAD: same status and headers as GET, no body.
    pub head_only: bool,
    /// The `If-None-Match` header.
    pub if_none_match: Option<&'a [u8]>,
    /// The `If-Modified-Since` header.
    pub if_modified_since: Option<&'a [u8]>,
    /// The `Range` header.
    pub range: Option<&'a [u8]>,
    /// The `If-Range` header.
    pub if_range: Option<&'a [u8]>,
    /// The `Accept-Encoding` header.
    pub accept_encoding: Option<&'a [u8]>,
}

/// A response to write back; see the module documentation for what the caller adds.
#[derive(Debug)]
pub struct StaticResponse {
    /// 200, 206, 304 or 416.
    pub status: u16,
    /// Response headers, excluding `Content-Length`, `Date`, `Server` and `Connection`.
    pub headers: Vec<(String, String)>,
    /// What to send after the headers; always [`StaticBody::Empty`] for HEAD, 304 and 416.
    pub body: StaticBody,
    /// Value for the `Content-Length` header: the body length that GET gets, also for HEAD.
    /// It is 0 for 304, where the caller should omit `Content-Length` altogether.
    pub content_length: u64,
}

/// The payload of a [`StaticResponse`].
#[derive(Debug, PartialEq, Eq)]
pub enum StaticBody {
    /// No payload.
    Empty,
    /// An in-memory payload (the gzipped file).
    Bytes(Vec<u8>),
    /// `len` bytes of the file at `path`, starting at `offset`.
    File {
        /// The file to stream.
        path: PathBuf,
        /// First byte to send.
        offset: u64,
        /// Number of bytes to send.
        len: u64,
    },
}

/// Builds the response for serving the regular file `path`, whose metadata is `meta`.
pub fn respond(path: &Path, meta: &Metadata, req: &StaticRequest) -> StaticResponse {
    let file = FileFacts::new(path, meta);
    let use_gzip = file.gzip_eligible() && req.range.is_none() && accepts_gzip(req.accept_encoding);
    let etag = if use_gzip {
        file.gzip_etag()
    } else {
        file.etag()
    };
    if is_not_modified(req, &etag, file.mtime_secs) {
        return not_modified(&file, etag);
    }
    if use_gzip {
        if let Some(gzipped) = gzipped_body(&file) {
            return gzip_response(&file, etag, gzipped, req.head_only);
        }
        // The file could not be read; serve it as is and let the connection loop report errors.
        return identity_response(&file, file.etag(), req);
    }
    identity_response(&file, etag, req)
}

/// What the response needs to know about the file, computed once.
struct FileFacts<'a> {
    path: &'a Path,
    size: u64,
    /// Full-precision modification time, the gzip cache validator.
    modified: Option<SystemTime>,
    /// Modification time in whole seconds since the epoch, as HTTP dates carry it.
    mtime_secs: Option<u64>,
    content_type: &'static str,
}

impl<'a> FileFacts<'a> {
    fn new(path: &'a Path, meta: &Metadata) -> Self {
        let modified = meta.modified().ok();
        let mtime_secs = modified
            .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
            .map(|since_epoch| since_epoch.as_secs());
        FileFacts {
            path,
            size: meta.len(),
            modified,
            mtime_secs,
            content_type: mime_guess::from_path(path)
                .first_raw()
                .unwrap_or("application/octet-stream"),
        }
    }

    /// nginx-style strong validator: `"<mtime hex>-<size hex>"`.
    fn etag(&self) -> String {
        format!("\"{:x}-{:x}\"", self.mtime_secs.unwrap_or(0), self.size)
    }

    /// Validator of the gzip variant: the identity ETag with `-gz` inside the quotes.
    fn gzip_etag(&self) -> String {
        format!("\"{:x}-{:x}-gz\"", self.mtime_secs.unwrap_or(0), self.size)
    }

    fn last_modified(&self) -> Option<String> {
        let secs = self.mtime_secs?;
        Some(httpdate::fmt_http_date(
            UNIX_EPOCH + Duration::from_secs(secs),
        ))
    }

    fn content_type_header(&self) -> String {
        if needs_charset(self.content_type) {
            format!("{}; charset=utf-8", self.content_type)
        } else {
            self.content_type.to_owned()
        }
    }

    fn gzip_eligible(&self) -> bool {
        (GZIP_MIN_SIZE..=GZIP_MAX_SIZE).contains(&self.size) && is_compressible(self.content_type)
    }

    /// ETag and Last-Modified, plus Vary when the representation depends on Accept-Encoding.
    fn validator_headers(&self, etag: String) -> Vec<(String, String)> {
        let mut headers = Vec::with_capacity(7);
        if let Some(date) = self.last_modified() {
            push_header(&mut headers, "Last-Modified", date);
        }
        push_header(&mut headers, "ETag", etag);
        if self.gzip_eligible() {
            push_header(&mut headers, "Vary", "Accept-Encoding".to_owned());
        }
        headers
    }

    /// Headers of a response carrying (part of) the file.
    fn content_headers(&self, etag: String) -> Vec<(String, String)> {
        let mut headers = vec![("Content-Type".to_owned(), self.content_type_header())];
        headers.extend(self.validator_headers(etag));
        push_header(&mut headers, "Accept-Ranges", "bytes".to_owned());
        headers
    }

    fn body(&self, offset: u64, len: u64) -> StaticBody {
        if len == 0 {
            StaticBody::Empty
        } else {
            StaticBody::File {
                path: self.path.to_path_buf(),
                offset,
                len,
            }
        }
    }
}

fn push_header(headers: &mut Vec<(String, String)>, name: &str, value: String) {
    headers.push((name.to_owned(), value));
}

/// Textual types whose charset nginx's `charset_types` would label.
fn needs_charset(mime: &str) -> bool {
    mime.starts_with("text/") || mime == "application/javascript"
}

/// Types that shrink under gzip; already-compressed formats (images, fonts, wasm, archives) don't.
fn is_compressible(mime: &str) -> bool {
    mime.starts_with("text/")
        || mime.ends_with("+xml")
        || mime.ends_with("+json")
        || matches!(
            mime,
            "application/javascript"
                | "application/x-javascript"
                | "application/json"
                | "application/xml"
        )
}

/// `Accept-Encoding` allows gzip: an explicit `gzip` (or `x-gzip`) entry with a non-zero q wins;
/// otherwise a `*` entry decides; otherwise no.
fn accepts_gzip(accept_encoding: Option<&[u8]>) -> bool {
    let Some(value) = accept_encoding.and_then(|raw| std::str::from_utf8(raw).ok()) else {
        return false;
    };
    let mut gzip = None;
    let mut wildcard = None;
    for entry in value.split(',') {
        let mut parts = entry.split(';');
        let coding = parts.next().unwrap_or("").trim();
        let acceptable = !parts.any(is_zero_quality);
        if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
            gzip = Some(acceptable);
        } else if coding == "*" {
            wildcard = Some(acceptable);
        }
    }
    gzip.or(wildcard).unwrap_or(false)
}

/// True for a `q=0`, `q=0.0`, … parameter.
fn is_zero_quality(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    if !name.trim().eq_ignore_ascii_case("q") {
        return false;
    }
    let value = value.trim();
    let (integer, fraction) = value.split_once('.').unwrap_or((value, ""));
    integer == "0" && fraction.bytes().all(|digit| digit == b'0')
}

/// RFC 9110 §13.2.2 steps 3 and 4: If-None-Match (weak comparison), else If-Modified-Since.
fn is_not_modified(req: &StaticRequest, etag: &str, mtime_secs: Option<u64>) -> bool {
    if let Some(if_none_match) = req.if_none_match {
        return etag_list_matches(if_none_match, etag);
    }
    match (
        req.if_modified_since.and_then(parse_http_date_secs),
        mtime_secs,
    ) {
        (Some(since), Some(mtime)) => mtime <= since,
        _ => false,
    }
}

/// Weak comparison of `etag` against an `If-None-Match` list (`*` matches anything).
fn etag_list_matches(list: &[u8], etag: &str) -> bool {
    let Ok(list) = std::str::from_utf8(list) else {
        return false;
    };
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

fn parse_http_date_secs(raw: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(raw).ok()?;
    let time = httpdate::parse_http_date(text.trim()).ok()?;
    time.duration_since(UNIX_EPOCH)
        .ok()
        .map(|since| since.as_secs())
}

fn not_modified(file: &FileFacts, etag: String) -> StaticResponse {
    StaticResponse {
        status: 304,
        headers: file.validator_headers(etag),
        body: StaticBody::Empty,
        content_length: 0,
    }
}

/// The full file (200), a slice of it (206) or 416, uncompressed.
fn identity_response(file: &FileFacts, etag: String, req: &StaticRequest) -> StaticResponse {
    match requested_range(req, file, &etag) {
        RangeOutcome::Full => {
            let headers = file.content_headers(etag);
            with_body(
                200,
                headers,
                file.body(0, file.size),
                file.size,
                req.head_only,
            )
        }
        RangeOutcome::Partial { start, len } => {
            let mut headers = file.content_headers(etag);
            let end = start + len - 1;
            let content_range = format!("bytes {start}-{end}/{}", file.size);
            push_header(&mut headers, "Content-Range", content_range);
            with_body(206, headers, file.body(start, len), len, req.head_only)
        }
        RangeOutcome::Unsatisfiable => StaticResponse {
            status: 416,
            headers: vec![("Content-Range".to_owned(), format!("bytes */{}", file.size))],
            body: StaticBody::Empty,
            content_length: 0,
        },
    }
}

fn gzip_response(
    file: &FileFacts,
    etag: String,
    gzipped: Vec<u8>,
    head_only: bool,
) -> StaticResponse {
    let mut headers = file.content_headers(etag);
    push_header(&mut headers, "Content-Encoding", "gzip".to_owned());
    let len = gzipped.len() as u64;
    with_body(200, headers, StaticBody::Bytes(gzipped), len, head_only)
}

fn with_body(
    status: u16,
    headers: Vec<(String, String)>,
    body: StaticBody,
    content_length: u64,
    head_only: bool,
) -> StaticResponse {
    StaticResponse {
        status,
        headers,
        body: if head_only { StaticBody::Empty } else { body },
        content_length,
    }
}

/// How a `Range` request is answered.
#[derive(Debug, PartialEq, Eq)]
enum RangeOutcome {
    /// No usable range: send the whole file.
    Full,
    /// Send `len` (> 0) bytes from `start`.
    Partial { start: u64, len: u64 },
    /// The range starts beyond the end of the file.
    Unsatisfiable,
}

/// One `bytes=` range as written by the client, before it meets the file size.
#[derive(Debug, PartialEq, Eq)]
enum ByteRange {
    /// `a-b`, both inclusive.
    Bounded { first: u64, last: u64 },
    /// `a-`: from `a` to the end.
    From { first: u64 },
    /// `-n`: the last `n` bytes.
    Suffix { len: u64 },
}

impl ByteRange {
    fn against(&self, size: u64) -> RangeOutcome {
        match *self {
            ByteRange::Bounded { first, .. } | ByteRange::From { first } if first >= size => {
                RangeOutcome::Unsatisfiable
            }
            ByteRange::Bounded { first, last } => RangeOutcome::Partial {
                start: first,
                len: last.min(size - 1) - first + 1,
            },
            ByteRange::From { first } => RangeOutcome::Partial {
                start: first,
                len: size - first,
            },
            ByteRange::Suffix { len } if len == 0 || size == 0 => RangeOutcome::Unsatisfiable,
            ByteRange::Suffix { len } => {
                let len = len.min(size);
                RangeOutcome::Partial {
                    start: size - len,
                    len,
                }
            }
        }
    }
}

/// Applies `Range` and `If-Range` (RFC 9110 §14.2, §13.1.5) to the file.
fn requested_range(req: &StaticRequest, file: &FileFacts, etag: &str) -> RangeOutcome {
    let Some(range) = req.range else {
        return RangeOutcome::Full;
    };
    if let Some(if_range) = req.if_range {
        if !if_range_matches(if_range, etag, file.mtime_secs) {
            return RangeOutcome::Full;
        }
    }
    match parse_byte_range(range) {
        Some(range) => range.against(file.size),
        None => RangeOutcome::Full,
    }
}

/// `If-Range` holds a strong ETag equal to ours, or exactly our Last-Modified date.
fn if_range_matches(if_range: &[u8], etag: &str, mtime_secs: Option<u64>) -> bool {
    let Ok(value) = std::str::from_utf8(if_range) else {
        return false;
    };
    let value = value.trim();
    if value.starts_with('"') {
        return value == etag;
    }
    if value.starts_with("W/") {
        return false;
    }
    mtime_secs.is_some() && parse_http_date_secs(value.as_bytes()) == mtime_secs
}

/// Parses a single `bytes=` range; multiple ranges and anything malformed give `None`.
fn parse_byte_range(raw: &[u8]) -> Option<ByteRange> {
    let value = std::str::from_utf8(raw).ok()?;
    let (unit, spec) = value.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return None;
    }
    let (first, last) = spec.trim().split_once('-')?;
    match (parse_position(first), parse_position(last)) {
        (Some(first), Some(last)) if first <= last => Some(ByteRange::Bounded { first, last }),
        (Some(first), None) if last.trim().is_empty() => Some(ByteRange::From { first }),
        (None, Some(len)) if first.trim().is_empty() => Some(ByteRange::Suffix { len }),
        _ => None,
    }
}

/// A byte position: ASCII digits only (`u64::from_str` would also take a `+`).
fn parse_position(text: &str) -> Option<u64> {
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The gzipped file, from the cache or freshly compressed; `None` if the file cannot be read.
fn gzipped_body(file: &FileFacts) -> Option<Vec<u8>> {
    let cache = gzip_cache();
    let cached = lock(cache).get(file.path, file.modified, file.size);
    if let Some(body) = cached {
        return Some(body.to_vec());
    }
    let contents = fs::read(file.path).ok()?;
    let gzipped = gzip(&contents).ok()?;
    // A length mismatch means the file changed since it was stat'ed: serve, but don't cache.
    if contents.len() as u64 == file.size {
        let shared: Arc<[u8]> = Arc::from(gzipped.as_slice());
        lock(cache).insert(file.path.to_path_buf(), file.modified, file.size, shared);
    }
    Some(gzipped)
}

fn gzip(contents: &[u8]) -> io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(contents.len() / 3),
        Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(contents)?;
    encoder.finish()
}

fn gzip_cache() -> &'static Mutex<GzipCache> {
    static CACHE: OnceLock<Mutex<GzipCache>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(GzipCache::new(GZIP_CACHE_BUDGET)))
}

/// Locks the cache; a panic while it was held cannot leave it inconsistent enough to matter.
fn lock(cache: &Mutex<GzipCache>) -> std::sync::MutexGuard<'_, GzipCache> {
    cache.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Gzipped bodies by path, valid while the file keeps its (mtime, size); FIFO within a budget.
#[derive(Debug)]
struct GzipCache {
    entries: HashMap<PathBuf, CachedGzip>,
    /// Insertion order; an item is stale when its generation no longer matches the entry.
    order: VecDeque<(PathBuf, u64)>,
    bytes: usize,
    budget: usize,
    next_generation: u64,
}

#[derive(Debug)]
struct CachedGzip {
    modified: Option<SystemTime>,
    size: u64,
    body: Arc<[u8]>,
    generation: u64,
}

impl GzipCache {
    fn new(budget: usize) -> Self {
        GzipCache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            budget,
            next_generation: 0,
        }
    }

    /// The cached body of `path`, if it was compressed from the same (mtime, size).
    fn get(&self, path: &Path, modified: Option<SystemTime>, size: u64) -> Option<Arc<[u8]>> {
        let entry = self.entries.get(path)?;
        (entry.modified == modified && entry.size == size).then(|| Arc::clone(&entry.body))
    }

    /// Stores `body` for `path`, replacing any older version and evicting the oldest entries.
    fn insert(&mut self, path: PathBuf, modified: Option<SystemTime>, size: u64, body: Arc<[u8]>) {
        if body.len() > self.budget {
            return;
        }
        self.remove(&path);
        while self.bytes + body.len() > self.budget {
            let Some((oldest, generation)) = self.order.pop_front() else {
                break;
            };
            if self.entries.get(&oldest).map(|entry| entry.generation) == Some(generation) {
                self.remove(&oldest);
            }
        }
        let generation = self.next_generation;
        self.next_generation += 1;
        self.bytes += body.len();
        self.order.push_back((path.clone(), generation));
        let entry = CachedGzip {
            modified,
            size,
            body,
            generation,
        };
        self.entries.insert(path, entry);
        self.drop_stale_order_items();
    }

    fn remove(&mut self, path: &Path) {
        if let Some(old) = self.entries.remove(path) {
            self.bytes -= old.body.len();
        }
    }

    /// Keeps `order` proportional to `entries` when the same files are replaced over and over.
    fn drop_stale_order_items(&mut self) {
        if self.order.len() <= 2 * self.entries.len() + 16 {
            return;
        }
        let entries = &self.entries;
        self.order.retain(|(path, generation)| {
            entries.get(path).map(|entry| entry.generation) == Some(*generation)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::fs::File;
    use std::io::Read;
    use tempfile::TempDir;

    /// 2023-11-14T22:13:20Z, 0x6553f100 seconds after the epoch.
    const MTIME: u64 = 1_700_000_000;
    const LAST_MODIFIED: &str = "Tue, 14 Nov 2023 22:13:20 GMT";

    /// Writes `contents` to `name` in a fresh directory with a fixed mtime.
    fn file_with(name: &str, contents: &[u8]) -> (TempDir, PathBuf, Metadata) {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join(name);
        fs::write(&path, contents).unwrap();
        set_mtime(&path, MTIME);
        let meta = fs::metadata(&path).unwrap();
        (dir, path, meta)
    }

    fn set_mtime(path: &Path, secs: u64) {
        let file = File::options().write(true).open(path).unwrap();
        file.set_modified(UNIX_EPOCH + Duration::from_secs(secs))
            .unwrap();
    }

    /// Repetitive text that gzip shrinks a lot.
    fn css(len: usize) -> Vec<u8> {
        b"body { color: red; }\n"
            .iter()
            .copied()
            .cycle()
            .take(len)
            .collect()
    }

    fn header<'r>(response: &'r StaticResponse, name: &str) -> Option<&'r str> {
        response
            .headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(bytes).read_to_end(&mut out).unwrap();
        out
    }

    fn get() -> StaticRequest<'static> {
        StaticRequest::default()
    }

    fn ranged(range: &'static str) -> StaticRequest<'static> {
        StaticRequest {
            range: Some(range.as_bytes()),
            ..get()
        }
    }

    #[test]
    fn full_response() {
        let (_dir, path, meta) = file_with("hello.txt", b"hello");
        let response = respond(&path, &meta, &get());
        assert_eq!(response.status, 200);
        assert_eq!(
            header(&response, "Content-Type"),
            Some("text/plain; charset=utf-8")
        );
        assert_eq!(header(&response, "ETag"), Some("\"6553f100-5\""));
        assert_eq!(header(&response, "Last-Modified"), Some(LAST_MODIFIED));
        assert_eq!(header(&response, "Accept-Ranges"), Some("bytes"));
        assert_eq!(header(&response, "Content-Length"), None);
        assert_eq!(header(&response, "Vary"), None);
        assert_eq!(response.content_length, 5);
        assert_eq!(
            response.body,
            StaticBody::File {
                path,
                offset: 0,
                len: 5
            }
        );
    }

    #[test]
    fn content_types() {
        let cases = [
            ("a.png", "image/png"),
            ("a.css", "text/css; charset=utf-8"),
            ("a.json", "application/json"),
            ("a.unknownext", "application/octet-stream"),
            ("noext", "application/octet-stream"),
        ];
        for (name, expected) in cases {
            let (_dir, path, meta) = file_with(name, b"x");
            let response = respond(&path, &meta, &get());
            assert_eq!(header(&response, "Content-Type"), Some(expected), "{name}");
        }
    }

    #[test]
    fn empty_file() {
        let (_dir, path, meta) = file_with("empty.txt", b"");
        let response = respond(&path, &meta, &get());
        assert_eq!(response.status, 200);
        assert_eq!(response.content_length, 0);
        assert_eq!(response.body, StaticBody::Empty);
    }

    #[test]
    fn head_has_length_but_no_body() {
        let (_dir, path, meta) = file_with("hello.txt", b"hello");
        let head = StaticRequest {
            head_only: true,
            ..get()
        };
        let response = respond(&path, &meta, &head);
        assert_eq!(response.status, 200);
        assert_eq!(response.content_length, 5);
        assert_eq!(response.body, StaticBody::Empty);
        assert_eq!(header(&response, "ETag"), Some("\"6553f100-5\""));

        let head_range = StaticRequest {
            range: Some(b"bytes=1-2"),
            ..head
        };
        let response = respond(&path, &meta, &head_range);
        assert_eq!(response.status, 206);
        assert_eq!(response.content_length, 2);
        assert_eq!(response.body, StaticBody::Empty);
    }

    #[test]
    fn if_none_match() {
        let (_dir, path, meta) = file_with("hello.txt", b"hello");
        for value in [
            "\"6553f100-5\"",
            "W/\"6553f100-5\"",
            "\"other\", \"6553f100-5\"",
            "*",
        ] {
            let req = StaticRequest {
                if_none_match: Some(value.as_bytes()),
                ..get()
            };
            let response = respond(&path, &meta, &req);
            assert_eq!(response.status, 304, "{value}");
            assert_eq!(response.body, StaticBody::Empty);
            assert_eq!(response.content_length, 0);
            assert_eq!(header(&response, "ETag"), Some("\"6553f100-5\""));
            assert_eq!(header(&response, "Last-Modified"), Some(LAST_MODIFIED));
            assert_eq!(header(&response, "Content-Type"), None);
        }
        let req = StaticRequest {
            if_none_match: Some(b"\"6553f100-6\""),
            ..get()
        };
        assert_eq!(respond(&path, &meta, &req).status, 200);
    }

    #[test]
    fn if_modified_since() {
        let (_dir, path, meta) = file_with("hello.txt", b"hello");
        let cases = [
            (LAST_MODIFIED, 304),
            ("Wed, 15 Nov 2023 00:00:00 GMT", 304),
            ("Tue, 14 Nov 2023 22:13:19 GMT", 200),
            ("not a date", 200),
        ];
        for (date, status) in cases {
            let req = StaticRequest {
                if_modified_since: Some(date.as_bytes()),
                ..get()
            };
            assert_eq!(respond(&path, &meta, &req).status, status, "{date}");
        }
    }

    #[test]
    fn if_none_match_takes_precedence_over_if_modified_since() {
        let (_dir, path, meta) = file_with("hello.txt", b"hello");
        let req = StaticRequest {
            if_none_match: Some(b"\"stale\""),
            if_modified_since: Some(LAST_MODIFIED.as_bytes()),
            ..get()
        };
        assert_eq!(respond(&path, &meta, &req).status, 200);
    }

    #[test]
    fn satisfiable_ranges() {
        let (_dir, path, meta) = file_with("digits.txt", b"0123456789");
        let cases = [
            ("bytes=0-4", 0, 5),
            ("bytes=5-", 5, 5),
            ("bytes=-3", 7, 3),
            ("bytes=-100", 0, 10),
            ("bytes=8-100", 8, 2),
            ("bytes=9-9", 9, 1),
            ("Bytes = 2 - 3", 2, 2),
        ];
        for (range, offset, len) in cases {
            let response = respond(&path, &meta, &ranged(range));
            assert_eq!(response.status, 206, "{range}");
            let end = offset + len - 1;
            let expected = format!("bytes {offset}-{end}/10");
            assert_eq!(header(&response, "Content-Range"), Some(expected.as_str()));
            assert_eq!(response.content_length, len);
            assert_eq!(
                response.body,
                StaticBody::File {
                    path: path.clone(),
                    offset,
                    len
                }
            );
        }
    }

    #[test]
    fn unsatisfiable_ranges() {
        let (_dir, path, meta) = file_with("digits.txt", b"0123456789");
        for range in ["bytes=10-", "bytes=10-20", "bytes=-0"] {
            let response = respond(&path, &meta, &ranged(range));
            assert_eq!(response.status, 416, "{range}");
            assert_eq!(header(&response, "Content-Range"), Some("bytes */10"));
            assert_eq!(response.body, StaticBody::Empty);
            assert_eq!(response.content_length, 0);
        }
        let (_dir, path, meta) = file_with("empty.txt", b"");
        assert_eq!(respond(&path, &meta, &ranged("bytes=0-")).status, 416);
    }

    #[test]
    fn multi_or_malformed_ranges_are_ignored() {
        let (_dir, path, meta) = file_with("digits.txt", b"0123456789");
        for range in [
            "bytes=0-1,3-4",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=+1-2",
            "bytes=-",
            "bytes=1",
            "items=0-1",
            "bytes=99999999999999999999999-",
        ] {
            let response = respond(&path, &meta, &ranged(range));
            assert_eq!(response.status, 200, "{range}");
            assert_eq!(response.content_length, 10);
            assert_eq!(header(&response, "Content-Range"), None);
        }
    }

    #[test]
    fn if_range() {
        let (_dir, path, meta) = file_with("digits.txt", b"0123456789");
        let cases = [
            ("\"6553f100-a\"", 206),
            (LAST_MODIFIED, 206),
            ("\"6553f100-b\"", 200),
            ("W/\"6553f100-a\"", 200),
            ("Wed, 15 Nov 2023 00:00:00 GMT", 200),
            ("garbage", 200),
        ];
        for (value, status) in cases {
            let req = StaticRequest {
                if_range: Some(value.as_bytes()),
                ..ranged("bytes=0-1")
            };
            assert_eq!(respond(&path, &meta, &req).status, status, "{value}");
        }
    }

    #[test]
    fn gzip_when_accepted() {
        let contents = css(4096);
        let (_dir, path, meta) = file_with("app.css", &contents);
        let req = StaticRequest {
            accept_encoding: Some(b"br, gzip;q=0.8, deflate"),
            ..get()
        };
        let response = respond(&path, &meta, &req);
        assert_eq!(response.status, 200);
        assert_eq!(header(&response, "Content-Encoding"), Some("gzip"));
        assert_eq!(header(&response, "Vary"), Some("Accept-Encoding"));
        assert_eq!(header(&response, "ETag"), Some("\"6553f100-1000-gz\""));
        assert_eq!(
            header(&response, "Content-Type"),
            Some("text/css; charset=utf-8")
        );
        let StaticBody::Bytes(body) = &response.body else {
            panic!("expected an in-memory body, got {:?}", response.body);
        };
        assert_eq!(response.content_length, body.len() as u64);
        assert!(body.len() < contents.len() / 4);
        assert_eq!(gunzip(body), contents);
    }

    #[test]
    fn gzip_head_reports_compressed_length() {
        let (_dir, path, meta) = file_with("app.js", &css(4096));
        let req = StaticRequest {
            head_only: true,
            accept_encoding: Some(b"gzip"),
            ..get()
        };
        let head = respond(&path, &meta, &req);
        let get = respond(
            &path,
            &meta,
            &StaticRequest {
                head_only: false,
                ..req
            },
        );
        assert_eq!(head.body, StaticBody::Empty);
        assert_eq!(head.headers, get.headers);
        assert_eq!(head.content_length, get.content_length);
        assert!(head.content_length < 4096);
    }

    #[test]
    fn no_gzip_when_not_wanted_or_not_worth_it() {
        let (_dir, css_path, css_meta) = file_with("app.css", &css(4096));
        for accept in [
            None,
            Some("gzip;q=0"),
            Some("identity"),
            Some("gzip;q=0, *"),
        ] {
            let req = StaticRequest {
                accept_encoding: accept.map(str::as_bytes),
                ..get()
            };
            let response = respond(&css_path, &css_meta, &req);
            assert_eq!(header(&response, "Content-Encoding"), None, "{accept:?}");
            assert_eq!(header(&response, "Vary"), Some("Accept-Encoding"));
            assert_eq!(header(&response, "ETag"), Some("\"6553f100-1000\""));
            assert_eq!(response.content_length, 4096);
        }
        let accept_gzip = StaticRequest {
            accept_encoding: Some(b"gzip"),
            ..get()
        };
        let (_d1, small, small_meta) = file_with("small.css", &css(1023));
        let (_d2, png, png_meta) = file_with("big.png", &css(4096));
        let (_d3, wasm, wasm_meta) = file_with("big.wasm", &css(4096));
        for (path, meta) in [(small, small_meta), (png, png_meta), (wasm, wasm_meta)] {
            let response = respond(&path, &meta, &accept_gzip);
            assert_eq!(header(&response, "Content-Encoding"), None, "{path:?}");
            assert_eq!(header(&response, "Vary"), None, "{path:?}");
        }
    }

    #[test]
    fn range_disables_gzip() {
        let (_dir, path, meta) = file_with("app.css", &css(4096));
        let req = StaticRequest {
            accept_encoding: Some(b"gzip"),
            ..ranged("bytes=0-99")
        };
        let response = respond(&path, &meta, &req);
        assert_eq!(response.status, 206);
        assert_eq!(header(&response, "Content-Encoding"), None);
        assert_eq!(header(&response, "ETag"), Some("\"6553f100-1000\""));
        assert_eq!(response.content_length, 100);
    }

    #[test]
    fn conditional_request_on_gzip_variant() {
        let (_dir, path, meta) = file_with("app.css", &css(4096));
        let gzip_tag = StaticRequest {
            if_none_match: Some(b"\"6553f100-1000-gz\""),
            accept_encoding: Some(b"gzip"),
            ..get()
        };
        let response = respond(&path, &meta, &gzip_tag);
        assert_eq!(response.status, 304);
        assert_eq!(header(&response, "ETag"), Some("\"6553f100-1000-gz\""));
        assert_eq!(header(&response, "Vary"), Some("Accept-Encoding"));
        let identity = StaticRequest {
            accept_encoding: None,
            ..gzip_tag
        };
        assert_eq!(respond(&path, &meta, &identity).status, 200);
    }

    #[test]
    fn gzip_cache_is_keyed_by_mtime_and_size() {
        let (_dir, path, meta) = file_with("cached.css", &css(2048));
        let req = StaticRequest {
            accept_encoding: Some(b"gzip"),
            ..get()
        };
        let body = |response: StaticResponse| match response.body {
            StaticBody::Bytes(bytes) => gunzip(&bytes),
            other => panic!("expected bytes, got {other:?}"),
        };
        assert_eq!(body(respond(&path, &meta, &req)), css(2048));

        // Same size and mtime: the cached compression is reused.
        let replaced = vec![b'z'; 2048];
        fs::write(&path, &replaced).unwrap();
        set_mtime(&path, MTIME);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(body(respond(&path, &meta, &req)), css(2048));

        // A new mtime invalidates it.
        set_mtime(&path, MTIME + 1);
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(body(respond(&path, &meta, &req)), replaced);
    }

    #[test]
    fn unreadable_gzip_candidate_is_served_as_is() {
        let (dir, path, meta) = file_with("gone.css", &css(4096));
        drop(dir);
        let req = StaticRequest {
            accept_encoding: Some(b"gzip"),
            ..get()
        };
        let response = respond(&path, &meta, &req);
        assert_eq!(response.status, 200);
        assert_eq!(header(&response, "Content-Encoding"), None);
        assert_eq!(header(&response, "ETag"), Some("\"6553f100-1000\""));
        assert!(matches!(response.body, StaticBody::File { len: 4096, .. }));
    }

    #[test]
    fn accept_encoding_parsing() {
        let cases = [
            ("gzip", true),
            ("GZIP", true),
            ("x-gzip", true),
            ("deflate, gzip", true),
            ("gzip;q=0.001", true),
            ("gzip; Q=0", false),
            ("gzip;q=0.000", false),
            ("*", true),
            ("*;q=0", false),
            ("gzip, *;q=0", true),
            ("gzip;q=0, *", false),
            ("br", false),
            ("", false),
        ];
        for (value, expected) in cases {
            assert_eq!(accepts_gzip(Some(value.as_bytes())), expected, "{value}");
        }
        assert!(!accepts_gzip(None));
    }

    #[test]
    fn byte_range_parsing() {
        assert_eq!(
            parse_byte_range(b"bytes=1-2"),
            Some(ByteRange::Bounded { first: 1, last: 2 })
        );
        assert_eq!(
            parse_byte_range(b"bytes=7-"),
            Some(ByteRange::From { first: 7 })
        );
        assert_eq!(
            parse_byte_range(b"bytes=-7"),
            Some(ByteRange::Suffix { len: 7 })
        );
        assert_eq!(parse_byte_range(b"bytes=1-2,4-5"), None);
        assert_eq!(parse_byte_range(b"bytes=2-1"), None);
        assert_eq!(parse_byte_range(b"bytes=\xff"), None);
    }

    fn body_of(len: usize) -> Arc<[u8]> {
        Arc::from(vec![0_u8; len])
    }

    #[test]
    fn cache_evicts_oldest_within_budget() {
        let mut cache = GzipCache::new(100);
        cache.insert("a".into(), None, 1, body_of(40));
        cache.insert("b".into(), None, 1, body_of(40));
        cache.insert("c".into(), None, 1, body_of(40));
        assert!(cache.get(Path::new("a"), None, 1).is_none());
        assert!(cache.get(Path::new("b"), None, 1).is_some());
        assert!(cache.get(Path::new("c"), None, 1).is_some());
        assert_eq!(cache.bytes, 80);
    }

    #[test]
    fn cache_replaces_changed_files() {
        let mut cache = GzipCache::new(100);
        let later = Some(UNIX_EPOCH + Duration::from_secs(1));
        cache.insert("a".into(), None, 1, body_of(40));
        cache.insert("b".into(), None, 1, body_of(40));
        cache.insert("a".into(), later, 1, body_of(30));
        assert_eq!(cache.bytes, 70);
        assert!(cache.get(Path::new("a"), None, 1).is_none());
        assert!(cache.get(Path::new("a"), later, 2).is_none());
        assert!(cache.get(Path::new("a"), later, 1).is_some());
        // The stale queue item for the first "a" must not evict the new one; "b" goes first.
        cache.insert("c".into(), None, 1, body_of(40));
        assert!(cache.get(Path::new("a"), later, 1).is_some());
        assert!(cache.get(Path::new("b"), None, 1).is_none());
        assert_eq!(cache.bytes, 70);
    }

    #[test]
    fn cache_skips_oversized_bodies_and_bounds_its_queue() {
        let mut cache = GzipCache::new(100);
        cache.insert("huge".into(), None, 1, body_of(101));
        assert!(cache.entries.is_empty());
        for size in 0..1000 {
            cache.insert("hot".into(), None, size, body_of(10));
        }
        assert_eq!(cache.entries.len(), 1);
        assert!(cache.order.len() <= 18);
        assert_eq!(cache.bytes, 10);
    }
}
