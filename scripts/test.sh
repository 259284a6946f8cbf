#!/usr/bin/env bash
# Set up everything and run the whole test suite: formatting, clippy, unit tests and the
# end-to-end tests that start the real binary and talk to it with real clients.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"

bash "$ROOT/scripts/setup.sh" --debug >/dev/null
bash "$ROOT/scripts/build-php-extension.sh" php-redis >/dev/null
ensure_apt curl wrk nghttp2-client pebble openssl php-symfony-http-kernel php-symfony-routing gzip mariadb-server mariadb-client sysbench wordpress wordpress-theme-twentytwentythree redis-tools php-nrk-predis
ulimit -n 65536 2>/dev/null || true

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "cargo test (unit + end-to-end)"
# dbwire's client tests run PHP (PDO, mysqli) through the ephpm binary built above.
export DBWIRE_EPHPM_BIN="$ROOT/target/debug/ephpm"
cargo test --locked --workspace -- --test-threads=2
step "fuzzing (each libFuzzer target for 20 s; scripts/fuzz.sh SECONDS for longer runs)"
bash "$ROOT/scripts/fuzz.sh" 20
