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
