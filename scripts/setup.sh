#!/usr/bin/env bash
# Set up everything ePHPm needs on Debian 12 and build it. Idempotent: each step checks what is
# already there (apt packages, the cached ZTS libphp, the patched glommio, the cargo build).
# Usage: scripts/setup.sh [--release|--debug]   (prints the binary's path on its last line)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(repo_root)
profile=${1:---release}

ensure_cargo
ensure_apt build-essential pkg-config curl ca-certificates libclang-dev clang
bash "$ROOT/scripts/build-php.sh" >/dev/null
bash "$ROOT/scripts/patch-glommio.sh"

step "building ePHPm ($profile)"
cd "$ROOT"
if [ "$profile" = "--release" ]; then
  cargo build --release --locked 2>&1 | grep -vE '^\s+(Compiling|Downloaded|Downloading)' || true
  bin="$ROOT/target/release/ephpm"
else
  cargo build --locked 2>&1 | grep -vE '^\s+(Compiling|Downloaded|Downloading)' || true
  bin="$ROOT/target/debug/ephpm"
fi
[ -x "$bin" ] || { echo "build failed: $bin missing" >&2; exit 1; }
echo "$bin"
