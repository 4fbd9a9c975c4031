/**
 * The guide's four scenarios at scale SCALE (10: about 35 M rows), run by the operator's own
 * benchmark Job on the real node, through PgBouncer, as `homeops.io/run: bench` asks:
 *   1. a database (PostgreSQL and PgBouncer in pods), its migrations applied by the Job; on the
 *      PostgreSQL 17 image (IMAGE=postgres) with TimescaleDB declared, so the time-series
 *      tables are hypertables; on the PostgreSQL 15 image (IMAGE=postgres15) partitioned tables;
 *   2. `job seed-data --scale=SCALE` in the operator's image, in a Job against the primary
 *      (built with the controller's own jobSpec);
 *   3. the annotation, then the run's p50/p95/p99 per scenario from status.benchmarks.
 *   npx node bench/scale10.ts [scale=10] [iterations=100] [IMAGE=postgres|postgres15]
 */
import { MERGE_PATCH } from '../src/runtime/client.ts';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, startOperator, waitFor } from './operator.ts';
import { seedJob } from './seedjob.ts';

const SCALE = Number(process.argv[2] ?? 10);
const ITERATIONS = Number(process.argv[3] ?? 100);
const IMAGE = process.argv[4] ?? 'postgres';
const { sh, kubeconfig, client, ns } = await benchCluster('bench-scale');
const image = sh('bash hack/images.sh ref operator');
const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: 18099,
  stdout: 'ignore',
  args: [
    '--service-addresses=cluster-ip',
    `--postgres-image=${sh(`bash hack/images.sh ref ${IMAGE}`)}`,
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
      postgres: {
        storage: { size: '60Gi', reclaimPolicy: 'Delete' },
        extensions: IMAGE === 'postgres' ? ['pg_stat_statements', 'timescaledb'] : [],
      },
      pooler: { instances: 1 },
      benchmarks: { builtin: true, iterations: ITERATIONS, warmup: 10, concurrency: 1 },
      monitoring: { intervalSeconds: 30 },
    },
  });
  await waitFor(async () => (isTrue(await get(), 'MigrationsApplied') ? true : undefined));
  const ts = ((await get()).status as { timescale?: unknown } | undefined)?.timescale;
  console.log(
    `[${elapsed()}] database Ready on ${IMAGE}, migrations applied by the operator's Job; timescale ${JSON.stringify(ts)}`,
  );
  const { rows, seconds } = await seedJob({
    client,
    sh,
    ns,
    name: NAME,
    image,
    args: [`--scale=${SCALE}`, '--seed=1'],
  });
  console.log(
    `[${elapsed()}] seed-data --scale=${SCALE} in a Job: ${seconds.toFixed(0)} s, ${Object.values(rows)
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
