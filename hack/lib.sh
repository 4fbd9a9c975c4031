# Shared settings for the hack/ scripts. Source it; do not run it.
# Everything built or started lives outside the repository, under HOMEOPS_CACHE
# (builds, kept between runs) and HOMEOPS_RUN (live state, thrown away by `down`).

HACK_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$HACK_DIR/.." && pwd)
HOMEOPS_CACHE=${HOMEOPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/homeops-operator}
HOMEOPS_RUN=${HOMEOPS_RUN:-${TMPDIR:-/tmp}/homeops-operator}

# Pinned versions. The Go modules under hack/tools/* pin the same versions with go.sum.
KUBE_VERSION=v1.35.4
ETCD_VERSION=v3.6.16
KWOK_VERSION=v0.8.0
HELM_VERSION=v3.22.0
# The Prometheus Operator's CRDs (ServiceMonitor, PrometheusRule), from its Go module's example/.
PROMETHEUS_OPERATOR_VERSION=v0.85.0

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# tool_dir NAME: the cache folder for one tool's binaries, keyed by the hash of the
# files that pin it, so a version bump builds anew and an unchanged pin is reused.
tool_dir() {
  local name=$1 key
  key=$(cat "$HACK_DIR/tools/$name"/go.mod "$HACK_DIR/tools/$name"/go.sum "$HACK_DIR/tools/$name"/*.go | sha256sum | cut -c1-12)
  echo "$HOMEOPS_CACHE/bin/$name-$key"
}

# reserve_ports PORT|FROM-TO...: keeps the stack's listening ports out of the kernel's ephemeral
# range (32768-60999 here, where they all are): a client connection given one of them as its
# local port makes the server's later bind fail ("address already in use": CoreDNS's health
# port 50054 once, in CI). Needs root; without it, nothing changes.
reserve_ports() {
  local f=/proc/sys/net/ipv4/ip_local_reserved_ports cur want
  [ -w "$f" ] || return 0
  cur=$(cat "$f")
  want=$(IFS=,; echo "$*")
  echo "${cur:+$cur,}$want" > "$f" 2>/dev/null || true
}

# wait_for DESCRIPTION SECONDS COMMAND...: retries COMMAND every half second.
wait_for() {
  local what=$1 secs=$2; shift 2
  local deadline=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || { log "timed out after ${secs}s waiting for $what"; return 1; }
    sleep 0.5
  done
}

# Addresses: everything lives in 198.18.0.0/15 (reserved for network tests) and on this machine.
# The real node's pods are on a bridge of their own; kwok's simulated pods get addresses that
# route nowhere; Services take the upper half. Nothing in the range is routed off the machine.
TEST_NET=198.18.0.0/15
NODE_NAME=homeops-node
NODE_BRIDGE=homeops0
NODE_IP=198.18.0.1
POD_CIDR=198.18.0.0/24
KWOK_CIDR=198.18.128.0/17
KWOK_NODE_IP=198.18.128.1
SERVICE_CIDR=198.19.0.0/16
KUBERNETES_SERVICE_IP=198.19.0.1
DNS_SERVICE_IP=198.19.0.10
# Servers the harness runs on this machine for the pods (the S3 store of hack/s3.sh): addresses
# of lo, routed to from the pods through the bridge (the CNI config gives them this route; pods
# have no default route).
HOST_SERVICES_CIDR=198.18.1.0/24
S3_IP=198.18.1.1
