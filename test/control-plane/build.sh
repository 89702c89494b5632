#!/usr/bin/env bash
# Obtains the test control plane's binaries and prints the directory holding them as its last
# line (stdout); progress goes to stderr.
#
#   etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm
#
# With --node it also builds kubelet and kube-proxy (same pinned module and ldflags) for the
# real test node of test/cluster/.
#
# 1. If KUBEBUILDER_ASSETS is set and holds all of them, that directory is used as it is.
# 2. Otherwise they are built from Go modules (never downloaded as release binaries) into
#      ${MCPFLEET_CACHE:-$HOME/.cache/mcpfleet}/k8s-<KUBERNETES_VERSION>/bin
#    with the versions pinned in versions.env. Binaries already built with the same pinned
#    version are kept, so a second run takes seconds. Go's build and module caches are reused.
#
# Builds are sequential and niced (the machine may be shared): nice -n 19, go build -p 1.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$here/versions.env"

binaries=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok helm)
for arg in "$@"; do
  case "$arg" in
    --node) binaries+=(kubelet kube-proxy) ;;
    *) echo "usage: build.sh [--node]" >&2; exit 2 ;;
  esac
done
log() { printf '[control-plane] %s\n' "$*" >&2; }
started=$SECONDS

# ---- 1. KUBEBUILDER_ASSETS -------------------------------------------------------------------
if [[ -n "${KUBEBUILDER_ASSETS:-}" ]]; then
  missing=()
  for b in "${binaries[@]}"; do [[ -x "$KUBEBUILDER_ASSETS/$b" ]] || missing+=("$b"); done
  if ((${#missing[@]} == 0)); then
    log "using KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS"
    echo "$KUBEBUILDER_ASSETS"
    exit 0
  fi
  log "KUBEBUILDER_ASSETS=$KUBEBUILDER_ASSETS lacks: ${missing[*]}; building the pinned set instead"
fi

# ---- 2. build from Go modules ----------------------------------------------------------------
command -v go >/dev/null || { log "go is not on PATH"; exit 1; }
cache="${MCPFLEET_CACHE:-$HOME/.cache/mcpfleet}"
bin="$cache/k8s-$KUBERNETES_VERSION/bin"
mkdir -p "$bin"

# One build.sh at a time per cache (parallel test runs would otherwise build twice).
if command -v flock >/dev/null; then
  exec 9>"$cache/.build.lock"
  if ! flock -n 9; then
    log "another build.sh holds $cache/.build.lock; waiting"
    flock 9
  fi
fi

export CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:+$GOFLAGS }-p=1"

k8s_mm="${KUBERNETES_VERSION#v}"        # 1.34.12
k8s_major="${k8s_mm%%.*}"               # 1
k8s_minor="${k8s_mm#*.}"; k8s_minor="${k8s_minor%%.*}"  # 34

k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$k8s_major"
  k8s_ldflags+=" -X $pkg.gitMinor=$k8s_minor -X $pkg.gitTreeState=clean"
done
# helm's defaults for `helm template`/lint capabilities follow its client-go minor (0.34 -> 1.34
# for helm 3.19), as its Makefile does.
helm_ldflags="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION"
helm_ldflags+=" -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for pkg in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  helm_ldflags+=" -X $pkg.k8sVersionMajor=$k8s_major -X $pkg.k8sVersionMinor=$k8s_minor"
done
kwok_ldflags="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v}"
kwok_ldflags+=" -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${KUBERNETES_VERSION#v}"

# gitCommit and buildDate of the k8s.io/kubernetes tag, from the module proxy's .info (Origin.Hash,
# Time); not part of the stamps below, so a cache without the .info does not force rebuilds.
k8s_source_ldflags() {
  local info commit date
  info="$(cd "$here/gomod/kubernetes" && go mod download -json k8s.io/kubernetes 2>/dev/null \
    | sed -n 's/^[[:space:]]*"Info": "\(.*\)",*$/\1/p')" || true
  [[ -n "$info" && -f "$info" ]] || return 0
  commit="$(grep -o '"Hash":"[0-9a-f]*"' "$info" | head -1 | cut -d'"' -f4)" || true
  date="$(grep -o '"Time":"[^"]*"' "$info" | head -1 | cut -d'"' -f4)" || true
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    [[ -n "$commit" ]] && printf ' -X %s.gitCommit=%s' "$pkg" "$commit"
    [[ -n "$date" ]] && printf ' -X %s.buildDate=%s' "$pkg" "$date"
  done
  return 0
}

# What each binary is built from; stored beside it as .<name>.stamp so a version bump rebuilds.
stamp_of() {
  case "$1" in
    etcd) echo "go.etcd.io/etcd/server/v3@$ETCD_VERSION" ;;
    kwok) echo "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION $kwok_ldflags" ;;
    helm) echo "helm.sh/helm/v3/cmd/helm@$HELM_VERSION $helm_ldflags" ;;
    *) echo "k8s.io/kubernetes/cmd/$1@$KUBERNETES_VERSION $k8s_ldflags" ;;
  esac
}

version_of() {
  local b="$bin/$1"
  case "$1" in
    etcd) "$b" --version 2>/dev/null | head -1 ;;
    kubectl) "$b" version --client 2>/dev/null | head -1 ;;
    helm) "$b" version --short 2>/dev/null ;;
    kwok) "$b" --version 2>/dev/null | head -1 ;;
    *) "$b" --version 2>/dev/null | head -1 ;;
  esac
}

# go build -v prints each package it compiles: turn that into a short progress line every
# 100 packages; anything that is not a bare import path (compiler errors) is passed through.
progress() {
  local name="$1" t0=$SECONDS
  awk -v name="$name" -v t0="$t0" '
    /^[A-Za-z0-9._~\/-]+$/ { n++; if (n % 100 == 0) { printf "[control-plane]   %s: %d packages compiled\n", name, n; fflush() } next }
    { print; fflush() }
    END { if (n > 0) printf "[control-plane]   %s: %d packages compiled in total\n", name, n }
  ' >&2
}

gobuild() { # gobuild <name> <module dir> <ldflags> <package>
  local name="$1" dir="$2" ldflags="$3" pkg="$4" t0=$SECONDS
  log "building $name from $pkg (cold builds take minutes on 2 cores)"
  rm -f "$bin/.$name.tmp"
  (cd "$dir" && nice -n 19 go build -p 1 -v -trimpath -ldflags "$ldflags" -o "$bin/.$name.tmp" "$pkg") 2>&1 | progress "$name"
  mv -f "$bin/.$name.tmp" "$bin/$name"
  stamp_of "$name" > "$bin/.$name.stamp"
  log "built $name in $((SECONDS - t0))s ($(du -h "$bin/$name" | cut -f1)): $(version_of "$name")"
}

goinstall() { # goinstall <name> <ldflags> <package@version>
  local name="$1" ldflags="$2" pkg="$3" t0=$SECONDS tmp
  log "building $name from $pkg"
  tmp="$(mktemp -d "$bin/.$name.XXXXXX")"
  # `go install pkg@version` (not go build) so the module's own go.mod decides dependency versions.
  (cd "$tmp" && GOBIN="$tmp" nice -n 19 go install -p 1 -v -trimpath -ldflags "$ldflags" "$pkg") 2>&1 | progress "$name"
  mv -f "$tmp/$name" "$bin/$name"
  rm -rf "$tmp"
  stamp_of "$name" > "$bin/.$name.stamp"
  log "built $name in $((SECONDS - t0))s ($(du -h "$bin/$name" | cut -f1)): $(version_of "$name")"
}

up_to_date() {
  [[ -x "$bin/$1" && -f "$bin/.$1.stamp" && "$(cat "$bin/.$1.stamp")" == "$(stamp_of "$1")" ]]
}

# The wrapper modules must match versions.env.
grep -qE "^require k8s.io/kubernetes $KUBERNETES_VERSION\$|^[[:space:]]k8s.io/kubernetes $KUBERNETES_VERSION( |\$)" \
  "$here/gomod/kubernetes/go.mod" || {
  log "gomod/kubernetes/go.mod does not require k8s.io/kubernetes $KUBERNETES_VERSION: run $here/update-gomod.sh"; exit 1; }
grep -qE "go.etcd.io/etcd/server/v3 $ETCD_VERSION( |\$)" "$here/gomod/etcd/go.mod" || {
  log "gomod/etcd/go.mod does not require go.etcd.io/etcd/server/v3 $ETCD_VERSION: run $here/update-gomod.sh"; exit 1; }

log "bin dir: $bin"
built=0
for b in "${binaries[@]}"; do
  if up_to_date "$b"; then
    log "have $b: $(version_of "$b")"
    continue
  fi
  built=$((built + 1))
  case "$b" in
    etcd) gobuild etcd "$here/gomod/etcd" "-s -w" go.etcd.io/etcd/server/v3 ;;
    kwok) goinstall kwok "$kwok_ldflags" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION" ;;
    helm) goinstall helm "$helm_ldflags" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION" ;;
    *) gobuild "$b" "$here/gomod/kubernetes" "$k8s_ldflags$(k8s_source_ldflags)" "k8s.io/kubernetes/cmd/$b" ;;
  esac
done
if ((built > 0)); then
  log "built $built binaries in $((SECONDS - started))s"
  (cd "$bin" && du -h "${binaries[@]}" | sed 's/^/[control-plane]   /' >&2)
else
  log "all binaries up to date ($((SECONDS - started))s)"
fi
echo "$bin"
