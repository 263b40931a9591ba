#!/usr/bin/env bash
# netns.sh up|down NAME INDEX: the network namespace a peer runs in, so its
# listeners (Envoy binds 0.0.0.0:<listener port>) never collide with anything
# else on the machine, as a Pod's would not.
#
#   namespace  gwl4-peer-NAME, with lo up and eth0 = 10.249.INDEX.2/24
#   host side  veth gwlp<INDEX> = 10.249.INDEX.1/24
#   routing    the namespace's default route is the host side, and the host
#              forwards IPv4 while any peer namespace exists, so the peer
#              reaches the echo replicas of `--workloads local` (10.248.n.x on
#              their bridges) and they answer it. The previous value of
#              net.ipv4.ip_forward is restored when the last one goes.
#
# `down` removes everything `up` made and is safe to run twice. INDEX is
# 0..254; one per peer that runs at the same time.
set -euo pipefail

[[ $# == 3 && ( "$1" == up || "$1" == down ) && "$3" =~ ^[0-9]+$ && "$3" -le 254 ]] ||
  { echo "usage: netns.sh up|down NAME INDEX(0-254)" >&2; exit 2; }
action="$1" ns="gwl4-peer-$2" index="$3"
host_if="gwlp$index"
host_ip="10.249.$index.1" peer_ip="10.249.$index.2"
state=/run/gwl4-peers
mkdir -p "$state"

down() {
  ip link del "$host_if" 2>/dev/null || true
  ip netns del "$ns" 2>/dev/null || true
  rm -f "$state/$ns"
  # The last peer namespace gone: forwarding back as it was.
  if [[ -f "$state/ip_forward" ]] && ! compgen -G "$state/gwl4-peer-*" >/dev/null; then
    sysctl -qw net.ipv4.ip_forward="$(cat "$state/ip_forward")"
    rm -f "$state/ip_forward"
  fi
}

if [[ "$action" == down ]]; then
  down
  exit 0
fi

command -v ip >/dev/null || { echo "netns.sh: iproute2's ip is needed" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || { echo "netns.sh: network namespaces need root" >&2; exit 1; }
# A killed run's leftovers go first.
down
trap 'down' ERR
[[ -f "$state/ip_forward" ]] || sysctl -n net.ipv4.ip_forward >"$state/ip_forward"
touch "$state/$ns"
ip netns add "$ns"
ip link add "$host_if" type veth peer name eth0 netns "$ns"
ip addr add "$host_ip/24" dev "$host_if"
ip link set "$host_if" up
ip -n "$ns" link set lo up
ip -n "$ns" addr add "$peer_ip/24" dev eth0
ip -n "$ns" link set eth0 up
ip -n "$ns" route add default via "$host_ip"
sysctl -qw net.ipv4.ip_forward=1
echo "netns.sh: $ns is up: $peer_ip (host side $host_ip on $host_if)" >&2
