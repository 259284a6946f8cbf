#!/usr/bin/env bash
# Prepare the patched glommio 0.9.0 that Cargo.toml's [patch.crates-io] points at.
#
# Stock glommio 0.9 sets up its io_uring rings without IORING_SETUP_COOP_TASKRUN and
# IORING_SETUP_TASKRUN_FLAG, which costs one reschedule IPI per completion and about half of the
# per-core socket throughput. We take the pristine crates.io release through cargo itself, apply
# scripts/patches/*.patch and place the result in .cache/glommio-0.9.0 (gitignored). No
# third-party source is stored in the repository. Idempotent: redone only when a patch changes.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(repo_root)
DEST="$ROOT/.cache/glommio-0.9.0"
PATCHES=("$ROOT"/scripts/patches/glommio-0.9.0-*.patch)

stamp=$(cat "${PATCHES[@]}" "$0" | sha256sum | cut -c1-16)
if [ -f "$DEST/.ephpm-patched" ] && [ "$(cat "$DEST/.ephpm-patched")" = "$stamp" ]; then
  exit 0
fi
ensure_cargo
step "fetching glommio 0.9.0 from crates.io and applying ePHPm's io_uring patch"
fetch="$ROOT/.cache/glommio-fetch"
mkdir -p "$fetch/src"
cat >"$fetch/Cargo.toml" <<'TOML'
[package]
name = "glommio-fetch"
version = "0.0.0"
edition = "2021"
publish = false

[dependencies]
glommio = "=0.9.0"

[workspace]
TOML
echo 'fn main() {}' >"$fetch/src/main.rs"
(cd "$fetch" && cargo fetch -q)
src=$(ls -d "${CARGO_HOME:-$HOME/.cargo}"/registry/src/*/glommio-0.9.0 | head -1)
[ -d "$src" ] || { echo "glommio 0.9.0 source not found after cargo fetch" >&2; exit 1; }
rm -rf "$DEST"
cp -r "$src" "$DEST"
for p in "${PATCHES[@]}"; do
  patch -s -d "$DEST" -p1 <"$p"
done
echo "$stamp" >"$DEST/.ephpm-patched"
