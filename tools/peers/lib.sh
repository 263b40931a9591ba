# shellcheck shell=bash
# lib.sh: shell functions the peers' scripts share. Source it.

# peer_stop_processes NETNS: stop every process in network namespace NETNS
# (the peer and everything it launched): TERM, then KILL after 10 s.
peer_stop_processes() {
  local netns="$1"
  pids() { ip netns pids "$netns" 2>/dev/null || true; }
  [[ -n "$(pids)" ]] || return 0
  # shellcheck disable=SC2046 # one pid per word
  kill -TERM $(pids) 2>/dev/null || true
  for _ in $(seq 1 100); do
    [[ -z "$(pids)" ]] && return 0
    sleep 0.1
  done
  echo "stop.sh: processes in $netns ignored TERM for 10s; killing them" >&2
  # shellcheck disable=SC2046
  kill -KILL $(pids) 2>/dev/null || true
}

# peer_wait_accepted NAME CLASS PIDFILE LOG: wait up to 60 s until
# GatewayClass CLASS is Accepted (kube_load done), exiting with the tail of
# LOG if the peer (pid in PIDFILE) dies or the time runs out. NAME is how
# messages call the peer.
peer_wait_accepted() {
  local name="$1" class="$2" pidfile="$3" log="$4"
  for _ in $(seq 1 600); do
    kube_alive "$(cat "$pidfile")" || { tail -n 30 "$log" >&2; kube_die "$name exited"; }
    if kube_curl --fail "$KUBE_SERVER/apis/gateway.networking.k8s.io/v1/gatewayclasses/$class" 2>/dev/null |
      jq -e '.status.conditions[]? | select(.type == "Accepted" and .status == "True")' >/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  tail -n 30 "$log" >&2
  kube_die "GatewayClass $class was not Accepted within 60s"
}
