/**
 * The jobs controller on the real node, printing:
 *  1. database Ready -> migrations applied (MigrationsApplied=True), median of RUNS, each a new
 *     database (the Job's pod starts from the operator's image, applies the builtin set);
 *  2. the objects one database keeps for its jobs (CronJobs, Jobs, their pods);
 *  3. the API requests one schedule tick costs the operator: a rollover Job made from its
 *     CronJob (as the CronJob controller makes it), from its creation to its result in status
 *     and 10 s after, from the API server's audit log (the operator's user agent).
 *   npx node bench/dbjobs.ts [runs=3]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, median, sleep, startOperator, waitFor } from './operator.ts';

const RUNS = Number(process.argv[2] ?? 3);
const { sh, kubeconfig, client, ns } = await benchCluster('bench-jobs');
const identity = `bench-jobs-${randomBytes(3).toString('hex')}`;
const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: 18098,
  stdout: 'ignore',
  args: [
    '--service-addresses=cluster-ip',
    `--identity=${identity}`,
    `--postgres-image=${sh('bash hack/images.sh ref postgres')}`,
    `--pgbouncer-image=${sh('bash hack/images.sh ref pgbouncer')}`,
    `--operator-image=${sh('bash hack/images.sh ref operator')}`,
  ],
});
type Db = KubeObject & {
  status?: {
    conditions?: { type: string; status: string }[];
    schedules?: { name: string; lastRun?: { job: string; result: string } }[];
  };
};
const isTrue = (d: Db, type: string) =>
  d.status?.conditions?.some((c) => c.type === type && c.status === 'True');
const create = (name: string) =>
  client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name, namespace: ns },
    spec: {
      postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
      pooler: { instances: 1 },
      partitioning: { tables: [{ table: 'financial.transactions', column: 'transaction_date', premake: 2 }] },
      monitoring: { intervalSeconds: 5 },
    },
  });
const get = (name: string) => client.get<Db>(Resources.HomeOpsDatabase, ns, name);

try {
  const times: number[] = [];
  let last = '';
  for (let i = 0; i < RUNS; i++) {
    last = `db${i}`;
    await create(last);
    await waitFor(async () => (isTrue(await get(last), 'Ready') ? true : undefined));
    const t0 = performance.now();
    await waitFor(async () => (isTrue(await get(last), 'MigrationsApplied') ? true : undefined));
    times.push((performance.now() - t0) / 1000);
    console.log(`run ${i + 1}: Ready -> migrations applied ${times.at(-1)!.toFixed(1)} s`);
  }
  console.log(`database Ready -> migrations applied: median ${median(times).toFixed(1)} s, ${RUNS} runs`);

  const count = async (type: (typeof Resources)[keyof typeof Resources], selector: string) =>
    (await client.list(type, ns, { labelSelector: selector })).items.length;
  const sel = `homeops.io/database=${last},homeops.io/job`;
  console.log(
    `objects for the jobs of one database: ${await count(Resources.CronJob, sel)} CronJobs, ${await count(Resources.Job, sel)} Jobs, ${await count(Resources.Pod, sel)} pods (at most 3 successful + 3 failed Jobs kept per CronJob, 1 migration Job)`,
  );

  // One schedule tick: the Job the CronJob controller would make, from the jobTemplate.
  const cron = await client.get<KubeObject & { spec: { jobTemplate: { metadata: object; spec: object } } }>(
    Resources.CronJob,
    ns,
    `${last}-rollover`,
  );
  await sleep(10_000); // the earlier runs' requests settle
  const from = new Date();
  const job = `${last}-rollover-tick`;
  await client.create(Resources.Job, {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: job,
      namespace: ns,
      ...cron.spec.jobTemplate.metadata,
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'CronJob',
          name: cron.metadata.name!,
          uid: cron.metadata.uid!,
          controller: true,
        },
      ],
    },
    spec: cron.spec.jobTemplate.spec,
  });
  await waitFor(async () => {
    const d = await get(last);
    return d.status?.schedules?.find((s) => s.name === 'rollover')?.lastRun?.job === job &&
      d.status.schedules.find((s) => s.name === 'rollover')?.lastRun?.result === 'Succeeded'
      ? true
      : undefined;
  });
  await sleep(10_000);
  const byRequest: Record<string, number> = {};
  for (const line of readFileSync(join(kubeconfig, '..', 'audit.log'), 'utf8').split('\n')) {
    if (!line.includes(identity)) continue;
    const e = JSON.parse(line);
    if (new Date(e.requestReceivedTimestamp) < from || !String(e.userAgent).includes(identity)) continue;
    const r = e.objectRef ?? {};
    const manager = /fieldManager=([^&]+)/.exec(String(e.requestURI))?.[1];
    const key = `${e.verb} ${r.resource ?? ''}${r.subresource ? `/${r.subresource}` : ''}${manager ? ` (${manager})` : ''}`;
    byRequest[key] = (byRequest[key] ?? 0) + 1;
  }
  const writes = Object.entries(byRequest).filter(([k]) => !/^(get|list|watch) /.test(k));
  console.log(
    `one schedule tick (a rollover Job made, until its result is in status, +10 s): ${writes.reduce((a, [, v]) => a + v, 0)} writes by the operator (${writes.map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}); every request: ${JSON.stringify(byRequest)}`,
  );
} finally {
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => {});
}
