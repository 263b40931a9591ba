#!/usr/bin/env bash
# A third-party gateway (tools/peers) next to the reference gateway, measured
# by `gwl4 bench` in one run on the same network path: both gateways run in
# the peer's network namespace (10.249.I.2), in front of the same two echo
# backends on the namespace's host side (10.249.I.1: bench-v1 on TCP 15000 /
# UDP 15001, bench-v2 on TCP 15010), with a 70/30 TCP split and (Envoy
# Gateway; Traefik has no UDPRoute) a UDP route; each is judged against
# those backends reached directly. The peer gets its configuration the way
# users give it: a Gateway, a TCPRoute (and UDPRoute), Services and
# EndpointSlices through the API server.
#
#   scripts/bench/peers.sh [envoy-gateway|traefik] [--short] [-- extra gwl4 bench flags]
#
# Default peer: envoy-gateway. Needs what tools/peers needs (root, Go, pip).
# Environment: GWL4 (a built gwl4, skips the release build), BENCH_OUT
# (output dir, default bench-out/peers). Output: <out>/<gateway>/bench.{json,html},
# <out>/table.md.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$repo/bench-out/peers}
peer=envoy-gateway
case ${1:-} in envoy-gateway | traefik) peer=$1; shift ;; esac
short=()
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --short) short=(--short) ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "${GWL4:-}" ]; then
  cargo build --release -p harness --manifest-path "$repo/Cargo.toml"
  GWL4=$repo/target/release/gwl4
fi
mkdir -p "$out"
out=$(cd "$out" && pwd)

# The part that runs with the peer up (with-peer.sh sets KUBECONFIG etc.).
if [ -n "${GWL4_PEER_CLASS:-}" ]; then
  gwl4=$GWL4
  # shellcheck source=lib.sh
  source "$here/lib.sh"
  # shellcheck source=../../tools/kube/lib.sh
  source "$repo/tools/kube/lib.sh"
  kube_load "$KUBECONFIG"
  gw=$GWL4_PEER_ADDRESS host=${GWL4_PEER_ADDRESS%.2}.1 netns=$GWL4_PEER_NETNS
  # udp: whether the peer serves UDPRoute; match: how its data-plane
  # process's command line reads.
  case $peer in
  envoy-gateway) udp=1 match="--service-cluster gwl4-bench/bench " ;;
  traefik) udp=0 match="traefik " ;;
  esac
  # netns_pid TEXT: the first process in the namespace whose command line
  # contains TEXT.
  netns_pid() {
    ip netns pids "$netns" | while read -r p; do
      [[ "$(tr '\0' ' ' </proc/"$p"/cmdline)" == *"$1"* ]] && echo "$p"
    done | head -n1
  }
  for v in 1 2; do
    port=$((15000 + (v - 1) * 10))
    "$gwl4" echo-server --bind "$host" --tcp-port "$port" --udp-port $((port + 1)) \
      --service bench-v$v --pod bench-v$v-0 --namespace gwl4-bench >"$out/echo-v$v.log" 2>&1 &
    pids+=($!)
    wait_tcp "$host" "$port"
  done
  sed -e "s/{ADDRESS}/$host/g" -e "s/{CLASS}/$GWL4_PEER_CLASS/g" "$here/peers.yaml" >"$out/peers.yaml"
  if [[ $udp == 0 ]]; then
    # TCP only: no UDP listener (it would make the whole Gateway not
    # Accepted) and no UDPRoute.
    python3 - "$out/peers.yaml" <<'PY'
import sys
path = sys.argv[1]
docs = open(path).read().split("\n---\n")
docs = [d for d in docs if "kind: UDPRoute" not in d]
docs = [d.replace("    - {name: udp, protocol: UDP, port: 16001}\n", "") for d in docs]
open(path, "w").write("\n---\n".join(docs))
PY
  fi
  kube_apply_file "$out/peers.yaml" gwl4-bench || { echo "could not apply $out/peers.yaml" >&2; exit 1; }
  # The peer: ready once its TCP route answers.
  for _ in $(seq 1 600); do
    reply=$(timeout 2 bash -c "exec 3<>/dev/tcp/$gw/16000; echo 'HELLO x' >&3; head -n 1 <&3" 2>/dev/null || true)
    [[ "$reply" == *bench-v* ]] && break
    sleep 0.1
  done
  [[ "$reply" == *bench-v* ]] || { echo "$peer's route never answered on $gw:16000" >&2; exit 1; }
  peer_pid=$(netns_pid "$match")

  # The reference gateway's data plane, same namespace, same backends.
  sed -e "s/127.0.3.23/$gw/g" -e "s/127.0.3.1:/$host:/g" -e "s/127.0.3.2:15000/$host:15010/g" \
    "$here/reference-gateway.yaml" | sed -e "s/port: 16000/port: 17000/" -e "s/port: 16001/port: 17001/" >"$out/reference-gateway.yaml"
  ip netns exec "$netns" "$gwl4" reference-gateway serve-config --config "$out/reference-gateway.yaml" \
    >"$out/reference-gateway.log" 2>&1 &
  pids+=($!)
  wait_tcp "$gw" 17000
  ref_pid=$(netns_pid serve-config)

  run() { # label port pid
    echo "== $1 ($(cut -d' ' -f1-3 /proc/loadavg))"
    local udp_args=()
    [[ $udp == 1 ]] && udp_args=(--gateway-udp "$gw:$(($2 + 1))" --direct-udp "$host:15001" --udp-rate 35000)
    "$gwl4" bench --label "$1" --gateway-tcp "$gw:$2" --direct-tcp "$host:15000" \
      "${udp_args[@]}" --weights bench-v1=70,bench-v2=30 --gateway-pid "$3" --idle-connections 5000 \
      --report-dir "$out/$1" "${short[@]}" "${extra[@]}" || echo "$1: gwl4 bench failed (exit $?)"
  }
  run reference-gateway 17000 "$ref_pid"
  settle 15000
  run "$peer" 16000 "$peer_pid"
  python3 "$here/table.py" "$out" | tee "$out/table.md"
  exit 0
fi

# Traefik binds an entryPoint per port at start: the bench's port too.
GWL4=$GWL4 BENCH_OUT=$out TRAEFIK_TCP_PORTS=16000 exec "$repo/tools/peers/with-peer.sh" "$peer" "$0" "$peer" "${short[@]}" -- "${extra[@]}"
