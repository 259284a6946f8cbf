#!/usr/bin/env bash
# Benchmark ePHPm against nginx + php-fpm and apache2 + mod_php on the same PHP pages.
#
# One run installs what is missing (apt), starts each server in turn on loopback with private
# configs in a temporary directory, checks it serves the right bodies, measures it with wrk,
# optionally measures idle keep-alive memory, stops it, and finally prints a table plus ePHPm's
# ratio to each peer, also written as markdown to $BENCH_OUT. See bench/README.md.
#
# Settings (environment):
#   EPHPM_BIN           ePHPm binary (default: built by scripts/setup.sh --release)
#   BENCH_PEERS_ONLY=1  skip ePHPm even when the binary exists
#   BENCH_SERVERS       servers to run, in order (default "ephpm nginx apache")
#   BENCH_DURATION      wrk duration per measurement (default 10s)
#   BENCH_WARMUP        wrk warm-up before each measurement (default 2s)
#   BENCH_CONNS         connection counts (default "32 256")
#   BENCH_REPS          repetitions per measurement; the report shows medians (default 1)
#   BENCH_OUT           markdown output (default bench/last-run.md)
#   BENCH_IDLE=0        skip the idle keep-alive memory test (default 1: ePHPm and nginx)
#   BENCH_IDLE_CONNS    connections held by the idle test (default 10000)
#   BENCH_FPM_CHILDREN  php-fpm pm.max_children (default 4 x nproc)
#   BENCH_FPM_TUNE=1    first measure 2x/4x/8x nproc children briefly and use the fastest
#   BENCH_APACHE_WORKERS  apache prefork processes, fixed pool (default 256)
#   BENCH_EPHPM_ARGS    extra arguments for `ephpm serve` (word-split)
#   BENCH_TLS=1         measure over HTTPS (HTTP/1.1): ePHPm's [server.tls] and nginx with
#                       `listen ... ssl`, the same self-signed ECDSA P-256 certificate, TLS 1.2 +
#                       1.3; apache is left out and the idle test is skipped
#   BENCH_KEEP_WORK=1   keep the temporary directory (configs, logs, raw wrk outputs)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BENCH_NAME=bench
# shellcheck source=SCRIPTDIR/lib.sh
source "$BENCH_DIR/lib.sh"

CORES=$(nproc)
# Without EPHPM_BIN, scripts/setup.sh builds (or finds) the release binary.
EPHPM_BIN_GIVEN=${EPHPM_BIN:-}
EPHPM_BIN=${EPHPM_BIN:-$ROOT/target/release/ephpm}
BENCH_PEERS_ONLY=${BENCH_PEERS_ONLY:-0}
BENCH_SERVERS=${BENCH_SERVERS:-"ephpm nginx apache"}
BENCH_DURATION=${BENCH_DURATION:-10s}
BENCH_WARMUP=${BENCH_WARMUP:-2s}
BENCH_CONNS=${BENCH_CONNS:-"32 256"}
BENCH_REPS=${BENCH_REPS:-1}
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/last-run.md}
BENCH_IDLE=${BENCH_IDLE:-1}
BENCH_IDLE_CONNS=${BENCH_IDLE_CONNS:-10000}
BENCH_FPM_CHILDREN=${BENCH_FPM_CHILDREN:-$((4 * CORES))}
BENCH_FPM_TUNE=${BENCH_FPM_TUNE:-0}
BENCH_APACHE_WORKERS=${BENCH_APACHE_WORKERS:-256}
BENCH_EPHPM_ARGS=${BENCH_EPHPM_ARGS:-}
BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-0}
BENCH_TLS=${BENCH_TLS:-0}

PAGES=(hello.php heavy.php)
EPHPM_PORT=18080
NGINX_PORT=18081
APACHE_PORT=18082
EPHPM_TLS_PORT=18443
HOST=127.0.0.1
WANTED_FDS=65536
APT_PACKAGES=(nginx php8.2-fpm php8.2-cli apache2 libapache2-mod-php8.2 wrk procps curl)

WORK=""
DOCROOT=""
RESULTS=""
# http, or https with BENCH_TLS=1 (then curl trusts the bench's own certificate).
SCHEME=http
CURL_TLS=()

# ---------------------------------------------------------------------------------------------
# Setup

raise_fd_limit() {
  local hard
  hard=$(ulimit -Hn)
  local target=$WANTED_FDS
  if [ "$hard" != unlimited ] && [ "$hard" -lt "$target" ]; then
    target=$hard
  fi
  ulimit -n "$target"
  if [ "$BENCH_IDLE" = 1 ] && [ "$target" -lt $((BENCH_IDLE_CONNS + 1024)) ]; then
    die "open-files limit $target is too low for BENCH_IDLE_CONNS=$BENCH_IDLE_CONNS"
  fi
}

# The document root: bench/php itself when the daemons' user (www-data) can read it, else a copy.
prepare_docroot() {
  DOCROOT="$BENCH_DIR/php"
  local page
  for page in "${PAGES[@]}"; do
    if ! runuser -u www-data -- test -r "$DOCROOT/$page"; then
      DOCROOT="$WORK/php"
      mkdir -p "$DOCROOT"
      cp "$BENCH_DIR"/php/*.php "$DOCROOT/"
      chmod -R a+rX "$DOCROOT"
      step "www-data cannot read bench/php: serving a copy from $DOCROOT"
      return 0
    fi
  done
}

# The bodies every server must return, rendered by the PHP CLI from the same files.
prepare_expected() {
  mkdir -p "$WORK/expected"
  local page
  for page in "${PAGES[@]}"; do
    php8.2 "$BENCH_DIR/php/$page" >"$WORK/expected/$page"
  done
}

write_meta() {
  local versions
  versions="nginx $(dpkg-query -W -f='${Version}' nginx), php8.2-fpm $(dpkg-query -W -f='${Version}' php8.2-fpm)"
  versions+=", apache2 $(dpkg-query -W -f='${Version}' apache2), wrk $(dpkg-query -W -f='${Version}' wrk)"
  {
    printf 'date\t%s\n' "$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    printf 'machine\t%s cores, %s, kernel %s\n' "$CORES" \
      "$(awk '/MemTotal/ {printf "%.0f GiB RAM", $2 / 1048576}' /proc/meminfo)" "$(uname -r)"
    printf 'wrk\t-t1 -c<conns> -d%s --latency after a %s warm-up, keep-alive, %s repetition(s), median\n' \
      "$BENCH_DURATION" "$BENCH_WARMUP" "$BENCH_REPS"
    printf 'peers\t%s\n' "$versions"
    printf 'php-fpm\tpm static, %s children, opcache on, nginx fastcgi over a unix socket\n' "$BENCH_FPM_CHILDREN"
    printf 'apache2\tmpm_prefork, %s processes, mod_php, opcache on\n' "$BENCH_APACHE_WORKERS"
    printf 'ePHPm\t%s\n' "$EPHPM_NOTE"
    if [ "$BENCH_TLS" = 1 ]; then
      printf 'tls\tHTTPS (HTTP/1.1), one self-signed ECDSA P-256 certificate, TLS 1.2 and 1.3, wrk (OpenSSL %s) negotiates; nginx: ssl_session_cache shared\n' \
        "$(openssl version | awk '{print $2}')"
    fi
    printf 'noise\tcompare ratios within this run only, never absolute numbers across runs\n'
  } >"$RESULTS/meta.tsv"
}

# ---------------------------------------------------------------------------------------------
# Server configs and starters. Each starter leaves the daemon's PID in STARTED_PIDS and in
# the variable SERVER_PID (the process whose tree holds the client connections).

start_nginx_fpm() {
  start_php_fpm "$1"
  start_nginx "$DOCROOT"
}

start_apache() {
  local dir="$WORK/apache" modules=/usr/lib/apache2/modules workers=$BENCH_APACHE_WORKERS
  mkdir -p "$dir"
  cat >"$dir/httpd.conf" <<EOF
ServerRoot $dir
ServerName $HOST
Listen $HOST:$APACHE_PORT
ListenBacklog 4096
PidFile $dir/httpd.pid
DefaultRuntimeDir $dir
Mutex file:$dir default
ErrorLog $dir/error.log
LogLevel warn
User www-data
Group www-data

LoadModule mpm_prefork_module $modules/mod_mpm_prefork.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule mime_module $modules/mod_mime.so
LoadModule php_module $modules/libphp8.2.so

StartServers $workers
MinSpareServers $workers
MaxSpareServers $workers
ServerLimit $workers
MaxRequestWorkers $workers
MaxConnectionsPerChild 0

KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 120
Timeout 60

TypesConfig /etc/mime.types
DocumentRoot $DOCROOT
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory $DOCROOT>
    AllowOverride None
    Require all granted
</Directory>
<FilesMatch "\.php\$">
    SetHandler application/x-httpd-php
</FilesMatch>
php_admin_value opcache.enable 1
EOF
  # apache2 -DFOREGROUND kills its whole process group on SIGTERM: give it a group of its own.
  setsid apache2 -f "$dir/httpd.conf" -DFOREGROUND >"$dir/stdout.log" 2>&1 &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_port apache2 "$SERVER_PID" "$APACHE_PORT" "$dir/error.log"
  local from_file
  from_file=$(cat "$dir/httpd.pid")
  [ "$from_file" = "$SERVER_PID" ] || die "apache2 pid $from_file is not the started pid $SERVER_PID"
}

start_ephpm() {
  local dir="$WORK/ephpm" extra=()
  mkdir -p "$dir"
  # shellcheck disable=SC2206 # BENCH_EPHPM_ARGS is a word-split list on purpose
  [ -n "$BENCH_EPHPM_ARGS" ] && extra=($BENCH_EPHPM_ARGS)
  if [ "$BENCH_TLS" = 1 ]; then
    extra+=(--tls-cert "$WORK/tls.crt" --tls-key "$WORK/tls.key")
    export EPHPM_SERVER__TLS__LISTEN="$HOST:$EPHPM_TLS_PORT"
  fi
  # Like the peers, no access log: the bench measures serving, not log writing.
  # ePHPm reads every EPHPM_* variable as configuration: pass none of ours (EPHPM_BIN).
  (cd "$ROOT" && exec env -u EPHPM_BIN EPHPM_LOG__ACCESS_LOG=off "$EPHPM_BIN" serve --root "$BENCH_DIR/php" --listen "$HOST:$EPHPM_PORT" \
    --cores "$CORES" "${extra[@]}") >"$dir/server.log" 2>&1 &
  SERVER_PID=$!
  unset EPHPM_SERVER__TLS__LISTEN
  STARTED_PIDS+=("$SERVER_PID")
  wait_port ePHPm "$SERVER_PID" "$(port_of ephpm)" "$dir/server.log"
}

# The certificate both servers present with BENCH_TLS=1.
make_certificate() {
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:$HOST" \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" 2>/dev/null || die "openssl req failed"
  chmod 644 "$WORK/tls.key"
  NGINX_TLS_CERT="$WORK/tls.crt"
  NGINX_TLS_KEY="$WORK/tls.key"
  SCHEME=https
  CURL_TLS=(--cacert "$WORK/tls.crt")
}

# ---------------------------------------------------------------------------------------------
# Checks and measurements

# Every page must return exactly the CLI-rendered body, heavy.php with a JSON content type,
# and a second request must reuse the connection (keep-alive).
check_server() {
  local name=$1 port=$2 page got="$WORK/check"
  mkdir -p "$got"
  for page in "${PAGES[@]}"; do
    curl -sS --fail --max-time 5 "${CURL_TLS[@]}" -D "$got/$name.$page.headers" -o "$got/$name.$page" \
      "$SCHEME://$HOST:$port/$page" || die "$name: GET /$page failed"
    cmp -s "$got/$name.$page" "$WORK/expected/$page" ||
      die "$name: /$page body differs from the expected output (see $got/$name.$page)"
  done
  grep -qi '^content-type: *application/json' "$got/$name.heavy.php.headers" ||
    die "$name: /heavy.php is not served as application/json"
  curl -sv --max-time 5 "${CURL_TLS[@]}" -o /dev/null -o /dev/null "$SCHEME://$HOST:$port/hello.php" \
    "$SCHEME://$HOST:$port/hello.php" 2>"$got/$name.keepalive" || die "$name: keep-alive check failed"
  grep -qi 're-using existing connection' "$got/$name.keepalive" ||
    die "$name: the second request did not reuse the connection (no keep-alive)"
  printf 'bench: %s serves the expected bodies, keep-alive works\n' "$name" >&2
}

# wrk against every page and connection count; raw outputs go to $RESULTS.
measure_server() {
  local key=$1 port=$2 page conns rep url out
  for page in "${PAGES[@]}"; do
    url="$SCHEME://$HOST:$port/$page"
    for conns in $BENCH_CONNS; do
      for ((rep = 1; rep <= BENCH_REPS; rep++)); do
        wrk -t1 -c"$conns" -d"$BENCH_WARMUP" "$url" >/dev/null
        out="$RESULTS/${key}__${page}__c${conns}__r${rep}.wrk"
        wrk -t1 -c"$conns" -d"$BENCH_DURATION" --latency "$url" >"$out"
        printf 'bench: %-6s %-9s -c%-4s %s req/s, p99 %s\n' "$key" "$page" "$conns" \
          "$(awk '/^Requests\/sec:/ {print $2}' "$out")" "$(awk '$1 == "99%" {print $2}' "$out")" >&2
      done
    done
  done
}

measure_idle() {
  local key=$1 port=$2 pid=$3
  [ "$BENCH_IDLE" = 1 ] || return 0
  step "$key: $BENCH_IDLE_CONNS idle keep-alive connections"
  python3 "$BENCH_DIR/idle_conns.py" --host "$HOST" --port "$port" --pid "$pid" \
    --conns "$BENCH_IDLE_CONNS" --json "$RESULTS/$key.idle.json" ||
    die "$key: idle keep-alive test failed"
}

# Measure 2x/4x/8x nproc php-fpm children with short hello.php runs and set
# BENCH_FPM_CHILDREN to the fastest count.
tune_fpm_children() {
  local factor children best_rate=0 rate out="$WORK/tune.wrk"
  require_free_port "$NGINX_PORT"
  for factor in 2 4 8; do
    children=$((factor * CORES))
    start_nginx_fpm "$children"
    wrk -t1 -c32 -d1s "http://$HOST:$NGINX_PORT/hello.php" >/dev/null
    wrk -t1 -c32 -d4s "http://$HOST:$NGINX_PORT/hello.php" >"$out"
    rate=$(awk '/^Requests\/sec:/ {printf "%d", $2}' "$out")
    printf 'bench: php-fpm with %s children: %s req/s (hello.php, -c32)\n' "$children" "$rate" >&2
    if [ "$rate" -gt "$best_rate" ]; then
      BENCH_FPM_CHILDREN=$children
      best_rate=$rate
    fi
    stop_all
  done
}

# The loopback port a server key listens on.
port_of() {
  case $1 in
    ephpm) if [ "$BENCH_TLS" = 1 ]; then echo "$EPHPM_TLS_PORT"; else echo "$EPHPM_PORT"; fi ;;
    nginx) echo "$NGINX_PORT" ;;
    apache) echo "$APACHE_PORT" ;;
    *) die "unknown server '$1' in BENCH_SERVERS (known: ephpm nginx apache)" ;;
  esac
}

# Percentage of CPU time the machine spent busy over one second (before a server starts, this is
# other people's load: it makes the numbers noisy).
cpu_busy_percent() {
  local before after
  before=$(head -n 1 /proc/stat)
  sleep 1
  after=$(head -n 1 /proc/stat)
  awk -v a="$before" -v b="$after" 'BEGIN {
    n = split(a, x); split(b, y); total = 0
    for (i = 2; i <= n; i++) total += y[i] - x[i]
    idle = (y[5] - x[5]) + (y[6] - x[6])
    printf "%d", (total > 0 ? 100 * (total - idle) / total : 0)
  }'
}

# Record (and warn about) CPU load from other processes before a server is measured.
note_background_load() {
  local key=$1 busy
  busy=$(cpu_busy_percent)
  printf 'background CPU before %s\t%s%%\n' "$key" "$busy" >>"$RESULTS/meta.tsv"
  if [ "$busy" -gt 10 ]; then
    printf 'bench: WARNING: the machine is %s%% busy before %s starts: its numbers will be noisy\n' \
      "$busy" "$key" >&2
  fi
}

# Start, check, measure and stop one server.
run_server() {
  local key=$1
  note_background_load "$key"
  case $key in
    ephpm)
      local port
      port=$(port_of ephpm)
      step "ePHPm ($EPHPM_BIN) on $SCHEME://$HOST:$port"
      start_ephpm
      check_server ephpm "$port"
      measure_server ephpm "$port"
      measure_idle ephpm "$port" "$SERVER_PID"
      ;;
    nginx)
      step "nginx + php-fpm ($BENCH_FPM_CHILDREN children) on $HOST:$NGINX_PORT"
      start_nginx_fpm "$BENCH_FPM_CHILDREN"
      check_server nginx "$NGINX_PORT"
      measure_server nginx "$NGINX_PORT"
      measure_idle nginx "$NGINX_PORT" "$SERVER_PID"
      ;;
    apache)
      step "apache2 prefork + mod_php ($BENCH_APACHE_WORKERS processes) on $HOST:$APACHE_PORT"
      start_apache
      check_server apache "$APACHE_PORT"
      measure_server apache "$APACHE_PORT"
      ;;
    *) die "unknown server '$key' in BENCH_SERVERS (known: ephpm nginx apache)" ;;
  esac
  stop_all
}

# Whether ePHPm takes part, with the reason recorded for the report.
EPHPM_NOTE=""
decide_ephpm() {
  if [ "$BENCH_PEERS_ONLY" = 1 ]; then
    EPHPM_NOTE="skipped (BENCH_PEERS_ONLY=1)"
  elif [ -z "${EPHPM_BIN_GIVEN:-}" ] && ! EPHPM_BIN=$(bash "$ROOT/scripts/setup.sh" --release | tail -n 1); then
    EPHPM_NOTE="skipped: scripts/setup.sh --release failed"
  elif [ ! -x "$EPHPM_BIN" ]; then
    EPHPM_NOTE="skipped: no executable at $EPHPM_BIN (build it or set EPHPM_BIN)"
  else
    EPHPM_NOTE="$EPHPM_BIN serve --root bench/php --listen $HOST:$EPHPM_PORT --cores $CORES${BENCH_EPHPM_ARGS:+ $BENCH_EPHPM_ARGS}"
    [ "$BENCH_TLS" = 1 ] && EPHPM_NOTE+=" --tls-cert tls.crt --tls-key tls.key (server.tls.listen $HOST:$EPHPM_TLS_PORT)"
    return 0
  fi
  step "ePHPm $EPHPM_NOTE"
  return 1
}

main() {
  ensure_apt "${APT_PACKAGES[@]}"
  raise_fd_limit
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK=$(mktemp -d /tmp/ephpm-bench.XXXXXX)
  chmod 755 "$WORK"
  RESULTS="$WORK/results"
  mkdir -p "$RESULTS"
  prepare_docroot
  prepare_expected
  if [ "$BENCH_TLS" = 1 ]; then
    make_certificate
    BENCH_IDLE=0
  fi

  local servers=() key
  for key in $BENCH_SERVERS; do
    case $key in
      ephpm | nginx) ;;
      apache) [ "$BENCH_TLS" = 1 ] && { step "apache2 skipped (no TLS setup in BENCH_TLS mode)"; continue; } ;;
      *) die "unknown server '$key' in BENCH_SERVERS (known: ephpm nginx apache)" ;;
    esac
    if [ "$key" = ephpm ]; then
      decide_ephpm || continue
    fi
    servers+=("$key")
  done
  [ ${#servers[@]} -gt 0 ] || die "no server to run"
  for key in "${servers[@]}"; do
    require_free_port "$(port_of "$key")"
  done
  [ -n "$EPHPM_NOTE" ] || EPHPM_NOTE="not in BENCH_SERVERS"

  if [ "$BENCH_FPM_TUNE" = 1 ]; then
    step "tuning php-fpm pm.max_children (2x/4x/8x of $CORES cores)"
    tune_fpm_children
    printf 'bench: using %s php-fpm children\n' "$BENCH_FPM_CHILDREN" >&2
  fi
  write_meta

  for key in "${servers[@]}"; do
    run_server "$key"
  done

  step "results"
  mkdir -p "$(dirname "$BENCH_OUT")"
  python3 "$BENCH_DIR/report.py" "$RESULTS" --out "$BENCH_OUT"
}

main "$@"
