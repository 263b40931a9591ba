#!/usr/bin/env bash
# standin.sh KUBECONFIG ADDRESS: what a cluster would give Envoy Gateway that
# its Host infrastructure provider does not create, kept in step with the
# Gateways of class `eg` every half second until killed.
#
# Envoy Gateway takes a Gateway's `status.addresses` from the Envoy Service
# and its `Programmed` condition from the Envoy Deployment's available
# replicas, both found by the owner labels
# gateway.envoyproxy.io/owning-gateway-{name,namespace} in
# envoy-gateway-system (internal/provider/kubernetes/predicates.go,
# internal/gatewayapi/status/gateway.go at v1.9.1). In host mode neither
# exists, so every Gateway would stay Programmed=False/AddressNotAssigned.
# Per Gateway this script keeps
#
#   Service     type LoadBalancer, status.loadBalancer.ingress = ADDRESS (the
#               peer's network namespace, where every Envoy listens)
#   Deployment  status.availableReplicas = 1 only while an Envoy process
#               serving that Gateway (`--service-cluster <namespace>/<name>`)
#               runs, 0 otherwise: a Gateway whose Envoy never started or
#               died is not Programmed, as in a cluster
#
# and deletes both when the Gateway goes. It never touches the Gateway.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../../kube/lib.sh
source "$here/../../kube/lib.sh"
[[ $# == 2 ]] || kube_die "usage: standin.sh KUBECONFIG ADDRESS"
kube_load "$1"
address="$2"
ns=envoy-gateway-system
label=gwl4.dev/peer-standin

# envoy_running NAMESPACE NAME: an Envoy process serves the Gateway.
envoy_running() {
  local cmdline
  for f in /proc/[0-9]*/cmdline; do
    cmdline="$(tr '\0' ' ' <"$f" 2>/dev/null)" || continue
    [[ "$cmdline" == *envoy* && "$cmdline" == *"--service-cluster $1/$2 "* ]] && return 0
  done
  return 1
}

patch() { # PATH CONTENT-TYPE BODY
  kube_curl -o /dev/null --fail -X PATCH -H "Content-Type: $2" --data-binary "$3" "$KUBE_SERVER$1" || true
}

apply() { # PATH BODY (server-side apply, JSON is YAML)
  patch "$1?fieldManager=gwl4-peer-standin&force=true" application/apply-patch+yaml "$2"
}

while true; do
  gateways="$(kube_curl --fail "$KUBE_SERVER/apis/gateway.networking.k8s.io/v1/gateways" 2>/dev/null |
    jq -r '.items[] | select(.spec.gatewayClassName == "eg") | "\(.metadata.namespace) \(.metadata.name)"')" || { sleep 0.5; continue; }
  services="$(kube_curl --fail "$KUBE_SERVER/api/v1/namespaces/$ns/services?labelSelector=$label" 2>/dev/null)" || { sleep 0.5; continue; }
  deployments="$(kube_curl --fail "$KUBE_SERVER/apis/apps/v1/namespaces/$ns/deployments?labelSelector=$label" 2>/dev/null)" || { sleep 0.5; continue; }
  wanted=" "
  while read -r gw_ns gw_name; do
    [[ -n "$gw_name" ]] || continue
    name="standin-$(printf '%s/%s' "$gw_ns" "$gw_name" | sha256sum | cut -c1-16)"
    wanted+="$name "
    labels="{\"$label\": \"true\", \"gateway.envoyproxy.io/owning-gateway-name\": \"$gw_name\", \"gateway.envoyproxy.io/owning-gateway-namespace\": \"$gw_ns\"}"
    svc="$(jq -c --arg n "$name" '.items[] | select(.metadata.name == $n)' <<<"$services")"
    if [[ -z "$svc" ]]; then
      apply "/api/v1/namespaces/$ns/services/$name" "{\"apiVersion\": \"v1\", \"kind\": \"Service\", \"metadata\": {\"name\": \"$name\", \"namespace\": \"$ns\", \"labels\": $labels}, \"spec\": {\"type\": \"LoadBalancer\", \"ports\": [{\"name\": \"unused\", \"port\": 1, \"protocol\": \"TCP\"}], \"selector\": {\"$label\": \"$name\"}}}"
    fi
    if [[ "$(jq -r '.status.loadBalancer.ingress[0].ip // ""' <<<"${svc:-{\}}")" != "$address" ]]; then
      patch "/api/v1/namespaces/$ns/services/$name/status" application/merge-patch+json "{\"status\": {\"loadBalancer\": {\"ingress\": [{\"ip\": \"$address\"}]}}}"
    fi
    dep="$(jq -c --arg n "$name" '.items[] | select(.metadata.name == $n)' <<<"$deployments")"
    if [[ -z "$dep" ]]; then
      apply "/apis/apps/v1/namespaces/$ns/deployments/$name" "{\"apiVersion\": \"apps/v1\", \"kind\": \"Deployment\", \"metadata\": {\"name\": \"$name\", \"namespace\": \"$ns\", \"labels\": $labels}, \"spec\": {\"replicas\": 1, \"selector\": {\"matchLabels\": {\"$label\": \"$name\"}}, \"template\": {\"metadata\": {\"labels\": {\"$label\": \"$name\"}}, \"spec\": {\"containers\": [{\"name\": \"envoy\", \"image\": \"stand-in.invalid/envoy\"}]}}}}"
    fi
    available=0
    envoy_running "$gw_ns" "$gw_name" && available=1
    if [[ "$(jq -r '.status.availableReplicas // 0' <<<"${dep:-{\}}")" != "$available" ]]; then
      patch "/apis/apps/v1/namespaces/$ns/deployments/$name/status" application/merge-patch+json "{\"status\": {\"replicas\": 1, \"readyReplicas\": $available, \"availableReplicas\": $available, \"updatedReplicas\": 1}}"
    fi
  done <<<"$gateways"
  # Stand-ins of Gateways that are gone.
  for kind in services deployments; do
    list="$services"
    api=/api/v1
    if [[ "$kind" == deployments ]]; then list="$deployments"; api=/apis/apps/v1; fi
    for name in $(jq -r '.items[].metadata.name' <<<"$list"); do
      [[ "$wanted" == *" $name "* ]] || kube_curl -o /dev/null -X DELETE "$KUBE_SERVER$api/namespaces/$ns/$kind/$name" || true
    done
  done
  sleep 0.5
done
