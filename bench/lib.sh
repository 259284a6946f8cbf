#!/usr/bin/env bash
# Shared by the benchmark scripts (run.sh, wordpress.sh): daemon lifecycle and the nginx +
# php-fpm peer. Source it after setting:
#   BENCH_NAME  prefix of messages          WORK             temporary work directory
#   HOST        loopback address            NGINX_PORT       nginx's port
#   CORES       nginx worker processes      BENCH_KEEP_WORK  1 keeps WORK after success
# It defines STARTED_PIDS (daemons to stop, newest last) and SERVER_PID (the last server).

STARTED_PIDS=()
SERVER_PID=""
# Tenths of a second a daemon gets between SIGTERM and SIGKILL.
STOP_GRACE_TENTHS=${STOP_GRACE_TENTHS:-50}

die() {
  printf '%s: FAILED: %s\n' "$BENCH_NAME" "$*" >&2
  exit 1
}

# Stop one process we started: SIGTERM, a grace period, then SIGKILL. A process that leads its
# own process group (apache under setsid) has the rest of its group killed afterwards.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_GRACE_TENTHS; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    kill -KILL "$pid" 2>/dev/null || true
  fi
  if kill -0 -- "-$pid" 2>/dev/null; then
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# Stop every daemon started so far, newest first.
stop_all() {
  local i
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${STARTED_PIDS[i]}"
  done
  STARTED_PIDS=()
}

# EXIT/INT/TERM trap: stop the daemons; remove WORK unless the run failed or BENCH_KEEP_WORK=1.
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  stop_all
  if [ -n "$WORK" ] && [ -d "$WORK" ]; then
    # Keep it for a look after a failure (not after Ctrl-C or SIGTERM) or when asked to.
    if [ "$BENCH_KEEP_WORK" = 1 ] || { [ "$status" -ne 0 ] && [ "$status" -ne 130 ] && [ "$status" -ne 143 ]; }; then
      printf '%s: work directory kept: %s\n' "$BENCH_NAME" "$WORK" >&2
    else
      rm -rf "$WORK"
    fi
  fi
  exit "$status"
}

# Fail when something already listens on the port (a stale server would be measured instead).
require_free_port() {
  if (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; then
    die "port $1 is already in use"
  fi
}

# Wait up to 30 s until a TCP port accepts connections while the process lives, or fail with
# its log.
wait_port() {
  local name=$1 pid=$2 port=$3 log=$4 i
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 20 "$log" >&2 || true; die "$name exited during startup"; }
    (exec 3<>"/dev/tcp/$HOST/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  tail -n 20 "$log" >&2 || true
  die "$name did not listen on $HOST:$port within 30 s"
}

# php-fpm with a static pool of $1 children (opcache on) on $WORK/php-fpm/php-fpm.sock.
start_php_fpm() {
  local children=$1 dir="$WORK/php-fpm" i
  mkdir -p "$dir"
  chown www-data:www-data "$dir"
  cat >"$dir/php-fpm.conf" <<CONF
[global]
pid = $dir/php-fpm.pid
error_log = $dir/error.log
daemonize = no
rlimit_files = $(ulimit -n)

[bench]
user = www-data
group = www-data
listen = $dir/php-fpm.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
listen.backlog = 4096
pm = static
pm.max_children = $children
pm.max_requests = 0
php_admin_value[opcache.enable] = 1
CONF
  php-fpm8.2 --nodaemonize --fpm-config "$dir/php-fpm.conf" >"$dir/stdout.log" 2>&1 &
  local pid=$!
  STARTED_PIDS+=("$pid")
  for ((i = 0; i < 100; i++)); do
    [ -S "$dir/php-fpm.sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/stdout.log" "$dir/error.log" >&2 2>/dev/null || true
  die "php-fpm did not create its socket"
}

# nginx on $NGINX_PORT serving root $1 with PHP through the php-fpm socket, no access log. With
# $2 = front-controller, unknown paths go to /index.php like try_files $uri $uri/ /index.php.
start_nginx() {
  local root=$1 routing=${2:-} dir="$WORK/nginx" front="" tls=""
  # With NGINX_TLS_CERT and NGINX_TLS_KEY set, the server block speaks HTTPS instead (and
  # HTTP/2 too, offered by ALPN, with NGINX_HTTP2=1).
  if [ -n "${NGINX_TLS_CERT:-}" ]; then
    tls="ssl${NGINX_HTTP2:+ http2};
        ssl_certificate ${NGINX_TLS_CERT};
        ssl_certificate_key ${NGINX_TLS_KEY};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache shared:SSL:10m"
  fi
  if [ "$routing" = front-controller ]; then
    front="index index.php;
        location / {
            try_files \$uri \$uri/ /index.php?\$args;
        }"
  fi
  mkdir -p "$dir/temp"
  cat >"$dir/nginx.conf" <<CONF
user www-data;
worker_processes $CORES;
worker_rlimit_nofile $(ulimit -n);
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events {
    worker_connections 16384;
}
http {
    include /etc/nginx/mime.types;
    access_log off;
    client_body_temp_path $dir/temp/body;
    fastcgi_temp_path $dir/temp/fastcgi;
    proxy_temp_path $dir/temp/proxy;
    uwsgi_temp_path $dir/temp/uwsgi;
    scgi_temp_path $dir/temp/scgi;
    keepalive_timeout 120s;
    keepalive_requests 1000000;
    server {
        listen $HOST:$NGINX_PORT backlog=4096 $tls;
        root $root;
        $front
        location ~ \.php\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass unix:$WORK/php-fpm/php-fpm.sock;
        }
    }
}
CONF
  nginx -e "$dir/error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
  SERVER_PID=$!
  STARTED_PIDS+=("$SERVER_PID")
  wait_port nginx "$SERVER_PID" "$NGINX_PORT" "$dir/error.log"
}
