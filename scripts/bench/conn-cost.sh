#!/usr/bin/env bash
# Where a proxy's connection rate goes: CPU per proxied connection of the
# proxy, the echo backends and the client (gwl4 bench), the machine's idle
# time per connection, and context switches per connection, over a window
# in which every connection goes through the proxy (connect, HELLO, close,
# 16 at a time, as gwl4 bench's connection-rate test). On a machine the
# test saturates, those parts add up to the cores times the wall time per
# connection; BENCHMARKS.md (session 4) reads them.
#
#   GWL4=<gwl4> scripts/bench/conn-cost.sh reference-gateway|envoy|haproxy|nginx [seconds]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
gwl4=${GWL4:?set GWL4 to a built gwl4 (a release build)}
proxy=${1:?which proxy}
seconds=${2:-4}
out=${BENCH_OUT:-$(mktemp -d)}
# shellcheck source=lib.sh
source "$here/lib.sh"

settle 3000
start_echo_backends
echoes=("${pids[@]}")
wait_tcp 127.0.3.1 15000; wait_tcp 127.0.3.2 15000
start_proxy "$proxy"
mapfile -t workers < <(pgrep -P "$last" || true)  # nginx's worker processes
proxy_pids=("$last" "${workers[@]}")

ticks=$(getconf CLK_TCK)
cpu_ms() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done; echo $((t * 1000 / ticks)); }
idle_ms() { awk -v t="$ticks" '/^cpu / {print ($5 + $6) * 1000 / t}' /proc/stat; }
machine_switches() { awk '/^ctxt/ {print $2}' /proc/stat; }

p0=$(cpu_ms "${proxy_pids[@]}"); e0=$(cpu_ms "${echoes[@]}"); i0=$(idle_ms)
ps0=$(switches "${proxy_pids[@]}"); es0=$(switches "${echoes[@]}"); m0=$(machine_switches)
# Both "paths" through the proxy: the whole window is proxied. The stream
# and latency phases are kept to a token size.
TIMEFORMAT='%U %S %R'
{ time "$gwl4" bench --gateway-tcp "$addr:16000" --direct-tcp "$addr:16000" --rounds 1 \
    --duration "${seconds}s" --stream-bytes 65536 --latency-samples 10 \
    --report-dir "$out/conn-cost" >/dev/null; } 2>"$out/client.time"
p1=$(cpu_ms "${proxy_pids[@]}"); e1=$(cpu_ms "${echoes[@]}"); i1=$(idle_ms)
ps1=$(switches "${proxy_pids[@]}"); es1=$(switches "${echoes[@]}"); m1=$(machine_switches)

python3 - "$out" "$proxy" $((p1 - p0)) $((e1 - e0)) "$i0" "$i1" $((ps1 - ps0)) $((es1 - es0)) $((m1 - m0)) <<'PY'
import json, sys
out, proxy = sys.argv[1], sys.argv[2]
proxy_ms, echo_ms, i0, i1, proxy_cs, echo_cs, machine_cs = map(float, sys.argv[3:])
report = json.load(open(f"{out}/conn-cost/bench.json"))
rates = [report[side]["tcpConnections"] for side in ("gateway", "direct")]
n = sum(r["connections"] for r in rates)
user, system, wall = map(float, open(f"{out}/client.time").read().split())
us = lambda ms: ms * 1000 / n
print(f"{proxy}: {rates[0]['connections'] / rates[0]['seconds']:.0f} connections/s; per connection:")
print(f"  CPU µs: proxy {us(proxy_ms):.1f}, echo backends {us(echo_ms):.1f}, client {(user + system) * 1e6 / n:.1f}; machine idle {us(i1 - i0):.1f}")
print(f"  context switches: proxy {proxy_cs / n:.2f}, echo backends {echo_cs / n:.2f}, machine {machine_cs / n:.2f}")
PY
