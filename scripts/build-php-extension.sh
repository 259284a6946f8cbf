#!/usr/bin/env bash
# Build a PECL extension from Debian's source package against ePHPm's embedded PHP.
#
# Debian's php8.2-* extension packages are built for Debian's NTS PHP and cannot load into
# ePHPm's ZTS PHP. This script takes the same source from apt and compiles it with the phpize
# and php-config of our own build (.cache/php/current/bin), then installs the .so into our
# PHP's extension directory (`php-config --extension-dir`), where `extension=NAME` finds it.
#
# Usage: scripts/build-php-extension.sh SOURCE-PACKAGE   (prints the installed .so last)
#   scripts/build-php-extension.sh php-redis              -> redis.so
# Then load it:
#   ephpm serve --php-ini extension=redis                  (or `[php.ini] extension = "redis"`)
#   EPHPM_PHP__INI__EXTENSION=redis ephpm php-cli script.php
#
# SOURCE-PACKAGE is a Debian source package holding a PECL extension (its orig tarball has a
# package.xml naming the extension's directory). Packages listed in `recipe` below get their
# configure flags and build dependencies; others are built with the extension's defaults.
#
# Idempotent: skipped when the .so is installed and its stamp says it was built by the same
# recipe against the current PHP build (the hash .cache/php/current points at). The source is
# downloaded once into .cache/php-ext/SOURCE-PACKAGE/download (gitignored), and each build
# starts from a fresh unpack in .cache/php-ext/SOURCE-PACKAGE/build. Runs as root or with sudo
# (apt); when our PHP is not built yet it runs scripts/build-php.sh first.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
ROOT=$(repo_root)
CACHE="$ROOT/.cache"

# Build dependencies every extension needs: phpize runs autoconf; the tarballs are xz.
BASE_DEPS=(build-essential autoconf pkg-config patch xz-utils)

# Bump when the build steps change in a way that changes the result.
RECIPE_VERSION=1

# Per-package recipe: sets FALLBACK_VERSION (tried when no version apt lists is downloadable),
# CONFIGURE_FLAGS and EXTRA_DEPS.
recipe() {
  FALLBACK_VERSION=""
  CONFIGURE_FLAGS=()
  EXTRA_DEPS=()
  case "$1" in
    php-redis)
      # Debian builds it with igbinary, lz4 and zstd; those need more extensions or libraries
      # in our PHP. Sessions and the JSON serializer stay on (the defaults).
      FALLBACK_VERSION="5.3.7+4.3.0-3"
      CONFIGURE_FLAGS=(--enable-redis --disable-redis-igbinary --disable-redis-msgpack
        --disable-redis-lzf --disable-redis-zstd --disable-redis-lz4)
      ;;
  esac
}

# What the stamp next to an installed .so records: the PHP build and this recipe.
build_key() {
  local php_hash=$1
  { printf '%s\n' "$RECIPE_VERSION" "$PACKAGE" "$php_hash"; printf '%s\n' "${CONFIGURE_FLAGS[@]}"; } \
    | sha256sum | cut -c1-16
}

# The newest orig tarball of $PACKAGE in directory $1, if any.
orig_tarball() {
  ls "$1/${PACKAGE}"_*.orig.tar.* 2>/dev/null | sort -V | tail -1
}

# Downloads $PACKAGE's source package into $1 (once), newest version apt lists first.
download_source() {
  local dl=$1
  mkdir -p "$dl"
  [ -n "$(orig_tarball "$dl")" ] && return 0
  enable_deb_src
  step "downloading Debian's $PACKAGE source package"
  local versions v
  versions=$(apt-cache showsrc "$PACKAGE" 2>/dev/null | awk '/^Version:/ {print $2}' | sort -rV | uniq)
  for v in $versions $FALLBACK_VERSION; do
    if (cd "$dl" && apt-get source --download-only -qq "$PACKAGE=$v" >/dev/null 2>&1); then
      echo "$PACKAGE source $v" >&2
      break
    fi
    echo "$PACKAGE source $v not downloadable, trying the next version" >&2
  done
  [ -n "$(orig_tarball "$dl")" ] || { echo "could not download the $PACKAGE source package" >&2; exit 1; }
}

# Unpacks the orig tarball and Debian's patches into $2 and prints the extension's directory.
unpack_source() {
  local dl=$1 dest=$2 orig debian_tar
  orig=$(orig_tarball "$dl")
  rm -rf "$dest" && mkdir -p "$dest"
  step "unpacking $(basename "$orig")"
  tar -xf "$orig" -C "$dest"
  debian_tar=$(ls "$dl/${PACKAGE}"_*.debian.tar.* 2>/dev/null | sort -V | tail -1 || true)
  if [ -n "$debian_tar" ]; then
    tar -xf "$debian_tar" -C "$dest"
    local series="$dest/debian/patches/series" patch_name
    if [ -f "$series" ]; then
      while read -r patch_name _; do
        case "$patch_name" in '' | '#'*) continue ;; esac
        step "applying Debian's $patch_name"
        patch -s -d "$dest" -p1 <"$dest/debian/patches/$patch_name"
      done <"$series"
    fi
  fi
  # A PECL tarball has package.xml (PHP 7+) next to NAME-RELEASE/; some hold several releases.
  local xml="$dest/package.xml" name release
  [ -f "$xml" ] || { echo "no package.xml in $(basename "$orig"): not a PECL source package" >&2; exit 1; }
  name=$(sed -n 's:^ *<name>\([^<]*\)</name>.*:\1:p' "$xml" | head -1)
  release=$(sed -n '/<version>/,/<\/version>/ s:.*<release>\([^<]*\)</release>.*:\1:p' "$xml" | head -1)
  [ -f "$dest/$name-$release/config.m4" ] || { echo "no $name-$release/config.m4 in the source" >&2; exit 1; }
  echo "$dest/$name-$release"
}

main() {
  [ $# -eq 1 ] || { echo "usage: $0 SOURCE-PACKAGE   (e.g. php-redis)" >&2; exit 2; }
  PACKAGE=$1
  [[ $PACKAGE =~ ^[a-z0-9][a-z0-9.+-]+$ ]] || { echo "not a Debian source package name: $PACKAGE" >&2; exit 2; }
  recipe "$PACKAGE"

  local php_prefix php_config php_hash ext_dir work stamp key
  if [ ! -x "$CACHE/php/current/bin/php-config" ]; then
    step "our PHP is not built yet: running scripts/build-php.sh"
    bash "$ROOT/scripts/build-php.sh" >/dev/null
  fi
  php_prefix=$(cd "$CACHE/php/current" && pwd -P)
  php_hash=$(basename "$php_prefix")
  php_config="$php_prefix/bin/php-config"
  ext_dir=$("$php_config" --extension-dir)
  work="$CACHE/php-ext/$PACKAGE"
  stamp="$work/installed"
  key=$(build_key "$php_hash")
  # One build of a package at a time (test runs may start this concurrently).
  mkdir -p "$work"
  exec 9>"$work/.lock"
  flock 9

  # The stamp holds the build key and the installed .so.
  if [ -f "$stamp" ] && [ "$(sed -n 1p "$stamp")" = "$key" ]; then
    local so
    so=$(sed -n 2p "$stamp")
    if [ -f "$so" ]; then
      echo "$PACKAGE: $(basename "$so") is up to date for PHP build $php_hash" >&2
      echo "$so"
      return 0
    fi
  fi

  ensure_apt "${BASE_DEPS[@]}" ${EXTRA_DEPS[@]+"${EXTRA_DEPS[@]}"}
  download_source "$work/download"
  local src
  src=$(unpack_source "$work/download" "$work/build")
  local ext
  ext=$(sed -n 's:.*<providesextension>\([^<]*\)</providesextension>.*:\1:p' "$work/build/package.xml" | head -1)
  ext=${ext:-$(basename "$src" | sed 's/-[^-]*$//')}
  cd "$src"
  step "phpize ($php_prefix/bin/phpize) in $(basename "$src")"
  "$php_prefix/bin/phpize" >"$work/phpize.log" 2>&1 || { tail -30 "$work/phpize.log" >&2; exit 1; }
  step "configuring $ext against PHP build $php_hash ${CONFIGURE_FLAGS[*]}"
  ./configure --with-php-config="$php_config" ${CONFIGURE_FLAGS[@]+"${CONFIGURE_FLAGS[@]}"} \
    >"$work/configure.log" 2>&1 || { tail -30 "$work/configure.log" >&2; exit 1; }
  step "compiling $ext with $(nproc) jobs (log: .cache/php-ext/$PACKAGE/make.log)"
  make -j"$(nproc)" >"$work/make.log" 2>&1 || { tail -40 "$work/make.log" >&2; exit 1; }
  step "installing $ext.so into $ext_dir"
  make install >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
  local so="$ext_dir/$ext.so"
  [ -f "$so" ] || { echo "make install did not produce $so" >&2; exit 1; }
  printf '%s\n%s\n' "$key" "$so" >"$stamp"
  step "$ext.so built; load it with extension=$ext"
  echo "$so"
}

main "$@"
