//! Runs real scripts through the embedded engine (one engine per test process).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use php_sys::host::{Arg, HostError, Value};
use php_sys::{
    Engine, EngineConfig, HeaderLines, HostFunctions, HostHandler, Mode, Request, ResponseHandler,
};

/// Host functions for the tests: `test_echo` returns its arguments, `test_shape` a nested
/// array, `test_fail` throws; the session hooks keep sessions in a map.
#[derive(Default)]
struct TestHost {
    sessions: Mutex<HashMap<Vec<u8>, Vec<u8>>>,
}

fn arg_value(arg: &Arg<'_>) -> Value {
    match *arg {
        Arg::Null => Value::Null,
        Arg::Bool(b) => Value::Bool(b),
        Arg::Int(i) => Value::Int(i),
        Arg::Float(f) => Value::Float(f),
        Arg::Str(s) => Value::Str(s.to_vec()),
    }
}

fn arg_bytes(args: &[Arg<'_>], index: usize) -> Vec<u8> {
    match args.get(index) {
        Some(Arg::Str(s)) => s.to_vec(),
        _ => Vec::new(),
    }
}

impl HostHandler for TestHost {
    fn call(&self, name: &str, args: &[Arg<'_>]) -> Result<Value, HostError> {
        let mut sessions = self.sessions.lock().unwrap();
        match name {
            "test_echo" => Ok(Value::List(args.iter().map(arg_value).collect())),
            "test_shape" => Ok(Value::Map(vec![
                (b"name".to_vec(), Value::Str(b"ephpm".to_vec())),
                (b"7".to_vec(), Value::Float(1.5)),
                (
                    b"list".to_vec(),
                    Value::List(vec![Value::Bool(true), Value::Null]),
                ),
            ])),
            "test_fail" => Err(HostError::Runtime("it failed".into())),
            "session:read" => Ok(sessions
                .get(&arg_bytes(args, 0))
                .map_or(Value::Null, |data| Value::Str(data.clone()))),
            "session:write" | "session:touch" => {
                sessions.insert(arg_bytes(args, 0), arg_bytes(args, 1));
                Ok(Value::Bool(true))
            }
            "session:exists" => Ok(Value::Bool(sessions.contains_key(&arg_bytes(args, 0)))),
            "session:destroy" => Ok(Value::Bool(sessions.remove(&arg_bytes(args, 0)).is_some())),
            other => Err(HostError::Runtime(format!("unknown {other}"))),
        }
    }
}

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
            host_functions: Some(HostFunctions {
                names: ["test_echo", "test_shape", "test_fail"]
                    .map(String::from)
                    .to_vec(),
                handler: Box::leak(Box::new(TestHost::default())),
            }),
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

#[test]
fn host_functions_pass_scalars_and_return_php_values() {
    let out = run("host.php", |_| {}, b"");
    let body = String::from_utf8_lossy(&out.body);
    assert_eq!(out.status, 200, "{body}");
    assert!(
        body.contains(r#"echo:[null,true,42,2.5,"s","str"]"#),
        "{body}"
    );
    assert!(
        body.contains(r#"shape:{"name":"ephpm","7":1.5,"list":[true,null]}"#),
        "{body}"
    );
    assert!(body.contains("int-key:yes"), "{body}");
    assert!(body.contains("fail:RuntimeException:it failed"), "{body}");
    assert!(body.contains("array:TypeError"), "{body}");
}

#[test]
fn the_ephpm_session_handler_keeps_sessions_in_the_host() {
    let first = run("session.php", |_| {}, b"");
    let body = String::from_utf8_lossy(&first.body).into_owned();
    let id = body
        .strip_prefix("count=1 id=")
        .unwrap_or_else(|| panic!("unexpected first answer: {body}"))
        .to_string();
    let cookie = format!("PHPSESSID={id}");
    let second = run(
        "session.php",
        |r| r.set_cookie(cookie.as_bytes()).unwrap(),
        b"",
    );
    assert_eq!(
        String::from_utf8_lossy(&second.body),
        format!("count=2 id={id}")
    );
    // An id the store does not know is replaced (use_strict_mode).
    let forged = run(
        "session.php",
        |r| r.set_cookie(b"PHPSESSID=forged123").unwrap(),
        b"",
    );
    let forged_body = String::from_utf8_lossy(&forged.body);
    assert!(forged_body.starts_with("count=1 id="), "{forged_body}");
    assert!(!forged_body.contains("forged123"), "{forged_body}");
}
