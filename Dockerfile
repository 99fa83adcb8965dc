# callswarm as an OCI image: the CLI with Debian's Chromium, ffmpeg and coturn, and the
# mediasoup worker compiled in (npm ci runs scripts/setup.sh, which builds and caches it).
#   docker build -t callswarm:0.1.0 .
#   docker run --rm callswarm:0.1.0 --help
FROM node:20-bookworm-slim

ENV DEBIAN_FRONTEND=noninteractive \
    CALLSWARM_CACHE=/opt/callswarm-cache \
    npm_config_update_notifier=false
WORKDIR /opt/callswarm

# What setup.sh would apt-get itself, installed in one cached layer (build deps for the worker included).
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      chromium ffmpeg coturn iproute2 ca-certificates \
      g++ pkg-config meson ninja-build patch python3 curl libssl-dev libuv1-dev \
      libusrsctp-dev libabsl-dev flatbuffers-compiler libflatbuffers-dev \
 && rm -rf /var/lib/apt/lists/*

# The worker build and the bundles need the sources: copy everything, then install.
COPY . .
RUN npm ci --no-audit --no-fund \
 && npm cache clean --force

# Chromium runs as this user (its sandbox needs no root); the shard's data goes to /tmp.
RUN useradd --create-home --uid 10001 callswarm && mkdir -p /opt/callswarm-cache && chown -R callswarm /opt/callswarm-cache
USER callswarm
ENV CALLSWARM_SKIP_APT=1
EXPOSE 4000 4100
ENTRYPOINT ["node", "/opt/callswarm/bin/callswarm.js"]
CMD ["--help"]
