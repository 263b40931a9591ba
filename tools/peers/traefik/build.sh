#!/usr/bin/env bash
# build.sh: Traefik into tools/peers/bin/traefik, from the Go module proxy.
#
# `go install github.com/traefik/traefik/v3/cmd/traefik@VERSION` is refused:
# Traefik's go.mod has replace and exclude directives, and one of them points
# at a nested module (github.com/traefik/traefik/dynamic/ext) that is not in
# the module zip and not served by the proxy. So the build is a throwaway
# wrapper module, generated here and never committed:
#
#   go.mod   requires traefik/v3 at $TRAEFIK_VERSION and repeats that tag's own
#            replace and exclude lines (read from its go.mod in the module
#            cache), except the dynamic/ext one, which points at ./ext
#   ext/     the dynamic/ext package as it is at that tag: package ext, two
#            empty structs (HTTP, Router) that Traefik embeds as extension
#            points; checked below against how the tag uses them
#
# Rebuilt only when the binary is missing or its stamp (the version and this
# script's hash) changed. Cold: about 10 min of CPU on 2 cores, under nice.
set -euo pipefail

# v3.7 reads TCPRoute as v1alpha2, so it needs the experimental-channel CRDs
# and experimentalChannel=true (there is no v3.8 on the proxy yet). v3.7.12,
# not the newest v3.7.13: v3.7.13's ACME library needs DNS-provider SDK
# versions the proxy here refuses (ucloud-sdk-go v0.22.116, oci-go-sdk
# v1065.124.0 and others); v3.7.12's are served.
TRAEFIK_VERSION=v3.7.12
# Module versions Traefik's go.mod names that the proxy here refuses, each
# replaced by one it serves. containous/go-http-auth is Traefik's fork of the
# basic/digest-auth library, reached only by the BasicAuth and DigestAuth
# HTTP middlewares, never by a TCPRoute: its 2026-08-04 pseudo-version is
# refused, the 2020-03-24 one (what Traefik used until then) is served.
OVERRIDES=(
  "github.com/abbot/go-http-auth => github.com/containous/go-http-auth v0.4.1-0.20200324110947-a37a7636d23e"
)

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
bin="$(cd "$here/.." && pwd)/bin"
mkdir -p "$bin"
script_hash="$(sha256sum "${BASH_SOURCE[0]}" | cut -d' ' -f1)"
stamp="traefik $TRAEFIK_VERSION $script_hash"
if [[ -x "$bin/traefik" && -f "$bin/traefik.stamp" && "$(cat "$bin/traefik.stamp")" == "$stamp" ]]; then
  echo "build.sh: traefik $TRAEFIK_VERSION is up to date"
  exit 0
fi
echo "build.sh: building traefik $TRAEFIK_VERSION"
start=$SECONDS
export GOTOOLCHAIN=local GOFLAGS=-mod=mod CGO_ENABLED=0
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

module="github.com/traefik/traefik/v3"
upstream_mod="$(go mod download -json "$module@$TRAEFIK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["GoMod"])')"
source_dir="$(go mod download -json "$module@$TRAEFIK_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')"

# The stub must be all the tag asks of the package: its only uses are the two
# embedded structs. Anything else means the stub is out of date.
uses="$(grep -rhoE 'ext\.[A-Za-z_]+' --include='*.go' "$source_dir/pkg/config/dynamic" | sort -u | tr '\n' ' ')"
if [[ "$uses" != "ext.HTTP ext.Router " ]]; then
  echo "build.sh: traefik $TRAEFIK_VERSION uses dynamic/ext as: $uses; the stub has ext.HTTP and ext.Router only" >&2
  exit 1
fi
mkdir -p "$work/ext"
cat >"$work/ext/go.mod" <<'MOD'
module github.com/traefik/traefik/dynamic/ext

go 1.26
MOD
cat >"$work/ext/ext.go" <<'GO'
// Package ext is Traefik's extension point, empty upstream.
package ext

// HTTP is embedded in dynamic.HTTPConfiguration.
type HTTP struct{}

// Router is embedded in dynamic.Router.
type Router struct{}
GO

{
  echo "module local/traefik-build"
  echo
  echo "go 1.26.0"
  echo
  echo "require $module $TRAEFIK_VERSION"
  echo
  echo "replace github.com/traefik/traefik/dynamic/ext => ./ext"
  for override in "${OVERRIDES[@]}"; do echo "replace $override"; done
  # The tag's other replace and exclude lines, single or in blocks, except
  # those of modules replaced above.
  python3 - "$upstream_mod" "${OVERRIDES[@]}" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
skip = ["github.com/traefik/traefik/dynamic/ext"] + [o.split()[0] for o in sys.argv[2:]]
def keep(line):
    return line.strip() and line.split()[0] not in skip
for kind in ("replace", "exclude"):
    lines = [l for b in re.findall(rf"^{kind} \((.*?)^\)", text, re.S | re.M) for l in b.splitlines()]
    lines += re.findall(rf"^{kind} ([^(].*)$", text, re.M)
    for line in lines:
        if keep(line):
            print(f"{kind} {line.strip()}")
PY
} >"$work/go.mod"
cat >"$work/tools.go" <<'GO'
//go:build tools

package tools

import _ "github.com/traefik/traefik/v3/cmd/traefik"
GO

(
  cd "$work"
  go mod tidy >/dev/null
  nice -n 19 go build -trimpath \
    -ldflags "-s -w -X github.com/traefik/traefik/v3/pkg/version.Version=$TRAEFIK_VERSION" \
    -o "$bin/traefik.tmp" "$module/cmd/traefik"
)
mv "$bin/traefik.tmp" "$bin/traefik"
echo "$stamp" >"$bin/traefik.stamp"
echo "build.sh: built traefik $TRAEFIK_VERSION in $((SECONDS - start))s"
