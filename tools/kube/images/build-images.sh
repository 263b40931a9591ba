#!/usr/bin/env bash
# build-images.sh: the OCI image archives the node test tier imports into its
# containerd (`ctr -n k8s.io images import`), written into
# tools/kube/bin/images/ without a registry or a container builder:
#
#   pause.tar              gwl4.test/pause:local, the pod sandbox (pause/main.go, static Go)
#   echo-server.tar        ghcr.io/gwl4/echo-server:local from $GWL4_IMAGE_BINARIES/echo-server
#   reference-gateway.tar  ghcr.io/gwl4/reference-gateway:latest from $GWL4_IMAGE_BINARIES/reference-gateway
#
# GWL4_IMAGE_BINARIES is the directory the Rust binaries come from (a
# relative path is taken from the repository's root): target/release by
# default; .ci/run sets target/debug, which its
# `cargo test --workspace` has just built (a release build would cost CI
# ~6 more minutes; dependencies are optimised in debug builds too).
#
# The Rust binaries are glibc-linked, as in their Dockerfiles (distroless
# cc-debian12): each image holds the binary, the shared libraries `ldd` lists
# and the dynamic loader, at the paths ldd prints, plus a minimal /etc/passwd
# and /etc/group naming uid 65532 (nonroot) as distroless does. Entrypoint,
# Cmd, user 65532:65532 and ports are those of echo-server/Dockerfile and
# reference-gateway/Dockerfile. Build the binaries first:
#   cargo build --release -p echo-server -p reference-gateway
# (or, with GWL4_IMAGE_BINARIES=target/debug, without --release)
# A Rust binary that is missing is skipped with a warning (echo-server is
# required by with-node.sh's network check; ECHO_REQUIRED=0 lifts that).
#
# An archive is rewritten only when the hash of its inputs (files, imgtool,
# this script) differs from its stamp. Go builds run under `nice -n 19`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="$here/../bin/images"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
binaries="${GWL4_IMAGE_BINARIES:-target/release}"
[[ $binaries == /* ]] || binaries="$repo/$binaries"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS="${GOFLAGS:--mod=readonly}"

# The two Go programs (stdlib only), rebuilt when their sources change.
go_stamp() { cat "$here/go.mod" "$here/$1"/*.go "$here/build-images.sh" | sha256sum | cut -d' ' -f1; }
for prog in imgtool pause; do
  if [[ -x "$out/$prog" && -f "$out/$prog.stamp" && "$(cat "$out/$prog.stamp")" == "$(go_stamp "$prog")" ]]; then
    continue
  fi
  (cd "$here" && nice -n 19 go build -trimpath -ldflags "-s -w" -o "$out/$prog.tmp" "./$prog")
  mv "$out/$prog.tmp" "$out/$prog"
  go_stamp "$prog" >"$out/$prog.stamp"
  echo "build-images.sh: built $prog"
done

etc="$out/etc"
mkdir -p "$etc"
printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' >"$etc/passwd"
printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$etc/group"

# image NAME REF IMGTOOL_FLAGS... -- SRC=DEST...: write NAME.tar unless its stamp matches.
image() {
  local name="$1" ref="$2" flags=() files=() stamp f
  shift 2
  while [[ $1 != -- ]]; do flags+=("$1"); shift; done
  shift
  files=("$@")
  stamp="$({
    echo "$ref" "${flags[@]}" "${files[@]}"
    cat "$out/imgtool.stamp" "$here/build-images.sh"
    for f in "${files[@]}"; do sha256sum <"${f%%=*}"; done
  } | sha256sum | cut -d' ' -f1)"
  if [[ -f "$out/$name.tar" && -f "$out/$name.tar.stamp" && "$(cat "$out/$name.tar.stamp")" == "$stamp" ]]; then
    echo "build-images.sh: $name.tar is up to date"
    return
  fi
  "$out/imgtool" -name "$ref" -out "$out/$name.tar" "${flags[@]}" "${files[@]}"
  echo "$stamp" >"$out/$name.tar.stamp"
}

# libs BINARY: SRC=DEST for each shared library and the loader ldd lists
# (content from the resolved file, placed at the path ldd prints).
libs() {
  local line p
  ldd "$1" | while read -r line; do
    case "$line" in
    *"=> /"*) p="${line#*=> }"; p="${p%% (*}" ;;
    /*) p="${line%% (*}" ;;
    *) continue ;; # linux-vdso.so.1 and the like: no file
    esac
    echo "$(readlink -f "$p")=$p"
  done
}

# rust_image NAME REF BINARY IMGTOOL_FLAGS...
rust_image() {
  local name="$1" ref="$2" binary="$3" files
  shift 3
  if [[ ! -x "$binary" ]]; then
    echo "build-images.sh: warning: $binary is missing (cargo build --release -p $name, or GWL4_IMAGE_BINARIES); no $name image" >&2
    rm -f "$out/$name.tar" "$out/$name.tar.stamp"
    return 1
  fi
  mapfile -t files < <(libs "$binary")
  image "$name" "$ref" -user 65532:65532 "$@" -- \
    "$binary=/$name" "$etc/passwd=/etc/passwd" "$etc/group=/etc/group" "${files[@]}"
}

image pause gwl4.test/pause:local -entrypoint /pause -- "$out/pause=/pause"
rust_image echo-server ghcr.io/gwl4/echo-server:local "$binaries/echo-server" \
  -entrypoint /echo-server -port 5000/tcp -port 5001/udp ||
  [[ "${ECHO_REQUIRED:-1}" == 0 ]] || exit 1
rust_image reference-gateway ghcr.io/gwl4/reference-gateway:latest "$binaries/reference-gateway" \
  -entrypoint /reference-gateway -port 9902/tcp \
  -cmd standalone -cmd --config-dir -cmd /config -cmd --status-dir -cmd /status \
  -cmd --bind-address -cmd 0.0.0.0 -cmd --admin-address -cmd 127.0.0.1:9901 \
  -cmd --health-address -cmd 0.0.0.0:9902 || true
