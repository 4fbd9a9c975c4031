# The real node, sourced by hack/cluster.sh (not run on its own): containerd (Debian's, with
# runc) and CNI (Debian's containernetworking-plugins: bridge, host-local, portmap, loopback),
# kubelet and kube-proxy (iptables mode) from the same pinned k8s.io/kubernetes module as the
# control plane, and CoreDNS from its Go module as the cluster DNS. Pods live on the bridge
# homeops0 in 198.18.0.0/24 with no default route; Services in 198.19.0.0/16. The images come
# from hack/images.sh (no registry: the kubelet never pulls).
#
# Everything the node changes on the machine is undone by node_down: processes (kubelet,
# kube-proxy, containerd, its shims and every container), mounts, network namespaces, the
# bridge, the iptables chains of kube-proxy, the kubelet and CNI, the kubepods cgroups, the
# sysctls the kubelet, CNI and the harness set, and the folders the kubelet writes outside its
# root (/var/lib/kubelet, /var/log/pods, /var/log/containers) and the PV folders of the
# controller-manager's host-path provisioner (/tmp/hostpath_pv).

NODE_DIR=$CL_DIR/node
CTR_SOCK=$NODE_DIR/containerd/containerd.sock
KUBELET_PORT=${HOMEOPS_KUBELET_PORT:-50250}
DNS_PORT=${HOMEOPS_DNS_PORT:-50053}
# Sysctls that the kubelet (kernel tunables), the bridge plugin (ip_forward) and the harness
# (bridge netfilter) change: saved at `up`, put back at `down`.
NODE_SYSCTLS=(net.ipv4.ip_forward net.bridge.bridge-nf-call-iptables net.ipv4.conf.all.route_localnet
  vm.overcommit_memory vm.panic_on_oom kernel.panic kernel.panic_on_oops kernel.keys.root_maxkeys
  kernel.keys.root_maxbytes)
SYSCTL_SAVE=$HOMEOPS_RUN/node-sysctls.saved
NODE_CHAIN=HOMEOPS-FORWARD
HOSTPATH_PV=/tmp/hostpath_pv

node_pki() {
  cert kubelet "system:node:$NODE_NAME" system:nodes "IP:$NODE_IP,DNS:$NODE_NAME"
  cert kube-proxy system:kube-proxy
  cert coredns homeops:coredns
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters
  kubeconfig kubelet kubelet
  kubeconfig kube-proxy kube-proxy
  kubeconfig coredns coredns
}

# ---- the machine's side: bridge, a route that keeps the range on the machine, forwarding ----
network_up() {
  if [ ! -f "$SYSCTL_SAVE" ]; then
    for s in "${NODE_SYSCTLS[@]}"; do
      v=$(sysctl -n "$s" 2>/dev/null) && printf '%s=%s\n' "$s" "$v"
    done > "$SYSCTL_SAVE"
    # The values before the very first `up` of this run folder, for `leftovers` to compare with.
    [ -f "$HOMEOPS_RUN/node-sysctls.original" ] || cp "$SYSCTL_SAVE" "$HOMEOPS_RUN/node-sysctls.original"
  fi
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 || ip link add "$NODE_BRIDGE" type bridge
  # grep without -q reads all of its input: with -q it may exit first, and under pipefail the
  # writer's SIGPIPE would fail the test (seen once in CI: "Address already assigned").
  ip addr show dev "$NODE_BRIDGE" | grep "inet $NODE_IP/" >/dev/null || ip addr add "$NODE_IP/24" dev "$NODE_BRIDGE"
  ip link set "$NODE_BRIDGE" up
  # Any address of the test range that is not on the bridge (kwok's simulated pods, Service IPs
  # with no rule) is unreachable here, never sent to the default route.
  ip route replace unreachable "$TEST_NET"
  # ClusterIPs are routed to the bridge, so this machine's own connections to them (the operator
  # out of the cluster, tests) pass the route lookup and reach kube-proxy's NAT rules.
  ip route replace "$SERVICE_CIDR" dev "$NODE_BRIDGE" src "$NODE_IP"
  # Pods may talk to each other and to this machine, never forward anywhere else. In mangle, so
  # the rule comes before whatever kube-proxy inserts into filter FORWARD.
  iptables -t mangle -N "$NODE_CHAIN" 2>/dev/null || iptables -t mangle -F "$NODE_CHAIN"
  iptables -t mangle -A "$NODE_CHAIN" -i "$NODE_BRIDGE" ! -o "$NODE_BRIDGE" -j DROP
  iptables -t mangle -A "$NODE_CHAIN" -s "$TEST_NET" ! -o "$NODE_BRIDGE" -j DROP
  iptables -t mangle -C FORWARD -j "$NODE_CHAIN" 2>/dev/null || iptables -t mangle -I FORWARD -j "$NODE_CHAIN"
  # Service traffic between two pods on the bridge goes through kube-proxy's NAT rules.
  sysctl -qw net.bridge.bridge-nf-call-iptables=1
}

network_down() {
  local -; set +e +o pipefail # best effort: undo whatever is there
  ip route del unreachable "$TEST_NET" 2>/dev/null || true
  ip route del "$SERVICE_CIDR" 2>/dev/null || true
  ip link del "$NODE_BRIDGE" 2>/dev/null || true
  for cmd in iptables ip6tables; do
    command -v $cmd >/dev/null || continue
    for t in filter nat mangle raw; do
      # Jumps from the built-in chains first, then the chains themselves.
      $cmd -t $t -S 2>/dev/null | grep -E -- '^-A (INPUT|OUTPUT|FORWARD|PREROUTING|POSTROUTING) .*-j (KUBE-|CNI-|HOMEOPS-)' |
        while read -r rule; do eval "$cmd -t $t ${rule/-A/-D}" 2>/dev/null || true; done
      local chains; chains=$($cmd -t $t -S 2>/dev/null | awk '/^-N (KUBE-|CNI-|HOMEOPS-)/{print $2}')
      for c in $chains; do $cmd -t $t -F "$c" 2>/dev/null || true; done
      for c in $chains; do $cmd -t $t -X "$c" 2>/dev/null || true; done
    done
  done
  if [ -f "$SYSCTL_SAVE" ]; then
    while IFS== read -r k v; do sysctl -qw "$k=$v" 2>/dev/null || true; done < "$SYSCTL_SAVE"
    rm -f "$SYSCTL_SAVE"
  fi
}

# ---- configuration files ---------------------------------------------------------------------
# put FILE: writes stdin to FILE only when it differs, so that `up` on a running node leaves the
# files alone (kube-proxy exits when its configuration file is written).
put() {
  local tmp; tmp=$(mktemp)
  cat > "$tmp"
  if cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv "$tmp" "$1"; fi
}

node_config() {
  mkdir -p "$NODE_DIR/cni/net.d" "$NODE_DIR/containerd" "$NODE_DIR/kubelet" "$NODE_DIR/pod-logs"
  put "$NODE_DIR/cni/net.d/10-homeops.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "homeops",
  "plugins": [
    {
      "type": "bridge", "bridge": "$NODE_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "ranges": [[{ "subnet": "$POD_CIDR", "rangeStart": "${NODE_IP%.*}.10", "gateway": "$NODE_IP" }]],
        "routes": [{ "dst": "$SERVICE_CIDR" }, { "dst": "$HOST_SERVICES_CIDR" }],
        "dataDir": "$NODE_DIR/cni/ipam"
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
JSON
  put "$NODE_DIR/containerd.toml" <<TOML
version = 2
root = "$NODE_DIR/containerd/root"
state = "$NODE_DIR/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]
[grpc]
  address = "$CTR_SOCK"
[ttrpc]
  address = "$CTR_SOCK.ttrpc"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$(bash "$HACK_DIR/images.sh" ref pause)"
  # This VM withholds CAP_SYS_RESOURCE: without this runc fails every sandbox while lowering
  # oom_score_adj ("can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$NODE_DIR/cni/net.d"
TOML
  # Pods get the cluster DNS only; never the machine's resolvers.
  echo "nameserver $DNS_SERVICE_IP" | put "$NODE_DIR/resolv.conf"
  put "$NODE_DIR/kubelet.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: $((KUBELET_PORT - 2))
tlsCertFile: $PKI/kubelet.crt
tlsPrivateKeyFile: $PKI/kubelet.key
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: $PKI/ca.crt }
authorization: { mode: Webhook }
containerRuntimeEndpoint: unix://$CTR_SOCK
cgroupDriver: cgroupfs
# This machine has cgroup v1 only; kubelet 1.35 refuses to start on it unless told.
failCgroupV1: false
failSwapOn: false
clusterDNS: [$DNS_SERVICE_IP]
clusterDomain: cluster.local
resolvConf: $NODE_DIR/resolv.conf
podLogsDir: $NODE_DIR/pod-logs
# There is no registry: an image the kubelet deleted could never come back.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: { memory.available: 100Mi, nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
serializeImagePulls: false
maxPods: 110
YAML
}

binding() { # binding NAME CLUSTERROLE SUBJECT-KIND SUBJECT-NAME
  cat <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: { name: "$1" }
roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "$2" }
subjects: [{ apiGroup: rbac.authorization.k8s.io, kind: $3, name: "$4" }]
---
YAML
}

node_rbac() {
  binding homeops:node system:node Group system:nodes
  binding homeops:kube-proxy system:node-proxier User system:kube-proxy
  binding homeops:coredns homeops:coredns User homeops:coredns
  cat <<YAML
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: { name: "homeops:coredns" }
rules:
- { apiGroups: [""], resources: [services, namespaces, pods], verbs: [list, watch] }
- { apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch] }
---
# CoreDNS runs on the machine (not in a pod); the Service reaches it on the bridge address.
apiVersion: v1
kind: Service
metadata: { name: kube-dns, namespace: kube-system, labels: { k8s-app: kube-dns } }
spec:
  clusterIP: $DNS_SERVICE_IP
  ports:
  - { name: dns, port: 53, protocol: UDP, targetPort: $DNS_PORT }
  - { name: dns-tcp, port: 53, protocol: TCP, targetPort: $DNS_PORT }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: kube-dns-host
  namespace: kube-system
  labels: { kubernetes.io/service-name: kube-dns, endpointslice.kubernetes.io/managed-by: homeops-harness }
addressType: IPv4
endpoints: [{ addresses: ["$NODE_IP"], conditions: { ready: true } }]
ports:
- { name: dns, port: $DNS_PORT, protocol: UDP }
- { name: dns-tcp, port: $DNS_PORT, protocol: TCP }
YAML
}

# ---- start and stop --------------------------------------------------------------------------
# The controller-manager's host-path provisioner makes each PV folder root-owned with mode 0750,
# which no non-root pod can write. A real cluster's provisioner (local-path, a CSI driver) hands
# out writable volumes; this watcher does the same for the harness by opening each new PV folder
# (mode 0777, as local-path-provisioner makes them) the moment it appears.
pv_permissions() {
  mkdir -p "$HOSTPATH_PV"
  chmod 0755 "$HOSTPATH_PV"
  start pv-permissions bash -c "inotifywait -q -m -e create,moved_to --format '%w%f' '$HOSTPATH_PV' | while read -r d; do [ -d \"\$d\" ] && chmod 0777 \"\$d\"; done"
}

node_up() {
  command -v containerd >/dev/null && command -v runc >/dev/null && [ -x /usr/lib/cni/bridge ] &&
    command -v iptables >/dev/null && command -v inotifywait >/dev/null ||
    die "the real node needs Debian's containerd, runc, containernetworking-plugins, iptables and inotify-tools: hack/dataplane.sh install brings them"
  node_pki
  node_config
  pv_permissions
  start containerd containerd --config "$NODE_DIR/containerd.toml" --log-level warn
  wait_for containerd 60 ctr -a "$CTR_SOCK" version
  bash "$HACK_DIR/images.sh" import "$CTR_SOCK" >&2

  local kubectl="$KUBE_BIN/kubectl --kubeconfig $CL_DIR/kubeconfig"
  node_rbac | $kubectl apply --server-side --field-manager homeops-harness -f - >/dev/null
  put "$NODE_DIR/Corefile" <<COREFILE
.:$DNS_PORT {
    bind $NODE_IP 127.0.0.1
    errors
    health 127.0.0.1:$((DNS_PORT + 1))
    ready 127.0.0.1:$((DNS_PORT + 2))
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig $CL_DIR/coredns.kubeconfig homeops-local
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loadbalance
}
COREFILE
  start coredns "$COREDNS_BIN" -conf "$NODE_DIR/Corefile"

  start kubelet "$KUBE_BIN/kubelet" --config "$NODE_DIR/kubelet.yaml" \
    --kubeconfig "$CL_DIR/kubelet.kubeconfig" --hostname-override "$NODE_NAME" --node-ip "$NODE_IP" \
    --root-dir "$NODE_DIR/kubelet" --cert-dir "$NODE_DIR/kubelet/pki" --node-labels type=real --v 1
  put "$NODE_DIR/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: { kubeconfig: $CL_DIR/kube-proxy.kubeconfig }
hostnameOverride: $NODE_NAME
mode: iptables
clusterCIDR: $TEST_NET
healthzBindAddress: 127.0.0.1:$((KUBELET_PORT + 6))
metricsBindAddress: 127.0.0.1:$((KUBELET_PORT - 1))
nodePortAddresses: ["$NODE_IP/32"]
iptables: { localhostNodePorts: false, minSyncPeriod: 0s, syncPeriod: 30s }
# Zero: leave the machine's conntrack settings as they are.
conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s }
YAML
  start kube-proxy "$KUBE_BIN/kube-proxy" --config "$NODE_DIR/kube-proxy.yaml" --v 1
  wait_for "node $NODE_NAME Ready" 180 $kubectl wait --for=condition=Ready "node/$NODE_NAME" --timeout=2s
  # CoreDNS is ready once its kubernetes plugin has listed the API: on a loaded 2-core machine
  # (CI's down/up right after the demo) that once took over 60 s.
  wait_for "cluster DNS" 180 curl -sf "http://127.0.0.1:$((DNS_PORT + 2))/ready" ||
    { tail -n 20 "$CL_DIR/coredns.log" >&2; die "cluster DNS did not become ready"; }
}

# kill_cgroup_tree NAME: SIGKILL every process in the cgroup NAME of every hierarchy, then
# remove the cgroups (deepest first).
kill_cgroup_tree() {
  local -; set +e +o pipefail
  local name=$1 h pids
  for _ in 1 2 3 4 5; do
    pids=$(cat /sys/fs/cgroup/*/"$name"/cgroup.procs /sys/fs/cgroup/*/"$name"/*/cgroup.procs \
      /sys/fs/cgroup/*/"$name"/*/*/cgroup.procs /sys/fs/cgroup/*/"$name"/*/*/*/cgroup.procs 2>/dev/null | sort -u || true)
    [ -n "$pids" ] || break
    kill -9 $pids 2>/dev/null || true
    sleep 0.3
  done
  for h in /sys/fs/cgroup/*/; do
    [ -d "$h$name" ] && find "$h$name" -depth -type d -exec rmdir {} \; 2>/dev/null
  done
  return 0
}

node_down() {
  local -; set +e +o pipefail # best effort: undo whatever is there
  stop_component kube-proxy
  stop_component kubelet
  # Every container's processes, then containerd and its shims (which outlive containerd).
  kill_cgroup_tree kubepods
  stop_component containerd
  pkill -9 -f "containerd-shim-runc-v2 .*-address $CTR_SOCK" 2>/dev/null || true
  for _ in $(seq 1 20); do pgrep -f "containerd-shim-runc-v2 .*-address $CTR_SOCK" >/dev/null || break; sleep 0.25; done
  stop_component coredns
  stop_component pv-permissions
  pkill -f "inotifywait -q -m -e create,moved_to --format %w%f $HOSTPATH_PV" 2>/dev/null || true
  # Mounts: container root filesystems, pod volumes (tmpfs), network namespaces.
  local m
  for _ in 1 2 3; do
    m=$(awk '{print $2}' /proc/self/mounts | grep -E "^($NODE_DIR|/run/containerd|/var/lib/kubelet|/run/netns/cni-|/var/run/netns/cni-)" | sort -r || true)
    [ -n "$m" ] || break
    for p in $m; do umount "$p" 2>/dev/null || umount -l "$p" 2>/dev/null || true; done
  done
  for ns in $(ip netns list 2>/dev/null | awk '/^cni-/{print $1}'); do ip netns delete "$ns" 2>/dev/null || true; done
  ip link show type veth 2>/dev/null | awk -F'[ :@]+' '/master '"$NODE_BRIDGE"'/{print $2}' |
    while read -r v; do ip link del "$v" 2>/dev/null || true; done
  rm -rf /var/lib/kubelet /var/log/pods /var/log/containers /run/containerd /var/lib/cni/networks/homeops
  # The controller-manager's host-path provisioner may still be writing here: down() removes it
  # again once the controller-manager has stopped.
  rm -rf "$HOSTPATH_PV" 2>/dev/null || true
}

# node_leftovers: prints whatever the cluster left on the machine, one line each; fails if any.
# Checked: processes (every component, the shims, anything in a kubepods cgroup), mounts under
# the cluster's folders and containerd's and the kubelet's, CNI network namespaces, the bridge and
# veths, iptables/ip6tables chains of kube-proxy, the kubelet, CNI and the harness, the routes of
# the test range, the kubelet's folders outside its root, the host-path PV folders, and the
# sysctls the node changes (against the values saved before the first `up`, when known).
node_leftovers() {
  local -; set +e +o pipefail
  local out=()
  local procs; procs=$(pgrep -fa "$HOMEOPS_RUN/cluster|containerd-shim-runc-v2|/kubelet |kube-proxy|coredns -conf|inotifywait -q -m -e create,moved_to" | grep -v pgrep)
  [ -n "$procs" ] && out+=("processes: $(echo "$procs" | cut -c1-120 | tr '\n' ';')")
  local cg; cg=$(ls -d /sys/fs/cgroup/*/kubepods 2>/dev/null)
  [ -n "$cg" ] && out+=("cgroups: $(echo $cg)")
  local m; m=$(awk '{print $2}' /proc/self/mounts | grep -E "^($HOMEOPS_RUN/cluster|/run/containerd|/var/lib/kubelet|/run/netns/cni-|/var/run/netns/cni-)")
  [ -n "$m" ] && out+=("mounts: $(echo $m)")
  local nsl; nsl=$(ip netns list 2>/dev/null | awk '/^cni-/{print $1}')
  [ -n "$nsl" ] && out+=("network namespaces: $(echo $nsl)")
  ip link show "$NODE_BRIDGE" >/dev/null 2>&1 && out+=("bridge: $NODE_BRIDGE")
  local veth; veth=$(ip -o link show type veth 2>/dev/null | grep -c "master $NODE_BRIDGE")
  [ "${veth:-0}" != 0 ] && out+=("veths on $NODE_BRIDGE: $veth")
  local chains
  chains=$( { iptables-save 2>/dev/null; ip6tables-save 2>/dev/null; } | grep -E '^[:-].*(KUBE-|CNI-|HOMEOPS-)' | wc -l)
  [ "$chains" != 0 ] && out+=("iptables lines naming KUBE-/CNI-/HOMEOPS-: $chains")
  local routes; routes=$(ip route show | grep -E "^(unreachable )?(198\.18\.|198\.19\.)")
  [ -n "$routes" ] && out+=("routes: $(echo $routes)")
  for d in /var/lib/kubelet /var/log/pods /var/log/containers /run/containerd "$HOSTPATH_PV" /var/lib/cni/networks/homeops; do
    [ -e "$d" ] && out+=("folder: $d")
  done
  if [ -f "$HOMEOPS_RUN/node-sysctls.original" ]; then
    while IFS== read -r k v; do
      [ "$(sysctl -n "$k" 2>/dev/null)" = "$v" ] || out+=("sysctl $k=$(sysctl -n "$k") (was $v)")
    done < "$HOMEOPS_RUN/node-sysctls.original"
  fi
  [ ${#out[@]} -eq 0 ] && { echo "nothing left behind"; return 0; }
  printf 'left behind: %s\n' "${out[@]}"
  return 1
}
