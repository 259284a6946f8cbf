#!/usr/bin/env bash
# Benchmark HTTPS and HTTP/2: ePHPm against nginx + php-fpm, both with TLS, in one run.
#
# Both servers present the same self-signed ECDSA P-256 certificate, speak TLS 1.2 and 1.3 and
# let the client negotiate (TLS 1.3, TLS_AES_256_GCM_SHA384 with OpenSSL's client), and serve
# the same document root: bench/php (hello.php) plus an 8 KiB static file. For each server in
# turn it measures
#   h1       wrk -t1 -c32 over HTTPS (HTTP/1.1, keep-alive)          hello.php, static.txt
#   h2       h2load -t1 -c32 -m10 over HTTPS (ALPN h2)                hello.php, static.txt
#   handshakes  h2load -c<n> -n<n>: one request per new TLS connection (full handshakes/s)
# and prints each rate and ePHPm's ratio, also written as markdown to $BENCH_OUT.
#
# Settings (environment): EPHPM_BIN (default: built by scripts/setup.sh --release),
# BENCH_DURATION (seconds per measurement, default 8), BENCH_WARMUP (seconds, default 2),
# BENCH_REPS (repetitions, median reported, default 2), BENCH_HANDSHAKES (connections per
# handshake run, default 2000), BENCH_FPM_CHILDREN (default 4 x nproc),
# BENCH_OUT (default bench/last-h2.md), BENCH_KEEP_WORK=1.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BENCH_NAME=h2-bench
HOST=127.0.0.1
WORK=""
BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-0}
NGINX_PORT=18481
# shellcheck source=SCRIPTDIR/lib.sh
source "$BENCH_DIR/lib.sh"

CORES=$(nproc)
EPHPM_BIN_GIVEN=${EPHPM_BIN:-}
EPHPM_BIN=${EPHPM_BIN:-$ROOT/target/release/ephpm}
BENCH_DURATION=${BENCH_DURATION:-8}
BENCH_WARMUP=${BENCH_WARMUP:-2}
BENCH_REPS=${BENCH_REPS:-2}
BENCH_HANDSHAKES=${BENCH_HANDSHAKES:-2000}
BENCH_FPM_CHILDREN=${BENCH_FPM_CHILDREN:-$((4 * CORES))}
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/last-h2.md}
EPHPM_PORT=18480
EPHPM_TLS_PORT=18483
MEASURES=(h1:hello.php h1:static.txt h2:hello.php h2:static.txt handshakes:hello.php)

start_ephpm() {
  local unset=() name
  for name in $(compgen -e); do
    [[ $name == EPHPM_* ]] && unset+=(-u "$name")
  done
  (cd "$WORK" && exec env "${unset[@]}" EPHPM_LOG__ACCESS_LOG=off \
    EPHPM_SERVER__TLS__LISTEN="$HOST:$EPHPM_TLS_PORT" \
    "$EPHPM_BIN" serve --root "$WORK/php" --listen "$HOST:$EPHPM_PORT" --cores "$CORES" \
    --tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key" >"$WORK/ephpm.log" 2>&1) &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_port ePHPm "$SERVER_PID" "$EPHPM_TLS_PORT" "$WORK/ephpm.log"
}

# The document root both servers share, readable by www-data.
prepare_docroot() {
  mkdir -p "$WORK/php"
  cp "$BENCH_DIR/php/hello.php" "$WORK/php/"
  # 8 KiB of text, as a typical stylesheet.
  awk 'BEGIN { for (i = 0; i < 128; i++) printf "%063d\n", i }' >"$WORK/php/static.txt"
  chmod -R a+rX "$WORK"
}

make_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:$HOST" \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null || die "openssl req failed"
  chmod 644 "$WORK/tls.key"
}

# Both protocols must work and give the same bodies before anything is measured.
check_server() {
  local name=$1 port=$2 file proto
  for file in hello.php static.txt; do
    for proto in --http1.1 --http2; do
      curl -sS --fail --max-time 5 --cacert "$WORK/tls.crt" "$proto" \
        "https://$HOST:$port/$file" -o "$WORK/$name.$file" || die "$name: GET /$file ($proto) failed"
    done
  done
  cmp -s "$WORK/$name.static.txt" "$WORK/php/static.txt" || die "$name: static.txt differs"
  [ "$(curl -s --cacert "$WORK/tls.crt" --http2 -o /dev/null -w '%{http_version}' "https://$HOST:$port/hello.php")" = 2 ] ||
    die "$name: no HTTP/2 by ALPN"
}

# One measurement: prints requests (or handshakes) per second.
measure() {
  local kind=$1 file=$2 port=$3 url="https://$HOST:$3/$2" out
  case $kind in
    h1)
      wrk -t1 -c32 -d"${BENCH_WARMUP}s" "$url" >/dev/null
      wrk -t1 -c32 -d"${BENCH_DURATION}s" "$url" | awk '/^Requests\/sec:/ {printf "%d\n", $2}'
      ;;
    h2)
      h2load -t1 -c32 -m10 -D "$BENCH_DURATION" --warm-up-time "$BENCH_WARMUP" "$url" >"$WORK/h2load.out" 2>&1 || true
      out=$(awk '/^finished in/ {gsub(",", "", $4); printf "%d\n", $4}' "$WORK/h2load.out")
      grep -q ' 0 failed, 0 errored' "$WORK/h2load.out" || die "h2load reported failures: $(cat "$WORK/h2load.out")"
      echo "$out"
      ;;
    handshakes)
      h2load -t1 -c"$BENCH_HANDSHAKES" -n"$BENCH_HANDSHAKES" -m1 "$url" >"$WORK/h2load.out" 2>&1 || true
      grep -q ' 0 failed, 0 errored' "$WORK/h2load.out" || die "h2load reported failures: $(cat "$WORK/h2load.out")"
      awk '/^finished in/ {gsub(",", "", $4); printf "%d\n", $4}' "$WORK/h2load.out"
      ;;
  esac
}

# The median of the numbers on stdin.
median() {
  sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else printf "%d\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

run_server() {
  local name=$1 port=$2 measure kind file rep
  check_server "$name" "$port"
  for measure in "${MEASURES[@]}"; do
    kind=${measure%%:*}
    file=${measure#*:}
    for ((rep = 1; rep <= BENCH_REPS; rep++)); do
      measure "$kind" "$file" "$port"
    done | median >"$WORK/result.$name.$kind.$file"
    printf '%s: %-6s %-10s %-11s %s/s\n' "$BENCH_NAME" "$name" "$kind" "$file" "$(cat "$WORK/result.$name.$kind.$file")" >&2
  done
}

report() {
  local measure kind file ours theirs
  {
    printf '# HTTPS and HTTP/2: ePHPm vs nginx + php-fpm\n\n'
    printf -- '- date: %s; %s cores; kernel %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$CORES" "$(uname -r)"
    printf -- '- nginx %s (ssl http2, ssl_session_cache shared), php-fpm %s (pm static, %s children)\n' \
      "$(dpkg-query -W -f='${Version}' nginx)" "$(dpkg-query -W -f='${Version}' php8.2-fpm)" "$BENCH_FPM_CHILDREN"
    printf -- '- both: one self-signed ECDSA P-256 certificate, TLS 1.2 + 1.3; h1 = wrk -t1 -c32, h2 = h2load -t1 -c32 -m10, %s s after %s s warm-up, median of %s; handshakes = h2load -c%s -n%s (one request per connection)\n\n' \
      "$BENCH_DURATION" "$BENCH_WARMUP" "$BENCH_REPS" "$BENCH_HANDSHAKES" "$BENCH_HANDSHAKES"
    printf '| measure | ePHPm /s | nginx + php-fpm /s | ratio |\n|---|---:|---:|---:|\n'
    for measure in "${MEASURES[@]}"; do
      kind=${measure%%:*}
      file=${measure#*:}
      ours=$(cat "$WORK/result.ephpm.$kind.$file")
      theirs=$(cat "$WORK/result.nginx.$kind.$file")
      printf '| %s %s | %s | %s | %sx |\n' "$kind" "$file" "$ours" "$theirs" \
        "$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')"
    done
  } >"$BENCH_OUT"
  cat "$BENCH_OUT"
}

main() {
  ensure_apt nginx php8.2-fpm wrk nghttp2-client openssl curl
  ulimit -n 65536 2>/dev/null || true
  if [ -z "$EPHPM_BIN_GIVEN" ]; then
    EPHPM_BIN=$(bash "$ROOT/scripts/setup.sh" --release | tail -n 1)
  fi
  [ -x "$EPHPM_BIN" ] || die "no ePHPm binary at $EPHPM_BIN"
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK=$(mktemp -d /tmp/ephpm-h2-bench.XXXXXX)
  chmod 755 "$WORK"
  prepare_docroot
  make_certificate
  require_free_port "$EPHPM_PORT"
  require_free_port "$EPHPM_TLS_PORT"
  require_free_port "$NGINX_PORT"

  step "ePHPm on https://$HOST:$EPHPM_TLS_PORT"
  start_ephpm
  run_server ephpm "$EPHPM_TLS_PORT"
  stop_all

  step "nginx + php-fpm on https://$HOST:$NGINX_PORT"
  NGINX_TLS_CERT="$WORK/tls.crt" NGINX_TLS_KEY="$WORK/tls.key" NGINX_HTTP2=1
  start_php_fpm "$BENCH_FPM_CHILDREN"
  start_nginx "$WORK/php"
  run_server nginx "$NGINX_PORT"
  stop_all

  report
}

main "$@"
