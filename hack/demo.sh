#!/usr/bin/env bash
# `npm run demo`: the local default, end to end. Starts the local control plane (kwok nodes)
# and data plane (real PostgreSQL 15, replica, PgBouncer, Redis), installs the CRDs, runs the
# operator, applies the full HomeOpsDatabase sample and waits for Ready, then prints what the
# operator measured on the real local PostgreSQL and PgBouncer.
#
# The pods are simulated by kwok, so the operator is told where the real servers are with an
# endpoint map in its own configuration, and the sample's Secrets are made first from the
# local servers' passwords (the operator adopts existing Secrets and never rewrites them).
#
#   npm run demo              keeps the operator running until Ctrl-C
#   npm run demo -- --once    exits after printing (the local stack stays up: npm run stack:down)
set -euo pipefail
source "$(dirname "$0")/lib.sh"
once=false; [ "${1:-}" = "--once" ] && once=true
NS=homeops-demo
DB=homeops-full
DEMO_DIR=$HOMEOPS_RUN/demo
mkdir -p "$DEMO_DIR"

bash "$HACK_DIR/dataplane.sh" install
kubeconfig=$(bash "$HACK_DIR/cluster.sh" up | tail -n1)
envfile=$(bash "$HACK_DIR/dataplane.sh" up | tail -n1)
eval "$(bash "$HACK_DIR/cluster.sh" env)"
source "$envfile"

kubectl apply --server-side --field-manager homeops-demo -f "$REPO_DIR/crds" >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

secret() { # secret NAME USER PASSWORD
  kubectl create secret generic "$1" -n "$NS" --from-literal=username="$2" --from-literal=password="$3" \
    --dry-run=client -o yaml | kubectl apply --server-side --field-manager homeops-demo -f - >/dev/null
}
secret "$DB-superuser" postgres "$HOMEOPS_PG_SUPERUSER_PASSWORD"
secret "$DB-app" "$HOMEOPS_PG_APP_USER" "$HOMEOPS_PG_APP_PASSWORD"
secret "$DB-replication" "$HOMEOPS_PG_REPLICATION_USER" "$HOMEOPS_PG_REPLICATION_PASSWORD"
secret "$DB-pooler-auth" "$HOMEOPS_PGBOUNCER_AUTH_USER" "$HOMEOPS_PGBOUNCER_AUTH_PASSWORD"

cat > "$DEMO_DIR/endpoint-map.json" <<MAP
{
  "$DB-rw.$NS.svc:5432": "127.0.0.1:$HOMEOPS_PG_PORT",
  "$DB-pooler.$NS.svc:5432": "127.0.0.1:$HOMEOPS_PGBOUNCER_PORT"
}
MAP

log "starting the operator (log: $DEMO_DIR/operator.log)"
node "$REPO_DIR/src/main.ts" run --kubeconfig="$kubeconfig" --namespaces="$NS" --leader-elect=false \
  --endpoint-map="$DEMO_DIR/endpoint-map.json" --bind-address=127.0.0.1 --metrics-port=18080 --health-port=18081 \
  >"$DEMO_DIR/operator.log" 2>&1 &
operator=$!
stop_operator() { kill -TERM "$operator" 2>/dev/null && wait "$operator" 2>/dev/null || true; }
trap stop_operator EXIT

wait_for "the operator's /readyz" 60 curl -sf http://127.0.0.1:18081/readyz \
  || { tail -n 30 "$DEMO_DIR/operator.log"; die "the operator did not become ready"; }
kubectl apply --server-side --field-manager homeops-demo -n "$NS" -f "$REPO_DIR/manifests/samples/homeopsdatabase-full.yaml" >/dev/null
# Ready, and measured by this operator process (its own /metrics), not left from an earlier run.
probed() { curl -sf http://127.0.0.1:18080/metrics | grep -q "^homeops_database_up{namespace=\"$NS\",name=\"$DB\"} 1"; }
if ! kubectl wait --for=condition=Ready "hodb/$DB" -n "$NS" --timeout=180s >/dev/null || ! wait_for "a probe by this operator" 60 probed; then
  kubectl get hodb "$DB" -n "$NS" -o yaml
  tail -n 30 "$DEMO_DIR/operator.log"
  die "$DB did not become Ready"
fi

echo
echo "== kubectl get homeops -n $NS"; kubectl get homeops -n "$NS"
echo; echo "== children (kwok runs the pods; the probes reach the real local servers)"
kubectl get statefulset,deployment,service,pdb,configmap,secret,pvc -n "$NS" -l "homeops.io/database=$DB" 2>/dev/null || true
echo; echo "== status measured on the local PostgreSQL 15 and PgBouncer"
kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status}' | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(json.dumps({k: s[k] for k in ("phase", "observedGeneration", "primary", "pooler", "timescale", "endpoints") if k in s}, indent=2))
for c in s["conditions"]:
    print("  %-20s %-6s %-22s %s" % (c["type"], c["status"], c["reason"], c["message"]))
'
echo; echo "== the same, exactly, from the operator's /metrics"
curl -s http://127.0.0.1:18080/metrics | grep -E '^homeops_(database|pooler)_' | grep -v dead_tuple | head -20 || true
echo
echo "KUBECONFIG=$kubeconfig  (eval \"\$(hack/cluster.sh env)\" for kubectl); data plane: $envfile"

if $once; then exit 0; fi
echo "Operator running (log: $DEMO_DIR/operator.log); Ctrl-C stops it. npm run stack:down stops the local stack."
wait "$operator"
