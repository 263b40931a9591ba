#!/usr/bin/env bash
# The whole catalog's wall time in local mode and through the real API
# server tier (tools/kube) with the reference gateway's Kubernetes provider,
# side by side in one run, so their ratio is what counts (BENCHMARKS.md,
# "Harness speed"). Kube mode runs with `--workloads local`, the reference
# gateway on a pool of loopback addresses (each Gateway its own), and each
# `--test-threads` value given (the default, 4, when none is), ROUNDS times.
# Prints one line per run; exits non-zero if any run failed.
#
#   scripts/bench/catalog-speed.sh [ROUNDS] [THREADS...]   # needs root, Go, jq, curl
#   e.g. scripts/bench/catalog-speed.sh 10 default 8
#   GWL4=BINARY ADDRESS_SOURCE=shared scripts/bench/catalog-speed.sh 1 default   # an older build
#   BENCH_OUT=DIR keeps the last local and kube run's reports in DIR/local and DIR/kube.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rounds=${1:-1}
shift || true
threads=("$@")
[[ ${#threads[@]} -gt 0 ]] || threads=(default)

# GWL4=BINARY measures another build (say, an older commit's) instead of
# building this tree; ADDRESS_SOURCE=shared gives every Gateway one address
# (127.1.n.1) instead of the pool, as gateways before the pool did.
if [[ -n "${GWL4:-}" ]]; then
  gwl4=$GWL4
else
  cargo build --release --locked -p harness --manifest-path "$root/Cargo.toml" >&2
  gwl4="$root/target/release/gwl4"
fi
# BENCH_OUT=DIR keeps the last run's reports (DIR/local, DIR/kube).
if [[ -n "${BENCH_OUT:-}" ]]; then
  work=$BENCH_OUT
  mkdir -p "$work"
else
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

# One loopback block for the reference gateway's pool, claimed as gwl4
# claims one, so no other run on the machine binds these addresses meanwhile.
# shellcheck source=../../tools/kube/lib.sh
source "$root/tools/kube/lib.sh"
kube_claim_loopback_block block

failed=0
seconds() { # CMD...: runs CMD (output to $WORK/out), prints its wall time in seconds and exit code
  local start rc=0
  start=$EPOCHREALTIME
  "$@" >"$WORK/out" 2>&1 || rc=$?
  echo "$(awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.1f", b - a}') $rc"
}

export GWL4 ADDRESS
GWL4=$gwl4
case "${ADDRESS_SOURCE:-pool}" in
  pool) ADDRESS="pool:127.1.$block.0/24" ;;
  shared) ADDRESS="127.1.$block.1" ;;
  *) echo "catalog-speed.sh: ADDRESS_SOURCE is pool or shared" >&2; exit 2 ;;
esac
# shellcheck disable=SC2329 # run by with-apiserver.sh through bash -c
kube_rounds() {
  # shellcheck source=../../tools/kube/lib.sh
  source "$root/tools/kube/lib.sh"
  kube_load "$KUBECONFIG"
  kube_start_reference_gateway "$GWL4" "$ADDRESS" "$GWL4_KUBE_DIR/controller.log"
  local controller=$KUBE_CONTROLLER_PID i t line
  for i in $(seq "$ROUNDS"); do
    for t in $THREADS; do
      local flags=(--gateway-class gwl4-reference --workloads local --strict --report-dir "$WORK/kube")
      [[ $t == default ]] || flags+=(--test-threads "$t")
      read -r line rc < <(cd "$WORK" && seconds "$GWL4" "${flags[@]}")
      echo "kube  threads=$t round=$i wall=${line}s exit=$rc $(grep -o '[0-9]* passed, [0-9]* failed' "$WORK/out")"
      [[ $rc == 0 ]] || { cat "$WORK/out" >&2; return 1; }
    done
  done
  kill "$controller"
}
export -f kube_rounds seconds
export ROUNDS=$rounds THREADS="${threads[*]}" WORK=$work root

for i in $(seq "$rounds"); do
  read -r line rc < <(cd "$work" && seconds "$gwl4" --strict --report-dir "$work/local")
  echo "local threads=default round=$i wall=${line}s exit=$rc $(grep -o '[0-9]* passed, [0-9]* failed' "$work/out")"
  [[ $rc == 0 ]] || cat "$work/out" >&2
  [[ $rc == 0 ]] || failed=1
done
KUBE_CONTROLLERS=namespace,garbagecollector \
  "$root/tools/kube/with-apiserver.sh" --crds standard bash -c kube_rounds || failed=1
exit "$failed"
