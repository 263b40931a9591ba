#!/usr/bin/env bash
# start.sh DIR: bring up etcd and kube-apiserver on 127.0.0.1 (free ports),
# everything under DIR, and write DIR/kubeconfig once /readyz answers ok.
#
# DIR/kubeconfig             admin token "gwl4-admin" (for the harness)
# DIR/controller.kubeconfig  token "gwl4-controller" (for the gateway's controller)
# DIR/env                    shell-sourceable: KUBE_SERVER, KUBE_CA, KUBE_ADMIN_TOKEN,
#                            KUBE_CONTROLLER_TOKEN, ETCD_ENDPOINT, pids
# DIR/*.log                  etcd and kube-apiserver logs
#
# Both users are in system:masters; authorization is RBAC (see README.md).
#
# KUBE_BIND_ADDRESS=IP serves the API on IP instead of 127.0.0.1 (an address
# of this host, e.g. a veth's host side, so a process in a network namespace
# can reach the API: tools/peers). etcd stays on 127.0.0.1.
#
# KUBE_CONTROLLERS=namespace,garbagecollector (a kube-controller-manager
# --controllers list) also starts kube-controller-manager with just those
# controllers (built on demand: KUBE_BUILD_KCM=1 build.sh, ~2.5 min extra).
# Binaries come from tools/kube/bin (run build.sh first; start.sh runs it if
# a binary is missing). Stop with stop.sh DIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

[[ $# == 1 ]] || kube_die "usage: start.sh DIR"
mkdir -p "$1"
dir="$(cd "$1" && pwd)"
[[ ! -e "$dir/kube-apiserver.pid" && ! -e "$dir/etcd.pid" && ! -e "$dir/kube-controller-manager.pid" ]] || kube_die "$dir already holds a running server (stop.sh $dir first)"
command -v openssl >/dev/null || kube_die "openssl is needed"
command -v curl >/dev/null || kube_die "curl is needed"
command -v jq >/dev/null || kube_die "jq is needed"

bin="$here/bin"
controllers="${KUBE_CONTROLLERS:-}"
if [[ ! -x "$bin/kube-apiserver" || ! -x "$bin/etcd" ]] || [[ -n "$controllers" && ! -x "$bin/kube-controller-manager" ]]; then
  KUBE_BUILD_KCM="$([[ -n "$controllers" ]] && echo 1 || echo 0)" "$here/build.sh" >&2
fi

started=$SECONDS
bind_address="${KUBE_BIND_ADDRESS:-127.0.0.1}"
service_cidr="${KUBE_SERVICE_CIDR:-10.96.0.0/16}"
service_ip="${KUBE_SERVICE_IP:-10.96.0.1}" # first address of the range: the kubernetes Service

# On failure, stop whatever was started and leave the logs for reading.
fail() {
  echo "start.sh: $*" >&2
  for log in "$dir"/etcd.log "$dir"/kube-apiserver.log "$dir"/kube-controller-manager.log; do
    [[ -f "$log" ]] && { echo "--- last lines of $log:" >&2; tail -n 25 "$log" >&2; }
  done
  KUBE_KEEP_DIR=1 "$here/stop.sh" "$dir" >&2 || true
  exit 1
}

# free_port VAR: set VAR to a TCP port nothing listens on, below the kernel's
# ephemeral range (outgoing connections take their local ports from that range
# and would make bind fail). Another process could still take the port before
# we bind; start.sh then fails loudly (the log says why).
read -r ephemeral_low _ </proc/sys/net/ipv4/ip_local_port_range || ephemeral_low=32768
port_low=10000
((ephemeral_low - port_low >= 1000)) || port_low=1024
used_ports=" "
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((port_low + RANDOM % (ephemeral_low - port_low)))
    [[ "$used_ports" == *" $p "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && ! (exec 3<>"/dev/tcp/$bind_address/$p") 2>/dev/null; then
      used_ports+="$p "
      printf -v "$1" '%s' "$p"
      return
    fi
  done
  fail "no free port found"
}

# --- Certificates and keys ------------------------------------------------------
pki="$dir/pki"
mkdir -p "$pki"
(
  cd "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout ca.key -out ca.crt -days 2 -subj "/CN=gwl4-test-ca" 2>/dev/null
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout apiserver.key -out apiserver.csr -subj "/CN=kube-apiserver" 2>/dev/null
  cat >apiserver.ext <<EOF
basicConstraints = CA:FALSE
keyUsage = digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, IP:$bind_address, IP:$service_ip, DNS:localhost, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, DNS:kubernetes.default.svc.cluster.local
EOF
  openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out apiserver.crt -days 2 -extfile apiserver.ext 2>/dev/null
  # The API server's client certificate towards a kubelet (the node tier's;
  # the other tiers have none): logs, exec and port-forward go through it.
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout kubelet-client.key -out kubelet-client.csr \
    -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
  printf '%s\n' 'basicConstraints = CA:FALSE' 'keyUsage = digitalSignature, keyEncipherment' \
    'extendedKeyUsage = clientAuth' >kubelet-client.ext
  openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out kubelet-client.crt -days 2 -extfile kubelet-client.ext 2>/dev/null
  # Service-account token signing key pair.
  openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out sa.key 2>/dev/null
  openssl pkey -in sa.key -pubout -out sa.pub 2>/dev/null
) || fail "could not generate certificates with openssl"

admin_token="$(openssl rand -hex 24)"
controller_token="$(openssl rand -hex 24)"
kcm_token="$(openssl rand -hex 24)"
# token,user,uid,"group1,group2"
cat >"$pki/tokens.csv" <<EOF
$admin_token,gwl4-admin,gwl4-admin,"system:masters"
$controller_token,gwl4-controller,gwl4-controller,"system:masters"
$kcm_token,gwl4-kube-controller-manager,gwl4-kube-controller-manager,"system:masters"
EOF
chmod 600 "$pki"/*.key "$pki/tokens.csv"

# --- etcd ------------------------------------------------------------------------
free_port etcd_client_port
free_port etcd_peer_port
etcd_endpoint="http://127.0.0.1:$etcd_client_port"
etcd_cmd=(
  "$bin/etcd"
  --name gwl4
  --data-dir "$dir/etcd-data"
  --listen-client-urls "$etcd_endpoint"
  --advertise-client-urls "$etcd_endpoint"
  --listen-peer-urls "http://127.0.0.1:$etcd_peer_port"
  --initial-advertise-peer-urls "http://127.0.0.1:$etcd_peer_port"
  --initial-cluster "gwl4=http://127.0.0.1:$etcd_peer_port"
  --unsafe-no-fsync
  --log-level warn
)
# Recorded so restart.sh can bring the same server back (same ports, data).
declare -p etcd_cmd >"$dir/etcd.cmd"
setsid "${etcd_cmd[@]}" </dev/null >"$dir/etcd.log" 2>&1 &
echo $! >"$dir/etcd.pid"

for _ in $(seq 1 100); do
  kube_alive "$(cat "$dir/etcd.pid")" || fail "etcd exited"
  if curl -sf "$etcd_endpoint/health" 2>/dev/null | grep -q '"health":"true"'; then
    break
  fi
  sleep 0.1
done
curl -sf "$etcd_endpoint/health" 2>/dev/null | grep -q '"health":"true"' || fail "etcd did not become healthy in 10s"

# --- kube-apiserver --------------------------------------------------------------
free_port api_port
server="https://$bind_address:$api_port"
kube_apiserver_cmd=(
  "$bin/kube-apiserver"
  --etcd-servers "$etcd_endpoint"
  --bind-address "$bind_address"
  --advertise-address "$bind_address"
  --endpoint-reconciler-type none
  --secure-port "$api_port"
  --cert-dir "$pki"
  --tls-cert-file "$pki/apiserver.crt"
  --tls-private-key-file "$pki/apiserver.key"
  --client-ca-file "$pki/ca.crt"
  --token-auth-file "$pki/tokens.csv"
  --authorization-mode RBAC
  --service-account-issuer https://kubernetes.default.svc.cluster.local
  --service-account-key-file "$pki/sa.pub"
  --service-account-signing-key-file "$pki/sa.key"
  --service-cluster-ip-range "$service_cidr"
  --kubelet-client-certificate "$pki/kubelet-client.crt"
  --kubelet-client-key "$pki/kubelet-client.key"
  # A kubelet serves at its Node's InternalIP (the node tier's --node-ip);
  # the default tries the Node's host name first, which nothing resolves.
  --kubelet-preferred-address-types InternalIP
  --profiling=false
  --v "${KUBE_APISERVER_V:-1}"
)
declare -p kube_apiserver_cmd >"$dir/kube-apiserver.cmd"
setsid "${kube_apiserver_cmd[@]}" </dev/null >"$dir/kube-apiserver.log" 2>&1 &
echo $! >"$dir/kube-apiserver.pid"

ready=""
for _ in $(seq 1 600); do
  kube_alive "$(cat "$dir/kube-apiserver.pid")" || fail "kube-apiserver exited"
  if [[ "$(curl -s --cacert "$pki/ca.crt" -H "Authorization: Bearer $admin_token" "$server/readyz" 2>/dev/null)" == ok ]]; then
    ready=1
    break
  fi
  sleep 0.1
done
[[ -n "$ready" ]] || fail "kube-apiserver was not ready within 60s"

# --- kubeconfigs and env ---------------------------------------------------------
write_kubeconfig() { # FILE USER TOKEN
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: gwl4
  cluster:
    server: $server
    certificate-authority: $pki/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: gwl4
  context:
    cluster: gwl4
    user: $2
    namespace: default
current-context: gwl4
EOF
  chmod 600 "$1"
}
write_kubeconfig "$dir/kubeconfig" gwl4-admin "$admin_token"
write_kubeconfig "$dir/controller.kubeconfig" gwl4-controller "$controller_token"

# --- kube-controller-manager (optional) -----------------------------------------
if [[ -n "$controllers" ]]; then
  write_kubeconfig "$dir/kube-controller-manager.kubeconfig" gwl4-kube-controller-manager "$kcm_token"
  setsid "$bin/kube-controller-manager" \
    --kubeconfig "$dir/kube-controller-manager.kubeconfig" \
    --controllers "$controllers" \
    --leader-elect=false \
    --secure-port 0 \
    --service-cluster-ip-range "$service_cidr" \
    --profiling=false \
    --v "${KUBE_CONTROLLER_MANAGER_V:-1}" \
    </dev/null >"$dir/kube-controller-manager.log" 2>&1 &
  echo $! >"$dir/kube-controller-manager.pid"
  sleep 1
  kube_alive "$(cat "$dir/kube-controller-manager.pid")" || fail "kube-controller-manager exited"
fi

cat >"$dir/env" <<EOF
KUBE_SERVER=$server
KUBE_CA=$pki/ca.crt
KUBE_ADMIN_TOKEN=$admin_token
KUBE_CONTROLLER_TOKEN=$controller_token
ETCD_ENDPOINT=$etcd_endpoint
ETCD_PID=$(cat "$dir/etcd.pid")
KUBE_APISERVER_PID=$(cat "$dir/kube-apiserver.pid")
KUBE_CONTROLLER_MANAGER_PID=$(cat "$dir/kube-controller-manager.pid" 2>/dev/null || true)
EOF

echo "start.sh: kube-apiserver ready at $server in $((SECONDS - started))s${controllers:+ (kube-controller-manager: $controllers)}; KUBECONFIG=$dir/kubeconfig" >&2
