# Shared settings and helpers of the node test tier (start-node.sh,
# stop-node.sh, with-node.sh). Source it after ../lib.sh; do not run it.
# shellcheck shell=bash
# The NODE_* settings are used by the scripts that source this file.
# shellcheck disable=SC2034

# Fixed for the machine: with-node.sh's lock makes sure one node runs at a
# time. None of them collides with the other tiers (local mode: 10.248.x,
# gwl4-* network namespaces, gwlp* veths; peers: 10.249.x, gwl4-peer-*).
NODE_NAME=gwl4-node
NODE_BRIDGE=cni-gwl4n0
NODE_POD_CIDR=10.244.0.0/24
NODE_IP=10.244.0.1 # the bridge's address: node IP, API server address, Pods' gateway
NODE_SERVICE_CIDR=10.97.0.0/16
NODE_SERVICE_IP=10.97.0.1
NODE_CNI_NETWORK=gwl4n # the conflist's name: libcni's cache files are gwl4n-*
NODE_LOCK=/tmp/gwl4-node.lock
# serviceaccount, root-ca-cert-publisher: what every Pod needs (its
# ServiceAccount, kube-root-ca.crt); endpointslice: Services with selectors;
# nodelifecycle: removes the not-ready taint the kubelet registers with;
# replicaset, deployment: Deployments; namespace, garbagecollector: deleted
# namespaces and owned objects go away.
NODE_CONTROLLERS=serviceaccount,root-ca-cert-publisher,endpointslice,nodelifecycle,replicaset,deployment,namespace,garbagecollector
# Paths outside the run directory the kubelet, containerd and libcni use
# whatever they are told.
NODE_FIXED_PATHS=(/var/lib/kubelet /var/lib/cni /run/containerd /var/log/containers /opt/containerd)
# Kernel tunables the kubelet sets (protectKernelDefaults: false), with the
# value it sets; stop-node.sh restores what it found, only while the value is
# still the kubelet's. net.ipv4.ip_forward is never touched by this tier.
declare -A NODE_KUBELET_SYSCTLS=([vm.overcommit_memory]=1 [vm.panic_on_oom]=0 [kernel.panic]=10
  [kernel.panic_on_oops]=1 [kernel.keys.root_maxkeys]=1000000 [kernel.keys.root_maxbytes]=25000000)
# Watched too (reported if they change, never written).
NODE_WATCHED_SYSCTLS=(net.ipv4.ip_forward net.ipv4.conf.all.route_localnet net.netfilter.nf_conntrack_max
  net.bridge.bridge-nf-call-iptables net.bridge.bridge-nf-call-ip6tables)

# node_prerequisites: root and the tools; exit 2 with what to install.
node_prerequisites() {
  local missing="" c
  [[ $EUID == 0 ]] || { echo "$(basename "$0"): the node tier needs root (containerd, the kubelet, iptables, network namespaces)" >&2; exit 2; }
  for c in containerd runc ctr; do command -v "$c" >/dev/null || missing+=" $c"; done
  if [[ -n "$missing" ]]; then
    echo "$(basename "$0"): missing:$missing. Install containerd and runc first: apt-get install -y containerd runc iptables" >&2
    exit 2
  fi
  for c in iptables iptables-save ip6tables ip6tables-save ip nsenter flock curl jq openssl ldd timeout; do
    command -v "$c" >/dev/null || missing+=" $c"
  done
  [[ -z "$missing" ]] || { echo "$(basename "$0"): missing:$missing (apt-get install -y iptables iproute2 util-linux curl jq openssl)" >&2; exit 2; }
}

# node_chains: "COMMAND TABLE CHAIN" for every KUBE-* and CNI-* chain.
node_chains() {
  local ipt t
  for ipt in iptables ip6tables; do
    for t in filter nat mangle raw; do
      "$ipt-save" -t "$t" 2>/dev/null | sed -n "s/^:\(\(KUBE\|CNI\)-[^ ]*\) .*/$ipt $t \1/p"
    done
  done
}

# node_snapshot DIR: what exists before the node starts.
node_snapshot() {
  local dir="$1" k p
  mkdir -p "$dir"
  ip netns list | awk '{print $1}' >"$dir/netns"
  node_chains >"$dir/chains"
  if command -v nft >/dev/null; then nft list tables >"$dir/nft-tables" 2>/dev/null || true; else : >"$dir/nft-tables"; fi
  for k in "${!NODE_KUBELET_SYSCTLS[@]}" "${NODE_WATCHED_SYSCTLS[@]}"; do
    echo "$k=$(sysctl -n "$k" 2>/dev/null || echo absent)"
  done >"$dir/sysctl"
  for p in "${NODE_FIXED_PATHS[@]}"; do [[ -e "$p" ]] && echo "$p"; done >"$dir/paths"
  true
}

# node_new_netns RUN: the cni-* network namespaces that did not exist before.
node_new_netns() {
  ip netns list | awk '$1 ~ /^cni-/ {print $1}' | grep -vxF -f "$1/before/netns" || true
}

# node_hello IP PORT: one HELLO to the echo server at IP:PORT; prints its
# JSON reply line (pod, peer, ...). Prefix with nsenter to ask from a netns.
node_hello() {
  # shellcheck disable=SC2016 # expanded by the inner bash
  timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "HELLO gwl4-node\n" >&3 && IFS= read -r -t 4 line <&3 && printf "%s\n" "$line"' "$1" "$2"
}

# node_netcheck RUN: two echo Pods and a Service in default: host to Pod,
# Pod to Pod (from the first Pod's network namespace), host to the ClusterIP
# (kube-proxy's DNAT); then delete them and wait until they are gone. Needs
# kube_load.
node_netcheck() {
  local run="$1" t=$SECONDS p ips=() ns cip reply ok
  for _ in $(seq 300); do
    kube_curl -f "$KUBE_SERVER/api/v1/namespaces/default/serviceaccounts/default" >/dev/null 2>&1 && break
    sleep 0.1
  done
  for p in a b; do
    kube_apply_doc "apiVersion: v1
kind: Pod
metadata:
  name: gwl4-node-check-$p
  namespace: default
  labels:
    app: gwl4-node-check
spec:
  nodeName: $NODE_NAME
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  containers:
    - name: echo
      image: ghcr.io/gwl4/echo-server:local
      imagePullPolicy: Never
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
      ports:
        - containerPort: 5000
          protocol: TCP
      readinessProbe:
        tcpSocket:
          port: 5000
        periodSeconds: 1" start-node >/dev/null || return 1
  done
  kube_apply_doc "apiVersion: v1
kind: Service
metadata:
  name: gwl4-node-check
  namespace: default
spec:
  selector:
    app: gwl4-node-check
  ports:
    - name: tcp
      protocol: TCP
      port: 80
      targetPort: 5000" start-node >/dev/null || return 1
  for _ in $(seq 600); do
    mapfile -t ips < <(kube_curl "$KUBE_SERVER/api/v1/namespaces/default/pods?labelSelector=app=gwl4-node-check" |
      jq -r '.items | sort_by(.metadata.name)[] | select(any(.status.conditions[]?; .type == "Ready" and .status == "True")) | .status.podIP')
    [[ ${#ips[@]} == 2 ]] && break
    sleep 0.1
  done
  if [[ ${#ips[@]} != 2 ]]; then
    echo "node_netcheck: the two echo Pods were not Ready within 60s:" >&2
    kube_curl "$KUBE_SERVER/api/v1/namespaces/default/pods?labelSelector=app=gwl4-node-check" |
      jq -c '.items[] | {name: .metadata.name, phase: .status.phase, conditions: .status.conditions, containers: .status.containerStatuses}' >&2
    return 1
  fi
  echo "node_netcheck: Pods Ready at ${ips[*]} after $((SECONDS - t))s" >&2
  reply="$(node_hello "${ips[0]}" 5000)" && [[ "$reply" == *'"pod":"gwl4-node-check-a"'* ]] ||
    { echo "node_netcheck: host to Pod ${ips[0]}:5000 failed: '$reply'" >&2; return 1; }
  reply="$(node_hello "${ips[1]}" 5000)" && [[ "$reply" == *'"pod":"gwl4-node-check-b"'* ]] ||
    { echo "node_netcheck: host to Pod ${ips[1]}:5000 failed: '$reply'" >&2; return 1; }
  ns=""
  for p in $(node_new_netns "$run"); do
    ip -n "$p" -4 -o addr show | grep -qF " ${ips[0]}/" && ns="$p"
  done
  [[ -n "$ns" ]] || { echo "node_netcheck: no network namespace holds ${ips[0]}" >&2; return 1; }
  reply="$(nsenter --net="/run/netns/$ns" bash -c "$(declare -f node_hello); node_hello ${ips[1]} 5000")" &&
    [[ "$reply" == *'"pod":"gwl4-node-check-b"'* && "$reply" == *"\"peer\":\"${ips[0]}:"* ]] ||
    { echo "node_netcheck: Pod ${ips[0]} to Pod ${ips[1]}:5000 failed: '$reply'" >&2; return 1; }
  cip="$(kube_curl "$KUBE_SERVER/api/v1/namespaces/default/services/gwl4-node-check" | jq -r .spec.clusterIP)"
  ok=""
  for _ in $(seq 300); do
    reply="$(node_hello "$cip" 80 2>/dev/null)" && [[ "$reply" == *'"pod":"gwl4-node-check-'* ]] && { ok=1; break; }
    sleep 0.1
  done
  [[ -n "$ok" ]] || { echo "node_netcheck: ClusterIP $cip:80 did not answer within 30s: '$reply'" >&2; return 1; }
  echo "node_netcheck: host to Pod, Pod to Pod and host to ClusterIP $cip:80 answered after $((SECONDS - t))s" >&2
  for p in a b; do
    kube_curl -X DELETE "$KUBE_SERVER/api/v1/namespaces/default/pods/gwl4-node-check-$p?gracePeriodSeconds=1" >/dev/null
  done
  kube_curl -X DELETE "$KUBE_SERVER/api/v1/namespaces/default/services/gwl4-node-check" >/dev/null
  for _ in $(seq 300); do
    [[ "$(kube_curl "$KUBE_SERVER/api/v1/namespaces/default/pods?labelSelector=app=gwl4-node-check" | jq '.items | length')" == 0 ]] && break
    sleep 0.1
  done
  echo "node_netcheck: check Pods deleted after $((SECONDS - t))s" >&2
}
