//! Running the server: real concurrency, back-pressure, access logs, graceful shutdown, and the
//! `version`, `php-cli` and configuration-checking entry points.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use common::{read_until_close, run_ephpm, wrk_clean, Server, ServerOptions};

/// GET `path` on a fresh connection with `Connection: close`; returns the first response's
/// status, or `None` when the server sent nothing parseable.
fn request_status(server: &Server, path: &str) -> Option<u16> {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    let exchange = server.raw_exchange(request.as_bytes(), Duration::from_secs(15));
    exchange.responses().first().map(|r| r.status)
}

#[test]
fn requests_run_concurrently_across_cores_and_threads() {
    let server = Server::start(ServerOptions::default().cores(2).threads(4));
    // Warm up: compile the script once.
    assert_eq!(request_status(&server, "/sleep.php?ms=1"), Some(200));

    let started = Instant::now();
    let statuses: Vec<Option<u16>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| request_status(&server, "/sleep.php?ms=200")))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    assert!(statuses.iter().all(|s| *s == Some(200)), "{statuses:?}");
    assert!(
        elapsed < Duration::from_millis(1200),
        "8 requests of 200 ms took {elapsed:?} on 2 cores x 4 PHP threads: they were serialised"
    );
}

#[test]
fn full_queue_answers_503_instead_of_hanging() {
    let server = Server::start(
        ServerOptions::default()
            .cores(1)
            .threads(1)
            .env("EPHPM_SERVER__QUEUE_DEPTH", "1"),
    );
    let started = Instant::now();
    let statuses: Vec<Option<u16>> = thread::scope(|scope| {
        let workers: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| request_status(&server, "/sleep.php?ms=1000")))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    assert!(
        statuses.iter().all(|s| s.is_some()),
        "a request got no response: {statuses:?}"
    );
    assert!(
        statuses.contains(&Some(503)),
        "no 503 with a full queue: {statuses:?}"
    );
    assert!(
        statuses.contains(&Some(200)),
        "nothing was served: {statuses:?}"
    );
    assert!(elapsed < Duration::from_secs(8), "took {elapsed:?}");
    // Once the queue drains, requests are served again.
    assert_eq!(request_status(&server, "/hello.php"), Some(200));
}

#[test]
fn access_log_has_a_line_per_request() {
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("access.log");
    let server = Server::start(
        ServerOptions::default().env("EPHPM_LOG__ACCESS_LOG", log_path.to_str().unwrap()),
    );
    let paths = [
        "/hello.php?first",
        "/robots.txt",
        "/no/such/page",
        "/assets/style.css",
    ];
    for path in paths {
        server.get(path);
    }
    assert_eq!(server.curl("/hello.php?posted", &["-d", "x=1"]).status, 200);

    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        if log.lines().count() > paths.len() || Instant::now() > deadline {
            break log;
        }
        thread::sleep(Duration::from_millis(100));
    };
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), paths.len() + 1, "access log:\n{log}");
    for (line, path) in lines.iter().zip(paths) {
        assert!(
            line.contains(&format!("GET {path}")),
            "{path} not on {line:?}"
        );
        assert!(line.contains("127.0.0.1"), "no client address on {line:?}");
    }
    assert!(lines[0].contains(" 200 "), "{}", lines[0]);
    assert!(lines[4].contains("POST /hello.php?posted"), "{}", lines[4]);
}

#[test]
fn sigterm_drains_in_flight_requests_then_exits_zero() {
    let mut server = Server::start_default();
    let addr = server.addr();
    let in_flight = thread::spawn(move || {
        let mut stream = TcpStream::connect(addr).unwrap();
        stream
            .write_all(
                b"GET /sleep.php?ms=2000 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .unwrap();
        read_until_close(&mut stream, Duration::from_secs(15))
    });
    thread::sleep(Duration::from_millis(500));
    server.signal("TERM");
    thread::sleep(Duration::from_millis(300));

    // While draining, new connections must not be served.
    let late = TcpStream::connect_timeout(&addr, Duration::from_secs(1)).map(|mut stream| {
        let _ = stream.write_all(b"GET /hello.php HTTP/1.1\r\nHost: localhost\r\n\r\n");
        read_until_close(&mut stream, Duration::from_secs(5))
    });
    if let Ok(exchange) = &late {
        assert!(
            !exchange.text().contains("Hello from PHP"),
            "a connection opened after SIGTERM was served: {}",
            exchange.text()
        );
    }

    let exchange = in_flight.join().unwrap();
    let responses = exchange.responses();
    assert_eq!(
        responses.first().map(|r| (r.status, r.text())),
        Some((200, "slept 2000ms".to_string())),
        "in-flight request: {:?}\n--- server log ---\n{}",
        exchange.text(),
        server.log()
    );
    let status = server
        .wait_for_exit(Duration::from_secs(20))
        .unwrap_or_else(|| panic!("did not exit after SIGTERM\n{}", server.log()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status {status}\n{}",
        server.log()
    );
    assert!(
        TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err(),
        "still accepting connections after exiting"
    );
}

/// True when `word` occurs in `text` not surrounded by identifier characters.
fn contains_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[test]
fn version_lists_php_and_the_bundled_extensions() {
    let output = run_ephpm(&["version"], Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let script = tempfile::tempdir().unwrap();
    let version_php = script.path().join("version.php");
    std::fs::write(&version_php, "<?php echo PHP_VERSION;").unwrap();
    let php_version = run_ephpm(
        &["php-cli", version_php.to_str().unwrap()],
        Duration::from_secs(20),
    );
    let php_version = String::from_utf8_lossy(&php_version.stdout)
        .trim()
        .to_string();
    assert!(php_version.starts_with("8."), "PHP_VERSION {php_version:?}");
    assert!(
        contains_word(&stdout, &php_version),
        "version {php_version} not in:\n{stdout}"
    );

    for extension in [
        "pdo_mysql",
        "mysqli",
        "pdo_sqlite",
        "mbstring",
        "gd",
        "intl",
        "zip",
        "sodium",
        "Zend OPcache",
    ] {
        assert!(
            contains_word(&stdout, extension),
            "{extension} not listed:\n{stdout}"
        );
    }
}

#[test]
fn php_cli_runs_a_script_like_php_does() {
    let script = common::fixture("cli/argv.php");
    let script = script.to_str().unwrap();
    let output = run_ephpm(&["php-cli", script, "a", "b c"], Duration::from_secs(20));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(7),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    let values = common::key_values(&stdout);
    let get = |key: &str| {
        values
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("argc"), Some("3"), "{stdout}");
    assert!(
        get("argv[0]").is_some_and(|v| v.ends_with("argv.php")),
        "{stdout}"
    );
    assert_eq!(get("argv[1]"), Some("a"));
    assert_eq!(get("argv[2]"), Some("b c"));
    assert_eq!(get("sapi"), Some("cli"));
    assert_eq!(get("stderr_defined"), Some("true"));
    assert!(stderr.contains("written to stderr"), "stderr: {stderr}");
    assert!(
        !stdout.contains("written to stderr"),
        "STDERR went to stdout"
    );
}

#[test]
fn unknown_config_keys_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let docroot = dir.path().join("docroot");
    std::fs::create_dir(&docroot).unwrap();
    for (name, contents, key) in [
        (
            "server.toml",
            "[server]\nbogus_server_key = 1\n",
            "bogus_server_key",
        ),
        (
            "top.toml",
            "bogus_section_key = \"x\"\n",
            "bogus_section_key",
        ),
    ] {
        let config = dir.path().join(name);
        std::fs::write(&config, contents).unwrap();
        let output = run_ephpm(
            &[
                "serve",
                "--config",
                config.to_str().unwrap(),
                "--root",
                docroot.to_str().unwrap(),
                "--listen",
                "127.0.0.1:0",
                "--cores",
                "1",
            ],
            Duration::from_secs(20),
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{name}: serve accepted an unknown key"
        );
        assert!(
            stderr.contains(key),
            "{name}: {key} not named in stderr: {stderr}"
        );
    }
}

#[test]
fn wrk_smoke_test_has_no_errors() {
    let server = Server::start(ServerOptions::default().cores(2).threads(2));
    let report = wrk_clean(
        &["-t", "2", "-c", "32", "-d", "2s", "--timeout", "5s"],
        &server.url("/hello.php"),
    );
    let requests: u64 = report
        .lines()
        .find_map(|line| line.trim().split_once(" requests in "))
        .and_then(|(count, _)| count.trim().parse().ok())
        .unwrap_or_else(|| panic!("no request count in:\n{report}"));
    assert!(
        requests >= 200,
        "only {requests} requests in 2 s:\n{report}"
    );
    assert_eq!(server.get("/hello.php").text(), "Hello from PHP");
}
