#!/usr/bin/env bash
# Builds the mediasoup-worker binary offline from the C++ sources inside the mediasoup npm
# tarball, against Debian 12 system libraries. mediasoup's own postinstall downloads a prebuilt
# binary from GitHub and pip-installs meson, neither of which works without internet access.
#
# Output: $MEDIASOUP_WORKER_OUT (default <project>/build/mediasoup-worker)
# Cache:  $CALLSWARM_CACHE/mediasoup-worker/<version>-<patch hash>-<arch>/ so that fresh
#         clones and repeated `npm ci` on the same machine do not compile again.
# The Debian build dependencies are installed by scripts/setup.sh before this runs.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
ms_dir="${MEDIASOUP_DIR:-$root/node_modules/mediasoup}"
[ -f "$ms_dir/package.json" ] || { echo "mediasoup is not installed at $ms_dir (run npm ci first)" >&2; exit 1; }
version="$(node -p "require('$ms_dir/package.json').version")"
patch_file="$here/mediasoup-$version-unbundle-debian12.patch"
[ -f "$patch_file" ] || { echo "no unbundling patch for mediasoup $version ($patch_file)" >&2; exit 1; }
out="${MEDIASOUP_WORKER_OUT:-$root/build/mediasoup-worker}"
key="$version-$(sha256sum "$patch_file" | cut -c1-12)-$(uname -m)"
cache_root="${CALLSWARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callswarm}"
cache_dir="$cache_root/mediasoup-worker/$key"

# The worker exits with code 41 when started without MEDIASOUP_VERSION: proof it links and runs.
worker_runs() { local rc=0; env -i "$1" >/dev/null 2>&1 || rc=$?; [ "$rc" = 41 ]; }

if [ -x "$cache_dir/mediasoup-worker" ] && worker_runs "$cache_dir/mediasoup-worker"; then
  echo "[mediasoup-worker] cached build $cache_dir"
else
  mkdir -p "$(dirname "$out")"
  work="$(mktemp -d "$(dirname "$out")/worker-build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp -a "$ms_dir/worker" "$work/worker"
  (cd "$work" && patch -p1 --forward --quiet < "$patch_file")
  started=$(date +%s)
  meson setup --buildtype release -Db_ndebug=true -Dms_disable_liburing=true \
    --wrap-mode=nodownload "$work/build" "$work/worker" > "$work/meson-setup.log" \
    || { cat "$work/meson-setup.log" >&2; exit 1; }
  meson compile -C "$work/build" flatbuffers-generator > /dev/null
  jobs="${MEDIASOUP_BUILD_JOBS:-$(nproc)}"
  echo "[mediasoup-worker] compiling mediasoup $version with $jobs jobs (a few minutes, once per machine)"
  ninja -C "$work/build" -j "$jobs" mediasoup-worker | awk '/^\[/ { if (++n % 25 == 0) { print "[mediasoup-worker] " $1; fflush() } } /FAILED|error:/ { print; fflush() }'
  [ -f "$work/build/mediasoup-worker" ] || { echo "[mediasoup-worker] build failed" >&2; exit 1; }
  echo "[mediasoup-worker] compiled in $(( $(date +%s) - started ))s"
  mkdir -p "$cache_dir"
  install -m 0755 "$work/build/mediasoup-worker" "$cache_dir/mediasoup-worker.tmp"
  strip --strip-unneeded "$cache_dir/mediasoup-worker.tmp"
  mv -f "$cache_dir/mediasoup-worker.tmp" "$cache_dir/mediasoup-worker"
  worker_runs "$cache_dir/mediasoup-worker" || { echo "[mediasoup-worker] the built worker does not start" >&2; exit 1; }
fi

mkdir -p "$(dirname "$out")"
install -m 0755 "$cache_dir/mediasoup-worker" "$out"
echo "[mediasoup-worker] $out for mediasoup $version"
