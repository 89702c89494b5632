# Shared settings of the real test node's scripts (sourced, not run).
# Everything lives under $NODE_CACHE; the running cluster's state under $NODE_WORK.
MCPFLEET_CACHE="${MCPFLEET_CACHE:-$HOME/.cache/mcpfleet}"
NODE_CACHE="$MCPFLEET_CACHE/node"
NODE_WORK="$NODE_CACHE/run"
NODE_VERSION="${NODE_VERSION:-24.21.0}"

# The Debian mirror the host itself uses (deb822 sources or a classic sources.list).
debian_mirror() {
  local m
  m="$(awk '/^URIs:/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
  [[ -n "$m" ]] || m="$(awk '$1 == "deb" && $2 ~ /^http/ && $2 ~ /debian\/?$/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)"
  echo "${m:-http://deb.debian.org/debian}"
}

# Network layout (one node). The bridge carries the node's address: the kubelet needs a local,
# non-loopback node IP, and the apiserver listens there too so pods reach it through the
# `kubernetes` Service. Pod traffic never leaves the machine (a FORWARD drop rule, no masquerade).
BRIDGE=mcpf0
NODE_IP=10.244.0.1
POD_CIDR=10.244.0.0/24
SERVICE_CIDR=10.0.0.0/24
DNS_IP=10.0.0.10
NODE_NAME=node1
APISERVER_PORT=6443
ETCD_PORT=12379
ETCD_PEER_PORT=12380
FORWARD_RULE_COMMENT=mcpfleet-node
# Where containerd keeps images between runs (a warm cluster-up imports nothing).
CONTAINERD_ROOT="$NODE_CACHE/containerd"
K8S_BIN() { source "$(dirname "${BASH_SOURCE[0]}")/../control-plane/versions.env"; echo "$MCPFLEET_CACHE/k8s-$KUBERNETES_VERSION/bin"; }

# Processes of the running cluster: one pid file each under $NODE_WORK/pids.
pid_of() { local f="$NODE_WORK/pids/$1"; [[ -f "$f" ]] && cat "$f"; }
alive() { local p; p="$(pid_of "$1")" && [[ -n "$p" ]] && kill -0 "$p" 2>/dev/null; }
