#!/usr/bin/env bash
# install-crds.sh KUBECONFIG standard|experimental
#
# Server-side apply (field manager gwl4-install-crds) the Gateway API CRDs of
# one release channel, taken from the sigs.k8s.io/gateway-api module in the Go
# module cache (downloaded through the module proxy, verified against the
# checksum database; nothing is committed), then wait until every CRD is
# Established. The channel is installed as upstream's release bundle is: every
# file of config/crd/standard/, or the files config/crd/experimental/'s
# kustomization.yaml lists. Both include the safe-upgrades
# ValidatingAdmissionPolicy, which refuses experimental CRDs over standard ones.
#
# GATEWAY_API_VERSION overrides the version (default v1.6.1).
# Needs go, curl and jq; the kubeconfig must be one start.sh wrote.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# == 2 ]] || kube_die "usage: install-crds.sh KUBECONFIG standard|experimental"
channel="$2"
[[ "$channel" == standard || "$channel" == experimental ]] || kube_die "channel must be standard or experimental, not $channel"
kube_load "$1"

version="${GATEWAY_API_VERSION:-v1.6.1}"
started=$SECONDS
mod_dir="$(cd / && GOTOOLCHAIN=local GOFLAGS=-mod=mod go mod download -json "sigs.k8s.io/gateway-api@$version" | jq -r '.Dir // empty')"
crd_dir="$mod_dir/config/crd/$channel"
[[ -d "$crd_dir" ]] || kube_die "no $crd_dir (did go mod download sigs.k8s.io/gateway-api@$version fail?)"

files=()
if [[ -f "$crd_dir/kustomization.yaml" ]]; then
  while read -r f; do files+=("$crd_dir/$f"); done < <(awk '/^resources:/ {r = 1; next} r && /^- / {print $2; next} r && /^[^ -]/ {r = 0}' "$crd_dir/kustomization.yaml")
else
  for f in "$crd_dir"/*.yaml; do files+=("$f"); done
fi
((${#files[@]})) || kube_die "no manifests in $crd_dir"

# CRDs first, the admission policy after them.
crds=() others=()
for f in "${files[@]}"; do
  if grep -q '^kind: CustomResourceDefinition' "$f"; then crds+=("$f"); else others+=("$f"); fi
done

names=()
for f in "${crds[@]}" "${others[@]}"; do
  kube_apply_file "$f" gwl4-install-crds || kube_die "applying $(basename "$f") failed"
done
for f in "${crds[@]}"; do
  while IFS= read -r -d '' doc; do
    names+=("$(kube_yaml_field "$doc" metadata.name)")
  done < <(kube_split_docs "$f")
done

# Wait until each CRD is Established (its resources are served).
for name in "${names[@]}"; do
  ok=""
  for _ in $(seq 1 300); do
    if kube_curl "$KUBE_SERVER/apis/apiextensions.k8s.io/v1/customresourcedefinitions/$name" 2>/dev/null |
      jq -e '.status.conditions // [] | any(.type == "Established" and .status == "True")' >/dev/null 2>&1; then
      ok=1
      break
    fi
    sleep 0.2
  done
  [[ -n "$ok" ]] || kube_die "CRD $name was not Established within 60s"
done

echo "install-crds.sh: Gateway API $version $channel channel: ${#names[@]} CRDs Established, ${#others[@]} other manifest file(s) applied, in $((SECONDS - started))s" >&2
