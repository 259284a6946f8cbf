//! Maps a request path onto the document root.
//!
//! The behaviour mirrors an nginx server block configured with
//!
//! ```text
//! location / { try_files $uri $uri/ /index.php?$args; }
//! location ~ [^/]\.php(/|$) { fastcgi_split_path_info ^(.+?\.php)(/.*)$; ... }
//! ```
//!
//! plus the usual hardening rules (no dotfiles, never disclose PHP source, no escaping the
//! document root through `..` or symlinks).
//!
//! # Normalisation
//!
//! The path is percent-decoded exactly once (so `%2e%2e` and `%2f` become `..` and `/`), then
//! normalised lexically like nginx does: empty segments (`//`) and `.` segments are dropped and `..`
//! removes the previous segment. A `..` with nothing left to remove would climb above the document
//! root and yields [`Route::Forbidden`]; `/a/../b` is simply served as `/b`.
//!
//! # Filesystem walk and cost
//!
//! Rules 3 to 5 of the routing order (PHP with `PATH_INFO`, regular file, directory) are decided
//! by a single walk that `lstat`s each prefix of the path from the root down, stopping at the first
//! regular file, the first missing component, or the end of the path. That costs one `lstat` per
//! path segment: `/hello.php` is one system call, `/css/app.css` two, an unknown `/blog/post` two
//! (the missing `blog` plus the front controller's `index.php`).
//!
//! Because every component is `lstat`ed, symlinks are noticed for free. Only when a component is a
//! symlink does the walk pay for `canonicalize` (one `readlink` and `lstat` per component) to check
//! that its target stays inside the root; a target outside yields [`Route::Forbidden`]. The check
//! is made at routing time, so a symlink swapped between routing and `open` is not caught (nginx
//! has the same window unless `disable_symlinks` is on).
//!
//! Any `lstat` failure (missing, `ENOTDIR`, `EACCES`, dangling symlink) counts as "not there" and
//! falls through to the front controller, as `try_files` does. Sockets, FIFOs and devices are
//! [`Route::Forbidden`]. Nothing is cached between calls.

use std::fs::{self, Metadata};
use std::io;
use std::path::{Path, PathBuf};

/// Name of the front controller and of the PHP directory index.
const INDEX_PHP: &str = "index.php";
/// Name of the static directory index, tried after [`INDEX_PHP`].
const INDEX_HTML: &str = "index.html";
/// The only dot-prefixed top-level segment that may be served (RFC 8615).
const WELL_KNOWN: &str = ".well-known";
/// Extensions whose files PHP may execute; they are never served as static content.
const SCRIPT_EXTENSIONS: &[&str] = &[
    "php", "php3", "php4", "php5", "php7", "php8", "pht", "phtml", "phar", "phps", "inc",
];

/// Errors raised while setting up the document root or decoding a request path.
#[derive(Debug, thiserror::Error)]
pub enum RouteError {
    /// The document root could not be resolved (missing, unreadable, dangling symlink).
    #[error("document root {path} is not accessible: {source}")]
    DocRootUnavailable {
        /// The path as configured.
        path: PathBuf,
        /// Why `canonicalize` failed.
        source: io::Error,
    },
    /// The document root exists but is not a directory.
    #[error("document root {0} is not a directory")]
    DocRootNotDirectory(PathBuf),
    /// A `%` not followed by two hexadecimal digits.
    #[error("malformed percent-encoding in request path")]
    MalformedEscape,
    /// The path contains a NUL byte, literal or encoded as `%00`.
    #[error("NUL byte in request path")]
    NulByte,
    /// The decoded path is not valid UTF-8.
    #[error("request path is not valid UTF-8 once decoded")]
    NotUtf8,
}

/// The canonical, absolute directory that requests are served from.
#[derive(Debug, Clone)]
pub struct DocRoot {
    path: PathBuf,
}

impl DocRoot {
    /// Canonicalises `root` (resolving symlinks) and checks that it is a directory.
    pub fn new(root: &Path) -> Result<DocRoot, RouteError> {
        let path = fs::canonicalize(root).map_err(|source| RouteError::DocRootUnavailable {
            path: root.to_path_buf(),
            source,
        })?;
        let is_dir = fs::metadata(&path)
            .map(|meta| meta.is_dir())
            .unwrap_or(false);
        if !is_dir {
            return Err(RouteError::DocRootNotDirectory(root.to_path_buf()));
        }
        Ok(DocRoot { path })
    }

    /// The canonical absolute path of the document root.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Where a request goes.
#[derive(Debug)]
pub enum Route {
    /// Execute a PHP script.
    Php {
        /// Absolute filesystem path of the script (document root + `script_name`).
        script_filename: PathBuf,
        /// URL path of the script, e.g. `/index.php` or `/admin/index.php`.
        script_name: String,
        /// Decoded, normalised remainder after the script, e.g. `/extra/x` for
        /// `/index.php/extra/x`; `None` when nothing follows the script.
        path_info: Option<String>,
    },
    /// Serve a regular file.
    Static {
        /// Absolute filesystem path of the file.
        path: PathBuf,
        /// Metadata of the file (of the target if the path is a symlink).
        meta: Metadata,
    },
    /// Answer `301 Moved Permanently` towards the directory URL.
    RedirectToDir {
        /// The normalised, percent-encoded path plus a trailing `/`, without query string.
        location: String,
    },
    /// Answer `403 Forbidden`.
    Forbidden,
    /// Answer `404 Not Found`.
    NotFound,
    /// Answer `400 Bad Request`.
    BadRequest,
}

/// Decodes `%XX` escapes in a request path.
///
/// `+` is left alone (it only means space in query strings). Malformed escapes, NUL bytes and
/// byte sequences that are not UTF-8 once decoded are errors, all of which deserve a 400.
pub fn percent_decode_path(raw: &str) -> Result<String, RouteError> {
    let bytes = raw.as_bytes();
    if !bytes.contains(&b'%') {
        if bytes.contains(&0) {
            return Err(RouteError::NulByte);
        }
        return Ok(raw.to_owned());
    }
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&byte, tail)) = rest.split_first() {
        let (value, tail) = match byte {
            b'%' => decode_escape(tail)?,
            _ => (byte, tail),
        };
        if value == 0 {
            return Err(RouteError::NulByte);
        }
        decoded.push(value);
        rest = tail;
    }
    String::from_utf8(decoded).map_err(|_| RouteError::NotUtf8)
}

/// Decodes the two hex digits following a `%`, returning the byte and the remaining input.
fn decode_escape(input: &[u8]) -> Result<(u8, &[u8]), RouteError> {
    match input {
        [high, low, tail @ ..] => {
            let value = hex_value(*high)? << 4 | hex_value(*low)?;
            Ok((value, tail))
        }
        _ => Err(RouteError::MalformedEscape),
    }
}

fn hex_value(digit: u8) -> Result<u8, RouteError> {
    match digit {
        b'0'..=b'9' => Ok(digit - b'0'),
        b'a'..=b'f' => Ok(digit - b'a' + 10),
        b'A'..=b'F' => Ok(digit - b'A' + 10),
        _ => Err(RouteError::MalformedEscape),
    }
}

/// Routes `raw_path` (the request target before `?`, still percent-encoded).
///
/// See the module documentation for the rules and their cost.
pub fn resolve(root: &DocRoot, raw_path: &str) -> Route {
    let Ok(decoded) = percent_decode_path(raw_path) else {
        return Route::BadRequest;
    };
    let request = match RequestPath::normalise(&decoded) {
        Ok(request) => request,
        Err(PathRejection::NotAbsolute) => return Route::BadRequest,
        Err(PathRejection::AboveRoot) => return Route::Forbidden,
    };
    if request.has_hidden_segment() {
        return Route::Forbidden;
    }
    walk(root, &request)
}

/// Why a decoded path cannot be normalised.
#[derive(Debug, PartialEq, Eq)]
enum PathRejection {
    /// The path does not start with `/` (`*`, or an absolute URI the caller did not reduce).
    NotAbsolute,
    /// A `..` would climb above the document root.
    AboveRoot,
}

/// A decoded request path split into normalised segments.
#[derive(Debug)]
struct RequestPath<'a> {
    /// Non-empty segments, none of them `.` or `..`.
    segments: Vec<&'a str>,
    /// Whether the path designates a directory (`/dir/`, `/dir/.`, `/dir/sub/..`).
    trailing_slash: bool,
}

impl<'a> RequestPath<'a> {
    /// Splits and normalises a decoded path.
    fn normalise(decoded: &'a str) -> Result<RequestPath<'a>, PathRejection> {
        let Some(relative) = decoded.strip_prefix('/') else {
            return Err(PathRejection::NotAbsolute);
        };
        let mut segments = Vec::new();
        let mut trailing_slash = true;
        for segment in relative.split('/') {
            trailing_slash = matches!(segment, "" | "." | "..");
            match segment {
                "" | "." => {}
                ".." => {
                    if segments.pop().is_none() {
                        return Err(PathRejection::AboveRoot);
                    }
                }
                _ => segments.push(segment),
            }
        }
        Ok(RequestPath {
            segments,
            trailing_slash,
        })
    }

    /// True if any segment is a dotfile, other than a leading `/.well-known`.
    fn has_hidden_segment(&self) -> bool {
        self.segments.iter().enumerate().any(|(index, segment)| {
            segment.starts_with('.') && !(index == 0 && *segment == WELL_KNOWN)
        })
    }

    /// URL path made of the first `count` segments, e.g. `/a/b` (`/` when `count` is 0).
    fn url_prefix(&self, count: usize) -> String {
        let mut url = String::new();
        for segment in &self.segments[..count] {
            url.push('/');
            url.push_str(segment);
        }
        if url.is_empty() {
            url.push('/');
        }
        url
    }

    /// Decoded URL of `index` inside the directory this path names, e.g. `/admin/index.php`.
    fn directory_index_name(&self, index: &str) -> String {
        let mut url = String::new();
        for segment in &self.segments {
            url.push('/');
            url.push_str(segment);
        }
        url.push('/');
        url.push_str(index);
        url
    }

    /// The decoded path after the first `count` segments, if anything follows them.
    fn remainder(&self, count: usize) -> Option<String> {
        let rest = &self.segments[count..];
        if rest.is_empty() && !self.trailing_slash {
            return None;
        }
        let mut remainder = String::new();
        for segment in rest {
            remainder.push('/');
            remainder.push_str(segment);
        }
        if self.trailing_slash {
            remainder.push('/');
        }
        Some(remainder)
    }

    /// The URL of the directory this path names: normalised, percent-encoded, with a final `/`.
    fn directory_location(&self) -> String {
        let mut location = String::new();
        for segment in &self.segments {
            location.push('/');
            push_percent_encoded(&mut location, segment);
        }
        location.push('/');
        location
    }
}

/// Appends `segment` to `out`, escaping every byte that is not a valid RFC 3986 `pchar`.
///
/// This keeps decoded control characters (`%0d%0a`) out of the `Location` header.
fn push_percent_encoded(out: &mut String, segment: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &byte in segment.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(byte >> 4)]));
            out.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
    }
}

/// What a single checked filesystem lookup found.
enum Lookup {
    /// The entry exists inside the root; metadata of the symlink target if it is one.
    Found(Metadata),
    /// Nothing usable there (missing, not a directory, unreadable, dangling symlink).
    Missing,
    /// A symlink whose target lies outside the document root.
    Escapes,
}

/// `lstat`s `path`, following it only after checking that a symlink stays inside `root`.
fn lookup(root: &DocRoot, path: &Path) -> Lookup {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Lookup::Missing;
    };
    if !meta.file_type().is_symlink() {
        return Lookup::Found(meta);
    }
    let Ok(target) = fs::canonicalize(path) else {
        return Lookup::Missing;
    };
    if !target.starts_with(root.path()) {
        return Lookup::Escapes;
    }
    match fs::metadata(&target) {
        Ok(meta) => Lookup::Found(meta),
        Err(_) => Lookup::Missing,
    }
}

/// Walks the segments from the root down and routes on the first non-directory met.
fn walk(root: &DocRoot, request: &RequestPath) -> Route {
    let mut fs_path = root.path().to_path_buf();
    for (index, segment) in request.segments.iter().enumerate() {
        fs_path.push(segment);
        let meta = match lookup(root, &fs_path) {
            Lookup::Found(meta) => meta,
            Lookup::Missing => return front_controller(root),
            Lookup::Escapes => return Route::Forbidden,
        };
        if meta.is_dir() {
            continue;
        }
        if !meta.is_file() {
            return Route::Forbidden;
        }
        let consumed = index + 1;
        if segment.ends_with(".php") {
            return Route::Php {
                script_filename: fs_path,
                script_name: request.url_prefix(consumed),
                path_info: request.remainder(consumed),
            };
        }
        if consumed < request.segments.len() {
            // A regular file used as a directory (`/style.css/x`): nothing exists there.
            return front_controller(root);
        }
        return static_file(segment, fs_path, meta);
    }
    directory(root, request, fs_path)
}

/// Serves a regular file unless its name says it is (a copy of) a PHP script.
fn static_file(name: &str, path: PathBuf, meta: Metadata) -> Route {
    if is_script_source(name) {
        Route::Forbidden
    } else {
        Route::Static { path, meta }
    }
}

/// True for PHP sources and their backups: any extension of the name (ignoring a trailing `~`)
/// is a script extension, case-insensitively (`a.PHP`, `index.php~`, `db.inc.php.bak`).
fn is_script_source(name: &str) -> bool {
    let name = name.trim_end_matches('~');
    name.split('.').skip(1).any(|extension| {
        SCRIPT_EXTENSIONS
            .iter()
            .any(|script| extension.eq_ignore_ascii_case(script))
    })
}

/// Routes a path naming an existing directory: redirect, directory index or front controller.
fn directory(root: &DocRoot, request: &RequestPath, dir: PathBuf) -> Route {
    if !request.trailing_slash {
        return Route::RedirectToDir {
            location: request.directory_location(),
        };
    }
    let index_php = dir.join(INDEX_PHP);
    match lookup(root, &index_php) {
        Lookup::Found(meta) if meta.is_file() => {
            return Route::Php {
                script_filename: index_php,
                script_name: request.directory_index_name(INDEX_PHP),
                path_info: None,
            }
        }
        Lookup::Escapes => return Route::Forbidden,
        _ => {}
    }
    let index_html = dir.join(INDEX_HTML);
    match lookup(root, &index_html) {
        Lookup::Found(meta) if meta.is_file() => Route::Static {
            path: index_html,
            meta,
        },
        Lookup::Escapes => Route::Forbidden,
        _ => front_controller(root),
    }
}

/// The `/index.php` fallback of `try_files`, or 404 when the application has none.
fn front_controller(root: &DocRoot) -> Route {
    let script_filename = root.path().join(INDEX_PHP);
    match lookup(root, &script_filename) {
        Lookup::Found(meta) if meta.is_file() => Route::Php {
            script_filename,
            script_name: format!("/{INDEX_PHP}"),
            path_info: None,
        },
        Lookup::Escapes => Route::Forbidden,
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;
    use tempfile::TempDir;

    /// A document root with a typical PHP application layout.
    fn site() -> (TempDir, DocRoot) {
        let dir = TempDir::new().unwrap();
        let root = dir.path();
        for file in [
            "index.php",
            "hello.php",
            "style.css",
            "a b.txt",
            ".env",
            ".htaccess",
            "index.php~",
            "secret.php.bak",
            "db.php.swp",
            "db.php.orig",
            "view.phtml",
            "config.inc",
            "upper.PHP",
            "tool.phar",
            "phpunit.xml",
            "admin/index.php",
            "admin/index.html",
            "docs/index.html",
            ".git/config",
            ".well-known/acme.txt",
            ".well-known/.hidden",
            "lib.php/x.php",
            "sp ace/index.html",
        ] {
            let path = root.join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, file).unwrap();
        }
        fs::create_dir(root.join("empty")).unwrap();
        let doc_root = DocRoot::new(root).unwrap();
        (dir, doc_root)
    }

    /// Unpacks a `Route::Php` as (script_filename relative to the root, script_name, path_info).
    fn php(root: &DocRoot, route: Route) -> (PathBuf, String, Option<String>) {
        match route {
            Route::Php {
                script_filename,
                script_name,
                path_info,
            } => {
                let relative = script_filename.strip_prefix(root.path()).unwrap();
                (relative.to_path_buf(), script_name, path_info)
            }
            other => panic!("expected Php, got {other:?}"),
        }
    }

    /// Unpacks a `Route::Static` as the served path relative to the root.
    fn static_path(root: &DocRoot, route: Route) -> PathBuf {
        match route {
            Route::Static { path, meta } => {
                assert!(meta.is_file());
                path.strip_prefix(root.path()).unwrap().to_path_buf()
            }
            other => panic!("expected Static, got {other:?}"),
        }
    }

    fn is_front_controller(root: &DocRoot, route: Route) -> bool {
        php(root, route) == ("index.php".into(), "/index.php".into(), None)
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode_path("/a%20b").unwrap(), "/a b");
        assert_eq!(percent_decode_path("/a+b").unwrap(), "/a+b");
        assert_eq!(percent_decode_path("/%C3%a9").unwrap(), "/é");
        assert_eq!(percent_decode_path("/%2e%2E%2f").unwrap(), "/../");
        assert_eq!(percent_decode_path("/plain").unwrap(), "/plain");
    }

    #[test]
    fn percent_decoding_rejects_bad_input() {
        for raw in ["/%", "/%4", "/%zz", "/%g0", "/a%2"] {
            assert!(
                matches!(percent_decode_path(raw), Err(RouteError::MalformedEscape)),
                "{raw}"
            );
        }
        assert!(matches!(
            percent_decode_path("/%00"),
            Err(RouteError::NulByte)
        ));
        assert!(matches!(
            percent_decode_path("/a\0"),
            Err(RouteError::NulByte)
        ));
        assert!(matches!(
            percent_decode_path("/%ff"),
            Err(RouteError::NotUtf8)
        ));
    }

    #[test]
    fn doc_root_must_be_an_existing_directory() {
        let dir = TempDir::new().unwrap();
        let missing = dir.path().join("missing");
        assert!(matches!(
            DocRoot::new(&missing),
            Err(RouteError::DocRootUnavailable { .. })
        ));
        let file = dir.path().join("file");
        fs::write(&file, "x").unwrap();
        assert!(matches!(
            DocRoot::new(&file),
            Err(RouteError::DocRootNotDirectory(_))
        ));
        let root = DocRoot::new(dir.path()).unwrap();
        assert_eq!(root.path(), fs::canonicalize(dir.path()).unwrap());
    }

    #[test]
    fn bad_requests() {
        let (_dir, root) = site();
        for raw in ["", "index.php", "*", "/%zz", "/%00", "/%ff"] {
            assert!(matches!(resolve(&root, raw), Route::BadRequest), "{raw}");
        }
    }

    #[test]
    fn php_script() {
        let (_dir, root) = site();
        let (file, name, info) = php(&root, resolve(&root, "/hello.php"));
        assert_eq!(file, Path::new("hello.php"));
        assert_eq!(name, "/hello.php");
        assert_eq!(info, None);
    }

    #[test]
    fn php_script_filename_is_absolute() {
        let (_dir, root) = site();
        match resolve(&root, "/hello.php") {
            Route::Php {
                script_filename, ..
            } => assert_eq!(script_filename, root.path().join("hello.php")),
            other => panic!("expected Php, got {other:?}"),
        }
    }

    #[test]
    fn php_path_info() {
        let (_dir, root) = site();
        let cases = [
            ("/index.php/extra/x", "/index.php", Some("/extra/x")),
            ("/index.php/extra/x/", "/index.php", Some("/extra/x/")),
            ("/hello.php/", "/hello.php", Some("/")),
            ("/hello.php//a/./b", "/hello.php", Some("/a/b")),
            ("/hello.php/a%20b", "/hello.php", Some("/a b")),
            ("/admin/index.php/users", "/admin/index.php", Some("/users")),
        ];
        for (raw, script_name, path_info) in cases {
            let (_, name, info) = php(&root, resolve(&root, raw));
            assert_eq!(name, script_name, "{raw}");
            assert_eq!(info.as_deref(), path_info, "{raw}");
        }
    }

    #[test]
    fn directory_named_like_a_script_is_traversed() {
        let (_dir, root) = site();
        let (file, name, info) = php(&root, resolve(&root, "/lib.php/x.php/more"));
        assert_eq!(file, Path::new("lib.php/x.php"));
        assert_eq!(name, "/lib.php/x.php");
        assert_eq!(info.as_deref(), Some("/more"));
    }

    #[test]
    fn missing_script_falls_back_to_front_controller() {
        let (_dir, root) = site();
        assert!(is_front_controller(&root, resolve(&root, "/missing.php")));
        assert!(is_front_controller(&root, resolve(&root, "/missing.php/x")));
    }

    #[test]
    fn static_files() {
        let (_dir, root) = site();
        assert_eq!(
            static_path(&root, resolve(&root, "/style.css")),
            Path::new("style.css")
        );
        assert_eq!(
            static_path(&root, resolve(&root, "/a%20b.txt")),
            Path::new("a b.txt")
        );
        assert_eq!(
            static_path(&root, resolve(&root, "//docs//index.html")),
            Path::new("docs/index.html")
        );
        assert_eq!(
            static_path(&root, resolve(&root, "/phpunit.xml")),
            Path::new("phpunit.xml")
        );
    }

    #[test]
    fn dot_dot_inside_the_root_is_normalised() {
        let (_dir, root) = site();
        assert_eq!(
            static_path(&root, resolve(&root, "/admin/../style.css")),
            Path::new("style.css")
        );
        assert_eq!(
            static_path(&root, resolve(&root, "/nope/./../style.css")),
            Path::new("style.css")
        );
    }

    #[test]
    fn traversal_above_the_root_is_forbidden() {
        let (_dir, root) = site();
        for raw in [
            "/..",
            "/../etc/passwd",
            "/admin/../../etc/passwd",
            "/%2e%2e/etc/passwd",
            "/%2E%2E%2Fetc%2Fpasswd",
            "/..%2f..%2fetc/passwd",
            "/admin/%2e%2e/%2e%2e/x",
            "/index.php/../../x",
        ] {
            assert!(matches!(resolve(&root, raw), Route::Forbidden), "{raw}");
        }
    }

    #[test]
    fn encoded_slash_is_a_separator() {
        let (_dir, root) = site();
        assert_eq!(
            static_path(&root, resolve(&root, "/docs%2findex.html")),
            Path::new("docs/index.html")
        );
        let (_, name, info) = php(&root, resolve(&root, "/index.php%2Fa"));
        assert_eq!((name.as_str(), info.as_deref()), ("/index.php", Some("/a")));
    }

    #[test]
    fn dotfiles_are_forbidden() {
        let (_dir, root) = site();
        for raw in [
            "/.env",
            "/%2eenv",
            "/.htaccess",
            "/.git/config",
            "/.git/",
            "/.git",
            "/admin/.env",
            "/.well-known/.hidden",
            "/index.php/.env",
            "/.missing",
        ] {
            assert!(matches!(resolve(&root, raw), Route::Forbidden), "{raw}");
        }
    }

    #[test]
    fn well_known_is_served() {
        let (_dir, root) = site();
        assert_eq!(
            static_path(&root, resolve(&root, "/.well-known/acme.txt")),
            Path::new(".well-known/acme.txt")
        );
    }

    #[test]
    fn script_sources_are_never_served() {
        let (_dir, root) = site();
        for raw in [
            "/index.php~",
            "/secret.php.bak",
            "/db.php.swp",
            "/db.php.orig",
            "/view.phtml",
            "/config.inc",
            "/upper.PHP",
            "/tool.phar",
        ] {
            assert!(matches!(resolve(&root, raw), Route::Forbidden), "{raw}");
        }
    }

    #[test]
    fn script_source_names() {
        for name in [
            "a.php",
            "a.PHP",
            "a.php5",
            "a.php~",
            "a.inc.php.dist",
            "a.phps",
        ] {
            assert!(is_script_source(name), "{name}");
        }
        for name in ["php", "php.ini", "a.css", "phpunit.xml", "a.phpx", "README"] {
            assert!(!is_script_source(name), "{name}");
        }
    }

    #[test]
    fn directory_without_slash_redirects() {
        let (_dir, root) = site();
        let cases = [
            ("/admin", "/admin/"),
            ("/docs", "/docs/"),
            ("//docs", "/docs/"),
            ("/empty", "/empty/"),
            ("/sp%20ace", "/sp%20ace/"),
            ("/admin/../docs", "/docs/"),
        ];
        for (raw, expected) in cases {
            match resolve(&root, raw) {
                Route::RedirectToDir { location } => assert_eq!(location, expected, "{raw}"),
                other => panic!("{raw}: expected redirect, got {other:?}"),
            }
        }
    }

    #[test]
    fn redirect_location_is_escaped() {
        let request = RequestPath::normalise("/a\r\nb/é/x?y#z").unwrap();
        assert_eq!(request.directory_location(), "/a%0D%0Ab/%C3%A9/x%3Fy%23z/");
    }

    #[test]
    fn directory_index_precedence() {
        let (_dir, root) = site();
        let (file, name, info) = php(&root, resolve(&root, "/admin/"));
        assert_eq!(file, Path::new("admin/index.php"));
        assert_eq!(name, "/admin/index.php");
        assert_eq!(info, None);
        assert_eq!(
            static_path(&root, resolve(&root, "/docs/")),
            Path::new("docs/index.html")
        );
        assert_eq!(
            static_path(&root, resolve(&root, "/docs/.")),
            Path::new("docs/index.html")
        );
        assert_eq!(
            static_path(&root, resolve(&root, "/sp%20ace/")),
            Path::new("sp ace/index.html")
        );
    }

    #[test]
    fn root_and_index_less_directory_use_front_controller() {
        let (_dir, root) = site();
        assert!(is_front_controller(&root, resolve(&root, "/")));
        assert!(is_front_controller(&root, resolve(&root, "/admin/..")));
        assert!(is_front_controller(&root, resolve(&root, "/empty/")));
    }

    #[test]
    fn unknown_paths_use_front_controller() {
        let (_dir, root) = site();
        for raw in ["/blog/post", "/blog/post/", "/style.css/x", "/docs/missing"] {
            assert!(is_front_controller(&root, resolve(&root, raw)), "{raw}");
        }
    }

    #[test]
    fn not_found_without_front_controller() {
        let dir = TempDir::new().unwrap();
        fs::create_dir(dir.path().join("empty")).unwrap();
        let root = DocRoot::new(dir.path()).unwrap();
        for raw in ["/", "/missing", "/missing.php", "/empty/"] {
            assert!(matches!(resolve(&root, raw), Route::NotFound), "{raw}");
        }
    }

    #[test]
    fn special_files_are_forbidden() {
        let (_dir, root) = site();
        let _listener = std::os::unix::net::UnixListener::bind(root.path().join("sock")).unwrap();
        assert!(matches!(resolve(&root, "/sock"), Route::Forbidden));
    }

    /// A root plus a sibling directory outside it holding a secret.
    fn site_with_outside() -> (TempDir, DocRoot, PathBuf) {
        let dir = TempDir::new().unwrap();
        let outside = dir.path().join("outside");
        let www = dir.path().join("www");
        fs::create_dir_all(&outside).unwrap();
        fs::create_dir_all(www.join("admin")).unwrap();
        fs::write(outside.join("secret.txt"), "secret").unwrap();
        fs::write(www.join("index.php"), "<?php").unwrap();
        fs::write(www.join("style.css"), "body{}").unwrap();
        fs::write(www.join("admin/index.php"), "<?php").unwrap();
        let root = DocRoot::new(&www).unwrap();
        (dir, root, outside)
    }

    #[test]
    fn symlinks_leaving_the_root_are_forbidden() {
        let (_dir, root, outside) = site_with_outside();
        let www = root.path();
        symlink(outside.join("secret.txt"), www.join("leak.txt")).unwrap();
        symlink(&outside, www.join("linkdir")).unwrap();
        symlink("../outside/secret.txt", www.join("relative.txt")).unwrap();
        for raw in [
            "/leak.txt",
            "/relative.txt",
            "/linkdir",
            "/linkdir/",
            "/linkdir/secret.txt",
        ] {
            assert!(matches!(resolve(&root, raw), Route::Forbidden), "{raw}");
        }
    }

    #[test]
    fn symlinks_inside_the_root_are_followed() {
        let (_dir, root, _outside) = site_with_outside();
        let www = root.path();
        symlink("style.css", www.join("alias.css")).unwrap();
        symlink(www.join("admin"), www.join("backend")).unwrap();
        assert_eq!(
            static_path(&root, resolve(&root, "/alias.css")),
            Path::new("alias.css")
        );
        let (file, name, _) = php(&root, resolve(&root, "/backend/"));
        assert_eq!(file, Path::new("backend/index.php"));
        assert_eq!(name, "/backend/index.php");
        assert!(matches!(
            resolve(&root, "/backend"),
            Route::RedirectToDir { .. }
        ));
    }

    #[test]
    fn symlinked_index_leaving_the_root_is_forbidden() {
        let (_dir, root, outside) = site_with_outside();
        let www = root.path();
        fs::create_dir(www.join("docs")).unwrap();
        symlink(outside.join("secret.txt"), www.join("docs/index.html")).unwrap();
        assert!(matches!(resolve(&root, "/docs/"), Route::Forbidden));
    }

    #[test]
    fn dangling_symlink_falls_back_to_front_controller() {
        let (_dir, root, _outside) = site_with_outside();
        symlink("nowhere.css", root.path().join("dangling.css")).unwrap();
        assert!(is_front_controller(&root, resolve(&root, "/dangling.css")));
    }
}
