#!/usr/bin/env bash
# Installs the Debian packages the real test node needs (idempotent: does nothing when all are
# present). containerd + runc run the pods, containernetworking-plugins give bridge/host-local,
# iptables/nftables/conntrack serve kube-proxy, buildah builds images without a daemon or a
# registry, debootstrap makes the node base image's rootfs, gcc compiles the pause binary.
set -euo pipefail
packages=(containerd runc containernetworking-plugins iptables conntrack nftables buildah
          debootstrap gcc libc6-dev openssl iproute2 util-linux curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  echo "[packages] all present" >&2
  exit 0
fi
[[ $(id -u) == 0 ]] || { echo "[packages] need root to install: ${missing[*]}" >&2; exit 1; }
echo "[packages] installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# apt may be busy for a moment (another install); wait for its lock rather than failing.
apt-get -o DPkg::Lock::Timeout=300 update -q >&2
apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}" >&2
echo "[packages] installed" >&2
