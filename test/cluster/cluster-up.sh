#!/usr/bin/env bash
# `make cluster-up`: a real one-node Kubernetes cluster on this machine, for the end-to-end tests
# (and for anyone who wants one). Needs root. Everything it runs is built here:
#
#   control plane  etcd, kube-apiserver, kube-controller-manager, kube-scheduler
#                  (test/control-plane/build.sh, the same pinned binaries the other tests use)
#   node           containerd + runc (Debian), CNI bridge + host-local (Debian), kubelet and
#                  kube-proxy (build.sh --node), CoreDNS (binaries.sh) as a host process
#   images         pause, operator, proxyrunner, server-everything, echo (images.sh, buildah)
#
# State: one work dir, $NODE_WORK (~/.cache/mcpfleet/node/run), plus containerd's image store
# ($CONTAINERD_ROOT) kept between runs. Host changes (undone by cluster-down.sh): the bridge
# mcpf0 with 10.244.0.1/24, a FORWARD drop rule for pod traffic leaving the bridge, kube-proxy's
# and the kubelet's iptables/nft rules, net.ipv4.ip_forward=1 and the kubelet's kernel tunables
# (every sysctl is recorded first and restored), /var/lib/kubelet, /run/containerd, /run/netns.
#
# A work dir left by a crashed run is cleaned (cluster-down.sh) before anything starts.
# Prints the kubeconfig path last; writes $NODE_WORK/cluster.env for the tests.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
log() { printf '[cluster-up] %s\n' "$*" >&2; }
fail() { log "FAILED: $*"; exit 1; }
t_start=$SECONDS
elapsed() { echo "$((SECONDS - t_start))s"; }

[[ $(id -u) == 0 ]] || fail "needs root (containerd, runc, the bridge, iptables)"

# ---- 0. everything built (each step is a no-op when up to date) ---------------------------------
bash "$here/packages.sh"
K8S="$(bash "$here/../control-plane/build.sh" --node | tail -1)"
NODE_BIN="$(bash "$here/binaries.sh" | tail -1)"
bash "$here/images.sh" all
log "binaries and images ready ($(elapsed))"

# ---- 1. leftovers of a crashed run --------------------------------------------------------------
if [[ -e "$NODE_WORK" ]] || ip link show "$BRIDGE" >/dev/null 2>&1; then
  log "a previous cluster was not taken down; cleaning it first"
  bash "$here/cluster-down.sh"
fi

mkdir -p "$NODE_WORK"/{pids,logs,pki,cni/net.d,cni/ipam,containerd,kubelet/pki,pod-logs}
W="$NODE_WORK"
# Undo information, written before the first change: cluster-down restores from these.
sysctl -a 2>/dev/null > "$W/sysctl.before" || true
nft list tables 2>/dev/null > "$W/nft-tables.before" || true
for d in /var/lib/kubelet /run/containerd /run/netns; do [[ -e "$d" ]] && echo "$d"; done > "$W/dirs.before" || true
rm -f "$CONTAINERD_ROOT/clean"   # in use from now on (see cluster-down.sh)

# start <name> <binary> <args...>: a daemon in its own session, log in logs/<name>.log.
start() {
  local name="$1"; shift
  setsid "$@" > "$W/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$W/pids/$name"
}
# wait_for <what> <seconds> <process name or -> <command...>
wait_for() {
  local what="$1" timeout="$2" proc="$3"; shift 3
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    if [[ "$proc" != - ]] && ! alive "$proc"; then
      tail -30 "$W/logs/$proc.log" >&2 || true
      fail "$proc exited while waiting for $what (log: $W/logs/$proc.log)"
    fi
    if ((SECONDS > deadline)); then
      [[ "$proc" != - ]] && { tail -30 "$W/logs/$proc.log" >&2 || true; }
      fail "timed out after ${timeout}s waiting for $what${proc:+ (log: $W/logs/$proc.log)}"
    fi
    sleep 0.3
  done
}
# A failure from here on leaves a work dir; say how to clean it.
trap 'rc=$?; if ((rc != 0)); then log "cluster-up failed; logs in $W/logs; run test/cluster/cluster-down.sh (make cluster-down) to clean up"; fi' EXIT

# ---- 2. network: the bridge first (node IP, apiserver address) ----------------------------------
ip link add "$BRIDGE" type bridge
ip addr add "$NODE_IP/24" dev "$BRIDGE"
ip link set "$BRIDGE" up
sysctl -qw net.ipv4.ip_forward=1
iptables -w -I FORWARD -s "$POD_CIDR" ! -o "$BRIDGE" -m comment --comment "$FORWARD_RULE_COMMENT" -j DROP
cat > "$W/resolv.conf" <<EOF
nameserver 127.0.0.1
EOF

# ---- 3. PKI: one CA for client certificates -------------------------------------------------------
(
  cd "$W/pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 30 -subj "/CN=mcpfleet-node-ca" 2>/dev/null
  mk() { # name CN [O]
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2${3:+/O=$3}" 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -out "$1.crt" -days 30 -extfile "$1.ext" 2>/dev/null
    rm -f "$1.csr" "$1.ext"
  }
  mk kubelet "system:node:$NODE_NAME" system:nodes
  mk apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  mk kube-proxy system:kube-proxy
  openssl ecparam -name prime256v1 -genkey -noout -out sa.key 2>/dev/null
  chmod 600 ./*.key
)
token="$(openssl rand -hex 32)"
echo "$token,admin,admin-uid,\"system:masters\"" > "$W/pki/tokens.csv"
chmod 600 "$W/pki/tokens.csv"

# ---- 4. control plane ------------------------------------------------------------------------------
start etcd "$K8S/etcd" --data-dir="$W/etcd" --name=default \
  --listen-client-urls="http://127.0.0.1:$ETCD_PORT" --advertise-client-urls="http://127.0.0.1:$ETCD_PORT" \
  --listen-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" --initial-advertise-peer-urls="http://127.0.0.1:$ETCD_PEER_PORT" \
  --initial-cluster="default=http://127.0.0.1:$ETCD_PEER_PORT" --unsafe-no-fsync=true
wait_for "etcd /health" 60 etcd curl -sf "http://127.0.0.1:$ETCD_PORT/health"

server="https://$NODE_IP:$APISERVER_PORT"
# The harness's flags (test/control-plane/controlPlane.ts) plus what a real node needs: Node
# authorization and NodeRestriction, client certificates (kubelet, kube-proxy), the kubelet
# client for logs/exec/attach, and the bridge address so pods reach the API through the
# `kubernetes` Service (whose endpoints the default lease reconciler maintains).
start kube-apiserver "$K8S/kube-apiserver" \
  --etcd-servers="http://127.0.0.1:$ETCD_PORT" \
  --bind-address="$NODE_IP" --advertise-address="$NODE_IP" --secure-port="$APISERVER_PORT" \
  --cert-dir="$W/apiserver" --token-auth-file="$W/pki/tokens.csv" \
  --client-ca-file="$W/pki/ca.crt" \
  --authorization-mode=Node,RBAC --allow-privileged=true \
  --enable-admission-plugins=NamespaceLifecycle,ServiceAccount,PodSecurity,ResourceQuota,LimitRanger,NodeRestriction \
  --service-cluster-ip-range="$SERVICE_CIDR" \
  --service-account-issuer=https://kubernetes.default.svc.cluster.local \
  --service-account-key-file="$W/pki/sa.key" --service-account-signing-key-file="$W/pki/sa.key" \
  --kubelet-client-certificate="$W/pki/apiserver-kubelet-client.crt" \
  --kubelet-client-key="$W/pki/apiserver-kubelet-client.key" \
  --kubelet-preferred-address-types=InternalIP
ca="$W/apiserver/apiserver.crt"
wait_for "kube-apiserver /healthz" 180 kube-apiserver \
  bash -c "[[ -f '$ca' ]] && curl -sf --cacert '$ca' -H 'Authorization: Bearer $token' '$server/healthz'"

kubeconfig() { # kubeconfig <file> <user yaml>
  cat > "$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: $server
    certificate-authority-data: $(base64 -w0 < "$ca")
users:
- name: user
  user:
$2
contexts:
- name: test
  context: {cluster: test, user: user, namespace: default}
current-context: test
EOF
  chmod 600 "$1"
}
KUBECONFIG_PATH="$W/kubeconfig"
kubeconfig "$KUBECONFIG_PATH" "    token: $token"
kubeconfig "$W/kubelet.kubeconfig" "    client-certificate: $W/pki/kubelet.crt
    client-key: $W/pki/kubelet.key"
kubeconfig "$W/kube-proxy.kubeconfig" "    client-certificate: $W/pki/kube-proxy.crt
    client-key: $W/pki/kube-proxy.key"
kc() { "$K8S/kubectl" --kubeconfig="$KUBECONFIG_PATH" "$@"; }

common=(--kubeconfig="$KUBECONFIG_PATH" --authentication-kubeconfig="$KUBECONFIG_PATH"
        --authorization-kubeconfig="$KUBECONFIG_PATH" --bind-address=127.0.0.1 --leader-elect=false)
# Unlike the kwok harness, every controller runs: real pod IPs make valid endpoints, and
# kube-proxy needs the EndpointSlices.
start kube-controller-manager "$K8S/kube-controller-manager" "${common[@]}" --secure-port=10257 \
  --service-account-private-key-file="$W/pki/sa.key" --root-ca-file="$ca" --use-service-account-credentials=false
start kube-scheduler "$K8S/kube-scheduler" "${common[@]}" --secure-port=10259
wait_for "the default ServiceAccount" 90 kube-controller-manager kc get serviceaccount default -n default
log "control plane up ($(elapsed))"

# ---- 5. containerd, images ----------------------------------------------------------------------
cat > "$W/cni/net.d/10-mcpfleet.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "mcpfleet",
  "plugins": [
    {
      "type": "bridge", "bridge": "$BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "rangeStart": "10.244.0.10", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "0.0.0.0/0" }],
        "dataDir": "$W/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
mkdir -p "$CONTAINERD_ROOT/root"
sock="$W/containerd/containerd.sock"
cat > "$W/containerd/config.toml" <<EOF
version = 2
root = "$CONTAINERD_ROOT/root"
state = "$W/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "$sock"
[ttrpc]
  address = "$sock.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.10.1"
  stream_server_address = "127.0.0.1"
  # This machine's root lacks CAP_SYS_RESOURCE: runc cannot set the sandbox's oom_score_adj of
  # -998 and every RunPodSandbox would fail. Clamp to what the caller may set.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni/net.d"
EOF
start containerd containerd --config "$W/containerd/config.toml"
ctr() { command ctr -a "$sock" -n k8s.io "$@"; }
wait_for "containerd" 60 containerd ctr version
mkdir -p "$CONTAINERD_ROOT/imported"
for name in pause operator proxyrunner everything echo; do
  stamp="$(cat "$NODE_CACHE/images/$name.stamp")"
  if [[ -f "$CONTAINERD_ROOT/imported/$name" && "$(cat "$CONTAINERD_ROOT/imported/$name")" == "$stamp" ]]; then continue; fi
  t0=$SECONDS
  ctr images import "$NODE_CACHE/images/$name.tar" >/dev/null
  echo "$stamp" > "$CONTAINERD_ROOT/imported/$name"
  log "imported $name into containerd ($((SECONDS - t0))s)"
done
log "containerd up, images imported ($(elapsed))"

# ---- 6. kubelet, kube-proxy, CoreDNS ------------------------------------------------------------
cat > "$W/kubelet-config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$sock
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
address: $NODE_IP
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $W/pki/ca.crt}
authorization: {mode: Webhook}
clusterDNS: [$DNS_IP]
clusterDomain: cluster.local
resolvConf: $W/resolv.conf
podLogsDir: $W/pod-logs
registerNode: true
maxPods: 40
serializeImagePulls: false
evictionHard: {memory.available: "100Mi", nodefs.available: "2%", imagefs.available: "2%"}
imageGCHighThresholdPercent: 98
imageGCLowThresholdPercent: 97
EOF
start kubelet "$K8S/kubelet" --config="$W/kubelet-config.yaml" --kubeconfig="$W/kubelet.kubeconfig" \
  --root-dir="$W/kubelet" --cert-dir="$W/kubelet/pki" \
  --hostname-override="$NODE_NAME" --node-ip="$NODE_IP" --v=1

cat > "$W/kube-proxy-config.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $W/kube-proxy.kubeconfig}
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $POD_CIDR
bindAddress: $NODE_IP
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
nodePortAddresses: ["$POD_CIDR"]
conntrack: {maxPerCore: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
iptables: {localhostNodePorts: false, masqueradeAll: false}
EOF
start kube-proxy "$K8S/kube-proxy" --config="$W/kube-proxy-config.yaml" --v=1

cat > "$W/Corefile" <<EOF
.:53 {
    bind $NODE_IP
    errors
    health 127.0.0.1:18080
    ready 127.0.0.1:18181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $KUBECONFIG_PATH test
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loadbalance
}
EOF
start coredns "$NODE_BIN/coredns" -conf "$W/Corefile"
kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: kube-dns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  clusterIP: $DNS_IP
  ports:
  - {name: dns, port: 53, protocol: UDP, targetPort: 53}
  - {name: dns-tcp, port: 53, protocol: TCP, targetPort: 53}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: {kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: mcpfleet-cluster-up}
addressType: IPv4
endpoints:
- addresses: ["$NODE_IP"]
  conditions: {ready: true}
ports:
- {name: dns, port: 53, protocol: UDP}
- {name: dns-tcp, port: 53, protocol: TCP}
EOF

wait_for "node $NODE_NAME Ready" 120 kubelet kc wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
wait_for "kube-proxy /healthz" 60 kube-proxy curl -sf http://127.0.0.1:10256/healthz
wait_for "CoreDNS /ready" 60 coredns curl -sf http://127.0.0.1:18181/ready

cat > "$W/cluster.env" <<EOF
KUBECONFIG=$KUBECONFIG_PATH
K8S_BIN=$K8S
NODE_NAME=$NODE_NAME
NODE_IP=$NODE_IP
OPERATOR_IMAGE=localhost/mcpfleet-operator:dev
PROXYRUNNER_IMAGE=localhost/mcpfleet-proxyrunner:dev
EVERYTHING_IMAGE=$(cat "$NODE_CACHE/images/everything.ref")
ECHO_IMAGE=localhost/mcp-echo:dev
CONTAINERD_SOCKET=$sock
EOF
trap - EXIT
log "cluster up in $(elapsed)"
{
  echo "running (pid, log under $W/logs):"
  for p in etcd kube-apiserver kube-controller-manager kube-scheduler containerd kubelet kube-proxy coredns; do
    printf '  %-24s %s\n' "$p" "$(pid_of "$p")"
  done
  echo "apiserver $server, node $NODE_NAME ($NODE_IP), pods $POD_CIDR, services $SERVICE_CIDR, DNS $DNS_IP"
  echo "images in containerd: $(ctr images ls -q | grep -v '^sha256:' | tr '\n' ' ')"
  echo "kubectl: $K8S/kubectl --kubeconfig=$KUBECONFIG_PATH"
  echo "take it down: make cluster-down"
} >&2
echo "$KUBECONFIG_PATH"
