#!/usr/bin/env bash
# restart.sh DIR etcd|kube-apiserver [DOWN_SECONDS]: an outage. Kill the named
# server that start.sh DIR started (SIGKILL: a crash, so open connections and
# watches break at once), keep it down DOWN_SECONDS (default 5), start it
# again with the very command start.sh used (same ports, certificates and
# etcd data; recorded in DIR/NAME.cmd), and wait until it answers again.
# Prints how long it was unavailable. The tier's outage test uses it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# == 2 || $# == 3 ]] || kube_die "usage: restart.sh DIR etcd|kube-apiserver [DOWN_SECONDS]"
dir="$1" name="$2" down="${3:-5}"
[[ "$name" == etcd || "$name" == kube-apiserver ]] || kube_die "can restart etcd or kube-apiserver, not $name"
[[ -f "$dir/$name.cmd" && -f "$dir/$name.pid" && -f "$dir/env" ]] || kube_die "$dir has no $name started by start.sh"
# shellcheck source=/dev/null
source "$dir/env"
# Defines etcd_cmd or kube_apiserver_cmd (start.sh's `declare -p`).
# shellcheck source=/dev/null
source "$dir/$name.cmd"
pid="$(cat "$dir/$name.pid")"
[[ "$(readlink "/proc/$pid/exe" 2>/dev/null)" == "$here/bin/$name"* ]] || kube_die "$name ($pid) is not running"

answers() {
  if [[ "$name" == etcd ]]; then
    curl -sf "$ETCD_ENDPOINT/health" 2>/dev/null | grep -q '"health":"true"'
  else
    [[ "$(curl -s --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_SERVER/readyz" 2>/dev/null)" == ok ]]
  fi
}

began_us=${EPOCHREALTIME/./}
kill -KILL "$pid"
for _ in $(seq 1 100); do
  kube_alive "$pid" || break
  sleep 0.1
done
kube_alive "$pid" && kube_die "$name ($pid) survived SIGKILL"
echo "restart.sh: $name killed; down for ${down}s" >&2
sleep "$down"

# shellcheck disable=SC2154 # the arrays come from DIR/NAME.cmd
if [[ "$name" == etcd ]]; then
  setsid "${etcd_cmd[@]}" </dev/null >>"$dir/etcd.log" 2>&1 &
else
  setsid "${kube_apiserver_cmd[@]}" </dev/null >>"$dir/kube-apiserver.log" 2>&1 &
fi
echo $! >"$dir/$name.pid"
for _ in $(seq 1 600); do
  kube_alive "$(cat "$dir/$name.pid")" || kube_die "$name exited on restart (see $dir/$name.log)"
  answers && break
  sleep 0.1
done
answers || kube_die "$name did not answer within 60s of its restart (see $dir/$name.log)"
# kube-apiserver answers /readyz only once etcd does, so after an etcd
# restart wait for it too: the outage lasts until the API works again.
if [[ "$name" == etcd ]]; then
  for _ in $(seq 1 600); do
    [[ "$(curl -s --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_ADMIN_TOKEN" "$KUBE_SERVER/readyz" 2>/dev/null)" == ok ]] && break
    sleep 0.1
  done
fi
ms=$(((${EPOCHREALTIME/./} - began_us) / 1000))
echo "restart.sh: $name answers again; unavailable for $((ms / 1000)).$((ms % 1000 / 100))s" >&2
