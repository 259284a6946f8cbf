#!/usr/bin/env bash
# Build PHP 8.2 (ZTS + embed SAPI) from Debian's source package into .cache/php/<recipe>/.
#
# Idempotent: the install prefix is named after a hash of this recipe, so the build runs only
# when the recipe changes. `.cache/php/current` points at the prefix the Rust build links to.
# Usage: scripts/build-php.sh            (prints the prefix on its last line)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(repo_root)
CACHE="$ROOT/.cache"

PHP_VERSION_FALLBACK="8.2.28-1~deb12u1"

CONFIGURE_FLAGS=(
  --enable-zts --enable-embed=shared --disable-cli --disable-cgi --disable-phpdbg
  --disable-zend-signals --enable-zend-max-execution-timers
  --with-config-file-scan-dir= --without-pear
  --enable-opcache --enable-mysqlnd --with-mysqli=mysqlnd --with-pdo-mysql=mysqlnd
  --with-pdo-sqlite --with-sqlite3 --enable-mbstring --with-openssl --with-curl --with-zlib
  --enable-dom --enable-xml --enable-simplexml --enable-xmlreader --enable-xmlwriter
  --enable-fileinfo --enable-filter --enable-tokenizer --enable-ctype --enable-session
  --with-sodium --enable-bcmath --with-iconv --enable-gd --with-jpeg --with-webp --with-freetype
  --enable-intl --with-zip --enable-exif --enable-sockets --enable-pcntl
)
BUILD_DEPS=(
  build-essential pkg-config bison re2c xz-utils libxml2-dev libsqlite3-dev libssl-dev
  libcurl4-openssl-dev libonig-dev zlib1g-dev libsodium-dev libpng-dev libjpeg-dev libwebp-dev
  libfreetype-dev libicu-dev libzip-dev libclang-dev clang
)

# Small patches for an embedded, threaded PHP (each explains itself); applied after unpacking.
PHP_PATCHES=("$ROOT"/scripts/patches/php-8.2-*.patch)

# Bump when the build steps change in a way that changes the result.
RECIPE_VERSION=1

# Names the install prefix: what goes into the build (flags, recipe version), not the
# script's other text, so editing comments or helpers does not rebuild PHP.
recipe_hash() {
  { printf '%s\n' "$RECIPE_VERSION" "${CONFIGURE_FLAGS[@]}"; cat "${PHP_PATCHES[@]}"; } \
    | sha256sum | cut -c1-12
}

# Download and unpack the upstream tarball of Debian's php8.2 source package into $1.
fetch_source() {
  local dest=$1 dl="$CACHE/php-download"
  mkdir -p "$dl"
  if ! ls "$dl"/php8.2_*.orig.tar.xz >/dev/null 2>&1; then
    enable_deb_src
    step "downloading Debian's php8.2 source package"
    local versions v
    versions=$(apt-cache showsrc php8.2 | awk '/^Version:/ {print $2}' | sort -rV | uniq)
    for v in $versions "$PHP_VERSION_FALLBACK"; do
      if (cd "$dl" && apt-get source --download-only -qq "php8.2=$v" >/dev/null 2>&1); then
        echo "php8.2 source $v" >&2
        break
      fi
      echo "php8.2 source $v not downloadable, trying the next version" >&2
    done
    ls "$dl"/php8.2_*.orig.tar.xz >/dev/null 2>&1 || { echo "could not download php8.2 source" >&2; exit 1; }
  fi
  rm -rf "$dest" && mkdir -p "$dest"
  step "unpacking PHP source"
  tar -xJf "$(ls "$dl"/php8.2_*.orig.tar.xz | head -1)" -C "$dest" --strip-components=1
  local patch_file
  for patch_file in "${PHP_PATCHES[@]}"; do
    step "applying $(basename "$patch_file")"
    patch -s -d "$dest" -p1 <"$patch_file"
  done
}

# Points .cache/php/current at build $1. current.hash changes only when the target does: the
# php-sys build script watches it to relink against a different build.
point_current_at() {
  ln -sfn "$1" "$CACHE/php/current"
  if [ "$(cat "$CACHE/php/current.hash" 2>/dev/null)" != "$1" ]; then
    echo "$1" >"$CACHE/php/current.hash"
  fi
}

main() {
  local hash prefix src
  hash=$(recipe_hash)
  prefix="$CACHE/php/$hash"
  if [ -f "$prefix/.complete" ]; then
    point_current_at "$hash"
    echo "$prefix"
    return 0
  fi
  ensure_apt "${BUILD_DEPS[@]}"
  src="$CACHE/php-build/src"
  fetch_source "$src"
  cd "$src"
  step "configuring PHP (ZTS, embed) into $prefix"
  ./configure --prefix="$prefix" "${CONFIGURE_FLAGS[@]}" >"$CACHE/php-build/configure.log" 2>&1 \
    || { tail -30 "$CACHE/php-build/configure.log" >&2; exit 1; }
  step "compiling PHP with $(nproc) jobs (takes several minutes; log: .cache/php-build/make.log)"
  local start=$SECONDS
  make -j"$(nproc)" >"$CACHE/php-build/make.log" 2>&1 &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && echo "  ... still compiling ($((SECONDS - start)) s, $(grep -c '^/bin/bash' "$CACHE/php-build/make.log" || true) units)" >&2
  done
  wait "$pid" || { tail -40 "$CACHE/php-build/make.log" >&2; exit 1; }
  step "installing PHP into $prefix"
  make install >"$CACHE/php-build/install.log" 2>&1 || { tail -30 "$CACHE/php-build/install.log" >&2; exit 1; }
  touch "$prefix/.complete"
  point_current_at "$hash"
  step "PHP built in $((SECONDS - start)) s"
  echo "$prefix"
}

main "$@"
