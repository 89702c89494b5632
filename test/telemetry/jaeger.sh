#!/usr/bin/env bash
# Obtains Jaeger v2 (the all-in-one `cmd/jaeger` binary: OTLP receiver on 4317/4318, in-memory
# storage, query API on 16686) for the telemetry proof tests and prints its path as the last line
# (stdout); progress goes to stderr. The tests start it per run on free loopback ports with a
# config file they write (test/support/jaeger.ts); nothing is started here.
#
# 1. If MCPFLEET_JAEGER is set and is an executable, it is used as it is.
# 2. Otherwise it is built from the Go module proxy (never a release download) into
#      ${MCPFLEET_CACHE:-$HOME/.cache/mcpfleet}/jaeger-<JAEGER_VERSION>/jaeger
#    in a throwaway Go module that requires Jaeger at that version (Jaeger's go.mod pins every
#    dependency). A binary already there is reused, so later runs take milliseconds.
#
# Builds are niced (the machine may be shared): nice -n 10, go build -p 1. The UI is not built
# (Jaeger's placeholder page is embedded); the tests only use the query API.
set -euo pipefail

JAEGER_VERSION="${JAEGER_VERSION:-v1.76.0}"
log() { printf '[jaeger] %s\n' "$*" >&2; }

if [[ -n "${MCPFLEET_JAEGER:-}" ]]; then
  if [[ -x "$MCPFLEET_JAEGER" ]]; then
    log "using MCPFLEET_JAEGER=$MCPFLEET_JAEGER"
    echo "$MCPFLEET_JAEGER"
    exit 0
  fi
  log "MCPFLEET_JAEGER=$MCPFLEET_JAEGER is not executable; building $JAEGER_VERSION instead"
fi

cache="${MCPFLEET_CACHE:-$HOME/.cache/mcpfleet}"
dir="$cache/jaeger-$JAEGER_VERSION"
bin="$dir/jaeger"
mkdir -p "$dir"

# One build at a time per cache (parallel test runs would otherwise build twice).
if command -v flock >/dev/null; then
  exec 9>"$dir/.build.lock"
  if ! flock -n 9; then
    log "another jaeger.sh holds $dir/.build.lock; waiting"
    flock 9
  fi
fi

if [[ -x "$bin" ]]; then
  echo "$bin"
  exit 0
fi

# No Go, no Jaeger: the telemetry proof tests cannot run, and that is a failure, never a skip.
command -v go >/dev/null || {
  log "ERROR: go is not on PATH, so Jaeger cannot be built and the telemetry tests cannot run."
  log "Install Go (https://go.dev/dl/; Jaeger $JAEGER_VERSION's go.mod states the minimum), or set MCPFLEET_JAEGER to a jaeger binary."
  exit 1
}
started=$SECONDS
log "building github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION (several minutes on a busy machine)"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=1"
# Not `go install module@version`: Jaeger's go.mod has a replace directive (sarama), which
# go install refuses. A throwaway module that requires Jaeger and repeats that replace selects
# exactly Jaeger's pinned dependency versions (its go.mod lists them all).
(
  cd "$tmp"
  go mod init mcpfleet.test/jaeger-build >&2 2>&1
  go mod edit -replace github.com/Shopify/sarama=github.com/Shopify/sarama@v1.33.0
  nice -n 10 go get "github.com/jaegertracing/jaeger/cmd/jaeger@$JAEGER_VERSION" >&2
  nice -n 10 go build -trimpath -ldflags "-s -w" -o "$tmp/jaeger" github.com/jaegertracing/jaeger/cmd/jaeger >&2
)
mv "$tmp/jaeger" "$bin"
log "built $bin in $((SECONDS - started)) s"
echo "$bin"
