#!/usr/bin/env bash
# Test support: the proxy tests for `--session-storage redis` start real redis-server
# processes (Debian's package), one per test file on a random loopback port. This puts the
# binary on the machine if it is missing; `make test` runs it before the suite. Nothing is
# started or enabled as a system service here (the package's own unit is left stopped).
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  echo "redis-server: $(redis-server --version | head -1)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo ">> installing redis-server (Debian package) for the session-storage tests"
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d keeps the package from starting its system service during install.
POLICY=/usr/sbin/policy-rc.d
CREATED_POLICY=""
if [ ! -e "$POLICY" ]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$POLICY" >/dev/null && $SUDO chmod +x "$POLICY" && CREATED_POLICY=1
fi
trap '[ -n "$CREATED_POLICY" ] && $SUDO rm -f "$POLICY"' EXIT
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends redis-server >/dev/null
redis-server --version | head -1
