#!/usr/bin/env bash
# start-node.sh DIR: a one-node Kubernetes cluster on this machine, for the
# node test tier (issue #22), everything under DIR except what the kernel and
# a few fixed paths hold (README.md, "A node"): the bridge cni-gwl4n0
# (10.244.0.1/24, the pod network), the API server tier (start.sh DIR/api,
# serving on 10.244.0.1 so Pods reach it through the kubernetes Service
# 10.97.0.1), kube-controller-manager with the controllers a node needs,
# containerd with its own root, state and socket, the images of
# tools/kube/bin/images imported, the kubelet (v1.35.4), kube-proxy (iptables
# mode) and kube-scheduler; then waits until the Node is Ready and checks the
# network with two echo Pods (host to Pod, Pod to Pod, a ClusterIP through
# kube-proxy), which it deletes again.
#
# Stop with stop-node.sh DIR, also after a failure here (it undoes whatever
# was started). Use with-node.sh, which holds the machine-wide lock (one node
# at a time: fixed ports, bridge and cgroups) and always stops.
#
# Needs root, containerd and runc (exit 2 without them: apt-get install -y
# containerd runc iptables), iptables, ip, nsenter, curl, jq, openssl.
# Binaries: KUBE_BUILD_NODE=1 tools/kube/build.sh (run here if one is
# missing); the images are refreshed on every start from target/release, or
# from GWL4_IMAGE_BINARIES (images/build-images.sh).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"
# shellcheck source=node/node.sh
source "$here/node/node.sh"

[[ $# == 1 ]] || kube_die "usage: start-node.sh DIR"
node_prerequisites
mkdir -p "$1"
run="$(cd "$1" && pwd)"
chmod 755 "$run"
[[ ! -e "$run/kubelet.pid" && ! -e "$run/containerd.pid" ]] || kube_die "$run already holds a node (stop-node.sh $run first)"
bin="$here/bin"
t0=$SECONDS
say() { echo "start-node.sh: $* ($((SECONDS - t0))s)" >&2; }

# fail MESSAGE: say why, with the tails of the logs; the caller runs stop-node.sh.
fail() {
  echo "start-node.sh: $*" >&2
  local log
  for log in "$run"/containerd.log "$run"/kubelet.log "$run"/kube-proxy.log "$run"/kube-scheduler.log "$run"/kube-controller-manager.log; do
    [[ -f "$log" ]] && { echo "--- last lines of $log:" >&2; tail -n 20 "$log" >&2; }
  done
  exit 1
}

# --- binaries and images ------------------------------------------------------
missing=""
for b in kubelet kube-proxy kube-scheduler kube-controller-manager kube-apiserver etcd cni/bridge cni/host-local cni/loopback cni/portmap; do
  [[ -x "$bin/$b" ]] || missing+=" $b"
done
if [[ -n "$missing" ]]; then
  say "missing:$missing; building (KUBE_BUILD_NODE=1 build.sh)"
  KUBE_BUILD_NODE=1 "$here/build.sh" >&2
fi
"$here/images/build-images.sh" >&2

# --- what was there before (stop-node.sh removes only what is new) ---------------
node_snapshot "$run/before"
for h in /sys/fs/cgroup/*/kubepods; do
  if [[ -d "$h" ]]; then kube_die "$h exists: another kubelet runs here, or a node was not torn down"; fi
done
if ip link show "$NODE_BRIDGE" >/dev/null 2>&1; then
  kube_die "link $NODE_BRIDGE exists: a node was not torn down (stop-node.sh DIR, or ip link del $NODE_BRIDGE)"
fi

sub() { # TEMPLATE OUTPUT
  sed -e "s|@RUN@|$run|g" -e "s|@BIN@|$bin|g" -e "s|@NODE@|$NODE_NAME|g" \
    -e "s|@BRIDGE@|$NODE_BRIDGE|g" -e "s|@POD_CIDR@|$NODE_POD_CIDR|g" -e "s|@GATEWAY@|$NODE_IP|g" \
    -e "s|@RUNC@|$(command -v runc)|g" "$1" >"$2"
}

# --- the pod network's bridge: created here with its address, so the bridge
# plugin runs with isGateway=false and never enables net.ipv4.ip_forward ----------
ip link add "$NODE_BRIDGE" type bridge
touch "$run/bridge.created"
ip addr add "$NODE_IP/${NODE_POD_CIDR#*/}" dev "$NODE_BRIDGE"
ip link set "$NODE_BRIDGE" up
mkdir -p "$run"/{cni/net.d,cni/ipam,kubelet,pod-logs}
sub "$here/node/etc/cni.conflist.in" "$run/cni/net.d/10-gwl4n.conflist"

# --- API server, controllers ------------------------------------------------------
# kube-controller-manager is started here rather than by start.sh
# (KUBE_CONTROLLERS): it needs --root-ca-file, or root-ca-cert-publisher
# publishes an empty kube-root-ca.crt (start.sh's kubeconfigs name the CA by
# path, which the controller manager does not read for it) and in-cluster
# clients fail ("no root trust anchors were provided").
KUBE_BIND_ADDRESS="$NODE_IP" KUBE_SERVICE_CIDR="$NODE_SERVICE_CIDR" KUBE_SERVICE_IP="$NODE_SERVICE_IP" \
  KUBE_CONTROLLERS="" "$here/start.sh" "$run/api"
kube_load "$run/api/kubeconfig"
setsid "$bin/kube-controller-manager" --kubeconfig "$run/api/kubeconfig" --controllers "$NODE_CONTROLLERS" \
  --root-ca-file "$run/api/pki/ca.crt" --leader-elect=false --secure-port 0 \
  --service-cluster-ip-range "$NODE_SERVICE_CIDR" --profiling=false --v "${KUBE_CONTROLLER_MANAGER_V:-1}" \
  </dev/null >"$run/kube-controller-manager.log" 2>&1 &
echo $! >"$run/kube-controller-manager.pid"
# The apiserver runs with --endpoint-reconciler-type none (start.sh); publish
# its address for the kubernetes Service ourselves, so in-cluster clients
# (KUBERNETES_SERVICE_HOST=10.97.0.1) reach it through kube-proxy.
api_port="${KUBE_SERVER##*:}"
kube_apply_doc "apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kubernetes
  namespace: default
  labels:
    kubernetes.io/service-name: kubernetes
    endpointslice.kubernetes.io/managed-by: gwl4-start-node
addressType: IPv4
endpoints:
  - addresses: [\"$NODE_IP\"]
    conditions:
      ready: true
ports:
  - name: https
    port: $api_port
    protocol: TCP" start-node >/dev/null || fail "could not publish the kubernetes EndpointSlice"
say "API server up at $KUBE_SERVER"

# --- containerd, images -------------------------------------------------------------
sub "$here/node/etc/containerd.toml.in" "$run/containerd.toml"
setsid containerd --config "$run/containerd.toml" </dev/null >"$run/containerd.log" 2>&1 &
echo $! >"$run/containerd.pid"
for _ in $(seq 100); do
  kube_alive "$(cat "$run/containerd.pid")" || fail "containerd exited"
  ctr -a "$run/containerd.sock" version >/dev/null 2>&1 && break
  sleep 0.1
done
ctr -a "$run/containerd.sock" version >/dev/null 2>&1 || fail "containerd did not answer within 10s"
for img in "$bin"/images/*.tar; do
  ctr -a "$run/containerd.sock" -n k8s.io images import "$img" >/dev/null || fail "importing $img failed"
done
say "containerd up, images imported: $(ctr -a "$run/containerd.sock" -n k8s.io images ls -q | grep -v '^sha256:' | tr '\n' ' ')"

# --- kubelet, kube-proxy, kube-scheduler ----------------------------------------------
cp "$run/api/kubeconfig" "$run/node.kubeconfig"
sub "$here/node/etc/kubelet.yaml.in" "$run/kubelet.yaml"
setsid "$bin/kubelet" --config "$run/kubelet.yaml" --kubeconfig "$run/node.kubeconfig" \
  --root-dir "$run/kubelet" --cert-dir "$run/kubelet/pki" --hostname-override "$NODE_NAME" \
  --node-ip "$NODE_IP" --v "${KUBELET_V:-1}" </dev/null >"$run/kubelet.log" 2>&1 &
echo $! >"$run/kubelet.pid"
sub "$here/node/etc/kube-proxy.yaml.in" "$run/kube-proxy.yaml"
setsid "$bin/kube-proxy" --config "$run/kube-proxy.yaml" --v "${KUBE_PROXY_V:-1}" \
  </dev/null >"$run/kube-proxy.log" 2>&1 &
echo $! >"$run/kube-proxy.pid"
setsid "$bin/kube-scheduler" --kubeconfig "$run/api/kubeconfig" --leader-elect=false \
  --secure-port 0 --v "${KUBE_SCHEDULER_V:-1}" </dev/null >"$run/kube-scheduler.log" 2>&1 &
echo $! >"$run/kube-scheduler.pid"

# Ready, and the not-ready taint gone (the nodelifecycle controller removes it;
# until then the scheduler places nothing).
ready=""
for _ in $(seq 600); do
  for p in kubelet kube-proxy kube-scheduler kube-controller-manager containerd; do
    kube_alive "$(cat "$run/$p.pid")" || fail "$p exited"
  done
  if kube_curl "$KUBE_SERVER/api/v1/nodes/$NODE_NAME" 2>/dev/null | jq -e '
      any(.status.conditions[]?; .type == "Ready" and .status == "True")
      and ([.spec.taints[]? | select(.key == "node.kubernetes.io/not-ready")] | length == 0)' >/dev/null 2>&1; then
    ready=1
    break
  fi
  sleep 0.2
done
[[ -n "$ready" ]] || fail "node $NODE_NAME not Ready (or still tainted not-ready) within 120s"
say "node $NODE_NAME Ready"

# --- network check ----------------------------------------------------------------------
[[ "${NODE_SKIP_NETCHECK:-0}" == 1 ]] || node_netcheck "$run" || fail "the network check failed"
say "node up"
