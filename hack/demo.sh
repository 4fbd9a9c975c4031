#!/usr/bin/env bash
# `npm run demo`: the local default, end to end as far as the project goes today. Starts the
# local control plane and data plane, installs the CRDs, applies the full samples, and shows
# what the cluster and the databases report. `--once` exits after printing; otherwise it keeps
# the stack up until Ctrl-C, then stops it.
#
# The operator's reconcile loop is not written yet (issues: runtime, HomeOpsDatabase
# controller), so the resources are accepted and defaulted by the API server but no
# controller acts on them yet; this script says so instead of waiting for a Ready that
# cannot come.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
once=false; [ "${1:-}" = "--once" ] && once=true

bash "$HACK_DIR/dataplane.sh" install
kubeconfig=$(bash "$HACK_DIR/cluster.sh" up | tail -n1)
envfile=$(bash "$HACK_DIR/dataplane.sh" up | tail -n1)
eval "$(bash "$HACK_DIR/cluster.sh" env)"
source "$envfile"

kubectl apply --server-side --field-manager homeops-demo -f "$REPO_DIR/crds" >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
kubectl create namespace homeops-demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl apply --server-side --field-manager homeops-demo -n homeops-demo -f "$REPO_DIR/manifests/samples" >/dev/null

echo
echo "== kubectl get nodes"; kubectl get nodes
echo; echo "== kubectl get homeops -n homeops-demo"; kubectl get homeops -n homeops-demo
echo; echo "== the defaulted pooler settings the API server stored (kubectl get hodb homeops -o jsonpath)"
kubectl get hodb homeops -n homeops-demo -o jsonpath='{.spec.pooler}'; echo
echo; echo "== the local data plane"
PGPASSWORD=$HOMEOPS_PG_SUPERUSER_PASSWORD psql -X -h 127.0.0.1 -p "$HOMEOPS_PG_PORT" -U postgres -d postgres -c \
  "SELECT application_name, state, replay_lag FROM pg_stat_replication"
PGPASSWORD=$HOMEOPS_PGBOUNCER_AUTH_PASSWORD psql -X -h 127.0.0.1 -p "$HOMEOPS_PGBOUNCER_PORT" -U pgbouncer_auth -d pgbouncer -c "SHOW POOLS" \
  | cut -c1-120
redis-cli -p "$HOMEOPS_REDIS_PORT" -a "$HOMEOPS_REDIS_PASSWORD" --no-auth-warning info memory | grep -E '^(used_memory_human|maxmemory_human|maxmemory_policy):'
echo
echo "No operator reconciles these resources yet: the controllers are the next issues."
echo "KUBECONFIG=$kubeconfig    data plane settings: $envfile"

if $once; then exit 0; fi
trap 'bash "$HACK_DIR/dataplane.sh" down; bash "$HACK_DIR/cluster.sh" down; exit 0' INT TERM
echo "Running; Ctrl-C stops the local stack."
while sleep 3600; do :; done
