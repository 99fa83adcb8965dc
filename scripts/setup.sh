#!/usr/bin/env bash
# Runs on `npm install` / `npm ci`: installs the Debian packages callswarm needs, builds the
# mediasoup worker offline and bundles the browser code. Idempotent and cached, so a second
# install on the same machine takes seconds.
#   CALLSWARM_SKIP_SETUP=1     skip everything (e.g. when packaging)
#   CALLSWARM_SKIP_APT=1       never call apt-get (packages are managed elsewhere)
#   MEDIASOUP_WORKER_BIN=path  use this worker binary instead of building one
set -euo pipefail
[ "${CALLSWARM_SKIP_SETUP:-0}" = 1 ] && { echo "[setup] CALLSWARM_SKIP_SETUP=1: skipped"; exit 0; }
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Build tools and libraries for the worker, the browser for browser bots, ffmpeg for bot media.
packages=(g++ pkg-config meson ninja-build patch python3 curl libssl-dev libuv1-dev
          libusrsctp-dev libabsl-dev flatbuffers-compiler libflatbuffers-dev
          chromium ffmpeg iproute2 coturn)
[ -n "${MEDIASOUP_WORKER_BIN:-}" ] && packages=(chromium ffmpeg iproute2 coturn)

missing=()
if command -v dpkg-query >/dev/null; then
  for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "${CALLSWARM_SKIP_APT:-0}" = 1 ]; then
    echo "[setup] missing Debian packages (CALLSWARM_SKIP_APT=1, not installing): ${missing[*]}" >&2
  else
    sudo=""
    if [ "$(id -u)" != 0 ]; then
      command -v sudo >/dev/null || { echo "[setup] need root or sudo to apt-get install: ${missing[*]}" >&2; exit 1; }
      sudo="sudo"
    fi
    echo "[setup] apt-get install ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
fi

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ]; then
  echo "[setup] using MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN"
else
  bash sfu/worker/build-mediasoup-worker.sh
fi

node --import tsx scripts/bundle-clients.ts
if command -v ffmpeg >/dev/null; then node --import tsx scripts/prepare-media.ts; fi
echo "[setup] done"
