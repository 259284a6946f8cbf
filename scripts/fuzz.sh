#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of ePHPm's parsers: HTTP/1.1 heads and bodies, RESP and
# every KV command, MySQL packets and the handshake, the proxy's SQL tokenizer and the
# MySQL-to-SQLite translator. See fuzz/fuzz_targets/.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Runs each target (all by default) for SECONDS (default 300) and prints the executions
# reached. The test command runs it for a few seconds per target; run it longer by hand.
# Works on the stable toolchain: libFuzzer's coverage instrumentation is enabled with stable
# codegen flags (what cargo-fuzz does, minus the sanitizer, which needs nightly). Corpora grow
# in .cache/fuzz/corpus/<target> (seeded from fuzz/seeds/<target>); a crash leaves its input
# in .cache/fuzz/artifacts/<target>/ and fails the script: turn it into a regression test.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(repo_root)
cd "$ROOT"
ensure_cargo

SECONDS_PER_TARGET=${1:-300}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(http_request resp_commands mysql_packets sql_analysis)
fi
TRIPLE=$(rustc -vV | sed -n 's/^host: //p')

step "building the fuzz targets (libFuzzer coverage instrumentation)"
RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks" \
  CARGO_TARGET_DIR="$ROOT/.cache/fuzz/target" \
  cargo build --quiet --release --manifest-path fuzz/Cargo.toml --target "$TRIPLE" --bins

failed=0
for target in "${TARGETS[@]}"; do
  corpus="$ROOT/.cache/fuzz/corpus/$target"
  artifacts="$ROOT/.cache/fuzz/artifacts/$target"
  mkdir -p "$corpus" "$artifacts"
  if [ -d "fuzz/seeds/$target" ]; then
    cp -n fuzz/seeds/"$target"/* "$corpus"/ 2>/dev/null || true
  fi
  log="$ROOT/.cache/fuzz/$target.log"
  step "fuzzing $target for ${SECONDS_PER_TARGET}s"
  if "$ROOT/.cache/fuzz/target/$TRIPLE/release/$target" "$corpus" \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    echo "$target: ${runs:-?} executions, no crash (corpus: $(ls "$corpus" | wc -l) inputs)"
  else
    echo "$target: CRASH; input and log in $artifacts and $log" >&2
    grep -E "panicked|ERROR|SUMMARY" "$log" | head -5 >&2 || true
    failed=1
  fi
done
exit "$failed"
