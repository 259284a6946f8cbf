#!/usr/bin/env bash
# Shared helpers for ePHPm's setup scripts. Source this file; it defines functions only.

# Print a progress line that stands out in long build logs.
step() { printf '\n==> %s\n' "$*" >&2; }

# Absolute path of the repository root.
repo_root() { cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd; }

# Run a command as root (directly when we already are root, else through sudo).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Install the named Debian packages that are not installed yet. Runs `apt-get update` at most
# once per process, and only when something is missing.
ensure_apt() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  step "installing apt packages: ${missing[*]}"
  if [ -z "${SETUP_APT_UPDATED:-}" ]; then
    as_root apt-get update -qq
    export SETUP_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Turn on deb-src in Debian's sources (source packages: php8.2, PECL extensions) and refresh
# the package lists once per process.
enable_deb_src() {
  local sources=/etc/apt/sources.list.d/debian.sources
  if [ -f "$sources" ] && grep -q '^Types: deb$' "$sources"; then
    step "enabling deb-src in $sources"
    as_root sed -i 's/^Types: deb$/Types: deb deb-src/' "$sources"
    unset SETUP_APT_UPDATED
  fi
  if [ -z "${SETUP_APT_UPDATED:-}" ]; then
    as_root apt-get update -qq
    export SETUP_APT_UPDATED=1
  fi
}

# Make sure the Rust toolchain is on PATH (rustup installs it under ~/.cargo/bin).
ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install Rust with rustup first" >&2; exit 1; }
}
