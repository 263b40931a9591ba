#!/usr/bin/env bash
# Build kube-apiserver and etcd for the real-API-server test tier into
# tools/kube/bin/. A binary is rebuilt only when it is missing or when the
# inputs recorded in its stamp file (go.mod, go.sum, sources, this script)
# changed; the Go build cache makes even a rebuild fast after the first one.
#
#   tools/kube/build.sh            # kube-apiserver + etcd
#   KUBE_BUILD_KCM=1 tools/kube/build.sh   # also kube-controller-manager
#   KUBE_BUILD_NODE=1 tools/kube/build.sh  # also the node tier (with-node.sh):
#       kubelet and kube-proxy (node/, v1.35.4), kube-scheduler (apiserver/),
#       the CNI plugins bridge, host-local, loopback, portmap (cni/, into
#       bin/cni/), and the image archives (images/build-images.sh, bin/images/)
#
# KUBE_BUILD_NODE=1 implies KUBE_BUILD_KCM=1 (the node needs its controllers).
#
# Every Go build runs under `nice -n 19`: the machine is shared.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$here/bin"
mkdir -p "$bin"

export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=readonly}"

# stamp MODULE_DIR -> hash of everything that determines the binaries.
stamp() {
  (
    cd "$1"
    cat go.mod go.sum "$here/build.sh"
    for f in ./*.go; do [[ -f "$f" ]] && cat "$f"; done
    true
  ) | sha256sum | cut -d' ' -f1
}

# up_to_date NAME MODULE_DIR
up_to_date() {
  [[ -x "$bin/$1" && -f "$bin/$1.stamp" && "$(cat "$bin/$1.stamp")" == "$(stamp "$2")" ]]
}

build_k8s() { # NAME [MODULE_DIR] (a command under k8s.io/kubernetes/cmd/)
  local name="$1" mod="${2:-$here/apiserver}"
  if up_to_date "$name" "$mod"; then
    echo "build.sh: $name is up to date"
    return
  fi
  local version major minor
  version="$(cd "$mod" && go list -m -f '{{.Version}}' k8s.io/kubernetes)" # v1.36.3 (node/: v1.35.4)
  major="${version#v}"; major="${major%%.*}"
  minor="${version#v*.}"; minor="${minor%%.*}"
  local pkg=k8s.io/component-base/version
  echo "build.sh: building $name $version"
  local start=$SECONDS
  (cd "$mod" && nice -n 19 go build -trimpath -o "$bin/$name.tmp" \
    -ldflags "-s -w -X $pkg.gitVersion=$version -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor -X $pkg.gitTreeState=clean" \
    "k8s.io/kubernetes/cmd/$name")
  mv "$bin/$name.tmp" "$bin/$name"
  stamp "$mod" >"$bin/$name.stamp"
  echo "build.sh: built $name in $((SECONDS - start))s"
}

build_etcd() {
  local mod="$here/etcd"
  if up_to_date etcd "$mod"; then
    echo "build.sh: etcd is up to date"
    return
  fi
  local version
  version="$(cd "$mod" && go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)"
  echo "build.sh: building etcd $version"
  local start=$SECONDS
  (cd "$mod" && nice -n 19 go build -trimpath -o "$bin/etcd.tmp" -ldflags "-s -w" .)
  mv "$bin/etcd.tmp" "$bin/etcd"
  stamp "$mod" >"$bin/etcd.stamp"
  echo "build.sh: built etcd in $((SECONDS - start))s"
}

# The CNI plugins into bin/cni/, one stamp (bin/cni/plugins.stamp) for the
# four: they come from one module.
cni_plugins=(main/bridge ipam/host-local main/loopback meta/portmap)
build_cni() {
  local mod="$here/cni" p version ok=1
  for p in "${cni_plugins[@]}"; do [[ -x "$bin/cni/${p#*/}" ]] || ok=""; done
  if [[ -n "$ok" && -f "$bin/cni/plugins.stamp" && "$(cat "$bin/cni/plugins.stamp")" == "$(stamp "$mod")" ]]; then
    echo "build.sh: CNI plugins are up to date"
    return
  fi
  mkdir -p "$bin/cni"
  version="$(cd "$mod" && go list -m -f '{{.Version}}' github.com/containernetworking/plugins)"
  echo "build.sh: building CNI plugins $version"
  local start=$SECONDS
  for p in "${cni_plugins[@]}"; do
    (cd "$mod" && nice -n 19 go build -trimpath -o "$bin/cni/${p#*/}.tmp" \
      -ldflags "-s -w -X github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion=$version" \
      "github.com/containernetworking/plugins/plugins/$p")
    mv "$bin/cni/${p#*/}.tmp" "$bin/cni/${p#*/}"
  done
  stamp "$mod" >"$bin/cni/plugins.stamp"
  echo "build.sh: built CNI plugins in $((SECONDS - start))s"
}

build_etcd
build_k8s kube-apiserver
if [[ "${KUBE_BUILD_KCM:-0}" == 1 || "${KUBE_BUILD_NODE:-0}" == 1 ]]; then
  build_k8s kube-controller-manager
fi
if [[ "${KUBE_BUILD_NODE:-0}" == 1 ]]; then
  build_k8s kube-scheduler
  build_k8s kubelet "$here/node"
  build_k8s kube-proxy "$here/node"
  build_cni
  # The Rust images are built when their binaries exist (start-node.sh
  # refreshes them, and requires echo-server, on every start).
  ECHO_REQUIRED=0 "$here/images/build-images.sh"
fi
