#!/usr/bin/env bash
# Benchmark ePHPm's built-in KV store against redis-server in one run.
#
# 1. redis-benchmark (-c 50, -P 1 and -P 16; get set incr lpush hset zadd) against ePHPm's RESP
#    listener (--cores = nproc) and against redis-server 7 (one thread, persistence off).
# 2. From PHP running in ePHPm: ephpm_kv_get (a function call into the store) vs a GET over
#    RESP to redis-server (phpredis when `extension=redis` is loadable, and a plain-socket RESP
#    client), per call.
# Prints requests/s and ratios; writes markdown to $BENCH_OUT.
#
# Settings (environment): EPHPM_BIN, BENCH_REQUESTS (redis-benchmark -n, default 400000),
# BENCH_PIPELINES (default "1 16"), BENCH_CALLS (PHP calls per client, default 20000),
# BENCH_OUT (default bench/last-kv.md), BENCH_KEEP_WORK=1.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BENCH_NAME=kv-bench
HOST=127.0.0.1
WORK=""
BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-0}
# shellcheck source=SCRIPTDIR/lib.sh
source "$BENCH_DIR/lib.sh"

CORES=$(nproc)
EPHPM_BIN_GIVEN=${EPHPM_BIN:-}
EPHPM_BIN=${EPHPM_BIN:-$ROOT/target/release/ephpm}
BENCH_REQUESTS=${BENCH_REQUESTS:-400000}
BENCH_PIPELINES=${BENCH_PIPELINES:-"1 16"}
BENCH_CALLS=${BENCH_CALLS:-20000}
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/last-kv.md}
TESTS=get,set,incr,lpush,hset,zadd
EPHPM_PORT=18280
EPHPM_KV_PORT=16390
EPHPM_DB_PORT=13390
REDIS_PORT=16391

start_redis() {
  redis-server --bind "$HOST" --port "$REDIS_PORT" --save "" --appendonly no \
    --daemonize no --dir "$WORK" >"$WORK/redis.log" 2>&1 &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_port redis-server "$SERVER_PID" "$REDIS_PORT" "$WORK/redis.log"
}

start_ephpm() {
  local unset=() name extension=()
  for name in $(compgen -e); do
    [[ $name == EPHPM_* ]] && unset+=(-u "$name")
  done
  [ -f "$("$ROOT/.cache/php/current/bin/php-config" --extension-dir)/redis.so" ] &&
    extension=(--php-ini extension=redis)
  (cd "$WORK" && exec env "${unset[@]}" EPHPM_LOG__ACCESS_LOG=off \
    EPHPM_KV__LISTEN="$HOST:$EPHPM_KV_PORT" EPHPM_DB__LISTEN="$HOST:$EPHPM_DB_PORT" \
    "$EPHPM_BIN" serve --root "$BENCH_DIR/php" --listen "$HOST:$EPHPM_PORT" --cores "$CORES" \
    "${extension[@]}" >"$WORK/ephpm.log" 2>&1) &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_port ePHPm "$SERVER_PID" "$EPHPM_KV_PORT" "$WORK/ephpm.log"
}

# redis-benchmark against $2 with pipeline $3; appends "server pipeline test rps" rows.
run_redis_benchmark() {
  local server=$1 port=$2 pipeline=$3
  redis-benchmark -h "$HOST" -p "$port" -c 50 -n "$BENCH_REQUESTS" -P "$pipeline" -t "$TESTS" \
    -r 100000 --csv 2>/dev/null |
    awk -F'"' -v s="$server" -v p="$pipeline" 'NR > 1 && $2 != "" {
      split($2, name, " "); printf "%s\t%s\t%s\t%s\n", s, p, tolower(name[1]), $4 }' >>"$RESULTS"
  printf '%s: %s -P %s done\n' "$BENCH_NAME" "$server" "$pipeline" >&2
}

measure_php_calls() {
  curl -sf "http://$HOST:$EPHPM_PORT/kv_calls.php?port=$REDIS_PORT&n=$BENCH_CALLS" >"$WORK/calls.txt" ||
    die "kv_calls.php failed (see $WORK/ephpm.log)"
  cat "$WORK/calls.txt" >&2
}

write_report() {
  {
    printf '# KV store: ePHPm vs redis-server\n\n'
    printf '%s, %s cores, redis-benchmark -c 50 -n %s -r 100000, ePHPm --cores %s\n\n' \
      "$(date -u '+%Y-%m-%d %H:%M UTC')" "$CORES" "$BENCH_REQUESTS" "$CORES"
    printf '| test | pipeline | ePHPm req/s | redis-server req/s | ratio |\n|---|---:|---:|---:|---:|\n'
    awk -F'\t' '{ rate[$1, $2, $3] = $4; if (!(($2, $3) in seen)) { seen[$2, $3] = 1; order[++n] = $2 SUBSEP $3 } }
      END { for (i = 1; i <= n; i++) { split(order[i], k, SUBSEP); e = rate["ephpm", k[1], k[2]]; r = rate["redis", k[1], k[2]]
        printf "| %s | %s | %\047.0f | %\047.0f | **%.2f** |\n", k[2], k[1], e, r, (r > 0 ? e / r : 0) } }' "$RESULTS"
    printf '\nFrom PHP (ns per call, %s calls):\n\n' "$BENCH_CALLS"
    awk '{ ns[$1] = $2 } END {
      for (k in ns) printf "- %s: %d ns\n", k, ns[k]
      if (ns["ephpm_kv_get"] > 0) {
        if ("phpredis_get" in ns) printf "- phpredis GET / ephpm_kv_get: **%.1fx**\n", ns["phpredis_get"] / ns["ephpm_kv_get"]
        printf "- socket GET / ephpm_kv_get: **%.1fx**\n", ns["socket_get"] / ns["ephpm_kv_get"]
      } }' "$WORK/calls.txt"
  } >"$BENCH_OUT"
}

main() {
  ensure_apt redis-server redis-tools curl
  if [ -z "$EPHPM_BIN_GIVEN" ]; then
    EPHPM_BIN=$(bash "$ROOT/scripts/setup.sh" --release | tail -n 1) || die "scripts/setup.sh --release failed"
  fi
  local port pipeline
  for port in "$EPHPM_PORT" "$EPHPM_KV_PORT" "$EPHPM_DB_PORT" "$REDIS_PORT"; do
    require_free_port "$port"
  done
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK=$(mktemp -d /tmp/ephpm-kv-bench.XXXXXX)
  RESULTS="$WORK/results.tsv"
  : >"$RESULTS"
  start_redis
  start_ephpm
  for pipeline in $BENCH_PIPELINES; do
    run_redis_benchmark ephpm "$EPHPM_KV_PORT" "$pipeline"
    run_redis_benchmark redis "$REDIS_PORT" "$pipeline"
  done
  measure_php_calls
  stop_all
  mkdir -p "$(dirname "$BENCH_OUT")"
  write_report
  cat "$BENCH_OUT"
}

main "$@"
