#!/usr/bin/env bash
# stop.sh DIR NETNS: stop what start.sh DIR started: the stand-in loop, Envoy
# Gateway and every Envoy it launched (every process in NETNS: TERM, then
# KILL after 10 s), and remove /certs if start.sh made it and no other peer
# runs. Safe to run twice.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../kube/lib.sh
source "$here/../../kube/lib.sh"
# shellcheck source=../lib.sh
source "$here/../lib.sh"
[[ $# == 2 ]] || kube_die "usage: stop.sh DIR NETNS"
dir="$1" netns="$2"

if [[ -f "$dir/standin.pid" ]]; then
  kill -TERM -- "-$(cat "$dir/standin.pid")" 2>/dev/null || true
  rm -f "$dir/standin.pid"
fi
peer_stop_processes "$netns"
rm -f "$dir/envoy-gateway.pid"
if [[ -f "$dir/envoy-gateway/made-certs-dir" ]]; then
  others="$(find /run/gwl4-peers -maxdepth 1 -name 'gwl4-peer-*' ! -name "$netns" 2>/dev/null || true)"
  [[ -z "$others" ]] && rmdir /certs 2>/dev/null || true
  rm -f "$dir/envoy-gateway/made-certs-dir"
fi
