/**
 * The HomeOpsDatabase on the real node (real initdb, real pods), printing:
 *  1. apply -> Ready, median of RUNS runs of a database with one PgBouncer instance (each a new
 *     database: PVC, initdb, bootstrap, probes), and apply -> primary pod Ready;
 *  2. pooling: pgbench (select-only, 15 s) at 50 and 500 clients, straight to the primary's
 *     Service and through the PgBouncer Service, from this machine through kube-proxy. pgbench
 *     gives up on a run when one of its clients cannot connect, so the clients are split into
 *     pgbench processes of 10: a process that could not connect counts its 10 clients as failed,
 *     the others' TPS are added up. Through PgBouncer it runs twice: with the guide's
 *     max_client_conn (100) and with 1000.
 *   npx node bench/realnode.ts [runs=5] [seconds=15]
 */
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { MERGE_PATCH } from '../src/runtime/client.ts';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, median, sleep, startOperator, waitFor } from './operator.ts';

const RUNS = Number(process.argv[2] ?? 5);
const SECONDS = Number(process.argv[3] ?? 15);
const { sh, kubeconfig, client, ns } = await benchCluster('bench-real');

const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: 18092,
  stdout: 'inherit',
  args: [
    '--service-addresses=cluster-ip',
    `--postgres-image=${sh('bash hack/images.sh ref postgres')}`,
    `--pgbouncer-image=${sh('bash hack/images.sh ref pgbouncer')}`,
  ],
});

type Db = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
const ready = (o: Db) => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

try {
  // 1. apply -> Ready
  const toReady: number[] = [];
  const toPod: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `rn-${i}`;
    const t0 = performance.now();
    await client.create(Resources.HomeOpsDatabase, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name, namespace: ns },
      spec: {
        postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
        pooler: { instances: 1 },
        monitoring: { intervalSeconds: 5 },
      },
    });
    await waitFor(async () => {
      const p = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >(Resources.Pod, ns, `${name}-0`);
      return p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') || undefined;
    });
    toPod.push((performance.now() - t0) / 1000);
    await waitFor(async () => ready(await client.get<Db>(Resources.HomeOpsDatabase, ns, name)) || undefined);
    toReady.push((performance.now() - t0) / 1000);
    console.log(
      `run ${i + 1}: primary pod Ready ${toPod.at(-1)!.toFixed(1)} s, database Ready ${toReady.at(-1)!.toFixed(1)} s`,
    );
    await client.delete(Resources.HomeOpsDatabase, ns, name);
    await waitFor(async () => {
      const pods = await client.list(Resources.Pod, ns, { labelSelector: `homeops.io/database=${name}` });
      return pods.items.length === 0 || undefined;
    });
  }
  console.log(
    `apply -> Ready on the real node: median ${median(toReady).toFixed(1)} s (primary pod Ready median ${median(toPod).toFixed(1)} s), ${RUNS} runs`,
  );

  // 2. pooling
  const DB = 'pool';
  await client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: DB, namespace: ns },
    spec: {
      postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' }, parameters: { max_connections: '100' } },
      pooler: { instances: 1 },
      monitoring: { intervalSeconds: 5 },
    },
  });
  await waitFor(async () => ready(await client.get<Db>(Resources.HomeOpsDatabase, ns, DB)) || undefined);
  const secret = await client.get<KubeObject & { data: Record<string, string> }>(
    Resources.Secret,
    ns,
    `${DB}-app`,
  );
  const field = (k: string) => Buffer.from(secret.data[k]!, 'base64').toString();
  const ip = async (svc: string) =>
    (await client.get<KubeObject & { spec: { clusterIP: string } }>(Resources.Service, ns, svc)).spec
      .clusterIP;
  const env = {
    ...process.env,
    PGPASSWORD: field('password'),
    PGUSER: field('username'),
    PGDATABASE: field('dbname'),
  };
  const pgbench = '/usr/lib/postgresql/15/bin/pgbench';
  execFileSync(pgbench, ['-i', '-q', '-s', '1', '-h', await ip(`${DB}-rw`)], { env, stdio: 'ignore' });

  async function run(label: string, host: string, clients: number) {
    const procs = Array.from({ length: clients / 10 }, () =>
      promisify(execFile)(pgbench, ['-S', '-n', '-c', '10', '-j', '1', '-T', String(SECONDS), '-h', host], {
        env,
      }).then(
        ({ stdout }) => Number(/tps = ([0-9.]+)/.exec(stdout)?.[1] ?? 0),
        () => undefined,
      ),
    );
    const results = await Promise.all(procs);
    const ok = results.filter((r): r is number => r !== undefined);
    const tps = ok.reduce((a, b) => a + b, 0);
    console.log(
      `  ${label.padEnd(44)} ${String(clients).padStart(4)} clients: ${tps.toFixed(0).padStart(7)} TPS, ${(results.length - ok.length) * 10} clients could not connect`,
    );
    await sleep(3000); // let the server and the pooler close what the last run opened
  }
  console.log(`pgbench -S, ${SECONDS} s, from this machine through kube-proxy (max_connections 100):`);
  for (const clients of [50, 500]) {
    await run('direct to the primary (NAME-rw)', await ip(`${DB}-rw`), clients);
    await run('through PgBouncer (max_client_conn 100)', await ip(`${DB}-pooler`), clients);
  }
  await client.patch(
    Resources.HomeOpsDatabase,
    ns,
    DB,
    { spec: { pooler: { maxClientConn: 1000 } } },
    MERGE_PATCH,
  );
  // The pooler's config change rolls its pod: wait until the new one answers.
  await sleep(5000);
  await waitFor(async () => {
    const d = await client.get<
      KubeObject & { status?: { updatedReplicas?: number; readyReplicas?: number; replicas?: number } }
    >(Resources.Deployment, ns, `${DB}-pooler`);
    return (
      (d.status?.replicas === 1 && d.status.readyReplicas === 1 && d.status.updatedReplicas === 1) ||
      undefined
    );
  });
  for (const clients of [50, 500])
    await run('through PgBouncer (max_client_conn 1000)', await ip(`${DB}-pooler`), clients);
} finally {
  // Deleted while the operator runs, so that its finalizer is honoured; then the namespace.
  await client.delete(Resources.HomeOpsDatabase, ns, 'pool').catch(() => undefined);
  await waitFor(
    async () =>
      (await client.get(Resources.HomeOpsDatabase, ns, 'pool').then(
        () => false,
        () => true,
      )) || undefined,
    120_000,
  ).catch(() => undefined);
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => undefined);
}
process.exit(0);
