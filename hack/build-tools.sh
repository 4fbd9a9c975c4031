#!/usr/bin/env bash
# Builds the pinned binaries (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl,
# kubelet, kube-proxy, etcd, kwok, helm, coredns, promtool, the GitOps health checker, and SeaweedFS's
# weed, the S3 server of hack/s3.sh) from their Go modules into the cache.
# A tool whose pin did not change is not rebuilt. Prints the bin folders as KEY=path.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

build() {
  local name=$1 ldflags=$2; shift 2
  local out; out=$(tool_dir "$name")
  if [ -f "$out/.complete" ]; then return 0; fi
  log "building $name into $out (first run only)"
  local start=$SECONDS
  rm -rf "$out.tmp" && mkdir -p "$out.tmp"
  (cd "$HACK_DIR/tools/$name" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" -o "$out.tmp/" "$@")
  rm -rf "$out" && mv "$out.tmp" "$out" && touch "$out/.complete"
  log "built $name in $((SECONDS - start))s"
}

kube_minor=${KUBE_VERSION#v1.}; kube_minor=${kube_minor%%.*}
kube_ldflags="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$kube_minor -X k8s.io/component-base/version.gitTreeState=clean -X k8s.io/client-go/pkg/version.gitVersion=$KUBE_VERSION -X k8s.io/client-go/pkg/version.gitMajor=1 -X k8s.io/client-go/pkg/version.gitMinor=$kube_minor"

only=${1:-all}
[[ $only == all || $only == etcd ]] && build etcd "" .
[[ $only == all || $only == kube ]] && build kube "$kube_ldflags" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl \
  k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kube-proxy
[[ $only == all || $only == kwok ]] && build kwok "-X sigs.k8s.io/kwok/pkg/consts.Version=$KWOK_VERSION" sigs.k8s.io/kwok/cmd/kwok
[[ $only == all || $only == coredns ]] && build coredns "" .
[[ $only == all || $only == helm ]] && build helm "-X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" helm.sh/helm/v3/cmd/helm
[[ $only == all || $only == promtool ]] && build promtool "" github.com/prometheus/prometheus/cmd/promtool
[[ $only == all || $only == health ]] && build health "" .
[[ $only == all || $only == seaweedfs ]] && build seaweedfs "" github.com/seaweedfs/seaweedfs/weed
for t in etcd kube kwok coredns helm promtool health seaweedfs; do echo "$t=$(tool_dir $t)"; done
# The Prometheus Operator's CRDs, to check the chart's ServiceMonitor and PrometheusRule on the
# API server: its module from the Go module proxy (Go's module cache keeps it), nothing built.
if [[ $only == all || $only == promcrds ]]; then
  dir=$(cd /tmp && go mod download -json "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION" | sed -nE 's/^\t"Dir": "(.*)",?$/\1/p')
  [ -n "$dir" ] || die "could not download the Prometheus Operator module $PROMETHEUS_OPERATOR_VERSION"
  echo "promcrds=$dir/example/prometheus-operator-crd"
fi
