/**
 * Failover of a replicated CacheTier on the real node (3 Redis pods), median of RUNS: the
 * writer's pod is frozen (cgroup freezer: it keeps its IP and accepts TCP, nothing answers),
 * and a client writes through the writer Service's ClusterIP every 50 ms with a new connection
 * after each failure (500 ms timeouts). Printed per run:
 *  - writes down: from the freeze to the first SET that succeeds through the Service;
 *  - elected: from the freeze to status.writer naming another member;
 *  - keys lost: keys acknowledged by WAIT on both replicas before the freeze and missing after.
 * Then the old writer is thawed and the tier waits to be whole again (one writer, two linked
 * replicas) before the next run.
 *   npx node bench/cachetier-failover.ts [runs=5] [failoverAfterSeconds=15]
 */
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { freezePod } from '../test/support/freezer.ts';
import { redisClient } from '../test/support/redis.ts';
import { benchCluster, median, sleep, startOperator, waitFor } from './operator.ts';

const RUNS = Number(process.argv[2] ?? 5);
const AFTER = Number(process.argv[3] ?? 15);
const { sh, kubeconfig, client, ns } = await benchCluster('bench-failover');
const operator = await startOperator({
  kubeconfig,
  namespace: ns,
  port: 18097,
  stdout: 'ignore',
  args: ['--service-addresses=cluster-ip', `--redis-image=${sh('bash hack/images.sh ref redis')}`],
});
const NAME = 'fo';
type Member = { name: string; role: string; inReadService?: boolean };
type Tier = KubeObject & {
  status?: { writer?: string; members?: Member[]; conditions?: { type: string; status: string }[] };
};
const getTier = () => client.get<Tier>(Resources.CacheTier, ns, NAME);
const whole = (t: Tier) =>
  t.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') &&
  t.status.members?.length === 3 &&
  t.status.members.every((m) => (m.name === t.status!.writer ? m.role === 'writer' : m.inReadService));

try {
  await client.create(Resources.CacheTier, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'CacheTier',
    metadata: { name: NAME, namespace: ns },
    spec: {
      mode: 'replicated',
      replicas: 3,
      maxMemory: '128mb',
      failoverAfterSeconds: AFTER,
      healthCheckIntervalSeconds: 5,
      persistence: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
    },
  });
  await waitFor(async () => (whole(await getTier()) ? true : undefined));
  const secret = await client.get<KubeObject & { data: { password: string } }>(
    Resources.Secret,
    ns,
    `${NAME}-redis-auth`,
  );
  const password = Buffer.from(secret.data.password, 'base64').toString();
  const service = (
    await client.get<KubeObject & { spec: { clusterIP: string } }>(Resources.Service, ns, NAME)
  ).spec.clusterIP;
  const connect = (host: string) => redisClient(host, password, 500);
  const down: number[] = [];
  const elected: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    const before = await getTier();
    const writer = before.status!.writer!;
    const pod = await client.get<KubeObject & { status: { podIP: string } }>(Resources.Pod, ns, writer);
    const w = connect(pod.status.podIP);
    await w.connect();
    const p = w.pipeline();
    for (let i = 0; i < 1000; i++) p.set(`run${run}:${i}`, String(i));
    await p.exec();
    const acked = Number(await w.call('WAIT', '2', '5000'));
    w.disconnect();
    const t0 = performance.now();
    freezePod(pod.metadata.uid!, true);
    let electedAt: number | undefined;
    const watch = (async () => {
      while (electedAt === undefined) {
        const t = await getTier().catch(() => undefined);
        if (t?.status?.writer && t.status.writer !== writer) electedAt = performance.now();
        await sleep(100);
      }
    })();
    let back: number | undefined;
    let c = connect(service);
    while (back === undefined) {
      try {
        if (c.status === 'wait') await c.connect();
        await c.set('probe', String(run));
        back = performance.now();
      } catch {
        c.disconnect();
        c = connect(service);
        await sleep(50);
      }
    }
    await watch;
    const lost = (
      await Promise.all(Array.from({ length: 1000 }, (_, i) => c.exists(`run${run}:${i}`)))
    ).filter((e) => e === 0).length;
    c.disconnect();
    down.push((back - t0) / 1000);
    elected.push((electedAt! - t0) / 1000);
    console.log(
      `run ${run + 1}: writer ${writer} frozen; writes down ${down.at(-1)!.toFixed(1)} s, new writer elected after ${elected.at(-1)!.toFixed(1)} s, keys lost ${lost} of 1000 (acked by ${acked} replicas)`,
    );
    freezePod(pod.metadata.uid!, false);
    await waitFor(async () => (whole(await getTier()) ? true : undefined));
  }
  console.log(
    `failover (failoverAfterSeconds ${AFTER}, interval 5 s): writes down median ${median(down).toFixed(1)} s, elected median ${median(elected).toFixed(1)} s, ${RUNS} runs`,
  );
} finally {
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => {});
}
