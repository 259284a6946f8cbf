//! Mapping URLs onto the document root: PHP scripts, static files with their HTTP caching and
//! range semantics, directories, the front controller, and the hardening rules.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{Server, ServerOptions, SECRET_MARKER};

#[test]
fn php_script_runs() {
    let server = Server::start_default();
    let response = server.get("/hello.php");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "Hello from PHP");
}

#[test]
fn path_info_after_the_script() {
    let server = Server::start_default();
    let response = server.get("/index.php/extra/part?q=1");
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.value("script").as_deref(), Some("index.php"));
    assert_eq!(response.value("SCRIPT_NAME").as_deref(), Some("/index.php"));
    assert_eq!(response.value("PATH_INFO").as_deref(), Some("/extra/part"));
    assert_eq!(
        response.value("REQUEST_URI").as_deref(),
        Some("/index.php/extra/part?q=1")
    );
}

#[test]
fn static_files_have_the_right_content_type() {
    let server = Server::start_default();
    let cases = [
        ("/assets/style.css", "text/css"),
        ("/assets/data.json", "application/json"),
        ("/assets/logo.svg", "image/svg+xml"),
        ("/assets/lorem.txt", "text/plain"),
        ("/docs/index.html", "text/html"),
    ];
    for (path, expected) in cases {
        let response = server.get(path);
        assert_eq!(response.status, 200, "{path}");
        let content_type = response.header("content-type").unwrap_or_default();
        assert!(
            content_type.starts_with(expected),
            "{path}: Content-Type {content_type:?}, expected {expected}"
        );
        let on_disk = std::fs::read(server.docroot().join(&path[1..])).unwrap();
        assert_eq!(response.body, on_disk, "{path}: body differs from the file");
    }
}

#[test]
fn validators_and_304() {
    let server = Server::start_default();
    let response = server.get("/assets/style.css");
    assert_eq!(response.status, 200);
    let etag = response.header("etag").expect("no ETag").to_string();
    let last_modified = response
        .header("last-modified")
        .expect("no Last-Modified")
        .to_string();

    let etag_header = format!("If-None-Match: {etag}");
    let revalidated = server.curl("/assets/style.css", &["-H", &etag_header]);
    assert_eq!(revalidated.status, 304);
    assert!(revalidated.body.is_empty(), "304 with a body");
    assert_eq!(revalidated.header("etag"), Some(etag.as_str()));

    let date_header = format!("If-Modified-Since: {last_modified}");
    let revalidated = server.curl("/assets/style.css", &["-H", &date_header]);
    assert_eq!(revalidated.status, 304);

    let stale = server.curl(
        "/assets/style.css",
        &["-H", "If-None-Match: \"not-the-etag\""],
    );
    assert_eq!(stale.status, 200);
    assert!(!stale.body.is_empty());
}

#[test]
fn byte_ranges_206_and_416() {
    let server = Server::start_default();
    let file = std::fs::read(server.docroot().join("assets/lorem.txt")).unwrap();
    let total = file.len();

    let partial = server.curl("/assets/lorem.txt", &["-H", "Range: bytes=10-29"]);
    assert_eq!(partial.status, 206);
    assert_eq!(partial.body, &file[10..30]);
    assert_eq!(
        partial.header("content-range"),
        Some(format!("bytes 10-29/{total}").as_str())
    );
    assert_eq!(partial.header("content-length"), Some("20"));

    let suffix = server.curl("/assets/lorem.txt", &["-H", "Range: bytes=-5"]);
    assert_eq!(suffix.status, 206);
    assert_eq!(suffix.body, &file[total - 5..]);

    let beyond = format!("Range: bytes={}-", total + 100);
    let unsatisfiable = server.curl("/assets/lorem.txt", &["-H", &beyond]);
    assert_eq!(unsatisfiable.status, 416);
    assert_eq!(
        unsatisfiable.header("content-range"),
        Some(format!("bytes */{total}").as_str())
    );
}

#[test]
fn gzip_for_text_when_accepted() {
    let server = Server::start_default();
    let file = std::fs::read(server.docroot().join("assets/lorem.txt")).unwrap();

    let compressed = server.curl("/assets/lorem.txt", &["-H", "Accept-Encoding: gzip"]);
    assert_eq!(compressed.status, 200);
    assert_eq!(compressed.header("content-encoding"), Some("gzip"));
    assert!(
        compressed.body.len() < file.len() / 2,
        "gzipped body is {} bytes for a {} byte text file",
        compressed.body.len(),
        file.len()
    );
    assert_eq!(gunzip(&compressed.body), file);

    let plain = server.get("/assets/lorem.txt");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.body, file);
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut child = Command::new("gzip")
        .arg("-dc")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running gzip");
    let mut stdin = child.stdin.take().unwrap();
    let input = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(output.status.success(), "the body is not valid gzip");
    output.stdout
}

#[test]
fn directory_without_slash_redirects() {
    let server = Server::start_default();
    let response = server.get("/docs?x=1");
    assert_eq!(response.status, 301);
    let location = response.header("location").expect("no Location");
    assert!(
        location == "/docs/?x=1" || location.ends_with(&format!("{}/docs/?x=1", server.addr())),
        "Location {location:?}"
    );
}

#[test]
fn directory_index_php_and_index_html() {
    let server = Server::start_default();
    let php = server.get("/admin/");
    assert_eq!(php.status, 200);
    assert_eq!(php.text(), "admin index.php, SCRIPT_NAME=/admin/index.php");

    let html = server.get("/docs/");
    assert_eq!(html.status, 200);
    assert!(html.text().contains("docs index.html"), "{}", html.text());
    assert!(html
        .header("content-type")
        .is_some_and(|v| v.starts_with("text/html")));
}

#[test]
fn pretty_url_goes_to_the_front_controller() {
    let server = Server::start_default();
    let response = server.get("/blog/2024/hello-world?page=2");
    assert_eq!(response.status, 200);
    assert_eq!(response.value("script").as_deref(), Some("index.php"));
    assert_eq!(
        response.value("REQUEST_URI").as_deref(),
        Some("/blog/2024/hello-world?page=2")
    );
    assert_eq!(response.value("SCRIPT_NAME").as_deref(), Some("/index.php"));
    assert_eq!(response.value("QUERY_STRING").as_deref(), Some("page=2"));

    let missing_asset = server.get("/assets/missing.css");
    assert_eq!(missing_asset.value("script").as_deref(), Some("index.php"));
}

#[test]
fn unknown_path_is_404_without_a_front_controller() {
    let server = Server::start(ServerOptions::default().without("index.php"));
    let response = server.get("/blog/post");
    assert_eq!(response.status, 404);
    assert_eq!(server.get("/hello.php").status, 200);
}

#[test]
fn traversal_out_of_the_docroot_is_refused() {
    let server = Server::start_default();
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/../../secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
    ] {
        let response = server.curl(path, &["--path-as-is"]);
        assert!(
            [400, 403, 404].contains(&response.status),
            "{path}: status {}",
            response.status
        );
        assert!(
            !response.text().contains(SECRET_MARKER),
            "{path} disclosed the file outside the docroot"
        );
    }
    // And with a raw request line, whatever curl might do.
    let raw = server.raw_exchange(
        b"GET /../secret.txt HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        !raw.text().contains(SECRET_MARKER),
        "raw /../ disclosed the file"
    );
    let status = raw.responses().first().map(|r| r.status);
    assert!(
        matches!(status, Some(400 | 403 | 404)),
        "raw /../: {}",
        raw.text()
    );
}

#[test]
fn dotfiles_are_forbidden() {
    let server = Server::start_default();
    for path in [
        "/.env",
        "/.git/config",
        "/.htaccess",
        "/.git/",
        "/assets/../.env",
    ] {
        let response = server.curl(path, &["--path-as-is"]);
        assert_eq!(response.status, 403, "{path}");
        assert!(!response.text().contains(SECRET_MARKER), "{path} disclosed");
    }
}

#[test]
fn php_source_is_never_disclosed() {
    let server = Server::start_default();
    for path in ["/index.php~", "/x.inc", "/source.phps"] {
        let response = server.get(path);
        let text = response.text();
        assert!(
            !text.contains(SECRET_MARKER) && !text.contains("<?php"),
            "{path} disclosed PHP source (status {}): {text}",
            response.status
        );
    }
    // Nor through the other spellings of a PHP script.
    for path in [
        "/hello.php.",
        "/hello.php%00.txt",
        "/x.inc/",
        "/source.phps?x=1",
    ] {
        let response = server.get(path);
        assert!(
            !response.text().contains("<?php"),
            "{path} disclosed PHP source"
        );
    }
}
