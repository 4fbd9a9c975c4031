/**
 * Embeddings on the real node (the PostgreSQL 17 image, pgvector 0.8.0), through the operator:
 *   1. a database declaring `vector`: the migration Job makes media.item_embeddings and its
 *      HNSW index (first with ef_construction EF0, so that step 3 is a rebuild);
 *   2. `job seed-data --scale=SCALE` in a Job: 100,000 media items and one 384-dimension vector
 *      each at scale 1 (inserted into the indexed table);
 *   3. spec.embeddings set to pgvector's defaults (m 16, ef_construction 64): the repeatable
 *      migration rebuilds the index CONCURRENTLY on the full table; its time is the migration's
 *      own duration_ms in homeops_migrations.applied;
 *   4. for each hnsw.ef_search asked, a benchmark run (`homeops.io/run: bench`, through
 *      PgBouncer): similar-media-items p50/p95/p99 and recall@10 against the exact answer.
 *   npx node bench/embeddings.ts [scale=1] [iterations=200] [efSearch,...=20,40,100]
 */
import { MERGE_PATCH } from '../src/runtime/client.ts';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, startOperator, waitFor } from './operator.ts';
import { seedJob } from './seedjob.ts';

const SCALE = Number(process.argv[2] ?? 1);
const ITERATIONS = Number(process.argv[3] ?? 200);
const EF_SEARCH = (process.argv[4] ?? '20,40,100').split(',').map(Number);
const EF0 = 48;
const { sh, kubeconfig, client, ns } = await benchCluster('bench-vec');
const image = sh('bash hack/images.sh ref operator');
const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: 18097,
  stdout: 'ignore',
  args: [
    '--service-addresses=cluster-ip',
    `--postgres-image=${sh('bash hack/images.sh ref postgres')}`,
    `--pgbouncer-image=${sh('bash hack/images.sh ref pgbouncer')}`,
    `--operator-image=${image}`,
  ],
});
type Scenario = {
  name: string;
  p50Ms?: number;
  p95Ms: number;
  p99Ms?: number;
  targetMs: number;
  recallAt10?: number;
};
type Db = KubeObject & {
  metadata: { generation?: number };
  status?: {
    conditions?: { type: string; status: string; observedGeneration?: number }[];
    benchmarks?: { job?: string; scenarios?: Scenario[] };
  };
};
const NAME = 'vec';
const get = () => client.get<Db>(Resources.HomeOpsDatabase, ns, NAME);
const applied = (d: Db) =>
  d.status?.conditions?.some(
    (c) =>
      c.type === 'MigrationsApplied' && c.status === 'True' && c.observedGeneration === d.metadata.generation,
  );
const patch = (body: Record<string, unknown>) =>
  client.patch(Resources.HomeOpsDatabase, ns, NAME, body, MERGE_PATCH);
const psql = (sql: string) =>
  sh(
    `eval "$(bash hack/cluster.sh env)"; kubectl exec -n ${ns} ${NAME}-0 -c postgres -- sh -c 'PGPASSWORD=$(cat /etc/homeops/secrets/superuser/password) psql -X -At -h 127.0.0.1 -U postgres -d homeops -c "$0"' "${sql}"`,
  );
const ms = (x: number | undefined) => `${x?.toFixed(1)} ms`;
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

try {
  await client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: NAME, namespace: ns },
    spec: {
      postgres: {
        storage: { size: '20Gi', reclaimPolicy: 'Delete' },
        extensions: ['pg_stat_statements', 'vector'],
      },
      pooler: { instances: 1 },
      embeddings: { efConstruction: EF0 },
      benchmarks: { builtin: true, iterations: ITERATIONS, warmup: 20, concurrency: 1 },
      monitoring: { intervalSeconds: 30 },
    },
  });
  await waitFor(async () => (applied(await get()) ? true : undefined));
  console.log(`[${elapsed()}] database Ready, the builtin and embeddings sets applied by the operator's Job`);
  const { rows, seconds } = await seedJob({
    client,
    sh,
    ns,
    name: NAME,
    image,
    args: [`--scale=${SCALE}`, '--seed=1'],
  });
  console.log(
    `[${elapsed()}] seed-data --scale=${SCALE}: ${seconds.toFixed(0)} s; ${rows['media.item_embeddings']?.toLocaleString('en')} vectors of ${psql('SELECT vector_dims(embedding) FROM media.item_embeddings LIMIT 1')} dimensions inserted into the HNSW index (m 16, ef_construction ${EF0})`,
  );
  await patch({ spec: { embeddings: { efConstruction: 64 } } });
  await waitFor(async () => (applied(await get()) ? true : undefined), 3 * 3600_000);
  const buildMs = psql(
    "SELECT duration_ms FROM homeops_migrations.applied WHERE set_name = 'embeddings' AND version = '0002'",
  );
  const size = psql("SELECT pg_size_pretty(pg_relation_size('media.item_embeddings_hnsw'))");
  const opts = psql(
    "SELECT array_to_string(reloptions, ',') FROM pg_class WHERE oid = 'media.item_embeddings_hnsw'::regclass",
  );
  console.log(
    `[${elapsed()}] index rebuilt by the repeatable migration (${opts}, maintenance_work_mem 256MB, serial, CONCURRENTLY): ${(Number(buildMs) / 1000).toFixed(1)} s, ${size}`,
  );
  console.log('| hnsw.ef_search | p50 | p95 | p99 | recall@10 | target (p95) |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const ef of EF_SEARCH) {
    const before = (await get()).status?.benchmarks?.job;
    await patch({ spec: { embeddings: { efSearch: ef } } });
    await patch({ metadata: { annotations: { 'homeops.io/run': 'bench' } } });
    const done = await waitFor(async () => {
      const d = await get();
      return d.status?.benchmarks?.job && d.status.benchmarks.job !== before ? d : undefined;
    }, 3600_000);
    const s = done.status!.benchmarks!.scenarios!.find((x) => x.name === 'similar-media-items');
    if (!s) throw new Error(`no similar-media-items result: ${JSON.stringify(done.status?.benchmarks)}`);
    console.log(
      `| ${ef} | ${ms(s.p50Ms)} | ${ms(s.p95Ms)} | ${ms(s.p99Ms)} | ${s.recallAt10} | ${s.targetMs} ms |`,
    );
  }
} finally {
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => {});
}
