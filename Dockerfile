# The mcpfleet images: one Dockerfile, two targets that share every filesystem layer.
#
#   docker build --target proxyrunner -t ghcr.io/mcpfleet/proxyrunner:0.1.0 .
#   docker build --target operator    -t ghcr.io/mcpfleet/operator:0.1.0 .
#   (or `make images`, which passes VERSION and REVISION)
#
# Stages: build (all dependencies, tsc -> dist/), deps (production dependencies only),
# runtime (slim Node + tini + a non-root user + deps + dist), then the two targets, which add
# metadata only (labels, ports, entrypoint). Both images therefore hold the same bits: both
# programs import the shared process kit in common/, and the operator's Deployments run the
# proxyrunner image with `command: ["node"]`, `args: ["dist/proxyrunner/src/main.js", ...]`
# from the image's WORKDIR.
#
# Read-only root: nothing is written at run time. No npm at start-up (npm, npx and corepack
# are removed from the runtime stage), NODE_ENV=production, Node's compile cache off, HOME is
# a directory that does not exist, and the proxyrunner streams heap snapshots to the client
# instead of writing them to disk.
#
# test/images/layout.test.ts parses this file, rebuilds the runtime stage's layout in a temp
# dir by following these instructions, and starts both programs from it.

# Node 24 LTS on Debian 12 slim, the same Node as the Makefile's NODE_VERSION.
# For reproducible builds pin the digest too: `docker buildx imagetools inspect <tag>` prints
# it; then set NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest> (here or --build-arg).
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- build: every dependency, then tsc -p tsconfig.build.json -> /src/dist ----
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# No dependency needs an install script to compile (only @swc/core and @parcel/watcher have
# one, both for jest).
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY common common
COPY proxyrunner/src proxyrunner/src
COPY operator/src operator/src
RUN npm run build

# ---- deps: production dependencies only, from the same lockfile ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# ---- runtime: what both images are made of ----
FROM ${NODE_IMAGE} AS runtime
# tini as PID 1: forwards SIGTERM/SIGINT to node (both programs stop gracefully on them) and
# reaps zombies (the proxyrunner spawns the stdio server as a child outside Kubernetes).
# The uid/gid 65532 ("nonroot", as in distroless) match runAsUser/runAsGroup in deploy/ and
# in the Deployments the operator creates; /nonexistent as home: nothing needs one.
# npm, npx, corepack and yarn are removed: nothing runs them at run time, and they are most
# of the base image's vulnerability reports.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --gid 65532 nonroot \
 && useradd --uid 65532 --gid 65532 --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin nonroot \
 && rm -rf /usr/local/lib/node_modules/npm /usr/local/lib/node_modules/corepack /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack /opt/yarn-* /usr/local/bin/yarn /usr/local/bin/yarnpkg
ENV NODE_ENV=production \
    NODE_DISABLE_COMPILE_CACHE=1
WORKDIR /app
# Owned by root and read-only to the runtime user: the code cannot be changed by the process.
COPY --from=deps /src/node_modules ./node_modules
# package.json carries "type": "module" for dist/.
COPY package.json ./
COPY --from=build /src/dist ./dist
USER 65532:65532
# Labels both images share (each target adds its title and description).
ARG NODE_IMAGE
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/mcpfleet/mcpfleet
# The repository has no license file yet: NOASSERTION (SPDX) until it has one.
ARG LICENSES=NOASSERTION
LABEL org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.url="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="${LICENSES}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"

# ---- operator ----
FROM runtime AS operator
LABEL org.opencontainers.image.title="mcpfleet-operator" \
      org.opencontainers.image.description="Reconciles MCPServer resources into MCP servers behind the mcpfleet proxyrunner"
# /metrics, /healthz, /readyz
EXPOSE 9464
ENTRYPOINT ["tini", "--", "node", "dist/operator/src/main.js"]

# ---- proxyrunner (last: the default target) ----
FROM runtime AS proxyrunner
LABEL org.opencontainers.image.title="mcpfleet-proxyrunner" \
      org.opencontainers.image.description="Session-aware HTTP proxy in front of one MCP server (stdio, SSE or streamable HTTP), with Prometheus metrics"
# 8080: MCP (/mcp, or /sse + /messages); 9464: /metrics, /healthz, /readyz, /debug/*
EXPOSE 8080 9464
ENTRYPOINT ["tini", "--", "node", "dist/proxyrunner/src/main.js"]
