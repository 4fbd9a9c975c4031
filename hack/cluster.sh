#!/usr/bin/env bash
# The local cluster: a real etcd, kube-apiserver, kube-controller-manager and kube-scheduler,
# built from pinned Go modules (hack/build-tools.sh); a real node (kubelet, containerd with runc,
# CNI, kube-proxy, CoreDNS: hack/node.sh) where ordinary pods run for real; and kwok nodes,
# tainted, that simulate pods for scale runs. With generated certificates, under
# $HOMEOPS_RUN/cluster; every address in 198.18.0.0/15, on this machine.
#
#   hack/cluster.sh up      build (first run only) and start everything; idempotent.
#                           HOMEOPS_REAL_NODE=0 leaves the real node out (kwok nodes only).
#   hack/cluster.sh env     print KUBECONFIG and PATH (with kubectl and helm) as exports
#   hack/cluster.sh down    stop everything and delete the state
#   hack/cluster.sh leftovers  after down: list anything left on the machine (exit 1 if any)
set -euo pipefail
source "$(dirname "$0")/lib.sh"

CL_DIR=$HOMEOPS_RUN/cluster
PKI=$CL_DIR/pki
ETCD_PORT=${HOMEOPS_ETCD_PORT:-52379}
API_PORT=${HOMEOPS_APISERVER_PORT:-56443}
KCM_PORT=${HOMEOPS_KCM_PORT:-50257}
SCHED_PORT=${HOMEOPS_SCHEDULER_PORT:-50259}
KWOK_PORT=${HOMEOPS_KWOK_PORT:-50247}
NODES=${HOMEOPS_KWOK_NODES:-2}
# Client-side QPS of the controller-manager's controllers and the scheduler (upstream defaults:
# 20 and 50). At 1,000 databases each of the StatefulSet, ReplicaSet and endpoint controllers
# ran at its 20 requests/s cap for ten minutes (the audit log, per user): the cluster, not the
# operator, set the pace. Large clusters raise these too.
CP_QPS=${HOMEOPS_CONTROL_PLANE_QPS:-100}
COMPONENTS=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)
REAL_NODE=${HOMEOPS_REAL_NODE:-1}
source "$HACK_DIR/node.sh"

bins() {
  ETCD_BIN=$(tool_dir etcd)/etcd
  KUBE_BIN=$(tool_dir kube)
  KWOK_BIN=$(tool_dir kwok)/kwok
  HELM_BIN=$(tool_dir helm)
  COREDNS_BIN=$(tool_dir coredns)/coredns
}

pid_alive() { [ -f "$CL_DIR/$1.pid" ] && kill -0 "$(cat "$CL_DIR/$1.pid")" 2>/dev/null; }

start() { # start NAME ARGS...: runs a component in the background, logging to NAME.log
  local name=$1; shift
  pid_alive "$name" && return 0
  printf '%q ' "$@" > "$CL_DIR/$name.cmd"   # for `restart NAME`
  setsid "$@" >>"$CL_DIR/$name.log" 2>&1 < /dev/null &
  echo $! > "$CL_DIR/$name.pid"
}

stop_component() { # stop_component NAME [SIGNAL]: SIGTERM (or SIGNAL), then SIGKILL after 10 s
  pid_alive "$1" || { rm -f "$CL_DIR/$1.pid"; return 0; }
  local p; p=$(cat "$CL_DIR/$1.pid")
  kill "-${2:-TERM}" "$p" 2>/dev/null || true
  for _ in $(seq 1 40); do kill -0 "$p" 2>/dev/null || break; sleep 0.25; done
  kill -9 "$p" 2>/dev/null || true
  while kill -0 "$p" 2>/dev/null; do sleep 0.1; done
  rm -f "$CL_DIR/$1.pid"
}

# restart NAME: kills one component (as a crash would) and starts it again with the same command
# line (tests use it to prove that watches survive an API server restart).
restart() {
  local name=$1
  [ -f "$CL_DIR/$name.cmd" ] || die "no component $name"
  stop_component "$name" KILL
  eval "start $name $(cat "$CL_DIR/$name.cmd")"
  [ "$name" = kube-apiserver ] && wait_for kube-apiserver 120 healthy
  log "restarted $name"
}

# ---- certificates ----------------------------------------------------------------------------
cert() { # cert NAME CN [O] [SAN]: a key and a certificate signed by the local CA
  local name=$1 cn=$2 o=${3:-} san=${4:-}
  [ -f "$PKI/$name.crt" ] && return 0
  local subj="/CN=$cn"; [ -n "$o" ] && subj="/O=$o$subj"
  openssl req -new -newkey rsa:2048 -nodes -keyout "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr" 2>/dev/null
  local ext=$PKI/$name.ext
  { echo "basicConstraints=CA:FALSE"; echo "keyUsage=digitalSignature,keyEncipherment"
    if [ -n "$san" ]; then echo "extendedKeyUsage=serverAuth,clientAuth"; echo "subjectAltName=$san"
    else echo "extendedKeyUsage=clientAuth"; fi; } > "$ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 365 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$ext"
}

kubeconfig() { # kubeconfig NAME CERT: a kubeconfig for one component
  cat > "$CL_DIR/$1.kubeconfig" <<KC
apiVersion: v1
kind: Config
clusters:
- name: homeops-local
  cluster:
    server: https://127.0.0.1:$API_PORT
    certificate-authority: $PKI/ca.crt
users:
- name: $2
  user:
    client-certificate: $PKI/$2.crt
    client-key: $PKI/$2.key
contexts:
- name: homeops-local
  context: { cluster: homeops-local, user: $2 }
current-context: homeops-local
KC
}

pki() {
  mkdir -p "$PKI"; chmod 700 "$PKI"
  if [ ! -f "$PKI/ca.crt" ]; then
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$PKI/ca.key" -out "$PKI/ca.crt" -days 365 \
      -subj "/CN=homeops-local-ca" 2>/dev/null
    openssl genrsa -out "$PKI/sa.key" 2048 2>/dev/null
    openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
  fi
  cert apiserver kube-apiserver "" "IP:127.0.0.1,IP:$NODE_IP,IP:$KUBERNETES_SERVICE_IP,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert admin kubernetes-admin system:masters
  cert kube-controller-manager system:kube-controller-manager
  cert kube-scheduler system:kube-scheduler
  cert kwok kwok system:masters
  kubeconfig admin admin
  kubeconfig kube-controller-manager kube-controller-manager
  kubeconfig kube-scheduler kube-scheduler
  kubeconfig kwok kwok
  node_pki
  cp "$CL_DIR/admin.kubeconfig" "$CL_DIR/kubeconfig"
}

# ---- kwok stages: the pinned module's own, passed explicitly (kwok v0.8 needs that) --------
kwok_config() {
  local dir; dir=$(cd "$HACK_DIR/tools/kwok" && go list -m -f '{{.Dir}}' sigs.k8s.io/kwok)
  local stages=(node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml
    pod/general/pod-create.yaml pod/general/pod-init-container-running.yaml
    pod/general/pod-init-container-completed.yaml pod/general/pod-ready.yaml
    pod/general/pod-complete.yaml pod/general/pod-delete.yaml)
  {
    cat <<CFG
apiVersion: config.kwok.x-k8s.io/v1alpha1
kind: KwokConfiguration
options:
  manageAllNodes: false
  manageNodesWithAnnotationSelector: kwok.x-k8s.io/node=fake
  nodeLeaseDurationSeconds: 40
  # kwok applies its documented defaults only to its own generated config: set them here.
  nodeLeaseParallelism: 4
  podPlayStageParallelism: 4
  nodePlayStageParallelism: 4
  podsOnNodeSyncParallelism: 1
  enablePodsOnNodeSyncListPager: true
  enablePodsOnNodeSyncStreamWatch: false
  enableDebuggingHandlers: false
  enableProfilingHandler: false
  enableContentionProfiling: false
  cidr: ${KWOK_NODE_IP}/${KWOK_CIDR#*/}
  nodeIP: $KWOK_NODE_IP
CFG
    for s in "${stages[@]}"; do echo "---"; cat "$dir/kustomize/stage/$s"; done
  } > "$CL_DIR/kwok.yaml"
}

nodes_yaml() {
  for i in $(seq 0 $((NODES - 1))); do cat <<NODE
---
apiVersion: v1
kind: Node
metadata:
  name: kwok-node-$i
  annotations:
    kwok.x-k8s.io/node: fake
    node.alpha.kubernetes.io/ttl: "0"
  labels:
    kubernetes.io/hostname: kwok-node-$i
    kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    type: kwok
spec:
  # Ordinary pods go to the real node; scale runs tolerate this to land on kwok.
  taints: [{ key: kwok.x-k8s.io/node, value: fake, effect: NoSchedule }]
status:
  allocatable: { cpu: "64", memory: 512Gi, pods: "5000" }
  capacity: { cpu: "64", memory: 512Gi, pods: "5000" }
NODE
  done
  cat <<SC
---
# PVCs are provisioned by kube-controller-manager's host-path provisioner, so PVCs bind and
# StatefulSet pods schedule as on a real cluster (no data is written there: pods are simulated).
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: standard
  annotations: { storageclass.kubernetes.io/is-default-class: "true" }
provisioner: kubernetes.io/host-path
reclaimPolicy: Delete
volumeBindingMode: Immediate
SC
}

healthy() {
  curl -sf --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" \
    "https://127.0.0.1:$API_PORT/readyz" >/dev/null
}

up() {
  command -v openssl >/dev/null || die "openssl is missing: hack/dataplane.sh install brings it"
  bash "$HACK_DIR/build-tools.sh" >/dev/null
  bins
  # The control plane's and the real node's ports (node.sh: kubelet -2..+6, DNS +1 health, +2 ready).
  reserve_ports "$ETCD_PORT-$((ETCD_PORT + 1))" "$API_PORT" "$KCM_PORT" "$SCHED_PORT" "$KWOK_PORT" \
    "$((KUBELET_PORT - 2))-$((KUBELET_PORT + 6))" "$DNS_PORT-$((DNS_PORT + 2))"
  mkdir -p "$CL_DIR"
  pki
  kwok_config
  network_up
  cat > "$CL_DIR/audit-policy.yaml" <<'AUDIT'
# Every request at Metadata level: who (user, user agent), what (verb, resource), result.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/readyz*", "/livez*", "/version"]
- level: Metadata
AUDIT
  start etcd "$ETCD_BIN" --name homeops-local --data-dir "$CL_DIR/etcd" \
    --listen-client-urls "http://127.0.0.1:$ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" \
    --listen-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" --initial-advertise-peer-urls "http://127.0.0.1:$((ETCD_PORT + 1))" \
    --initial-cluster "homeops-local=http://127.0.0.1:$((ETCD_PORT + 1))" \
    --quota-backend-bytes 4294967296 --unsafe-no-fsync --log-level warn
  wait_for etcd 60 curl -sf "http://127.0.0.1:$ETCD_PORT/health"

  start kube-apiserver "$KUBE_BIN/kube-apiserver" \
    --etcd-servers "http://127.0.0.1:$ETCD_PORT" \
    --bind-address 0.0.0.0 --advertise-address "$NODE_IP" --secure-port "$API_PORT" \
    --tls-cert-file "$PKI/apiserver.crt" --tls-private-key-file "$PKI/apiserver.key" \
    --client-ca-file "$PKI/ca.crt" \
    --service-account-issuer https://kubernetes.default.svc.cluster.local \
    --service-account-key-file "$PKI/sa.pub" --service-account-signing-key-file "$PKI/sa.key" \
    --service-cluster-ip-range "$SERVICE_CIDR" \
    --authorization-mode RBAC --allow-privileged=true \
    --kubelet-client-certificate "$PKI/apiserver-kubelet-client.crt" \
    --kubelet-client-key "$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority "$PKI/ca.crt" --kubelet-preferred-address-types InternalIP \
    --audit-policy-file "$CL_DIR/audit-policy.yaml" --audit-log-path "$CL_DIR/audit.log" \
    --audit-log-format json --audit-log-maxsize 200 --audit-log-maxbackup 2 \
    --audit-log-mode blocking \
    --v 1
  wait_for kube-apiserver 120 healthy

  start kube-controller-manager "$KUBE_BIN/kube-controller-manager" \
    --kubeconfig "$CL_DIR/kube-controller-manager.kubeconfig" \
    --authentication-kubeconfig "$CL_DIR/kube-controller-manager.kubeconfig" \
    --authorization-kubeconfig "$CL_DIR/kube-controller-manager.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$KCM_PORT" --cert-dir "$CL_DIR/kcm-certs" \
    --service-account-private-key-file "$PKI/sa.key" --root-ca-file "$PKI/ca.crt" \
    --use-service-account-credentials=true --leader-elect=false \
    --enable-hostpath-provisioner=true \
    --concurrent-gc-syncs 5 --node-monitor-grace-period 60s \
    --kube-api-qps "$CP_QPS" --kube-api-burst "$((CP_QPS * 2))" --v 1
  start kube-scheduler "$KUBE_BIN/kube-scheduler" \
    --kubeconfig "$CL_DIR/kube-scheduler.kubeconfig" \
    --authentication-kubeconfig "$CL_DIR/kube-scheduler.kubeconfig" \
    --authorization-kubeconfig "$CL_DIR/kube-scheduler.kubeconfig" \
    --bind-address 127.0.0.1 --secure-port "$SCHED_PORT" --cert-dir "$CL_DIR/scheduler-certs" \
    --kube-api-qps "$CP_QPS" --kube-api-burst "$((CP_QPS * 2))" \
    --leader-elect=false --v 1
  start kwok "$KWOK_BIN" --kubeconfig "$CL_DIR/kwok.kubeconfig" --config "$CL_DIR/kwok.yaml" \
    --server-address "127.0.0.1:$KWOK_PORT"

  local kubectl="$KUBE_BIN/kubectl --kubeconfig $CL_DIR/kubeconfig"
  nodes_yaml | $kubectl apply -f - >/dev/null
  wait_for "kwok nodes Ready" 120 $kubectl wait --for=condition=Ready node -l type=kwok --timeout=2s
  if [ "$REAL_NODE" = 1 ]; then node_up; fi
  wait_for "the default ServiceAccount" 60 $kubectl get serviceaccount default -n default
  log "cluster up: https://127.0.0.1:$API_PORT ($KUBE_VERSION, etcd $ETCD_VERSION, kwok $KWOK_VERSION, $NODES kwok nodes$([ "$REAL_NODE" = 1 ] && echo ", real node $NODE_NAME"))"
  echo "$CL_DIR/kubeconfig"
}

down() {
  [ -d "$CL_DIR" ] || { network_down; return 0; }
  node_down
  for ((i = ${#COMPONENTS[@]} - 1; i >= 0; i--)); do stop_component "${COMPONENTS[$i]}"; done
  rm -rf "$CL_DIR" "$HOSTPATH_PV"
  network_down
  log "cluster down"
}

case "${1:-}" in
  up) up ;;
  env)
    bins
    [ -f "$CL_DIR/kubeconfig" ] || die "the control plane is not up"
    echo "export KUBECONFIG=$CL_DIR/kubeconfig"
    echo "export PATH=$KUBE_BIN:$HELM_BIN:\$PATH"
    echo "export HOMEOPS_APISERVER_AUDIT_LOG=$CL_DIR/audit.log"
    if [ -S "$CTR_SOCK" ]; then echo "export CONTAINERD_ADDRESS=$CTR_SOCK"; fi
    ;;
  down) down ;;
  restart) [ -n "${2:-}" ] || die "usage: $0 restart COMPONENT"; restart "$2" ;;
  leftovers) [ ! -d "$CL_DIR" ] || die "the cluster is up: run $0 down first"; node_leftovers ;;
  compact)
    # Compacts etcd's history up to now, so that watches from older resourceVersions get 410 Gone.
    rev=$(curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/range" -d '{"key":"AA=="}' | sed -E 's/.*"revision":"([0-9]+)".*/\1/')
    curl -sf -X POST "http://127.0.0.1:$ETCD_PORT/v3/kv/compaction" -d "{\"revision\":\"$rev\",\"physical\":true}" >/dev/null
    echo "$rev"
    ;;
  *) echo "usage: $0 up|env|down|leftovers|restart COMPONENT|compact" >&2; exit 2 ;;
esac
