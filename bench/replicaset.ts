import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, median, sleep, startOperator, waitFor } from './operator.ts';

const RUNS = Number(process.argv[2] ?? 5);
const SIZE_MIB = Number(process.argv[3] ?? 1024);
const DELAY = Number(process.argv[4] ?? 10);
const { sh, kubeconfig, client, ns } = await benchCluster('bench-rs');
const PORT = 18094;
const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: PORT,
  stdout: 'ignore',
  args: ['--service-addresses=cluster-ip', `--postgres-image=${sh('bash hack/images.sh ref postgres')}`],
});

type Member = { name: string; inReadService: boolean; state?: string; lagSeconds?: number };
type Obj = KubeObject & {
  status?: { conditions?: { type: string; status: string }[]; members?: Member[] };
  spec?: { clusterIP?: string };
  data?: Record<string, string>;
};
const DB = 'bench';
await client.create(Resources.HomeOpsDatabase, {
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: { name: DB, namespace: ns },
  spec: {
    postgres: { storage: { size: '4Gi', reclaimPolicy: 'Delete' } },
    pooler: { enabled: false },
    monitoring: { intervalSeconds: 5 },
  },
});
const ready = (o: Obj) => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
await waitFor(async () => ready(await client.get<Obj>(Resources.HomeOpsDatabase, ns, DB)) || undefined);
const secret = await client.get<Obj>(Resources.Secret, ns, `${DB}-superuser`);
const password = Buffer.from(secret.data!.password!, 'base64').toString();
const rw = (await client.get<Obj>(Resources.Service, ns, `${DB}-rw`)).spec!.clusterIP!;
const session = async <T>(host: string, fn: (c: pg.Client) => Promise<T>) => {
  const c = new pg.Client({ host, port: 5432, user: 'postgres', password, database: 'postgres' });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
};
const onPrimary = (sql: string) => session(rw, (c) => c.query(sql));
const podIP = async (name: string) =>
  (await client.get<KubeObject & { status?: { podIP?: string } }>(Resources.Pod, ns, name)).status!.podIP!;

function replicaSet(name: string, replicas: number) {
  return client.create(Resources.ReplicaSet, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: ns },
    spec: {
      databaseRef: { name: DB },
      replicas,
      maxLagSeconds: 5,
      healthCheckIntervalSeconds: 5,
      storage: { size: '4Gi', reclaimPolicy: 'Delete' },
    },
  });
}
const allIn = (o: Obj, n: number) =>
  o.status?.members?.length === n &&
  o.status.members.every((m) => m.inReadService && m.state === 'streaming');
async function gone(name: string) {
  await client.delete(Resources.ReplicaSet, ns, name);
  await waitFor(async () => {
    const pods = await client.list(Resources.Pod, ns, { labelSelector: `homeops.io/replicaset=${name}` });
    return pods.items.length === 0 || undefined;
  });
}
async function toStreaming(label: string, replicas: number, sizeBytes: number) {
  const name = `s${replicas}-${randomBytes(2).toString('hex')}`;
  const t0 = performance.now();
  await replicaSet(name, replicas);
  await waitFor(
    async () => allIn(await client.get<Obj>(Resources.ReplicaSet, ns, name), replicas) || undefined,
  );
  const s = (performance.now() - t0) / 1000;
  const rate = sizeBytes / 2 ** 20 / s;
  console.log(
    `apply -> ${replicas} member(s) streaming, ${label}: ${s.toFixed(1)} s (${(sizeBytes / 2 ** 20).toFixed(0)} MiB database, ${(rate * replicas).toFixed(1)} MiB/s copied in all)`,
  );
  await gone(name);
}
const dbSize = async () =>
  Number((await onPrimary('SELECT sum(pg_database_size(oid))::bigint AS b FROM pg_database')).rows[0].b);

let writing = true;
async function writer() {
  await session(rw, async (c) => {
    await c.query(
      'CREATE TABLE IF NOT EXISTS bench_rows (id bigserial PRIMARY KEY, at timestamptz DEFAULT now())',
    );
    while (writing) {
      await c.query('INSERT INTO bench_rows DEFAULT VALUES');
      await sleep(100);
    }
  });
}

try {
  // 1. apply -> streaming
  for (const n of [1, 3]) await toStreaming('empty database', n, await dbSize());
  const t0 = performance.now();
  const rows = Math.round((SIZE_MIB * 2 ** 20) / 560);
  await onPrimary(
    `CREATE TABLE bench_fill AS SELECT g AS id, repeat('x', 500) AS pad FROM generate_series(1, ${rows}) g`,
  );
  await onPrimary('CHECKPOINT');
  const size = await dbSize();
  console.log(
    `filled: ${(size / 2 ** 20).toFixed(0)} MiB in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  for (const n of [1, 3]) await toStreaming(`${(size / 2 ** 30).toFixed(2)} GiB database`, n, size);
  await onPrimary('DROP TABLE bench_fill');
  await onPrimary('CHECKPOINT');

  // 2. detection latency
  const RS = 'detect';
  await replicaSet(RS, 1);
  await waitFor(async () => allIn(await client.get<Obj>(Resources.ReplicaSet, ns, RS), 1) || undefined);
  const member = `${RS}-replica-0`;
  const ip = await podIP(member);
  const w = writer();
  const inRo = async () =>
    (await client.get<KubeObject>(Resources.Pod, ns, member)).metadata.labels?.['homeops.io/read-service'] ===
    'in';
  const latencies: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    await sleep(2000);
    await session(ip, (c) => c.query('SELECT pg_wal_replay_pause()'));
    const t = performance.now();
    await waitFor(async () => !(await inRo()) || undefined, 120_000);
    latencies.push((performance.now() - t) / 1000);
    await session(ip, (c) => c.query('SELECT pg_wal_replay_resume()'));
    await waitFor(async () => (await inRo()) || undefined, 120_000);
    console.log(`run ${i + 1}: left -ro ${latencies.at(-1)!.toFixed(1)} s after the pause`);
  }
  console.log(
    `detection: pause -> out of -ro median ${median(latencies).toFixed(1)} s (min ${Math.min(...latencies).toFixed(1)}, max ${Math.max(...latencies).toFixed(1)}), maxLagSeconds 5, interval 5 s, ${RUNS} runs`,
  );

  // 3. accuracy against a known delay
  await session(ip, async (c) => {
    await c.query(`ALTER SYSTEM SET recovery_min_apply_delay = '${DELAY}s'`);
    await c.query('SELECT pg_reload_conf()');
  });
  await sleep((DELAY + 10) * 1000);
  const samples: number[] = [];
  for (let i = 0; i < 12; i++) {
    const text = await (await fetch(`http://127.0.0.1:${PORT}/metrics`)).text();
    const m = new RegExp(
      `^homeops_replica_lag_seconds\\{[^}]*member="${member}"[^}]*\\} ([0-9.e+-]+)$`,
      'm',
    ).exec(text);
    if (m) samples.push(Number(m[1]));
    await sleep(5000);
  }
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
  console.log(
    `accuracy: recovery_min_apply_delay ${DELAY} s, writes every 100 ms: homeops_replica_lag_seconds mean ${mean.toFixed(2)} s, min ${Math.min(...samples).toFixed(2)}, max ${Math.max(...samples).toFixed(2)} (${samples.length} samples, 5 s apart)`,
  );
  writing = false;
  await w;
  await session(ip, async (c) => {
    await c.query('ALTER SYSTEM RESET recovery_min_apply_delay');
    await c.query('SELECT pg_reload_conf()');
  });
} finally {
  writing = false;
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => {});
}
