#!/usr/bin/env bash
# For users with Docker: a kind cluster with the operator installed from this checkout.
#   hack/kind.sh up     create the cluster, build the image with the Dockerfile, load it, helm install
#   hack/kind.sh down   delete the cluster
# Needs docker, kind and helm on PATH. NOT RUN on the development machines of this project
# (they have no Docker engine): the same chart and image contract are tested on the local real
# node instead (test/e2e/helm.test.ts). The database images come from Docker Hub and ghcr.io
# (the operator's defaults: postgres:15, cloudnative-pg's pgbouncer, redis:7).
set -euo pipefail
cd "$(dirname "$0")/.."
CLUSTER=${KIND_CLUSTER:-homeops}
IMAGE=homeops-operator:dev
case ${1:-up} in
  up)
    kind get clusters | grep -qx "$CLUSTER" || kind create cluster --name "$CLUSTER"
    docker build -t "$IMAGE" .
    kind load docker-image "$IMAGE" --name "$CLUSTER"
    helm upgrade --install homeops-operator charts/homeops-operator \
      --kube-context "kind-$CLUSTER" --namespace homeops-system --create-namespace \
      --set image.repository=homeops-operator --set image.tag=dev --set image.pullPolicy=Never \
      --wait --timeout 5m
    kubectl --context "kind-$CLUSTER" apply -f manifests/samples/homeopsdatabase-minimal.yaml
    echo "kubectl --context kind-$CLUSTER get homeopsdatabases -w"
    ;;
  down) kind delete cluster --name "$CLUSTER" ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
