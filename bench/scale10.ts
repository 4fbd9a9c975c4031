/**
 * The guide's four scenarios at scale SCALE (10: about 35 M rows), run by the operator's own
 * benchmark Job on the real node, through PgBouncer, as `homeops.io/run: bench` asks:
 *   1. a database (PostgreSQL 15 and PgBouncer in pods), its migrations applied by the Job;
 *   2. `job seed-data --scale=SCALE` in the operator's image, in a Job against the primary
 *      (built with the controller's own jobSpec);
 *   3. the annotation, then the run's p50/p95/p99 per scenario from status.benchmarks.
 *   npx node bench/scale10.ts [scale=10] [iterations=100]
 */
import { homeOpsDatabase } from '../src/api/v1alpha1/index.ts';
import { jobSpec } from '../src/controllers/dbjobs/builders.ts';
import type { JobKind } from '../src/controllers/dbjobs/names.ts';
import { MERGE_PATCH } from '../src/runtime/client.ts';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, startOperator, waitFor } from './operator.ts';

const SCALE = Number(process.argv[2] ?? 10);
const ITERATIONS = Number(process.argv[3] ?? 100);
const { sh, kubeconfig, client, ns } = await benchCluster('bench-scale');
const image = sh('bash hack/images.sh ref operator');
const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: 18099,
  stdout: 'ignore',
  args: [
    '--service-addresses=cluster-ip',
    `--postgres-image=${sh('bash hack/images.sh ref postgres')}`,
    `--pgbouncer-image=${sh('bash hack/images.sh ref pgbouncer')}`,
    `--operator-image=${image}`,
  ],
});
type Db = KubeObject & {
  status?: {
    conditions?: { type: string; status: string }[];
    benchmarks?: {
      job?: string;
      scenarios?: {
        name: string;
        p50Ms?: number;
        p95Ms: number;
        p99Ms?: number;
        targetMs: number;
        passed: boolean;
      }[];
    };
  };
};
const NAME = 'big';
const get = () => client.get<Db>(Resources.HomeOpsDatabase, ns, NAME);
const isTrue = (d: Db, type: string) =>
  d.status?.conditions?.some((c) => c.type === type && c.status === 'True');
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

try {
  await client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: NAME, namespace: ns },
    spec: {
      postgres: { storage: { size: '60Gi', reclaimPolicy: 'Delete' } },
      pooler: { instances: 1 },
      benchmarks: { builtin: true, iterations: ITERATIONS, warmup: 10, concurrency: 1 },
      monitoring: { intervalSeconds: 30 },
    },
  });
  await waitFor(async () => (isTrue(await get(), 'MigrationsApplied') ? true : undefined));
  console.log(`[${elapsed()}] database Ready, migrations applied by the operator's Job`);
  const db = homeOpsDatabase.parse(await get());
  db.metadata = { ...db.metadata, name: NAME, namespace: ns };
  const seed = `${NAME}-seed`;
  await client.create(Resources.Job, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: seed, namespace: ns },
    spec: jobSpec(db, 'seed-data' as JobKind, [`--scale=${SCALE}`, '--seed=1'], image, {
      backoffLimit: 0,
      deadlineSeconds: 7200,
    }),
  });
  const t0 = performance.now();
  const end = await waitFor(async () => {
    const j = await client.get<KubeObject & { status?: { conditions?: { type: string; status: string }[] } }>(
      Resources.Job,
      ns,
      seed,
    );
    const c = j.status?.conditions?.find(
      (x) => ['Complete', 'Failed'].includes(x.type) && x.status === 'True',
    );
    return c?.type;
  }, 3 * 3600_000);
  if (end === 'Failed')
    throw new Error(
      `seed Job failed: ${sh(`eval "$(bash hack/cluster.sh env)"; kubectl logs -n ${ns} job/${seed} | tail -c 2000`)}`,
    );
  const out = sh(`eval "$(bash hack/cluster.sh env)"; kubectl logs -n ${ns} job/${seed} | tail -n 1`);
  const rows = (JSON.parse(out) as { result?: { rows?: Record<string, number> } }).result?.rows ?? {};
  console.log(
    `[${elapsed()}] seed-data --scale=${SCALE} in a Job: ${((performance.now() - t0) / 1000).toFixed(0)} s, ${Object.values(
      rows,
    )
      .reduce((a, b) => a + b, 0)
      .toLocaleString('en')} rows (${JSON.stringify(rows)})`,
  );
  await client.patch(
    Resources.HomeOpsDatabase,
    ns,
    NAME,
    { metadata: { annotations: { 'homeops.io/run': 'bench' } } },
    MERGE_PATCH,
  );
  const done = await waitFor(async () => {
    const d = await get();
    return d.status?.benchmarks?.job ? d : undefined;
  }, 3 * 3600_000);
  console.log(
    `[${elapsed()}] Job ${done.status!.benchmarks!.job} (through PgBouncer, ${ITERATIONS} iterations after 10 warm-up):`,
  );
  console.log('| scenario | target | p50 | p95 | p99 | target / p95 |');
  console.log('| --- | --- | --- | --- | --- | --- |');
  for (const s of done.status!.benchmarks!.scenarios ?? [])
    console.log(
      `| ${s.name} | ${s.targetMs} ms | ${s.p50Ms} ms | ${s.p95Ms} ms | ${s.p99Ms} ms | ${(s.targetMs / s.p95Ms).toFixed(0)}x |`,
    );
} finally {
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => {});
}
