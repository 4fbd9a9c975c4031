/**
 * `job seed-data` in the operator's image, in a Job against a database's primary (built with the
 * controller's own jobSpec), for the benchmarks that need data at a scale: waits for it, and
 * returns the rows it made and the seconds it took.
 */
import { homeOpsDatabase } from '../src/api/v1alpha1/index.ts';
import { jobSpec } from '../src/controllers/dbjobs/builders.ts';
import type { JobKind } from '../src/controllers/dbjobs/names.ts';
import type { KubeClient } from '../src/runtime/client.ts';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { waitFor } from './operator.ts';

export async function seedJob(opts: {
  client: KubeClient;
  sh: (cmd: string) => string;
  ns: string;
  name: string;
  image: string;
  args: string[];
}): Promise<{ rows: Record<string, number>; seconds: number }> {
  const { client, sh, ns, name } = opts;
  const db = homeOpsDatabase.parse(await client.get(Resources.HomeOpsDatabase, ns, name));
  db.metadata = { ...db.metadata, name, namespace: ns };
  const seed = `${name}-seed`;
  await client.create(Resources.Job, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: seed, namespace: ns },
    spec: jobSpec(db, 'seed-data' as JobKind, opts.args, opts.image, {
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
    return j.status?.conditions?.find((x) => ['Complete', 'Failed'].includes(x.type) && x.status === 'True')
      ?.type;
  }, 3 * 3600_000);
  const logs = (tail: string) =>
    sh(`eval "$(bash hack/cluster.sh env)"; kubectl logs -n ${ns} job/${seed} | ${tail}`);
  if (end === 'Failed') throw new Error(`seed Job failed: ${logs('tail -c 2000')}`);
  const out = JSON.parse(logs('tail -n 1')) as { result?: { rows?: Record<string, number> } };
  return { rows: out.result?.rows ?? {}, seconds: (performance.now() - t0) / 1000 };
}
