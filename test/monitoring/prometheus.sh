#!/usr/bin/env bash
# Obtains Prometheus and promtool from Debian's `prometheus` package and prints the directory
# holding both as its last line (stdout); progress goes to stderr. No daemon, no systemd, no
# install: the .deb is fetched with `apt-get download` and unpacked with `dpkg -x`.
#
# 1. If MCPFLEET_PROMETHEUS_BIN is set and holds prometheus and promtool, it is used as it is.
# 2. A copy already unpacked into ${MCPFLEET_CACHE:-$HOME/.cache/mcpfleet}/prometheus-<version>/bin
#    is reused (the newest, if several), so later runs take milliseconds and need no network.
# 3. Otherwise `apt-get download prometheus` in a temp dir (after `apt-get update` if the first
#    try fails, e.g. on a machine whose package lists were never fetched), then `dpkg -x`.
#
# Debian 12 (bookworm) ships 2.42.0+ds-5+deb12u1: the rules and the dashboard keep to PromQL
# that version understands.
set -euo pipefail

log() { printf '[prometheus] %s\n' "$*" >&2; }
usable() { [[ -x "$1/prometheus" && -x "$1/promtool" ]] && "$1/promtool" --version >/dev/null 2>&1; }

if [[ -n "${MCPFLEET_PROMETHEUS_BIN:-}" ]]; then
  if usable "$MCPFLEET_PROMETHEUS_BIN"; then
    log "using MCPFLEET_PROMETHEUS_BIN=$MCPFLEET_PROMETHEUS_BIN"
    echo "$MCPFLEET_PROMETHEUS_BIN"
    exit 0
  fi
  log "MCPFLEET_PROMETHEUS_BIN=$MCPFLEET_PROMETHEUS_BIN lacks a working prometheus and promtool; using Debian's package"
fi

cache="${MCPFLEET_CACHE:-$HOME/.cache/mcpfleet}"
mkdir -p "$cache"

cached() {
  local dir
  # Newest version first.
  while IFS= read -r dir; do
    if usable "$dir/bin"; then
      echo "$dir/bin"
      return 0
    fi
  done < <(find "$cache" -maxdepth 1 -type d -name 'prometheus-*' 2>/dev/null | sort -rV)
  return 1
}

if bin="$(cached)"; then
  echo "$bin"
  exit 0
fi

# One download at a time per cache (jest runs test files in parallel workers).
if command -v flock >/dev/null; then
  exec 9>"$cache/.prometheus.lock"
  flock 9
  if bin="$(cached)"; then
    echo "$bin"
    exit 0
  fi
fi

command -v apt-get >/dev/null && command -v dpkg >/dev/null || {
  log "apt-get and dpkg are needed to fetch Debian's prometheus package (or set MCPFLEET_PROMETHEUS_BIN)"
  exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
log "apt-get download prometheus"
if ! apt-get -q -o APT::Sandbox::User=root download prometheus >&2; then
  log "download failed; apt-get update and retry"
  apt-get -q update >&2
  apt-get -q -o APT::Sandbox::User=root download prometheus >&2
fi
deb="$(ls prometheus_*.deb)"
version="$(dpkg-deb -f "$deb" Version)"
dpkg -x "$deb" unpacked
dest="$cache/prometheus-$version"
rm -rf "$dest.partial"
mkdir -p "$dest.partial/bin"
cp unpacked/usr/bin/prometheus unpacked/usr/bin/promtool "$dest.partial/bin/"
rm -rf "$dest"
mv "$dest.partial" "$dest"
usable "$dest/bin" || { log "unpacked binaries in $dest/bin do not run"; exit 1; }
log "prometheus $version unpacked into $dest/bin"
echo "$dest/bin"
