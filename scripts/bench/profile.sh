#!/usr/bin/env bash
# Profiles one proxy under the single-stream TCP throughput test: the same
# echo backends and configs as compare.sh, and a `gwl4 bench` run whose
# other measurements are cut to almost nothing, so the profile is the
# `STREAM` transfer (1 GiB through the proxy, after 1 GiB direct).
#
#   scripts/bench/profile.sh PROXY TOOL [-- extra gwl4 bench flags]
#
# PROXY: reference-gateway | envoy | haproxy | nginx (for nginx the CPU and
#        context switches printed are its master's only, not its workers').
# TOOL:  none      just the run (bench-out/profile/<proxy>/bench.json);
#        perf      `perf record -g` on the proxy's pid (perf.data, report.txt);
#        perf-echo `perf record -g` on the echo backends instead (what the
#                  proxy's way of writing costs them);
#        splices   every splice(2) the proxy makes, with its length and
#                  result (splices.txt; summarise with splices.py);
#        stat      `perf stat` on the proxy's pid: CPU time, context
#                  switches, system calls by kind (stat.txt);
#        strace    `strace -c -f` on the proxy's pid (slows it down);
#        callgrind the reference gateway under valgrind's callgrind (user
#                  space instruction counts; use --stream-bytes 67108864).
# Environment: GWL4 (a built gwl4; required), BENCH_OUT, DIRECT (the
# "direct" address; set it to the proxy's own to measure it twice).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
proxy=${1:?proxy}; tool=${2:?tool}; shift 2
[ "${1:-}" = -- ] && shift
gwl4=${GWL4:?set GWL4 to a built gwl4}
out=${BENCH_OUT:-$repo/bench-out}/profile/$proxy
mkdir -p "$out"
# shellcheck source=lib.sh
source "$here/lib.sh"
start_echo_backends

proxy_command "$proxy"
if [ "$tool" = callgrind ]; then
  cmd=(valgrind --tool=callgrind --callgrind-out-file="$out/callgrind.out" "${cmd[@]}")
fi
"${cmd[@]}" >"$out/proxy.log" 2>&1 &
proxy_pid=$!
pids+=("$proxy_pid")
wait_tcp 127.0.3.1 15000; wait_tcp 127.0.3.2 15000; wait_tcp "$addr" 16000

case $tool in
  perf) perf record -g -o "$out/perf.data" -p $proxy_pid 2>"$out/perf.log" & pids+=($!) ;;
  splices) perf record -o "$out/splices.data" -p $proxy_pid \
    -e syscalls:sys_enter_splice,syscalls:sys_exit_splice,syscalls:sys_enter_epoll_wait 2>"$out/perf.log" & pids+=($!) ;;
  perf-echo) perf record -g -o "$out/perf.data" -p "${pids[0]},${pids[1]}" 2>"$out/perf.log" & pids+=($!) ;;
  stat) perf stat -o "$out/stat.txt" -p $proxy_pid -e task-clock,context-switches,cpu-migrations \
    -e syscalls:sys_enter_splice,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex \
    -e syscalls:sys_enter_recvfrom,syscalls:sys_enter_sendto,syscalls:sys_enter_read,syscalls:sys_enter_write \
    & pids+=($!) ;;
  strace) strace -c -f -o "$out/strace.txt" -p $proxy_pid & pids+=($!) ;;
esac
sleep 0.5
echo "== $proxy ($tool) load $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/time -f "gwl4 bench CPU: user %U s, system %S s, elapsed %e s" -o "$out/time.txt" \
  "$gwl4" bench --label "$proxy" --gateway-tcp "$addr:16000" --direct-tcp "${DIRECT:-127.0.3.1:15000}" \
  --rounds 1 --duration 50ms --concurrency 1 --latency-samples 10 --report-dir "$out" "$@" >"$out/bench.txt"
grep -i throughput "$out/bench.txt" || cat "$out/bench.txt"
cat "$out/time.txt"
# CPU seconds (user, system) the proxy used, all threads: its cost per byte.
cpu() { awk -v t="$(getconf CLK_TCK)" '{printf "user %.2f s, system %.2f s", $14/t, $15/t}' "/proc/$1/stat"; }
echo "$proxy CPU: $(cpu $proxy_pid); echo backends: $(cpu "${pids[0]}"); $(cpu "${pids[1]}")"
echo "$proxy context switches: $(switches $proxy_pid)"
case $tool in
  perf|perf-echo|splices|stat|strace) kill -INT "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; unset 'pids[-1]' ;;
esac
if [ "$tool" = perf ] || [ "$tool" = perf-echo ]; then
  perf report -i "$out/perf.data" --no-children --stdio --percent-limit 1 2>/dev/null >"$out/report.txt"
  echo "perf report: $out/report.txt"
fi
[ "$tool" = strace ] && head -25 "$out/strace.txt"
if [ "$tool" = splices ]; then
  perf script -i "$out/splices.data" -F tid,event,trace >"$out/splices.txt" 2>/dev/null
  python3 "$here/splices.py" "$out/splices.txt"
fi
[ "$tool" = stat ] && grep -E "[0-9]" "$out/stat.txt"
exit 0
