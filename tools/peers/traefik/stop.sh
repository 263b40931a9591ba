#!/usr/bin/env bash
# stop.sh DIR NETNS: stop what start.sh DIR started: Traefik (every process in
# NETNS: TERM, then KILL after 10 s). Safe to run twice.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib.sh
source "$here/../lib.sh"
[[ $# == 2 ]] || { echo "usage: stop.sh DIR NETNS" >&2; exit 2; }
peer_stop_processes "$2"
rm -f "$1/traefik.pid"
