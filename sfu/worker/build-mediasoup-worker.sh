#!/usr/bin/env bash
# Builds the mediasoup-worker binary offline from the C++ sources inside the mediasoup npm
# tarball, against Debian 12 system libraries. mediasoup's own postinstall downloads a prebuilt
# binary from GitHub and pip-installs meson, neither of which works without internet access.
#
# libsrtp is built from Debian's own source tarball with OpenSSL's AES-GCM, as mediasoup bundles
# it, and linked statically: Debian's libsrtp2 package does its ciphers through NSS's PKCS#11
# layer, which cost the worker a quarter of its CPU when it forwards to hundreds of receivers.
# liburing is built the same way from Debian's 2.9 source (Debian 12 ships 2.3, older than the
# 2.5 mediasoup's io_uring send path needs): on Linux 6 or later the worker then hands the copies
# of a forwarded packet for all its consumers to the kernel in one submission, not a sendmsg() each.
#
# Output: $MEDIASOUP_WORKER_OUT (default <project>/build/mediasoup-worker)
# Cache:  $CALLSWARM_CACHE/mediasoup-worker/<version>-<recipe hash>-<arch>-linux<major>/ (the
#         recipe is this script and the patch; the kernel's major version decides at build time
#         whether io_uring is compiled in) so that fresh clones and repeated `npm ci` on the same machine
#         do not compile again; the source tarballs are kept in $CALLSWARM_CACHE/sources/.
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
key="$version-$(cat "$patch_file" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)-$(uname -m)-linux$(uname -r | cut -d. -f1)"
cache_root="${CALLSWARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callswarm}"
cache_dir="$cache_root/mediasoup-worker/$key"

srtp_version=2.5.0
srtp_tarball="libsrtp2_$srtp_version.orig.tar.gz"
srtp_sha256=8a43ef8e9ae2b665292591af62aa1a4ae41e468b6d98d8258f91478735da4e09
srtp_url="${LIBSRTP_TARBALL_URL:-http://deb.debian.org/debian/pool/main/libs/libsrtp2/$srtp_tarball}"
uring_version=2.9
uring_tarball="liburing_$uring_version.orig.tar.gz"
uring_sha256=57e9b36e4ac1e46b8e0351dfb1694dc59638fc25e384b4ba36d87b800b16db1a
uring_url="${LIBURING_TARBALL_URL:-http://deb.debian.org/debian/pool/main/libu/liburing/$uring_tarball}"

# The worker exits with code 41 when started without MEDIASOUP_VERSION: proof it links and runs;
# and it must carry its own libsrtp and liburing (no shared libsrtp2, NSS or liburing).
worker_runs() {
  local rc=0; env -i "$1" >/dev/null 2>&1 || rc=$?
  [ "$rc" = 41 ] && ! ldd "$1" | grep -q -E 'libsrtp2|libnss3|liburing'
}

# Unpacks a Debian source tarball into $work, after checking it against its pinned SHA-256
# (the one in Debian's .dsc); downloaded once into the cache.
unpack_source() {
  local tarball="$1" sha256="$2" url="$3" sources="$cache_root/sources"
  mkdir -p "$sources"
  if ! echo "$sha256  $sources/$tarball" | sha256sum --check --status 2>/dev/null; then
    echo "[mediasoup-worker] downloading $tarball from $url" >&2
    curl --fail --silent --show-error --location --retry 3 -o "$sources/$tarball.tmp" "$url"
    echo "$sha256  $sources/$tarball.tmp" | sha256sum --check --status \
      || { echo "[mediasoup-worker] $tarball: SHA-256 mismatch" >&2; rm -f "$sources/$tarball.tmp"; exit 1; }
    mv -f "$sources/$tarball.tmp" "$sources/$tarball"
  fi
  tar -xzf "$sources/$tarball" -C "$work"
}

# Builds libsrtp (static, OpenSSL ciphers) from the Debian source tarball and installs it under $1.
build_libsrtp() {
  local prefix="$1"
  unpack_source "$srtp_tarball" "$srtp_sha256" "$srtp_url"
  meson setup --buildtype release -Db_ndebug=true -Ddefault_library=static \
    -Dcrypto-library=openssl -Dcrypto-library-kdf=disabled -Dtests=disabled -Ddoc=disabled \
    -Dpcap-tests=disabled --prefix "$prefix" --libdir lib \
    "$work/libsrtp-build" "$work/libsrtp-$srtp_version" > "$work/libsrtp-setup.log" \
    || { cat "$work/libsrtp-setup.log" >&2; exit 1; }
  ninja -C "$work/libsrtp-build" install > "$work/libsrtp-build.log" \
    || { cat "$work/libsrtp-build.log" >&2; exit 1; }
}

# Builds liburing (static only: its shared objects are removed) and installs it under $1.
build_liburing() {
  local prefix="$1" src="$work/liburing-$uring_version"
  unpack_source "$uring_tarball" "$uring_sha256" "$uring_url"
  (cd "$src" && ./configure --prefix="$prefix" --libdir="$prefix/lib" --includedir="$prefix/include" --mandir="$prefix/man" \
    && make -C src -j "$(nproc)" && make install) > "$work/liburing-build.log" 2>&1 \
    || { cat "$work/liburing-build.log" >&2; exit 1; }
  rm -f "$prefix"/lib/liburing*.so*
}

if [ -x "$cache_dir/mediasoup-worker" ] && worker_runs "$cache_dir/mediasoup-worker"; then
  echo "[mediasoup-worker] cached build $cache_dir"
else
  mkdir -p "$(dirname "$out")"
  work="$(mktemp -d "$(dirname "$out")/worker-build.XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cp -a "$ms_dir/worker" "$work/worker"
  (cd "$work" && patch -p1 --forward --quiet < "$patch_file")
  started=$(date +%s)
  build_libsrtp "$work/libsrtp"
  build_liburing "$work/liburing"
  PKG_CONFIG_PATH="$work/libsrtp/lib/pkgconfig:$work/liburing/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}" meson setup --buildtype release -Db_ndebug=true \
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
