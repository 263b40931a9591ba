#!/usr/bin/env bash
# stop.sh DIR: stop the kube-apiserver, etcd (and kube-controller-manager)
# that start.sh DIR started
# (by the pids it recorded, nothing else), then remove DIR with its data.
# KUBE_KEEP_DIR=1 keeps DIR (logs, certificates, etcd data) for reading.
set -euo pipefail

[[ $# == 1 ]] || { echo "usage: stop.sh DIR" >&2; exit 2; }
dir="$1"
[[ -d "$dir" ]] || exit 0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

# stop_pid NAME: TERM the recorded process if it is still our binary, wait up
# to 10s, then KILL.
stop_pid() {
  local name="$1" pidfile="$dir/$1.pid" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ "$pid" =~ ^[0-9]+$ ]] && [[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$here/bin/$name"* ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kube_alive "$pid" || break
      sleep 0.1
    done
    if kube_alive "$pid"; then
      echo "stop.sh: $name ($pid) ignored TERM for 10s; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -f "$pidfile"
}

# The controller manager and the API server first, so they do not log
# connection errors on the way out.
stop_pid kube-controller-manager
stop_pid kube-apiserver
stop_pid etcd

if [[ "${KUBE_KEEP_DIR:-0}" == 1 ]]; then
  echo "stop.sh: stopped; kept $dir" >&2
else
  rm -rf "$dir"
fi
