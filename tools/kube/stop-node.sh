#!/usr/bin/env bash
# stop-node.sh DIR: tear down what start-node.sh DIR started, also a partial
# start, and remove DIR (KUBE_KEEP_DIR=1 keeps it, with the logs). In order:
#
#  1. kube-scheduler stops (replacement Pods stay unscheduled), then every Pod
#     bound to the node is deleted through the API while the kubelet runs, so
#     the kubelet stops the containers and CNI DEL runs (veths, IPs, portmap);
#  2. kube-proxy stops and `kube-proxy --cleanup` removes its rules and chains;
#  3. the kubelet stops; containers it did not stop are killed and deleted
#     through containerd; containerd stops; shims and processes left in the
#     kubepods cgroups are killed;
#  4. kube-controller-manager, then the API server tier (stop.sh DIR/api),
#     while its address (the bridge's) still exists;
#  5. what the kernel and fixed paths still hold, only what start-node.sh
#     found absent (DIR/before): KUBE-*/CNI-* iptables chains and the rules
#     jumping to them (kubelet's KUBE-FIREWALL, KUBE-KUBELET-CANARY, CNI's),
#     the cni-* network namespaces, mounts under DIR, the bridge, the kubepods
#     cgroups, /var/lib/kubelet, /var/lib/cni, /run/containerd,
#     /var/log/containers, empty nft tables iptables-nft left;
#  6. the kernel tunables the kubelet set go back to what they were (only
#     while they still hold the kubelet's value; never net.ipv4.ip_forward).
#
# Then it checks: anything still there is reported, and the exit code is 1.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=node/node.sh
source "$here/node/node.sh"

[[ $# == 1 ]] || { echo "usage: stop-node.sh DIR" >&2; exit 2; }
[[ -d "$1" ]] || exit 0
run="$(cd "$1" && pwd)"
bin="$here/bin"
sock="$run/containerd.sock"
t0=$SECONDS
say() { echo "stop-node.sh: $* ($((SECONDS - t0))s)" >&2; }

# pid_of NAME: the recorded pid of NAME if that process still runs EXE.
pid_of() {
  local pid
  [[ -f "$run/$1.pid" ]] || return 1
  pid="$(cat "$run/$1.pid")"
  [[ "$pid" =~ ^[0-9]+$ ]] && kube_alive "$pid" || return 1
  case "$1" in
  containerd) [[ "$(readlink "/proc/$pid/exe")" == */containerd ]] ;;
  *) [[ "$(readlink "/proc/$pid/exe")" == "$bin/$1"* ]] ;;
  esac || return 1
  echo "$pid"
}

# stop NAME: TERM, up to 10 s, KILL.
stop() {
  local pid
  if pid="$(pid_of "$1")"; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 100); do kube_alive "$pid" || break; sleep 0.1; done
    if kube_alive "$pid"; then
      say "$1 ($pid) ignored TERM for 10s; KILL"
      kill -KILL "$pid" 2>/dev/null
      for _ in $(seq 50); do kube_alive "$pid" || break; sleep 0.1; done
    fi
    say "$1 stopped"
  fi
  rm -f "$run/$1.pid"
}

# --- 1. Pods, through the API, while the kubelet runs ---------------------------
stop kube-scheduler
if [[ -f "$run/api/kubeconfig" ]] && pid_of kubelet >/dev/null && (kube_load "$run/api/kubeconfig") 2>/dev/null; then
  kube_load "$run/api/kubeconfig"
  pods() { kube_curl "$KUBE_SERVER/api/v1/pods?fieldSelector=spec.nodeName=$NODE_NAME" 2>/dev/null; }
  listed="$(pods)"
  if jq -e .items <<<"$listed" >/dev/null 2>&1; then
    n="$(jq '.items | length' <<<"$listed")"
    jq -r '.items[] | "\(.metadata.namespace) \(.metadata.name)"' <<<"$listed" | while read -r ns name; do
      kube_curl -X DELETE "$KUBE_SERVER/api/v1/namespaces/$ns/pods/$name?gracePeriodSeconds=1" >/dev/null 2>&1
    done
    left="$n"
    for _ in $(seq 300); do
      left="$(pods | jq '.items | length' 2>/dev/null)" || break
      [[ "$left" == 0 ]] && break
      sleep 0.1
    done
    say "deleted $n Pods through the API ($left left)"
  fi
fi

# --- 2. kube-proxy ------------------------------------------------------------------
stop kube-proxy
if [[ -x "$bin/kube-proxy" ]] && grep -q "^iptables" "$run/before/chains" 2>/dev/null; then
  say "KUBE-* chains existed before the node started: not running kube-proxy --cleanup"
elif [[ -x "$bin/kube-proxy" && -d "$run/before" ]]; then
  "$bin/kube-proxy" --cleanup --v 0 >"$run/kube-proxy-cleanup.log" 2>&1 || say "kube-proxy --cleanup failed (see $run/kube-proxy-cleanup.log)"
fi

# --- 3. kubelet, containers, containerd ---------------------------------------------
stop kubelet
if pid_of containerd >/dev/null; then
  ids="$(ctr -a "$sock" -n k8s.io tasks ls -q 2>/dev/null)"
  if [[ -n "$ids" ]]; then
    for id in $ids; do ctr -a "$sock" -n k8s.io tasks kill -s KILL "$id" >/dev/null 2>&1; done
    sleep 0.5
    for id in $ids; do ctr -a "$sock" -n k8s.io tasks delete -f "$id" >/dev/null 2>&1; done
  fi
  ids="$(ctr -a "$sock" -n k8s.io containers ls -q 2>/dev/null)"
  for id in $ids; do ctr -a "$sock" -n k8s.io containers delete "$id" >/dev/null 2>&1; done
  [[ -z "$ids" ]] || say "removed $(wc -w <<<"$ids") containers the kubelet left"
fi
stop containerd
# Shims of this containerd (they outlive it), then anything in the kubepods cgroups.
kill_matching() { # WHAT PIDS...
  local what="$1" p
  shift
  for p in "$@"; do
    [[ -n "$p" ]] || continue
    say "killing $what $p: $(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline")"
    kill -KILL "$p" 2>/dev/null
  done
}
shims() {
  local p
  for p in /proc/[0-9]*; do
    [[ "$(tr '\0' ' ' 2>/dev/null <"$p/cmdline")" == *"containerd-shim"*" $sock "* ]] && echo "${p#/proc/}"
  done
}
cgroup_pids() {
  local f
  for f in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$f" ]] && find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}
if [[ -d "$run/before" ]]; then
  for _ in 1 2 3; do
    mapfile -t left < <(shims; cgroup_pids)
    [[ ${#left[@]} == 0 ]] && break
    kill_matching "leftover process" "${left[@]}"
    sleep 0.5
  done
fi

# --- 4. the API server tier, before its address (the bridge's) goes away: without
# it kube-apiserver's shutdown hangs on its own loopback client until stop.sh's
# 10 s KILL ---------------------------------------------------------------------------
stop kube-controller-manager
if [[ -d "$run/api" ]]; then
  KUBE_KEEP_DIR="${KUBE_KEEP_DIR:-0}" "$here/stop.sh" "$run/api"
fi

# Without DIR/before start-node.sh never got far enough to change anything
# outside DIR but the API server (nothing to compare against: leave it).
if [[ -d "$run/before" ]]; then
  # --- 5. iptables: new KUBE-*/CNI-* chains, and the rules that jump to them --------
  mapfile -t chains < <(node_chains | grep -vxF -f "$run/before/chains")
  for ipt in iptables ip6tables; do
    for t in filter nat mangle raw; do
      mine=()
      for c in "${chains[@]}"; do
        read -r cipt ct cn <<<"$c"
        [[ "$cipt" == "$ipt" && "$ct" == "$t" ]] && mine+=("$cn")
      done
      [[ ${#mine[@]} == 0 ]] && continue
      # Rules in any chain whose target is one of ours.
      "$ipt-save" -t "$t" 2>/dev/null | grep '^-A ' | while read -r rule; do
        target="$(sed -n 's/.* -j \([^ ]*\).*/\1/p' <<<"$rule")"
        printf '%s\n' "${mine[@]}" | grep -qxF -- "$target" || continue
        eval "\"$ipt\" -t \"$t\" ${rule/#-A/-D}" 2>/dev/null || say "could not delete $ipt -t $t: $rule"
      done
      for cn in "${mine[@]}"; do "$ipt" -t "$t" -F "$cn" 2>/dev/null; done
      for cn in "${mine[@]}"; do "$ipt" -t "$t" -X "$cn" 2>/dev/null || say "could not delete chain $ipt -t $t $cn"; done
    done
  done

  # --- network namespaces, mounts, bridge, cgroups ---------------------------------
  for ns in $(node_new_netns "$run"); do
    ip netns delete "$ns" 2>/dev/null || { umount -l "/run/netns/$ns" 2>/dev/null; rm -f "/run/netns/$ns"; }
  done
  awk -v p="$run/" 'index($2, p) == 1 {print $2}' /proc/self/mounts | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || say "could not unmount $m"
  done
  [[ -f "$run/bridge.created" ]] && { ip link del "$NODE_BRIDGE" 2>/dev/null; rm -f "$run/bridge.created"; }
  # The kubelet (cgroupfs driver) leaves /kubepods{,/burstable,/besteffort} in
  # every v1 hierarchy; Pod cgroups below them too when it was stopped early.
  for h in /sys/fs/cgroup/*/kubepods; do
    [[ -d "$h" ]] || continue
    find "$h" -depth -type d -exec rmdir {} + 2>/dev/null
    [[ -d "$h" ]] && say "could not remove $h (processes left?)"
  done

  # --- fixed paths: removed when they did not exist before; else only our files ---
  for p in "${NODE_FIXED_PATHS[@]}"; do
    if ! grep -qxF "$p" "$run/before/paths"; then
      if [[ -e "$p" ]] && ! awk -v p="$p/" 'index($2, p) == 1 {f = 1} END {exit !f}' /proc/self/mounts; then
        rm -rf "$p"
      fi
    fi
  done
  rm -f /var/lib/cni/results/"$NODE_CNI_NETWORK"-* /var/lib/kubelet/device-plugins/kubelet.sock 2>/dev/null
  find /var/log/containers -maxdepth 1 -lname "$run/*" -delete 2>/dev/null

  # iptables-nft leaves its base tables behind: drop new ones holding no
  # rule; and new tables of kube-proxy's nftables mode or CNI's nftables
  # backend (kube-proxy, cni_*), whatever they hold.
  if command -v nft >/dev/null; then
    nft list tables 2>/dev/null | grep -vxF -f "$run/before/nft-tables" | while read -r _ fam name; do
      if [[ "$name" == kube-proxy || "$name" == cni_* ]] ||
        [[ "$(nft list table "$fam" "$name" | grep -cvE '^\s*(table .*\{|chain .*\{|type .*policy accept;|\}|)$')" == 0 ]]; then
        nft delete table "$fam" "$name"
      fi
    done
  fi

  # --- 6. kernel tunables ------------------------------------------------------------
  while IFS='=' read -r k v; do
    cur="$(sysctl -n "$k" 2>/dev/null || echo absent)"
    [[ "$cur" == "$v" ]] && continue
    if [[ -n "${NODE_KUBELET_SYSCTLS[$k]:-}" && "$cur" == "${NODE_KUBELET_SYSCTLS[$k]}" ]]; then
      sysctl -qw "$k=$v" && say "restored $k=$v (the kubelet had set $cur)"
    else
      say "note: $k is $cur, was $v when the node started (not changed back: not the kubelet's value, or not ours)"
    fi
  done <"$run/before/sysctl"
fi

# --- check --------------------------------------------------------------------------
problems=()
if [[ -d "$run/before" ]]; then
  for p in $(shims; cgroup_pids); do problems+=("process $p"); done
  for c in $(node_chains | grep -vxF -f "$run/before/chains" | tr ' ' ':'); do problems+=("chain $c"); done
  for ns in $(node_new_netns "$run"); do problems+=("netns $ns"); done
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && problems+=("link $NODE_BRIDGE")
  for h in /sys/fs/cgroup/*/kubepods; do [[ -d "$h" ]] && problems+=("cgroup $h"); done
  if command -v nft >/dev/null; then
    while read -r t; do problems+=("nft $t"); done < <(nft list tables 2>/dev/null | grep -vxF -f "$run/before/nft-tables" | grep -E ' (kube-proxy|cni_.*)$')
  fi
  for p in "${NODE_FIXED_PATHS[@]}"; do
    [[ -e "$p" ]] && ! grep -qxF "$p" "$run/before/paths" && problems+=("path $p")
  done
fi
while read -r m; do problems+=("mount $m"); done < <(awk -v p="$run/" 'index($2, p) == 1 {print $2}' /proc/self/mounts)

if [[ "${KUBE_KEEP_DIR:-0}" == 1 ]]; then
  say "kept $run"
elif [[ ${#problems[@]} == 0 ]]; then
  rm -rf "$run"
fi
if [[ ${#problems[@]} != 0 ]]; then
  say "LEFT BEHIND: ${problems[*]} (kept $run for reading)"
  exit 1
fi
say "done"
