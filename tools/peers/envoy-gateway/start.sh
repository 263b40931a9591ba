#!/usr/bin/env bash
# start.sh DIR KUBECONFIG NETNS ADDRESS: Envoy Gateway against the API server
# of KUBECONFIG, out of cluster, inside network namespace NETNS whose address
# is ADDRESS; its state under DIR. Returns once GatewayClass `eg` is Accepted.
# Stop with stop.sh DIR. with-peer.sh does all of this.
#
# What a cluster would provide, and how it is supplied here (none of it
# changes what Envoy Gateway or Envoy do with Gateway API objects):
#
# - Envoy Gateway's own objects, as its Helm chart would install them: the
#   namespace envoy-gateway-system, the TLS Secrets envoy, envoy-gateway and
#   envoy-rate-limit and the Secret envoy-oidc-hmac (from `envoy-gateway
#   certgen --local`), the EnvoyProxy CRD, an EnvoyProxy selecting the Host
#   provider with the Envoy version we run, and GatewayClass `eg` naming it.
# - The xDS server's certificate at /certs, the fixed path it reads when the
#   resource provider is Kubernetes: bind-mounted in Envoy Gateway's own
#   mount namespace (an empty /certs directory on the host is the mount
#   point; it is removed by stop.sh if start.sh made it).
# - Envoy where Envoy Gateway's launcher (func-e) looks for it, so nothing is
#   downloaded: DATA/envoy-versions/VERSION/bin/envoy runs tools/peers/bin/envoy
#   with `--use-dynamic-base-id`. In a cluster every Envoy is alone in its
#   Pod; here they share a host, and without it a second Gateway's Envoy
#   exits with "unable to bind domain socket with base_id=0".
# - The Envoy Service and Deployment its Gateway status reads (standin.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../kube/lib.sh
source "$here/../../kube/lib.sh"
# shellcheck source=../lib.sh
source "$here/../lib.sh"
[[ $# == 4 ]] || kube_die "usage: start.sh DIR KUBECONFIG NETNS ADDRESS"
dir="$1" kubeconfig="$2" netns="$3" address="$4"
bin="$(cd "$here/.." && pwd)/bin"
ENVOY_VERSION=1.39.1
[[ -x "$bin/envoy-gateway" && -x "$bin/envoy" ]] || "$here/build.sh" >&2
kube_load "$kubeconfig"
eg="$dir/envoy-gateway"
mkdir -p "$eg"/{config,data,state,run}

# --- Certificates, and Envoy where func-e finds it -------------------------------
"$bin/envoy-gateway" certgen --local --config-home "$eg/config" >"$eg/certgen.log" 2>&1 ||
  { cat "$eg/certgen.log" >&2; kube_die "envoy-gateway certgen failed"; }
mkdir -p "$eg/data/envoy-versions/$ENVOY_VERSION/bin"
cat >"$eg/data/envoy-versions/$ENVOY_VERSION/bin/envoy" <<WRAP
#!/bin/sh
exec "$bin/envoy" --use-dynamic-base-id "\$@"
WRAP
chmod +x "$eg/data/envoy-versions/$ENVOY_VERSION/bin/envoy"
echo "$ENVOY_VERSION" >"$eg/data/version"
echo "$ENVOY_VERSION" >"$eg/config/envoy-version"

# --- Envoy Gateway's objects in the API server -----------------------------------
certs="$eg/config/certs"
b64() { base64 -w0 <"$1"; }
tls_secret() { # NAME
  echo "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"type\": \"kubernetes.io/tls\",
    \"metadata\": {\"name\": \"$1\", \"namespace\": \"envoy-gateway-system\"},
    \"data\": {\"ca.crt\": \"$(b64 "$certs/$1/ca.crt")\", \"tls.crt\": \"$(b64 "$certs/$1/tls.crt")\", \"tls.key\": \"$(b64 "$certs/$1/tls.key")\"}}"
}
# apply_json JSON: server-side apply of one object written as JSON.
apply_json() {
  local what path
  what="$(jq -r '"\(.kind) \(.metadata.name)"' <<<"$1")"
  path="$(kube_resource_path "$(jq -r .apiVersion <<<"$1")" "$(jq -r .kind <<<"$1")" \
    "$(jq -r '.metadata.namespace // ""' <<<"$1")" "$(jq -r .metadata.name <<<"$1")")" ||
    kube_die "cannot find where $what goes"
  kube_curl --fail-with-body -o /dev/null -X PATCH -H 'Content-Type: application/apply-patch+yaml' \
    --data-binary "$1" "$KUBE_SERVER$path?fieldManager=gwl4-peers&force=true" || kube_die "could not apply $what"
}
apply_json '{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "envoy-gateway-system"}}'
for s in envoy envoy-gateway envoy-rate-limit; do apply_json "$(tls_secret "$s")"; done
apply_json "{\"apiVersion\": \"v1\", \"kind\": \"Secret\", \"metadata\": {\"name\": \"envoy-oidc-hmac\", \"namespace\": \"envoy-gateway-system\"},
  \"data\": {\"hmac-secret\": \"$(b64 "$certs/envoy-oidc-hmac/hmac-secret")\"}}"

module="$(cd "$here" && GOFLAGS=-mod=mod GOTOOLCHAIN=local go mod download -json github.com/envoyproxy/gateway@v1.9.1 | jq -r .Dir)"
crd="$module/charts/gateway-crds-helm/templates/generated/gateway.envoyproxy.io_envoyproxies.yaml"
[[ -f "$crd" ]] || kube_die "no EnvoyProxy CRD at $crd"
grep -v '{{' "$crd" >"$eg/envoyproxies-crd.yaml"
kube_apply_file "$eg/envoyproxies-crd.yaml" gwl4-peers || kube_die "could not install the EnvoyProxy CRD"
for _ in $(seq 1 100); do
  kube_curl --fail "$KUBE_SERVER/apis/gateway.envoyproxy.io/v1alpha1" >/dev/null 2>&1 && break
  sleep 0.1
done
apply_json "{\"apiVersion\": \"gateway.envoyproxy.io/v1alpha1\", \"kind\": \"EnvoyProxy\",
  \"metadata\": {\"name\": \"gwl4-host\", \"namespace\": \"envoy-gateway-system\"},
  \"spec\": {\"provider\": {\"type\": \"Host\", \"host\": {\"envoyVersion\": \"$ENVOY_VERSION\"}}}}"
apply_json '{"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "eg"},
  "spec": {"controllerName": "gateway.envoyproxy.io/gatewayclass-controller",
    "parametersRef": {"group": "gateway.envoyproxy.io", "kind": "EnvoyProxy", "name": "gwl4-host", "namespace": "envoy-gateway-system"}}}'

# --- Envoy Gateway, in the peer's network namespace ------------------------------
cat >"$eg/envoy-gateway.yaml" <<CFG
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: EnvoyGateway
gateway:
  controllerName: gateway.envoyproxy.io/gatewayclass-controller
provider:
  type: Custom
  custom:
    resource:
      type: Kubernetes
      kubernetes:
        leaderElection:
          disable: true
    infrastructure:
      type: Host
      host:
        configHome: $eg/config
        dataHome: $eg/data
        stateHome: $eg/state
        runtimeDir: $eg/run
CFG
if [[ ! -d /certs ]]; then
  mkdir /certs
  touch "$eg/made-certs-dir"
fi
# `ip netns exec` gives the command its own mount namespace: the bind mount
# is seen by Envoy Gateway only.
setsid ip netns exec "$netns" sh -c '
  mount --bind "$1" /certs && shift && exec "$@"' sh "$certs/envoy-gateway" \
  env KUBECONFIG="$kubeconfig" ENVOY_GATEWAY_NAMESPACE=envoy-gateway-system HOME="$eg" \
  "$bin/envoy-gateway" server --config-path "$eg/envoy-gateway.yaml" \
  </dev/null >"$dir/envoy-gateway.log" 2>&1 &
echo $! >"$dir/envoy-gateway.pid"

setsid "$here/standin.sh" "$kubeconfig" "$address" </dev/null >"$dir/standin.log" 2>&1 &
echo $! >"$dir/standin.pid"

peer_wait_accepted envoy-gateway eg "$dir/envoy-gateway.pid" "$dir/envoy-gateway.log"
echo "start.sh: Envoy Gateway runs in $netns; GatewayClass eg is Accepted; Gateways get $address" >&2
