#!/usr/bin/env bash
# start.sh DIR KUBECONFIG NETNS ADDRESS: Traefik against the API server of
# KUBECONFIG, out of cluster, inside network namespace NETNS whose address is
# ADDRESS; its log in DIR. Returns once GatewayClass `traefik` is Accepted.
# Stop with stop.sh DIR NETNS. with-peer.sh does all of this.
#
# Configured as Traefik documents its Gateway API provider, with what a
# cluster would otherwise provide supplied here (none of it changes what
# Traefik does with Gateway API objects):
#
# - GatewayClass `traefik` with Traefik's controllerName, as its Helm chart
#   would install it.
# - KUBECONFIG (the tier's admin credentials) instead of a ServiceAccount.
# - One static TCP entryPoint per Gateway listener port the catalog uses
#   ($TRAEFIK_TCP_PORTS): Traefik binds entryPoints at start, not from
#   Gateways, and gives a listener whose port has none Accepted=False
#   (PortUnavailable). No UDP entryPoints: Traefik has no UDPRoute.
# - `statusAddress.ip=ADDRESS`: what Traefik writes into every Gateway's
#   status.addresses (in a cluster, its LoadBalancer Service's address).
# - `experimentalChannel=true`: Traefik v3.7 reads TCPRoute only this way, as
#   v1alpha2, which only the experimental-channel CRDs serve (with-peer.sh
#   installs those for it).
# Everything else is Traefik's default, the 2 s providersThrottleDuration
# included.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../kube/lib.sh
source "$here/../../kube/lib.sh"
# shellcheck source=../lib.sh
source "$here/../lib.sh"
[[ $# == 4 ]] || kube_die "usage: start.sh DIR KUBECONFIG NETNS ADDRESS"
dir="$1" kubeconfig="$2" netns="$3" address="$4"
bin="$(cd "$here/.." && pwd)/bin"
[[ -x "$bin/traefik" ]] || "$here/build.sh" >&2
kube_load "$kubeconfig"

# 9000-9001 (a TCP and a UDP listener on one port), 9300-9329 (the catalog's
# TCP listeners, GatewayListenerPortChange's new port included).
TRAEFIK_TCP_PORTS="${TRAEFIK_TCP_PORTS:-9000 9001 $(seq -s ' ' 9300 9329)}"

kube_apply_doc 'apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata:
  name: traefik
spec:
  controllerName: traefik.io/gateway-controller' gwl4-peers >/dev/null ||
  kube_die "could not apply GatewayClass traefik"

args=(
  --global.checkNewVersion=false --global.sendAnonymousUsage=false --log.level=DEBUG
  --providers.kubernetesgateway=true
  --providers.kubernetesgateway.experimentalChannel=true
  "--providers.kubernetesgateway.statusAddress.ip=$address"
)
for port in $TRAEFIK_TCP_PORTS; do
  args+=("--entryPoints.tcp$port.address=:$port/tcp")
done
setsid ip netns exec "$netns" env KUBECONFIG="$kubeconfig" HOME="$dir" "$bin/traefik" "${args[@]}" \
  </dev/null >"$dir/traefik.log" 2>&1 &
echo $! >"$dir/traefik.pid"

peer_wait_accepted traefik traefik "$dir/traefik.pid" "$dir/traefik.log"
echo "start.sh: Traefik runs in $netns; GatewayClass traefik is Accepted; Gateways get $address" >&2
