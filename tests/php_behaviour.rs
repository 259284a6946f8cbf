//! What PHP scripts see and can do: the request superglobals, headers and status codes they set,
//! output control, sessions, SAPI functions, OPcache, limits and error handling.

mod common;

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::{Response, Server, ServerOptions};

fn value(response: &Response, key: &str) -> String {
    response
        .value(key)
        .unwrap_or_else(|| panic!("{key} missing from:\n{}", response.text()))
}

#[test]
fn server_variables_are_complete_and_sane() {
    let server = Server::start_default();
    let response = server.curl(
        "/server.php/extra/info?a=1&b=two",
        &["-H", "X-Custom: custom value", "-d", "k=v"],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    let docroot = std::fs::canonicalize(server.docroot()).unwrap();
    let docroot = docroot.to_str().unwrap();
    let port = server.port().to_string();

    assert_eq!(
        value(&response, "REQUEST_URI"),
        "/server.php/extra/info?a=1&b=two"
    );
    assert_eq!(value(&response, "REQUEST_METHOD"), "POST");
    assert_eq!(
        value(&response, "SCRIPT_FILENAME"),
        format!("{docroot}/server.php")
    );
    assert_eq!(value(&response, "SCRIPT_NAME"), "/server.php");
    assert_eq!(value(&response, "PHP_SELF"), "/server.php/extra/info");
    assert_eq!(
        value(&response, "DOCUMENT_ROOT").trim_end_matches('/'),
        docroot
    );
    assert_eq!(value(&response, "SERVER_NAME"), "127.0.0.1");
    assert_eq!(value(&response, "SERVER_PORT"), port);
    assert_eq!(value(&response, "SERVER_ADDR"), "127.0.0.1");
    assert!(
        value(&response, "SERVER_SOFTWARE")
            .to_ascii_lowercase()
            .starts_with("ephpm"),
        "{}",
        value(&response, "SERVER_SOFTWARE")
    );
    assert_eq!(value(&response, "SERVER_PROTOCOL"), "HTTP/1.1");
    assert_eq!(value(&response, "HTTP_X_CUSTOM"), "custom value");
    assert_eq!(value(&response, "HTTP_HOST"), format!("127.0.0.1:{port}"));
    assert_eq!(
        value(&response, "CONTENT_TYPE"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(value(&response, "CONTENT_LENGTH"), "3");
    assert_eq!(value(&response, "QUERY_STRING"), "a=1&b=two");
    assert_eq!(value(&response, "PATH_INFO"), "/extra/info");
    assert_eq!(value(&response, "REMOTE_ADDR"), "127.0.0.1");
    let remote_port: u16 = value(&response, "REMOTE_PORT")
        .parse()
        .expect("REMOTE_PORT not a port");
    assert!(remote_port > 0);
    assert_ne!(remote_port, server.port());

    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    let request_time: f64 = value(&response, "REQUEST_TIME")
        .parse()
        .expect("REQUEST_TIME");
    assert!(
        (now - request_time).abs() < 10.0,
        "REQUEST_TIME {request_time}, now {now}"
    );
    let request_time_float = value(&response, "REQUEST_TIME_FLOAT");
    let request_time_float: f64 = request_time_float.parse().expect("REQUEST_TIME_FLOAT");
    assert!((now - request_time_float).abs() < 10.0);
    assert!(
        request_time_float.fract() != 0.0 || request_time_float == request_time,
        "REQUEST_TIME_FLOAT has no sub-second part"
    );
    assert!((request_time_float - request_time).abs() < 1.0);
}

#[test]
fn get_post_and_cookie_superglobals() {
    let server = Server::start_default();
    let response = server.curl(
        "/vars.php?name=Ann&tags[]=x&tags[]=y&space=a%20b",
        &[
            "-H",
            "Cookie: theme=dark; lang=fr",
            "-d",
            "city=Paris&zip=75001&note=a+b%26c",
        ],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.value("GET[name]").as_deref(), Some("Ann"));
    assert_eq!(response.value("GET[tags]").as_deref(), Some("x,y"));
    assert_eq!(response.value("GET[space]").as_deref(), Some("a b"));
    assert_eq!(response.value("POST[city]").as_deref(), Some("Paris"));
    assert_eq!(response.value("POST[zip]").as_deref(), Some("75001"));
    assert_eq!(response.value("POST[note]").as_deref(), Some("a b&c"));
    assert_eq!(response.value("COOKIE[theme]").as_deref(), Some("dark"));
    assert_eq!(response.value("COOKIE[lang]").as_deref(), Some("fr"));
}

#[test]
fn multipart_fields_and_files() {
    let server = Server::start_default();
    let upload = server.dir().join("notes.txt");
    std::fs::write(&upload, "some uploaded notes\n").unwrap();
    let file_field = format!("doc=@{};type=text/plain", upload.display());
    let response = server.curl(
        "/vars.php",
        &[
            "-F",
            "title=Report",
            "-F",
            "tags[]=a",
            "-F",
            "tags[]=b",
            "-F",
            &file_field,
        ],
    );
    assert_eq!(response.status, 200, "{}", response.text());
    assert_eq!(response.value("POST[title]").as_deref(), Some("Report"));
    assert_eq!(response.value("POST[tags]").as_deref(), Some("a,b"));
    assert_eq!(
        response.value("FILES[doc][name]").as_deref(),
        Some("notes.txt")
    );
    assert_eq!(
        response.value("FILES[doc][type]").as_deref(),
        Some("text/plain")
    );
    assert_eq!(response.value("FILES[doc][size]").as_deref(), Some("20"));
    assert_eq!(response.value("FILES[doc][error]").as_deref(), Some("0"));
    // md5 of "some uploaded notes\n"
    assert_eq!(
        response.value("FILES[doc][md5]").as_deref(),
        Some("b3aa74c142b3dbe30346fffa2947f6dc")
    );
    assert_eq!(
        response.value("FILES[doc][uploaded]").as_deref(),
        Some("yes")
    );
}

#[test]
fn php_input_has_the_raw_body() {
    let server = Server::start_default();
    let body = r#"{"hello": "world", "n": [1, 2, 3]}"#;
    let response = server.curl(
        "/input.php",
        &[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            body,
        ],
    );
    assert_eq!(response.status, 200);
    assert_eq!(response.value("length"), Some(body.len().to_string()));
    assert!(
        response.text().ends_with(&format!("body={body}")),
        "{}",
        response.text()
    );
}

#[test]
fn header_sets_custom_headers_and_the_status() {
    let server = Server::start_default();
    let response = server.get("/custom_header.php");
    assert_eq!(response.status, 404);
    assert_eq!(response.header("x-ephpm-test"), Some("custom value"));
    assert_eq!(response.text(), "custom not found");
}

#[test]
fn setcookie_sends_set_cookie_headers() {
    let server = Server::start_default();
    let response = server.get("/cookie.php");
    assert_eq!(response.status, 200);
    let cookies = response.headers_named("set-cookie");
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    assert!(cookies[0].starts_with("flavour=chocolate"), "{cookies:?}");
    assert!(cookies[0].contains("path=/"), "{cookies:?}");
    assert!(cookies[0].contains("HttpOnly"), "{cookies:?}");
    assert!(cookies[1].starts_with("size=large"), "{cookies:?}");
}

#[test]
fn http_response_code_sets_the_status() {
    let server = Server::start_default();
    let response = server.get("/created.php");
    assert_eq!(response.status, 201);
    assert_eq!(response.text(), "created");
}

#[test]
fn headers_sent_reflects_flushed_output() {
    let server = Server::start_default();
    let response = server.get("/headers_sent.php");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "before=false\nafter=true\n");
}

#[test]
fn exit_mid_script_keeps_output_and_status() {
    let server = Server::start_default();
    let response = server.get("/exit.php");
    assert_eq!(response.status, 202);
    assert_eq!(response.text(), "before exit");
}

#[test]
fn output_buffering_functions_work() {
    let server = Server::start_default();
    let response = server.get("/ob.php");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "got:CAPTURED TEXT");
}

#[test]
fn file_sessions_persist_across_requests() {
    let server = Server::start_default();
    let jar = server.dir().join("cookies.txt");
    let jar = jar.to_str().unwrap();
    let first = server.curl("/session.php", &["-c", jar, "-b", jar]);
    assert_eq!(first.status, 200);
    assert_eq!(first.text(), "count=1");
    assert!(
        first
            .headers_named("set-cookie")
            .iter()
            .any(|c| c.starts_with("PHPSESSID=")),
        "{:?}",
        first.headers
    );
    let second = server.curl("/session.php", &["-c", jar, "-b", jar]);
    assert_eq!(second.text(), "count=2");
    let third = server.curl("/session.php", &["-c", jar, "-b", jar]);
    assert_eq!(third.text(), "count=3");
    // Without the cookie it is a new session.
    assert_eq!(server.get("/session.php").text(), "count=1");
}

#[test]
fn getallheaders_returns_request_headers() {
    let server = Server::start_default();
    let response = server.curl(
        "/getallheaders.php",
        &["-H", "X-Alpha: one", "-H", "Accept: text/x-test"],
    );
    assert_eq!(response.status, 200);
    let headers: Vec<(String, String)> = response
        .text()
        .lines()
        .filter_map(|line| line.split_once(": "))
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect();
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(find("x-alpha"), Some("one"), "{}", response.text());
    assert_eq!(find("accept"), Some("text/x-test"));
    assert_eq!(
        find("host"),
        Some(format!("127.0.0.1:{}", server.port()).as_str())
    );
}

#[test]
fn fastcgi_finish_request_answers_before_the_script_ends() {
    let server = Server::start_default();
    let marker = server.dir().join("finish-marker");
    let response = server.get("/finish.php");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "finished early");
    assert!(
        response.elapsed < Duration::from_millis(1500),
        "the response took {:?}, the script sleeps 2 s after finishing the request",
        response.elapsed
    );
    assert!(
        !marker.exists(),
        "the script ended before the response arrived"
    );
    let deadline = Instant::now() + Duration::from_secs(6);
    while !marker.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        marker.exists(),
        "the script did not run to the end after fastcgi_finish_request()"
    );
}

#[test]
fn opcache_is_enabled() {
    let server = Server::start_default();
    let response = server.get("/opcache.php");
    assert_eq!(response.text(), "opcache_enabled=true");
}

#[test]
fn php_sapi_is_ephpm() {
    let server = Server::start_default();
    assert_eq!(server.get("/sapi.php").text(), "ephpm");
}

#[test]
fn max_execution_time_stops_a_runaway_script_without_blocking_others() {
    let server = Server::start(ServerOptions::default().php_ini("max_execution_time", "1"));
    let spin_url = server.url("/spin.php");
    let spinner = thread::spawn(move || common::curl(&[&spin_url]));
    thread::sleep(Duration::from_millis(300));

    let parallel = server.get("/hello.php");
    assert_eq!(parallel.status, 200);
    assert_eq!(parallel.text(), "Hello from PHP");
    assert!(
        parallel.elapsed < Duration::from_millis(700),
        "a normal request waited {:?} behind the runaway script",
        parallel.elapsed
    );

    let spun = spinner.join().unwrap();
    assert_eq!(spun.status, 500, "runaway script: {}", spun.text());
    assert!(
        spun.elapsed < Duration::from_secs(3),
        "runaway script stopped after {:?}",
        spun.elapsed
    );
    assert_eq!(server.get("/hello.php").text(), "Hello from PHP");
    assert!(
        server.wait_for_log("Maximum execution time", Duration::from_secs(3)),
        "timeout not logged:\n{}",
        server.log()
    );
}

#[test]
fn fatal_error_gives_500_is_logged_and_the_next_request_works() {
    let server = Server::start_default();
    let response = server.get("/fatal.php");
    assert_eq!(response.status, 500, "{}", response.text());
    assert!(
        server.wait_for_log("ephpm_test_undefined_function", Duration::from_secs(3)),
        "the fatal error is not in the server log:\n{}",
        server.log()
    );
    let next = server.get("/hello.php");
    assert_eq!(next.status, 200);
    assert_eq!(next.text(), "Hello from PHP");
}

#[test]
fn php_ini_options_are_visible_to_ini_get() {
    let server = Server::start(
        ServerOptions::default()
            .php_ini("memory_limit", "77M")
            .php_ini("date.timezone", "Europe/Paris"),
    );
    assert_eq!(server.get("/ini.php?k=memory_limit").text(), "77M");
    assert_eq!(
        server.get("/ini.php?k=date.timezone").text(),
        "Europe/Paris"
    );
}
