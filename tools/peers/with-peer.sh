#!/usr/bin/env bash
# with-peer.sh PEER CMD [ARGS...]: a third-party Gateway API implementation
# against a real API server, then CMD, then everything stopped and removed
# (trap: also on failure and Ctrl-C). PEER: envoy-gateway or traefik.
#
#   1. network namespace gwl4-peer-PEER (netns.sh): the peer and everything
#      it launches run there, on 10.249.I.2, so its listeners never collide
#      with anything else on the machine
#   2. kube-apiserver + etcd (tools/kube/start.sh) serving on 10.249.I.1, the
#      host's side of the namespace, so the peer reaches it; the standard
#      channel Gateway API CRDs (experimental for traefik; PEER_CRDS overrides)
#   3. the peer (tools/peers/PEER/start.sh), its GatewayClass Accepted
#   4. CMD with KUBECONFIG (admin), GWL4_KUBE_DIR, GWL4_PEER_CLASS (the
#      GatewayClass), GWL4_PEER_ADDRESS, GWL4_PEER_NETNS and GWL4_PEER_LOG set
#
# Exits with CMD's exit code; when CMD fails the peer's log tail is printed.
# KUBE_KEEP_DIR=1 keeps the directory (logs) for reading.
#
# One run per peer per machine: its namespace and addresses are fixed, so a
# second run of the same peer waits on an flock of /tmp/gwl4-peer-PEER.lock
# instead of tearing down the first one's namespace (different peers run
# side by side).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
[[ $# -ge 2 ]] || { echo "usage: with-peer.sh envoy-gateway|traefik CMD [ARGS...]" >&2; exit 2; }
peer="$1"
shift
case "$peer" in
envoy-gateway) index=1 class=eg short=eg crds=standard ;;
# Traefik v3.7 reads TCPRoute as v1alpha2, served by the experimental CRDs only.
traefik) index=2 class=traefik short=traefik crds=experimental ;;
*) echo "with-peer.sh: unknown peer $peer (known: envoy-gateway, traefik)" >&2; exit 2 ;;
esac
netns="gwl4-peer-$short"
host_ip="10.249.$index.1" peer_ip="10.249.$index.2"

# fd 9: the lock, closed for every child (a leftover process holding it
# would block the next run forever).
lock="/tmp/gwl4-peer-$short.lock"
exec 9>"$lock"
if ! flock -n 9; then
  echo "with-peer.sh: another $peer run is on this machine; waiting for $lock" >&2
  flock 9
fi

dir="$(mktemp -d "${TMPDIR:-/tmp}/gwl4-peer.XXXXXX")"
# shellcheck disable=SC2329 # runs from the EXIT trap
cleanup() {
  "$here/$peer/stop.sh" "$dir" "$netns" 9>&- || true
  KUBE_KEEP_DIR=1 "$here/../kube/stop.sh" "$dir/kube" 9>&- || true
  "$here/netns.sh" down "$short" "$index" 9>&- || true
  if [[ "${KUBE_KEEP_DIR:-0}" == 1 ]]; then
    echo "with-peer.sh: kept $dir" >&2
  else
    rm -rf "$dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$here/$peer/build.sh" >&2 9>&-
"$here/netns.sh" up "$short" "$index" 9>&-
KUBE_BIND_ADDRESS="$host_ip" KUBE_CONTROLLERS="${KUBE_CONTROLLERS:-namespace,garbagecollector}" \
  "$here/../kube/start.sh" "$dir/kube" 9>&-
"$here/../kube/install-crds.sh" "$dir/kube/kubeconfig" "${PEER_CRDS:-$crds}" 9>&-
"$here/$peer/start.sh" "$dir" "$dir/kube/kubeconfig" "$netns" "$peer_ip" 9>&-

rc=0
KUBECONFIG="$dir/kube/kubeconfig" GWL4_KUBE_DIR="$dir/kube" GWL4_PEER_CLASS="$class" \
  GWL4_PEER_ADDRESS="$peer_ip" GWL4_PEER_NETNS="$netns" GWL4_PEER_LOG="$dir/$peer.log" "$@" 9>&- || rc=$?
if [[ $rc != 0 ]]; then
  echo "with-peer.sh: '$*' exited with $rc; last lines of the $peer log:" >&2
  tail -n 30 "$dir/$peer.log" >&2 || true
fi
exit "$rc"
