#!/usr/bin/env bash
# `make cluster-down`: takes down what cluster-up.sh started and leaves nothing behind, whether
# the cluster is healthy, half started or left by a crashed run (cluster-up.sh calls this first
# when it finds leftovers). Idempotent; safe when nothing runs.
#
# Order matters: pods are deleted while the kubelet still runs (it tears down their veths and
# IPs through CNI), then the node, containerd and its shims, any process still in the kubepods
# cgroups, the control plane; then mounts, network namespaces, the bridge, iptables/nft rules,
# sysctls (restored from cluster-up's record), cgroups and directories.
#
# Processes are found by pid file, then by a command line naming the work dir (never by name:
# other control planes on this machine run the same binaries).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
log() { printf '[cluster-down] %s\n' "$*" >&2; }
t_start=$SECONDS
W="$NODE_WORK"
K8S="$(K8S_BIN)"
sock="$W/containerd/containerd.sock"
kc() { "$K8S/kubectl" --kubeconfig="$W/kubeconfig" --request-timeout=10s "$@"; }

[[ $(id -u) == 0 ]] || { log "needs root"; exit 1; }

# stop <name>: SIGTERM, up to <grace> seconds, then SIGKILL.
stop() {
  local name="$1" grace="${2:-10}" pid
  pid="$(pid_of "$name")" || return 0
  [[ -n "$pid" ]] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < grace * 10; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$W/pids/$name"
}

# ---- 1. pods, while the kubelet runs ---------------------------------------------------------------
if alive kube-apiserver && alive kubelet && [[ -f "$W/kubeconfig" ]]; then
  # No controller may recreate what is deleted.
  stop kube-controller-manager; stop kube-scheduler
  kc delete pods --all --all-namespaces --grace-period=2 --wait=false >/dev/null 2>&1
  for ((i = 0; i < 60; i++)); do
    [[ -z "$(kc get pods -A -o name 2>/dev/null)" ]] && break
    sleep 1
  done
  left="$(kc get pods -A -o name 2>/dev/null)"
  [[ -z "$left" ]] || log "pods still there after 60 s (removed below): $(echo "$left" | tr '\n' ' ')"
fi

# ---- 2. node processes -----------------------------------------------------------------------------
stop coredns; stop kube-proxy; stop kubelet 15
stop kube-controller-manager; stop kube-scheduler

# ---- 3. containers, containerd, shims --------------------------------------------------------------
clean_containers=no
if alive containerd; then
  ctr() { timeout 30 ctr -a "$sock" -n k8s.io "$@"; }
  for id in $(ctr tasks ls -q 2>/dev/null); do ctr tasks kill -s SIGKILL "$id" >/dev/null 2>&1; done
  sleep 0.5
  for id in $(ctr tasks ls -q 2>/dev/null); do ctr tasks rm -f "$id" >/dev/null 2>&1; done
  for id in $(ctr containers ls -q 2>/dev/null); do ctr containers rm "$id" >/dev/null 2>&1; done
  [[ -z "$(ctr containers ls -q 2>/dev/null)" ]] && clean_containers=yes
fi
stop containerd 10

# kill_matching <pattern>: every process whose command line contains it (fixed string).
kill_matching() {
  local pat="$1" pids=() p
  for p in /proc/[0-9]*; do
    [[ "${p#/proc/}" == "$$" || ! -r "$p/cmdline" ]] && continue
    if tr '\0' ' ' < "$p/cmdline" 2>/dev/null | grep -qF -- "$pat"; then pids+=("${p#/proc/}"); fi
  done
  ((${#pids[@]} == 0)) && return 0
  log "killing ${#pids[@]} process(es) naming $pat: ${pids[*]}"
  kill -KILL "${pids[@]}" 2>/dev/null
  sleep 0.5
}
# Shims outlive containerd by design; they name its socket.
kill_matching "$sock"
# Container processes whose shim is gone: whatever is left in the kubelet's cgroups.
kill_cgroup_procs() {
  local f pids
  for f in $(find /sys/fs/cgroup/*/kubepods -name cgroup.procs 2>/dev/null); do
    pids="$(cat "$f" 2>/dev/null | tr '\n' ' ')"
    [[ -n "${pids// /}" ]] && { log "killing processes left in ${f%/cgroup.procs}: $pids"; kill -KILL $pids 2>/dev/null; }
  done
  return 0
}
kill_cgroup_procs

# ---- 4. control plane ------------------------------------------------------------------------------
stop kube-apiserver 10; stop etcd 10
# Anything of ours without a pid file (a crash between start and its pid file, or a lost one).
kill_matching "$W/"
kill_cgroup_procs

# ---- 5. rules that kube-proxy and the kubelet made -------------------------------------------------
if [[ -x "$K8S/kube-proxy" ]]; then
  "$K8S/kube-proxy" --cleanup >/dev/null 2>&1 || true
fi
while iptables -w -D FORWARD -s "$POD_CIDR" ! -o "$BRIDGE" -m comment --comment "$FORWARD_RULE_COMMENT" -j DROP 2>/dev/null; do :; done
# The kubelet's canary/firewall chains (KUBE-*), in every table of both families.
for ipt in iptables ip6tables; do
  for table in filter nat mangle; do
    chains="$($ipt -w -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^KUBE-/ {print $2}')"
    [[ -z "$chains" ]] && continue
    # Jumps to them from the built-in chains first.
    $ipt -w -t "$table" -S 2>/dev/null | awk '$1 == "-A" && / -j KUBE-/' | while read -r -a rule; do
      rule[0]=-D; $ipt -w -t "$table" "${rule[@]}" 2>/dev/null
    done
    for c in $chains; do $ipt -w -t "$table" -F "$c" 2>/dev/null; done
    for c in $chains; do $ipt -w -t "$table" -X "$c" 2>/dev/null; done
  done
done
# nft tables that did not exist before cluster-up (iptables-nft makes them; kube-proxy's own).
if [[ -f "$W/nft-tables.before" ]]; then
  nft list tables 2>/dev/null | while read -r _ family name; do
    grep -qxF "table $family $name" "$W/nft-tables.before" && continue
    case "$name" in
      filter|nat|mangle|raw|security|kube-proxy)
        # Only when empty of rules (otherwise someone else uses it).
        if [[ "$name" == kube-proxy ]] || ! nft list table "$family" "$name" 2>/dev/null | grep -qE '^\s+(ip|ip6|meta|counter|jump|accept|drop|tcp|udp|ct)\b'; then
          nft delete table "$family" "$name" 2>/dev/null
        else
          log "left nft table $family $name (it holds rules not made by the cluster)"
        fi ;;
    esac
  done
fi

# ---- 6. mounts, network namespaces, links ----------------------------------------------------------
unmount_under() { # every mount point under $1, deepest first
  local prefix="$1" m
  awk -v p="$prefix" '{ if (index($5, p) == 1) print $5 }' /proc/self/mountinfo | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "could not unmount $m"
  done
}
unmount_under "$W/"
unmount_under "$CONTAINERD_ROOT/"
unmount_under /run/containerd/
unmount_under /var/lib/kubelet/
for ns in /run/netns/cni-*; do
  [[ -e "$ns" ]] || continue
  umount "$ns" 2>/dev/null || umount -l "$ns" 2>/dev/null
  rm -f "$ns"
done
# veths on the bridge (their netns should be gone with the pods; a leftover peer is removed here)
for link in $(ip -o link show master "$BRIDGE" 2>/dev/null | awk -F': ' '{print $2}' | cut -d@ -f1); do
  ip link del "$link" 2>/dev/null
done
ip link del "$BRIDGE" 2>/dev/null

# ---- 7. sysctls back to what cluster-up found ------------------------------------------------------
# Global knobs only (per-interface entries went with their interfaces).
if [[ -f "$W/sysctl.before" ]]; then
  restored=()
  sysctl -a 2>/dev/null | grep -E '^(vm\.|kernel\.(panic|keys)|net\.ipv4\.(ip_forward|conf\.(all|default)\.)|net\.ipv6\.conf\.(all|default)\.|net\.bridge\.|net\.netfilter\.nf_conntrack_(max|tcp_))' \
    > "$W/sysctl.after"
  while IFS= read -r line; do
    key="${line%% = *}"
    before="$(awk -F' = ' -v k="$key" '$1 == k { print; exit }' "$W/sysctl.before")"
    [[ -n "$before" && "$before" != "$line" ]] || continue
    sysctl -qw "$key=${before#* = }" 2>/dev/null && restored+=("$key=${before#* = }")
  done < "$W/sysctl.after"
  ((${#restored[@]} > 0)) && log "restored sysctls: ${restored[*]}"
fi

# ---- 8. cgroups, directories -----------------------------------------------------------------------
for root in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/kubepods; do
  [[ -d "$root" ]] || continue
  find "$root" -depth -type d -exec rmdir {} \; 2>/dev/null
  [[ -d "$root" ]] && log "could not remove cgroup $root"
done
if [[ -f "$W/dirs.before" ]]; then
  for d in /var/lib/kubelet /run/containerd /run/netns; do
    grep -qxF "$d" "$W/dirs.before" || rm -rf "$d"
  done
fi
if [[ "$clean_containers" == yes ]]; then
  touch "$CONTAINERD_ROOT/clean"
elif [[ -d "$CONTAINERD_ROOT" && ! -f "$CONTAINERD_ROOT/clean" ]]; then
  # Containers of a crashed run may be left in its metadata: start afresh (images are re-imported).
  log "containerd's store was not left clean; removing it ($CONTAINERD_ROOT)"
  rm -rf "$CONTAINERD_ROOT"
fi
rm -rf "$W"
log "cluster down ($((SECONDS - t_start))s)"
