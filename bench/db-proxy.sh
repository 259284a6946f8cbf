#!/usr/bin/env bash
# Benchmark ePHPm's MySQL proxy: sysbench through the proxy against sysbench straight to the
# MariaDB it proxies to, in one run.
#
# Starts a MariaDB primary + replica with scripts/mariadb-pair.sh (only the primary is used; the
# replica idles once it has the tables), prepares the sysbench tables once directly on the
# primary, then starts `ephpm serve --cores 1` with db.mysql.url pointing at the primary (pool
# min = max = BENCH_THREADS connections, so no statement waits for one) and runs every
# workload and prepared-statement mode against MariaDB directly and through the proxy, in
# alternating order per repetition. Each measurement is a warm-up sysbench run, then the
# measured one. Also records the CPU time ePHPm and mariadbd spent per statement. Prints a table
# and the proxy/direct ratios, and writes the same as markdown to $BENCH_OUT.
#
# Settings (environment):
#   EPHPM_BIN           ePHPm binary (default: built by scripts/setup.sh --release)
#   BENCH_THREADS       sysbench --threads, and the proxy pool's size (default 16)
#   BENCH_TIME          sysbench --time per measurement, seconds (default 15)
#   BENCH_WARMUP        warm-up sysbench run before each measurement, seconds (default 3)
#   BENCH_REPS          repetitions; the report shows medians (default 1)
#   BENCH_WORKLOADS     sysbench tests (default "oltp_point_select oltp_read_only")
#   BENCH_PS_MODES      sysbench --db-ps-mode values (default "auto disable"; auto = server-side
#                       prepared statements, disable = plain text queries)
#   BENCH_TABLES        sysbench --tables (default 4)
#   BENCH_TABLE_SIZE    sysbench --table-size (default 10000)
#   BENCH_PERF=1        after measuring, profile ePHPm with `perf record -g` during one more
#                       oltp_point_select run through the proxy (first of BENCH_PS_MODES); the
#                       flat report goes to $BENCH_PERF_OUT (default bench/last-db-proxy-perf.txt)
#   BENCH_MAX_OTHER_CPU other processes (builds...) may use this percentage of the CPUs (default
#                       10): before each measurement the script waits up to BENCH_QUIET_WAIT
#                       seconds (default 300) for that, and a measurement during which they used
#                       more is repeated, BENCH_ATTEMPTS times in all (default 3; the last counts)
#   BENCH_EPHPM_ARGS    extra arguments for `ephpm serve` (word-split)
#   BENCH_OUT           markdown output (default bench/last-db-proxy.md)
#   BENCH_KEEP_WORK=1   keep the temporary directory (MariaDB datadirs, logs, raw sysbench outputs)
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$BENCH_DIR")
# shellcheck source=SCRIPTDIR/../scripts/lib.sh
source "$ROOT/scripts/lib.sh"
BENCH_NAME=db-proxy-bench
HOST=127.0.0.1
WORK=""
BENCH_KEEP_WORK=${BENCH_KEEP_WORK:-0}
# shellcheck source=SCRIPTDIR/lib.sh
source "$BENCH_DIR/lib.sh"

CORES=$(nproc)
EPHPM_BIN_GIVEN=${EPHPM_BIN:-}
EPHPM_BIN=${EPHPM_BIN:-$ROOT/target/release/ephpm}
BENCH_THREADS=${BENCH_THREADS:-16}
BENCH_TIME=${BENCH_TIME:-15}
BENCH_WARMUP=${BENCH_WARMUP:-3}
BENCH_REPS=${BENCH_REPS:-1}
BENCH_WORKLOADS=${BENCH_WORKLOADS:-"oltp_point_select oltp_read_only"}
BENCH_PS_MODES=${BENCH_PS_MODES:-"auto disable"}
BENCH_TABLES=${BENCH_TABLES:-4}
BENCH_TABLE_SIZE=${BENCH_TABLE_SIZE:-10000}
BENCH_PERF=${BENCH_PERF:-0}
BENCH_PERF_OUT=${BENCH_PERF_OUT:-$BENCH_DIR/last-db-proxy-perf.txt}
BENCH_EPHPM_ARGS=${BENCH_EPHPM_ARGS:-}
BENCH_OUT=${BENCH_OUT:-$BENCH_DIR/last-db-proxy.md}
PAIR=$ROOT/scripts/mariadb-pair.sh

EPHPM_PORT=18480
EPHPM_DB_PORT=13480
EPHPM_KV_PORT=16480
EPHPM_API_PORT=19480
PRIMARY_PORT=13481
REPLICA_PORT=13482
DB_USER=ephpm
DB_PASSWORD=ephpm-pass
DB_NAME=app
# Goals: proxy/direct throughput at least this, added p50 latency at most this many us.
GOAL_RATIO=0.95
GOAL_ADDED_US=30
BENCH_MAX_OTHER_CPU=${BENCH_MAX_OTHER_CPU:-10}
BENCH_QUIET_WAIT=${BENCH_QUIET_WAIT:-300}
BENCH_ATTEMPTS=${BENCH_ATTEMPTS:-3}
CLK_TCK=$(getconf CLK_TCK)

# Lines "workload<TAB>ps mode<TAB>target<TAB>rep<TAB>tps<TAB>qps<TAB>p50 ms<TAB>mean ms<TAB>
# ephpm CPU us/query<TAB>mariadbd CPU us/query<TAB>other CPU %" collected by measure().
RESULTS_TSV=""
LOAD_AT_START=""
EPHPM_PID=""

# ---------------------------------------------------------------------------------------------
# Servers

# The pair lives in its own sessions (setsid), outside STARTED_PIDS: stop it explicitly, then
# let bench/lib.sh's cleanup stop the rest and exit with the original status.
cleanup_all() {
  local status=$?
  if [ -n "$WORK" ] && [ -f "$WORK/pair/pair.env" ]; then
    bash "$PAIR" stop "$WORK/pair" >&2 || true
  fi
  (exit "$status")
  cleanup
}

start_mariadb() {
  # Direct sysbench threads, the proxy's pool and a few spare.
  bash "$PAIR" start "$WORK/pair" "$PRIMARY_PORT" "$REPLICA_PORT" \
    --max-connections $((2 * BENCH_THREADS + 50)) >"$WORK/pair.out" ||
    die "scripts/mariadb-pair.sh start failed"
}

mariadbd_pid() {
  tr -dc '0-9' <"$WORK/pair/primary.pid"
}

# ePHPm reads every EPHPM_* variable as a setting and rejects unknown ones (EPHPM_BIN among
# them): the server gets only the settings below.
start_ephpm() {
  local unset=() name
  mkdir -p "$WORK/www"
  printf '<?php echo "db-proxy bench\\n";\n' >"$WORK/www/index.php"
  for name in $(compgen -e); do
    [[ $name == EPHPM_* ]] && unset+=(-u "$name")
  done
  # shellcheck disable=SC2086 # BENCH_EPHPM_ARGS is word-split on purpose
  (cd "$WORK" && exec env "${unset[@]}" EPHPM_LOG__ACCESS_LOG=off \
    EPHPM_DB__LISTEN="$HOST:$EPHPM_DB_PORT" EPHPM_KV__LISTEN="$HOST:$EPHPM_KV_PORT" \
    EPHPM_NODE_API__LISTEN="$HOST:$EPHPM_API_PORT" \
    EPHPM_DB__MYSQL__URL="mysql://$DB_USER:$DB_PASSWORD@$HOST:$PRIMARY_PORT/$DB_NAME" \
    EPHPM_DB__MYSQL__MIN_CONNECTIONS="$BENCH_THREADS" EPHPM_DB__MYSQL__MAX_CONNECTIONS="$BENCH_THREADS" \
    "$EPHPM_BIN" serve --root "$WORK/www" --listen "$HOST:$EPHPM_PORT" --cores 1 \
    $BENCH_EPHPM_ARGS) >"$WORK/ephpm.log" 2>&1 &
  EPHPM_PID=$!
  STARTED_PIDS+=("$EPHPM_PID")
  wait_port ePHPm "$EPHPM_PID" "$EPHPM_PORT" "$WORK/ephpm.log"
  wait_port "ePHPm MySQL proxy" "$EPHPM_PID" "$EPHPM_DB_PORT" "$WORK/ephpm.log"
  wait_port "ePHPm node API" "$EPHPM_PID" "$EPHPM_API_PORT" "$WORK/ephpm.log"
  mariadb --no-defaults -h "$HOST" -P "$EPHPM_DB_PORT" -u "$DB_USER" -p"$DB_PASSWORD" -N -B "$DB_NAME" \
    -e "SELECT COUNT(*) FROM sbtest1" >"$WORK/proxy-check.txt" 2>&1 ||
    { cat "$WORK/proxy-check.txt" >&2; die "a query through the proxy failed (see $WORK/ephpm.log)"; }
  [ "$(cat "$WORK/proxy-check.txt")" = "$BENCH_TABLE_SIZE" ] ||
    die "through the proxy sbtest1 has $(cat "$WORK/proxy-check.txt") rows, expected $BENCH_TABLE_SIZE"
}

# ---------------------------------------------------------------------------------------------
# Measurement and report

port_of() {
  case $1 in
    direct) echo "$PRIMARY_PORT" ;;
    proxy) echo "$EPHPM_DB_PORT" ;;
  esac
}

# sysbench WORKLOAD against PORT with the common options and any extra ones.
run_sysbench() {
  local workload=$1 port=$2
  shift 2
  sysbench "$workload" --db-driver=mysql --mysql-host="$HOST" --mysql-port="$port" \
    --mysql-user="$DB_USER" --mysql-password="$DB_PASSWORD" --mysql-db="$DB_NAME" \
    --tables="$BENCH_TABLES" --table-size="$BENCH_TABLE_SIZE" "$@"
}

prepare_tables() {
  # Every oltp_* test prepares the same sbtestN tables.
  run_sysbench oltp_read_only "$PRIMARY_PORT" --threads="$BENCH_TABLES" prepare >"$WORK/prepare.out" 2>&1 ||
    { tail -n 20 "$WORK/prepare.out" >&2; die "sysbench prepare failed"; }
  # The replica copies the tables now, not while we measure.
  bash "$PAIR" wait-replica "$WORK/pair" 300 || die "the replica did not catch up after prepare"
}

# CPU time in clock ticks: a process's own (utime + stime) or, with "children", that of its
# children it waited for (cutime + cstime).
cpu_ticks() {
  awk -v what="${2:-self}" '{ sub(/^.*\) /, ""); print (what == "children" ? $14 + $15 : $12 + $13) }' "/proc/$1/stat"
}

# Clock ticks the whole machine spent busy (user, nice, system, irq, softirq) so far.
machine_busy_ticks() {
  awk '$1 == "cpu" { print $2 + $3 + $4 + $7 + $8; exit }' /proc/stat
}

# CPU ticks of everything this benchmark runs: ePHPm, both mariadbd and the sysbench runs
# (children of this shell).
our_ticks() {
  local total pid
  total=$(($(cpu_ticks "$EPHPM_PID") + $(cpu_ticks "$$" children)))
  for pid in $(tr -dc '0-9\n' <"$WORK/pair/primary.pid") $(tr -dc '0-9\n' <"$WORK/pair/replica.pid"); do
    total=$((total + $(cpu_ticks "$pid")))
  done
  echo "$total"
}

# Percentage of the machine's CPU time the busy ticks in $1 are over $2 nanoseconds.
ticks_percent() {
  awk -v t="$1" -v ns="$2" -v tck="$CLK_TCK" -v cores="$CORES" \
    'BEGIN { p = 100 * t / tck / (ns / 1e9) / cores; printf "%d", (p < 0 ? 0 : p) }'
}

# Wait (up to BENCH_QUIET_WAIT seconds) until other processes use at most BENCH_MAX_OTHER_CPU
# percent of the CPUs over one second. Our servers are idle between measurements.
wait_until_quiet() {
  local key=$1 waited=0 b0 o0 b1 o1 t0 t1 busy
  while :; do
    b0=$(machine_busy_ticks) o0=$(our_ticks) t0=$(date +%s%N)
    sleep 1
    b1=$(machine_busy_ticks) o1=$(our_ticks) t1=$(date +%s%N)
    busy=$(ticks_percent $(((b1 - b0) - (o1 - o0))) $((t1 - t0)))
    [ "$busy" -le "$BENCH_MAX_OTHER_CPU" ] && return 0
    if [ "$waited" -ge "$BENCH_QUIET_WAIT" ]; then
      printf '%s: WARNING: other processes still use %s%% of the CPUs before %s: measuring anyway\n' \
        "$BENCH_NAME" "$busy" "$key" >&2
      return 0
    fi
    [ "$waited" -eq 0 ] && printf '%s: other processes use %s%% of the CPUs: waiting up to %s s before %s\n' \
      "$BENCH_NAME" "$busy" "$BENCH_QUIET_WAIT" "$key" >&2
    sleep 4
    waited=$((waited + 5))
  done
}

# One measurement: warm-up, then the measured sysbench run; appends a line to RESULTS_TSV. When
# other processes took more than BENCH_MAX_OTHER_CPU percent of the CPUs during the run, it is
# repeated (BENCH_ATTEMPTS in all) and the last attempt counts.
measure() {
  local workload=$1 mode=$2 target=$3 rep=$4 attempt port out db_pid e0 e1 m0 m1 b0 b1 o0 o1 t0 t1 other
  port=$(port_of "$target")
  db_pid=$(mariadbd_pid)
  for ((attempt = 1; attempt <= BENCH_ATTEMPTS; attempt++)); do
    out="$WORK/$workload.$mode.$target.r$rep.a$attempt.sysbench"
    wait_until_quiet "$workload $mode $target"
    run_sysbench "$workload" "$port" --threads="$BENCH_THREADS" --db-ps-mode="$mode" \
      --time="$BENCH_WARMUP" --percentile=50 run >"$out.warmup" 2>&1 ||
      { tail -n 20 "$out.warmup" >&2; die "$workload ($mode) warm-up against $target failed"; }
    e0=$(cpu_ticks "$EPHPM_PID") m0=$(cpu_ticks "$db_pid") b0=$(machine_busy_ticks) o0=$(our_ticks)
    t0=$(date +%s%N)
    run_sysbench "$workload" "$port" --threads="$BENCH_THREADS" --db-ps-mode="$mode" \
      --time="$BENCH_TIME" --percentile=50 run >"$out" 2>&1 ||
      { tail -n 20 "$out" >&2; die "$workload ($mode) against $target failed"; }
    t1=$(date +%s%N)
    e1=$(cpu_ticks "$EPHPM_PID") m1=$(cpu_ticks "$db_pid") b1=$(machine_busy_ticks) o1=$(our_ticks)
    other=$(ticks_percent $(((b1 - b0) - (o1 - o0))) $((t1 - t0)))
    [ "$other" -le "$BENCH_MAX_OTHER_CPU" ] && break
    if [ "$attempt" -lt "$BENCH_ATTEMPTS" ]; then
      printf '%s: other processes used %s%% of the CPUs during %s %s %s: measuring again\n' \
        "$BENCH_NAME" "$other" "$workload" "$mode" "$target" >&2
    fi
  done
  awk -v w="$workload" -v m="$mode" -v t="$target" -v r="$rep" -v tck="$CLK_TCK" \
    -v e="$((e1 - e0))" -v d="$((m1 - m0))" -v other="$other" '
    /^ *transactions:/ { events = $2; tps = $3; sub(/^\(/, "", tps) }
    /^ *queries:/ { queries = $2; qps = $3; sub(/^\(/, "", qps) }
    /^ *ignored errors:/ { errors = $3 }
    /^ *50th percentile:/ { p50 = $3 }
    /^ *sum:/ { sum = $2 }
    END {
      if (events + 0 == 0 || queries + 0 == 0 || p50 == "" || sum == "") { print "no results" > "/dev/stderr"; exit 1 }
      if (errors + 0 > 0) { printf "%s ignored errors\n", errors > "/dev/stderr"; exit 1 }
      # The mean latency per event from the latency sum (sysbench prints avg to 10 us only).
      printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.4f\t%.1f\t%.1f\t%s\n", w, m, t, r, tps, qps, p50, sum / events,
        e * 1e6 / tck / queries, d * 1e6 / tck / queries, other
    }' "$out" >>"$RESULTS_TSV" || die "$workload ($mode) against $target: could not parse $out"
  tail -n 1 "$RESULTS_TSV" | awk -F '\t' -v name="$BENCH_NAME" '{
    printf "%s: %-17s %-7s %-6s r%s: %s qps, p50 %s ms, mean %s ms (other CPU use %s%%)\n",
      name, $1, $2, $3, $4, $6, $7, $8, $11 }' >&2
}

# The primary pool's counters after the run, "key=value" for the report.
pool_summary() {
  curl -sS --fail --max-time 5 "http://$HOST:$EPHPM_API_PORT/api/db/pool" >"$WORK/pool.json" ||
    die "GET /api/db/pool failed"
  local pool commands
  pool=$(jq -r '.pools[] | select(.role == "primary") |
    "connections \(.total) (max \(.max_connections)), opened \(.connects), acquisitions \(.acquired), waited \(.wait_micros) us in total, wait timeouts \(.wait_timeouts)"' \
    "$WORK/pool.json")
  # Where the proxy answered the commands: relayed by the executor, or on its blocking threads.
  commands=$(curl -sS --fail --max-time 5 "http://$HOST:$EPHPM_API_PORT/metrics" |
    awk -F'[{}" ]' '/^ephpm_db_commands_total/ { printf "%s%s %s", sep, $3, $NF; sep = ", " }')
  printf '%s; commands by path: %s\n' "$pool" "${commands:-unknown}"
}

# Profile ePHPm during more point-select runs through the proxy (after the measurements, so the
# profiler's overhead does not touch them): perf record -g for a sampled profile, then perf stat
# for syscalls and context switches per statement.
profile_ephpm() {
  local mode seconds=$((BENCH_TIME > 6 ? BENCH_TIME - 4 : BENCH_TIME)) sb stat events=$((BENCH_THREADS * 5000))
  read -r mode _ <<<"$BENCH_PS_MODES"
  step "profiling ePHPm (perf record -g) during oltp_point_select --db-ps-mode=$mode through the proxy"
  wait_until_quiet "profiling"
  run_sysbench oltp_point_select "$EPHPM_DB_PORT" --threads="$BENCH_THREADS" --db-ps-mode="$mode" \
    --time="$((seconds + 4))" --percentile=50 run >"$WORK/perf.sysbench" 2>&1 &
  sb=$!
  sleep 2
  perf record -g -o "$WORK/perf.data" -p "$EPHPM_PID" -- sleep "$seconds" >"$WORK/perf-record.log" 2>&1 ||
    { cat "$WORK/perf-record.log" >&2; die "perf record failed"; }
  wait "$sb" || { tail -n 20 "$WORK/perf.sysbench" >&2; die "the profiled sysbench run failed"; }

  # perf stat runs until SIGINT; sysbench sends a fixed number of statements meanwhile.
  perf stat -x, -o "$WORK/perf-stat.csv" -p "$EPHPM_PID" \
    -e syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_io_uring_enter,syscalls:sys_enter_futex,raw_syscalls:sys_enter,context-switches &
  stat=$!
  sleep 0.5
  run_sysbench oltp_point_select "$EPHPM_DB_PORT" --threads="$BENCH_THREADS" --db-ps-mode="$mode" \
    --events="$events" --time=0 run >"$WORK/perf-stat.sysbench" 2>&1 ||
    { kill -INT "$stat" 2>/dev/null || true; tail -n 20 "$WORK/perf-stat.sysbench" >&2; die "the perf stat sysbench run failed"; }
  kill -INT "$stat" 2>/dev/null || true
  wait "$stat" 2>/dev/null || true

  mkdir -p "$(dirname "$BENCH_PERF_OUT")"
  {
    printf '# ePHPm during sysbench oltp_point_select --threads=%s --db-ps-mode=%s through the proxy\n' \
      "$BENCH_THREADS" "$mode"
    printf '# %s; perf record -g -p <ephpm> for %s s: %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$seconds" \
      "$(awk '/^ *queries:/ { print $2, $3, "per sec.)" }' "$WORK/perf.sysbench")"
    printf '## Per statement (perf stat over %s statements)\n\n' "$events"
    awk -F, -v n="$events" '$3 != "" && $1 ~ /^[0-9]+$/ { printf "%-32s %.2f\n", $3, $1 / n }' "$WORK/perf-stat.csv"
    printf '\n## By shared object\n\n'
    perf report -i "$WORK/perf.data" --no-children --sort dso --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 10
    # The executor, its blocking threads (db-N-M) and the proxy's own threads: sort by symbol
    # only, so the threads add up.
    printf '\n## By symbol (all threads)\n\n'
    perf report -i "$WORK/perf.data" --no-children --sort dso,sym --percent-limit 0.3 --stdio -g none 2>/dev/null |
      grep -v '^#' | grep -v '^$' | head -n 60
    printf '\n## Where the top kernel symbols are reached from (folded call chains)\n\n'
    perf report -i "$WORK/perf.data" --no-children --sort sym --percent-limit 5 --stdio -g folded,0.5,callee 2>/dev/null |
      grep -v '^#' | grep -v '^$' | head -n 30
  } >"$BENCH_PERF_OUT"
  printf '%s: profile written to %s\n' "$BENCH_NAME" "$BENCH_PERF_OUT" >&2
}

# Median of each measurement over the repetitions, then the table and the ratios.
write_report() {
  local pool=$1
  awk -F '\t' -v date="$(date -u '+%Y-%m-%d %H:%M UTC')" -v cores="$CORES" -v threads="$BENCH_THREADS" \
    -v time="$BENCH_TIME" -v warmup="$BENCH_WARMUP" -v reps="$BENCH_REPS" -v tables="$BENCH_TABLES" \
    -v size="$BENCH_TABLE_SIZE" -v loadavg="$LOAD_AT_START" -v pool="$pool" \
    -v goal_ratio="$GOAL_RATIO" -v goal_us="$GOAL_ADDED_US" '
    function median(key, col,    n, i, j, v, t) {
      n = count[key]
      for (i = 1; i <= n; i++) v[i] = val[key, i, col] + 0
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
      return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    {
      key = $1 SUBSEP $2 SUBSEP $3
      n = ++count[key]
      for (c = 5; c <= 11; c++) val[key, n, c] = $c
      if (!(($1, $2) in seen)) { seen[$1, $2] = 1; order[++m] = $1 SUBSEP $2 }
    }
    END {
      printf "# MySQL proxy: sysbench through ePHPm vs directly against MariaDB\n\n"
      printf "%s, %s cores shared by sysbench, MariaDB and ePHPm (`--cores 1`), all on loopback.\n\n", date, cores
      printf "- sysbench 1.0.20, `--threads=%s --time=%s --percentile=50`, `--tables=%s --table-size=%s`,\n", threads, time, tables, size
      printf "  a %s s warm-up run before each measurement; %s repetition(s), medians shown\n", warmup, reps
      printf "- MariaDB primary from scripts/mariadb-pair.sh (its replica idles); proxy pool min = max = %s\n", threads
      printf "- primary pool after the run: %s\n", pool
      printf "- load average before the run: %s; \"other CPU\": the share of both CPUs that processes other\n", loadavg
      printf "  than sysbench, MariaDB and ePHPm used during the measurement\n\n"
      printf "| workload | ps-mode | target | tps | qps | p50 ms | mean ms | ePHPm CPU us/query | mariadbd CPU us/query | other CPU % |\n"
      printf "|---|---|---|---:|---:|---:|---:|---:|---:|---:|\n"
      for (i = 1; i <= m; i++) {
        split(order[i], k, SUBSEP)
        for (t = 1; t <= 2; t++) {
          target = (t == 1 ? "direct" : "proxy"); key = k[1] SUBSEP k[2] SUBSEP target
          if (!(key in count)) continue
          printf "| %s | %s | %s | %\047.0f | %\047.0f | %.2f | %.3f | %s | %.1f | %d |\n", k[1], k[2], target,
            median(key, 5), median(key, 6), median(key, 7), median(key, 8),
            (target == "proxy" ? sprintf("%.1f", median(key, 9)) : "-"), median(key, 10), median(key, 11)
        }
      }
      printf "\n| workload | ps-mode | proxy/direct qps | added p50 us | added mean us | added mean us per statement |\n"
      printf "|---|---|---:|---:|---:|---:|\n"
      met = 1
      for (i = 1; i <= m; i++) {
        split(order[i], k, SUBSEP)
        d = k[1] SUBSEP k[2] SUBSEP "direct"; p = k[1] SUBSEP k[2] SUBSEP "proxy"
        if (!(d in count) || !(p in count) || median(d, 6) <= 0) continue
        ratio = median(p, 6) / median(d, 6)
        added = (median(p, 7) - median(d, 7)) * 1000
        mean_added = (median(p, 8) - median(d, 8)) * 1000
        per_statement = mean_added * median(p, 5) / median(p, 6)
        if (ratio < goal_ratio || added > goal_us) met = 0
        printf "| %s | %s | **%.3f** | **%.0f** | %.0f | %.1f |\n", k[1], k[2], ratio, added, mean_added, per_statement
      }
      printf "\nGoals (proxy/direct qps >= %s, added p50 <= %s us): %s\n", goal_ratio, goal_us, (met ? "met" : "NOT met")
      printf "\nsysbench prints p50 with 0.01 ms resolution (10 us); the mean comes from its latency sum.\n"
      printf "An oltp_read_only event is a transaction of 16 statements; oltp_point_select, one statement.\n"
    }' "$RESULTS_TSV" >"$BENCH_OUT"
}

locate_ephpm() {
  if [ -z "$EPHPM_BIN_GIVEN" ]; then
    EPHPM_BIN=$(bash "$ROOT/scripts/setup.sh" --release | tail -n 1) || die "scripts/setup.sh --release failed"
  fi
  [ -x "$EPHPM_BIN" ] || die "no executable ePHPm at $EPHPM_BIN (build it or set EPHPM_BIN)"
}

check_settings() {
  local name value
  for name in BENCH_THREADS BENCH_TIME BENCH_WARMUP BENCH_REPS BENCH_TABLES BENCH_TABLE_SIZE BENCH_ATTEMPTS; do
    value=${!name}
    [[ $value =~ ^[1-9][0-9]*$ ]] || die "$name must be a positive integer, not '$value'"
  done
  for name in BENCH_MAX_OTHER_CPU BENCH_QUIET_WAIT; do
    value=${!name}
    [[ $value =~ ^[0-9]+$ ]] || die "$name must be a non-negative integer, not '$value'"
  done
  for value in $BENCH_PS_MODES; do
    [[ $value == auto || $value == disable ]] || die "BENCH_PS_MODES: unknown --db-ps-mode '$value' (auto or disable)"
  done
  [ -n "$BENCH_WORKLOADS" ] || die "BENCH_WORKLOADS is empty"
  [ -n "$BENCH_PS_MODES" ] || die "BENCH_PS_MODES is empty"
}

main() {
  check_settings
  local apt=(sysbench mariadb-server mariadb-client curl jq)
  [ "$BENCH_PERF" = 1 ] && apt+=(linux-perf)
  ensure_apt "${apt[@]}"
  local port
  for port in "$EPHPM_PORT" "$EPHPM_DB_PORT" "$EPHPM_KV_PORT" "$EPHPM_API_PORT" "$PRIMARY_PORT" "$REPLICA_PORT"; do
    require_free_port "$port"
  done
  locate_ephpm
  trap cleanup_all EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  WORK=$(mktemp -d /tmp/ephpm-db-proxy-bench.XXXXXX)
  LOAD_AT_START=$(cut -d ' ' -f 1-3 /proc/loadavg)
  RESULTS_TSV="$WORK/results.tsv"
  : >"$RESULTS_TSV"

  step "MariaDB primary on $HOST:$PRIMARY_PORT (replica $HOST:$REPLICA_PORT), sysbench tables"
  start_mariadb
  prepare_tables
  step "ePHPm MySQL proxy on $HOST:$EPHPM_DB_PORT (node API $HOST:$EPHPM_API_PORT)"
  start_ephpm

  local rep workload mode first second
  for ((rep = 1; rep <= BENCH_REPS; rep++)); do
    if ((rep % 2)); then first=direct second=proxy; else first=proxy second=direct; fi
    step "repetition $rep of $BENCH_REPS ($first first)"
    for workload in $BENCH_WORKLOADS; do
      for mode in $BENCH_PS_MODES; do
        measure "$workload" "$mode" "$first" "$rep"
        measure "$workload" "$mode" "$second" "$rep"
      done
    done
  done
  local pool
  pool=$(pool_summary)
  [ "$BENCH_PERF" = 1 ] && profile_ephpm

  step "results"
  mkdir -p "$(dirname "$BENCH_OUT")"
  write_report "$pool"
  cat "$BENCH_OUT"
}

main "$@"
