#!/usr/bin/env bash
# A real MariaDB primary + replica (GTID replication) on loopback, with private datadirs under
# one directory: for the MySQL proxy's end-to-end tests and benchmarks. Runs the daemons
# directly (no systemd) and leaves them running in the background until `stop`.
#
# Usage: scripts/mariadb-pair.sh SUBCOMMAND DIR [ARGS]
#   start DIR PRIMARY_PORT REPLICA_PORT [--max-connections N]
#                            create the datadirs (once), start both servers, create the users
#                            and the `app` database on the primary, make the replica replicate
#                            it and wait until it has. Prints
#                            `primary=127.0.0.1:PORT replica=127.0.0.1:PORT` on stdout. Run again
#                            on the same DIR, it starts whatever is not running.
#   stop DIR                 stop both servers (SIGTERM, SIGKILL after 20 s); fine if not running
#   stop-primary DIR         stop the primary only
#   start-primary DIR        start the primary again (same datadir, ports and settings)
#   stop-replication DIR     STOP SLAVE on the replica
#   start-replication DIR    START SLAVE on the replica
#   delay-replication DIR S  make the replica apply events S seconds late (0 turns it off)
#   wait-replica DIR [S]     wait up to S seconds (default 30) until the replica has applied
#                            everything the primary has written (MASTER_GTID_WAIT)
#   status DIR               Slave_IO_Running=, Slave_SQL_Running=, Seconds_Behind_Master=,
#                            Last_IO_Error=, Last_SQL_Error=, Gtid_IO_Pos=, Gtid_Slave_Pos= lines
#   sql DIR primary|replica SQL
#                            run SQL as root over the node's Unix socket; prints the result
#                            tab-separated without column names
#
# Accounts (on both nodes; created on the primary, replicated):
#   ephpm / ephpm-pass  @127.0.0.1 and @localhost, mysql_native_password, every privilege except
#                       SUPER and READ_ONLY ADMIN, so that read_only=1 on the replica holds for
#                       it (a write routed to the replica fails with ERROR 1290)
#   repl / repl-pass    @127.0.0.1, REPLICATION SLAVE
#   root, no password   over the Unix sockets DIR/primary.sock and DIR/replica.sock
#
# Layout of DIR: pair.env (ports and settings, read by every subcommand after `start`),
# primary/ and replica/ (datadirs), NODE.sock, NODE.pid, NODE.err (error log), NODE.out.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
APP_USER=ephpm
APP_PASSWORD=ephpm-pass
REPL_USER=repl
REPL_PASSWORD=repl-pass
APP_DATABASE=app
DEFAULT_MAX_CONNECTIONS=151
# Seconds a server may take to accept connections, and to exit after SIGTERM.
START_TIMEOUT=60
STOP_TIMEOUT=20

die() {
  printf 'mariadb-pair: FAILED: %s\n' "$*" >&2
  exit 1
}

usage() {
  sed -n '6,26s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
  exit 2
}

# ---------------------------------------------------------------------------------------------
# Settings

# Loads DIR/pair.env (written by `start`): PAIR_DIR, PRIMARY_PORT, REPLICA_PORT, MAX_CONNECTIONS.
load_env() {
  local dir=$1
  [ -f "$dir/pair.env" ] || die "$dir/pair.env not found: run \`$0 start $dir PRIMARY_PORT REPLICA_PORT\` first"
  # shellcheck source=/dev/null
  source "$dir/pair.env"
}

write_env() {
  {
    printf 'PAIR_DIR=%q\n' "$PAIR_DIR"
    printf 'PRIMARY_PORT=%q\n' "$PRIMARY_PORT"
    printf 'REPLICA_PORT=%q\n' "$REPLICA_PORT"
    printf 'MAX_CONNECTIONS=%q\n' "$MAX_CONNECTIONS"
  } >"$PAIR_DIR/pair.env"
}

node_port() {
  case $1 in
    primary) echo "$PRIMARY_PORT" ;;
    replica) echo "$REPLICA_PORT" ;;
    *) die "unknown node $1 (primary or replica)" ;;
  esac
}

sock() { echo "$PAIR_DIR/$1.sock"; }
pid_file() { echo "$PAIR_DIR/$1.pid"; }
error_log() { echo "$PAIR_DIR/$1.err"; }

# Server options shared by both nodes and by mariadb-install-db (InnoDB sizes must match, or the
# first start resizes the redo log). Kept light for a small machine: no durability (tests and
# benchmarks only), small caches, no performance schema.
common_server_args() {
  printf '%s\n' --innodb-buffer-pool-size=64M --innodb-log-file-size=48M \
    --innodb-log-buffer-size=8M --innodb-flush-log-at-trx-commit=2 --innodb-doublewrite=0 \
    --innodb-buffer-pool-dump-at-shutdown=0 --innodb-buffer-pool-load-at-startup=0 \
    --key-buffer-size=8M --aria-pagecache-buffer-size=8M --performance-schema=OFF \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
}

# The full mariadbd command line of a node, one argument a line.
server_args() {
  local node=$1 port
  port=$(node_port "$node")
  printf '%s\n' --no-defaults --user=root --datadir="$PAIR_DIR/$node" \
    --bind-address="$HOST" --port="$port" --socket="$(sock "$node")" \
    --pid-file="$(pid_file "$node")" --log-error="$(error_log "$node")" \
    --skip-name-resolve --max-connect-errors=1000000 --gtid-strict-mode=1
  common_server_args
  case $node in
    primary)
      printf '%s\n' --server-id=1 --log-bin=mariadb-bin --binlog-format=ROW --sync-binlog=0 \
        --max-connections="$MAX_CONNECTIONS"
      ;;
    replica)
      # read_only from the start: the app user (no SUPER / READ_ONLY ADMIN) cannot write here;
      # the replication threads can.
      printf '%s\n' --server-id=2 --relay-log=relay-bin --read-only=1 --slave-net-timeout=10 \
        --max-connections="$DEFAULT_MAX_CONNECTIONS"
      ;;
  esac
}

# ---------------------------------------------------------------------------------------------
# Processes

# The pid of the node's running mariadbd, or nothing. Only a live (not zombie) process whose
# command line names this node's datadir counts, so a stale pid file never gets another
# process killed.
running_pid() {
  local node=$1 file pid state
  file=$(pid_file "$node")
  [ -f "$file" ] || return 0
  pid=$(tr -dc '0-9' <"$file")
  [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 0
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
  [ "$state" != Z ] || return 0
  tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "--datadir=$PAIR_DIR/$node" || return 0
  echo "$pid"
}

port_in_use() {
  (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Root's client over the node's Unix socket; extra arguments are passed on.
client() {
  local node=$1
  shift
  mariadb --no-defaults --socket="$(sock "$node")" -uroot -N -B "$@"
}

start_node() {
  local node=$1 port pid i args=()
  if [ -n "$(running_pid "$node")" ]; then
    return 0
  fi
  port=$(node_port "$node")
  port_in_use "$port" && die "$node: port $HOST:$port is already in use"
  [ -d "$PAIR_DIR/$node/mysql" ] || die "$node: no datadir in $PAIR_DIR/$node"
  mapfile -t args < <(server_args "$node")
  rm -f "$(pid_file "$node")"
  # Its own session, all descriptors redirected: the server outlives this script and must not
  # hold a caller's pipes open.
  setsid mariadbd "${args[@]}" </dev/null >>"$PAIR_DIR/$node.out" 2>&1 &
  pid=$!
  for ((i = 0; i < START_TIMEOUT * 20; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$(error_log "$node")" "$PAIR_DIR/$node.out" >&2 2>/dev/null || true
      die "$node: mariadbd exited during start-up (port $port)"
    fi
    if client "$node" -e 'SELECT 1' >/dev/null 2>&1; then
      return 0
    fi
    sleep 0.05
  done
  tail -n 30 "$(error_log "$node")" >&2 2>/dev/null || true
  die "$node: mariadbd did not accept connections within $START_TIMEOUT s"
}

stop_node() {
  local node=$1 pid i
  pid=$(running_pid "$node")
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 20; i++)); do
    [ -n "$(running_pid "$node")" ] || return 0
    sleep 0.05
  done
  printf 'mariadb-pair: %s (pid %s) did not exit within %s s of SIGTERM: SIGKILL\n' \
    "$node" "$pid" "$STOP_TIMEOUT" >&2
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    [ -n "$(running_pid "$node")" ] || break
    sleep 0.05
  done
  rm -f "$(pid_file "$node")"
}

# ---------------------------------------------------------------------------------------------
# Set-up

# Create the datadirs that do not exist yet. Both missing (the usual case): one
# mariadb-install-db, copied before either server ever ran (no binlogs yet, MariaDB keeps no
# server UUID), which halves the set-up time.
install_datadirs() {
  local node missing=() extra=()
  for node in primary replica; do
    [ -d "$PAIR_DIR/$node/mysql" ] || missing+=("$node")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  mapfile -t extra < <(common_server_args)
  for node in "${missing[@]}"; do
    rm -rf "${PAIR_DIR:?}/$node"
  done
  # The bootstrap server has been seen to fail once in a while on a loaded machine; a second
  # attempt on a clean datadir succeeds.
  local attempt
  for attempt in 1 2 3; do
    if mariadb-install-db --no-defaults --user=root --datadir="$PAIR_DIR/${missing[0]}" \
      --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
      "${extra[@]}" >"$PAIR_DIR/install.log" 2>&1; then
      break
    fi
    if [ "$attempt" -eq 3 ]; then
      tail -n 30 "$PAIR_DIR/install.log" >&2
      die "mariadb-install-db failed (see $PAIR_DIR/install.log)"
    fi
    echo "mariadb-install-db failed (attempt $attempt), retrying" >&2
    rm -rf "${PAIR_DIR:?}/${missing[0]}"
    sleep 1
  done
  if [ ${#missing[@]} -eq 2 ]; then
    cp -a "$PAIR_DIR/primary" "$PAIR_DIR/replica"
  fi
}

# Users and the app database, on the primary only: the replica replays the primary's binlog
# from its very beginning (empty gtid_slave_pos), so they reach the replica with everything else.
# Idempotent.
setup_primary() {
  local host
  {
    for host in "$HOST" localhost; do
      printf "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED VIA mysql_native_password USING PASSWORD('%s');\n" \
        "$APP_USER" "$host" "$APP_PASSWORD"
      printf "GRANT ALL PRIVILEGES ON *.* TO '%s'@'%s';\n" "$APP_USER" "$host"
      printf "REVOKE SUPER, READ_ONLY ADMIN ON *.* FROM '%s'@'%s';\n" "$APP_USER" "$host"
    done
    printf "CREATE USER IF NOT EXISTS '%s'@'%s' IDENTIFIED VIA mysql_native_password USING PASSWORD('%s');\n" \
      "$REPL_USER" "$HOST" "$REPL_PASSWORD"
    printf "GRANT REPLICATION SLAVE ON *.* TO '%s'@'%s';\n" "$REPL_USER" "$HOST"
    printf 'CREATE DATABASE IF NOT EXISTS %s;\n' "$APP_DATABASE"
  } | client primary || die "setting up users and the $APP_DATABASE database on the primary failed"
}

# Point the replica at the primary (current ports) and start replicating. Idempotent: a replica
# that already replicated keeps its gtid_slave_pos.
setup_replica() {
  client replica -e "STOP SLAVE;
    CHANGE MASTER TO MASTER_HOST='$HOST', MASTER_PORT=$PRIMARY_PORT, MASTER_USER='$REPL_USER',
      MASTER_PASSWORD='$REPL_PASSWORD', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1;
    START SLAVE;" || die "configuring replication on the replica failed"
}

# Wait until the replica has applied the primary's current binlog position.
wait_replica() {
  local timeout=${1:-30} pos result
  pos=$(client primary -e 'SELECT @@gtid_binlog_pos') || die "reading the primary's gtid_binlog_pos failed"
  [ -n "$pos" ] || return 0
  result=$(client replica -e "SELECT MASTER_GTID_WAIT('$pos', $timeout)") ||
    die "MASTER_GTID_WAIT on the replica failed"
  if [ "$result" != 0 ]; then
    show_status >&2 || true
    die "the replica did not reach the primary's position $pos within $timeout s"
  fi
}

# The app user must be able to log in over TCP on both nodes.
check_app_login() {
  local node port
  for node in primary replica; do
    port=$(node_port "$node")
    mariadb --no-defaults -h "$HOST" -P "$port" -u "$APP_USER" -p"$APP_PASSWORD" -N -B \
      -e 'SELECT 1' >/dev/null || die "$APP_USER cannot log in to the $node on $HOST:$port"
  done
}

show_status() {
  local slave_pos
  mariadb --no-defaults --socket="$(sock replica)" -uroot -e 'SHOW SLAVE STATUS\G' | awk '
    match($0, /^ *(Slave_IO_Running|Slave_SQL_Running|Seconds_Behind_Master|Last_IO_Error|Last_SQL_Error|Gtid_IO_Pos): ?/) {
      name = $0; sub(/^ */, "", name); sub(/:.*/, "", name)
      print name "=" substr($0, RLENGTH + 1)
    }'
  slave_pos=$(client replica -e 'SELECT @@gtid_slave_pos')
  printf 'Gtid_Slave_Pos=%s\n' "$slave_pos"
}

# ---------------------------------------------------------------------------------------------
# Subcommands

cmd_start() {
  [ $# -ge 3 ] || usage
  local dir=$1 primary_port=$2 replica_port=$3 max_connections=$DEFAULT_MAX_CONNECTIONS
  shift 3
  while [ $# -gt 0 ]; do
    case $1 in
      --max-connections) [ $# -ge 2 ] || usage; max_connections=$2; shift 2 ;;
      --max-connections=*) max_connections=${1#*=}; shift ;;
      *) usage ;;
    esac
  done
  local port
  for port in "$primary_port" "$replica_port" "$max_connections"; do
    [[ $port =~ ^[0-9]+$ ]] || die "not a number: $port"
  done
  [ "$primary_port" != "$replica_port" ] || die "the primary and the replica need different ports"
  ensure_apt mariadb-server mariadb-client
  mkdir -p "$dir"
  PAIR_DIR=$(cd "$dir" && pwd)
  # sun_path holds 108 bytes.
  [ ${#PAIR_DIR} -le 90 ] || die "$PAIR_DIR is too long for the servers' Unix sockets (90 bytes at most)"
  if [ -f "$PAIR_DIR/pair.env" ]; then
    local want_primary=$primary_port want_replica=$replica_port
    load_env "$PAIR_DIR"
    if [ "$PRIMARY_PORT/$REPLICA_PORT" != "$want_primary/$want_replica" ] &&
      { [ -n "$(running_pid primary)" ] || [ -n "$(running_pid replica)" ]; }; then
      die "$PAIR_DIR is running on ports $PRIMARY_PORT/$REPLICA_PORT: stop it first"
    fi
  fi
  PRIMARY_PORT=$primary_port REPLICA_PORT=$replica_port MAX_CONNECTIONS=$max_connections
  write_env

  local started=$SECONDS
  step "MariaDB pair in $PAIR_DIR: primary $HOST:$PRIMARY_PORT, replica $HOST:$REPLICA_PORT"
  local node
  for node in primary replica; do
    if [ -z "$(running_pid "$node")" ] && port_in_use "$(node_port "$node")"; then
      die "$node: port $HOST:$(node_port "$node") is already in use"
    fi
  done
  install_datadirs
  start_node primary
  start_node replica
  setup_primary
  setup_replica
  wait_replica 30
  check_app_login
  printf 'mariadb-pair: ready in %s s\n' "$((SECONDS - started))" >&2
  printf 'primary=%s:%s replica=%s:%s\n' "$HOST" "$PRIMARY_PORT" "$HOST" "$REPLICA_PORT"
}

main() {
  [ $# -ge 2 ] || usage
  local command=$1 dir=$2
  shift 2
  if [ "$command" = start ]; then
    cmd_start "$dir" "$@"
    return
  fi
  # Nothing was ever started in a directory without pair.env: nothing to stop.
  if [ "$command" = stop ] && [ ! -f "$dir/pair.env" ]; then
    return 0
  fi
  load_env "$dir"
  case $command in
    stop)
      [ $# -eq 0 ] || usage
      # The replica first: it would only retry connecting to a stopped primary.
      stop_node replica
      stop_node primary
      ;;
    stop-primary) [ $# -eq 0 ] || usage; stop_node primary ;;
    start-primary) [ $# -eq 0 ] || usage; start_node primary ;;
    stop-replication) [ $# -eq 0 ] || usage; client replica -e 'STOP SLAVE' ;;
    start-replication) [ $# -eq 0 ] || usage; client replica -e 'START SLAVE' ;;
    delay-replication)
      { [ $# -eq 1 ] && [[ $1 =~ ^[0-9]+$ ]]; } || usage
      client replica -e "STOP SLAVE; CHANGE MASTER TO MASTER_DELAY=$1; START SLAVE"
      ;;
    wait-replica)
      [ $# -le 1 ] || usage
      [ $# -eq 0 ] || [[ $1 =~ ^[0-9]+$ ]] || usage
      wait_replica "${1:-30}"
      ;;
    status) [ $# -eq 0 ] || usage; show_status ;;
    sql)
      [ $# -eq 2 ] || usage
      node_port "$1" >/dev/null
      client "$1" -e "$2"
      ;;
    *) usage ;;
  esac
}

main "$@"
