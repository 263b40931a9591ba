# shellcheck shell=bash disable=SC2154
# Shared by compare.sh and profile.sh (sourced; needs $gwl4 and $out set):
# process bookkeeping with cleanup on exit, the two echo backends every
# proxy fronts (127.0.3.1 and 127.0.3.2, TCP 15000 and UDP 15001, each its
# own process), and waiting for a TCP listener.

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT
ulimit -n 20000

start_echo_backends() {
  for v in 1 2; do
    "$gwl4" echo-server --bind 127.0.3.$v --tcp-port 15000 --udp-port 15001 \
      --service bench-v$v --pod bench-v$v-0 --namespace gwl4-bench >"$out/echo-v$v.log" 2>&1 &
    pids+=($!)
  done
}

wait_tcp() { # address port
  for _ in $(seq 1 400); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listening on $1:$2" >&2; return 1
}
