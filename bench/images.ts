/**
 * Apply → Ready of the full sample (manifests/samples/homeopsdatabase-full.yaml) on the real
 * node, on the PostgreSQL 17 image (trixie: TimescaleDB, pgvector; the sample's extensions) and
 * on the PostgreSQL 15 image (bookworm: the sample without the extensions that image lacks), in
 * turns within one run, RUNS times each; prints every run and the medians. Each run is a new
 * database (PVC, initdb, bootstrap, CREATE EXTENSION, two PgBouncer pods), deleted after.
 *   npx node bench/images.ts [runs=5]
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, median, startOperator, waitFor } from './operator.ts';

const RUNS = Number(process.argv[2] ?? 5);
const { sh, kubeconfig, client, ns } = await benchCluster('bench-img');
const images = {
  'PostgreSQL 17': sh('bash hack/images.sh ref postgres'),
  'PostgreSQL 15': sh('bash hack/images.sh ref postgres15'),
};
const sample = parse(
  readFileSync(join(import.meta.dirname, '..', 'manifests', 'samples', 'homeopsdatabase-full.yaml'), 'utf8'),
);

const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: 18094,
  args: [
    '--service-addresses=cluster-ip',
    `--postgres-image=${images['PostgreSQL 17']}`,
    `--pgbouncer-image=${sh('bash hack/images.sh ref pgbouncer')}`,
  ],
});

type Db = KubeObject & { status?: { conditions?: { type: string; status: string; reason: string }[] } };
const ready = (o: Db) => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

try {
  const times: Record<string, number[]> = { 'PostgreSQL 17': [], 'PostgreSQL 15': [] };
  for (let i = 0; i < RUNS; i++) {
    for (const [label, image] of Object.entries(images)) {
      const name = `full-${label.endsWith('17') ? 17 : 15}-${i}`;
      const pg17 = label.endsWith('17');
      const t0 = performance.now();
      await client.create(Resources.HomeOpsDatabase, {
        ...sample,
        metadata: { name, namespace: ns },
        spec: {
          ...sample.spec,
          postgres: {
            ...sample.spec.postgres,
            image,
            storage: { size: '1Gi', reclaimPolicy: 'Delete' },
            // The 15 image has neither TimescaleDB nor pgvector.
            ...(pg17 ? {} : { extensions: ['pg_stat_statements'] }),
          },
        },
      });
      await waitFor(
        async () => ready(await client.get<Db>(Resources.HomeOpsDatabase, ns, name)) || undefined,
      );
      times[label]!.push((performance.now() - t0) / 1000);
      console.log(`run ${i + 1}, ${label}: Ready in ${times[label]!.at(-1)!.toFixed(1)} s`);
      await client.delete(Resources.HomeOpsDatabase, ns, name);
      await waitFor(async () => {
        const pods = await client.list(Resources.Pod, ns, { labelSelector: `homeops.io/database=${name}` });
        return pods.items.length === 0 || undefined;
      });
    }
  }
  for (const [label, t] of Object.entries(times))
    console.log(
      `${label}: apply -> Ready median ${median(t).toFixed(1)} s (${t.map((x) => x.toFixed(1)).join(', ')} s)`,
    );
} finally {
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => undefined);
}
process.exit(0);
