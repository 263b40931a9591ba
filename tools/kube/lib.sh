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
