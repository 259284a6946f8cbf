#!/usr/bin/env bash
# Benchmark worker mode: a Symfony HttpKernel page (tests/fixtures/symfony, built from Debian's
# php-symfony-* packages) and hello.php, in ePHPm worker mode vs ePHPm classic mode vs nginx +
# php-fpm, one server at a time, in one run.
#
#   symfony   GET /hello/bench: routing, controller, JSON response (front controller index.php)
#   hello     GET /hello.php (classic) or /hello-worker.php (a worker answering the same body)
#
# Each measurement is `wrk -t1 -c32` for BENCH_DURATION seconds after a BENCH_WARMUP warm-up;
# the report (also written to $BENCH_OUT) gives requests/s and ratios to nginx + php-fpm.
#
# Settings (environment): EPHPM_BIN (default: built by scripts/setup.sh --release),
# BENCH_DURATION (default 8), BENCH_WARMUP (default 2), BENCH_FPM_CHILDREN (default 4 x nproc),
# BENCH_OUT (default bench/last-worker.md), BENCH_KEEP_WORK=1.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BENCH_NAME=worker-bench
HOST=127.0.0.1
WORK=""
BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-0}
NGINX_PORT=18581
# shellcheck source=SCRIPTDIR/lib.sh
source "$BENCH_DIR/lib.sh"

CORES=$(nproc)
EPHPM_BIN_GIVEN=${EPHPM_BIN:-}
EPHPM_BIN=${EPHPM_BIN:-$ROOT/target/release/ephpm}
BENCH_DURATION=${BENCH_DURATION:-8}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_FPM_CHILDREN=${BENCH_FPM_CHILDREN:-$((4 * CORES))}
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/last-worker.md}
EPHPM_PORT=18580

# The application: the Symfony fixture plus the two hello scripts, readable by www-data.
prepare_app() {
  cp -r "$ROOT/tests/fixtures/symfony" "$WORK/app"
  cp "$BENCH_DIR/php/hello.php" "$WORK/app/public/hello.php"
  cat >"$WORK/app/public/hello-worker.php" <<'PHP'
<?php
// hello.php as a worker: the same body, the script booted once.
$answer = static function (): void {
    echo "Hello, World!";
};
while (frankenphp_handle_request($answer)) {
}
PHP
  chmod -R a+rX "$WORK"
}

# ePHPm on $EPHPM_PORT, with the worker script $1 (or classic mode without one).
start_ephpm() {
  local worker=${1:-} unset=() name extra=()
  for name in $(compgen -e); do
    [[ $name == EPHPM_* ]] && unset+=(-u "$name")
  done
  [ -n "$worker" ] && extra=(--worker "$worker")
  (cd "$WORK" && exec env "${unset[@]}" EPHPM_LOG__ACCESS_LOG=off EPHPM_DB__ENABLED=false \
    EPHPM_KV__ENABLED=false EPHPM_NODE_API__ENABLED=false \
    "$EPHPM_BIN" serve --root "$WORK/app/public" --listen "$HOST:$EPHPM_PORT" \
    --cores "$CORES" "${extra[@]}" >"$WORK/ephpm.log" 2>&1) &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_port ePHPm "$SERVER_PID" "$EPHPM_PORT" "$WORK/ephpm.log"
}

# The page must answer 200 with the expected body before it is measured.
check_page() {
  local name=$1 url=$2 expect=$3 body
  body=$(curl -sS --fail --max-time 5 "$url") || die "$name: GET $url failed"
  [[ $body == *"$expect"* ]] || die "$name: $url answered: $body"
}

# Requests per second of one wrk run against $1.
measure() {
  wrk -t1 -c32 -d"${BENCH_WARMUP}s" "$1" >/dev/null
  wrk -t1 -c32 -d"${BENCH_DURATION}s" "$1" >"$WORK/wrk.out"
  grep -q 'Non-2xx\|Socket errors' "$WORK/wrk.out" && die "errors measuring $1: $(cat "$WORK/wrk.out")"
  awk '/^Requests\/sec:/ {printf "%d\n", $2}' "$WORK/wrk.out"
}

# Measures `page` on `server` at `url` after checking it; stores the rate.
run() {
  local server=$1 page=$2 url=$3 expect=$4 rate
  check_page "$server" "$url" "$expect"
  rate=$(measure "$url")
  echo "$rate" >"$WORK/result.$server.$page"
  printf '%s: %-16s %-8s %s req/s\n' "$BENCH_NAME" "$server" "$page" "$rate" >&2
}

ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'
}

report() {
  local nginx_symfony nginx_hello
  nginx_symfony=$(cat "$WORK/result.nginx.symfony")
  nginx_hello=$(cat "$WORK/result.nginx.hello")
  {
    printf '# Worker mode: ePHPm worker vs ePHPm classic vs nginx + php-fpm\n\n'
    printf -- '- date: %s; %s cores; kernel %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$CORES" "$(uname -r)"
    printf -- '- nginx %s + php-fpm %s (pm static, %s children, opcache on); Symfony %s from Debian\n' \
      "$(dpkg-query -W -f='${Version}' nginx)" "$(dpkg-query -W -f='${Version}' php8.2-fpm)" \
      "$BENCH_FPM_CHILDREN" "$(dpkg-query -W -f='${Version}' php-symfony-http-kernel)"
    printf -- '- ePHPm --cores %s, 8 PHP threads per core (classic), 8 workers per core (worker mode)\n' "$CORES"
    printf -- '- wrk -t1 -c32, %s s after a %s s warm-up\n\n' "$BENCH_DURATION" "$BENCH_WARMUP"
    printf '| page | ePHPm worker /s | ePHPm classic /s | nginx + php-fpm /s | worker / nginx | classic / nginx |\n'
    printf '|---|---:|---:|---:|---:|---:|\n'
    printf '| Symfony /hello/bench | %s | %s | %s | %sx | %sx |\n' \
      "$(cat "$WORK/result.worker.symfony")" "$(cat "$WORK/result.classic.symfony")" "$nginx_symfony" \
      "$(ratio "$(cat "$WORK/result.worker.symfony")" "$nginx_symfony")" \
      "$(ratio "$(cat "$WORK/result.classic.symfony")" "$nginx_symfony")"
    printf '| hello | %s | %s | %s | %sx | %sx |\n' \
      "$(cat "$WORK/result.worker.hello")" "$(cat "$WORK/result.classic.hello")" "$nginx_hello" \
      "$(ratio "$(cat "$WORK/result.worker.hello")" "$nginx_hello")" \
      "$(ratio "$(cat "$WORK/result.classic.hello")" "$nginx_hello")"
  } >"$BENCH_OUT"
  cat "$BENCH_OUT"
}

main() {
  ensure_apt nginx php8.2-fpm wrk curl php-symfony-http-kernel php-symfony-routing
  ulimit -n 65536 2>/dev/null || true
  if [ -z "$EPHPM_BIN_GIVEN" ]; then
    EPHPM_BIN=$(bash "$ROOT/scripts/setup.sh" --release | tail -n 1)
  fi
  [ -x "$EPHPM_BIN" ] || die "no ePHPm binary at $EPHPM_BIN"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK=$(mktemp -d /tmp/ephpm-worker-bench.XXXXXX)
  chmod 755 "$WORK"
  prepare_app
  require_free_port "$EPHPM_PORT"
  require_free_port "$NGINX_PORT"
  local base="http://$HOST:$EPHPM_PORT"

  step "ePHPm worker mode (Symfony front controller as the worker)"
  start_ephpm index.php
  run worker symfony "$base/hello/bench" '"hello":"bench"'
  stop_all
  step "ePHPm worker mode (hello as a worker)"
  start_ephpm hello-worker.php
  run worker hello "$base/hello-worker.php" 'Hello, World!'
  stop_all
  step "ePHPm classic mode"
  start_ephpm
  run classic symfony "$base/hello/bench" '"hello":"bench"'
  run classic hello "$base/hello.php" 'Hello, World!'
  stop_all
  step "nginx + php-fpm ($BENCH_FPM_CHILDREN children)"
  start_php_fpm "$BENCH_FPM_CHILDREN"
  start_nginx "$WORK/app/public" front-controller
  run nginx symfony "http://$HOST:$NGINX_PORT/hello/bench" '"hello":"bench"'
  run nginx hello "http://$HOST:$NGINX_PORT/hello.php" 'Hello, World!'
  stop_all

  report
}

main "$@"
