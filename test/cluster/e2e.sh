#!/usr/bin/env bash
# `make test-e2e`: brings the real one-node cluster up (cluster-up.sh), runs the jest project
# `e2e` against it, and takes the cluster down again however the tests end (a trap), so a failed
# or interrupted run leaves nothing behind. MCPFLEET_E2E_KEEP=1 keeps the cluster for debugging.
# Extra arguments go to jest (e.g. -t 'stdio').
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/../.."
t0=$SECONDS
down() {
  local rc=$?
  if [[ "${MCPFLEET_E2E_KEEP:-}" == 1 ]]; then
    echo "[e2e] MCPFLEET_E2E_KEEP=1: the cluster stays up (make cluster-down)" >&2
  else
    bash "$here/cluster-down.sh" || rc=1
  fi
  echo "[e2e] done in $((SECONDS - t0))s (exit $rc)" >&2
  exit $rc
}
trap down EXIT
trap 'exit 130' INT TERM
bash "$here/cluster-up.sh"
echo "[e2e] cluster up after $((SECONDS - t0))s; running the e2e tests" >&2
MCPFLEET_E2E=1 node --experimental-vm-modules node_modules/jest/bin/jest.js --selectProjects e2e --runInBand "$@"
