#!/usr/bin/env bash
# with-node.sh [--crds standard|experimental] CMD [ARGS...]
#
# Run CMD against a one-node Kubernetes cluster on this machine (the node
# test tier, issue #22; README.md, "A node"): start-node.sh brings up the API
# server tier with the controllers a node needs, containerd, the kubelet,
# kube-proxy and kube-scheduler in a fresh temporary directory, imports the
# images (pause, ghcr.io/gwl4/echo-server:local and, when
# target/release/reference-gateway exists, ghcr.io/gwl4/reference-gateway:latest;
# GWL4_IMAGE_BINARIES=target/debug takes both from the debug build),
# waits until the Node is Ready and the network works, installs the Gateway
# API CRDs of one channel if --crds says so; then CMD runs with
#   KUBECONFIG                 admin kubeconfig (user gwl4-admin)
#   GWL4_KUBE_DIR              the API server tier's directory
#   GWL4_CONTROLLER_KUBECONFIG kubeconfig of user gwl4-controller
#   GWL4_NODE_DIR              the node's directory (logs, containerd.sock)
# set, and stop-node.sh always tears everything down afterwards (also after
# a failed start, SIGINT and SIGTERM; signal the process group, as Ctrl-C
# does: bash runs the trap once its foreground command has ended). Exits with
# CMD's exit code (130 after SIGINT, 143 after SIGTERM; 2 when containerd or
# runc is missing, 1 when the node did not come up). Before CMD starts, one
# line on stderr begins with "with-node.sh: node ready". A SIGINT in the
# instant between that line and CMD's exec can miss CMD; bash then acts on it
# only when CMD ends (harness/tests/node_leftovers.rs waits until CMD runs).
#
# One node per machine: an flock on /tmp/gwl4-node.lock (waits for the
# holder). KUBE_KEEP_DIR=1 keeps the directory (logs) after teardown.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=node/node.sh
source "$here/node/node.sh"
crds=""
if [[ "${1:-}" == --crds ]]; then
  crds="${2:?--crds needs standard or experimental}"
  shift 2
fi
[[ $# -ge 1 ]] || { echo "usage: with-node.sh [--crds standard|experimental] CMD [ARGS...]" >&2; exit 2; }
node_prerequisites

# fd 9: the lock, closed for every child (a leftover process holding it
# would block the next node forever).
exec 9>"$NODE_LOCK"
if ! flock -n 9; then
  echo "with-node.sh: another node runs on this machine; waiting for $NODE_LOCK" >&2
  flock 9
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/gwl4-node.XXXXXX")"
# shellcheck disable=SC2329 # runs from the EXIT trap
cleanup() {
  local rc=$?
  trap '' INT TERM
  "$here/stop-node.sh" "$dir" 9>&- || echo "with-node.sh: teardown left something behind (above)" >&2
  return "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$SECONDS
"$here/start-node.sh" "$dir" 9>&-
if [[ -n "$crds" ]]; then
  "$here/install-crds.sh" "$dir/api/kubeconfig" "$crds" 9>&-
fi
echo "with-node.sh: node ready in $((SECONDS - started))s; KUBECONFIG=$dir/api/kubeconfig; running: $*" >&2

rc=0
KUBECONFIG="$dir/api/kubeconfig" GWL4_KUBE_DIR="$dir/api" GWL4_CONTROLLER_KUBECONFIG="$dir/api/controller.kubeconfig" \
  GWL4_NODE_DIR="$dir" "$@" 9>&- || rc=$?
if [[ $rc != 0 ]]; then
  echo "with-node.sh: '$*' exited with $rc; last lines of the kubelet log:" >&2
  tail -n 20 "$dir/kubelet.log" >&2 || true
fi
exit "$rc"
