# Shared helpers for the tools/kube scripts. Source it; do not run it.
# Needs bash, curl and jq.

kube_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# kube_alive PID: the process exists and has not exited. A server start.sh
# started is reparented to PID 1 when start.sh exits, and an exited one can
# stay a zombie until PID 1 reaps it, which `kill -0` cannot tell apart.
kube_alive() {
  local state
  state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" || return 1
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# kube_load KUBECONFIG: read server, token and CA file from a kubeconfig written
# by start.sh (one cluster, one user, a token and a certificate-authority path)
# into KUBE_SERVER, KUBE_TOKEN and KUBE_CA.
kube_load() {
  local cfg="$1"
  [[ -f "$cfg" ]] || kube_die "no kubeconfig at $cfg"
  KUBE_SERVER="$(awk '$1 == "server:" {print $2; exit}' "$cfg")"
  KUBE_TOKEN="$(awk '$1 == "token:" {print $2; exit}' "$cfg")"
  KUBE_CA="$(awk '$1 == "certificate-authority:" {print $2; exit}' "$cfg")"
  [[ -n "$KUBE_SERVER" && -n "$KUBE_TOKEN" && -f "$KUBE_CA" ]] ||
    kube_die "$cfg lacks server, token or certificate-authority (only start.sh's kubeconfigs are understood)"
}

# kube_curl ARGS...: curl against the API server loaded by kube_load. Prints the
# body; the caller checks the status with -w or --fail.
kube_curl() {
  curl -sS --cacert "$KUBE_CA" -H "Authorization: Bearer $KUBE_TOKEN" "$@"
}

# kube_yaml_field DOC FIELD: a top-level scalar (apiVersion, kind) of one YAML
# document, or metadata.FIELD when FIELD is metadata.name/metadata.namespace.
# Only understands block-style manifests with two-space indentation, which is
# what the Gateway API CRDs and our test manifests are.
kube_yaml_field() {
  local doc="$1" field="$2"
  case "$field" in
  metadata.*)
    awk -v f="${field#metadata.}" '
      /^metadata:/ {inmeta = 1; next}
      inmeta && /^[^ #]/ {exit}
      inmeta && /^  [^ ]/ && $1 == f ":" {v = $2; gsub(/^["'\'']|["'\'']$/, "", v); print v; exit}
    ' <<<"$doc"
    ;;
  *)
    awk -v f="$field" '$1 == f ":" && /^[^ ]/ {v = $2; gsub(/^["'\'']|["'\'']$/, "", v); print v; exit}' <<<"$doc"
    ;;
  esac
}

# kube_resource_path APIVERSION KIND NAMESPACE NAME: the REST path of an
# object, finding the resource (plural) name and scope through discovery.
kube_resource_path() {
  local apiversion="$1" kind="$2" ns="$3" name="$4" base disc res namespaced
  if [[ "$apiversion" == */* ]]; then base="/apis/$apiversion"; else base="/api/$apiversion"; fi
  disc="$(kube_curl --fail "$KUBE_SERVER$base")" || kube_die "discovery of $apiversion failed (is the CRD installed?)"
  read -r res namespaced < <(jq -r --arg k "$kind" \
    '.resources[] | select(.kind == $k and (.name | contains("/") | not)) | "\(.name) \(.namespaced)"' <<<"$disc" | head -n1)
  [[ -n "$res" ]] || kube_die "the server has no resource of kind $kind in $apiversion"
  if [[ "$namespaced" == true ]]; then
    echo "$base/namespaces/${ns:-default}/$res/$name"
  else
    echo "$base/$res/$name"
  fi
}

# kube_apply_doc DOC [FIELD_MANAGER]: server-side apply of one YAML document.
# Prints the server's JSON answer on stdout; returns non-zero (and prints the
# answer on stderr) when the server refuses it.
kube_apply_doc() {
  local doc="$1" manager="${2:-gwl4-tools}" apiversion kind name ns path out code
  apiversion="$(kube_yaml_field "$doc" apiVersion)"
  kind="$(kube_yaml_field "$doc" kind)"
  name="$(kube_yaml_field "$doc" metadata.name)"
  ns="$(kube_yaml_field "$doc" metadata.namespace)"
  [[ -n "$apiversion" && -n "$kind" && -n "$name" ]] || kube_die "a document lacks apiVersion, kind or metadata.name"
  path="$(kube_resource_path "$apiversion" "$kind" "$ns" "$name")" || return 1
  out="$(mktemp)"
  code="$(kube_curl -o "$out" -w '%{http_code}' -X PATCH \
    -H 'Content-Type: application/apply-patch+yaml' \
    --data-binary @- "$KUBE_SERVER$path?fieldManager=$manager&force=true" <<<"$doc")"
  if [[ "$code" == 2* ]]; then
    cat "$out"
    rm -f "$out"
  else
    echo "apply of $kind/$name answered HTTP $code:" >&2
    cat "$out" >&2
    echo >&2
    rm -f "$out"
    return 1
  fi
}

# kube_split_docs FILE: print the documents of a multi-document YAML file,
# each terminated by a NUL byte, skipping empty ones.
kube_split_docs() {
  awk '
    function flush() { if (doc ~ /[^[:space:]]/) printf "%s%c", doc, 0; doc = "" }
    /^---[[:space:]]*$/ {flush(); next}
    {doc = doc $0 "\n"}
    END {flush()}
  ' "$1"
}

# kube_apply_file FILE [FIELD_MANAGER]: apply every document of FILE.
kube_apply_file() {
  local file="$1" manager="${2:-gwl4-tools}" doc
  while IFS= read -r -d '' doc; do
    kube_apply_doc "$doc" "$manager" >/dev/null || return 1
  done < <(kube_split_docs "$file")
}

# kube_claim_loopback_block VAR: set VAR to a loopback block n (127.1.n.0/24
# is then ours) claimed as gwl4 claims one, an flock on
# /tmp/gwl4-loopback-n.lock held until this shell exits, so no other gwl4 run
# on the machine binds those addresses meanwhile.
kube_claim_loopback_block() {
  local n lock
  for n in $(seq 199 -1 100); do
    exec {lock}>"/tmp/gwl4-loopback-$n.lock"
    if flock -n "$lock"; then
      printf -v "$1" '%s' "$n"
      return 0
    fi
    exec {lock}>&-
  done
  kube_die "no free loopback block"
}

# kube_start_reference_gateway GWL4 ADDRESS_SOURCE LOG: apply the bundled
# GatewayClass, start the reference gateway's Kubernetes provider out of
# cluster as gwl4-controller (GWL4_CONTROLLER_KUBECONFIG, from
# with-apiserver.sh), logging to LOG, and wait (20 s at most) until it has
# accepted the class. Sets KUBE_CONTROLLER_PID. Needs kube_load first.
kube_start_reference_gateway() {
  local gwl4="$1" address="$2" log="$3" here_lib
  here_lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  kube_apply_file "$here_lib/../../manifests/reference-gateway/30-gatewayclass.yaml" || kube_die "could not apply the GatewayClass"
  "$gwl4" reference-gateway kube --kubeconfig "$GWL4_CONTROLLER_KUBECONFIG" \
    --address-source "$address" >"$log" 2>&1 &
  KUBE_CONTROLLER_PID=$!
  for _ in $(seq 100); do
    kube_curl "$KUBE_SERVER/apis/gateway.networking.k8s.io/v1/gatewayclasses/gwl4-reference" |
      jq -e '.status.conditions[]? | select(.type == "Accepted" and .status == "True")' >/dev/null && return 0
    sleep 0.2
  done
  kube_die "GatewayClass gwl4-reference not Accepted within 20s (see $log)"
}
