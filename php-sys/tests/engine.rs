//! Runs real scripts through the embedded engine (one engine per test process).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use php_sys::{Engine, EngineConfig, HeaderLines, Mode, Request, ResponseHandler};

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<&'static Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        Engine::start(EngineConfig {
            mode: Mode::Server,
            ini: vec![
                ("display_errors".into(), "0".into()),
                ("log_errors".into(), "1".into()),
                ("opcache.enable".into(), "1".into()),
            ],
            opcache: true,
        })
        .expect("engine starts")
    })
}

#[derive(Default)]
struct Collected {
    status: u16,
    headers: Vec<String>,
    body: Vec<u8>,
    request_body: Vec<u8>,
    body_pos: usize,
}

impl ResponseHandler for Collected {
    fn read_body(&mut self, buf: &mut [u8]) -> usize {
        let rest = &self.request_body[self.body_pos..];
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        self.body_pos += n;
        n
    }
    fn send_headers(&mut self, status: u16, headers: HeaderLines<'_>) {
        self.status = status;
        self.headers = headers
            .map(|h| String::from_utf8_lossy(h).into_owned())
            .collect();
    }
    fn write(&mut self, data: &[u8]) -> bool {
        self.body.extend_from_slice(data);
        true
    }
    fn flush(&mut self) {}
    fn finish_request(&mut self) {}
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scripts")
        .join(name)
}

fn run(name: &str, setup: impl FnOnce(&mut Request), body: &[u8]) -> Collected {
    let mut thread = engine().register_thread();
    let mut request = Request::new();
    request.set_method("GET").unwrap();
    request.set_request_uri(b"/x").unwrap();
    request.set_query_string(b"").unwrap();
    request.set_script_filename(&script(name)).unwrap();
    setup(&mut request);
    let mut out = Collected {
        request_body: body.to_vec(),
        ..Collected::default()
    };
    thread.execute(&request, &mut out);
    out
}

#[test]
fn runs_a_script_with_query_and_headers() {
    let out = run(
        "hello.php",
        |r| {
            r.set_query_string(b"name=ann").unwrap();
            r.add_server_var("REQUEST_METHOD", b"GET").unwrap();
        },
        b"",
    );
    assert_eq!(out.status, 200);
    assert!(
        out.headers.iter().any(|h| h == "X-Test: yes"),
        "{:?}",
        out.headers
    );
    assert_eq!(String::from_utf8_lossy(&out.body), "Hello GET ann");
}

#[test]
fn opcache_is_enabled_and_sapi_is_ours() {
    // Run twice: the second run comes from the opcode cache.
    for _ in 0..2 {
        let out = run(
            "info.php",
            |r| {
                r.set_method("POST").unwrap();
                r.add_server_var("CUSTOM_VAR", b"v").unwrap();
                r.set_cookie(b"c=cookie-value").unwrap();
                r.set_content_type(b"application/x-www-form-urlencoded")
                    .unwrap();
                r.set_content_length(9);
                r.add_header("X-Custom", b"h").unwrap();
            },
            b"field=abc",
        );
        let body = String::from_utf8_lossy(&out.body);
        assert!(body.contains(r#""sapi":"ephpm""#), "{body}");
        assert!(body.contains(r#""opcache":true"#), "{body}");
        assert!(body.contains(r#""server_var":"v""#), "{body}");
        assert!(body.contains(r#""cookie":"cookie-value""#), "{body}");
        assert!(body.contains(r#""post":"abc""#), "{body}");
        assert!(body.contains(r#""X-Custom":"h""#), "{body}");
    }
}

#[test]
fn fatal_error_gives_500_and_thread_survives() {
    let out = run("fatal.php", |_| {}, b"");
    assert_eq!(out.status, 500);
    let again = run("hello.php", |_| {}, b"");
    assert_eq!(again.status, 200);
}

#[test]
fn timeout_ends_only_the_request() {
    let started = std::time::Instant::now();
    let out = run("loop.php", |_| {}, b"");
    assert_eq!(out.status, 500);
    assert!(started.elapsed().as_secs() < 10);
    let again = run("hello.php", |_| {}, b"");
    assert_eq!(again.status, 200);
}
