#!/usr/bin/env bash
# with-apiserver.sh [--crds standard|experimental] CMD [ARGS...]
#
# Start etcd + kube-apiserver in a fresh temporary directory, optionally
# install the Gateway API CRDs of one channel, run CMD with
#   KUBECONFIG                 admin kubeconfig (user gwl4-admin)
#   GWL4_KUBE_DIR              the directory (controller.kubeconfig, env, logs)
#   GWL4_CONTROLLER_KUBECONFIG kubeconfig of user gwl4-controller
# set, and always stop the servers and remove the directory afterwards (trap).
# Exits with CMD's exit code. When CMD fails, the API server log's tail is
# printed; KUBE_KEEP_DIR=1 keeps the whole directory.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
crds=""
if [[ "${1:-}" == --crds ]]; then
  crds="${2:?--crds needs standard or experimental}"
  shift 2
fi
[[ $# -ge 1 ]] || { echo "usage: with-apiserver.sh [--crds standard|experimental] CMD [ARGS...]" >&2; exit 2; }

dir="$(mktemp -d "${TMPDIR:-/tmp}/gwl4-kube.XXXXXX")"
cleanup() { "$here/stop.sh" "$dir" || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/start.sh" "$dir"
if [[ -n "$crds" ]]; then
  "$here/install-crds.sh" "$dir/kubeconfig" "$crds"
fi

rc=0
KUBECONFIG="$dir/kubeconfig" GWL4_KUBE_DIR="$dir" GWL4_CONTROLLER_KUBECONFIG="$dir/controller.kubeconfig" \
  "$@" || rc=$?
if [[ $rc != 0 ]]; then
  echo "with-apiserver.sh: '$*' exited with $rc; last lines of the kube-apiserver log:" >&2
  tail -n 30 "$dir/kube-apiserver.log" >&2 || true
fi
exit "$rc"
