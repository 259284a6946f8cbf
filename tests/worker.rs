//! Worker mode end to end: the FrankenPHP API in a real worker script (tests/fixtures/worker),
//! with curl and wrk as clients.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{wrk_clean, Server, ServerOptions};

/// A server whose document root is tests/fixtures/worker, with index.php as the worker script.
fn worker_server(options: ServerOptions) -> Server {
    Server::start(
        options
            .docroot_source(&common::fixture("worker"))
            .env("EPHPM_PHP__WORKER__SCRIPT", "index.php"),
    )
}

/// The JSON the worker answers with.
fn answer(response: &common::Response) -> serde_json::Value {
    serde_json::from_slice(&response.body).unwrap_or_else(|err| {
        panic!(
            "not JSON ({err}): status {} {:?}",
            response.status,
            String::from_utf8_lossy(&response.body)
        )
    })
}

#[test]
fn a_worker_keeps_its_state_while_every_request_is_fresh() {
    let server = worker_server(
        ServerOptions::default()
            .env("EPHPM_PHP__WORKER__WORKERS", "1")
            .config_toml("[php.worker.env]\nAPP_NAME = \"demo\"\n"),
    );
    let first = server.curl("/index.php?a=1&set=1", &["-b", "c=1", "-H", "X-Test: one"]);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("x-set"), Some("yes"));
    let first = answer(&first);
    assert_eq!(first["count"], 1);
    assert_eq!(first["worker"], "1");
    assert_eq!(first["app_name"], "demo");
    assert_eq!(first["get"]["a"], "1");
    assert_eq!(first["cookie"]["c"], "1");
    assert_eq!(first["header"], "one");
    assert_eq!(first["response_header"], "yes");

    // Nothing of the first request leaks into the second: superglobals, headers, cookies.
    let second_response = server.get("/index.php");
    assert_eq!(second_response.header("x-set"), None);
    assert_eq!(second_response.header("set-cookie"), None);
    let second = answer(&second_response);
    assert_eq!(second["count"], 2, "the worker kept its state");
    assert_eq!(second["booted_at"], first["booted_at"], "booted once");
    assert_eq!(second["get"], serde_json::json!([]));
    assert_eq!(second["cookie"], serde_json::json!([]));
    assert_eq!(second["header"], serde_json::Value::Null);
    assert_eq!(second["response_header"], serde_json::Value::Null);

    // An output buffer left open is sent with its request, not with the next one.
    let buffered = server.get("/index.php?ob=1");
    assert!(String::from_utf8_lossy(&buffered.body).starts_with("buffered\n"));
    let after = server.get("/index.php");
    assert!(String::from_utf8_lossy(&after.body).starts_with('{'));

    // Uploads and POST fields, then none.
    let dir = tempfile::tempdir().expect("a scratch directory");
    let upload = dir.path().join("upload.txt");
    std::fs::write(&upload, "x".repeat(1000)).expect("writing the upload");
    let form = format!("file=@{}", upload.display());
    let posted = answer(&server.curl("/index.php", &["-F", &form, "-F", "field=v"]));
    assert_eq!(posted["method"], "POST");
    assert_eq!(
        posted["files"]["file"],
        serde_json::json!(["upload.txt", 1000])
    );
    assert_eq!(posted["post"]["field"], "v");
    let raw = answer(&server.curl("/index.php", &["--data-binary", "0123456789"]));
    assert_eq!(raw["input"], 10);
    let plain = answer(&server.get("/index.php"));
    assert_eq!(plain["files"], serde_json::json!([]));
    assert_eq!(plain["post"], serde_json::json!([]));
    assert_eq!(plain["input"], 0);

    // Sessions: kept for the client that has the cookie, invisible to the next request.
    let started = server.get("/index.php?session=1");
    assert_eq!(answer(&started)["session"], 1);
    let cookie = started
        .headers_named("set-cookie")
        .into_iter()
        .find(|value| value.starts_with("PHPSESSID="))
        .and_then(|value| value.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let resumed = answer(&server.curl("/index.php?session=1", &["-b", &cookie]));
    assert_eq!(resumed["session"], 2);
    assert_eq!(answer(&server.get("/index.php"))["has_session"], false);
    assert_eq!(answer(&server.get("/index.php?session=1"))["session"], 1);

    // The front controller's routes reach the worker; other scripts run classically.
    let routed = answer(&server.get("/blog/post?x=1"));
    assert_eq!(routed["uri"], "/blog/post?x=1");
    assert!(routed["count"].as_u64() > plain["count"].as_u64());
    assert_eq!(server.get("/classic.php").text(), "classic\n");
}

#[test]
fn fatal_errors_exit_and_timeouts_are_answered_and_the_worker_restarts() {
    let server = worker_server(
        ServerOptions::default()
            .env("EPHPM_PHP__WORKER__WORKERS", "1")
            .php_ini("max_execution_time", "1"),
    );
    assert_eq!(answer(&server.get("/index.php"))["count"], 1);
    assert_eq!(answer(&server.get("/index.php"))["count"], 2);

    let fatal = server.get("/index.php?fatal=1");
    assert_eq!(fatal.status, 500);
    assert_eq!(answer(&server.get("/index.php"))["count"], 1, "restarted");

    let exited = server.get("/index.php?exit=1");
    assert_eq!(exited.status, 200);
    assert_eq!(exited.text(), "bye\n");
    assert_eq!(answer(&server.get("/index.php"))["count"], 1, "restarted");

    let spun = server.get("/index.php?spin=1");
    assert_eq!(spun.status, 500);
    assert!(spun.elapsed < Duration::from_secs(5), "{:?}", spun.elapsed);
    assert_eq!(answer(&server.get("/index.php"))["count"], 1, "restarted");
    assert!(server.log().contains("ended while answering a request"));

    // /metrics shows the worker's memory, requests and restarts.
    let metrics = common::curl(&[
        "-s",
        &format!("http://127.0.0.1:{}/metrics", server.node_api_port()),
    ])
    .text();
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|line| line.starts_with(&format!("{name}{{core=\"0\",worker=\"0\"}}")))
            .and_then(|line| line.rsplit(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {metrics}"))
    };
    assert!(value("ephpm_php_worker_memory_bytes") > 100_000);
    assert!(value("ephpm_php_worker_requests_total") >= 8);
    assert!(value("ephpm_php_worker_restarts_total") >= 3);
}

#[test]
fn a_worker_that_never_boots_is_a_start_up_error() {
    let output = Command::new(common::ephpm_binary())
        .args(["serve", "--root"])
        .arg(common::fixture("worker"))
        .args(["--listen", "127.0.0.1:0", "--cores", "1", "--threads", "1"])
        .args(["--worker", "broken.php"])
        .env("EPHPM_DB__ENABLED", "false")
        .env("EPHPM_KV__ENABLED", "false")
        .env("EPHPM_NODE_API__ENABLED", "false")
        .output()
        .expect("running ephpm serve");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("did not boot"), "{stderr}");
    assert!(
        stderr.contains("cannot boot"),
        "the PHP error is logged: {stderr}"
    );
}

#[test]
fn max_requests_recycles_workers_without_losing_requests() {
    let server = worker_server(
        ServerOptions::default()
            .cores(2)
            .env("EPHPM_PHP__WORKER__WORKERS", "2")
            .env("EPHPM_PHP__WORKER__MAX_REQUESTS", "5"),
    );
    wrk_clean(
        &["-t", "1", "-c", "8", "-d", "2s", "--timeout", "5s"],
        &server.url("/index.php"),
    );
    for _ in 0..20 {
        let count = answer(&server.get("/index.php"))["count"]
            .as_u64()
            .unwrap_or(0);
        assert!(
            (1..=5).contains(&count),
            "count {count} beyond max_requests"
        );
    }
}

#[test]
fn sighup_reloads_every_worker_under_load_without_losing_requests() {
    let server = worker_server(
        ServerOptions::default()
            .cores(2)
            .env("EPHPM_PHP__WORKER__WORKERS", "2"),
    );
    let mut load = Command::new("wrk")
        .args(["-t", "1", "-c", "8", "-d", "3s", "--timeout", "5s"])
        .arg(server.url("/index.php"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running wrk (apt-get install wrk)");
    std::thread::sleep(Duration::from_millis(1000));
    let signalled_at: u64 = server.get("/now.php").text().parse().expect("hrtime");
    server.signal("HUP");
    let mut report = String::new();
    std::io::Read::read_to_string(&mut load.stdout.take().expect("wrk's stdout"), &mut report)
        .expect("reading wrk's report");
    assert!(load.wait().expect("wrk ran").success(), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    assert!(server.log().contains("SIGHUP: reloading the PHP workers"));
    // Every worker booted again after the signal.
    for _ in 0..12 {
        let booted_at = answer(&server.get("/index.php"))["booted_at"]
            .as_u64()
            .unwrap_or(0);
        assert!(booted_at > signalled_at, "a worker was not reloaded");
    }
}

#[test]
fn a_symfony_kernel_from_debian_packages_boots_once_in_worker_mode() {
    let symfony = || {
        ServerOptions::default()
            .docroot_source(&common::fixture("symfony"))
            .serve_subdir("public")
    };
    // Classic mode: the same application, booted for every request.
    let classic = Server::start(symfony());
    let page = classic.get("/hello/classic");
    assert_eq!(page.status, 200);
    assert_eq!(answer(&page)["worker"], serde_json::Value::Null);
    drop(classic);

    let server = Server::start(
        symfony()
            .env("EPHPM_PHP__WORKER__SCRIPT", "index.php")
            .env("EPHPM_PHP__WORKER__WORKERS", "1"),
    );
    let home = server.get("/");
    assert_eq!(home.status, 200);
    assert!(home.text().contains("<h1>Hello from Symfony</h1>"));
    let first = answer(&server.get("/hello/world?x=1"));
    assert_eq!(first["hello"], "world");
    assert_eq!(first["query"]["x"], "1");
    let second = answer(&server.curl("/hello/form", &["-d", "field=value"]));
    assert_eq!(second["method"], "POST");
    assert_eq!(second["form"]["field"], "value");
    assert_eq!(second["query"], serde_json::json!([]));
    // One kernel, booted once, answered every request.
    assert_eq!(second["worker"]["booted_at"], first["worker"]["booted_at"]);
    assert_eq!(second["worker"]["served"], 3);
    assert_eq!(server.get("/no/such/route").status, 404);
}

/// Waits up to 5 s until the worker answers with a boot time after `since` (hrtime).
fn wait_for_reboot(server: &Server, since: u64) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        let booted_at = answer(&server.get("/index.php"))["booted_at"]
            .as_u64()
            .unwrap_or(0);
        if booted_at > since {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

#[test]
fn the_node_api_and_watched_files_reload_the_workers() {
    let server = worker_server(
        ServerOptions::default()
            .env("EPHPM_PHP__WORKER__WORKERS", "1")
            .config_toml("[php.worker]\nwatch = [\"lib\"]\n"),
    );
    let before: u64 = server.get("/now.php").text().parse().expect("hrtime");
    let reload = common::curl(&[
        "-s",
        "-X",
        "POST",
        &format!(
            "http://127.0.0.1:{}/api/workers/reload",
            server.node_api_port()
        ),
    ]);
    assert_eq!(reload.status, 202, "{}", reload.text());
    assert!(
        wait_for_reboot(&server, before),
        "the node API did not reload"
    );

    let before: u64 = server.get("/now.php").text().parse().expect("hrtime");
    // A deploy changes a watched file.
    std::thread::sleep(Duration::from_millis(1100));
    std::fs::write(server.docroot().join("lib/version.txt"), "2\n").expect("changing a file");
    assert!(
        wait_for_reboot(&server, before),
        "the file change did not reload"
    );
    assert!(server.log().contains("watched files changed"));
}

#[test]
fn headers_send_103_sends_early_hints_over_h1_and_h2() {
    let server = worker_server(ServerOptions::default().env("EPHPM_PHP__WORKER__WORKERS", "1"));
    for protocol in ["--http1.1", "--http2-prior-knowledge"] {
        let output = Command::new("curl")
            .args(["-s", "-i", protocol])
            .arg(server.url("/index.php?hints=1"))
            .output()
            .expect("running curl");
        let printed = String::from_utf8_lossy(&output.stdout).to_lowercase();
        let hints = printed
            .find(" 103")
            .unwrap_or_else(|| panic!("no 103: {printed}"));
        let last = printed
            .find(" 200")
            .unwrap_or_else(|| panic!("no 200: {printed}"));
        assert!(hints < last, "{printed}");
        assert!(
            printed[hints..last].contains("link: </style.css>; rel=preload; as=style"),
            "{printed}"
        );
        // The final response carries the header too, and the body follows.
        assert!(printed[last..].contains("link: </style.css>"), "{printed}");
        assert!(printed.contains("\"count\""), "{printed}");
    }
}

#[test]
fn flushed_output_streams_from_a_worker() {
    let server = worker_server(ServerOptions::default().env("EPHPM_PHP__WORKER__WORKERS", "1"));
    let mut curl = Command::new("curl")
        .args(["-sN"])
        .arg(server.url("/index.php?stream=1"))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("running curl");
    let started = std::time::Instant::now();
    let mut stdout = curl.stdout.take().expect("curl's stdout");
    let mut first = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut first).expect("the first piece");
    let first_after = started.elapsed();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).expect("the rest");
    let all_after = started.elapsed();
    let _ = curl.wait();
    assert_eq!(&first, b"first\n");
    assert_eq!(rest, "second\n");
    assert!(
        first_after + Duration::from_millis(300) < all_after,
        "first after {first_after:?}, all after {all_after:?}"
    );
    // The next request is whole and fresh.
    assert_eq!(answer(&server.get("/index.php"))["count"], 2);
}

#[test]
fn a_worker_whose_boot_fails_after_a_deploy_is_retried_and_recovers() {
    let server = worker_server(ServerOptions::default().env("EPHPM_PHP__WORKER__WORKERS", "1"));
    assert_eq!(answer(&server.get("/index.php"))["count"], 1);
    let index = server.docroot().join("index.php");
    let good = std::fs::read(&index).expect("reading the worker");
    std::fs::write(
        &index,
        "<?php\nthrow new RuntimeException('broken deploy');\n",
    )
    .expect("breaking the worker");
    // OPcache looks at changed files every 2 s.
    std::thread::sleep(Duration::from_millis(2200));
    server.signal("HUP");
    assert!(
        server.wait_for_log("ended before answering a request", Duration::from_secs(10)),
        "{}",
        server.log()
    );
    // The server keeps serving everything else while the worker is retried with backoff.
    assert_eq!(server.get("/classic.php").text(), "classic\n");
    std::fs::write(&index, good).expect("fixing the worker");
    std::thread::sleep(Duration::from_millis(2200));
    let fixed = server.get("/index.php");
    assert_eq!(fixed.status, 200, "{}", server.log());
    assert_eq!(answer(&fixed)["count"], 1, "a freshly booted worker");
}
