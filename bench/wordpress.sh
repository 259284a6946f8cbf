#!/usr/bin/env bash
# Benchmark the WordPress front page: ePHPm with its built-in SQLite-backed MySQL server against
# nginx + php-fpm + MariaDB, in one run.
#
# Each stack gets its own copy of Debian's WordPress with a standalone wp-config.php, is
# installed over HTTP, checked (the front page must show the site title), measured with wrk and
# stopped at the end; with BENCH_REPS the stacks take turns. Prints a table and ePHPm's ratio to the peer, and writes the same
# as markdown to $BENCH_OUT. See bench/README.md.
#
# Settings (environment):
#   EPHPM_BIN           ePHPm binary (default: built by scripts/setup.sh --release)
#   BENCH_DURATION      wrk duration per measurement (default 10s)
#   BENCH_WARMUP        wrk warm-up before each measurement (default 2s)
#   BENCH_CONNS         connection counts (default "32")
#   BENCH_REPS          repetitions; both stacks stay up and take turns going first, and the
#                       report shows the median of each measurement (default 1)
#   BENCH_FPM_CHILDREN  php-fpm pm.max_children (default 8)
#   BENCH_OUT           markdown output (default bench/last-wordpress.md)
#   BENCH_OBJECT_CACHE=0  skip the third measurement: ePHPm with kv/php/object-cache.php (the
#                       built-in KV store as WordPress's persistent object cache; default 1)
#   BENCH_SOCKET=0      skip the measurement of ePHPm with WordPress reaching the built-in
#                       database over its Unix socket (db.socket, DB_HOST=localhost:/path)
#                       instead of TCP (default 1)
#   BENCH_EPHPM_ARGS    extra arguments for `ephpm serve` (word-split), e.g.
#                       "--php-ini opcache.jit=tracing --php-ini opcache.jit_buffer_size=64M"
#   BENCH_KEEP_WORK=1   keep the temporary directory (copies, configs, logs, raw wrk outputs)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BENCH_NAME="wordpress bench"
# MariaDB flushes on shutdown: give daemons 10 s.
STOP_GRACE_TENTHS=100
# shellcheck source=SCRIPTDIR/lib.sh
source "$BENCH_DIR/lib.sh"

CORES=$(nproc)
EPHPM_BIN_GIVEN=${EPHPM_BIN:-}
EPHPM_BIN=${EPHPM_BIN:-$ROOT/target/release/ephpm}
BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_WARMUP=${BENCH_WARMUP:-2s}
BENCH_CONNS=${BENCH_CONNS:-32}
BENCH_REPS=${BENCH_REPS:-1}
BENCH_FPM_CHILDREN=${BENCH_FPM_CHILDREN:-8}
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/last-wordpress.md}
BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-0}
BENCH_OBJECT_CACHE=${BENCH_OBJECT_CACHE:-1}
BENCH_SOCKET=${BENCH_SOCKET:-1}
BENCH_EPHPM_ARGS=${BENCH_EPHPM_ARGS:-}
OBJECT_CACHE=$ROOT/kv/php/object-cache.php

HOST=127.0.0.1
EPHPM_PORT=18180
NGINX_PORT=18181
MARIADB_PORT=13406
EPHPM_DB_PORT=13407
EPHPM_KV_PORT=16407
WORDPRESS_SOURCE=/usr/share/wordpress
WP_CONFIG_TEMPLATE=$ROOT/tests/fixtures/wordpress/wp-config.php
SITE_TITLE="ePHPm WordPress bench"
WRK_TIMEOUT=30s
APT_PACKAGES=(mariadb-server nginx php8.2-fpm php8.2-mysql wordpress wordpress-theme-twentytwentythree wrk curl)

WORK=""
# Lines "server<TAB>conns<TAB>req/s<TAB>p99 ms" collected by measure(), one per repetition.
RESULTS_TSV=""
# The 1/5/15-minute load averages when the run started, recorded in the report.
LOAD_AT_START=""

# ---------------------------------------------------------------------------------------------
# WordPress sites

# A private copy of Debian's WordPress whose wp-config.php points at the given database.
make_site() {
  local dir=$1 db_host=$2
  cp -rL "$WORDPRESS_SOURCE" "$dir"
  rm -f "$dir/wp-config.php"
  sed "s/@DB_HOST@/$db_host/" "$WP_CONFIG_TEMPLATE" >"$dir/wp-config.php"
  chown -R www-data:www-data "$dir"
}

# Run WordPress's installer over HTTP, then require the front page to show the site title.
install_site() {
  local name=$1 port=$2 out="$WORK/$1.install.html" home="$WORK/$1.home.html"
  curl -sS --fail --max-time 60 -o "$out" "http://$HOST:$port/wp-admin/install.php?step=2" \
    --data-urlencode "weblog_title=$SITE_TITLE" --data-urlencode "user_name=admin" \
    --data-urlencode "admin_password=bench-password" --data-urlencode "admin_password2=bench-password" \
    --data-urlencode "pw_weak=1" --data-urlencode "admin_email=admin@example.com" \
    --data-urlencode "blog_public=0" || die "$name: WordPress install request failed"
  grep -q 'Success!' "$out" || die "$name: WordPress install did not succeed (see $out)"
  check_front_page "$name" "$port" "$home"
}

check_front_page() {
  local name=$1 port=$2 home=$3 status
  status=$(curl -sS --max-time 10 -o "$home" -w '%{http_code}' "http://$HOST:$port/") ||
    die "$name: GET / failed"
  [ "$status" = 200 ] || die "$name: GET / answered $status (see $home)"
  grep -q "$SITE_TITLE" "$home" || die "$name: the front page does not show the site title (see $home)"
  printf 'wordpress bench: %s serves the installed front page (%s bytes)\n' "$name" "$(wc -c <"$home")" >&2
}

# ---------------------------------------------------------------------------------------------
# Servers

# ePHPm reads every EPHPM_* variable as a setting and rejects unknown ones (EPHPM_BIN among
# them): the server gets only the settings below.
start_ephpm() {
  local dir="$WORK/ephpm" name unset=()
  mkdir -p "$dir"
  make_site "$dir/wordpress" "$HOST:$EPHPM_DB_PORT"
  for name in $(compgen -e); do
    [[ $name == EPHPM_* ]] && unset+=(-u "$name")
  done
  (cd "$dir" && exec env "${unset[@]}" EPHPM_LOG__ACCESS_LOG=off EPHPM_DB__LISTEN="$HOST:$EPHPM_DB_PORT" \
    EPHPM_DB__SOCKET="$dir/mysqld.sock" EPHPM_KV__LISTEN="$HOST:$EPHPM_KV_PORT" \
    EPHPM_DB__DATA_DIR="$dir/data" "$EPHPM_BIN" serve --root "$dir/wordpress" \
    --listen "$HOST:$EPHPM_PORT" --cores "$CORES" $BENCH_EPHPM_ARGS) >"$dir/server.log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  wait_port ePHPm "$pid" "$EPHPM_PORT" "$dir/server.log"
  wait_port "ePHPm database" "$pid" "$EPHPM_DB_PORT" "$dir/server.log"
}

start_mariadb() {
  local dir="$WORK/mariadb"
  mkdir -p "$dir"
  mariadb-install-db --no-defaults --user=root --datadir="$dir/data" \
    --auth-root-authentication-method=normal >"$dir/install.log" 2>&1 ||
    { tail -n 20 "$dir/install.log" >&2; die "mariadb-install-db failed"; }
  mariadbd --no-defaults --user=root --datadir="$dir/data" --socket="$dir/mariadb.sock" \
    --port="$MARIADB_PORT" --bind-address="$HOST" --pid-file="$dir/mariadb.pid" \
    --log-error="$dir/error.log" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  wait_port MariaDB "$pid" "$MARIADB_PORT" "$dir/error.log"
  mariadb --no-defaults --socket="$dir/mariadb.sock" -uroot -e 'CREATE DATABASE wordpress' ||
    die "could not create the wordpress database in MariaDB"
}

start_peer() {
  mkdir -p "$WORK/nginx-site"
  make_site "$WORK/nginx-site/wordpress" "$HOST:$MARIADB_PORT"
  start_mariadb
  start_php_fpm "$BENCH_FPM_CHILDREN"
  start_nginx "$WORK/nginx-site/wordpress" front-controller
}

# ---------------------------------------------------------------------------------------------
# Measurement and report

# wrk against / for every connection count; appends to RESULTS_TSV.
measure() {
  local key=$1 port=$2 conns out rate p99
  for conns in $BENCH_CONNS; do
    # A WordPress page under load can take longer than wrk's default 2 s timeout: a timed-out
    # request would be left out of the latency histogram instead of counted as slow.
    wrk -t1 -c"$conns" -d"$BENCH_WARMUP" --timeout "$WRK_TIMEOUT" "http://$HOST:$port/" >/dev/null
    out="$WORK/$key.c$conns.wrk"
    wrk -t1 -c"$conns" -d"$BENCH_DURATION" --timeout "$WRK_TIMEOUT" --latency "http://$HOST:$port/" >"$out"
    if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$out"; then
      cat "$out" >&2
      die "$key: wrk saw error responses or socket errors"
    fi
    rate=$(awk '/^Requests\/sec:/ {print $2}' "$out")
    p99=$(awk '$1 == "99%" { v = $2; ms = v + 0
      if (v ~ /us$/) ms /= 1000; else if (v ~ /ms$/) ms += 0; else if (v ~ /m$/) ms *= 60000
      else if (v ~ /s$/) ms *= 1000
      printf "%.2f", ms }' "$out")
    printf '%s\t%s\t%s\t%s\n' "$key" "$conns" "$rate" "$p99" >>"$RESULTS_TSV"
    printf 'wordpress bench: %-6s -c%-4s %s req/s, p99 %s ms\n' "$key" "$conns" "$rate" "$p99" >&2
  done
}

# The markdown report: the median over the repetitions of each server and connection count,
# then ePHPm's ratio to the peer.
write_report() {
  awk -F '\t' -v date="$(date -u '+%Y-%m-%d %H:%M:%S UTC')" -v cores="$CORES" \
    -v wrk="-t1 -d$BENCH_DURATION --timeout $WRK_TIMEOUT --latency after a $BENCH_WARMUP warm-up" \
    -v fpm="$BENCH_FPM_CHILDREN" -v loadavg="$LOAD_AT_START" -v reps="$BENCH_REPS" \
    -v extra="$BENCH_EPHPM_ARGS" '
    function median(key, col,    n, i, j, v, t) {
      n = count[key]
      for (i = 1; i <= n; i++) v[i] = val[key, i, col] + 0
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function row(label, key) {
      if (!(key in count)) return
      printf "| %s | %s | %.2f | %.2f | %s |\n", label, c, median(key, 3), median(key, 4), runs(key)
    }
    function runs(key,    i, out) {
      out = ""
      for (i = 1; i <= count[key]; i++) out = out (i > 1 ? ", " : "") val[key, i, 3]
      return out
    }
    function ratio(label, key, peer, peer_label) {
      if (!(key in count) || !(peer in count) || median(peer, 3) <= 0) return
      if (peer_label == "") peer_label = "nginx + php-fpm + MariaDB"
      printf "%s / %s at -c%s: %.2fx req/s, p99 %.2fx\n", label, peer_label, c,
        median(key, 3) / median(peer, 3), (median(peer, 4) > 0 ? median(key, 4) / median(peer, 4) : 0)
    }
    {
      key = $1 SUBSEP $2
      n = ++count[key]
      val[key, n, 3] = $3; val[key, n, 4] = $4
      if (!($2 in seen)) { seen[$2] = 1; order[++m] = $2 }
    }
    END {
      printf "# WordPress front page: ePHPm vs nginx + php-fpm + MariaDB\n\n"
      printf "%s, %s cores, wrk %s, GET / of a freshly installed site; %s repetition(s), medians.\n\n", date, cores, wrk, reps
      printf "- ePHPm: built-in SQLite-backed MySQL server, --cores %s%s\n", cores, (extra != "" ? " " extra : "")
      printf "- nginx + php-fpm (pm static, %s children, opcache on) + MariaDB\n", fpm
      printf "- load average before the run: %s (other work on the machine makes the numbers noisy;\n", loadavg
      printf "  compare the ratio within one run, not absolute numbers across runs)\n\n"
      printf "| server | conns | req/s | p99 ms | req/s of each repetition |\n|---|---:|---:|---:|---|\n"
      for (i = 1; i <= m; i++) {
        c = order[i]
        row("ePHPm", "ephpm" SUBSEP c)
        row("ePHPm, database over its Unix socket", "ephpm-socket" SUBSEP c)
        row("ePHPm + object-cache.php (built-in KV)", "ephpm-oc" SUBSEP c)
        row("nginx + php-fpm + MariaDB", "nginx" SUBSEP c)
      }
      printf "\n"
      for (i = 1; i <= m; i++) {
        c = order[i]
        ratio("ePHPm", "ephpm" SUBSEP c, "nginx" SUBSEP c)
        ratio("ePHPm, database over its Unix socket", "ephpm-socket" SUBSEP c, "nginx" SUBSEP c)
        ratio("ePHPm, database over its Unix socket", "ephpm-socket" SUBSEP c, "ephpm" SUBSEP c, "ePHPm over TCP")
        ratio("ePHPm + object cache", "ephpm-oc" SUBSEP c, "nginx" SUBSEP c)
      }
    }' "$RESULTS_TSV" >"$BENCH_OUT"
}

# Points ePHPm's WordPress at its database over TCP or over the Unix socket.
ephpm_db_host() {
  local host=$1
  sed -i "s|define( 'DB_HOST', '[^']*' );|define( 'DB_HOST', '$host' );|" \
    "$WORK/ephpm/wordpress/wp-config.php"
}

# ePHPm's measurements: as installed; (BENCH_SOCKET=1) with WordPress reaching the database over
# its Unix socket; then (BENCH_OBJECT_CACHE=1) with the object-cache.php drop-in, which is
# removed again afterwards so the next repetition starts as installed.
measure_ephpm() {
  local drop_in="$WORK/ephpm/wordpress/wp-content/object-cache.php"
  measure ephpm "$EPHPM_PORT"
  if [ "$BENCH_SOCKET" = 1 ]; then
    ephpm_db_host "localhost:$WORK/ephpm/mysqld.sock"
    check_front_page ephpm-socket "$EPHPM_PORT" "$WORK/ephpm-socket.home.html"
    measure ephpm-socket "$EPHPM_PORT"
    ephpm_db_host "$HOST:$EPHPM_DB_PORT"
  fi
  [ "$BENCH_OBJECT_CACHE" = 1 ] || return 0
  install -m 644 -o www-data -g www-data "$OBJECT_CACHE" "$drop_in"
  check_front_page ephpm-oc "$EPHPM_PORT" "$WORK/ephpm-oc.home.html"
  measure ephpm-oc "$EPHPM_PORT"
  rm -f "$drop_in"
}

locate_ephpm() {
  if [ -z "$EPHPM_BIN_GIVEN" ]; then
    EPHPM_BIN=$(bash "$ROOT/scripts/setup.sh" --release | tail -n 1) || die "scripts/setup.sh --release failed"
  fi
  [ -x "$EPHPM_BIN" ] || die "no executable ePHPm at $EPHPM_BIN (build it or set EPHPM_BIN)"
}

main() {
  ensure_apt "${APT_PACKAGES[@]}"
  [ -d "$WORDPRESS_SOURCE" ] || die "WordPress not found in $WORDPRESS_SOURCE"
  local port
  for port in "$EPHPM_PORT" "$EPHPM_DB_PORT" "$EPHPM_KV_PORT" "$NGINX_PORT" "$MARIADB_PORT"; do
    require_free_port "$port"
  done
  locate_ephpm
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK=$(mktemp -d /tmp/ephpm-wordpress-bench.XXXXXX)
  chmod 755 "$WORK"
  LOAD_AT_START=$(cut -d ' ' -f 1-3 /proc/loadavg)
  RESULTS_TSV="$WORK/results.tsv"
  : >"$RESULTS_TSV"

  step "ePHPm + built-in database on $HOST:$EPHPM_PORT (database $HOST:$EPHPM_DB_PORT)"
  start_ephpm
  install_site ephpm "$EPHPM_PORT"
  step "nginx + php-fpm ($BENCH_FPM_CHILDREN children) on $HOST:$NGINX_PORT, MariaDB on $HOST:$MARIADB_PORT"
  start_peer
  install_site nginx "$NGINX_PORT"

  local rep
  for ((rep = 1; rep <= BENCH_REPS; rep++)); do
    step "repetition $rep of $BENCH_REPS"
    if ((rep % 2)); then
      measure_ephpm
      measure nginx "$NGINX_PORT"
    else
      measure nginx "$NGINX_PORT"
      measure_ephpm
    fi
  done
  stop_all

  step "results"
  mkdir -p "$(dirname "$BENCH_OUT")"
  write_report
  cat "$BENCH_OUT"
}

main "$@"
