#!/usr/bin/env bash
# Builds the real test node's host binaries that test/control-plane/build.sh does not:
#   coredns  from gomod/coredns (CoreDNS with the plugins a one-node test cluster needs)
#   pause    the sandbox's PID 1, compiled from pause.c of the pinned Kubernetes module's source
#            with the flags of its build/pause/Makefile (static, -Os)
# into $NODE_CACHE/bin, each with a stamp of its inputs (unchanged inputs: not rebuilt).
# Prints that directory as its last line. Builds are niced, go build -p 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=../control-plane/versions.env
source "$here/../control-plane/versions.env"

bin="$NODE_CACHE/bin"
mkdir -p "$bin"
log() { printf '[node-binaries] %s\n' "$*" >&2; }
export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=1"

fresh() { [[ -x "$bin/$1" && -f "$bin/.$1.stamp" && "$(cat "$bin/.$1.stamp")" == "$2" ]]; }

# ---- coredns ----
stamp="$(cat "$here/gomod/coredns/go.mod" "$here/gomod/coredns/go.sum" "$here/gomod/coredns/main.go" | sha256sum | cut -c1-32)"
if fresh coredns "$stamp"; then
  log "have coredns: $("$bin/coredns" -version | head -1)"
else
  t0=$SECONDS
  log "building coredns (a few minutes on 2 cores)"
  (cd "$here/gomod/coredns" && nice -n 19 go build -p 1 -trimpath -ldflags '-s -w' -o "$bin/.coredns.tmp" .)
  mv -f "$bin/.coredns.tmp" "$bin/coredns"
  echo "$stamp" > "$bin/.coredns.stamp"
  log "built coredns in $((SECONDS - t0))s: $("$bin/coredns" -version | head -1)"
fi

# ---- pause ----
src="$(cd "$here/../control-plane/gomod/kubernetes" && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" \
  | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",*$/\1/p')/build/pause/linux/pause.c"
[[ -f "$src" ]] || { log "pause.c not found in the k8s.io/kubernetes@$KUBERNETES_VERSION module ($src)"; exit 1; }
stamp="$(sha256sum "$src" | cut -c1-32) $KUBERNETES_VERSION"
if fresh pause "$stamp"; then
  log "have pause"
else
  command -v gcc >/dev/null || { log "gcc is missing (test/cluster/packages.sh installs it)"; exit 1; }
  gcc -Os -Wall -Werror -static -DVERSION=v3.10.1-mcpfleet -o "$bin/.pause.tmp" "$src"
  strip "$bin/.pause.tmp"
  mv -f "$bin/.pause.tmp" "$bin/pause"
  echo "$stamp" > "$bin/.pause.stamp"
  log "built pause from $src"
fi
echo "$bin"
