#!/usr/bin/env bash
# Soak: the whole catalog LOCAL_ROUNDS times back to back in local mode, then
# KUBE_ROUNDS times through the real API server tier (tools/kube, the
# reference gateway's Kubernetes provider out of cluster), and what drifts:
#
#   per round   exit code, wall time, tests passed / failed / warned, gwl4's
#               peak RSS, the gateways' peak RSS (local: the largest of the
#               per-test reference gateways; tier: the one controller, which
#               lives through every round), and what is left behind: gwl4's
#               processes, files in the run's TMPDIR, listening sockets on
#               gwl4's loopback blocks (127.1.x.y, 127.16-79.x.y), network
#               namespaces and bridges, API objects with a run-id label
#   summary     rounds with a failed test against the family-wise false-failure
#               bound each run states (a correct gateway fails a round at most
#               at that rate), wall-time and RSS drift (first rounds against
#               last), and the leftovers' total (must be zero)
#
#   scripts/soak.sh [LOCAL_ROUNDS] [KUBE_ROUNDS]    # default 30 5; needs root, Go, jq, curl
#   GWL4=BINARY scripts/soak.sh 3 1                 # a built gwl4 (else a release build)
#   SOAK_OUT=DIR keeps every round's output and report.json (default: a temporary dir)
#
# Exits 1 if anything was left behind or a round failed to finish (exit 2).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
local_rounds=${1:-30}
kube_rounds=${2:-5}
if [[ -n "${GWL4:-}" ]]; then
  gwl4=$GWL4
else
  cargo build --release --locked -p harness --manifest-path "$root/Cargo.toml" >&2
  gwl4="$root/target/release/gwl4"
fi
if [[ -n "${SOAK_OUT:-}" ]]; then
  out=$SOAK_OUT
  mkdir -p "$out"
else
  out=$(mktemp -d)
  trap 'rm -rf "$out"' EXIT
fi
out=$(cd "$out" && pwd)

# rss PID: resident KiB, or 0 once gone.
rss() { awk '/^VmRSS:/ {print $2; f=1} END {if (!f) print 0}' "/proc/$1/status" 2>/dev/null || echo 0; }

# sample PID FILE: until PID exits, write "gwl4-peak gateway-peak" (KiB) to
# FILE: gwl4's own RSS, and the largest RSS of any reference gateway.
sample() {
  local pid=$1 file=$2 top=0 gw=0 r p
  while [[ -e /proc/$pid ]]; do
    r=$(rss "$pid"); ((r > top)) && top=$r
    for p in $(pgrep -f 'reference-gateway (standalone|kube)' || true); do
      r=$(rss "$p"); ((r > gw)) && gw=$r
    done
    echo "$top $gw" >"$file"
    sleep 0.2
  done
}

# leftovers DIR: what a finished run left on the machine, one line each.
leftovers() {
  local dir=$1
  # gwl4's children run with their config under the run's TMPDIR.
  pgrep -af "$dir/tmp/" || true
  find "$dir/tmp" -mindepth 1 -maxdepth 1 2>/dev/null | sed 's/^/file /'
  ss -Htuln | awk '{print $5}' | grep -E '^127\.(1|1[6-9]|[2-7][0-9])\.[0-9]+\.[0-9]+:' | sed 's/^/listener /' || true
  ip netns list 2>/dev/null | grep '^gwl4-' | sed 's/^/netns /' || true
  ip -o link show 2>/dev/null | grep -oE ': (gwl4br|gv)[^:@]*' | sed 's/^: /link /' || true
}

# round MODE I ARGS...: one catalog run; prints its line and appends it to
# $out/rounds.tsv.
round() {
  local mode=$1 i=$2 start rc=0 dir="$out/$1-$2"
  shift 2
  mkdir -p "$dir/tmp"
  start=$EPOCHREALTIME
  (cd "$dir" && TMPDIR="$dir/tmp" exec "$gwl4" --report-dir "$dir/reports" "$@" >"$dir/out" 2>&1) &
  local pid=$!
  sample "$pid" "$dir/rss" &
  local sampler=$!
  wait "$pid" || rc=$?
  wait "$sampler" 2>/dev/null || true
  local wall counts peaks left bound
  wall=$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}')
  counts=$(jq -r '[.tests[].result.status] | "\(map(select(. == "passed")) | length) \(map(select(. == "failed")) | length) \(map(select(. == "warned")) | length)"' \
    "$dir/reports/report.json" 2>/dev/null || echo "- - -")
  bound=$(grep -oE 'family-wise false-failure bound [0-9.e-]+' "$dir/out" | awk '{print $4}' || true)
  read -r peaks < "$dir/rss" || peaks="0 0"
  if [[ "$mode" == kube ]]; then
    # The tier's controller lives through every round: its RSS now.
    peaks="${peaks% *} $(rss "$CONTROLLER")"
  fi
  left=$(leftovers "$dir" | tee "$dir/leftovers" | wc -l)
  if [[ "$mode" == kube ]]; then
    left=$((left + $(kube_curl "$KUBE_SERVER/api/v1/namespaces?labelSelector=gwl4.dev/run-id" | jq '.items | length')))
  fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$i" "$rc" "$wall" "$counts" "$peaks" "$left" "${bound:-?}" |
    tr ' ' '\t' >>"$out/rounds.tsv"
  printf '%-5s round %2s: exit %s, %6ss, passed/failed/warned %s, peak RSS gwl4/gateway %s KiB, left behind %s\n' \
    "$mode" "$i" "$rc" "$wall" "${counts// //}" "${peaks// //}" "$left"
}

: >"$out/rounds.tsv"
for i in $(seq "$local_rounds"); do
  round local "$i"
done

# shellcheck disable=SC2329 # run by with-apiserver.sh through bash -c
kube_part() {
  # shellcheck source=../tools/kube/lib.sh
  source "$root/tools/kube/lib.sh"
  kube_load "$KUBECONFIG"
  local block
  kube_claim_loopback_block block
  kube_start_reference_gateway "$gwl4" "pool:127.1.$block.0/24" "$out/controller.log"
  CONTROLLER=$KUBE_CONTROLLER_PID
  for i in $(seq "$kube_rounds"); do
    round kube "$i" --gateway-class gwl4-reference --workloads local --kubeconfig "$KUBECONFIG"
  done
  kill "$CONTROLLER"
}
if ((kube_rounds > 0)); then
  export -f kube_part round rss sample leftovers
  export gwl4 out root kube_rounds
  KUBE_CONTROLLERS=namespace,garbagecollector \
    "$root/tools/kube/with-apiserver.sh" --crds standard bash -c kube_part
fi

# Summary, per mode: false failures, drift, leftovers.
awk -F'\t' '
  { n[$1]++; k = $1 SUBSEP n[$1]; wall[k] = $4; g[k] = $8; gw[k] = $9
    if ($3 != 0 && $3 != 1) unfinished[$1]++
    if ($6 + 0 > 0) failedrounds[$1]++
    left[$1] += $10; bound[$1] = $11 }
  END {
    for (m in n) {
      q = int(n[m] / 3); if (q < 1) q = 1
      for (i = 1; i <= q; i++) { w0 += wall[m SUBSEP i]; g0 += g[m SUBSEP i]; x0 += gw[m SUBSEP i]
        w1 += wall[m SUBSEP (n[m] - q + i)]; g1 += g[m SUBSEP (n[m] - q + i)]; x1 += gw[m SUBSEP (n[m] - q + i)] }
      printf "%s: %d rounds; %d with a failed test (family-wise bound %s per round: expected at most %.2f); %d unfinished; " \
        "wall %.1fs -> %.1fs, gwl4 peak RSS %.1f -> %.1f MiB, gateway RSS %.1f -> %.1f MiB (first %d rounds -> last %d); left behind: %d\n",
        m, n[m], failedrounds[m], bound[m], n[m] * bound[m], unfinished[m], w0 / q, w1 / q, g0 / q / 1024, g1 / q / 1024, x0 / q / 1024, x1 / q / 1024, q, q, left[m]
      w0 = w1 = g0 = g1 = x0 = x1 = 0
      if (left[m] > 0 || unfinished[m] > 0) bad = 1
    }
    exit bad
  }' "$out/rounds.tsv" | tee "$out/summary.txt"
