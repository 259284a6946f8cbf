//! Runs PHP test scripts with the ePHPm binary's embedded PHP (`ephpm php-cli`), shared by the
//! protocol and SQLite client suites.

use std::path::PathBuf;
use std::process::Command;

/// The ePHPm binary that runs PHP scripts; panics with a clear message when it has not been
/// built. `DBWIRE_EPHPM_BIN` overrides the path (scripts/test.sh points it at the debug build).
pub fn ephpm_binary() -> PathBuf {
    let path = std::env::var_os("DBWIRE_EPHPM_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/ephpm")
        });
    assert!(
        path.exists(),
        "the PHP client tests need the ePHPm binary at {} (build it with `cargo build --release` \
         in the workspace root, or point DBWIRE_EPHPM_BIN at it)",
        path.display()
    );
    path
}

/// Assertion helpers every script starts with; any PHP warning or notice fails the script.
const ASSERTIONS: &str = r#"<?php
error_reporting(E_ALL);
set_error_handler(function ($no, $message, $file, $line) {
    echo "PHP error: $message (line $line)\n";
    exit(2);
});
function same($expected, $actual, $what) {
    if ($expected !== $actual) {
        echo "FAILED: $what\nexpected: ", var_export($expected, true), "\nactual:   ", var_export($actual, true), "\n";
        exit(1);
    }
}
"#;

/// Runs the assertion helpers, `prelude` (more helper functions, no opening tag) and `body` (PHP without the opening tag; `{PORT}` becomes `port`). The
/// script must print `PASS` last; anything else fails the test with PHP's output.
pub fn run_php(prelude: &str, body: &str, port: u16) {
    let dir = tempfile::tempdir().expect("creating a temporary directory");
    let script = dir.path().join("test.php");
    let source = format!("{ASSERTIONS}{prelude}\n{body}\necho \"PASS\\n\";\n")
        .replace("{PORT}", &port.to_string());
    std::fs::write(&script, source).expect("writing the PHP script");
    let output = Command::new(ephpm_binary())
        .arg("php-cli")
        .arg(&script)
        .output()
        .expect("running ephpm php-cli");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.trim_end().ends_with("PASS"),
        "PHP script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}
