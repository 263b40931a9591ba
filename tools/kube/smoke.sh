#!/usr/bin/env bash
# smoke.sh: end-to-end check of the real-API-server tier's infrastructure.
# Builds if needed, starts etcd + kube-apiserver, installs the standard-channel
# Gateway API CRDs, applies a Gateway and a TCPRoute (v1) and reads them back,
# checks that a Gateway with two listeners of the same name is refused with the
# CRD's CEL message, and stops. Exits non-zero on any failure.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

t0=$SECONDS
step() { printf 'smoke.sh: [%3ss] %s\n' "$((SECONDS - t0))" "$*"; }
fail() { echo "smoke.sh: FAIL: $*" >&2; exit 1; }

"$here/build.sh"
step "binaries ready"

dir="$(mktemp -d "${TMPDIR:-/tmp}/gwl4-kube-smoke.XXXXXX")"
trap '"$here/stop.sh" "$dir" || true' EXIT
"$here/start.sh" "$dir"
step "kube-apiserver ready: $(kube_load "$dir/kubeconfig"; kube_curl "$KUBE_SERVER/version" | jq -r .gitVersion)"
kube_load "$dir/kubeconfig"

"$here/install-crds.sh" "$dir/kubeconfig" standard
step "standard CRDs installed"

served="$(kube_curl --fail "$KUBE_SERVER/apis/gateway.networking.k8s.io/v1" | jq -r '[.resources[].name | select(contains("/") | not)] | sort | join(",")')"
step "gateway.networking.k8s.io/v1 serves: $served"
for r in gateways tcproutes udproutes; do
  [[ ",$served," == *",$r,"* ]] || fail "gateway.networking.k8s.io/v1 does not serve $r"
done

kube_apply_doc "$(cat <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata:
  name: smoke
  namespace: default
spec:
  gatewayClassName: gwl4-smoke
  listeners:
  - name: tcp
    protocol: TCP
    port: 9000
    allowedRoutes:
      kinds:
      - kind: TCPRoute
  - name: udp
    protocol: UDP
    port: 9001
EOF
)" gwl4-smoke >/dev/null || fail "applying the Gateway failed"

kube_apply_doc "$(cat <<'EOF'
apiVersion: gateway.networking.k8s.io/v1
kind: TCPRoute
metadata:
  name: smoke
  namespace: default
spec:
  parentRefs:
  - name: smoke
    sectionName: tcp
  rules:
  - backendRefs:
    - name: echo-a
      port: 8080
      weight: 3
    - name: echo-b
      port: 8080
      weight: 1
EOF
)" gwl4-smoke >/dev/null || fail "applying the TCPRoute failed"
step "Gateway and TCPRoute applied (server-side apply, field manager gwl4-smoke)"

gw="$(kube_curl --fail "$KUBE_SERVER/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/smoke")" || fail "reading the Gateway back failed"
jq -e '.apiVersion == "gateway.networking.k8s.io/v1" and ([.spec.listeners[] | "\(.name)/\(.protocol)/\(.port)"] == ["tcp/TCP/9000", "udp/UDP/9001"])' <<<"$gw" >/dev/null ||
  fail "the Gateway read back differs: $(jq -c .spec <<<"$gw")"
route="$(kube_curl --fail "$KUBE_SERVER/apis/gateway.networking.k8s.io/v1/namespaces/default/tcproutes/smoke")" || fail "reading the TCPRoute back failed"
jq -e '.apiVersion == "gateway.networking.k8s.io/v1" and ([.spec.rules[0].backendRefs[] | "\(.name):\(.port)x\(.weight)"] == ["echo-a:8080x3", "echo-b:8080x1"]) and .spec.parentRefs[0].sectionName == "tcp"' <<<"$route" >/dev/null ||
  fail "the TCPRoute read back differs: $(jq -c .spec <<<"$route")"
step "read back: Gateway $(jq -c '[.spec.listeners[] | "\(.name)/\(.protocol)/\(.port)"]' <<<"$gw"), TCPRoute $(jq -c '[.spec.rules[0].backendRefs[] | "\(.name):\(.port) weight \(.weight)"]' <<<"$route"), managedFields managers $(jq -c '[.metadata.managedFields[].manager]' <<<"$route")"

# A Gateway the CRD's CEL rules refuse: two listeners named "dup" (on
# different ports, so only the unique-name rule applies). Created with POST:
# server-side apply would refuse the duplicate list-map key itself, before the
# CRD's validation runs.
bad="$(mktemp)"
code="$(kube_curl -o "$bad" -w '%{http_code}' -X POST -H 'Content-Type: application/json' \
  "$KUBE_SERVER/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways" --data-binary @- <<'EOF'
{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
 "metadata": {"name": "duplicate-listeners", "namespace": "default"},
 "spec": {"gatewayClassName": "gwl4-smoke", "listeners": [
   {"name": "dup", "protocol": "TCP", "port": 9100},
   {"name": "dup", "protocol": "TCP", "port": 9101}]}}
EOF
)"
message="$(jq -r .message "$bad")"
rm -f "$bad"
[[ "$code" == 422 ]] || fail "the duplicate-listener Gateway answered HTTP $code, not 422: $message"
[[ "$message" == *"Listener name must be unique within the Gateway"* ]] ||
  fail "the duplicate-listener Gateway was refused without the CEL message: $message"
step "duplicate listener names refused with HTTP 422: $message"

"$here/stop.sh" "$dir"
trap - EXIT
step "stopped; PASS"
