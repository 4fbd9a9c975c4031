#!/usr/bin/env bash
# `npm run demo`: the local default, end to end. Starts the local cluster (control plane, the
# real node and kwok nodes, hack/cluster.sh; the images are built from Debian packages the first
# time), installs the CRDs, runs the operator on this machine, applies the full HomeOpsDatabase
# sample and waits for Ready, then prints what the operator measured on PostgreSQL and PgBouncer
# running in real pods on the real node, beside what psql in the pod reports; then the
# ReplicaSet sample: two streaming replicas with their lag and the read Service.
#
# The operator runs out of the cluster, as in the dev loop: it reaches the Services by their
# ClusterIPs (--service-addresses=cluster-ip, through kube-proxy's rules on this machine), and
# the default images are the local ones (--postgres-image, --pgbouncer-image).
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
eval "$(bash "$HACK_DIR/cluster.sh" env)"

kubectl apply --server-side --force-conflicts --field-manager homeops-demo -f "$REPO_DIR/crds" >/dev/null
kubectl wait --for=condition=Established crd --all --timeout=60s >/dev/null
kubectl create namespace "$NS" --dry-run=client -o yaml | kubectl apply -f - >/dev/null

log "starting the operator (log: $DEMO_DIR/operator.log)"
node "$REPO_DIR/src/main.ts" run --kubeconfig="$kubeconfig" --namespaces="$NS" --leader-elect=false \
  --service-addresses=cluster-ip --postgres-image="$(bash "$HACK_DIR/images.sh" ref postgres)" \
  --pgbouncer-image="$(bash "$HACK_DIR/images.sh" ref pgbouncer)" \
  --redis-image="$(bash "$HACK_DIR/images.sh" ref redis)" \
  --operator-image="$(bash "$HACK_DIR/images.sh" ref operator)" \
  --bind-address=127.0.0.1 --metrics-port=18080 --health-port=18081 \
  >"$DEMO_DIR/operator.log" 2>&1 &
operator=$!
stop_operator() { kill -TERM "$operator" 2>/dev/null && wait "$operator" 2>/dev/null || true; }
trap stop_operator EXIT

wait_for "the operator's /readyz" 60 curl -sf http://127.0.0.1:18081/readyz \
  || { tail -n 30 "$DEMO_DIR/operator.log"; die "the operator did not become ready"; }
kubectl apply --server-side --field-manager homeops-demo -n "$NS" -f "$REPO_DIR/manifests/samples/homeopsdatabase-full.yaml" >/dev/null
# Ready, and measured by this operator process (its own /metrics), not left from an earlier run.
probed() { curl -sf http://127.0.0.1:18080/metrics | grep "^homeops_database_up{namespace=\"$NS\",name=\"$DB\"} 1" >/dev/null; }
if ! kubectl wait --for=condition=Ready "hodb/$DB" -n "$NS" --timeout=300s >/dev/null || ! wait_for "a probe by this operator" 60 probed; then
  kubectl get hodb "$DB" -n "$NS" -o yaml
  kubectl get pods -n "$NS" -o wide
  tail -n 30 "$DEMO_DIR/operator.log"
  die "$DB did not become Ready"
fi

in_pod() { # in_pod SQL: psql as the superuser in the primary's pod
  kubectl exec -n "$NS" "$DB-0" -c postgres -- sh -c \
    'PGPASSWORD=$(cat /etc/homeops/secrets/superuser/password) exec psql -X -At -h /var/run/postgresql -U postgres -d homeops -c "$0"' "$1"
}

echo
echo "== kubectl get homeops -n $NS"; kubectl get homeops -n "$NS"
echo; echo "== pods: real containers on the real node"
kubectl get pods -n "$NS" -o wide
echo; echo "== children"
kubectl get statefulset,deployment,service,pdb,configmap,secret,pvc -n "$NS" -l "homeops.io/database=$DB" 2>/dev/null || true
echo; echo "== status measured by the operator on PostgreSQL 17 and PgBouncer in those pods"
kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status}' | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(json.dumps({k: s[k] for k in ("phase", "observedGeneration", "primary", "pooler", "endpoints") if k in s}, indent=2))
for c in s["conditions"]:
    print("  %-20s %-6s %-22s %s" % (c["type"], c["status"], c["reason"], c["message"]))
'
echo; echo "== the same server, asked by psql inside pod $DB-0"
echo "  version:          $(in_pod 'SELECT version()' | cut -c1-60)"
echo "  max_connections:  $(in_pod 'SHOW max_connections')"
echo "  shared_buffers:   $(in_pod 'SHOW shared_buffers')"
echo "  data directory:   $(in_pod 'SHOW data_directory')"
echo; echo "== extensions (spec.postgres.extensions): status, beside psql in the pod"
echo "  status.extensions:         $(kubectl get hodb "$DB" -n "$NS" -o jsonpath='{range .status.extensions[*]}{.name} {.version}, {end}' | sed 's/, $//')"
echo "  pg_extension:              $(in_pod "SELECT string_agg(extname || ' ' || extversion, ', ' ORDER BY extname) FROM pg_extension")"
echo "  status.timescale:          $(kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status.timescale}')"
echo "  SHOW timescaledb.license:  $(in_pod 'SHOW timescaledb.license')"
echo "  shared_preload_libraries:  $(in_pod 'SHOW shared_preload_libraries')"

# The migrations: a Job in the operator's own image, made once the database was Ready.
if ! kubectl wait --for=condition=MigrationsApplied "hodb/$DB" -n "$NS" --timeout=300s >/dev/null; then
  kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status.conditions}'; echo
  kubectl get jobs,pods -n "$NS" -l homeops.io/job=migrate -o wide
  die "the migrations were not applied"
fi
echo; echo "== migrations: Job $(kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status.migrations.job}') in the operator's image"
kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status.migrations}' | python3 -c 'import json, sys; print(json.dumps(json.load(sys.stdin), indent=2))'
echo "  homeops_migrations.applied in the pod: $(in_pod "SELECT string_agg(set_name || '/' || version || '_' || name, ', ' ORDER BY set_name, version) FROM homeops_migrations.applied")"
echo "  hypertables (timescaledb_information.hypertables in the pod):"
in_pod "SELECT hypertable_schema || '.' || hypertable_name || '  dimensions ' || num_dimensions || ', chunks ' || num_chunks FROM timescaledb_information.hypertables ORDER BY 1" | sed 's/^/    /'

# A benchmark run now (homeops.io/run), by the operator's Job, through PgBouncer.
kubectl annotate hodb "$DB" -n "$NS" homeops.io/run=bench --overwrite >/dev/null
bench_done() { [ -n "$(kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status.benchmarks.job}')" ]; }
if ! wait_for "a benchmark run in status" 240 bench_done; then
  kubectl get jobs,pods -n "$NS" -l homeops.io/job=bench -o wide
  die "the benchmark run did not reach status"
fi
echo; echo "== a benchmark run on demand (homeops.io/run: bench), and the schedules"
kubectl get hodb "$DB" -n "$NS" -o jsonpath='{.status}' | python3 -c '
import json, sys
s = json.load(sys.stdin)
b = s["benchmarks"]
print("  Job %s, baseline %s, passed %s" % (b["job"], b["baseline"]["job"], b["passed"]))
print("  %-22s %-9s %-9s %-9s %-9s %-7s %s" % ("scenario", "p50 ms", "p95 ms", "p99 ms", "target", "ratio", "regression"))
for c in b.get("scenarios", []):
    print("  %-22s %-9s %-9s %-9s %-9s %-7s %s" % (c["name"], c.get("p50Ms"), c["p95Ms"], c.get("p99Ms"), c["targetMs"], c.get("ratio", "-"), c.get("regression", "-")))
print("  %-10s %-28s %-14s %s" % ("schedule", "CronJob", "cron (UTC)", "suspended"))
for x in s.get("schedules", []):
    print("  %-10s %-28s %-14s %s" % (x["name"], x["cronJob"], x["schedule"], x["suspended"]))
'

# Backups (pgBackRest, a volume of the repository's own): the first full backup by itself once
# Ready, status beside pgBackRest's own info; then a point-in-time recovery into a second
# database, checked row by row.
BK=homeops-backed
kubectl apply --server-side --field-manager homeops-demo -n "$NS" -f "$REPO_DIR/manifests/samples/homeopsdatabase-backup.yaml" >/dev/null
if ! kubectl wait --for=condition=BackupSucceeded "hodb/$BK" -n "$NS" --timeout=420s >/dev/null; then
  kubectl get hodb "$BK" -n "$NS" -o yaml
  kubectl get jobs,pods -n "$NS" -o wide
  die "$BK: no first backup"
fi
bk_sql() { # bk_sql DB SQL
  kubectl exec -n "$NS" "$1-0" -c postgres -- sh -c \
    'PGPASSWORD=$(cat /etc/homeops/secrets/superuser/password) exec psql -X -At -v ON_ERROR_STOP=1 -h /var/run/postgresql -U postgres -d homeops -c "$0"' "$2"
}
# 1,000 rows, the time T, 500 more: the restored database must have the 1,000.
bk_sql "$BK" "CREATE TABLE demo_pitr AS SELECT g AS id FROM generate_series(1, 1000) g" >/dev/null
sleep 1.5
T=$(bk_sql "$BK" "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
sleep 1.5
bk_sql "$BK" "INSERT INTO demo_pitr SELECT generate_series(1001, 1500)" >/dev/null
wal=$(bk_sql "$BK" "SELECT pg_walfile_name(pg_switch_wal())")
archived() { [ "$(kubectl get hodb "$BK" -n "$NS" -o jsonpath='{.status.archiving.lastArchivedWal}')" \> "$wal" ] || [ "$(kubectl get hodb "$BK" -n "$NS" -o jsonpath='{.status.archiving.lastArchivedWal}')" = "$wal" ]; }
wait_for "WAL $wal archived" 120 archived || die "WAL $wal was not archived"
echo; echo "== backups: status.backup of $BK, beside pgbackrest info in its pod"
kubectl get hodb "$BK" -n "$NS" -o jsonpath='{.status}' | python3 -c '
import json, sys
s = json.load(sys.stdin)
b = s["backup"]; l = b["lastSuccessful"]
print("  last: %s (%s) %s .. %s, database %s B, in the repository %s B, Job %s" % (l["label"], l["type"], l["startTime"], l["stopTime"], l.get("databaseBytes"), l.get("repositoryBytes"), l.get("job")))
print("  firstRecoverabilityPoint: %s; WAL in the repository %s" % (b.get("firstRecoverabilityPoint"), b.get("walArchived")))
for c in s["conditions"]:
    if c["type"] in ("ContinuousArchiving", "BackupSucceeded"):
        print("  %-20s %-6s %-12s %s" % (c["type"], c["status"], c["reason"], c["message"]))
'
echo "  pgbackrest info in $BK-0: $(kubectl exec -n "$NS" "$BK-0" -c postgres -- pgbackrest --config=/etc/homeops/config/pgbackrest.conf --stanza=db info | grep -E 'full backup|incr backup|diff backup|wal archive min/max' | tr -s ' ' | tr '\n' ';')"
sed "s/time: \"[^\"]*\"/time: \"$T\"/" "$REPO_DIR/manifests/samples/homeopsdatabase-restore.yaml" |
  kubectl apply --server-side --field-manager homeops-demo -n "$NS" -f - >/dev/null
if ! kubectl wait --for=condition=Ready hodb/homeops-restored -n "$NS" --timeout=420s >/dev/null; then
  kubectl get hodb homeops-restored -n "$NS" -o yaml
  kubectl logs -n "$NS" homeops-restored-0 -c postgres --tail=30 || true
  die "homeops-restored did not become Ready"
fi
echo; echo "== point-in-time recovery into homeops-restored (samples/homeopsdatabase-restore.yaml, target $T)"
echo "  status.recovery: $(kubectl get hodb homeops-restored -n "$NS" -o jsonpath='{.status.recovery}')"
echo "  rows in demo_pitr: $BK $(bk_sql "$BK" 'SELECT count(*) FROM demo_pitr'), homeops-restored $(bk_sql homeops-restored 'SELECT count(*) FROM demo_pitr') (the 1,000 written before T)"

RS=homeops-full-read
kubectl apply --server-side --field-manager homeops-demo -n "$NS" -f "$REPO_DIR/manifests/samples/replicaset-full.yaml" >/dev/null
if ! kubectl wait --for=condition=Ready "hors/$RS" -n "$NS" --timeout=300s >/dev/null; then
  kubectl get hors "$RS" -n "$NS" -o yaml
  kubectl get pods -n "$NS" -o wide
  tail -n 30 "$DEMO_DIR/operator.log"
  die "$RS did not become Ready"
fi
echo; echo "== read replicas beside the database (replicasets.homeops.io: kubectl get hors)"
kubectl get hodb,hors -n "$NS"
echo; echo "== the members, as the operator measured them (lag on the primary and on each member)"
kubectl get hors "$RS" -n "$NS" -o jsonpath='{.status}' | python3 -c '
import json, sys
s = json.load(sys.stdin)
print("  read Service: %s -> %s" % (s.get("readEndpoint"), s.get("readServiceTarget")))
print("  %-30s %-6s %-10s %-10s %-10s %s" % ("member", "ready", "state", "lag (s)", "lag (B)", "in -ro"))
for m in s.get("members", []):
    print("  %-30s %-6s %-10s %-10s %-10s %s" % (m["name"], m["ready"], m.get("state"), m.get("lagSeconds", "-"), m.get("lagBytes", "-"), m["inReadService"]))
'
echo "  pg_stat_replication on the primary:"
in_pod "SELECT application_name, state, replay_lsn, (SELECT slot_name FROM pg_replication_slots s WHERE s.active_pid = r.pid) FROM pg_stat_replication r ORDER BY 1" | sed 's/^/    /'

kubectl apply --server-side --field-manager homeops-demo -n "$NS" -f "$REPO_DIR/manifests/samples/cachetier-full.yaml" >/dev/null
if ! kubectl wait --for=condition=Ready ctier/cache-full -n "$NS" --timeout=300s >/dev/null ||
  ! kubectl wait --for=condition=Reconciling=False ctier/cache-full -n "$NS" --timeout=60s >/dev/null; then
  kubectl get ctier cache-full -n "$NS" -o yaml
  tail -n 30 "$DEMO_DIR/operator.log"
  die "the CacheTier did not become Ready"
fi
echo; echo "== a replicated CacheTier: 3 Redis pods, the writer elected by the operator, measured by INFO"
kubectl get ctier -n "$NS"
kubectl get ctier cache-full -n "$NS" -o jsonpath='{.status}' | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(json.dumps({k: s[k] for k in ("endpoint", "readEndpoint", "writer", "authSecret", "memory", "keys", "connectedClients", "persistence") if k in s}, indent=2))
print("  %-20s %-8s %-8s %-10s %s" % ("member", "role", "link up", "lag (B)", "in -ro"))
for m in s.get("members", []):
    print("  %-20s %-8s %-8s %-10s %s" % (m["name"], m["role"], m.get("linkUp", "-"), m.get("lagBytes", "-"), m.get("inReadService", "-")))
'
redis_in_pod() { kubectl exec -n "$NS" "$1" -c redis -- sh -c 'REDISCLI_AUTH=$(cat /etc/homeops/secrets/redis/password) redis-cli "$@"' sh "${@:2}"; }
for i in 0 1 2; do
  echo "  redis-cli in cache-full-redis-$i: $(redis_in_pod cache-full-redis-$i INFO replication | grep -E '^(role|master_link_status|connected_slaves)' | tr -d '\r' | tr '\n' ' ')"
done
echo "  and: $(redis_in_pod cache-full-redis-0 CONFIG GET maxmemory-policy | tr '\n' ' ')/ $(redis_in_pod cache-full-redis-0 INFO persistence | grep -E '^aof_enabled' | tr -d '\r')"
echo "  TTL hierarchy for applications (ConfigMap cache-full-ttl): $(kubectl get configmap cache-full-ttl -n "$NS" -o jsonpath='{.data.ttl\.json}')"

echo; echo "== the operator's /metrics"
curl -s http://127.0.0.1:18080/metrics | grep -E '^homeops_(database|pooler|replica|cache)_' | grep -v dead_tuple | head -40 || true
echo
echo "KUBECONFIG=$kubeconfig  (eval \"\$(hack/cluster.sh env)\" for kubectl)"

if $once; then exit 0; fi
echo "Operator running (log: $DEMO_DIR/operator.log); Ctrl-C stops it. npm run stack:down stops the local stack."
wait "$operator"
