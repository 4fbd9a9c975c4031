/**
 * CacheTier on the real node (Redis 7 in a pod), printing:
 *  1. apply -> Ready, median of RUNS (each a new tier: PVC, pod, first INFO);
 *  2. the probe's cost: redis-benchmark (SET and GET, 50 clients, pipeline 1) through the
 *     Service's ClusterIP, ROUNDS times with the operator probing every 5 s and ROUNDS times with
 *     the operator stopped, alternating; the medians and their difference.
 *   npx node bench/cachetier.ts [runs=5] [rounds=3] [requests=200000]
 */
import { execFileSync } from 'node:child_process';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { benchCluster, median, sleep, startOperator, waitFor } from './operator.ts';

const RUNS = Number(process.argv[2] ?? 5);
const ROUNDS = Number(process.argv[3] ?? 3);
const REQUESTS = Number(process.argv[4] ?? 200000);
const { sh, kubeconfig, client, ns } = await benchCluster('bench-cache');
const PORT = 18096;
const operatorArgs = {
  kubeconfig,
  namespace: ns,
  port: PORT,
  stdout: 'ignore' as const,
  args: ['--service-addresses=cluster-ip', `--redis-image=${sh('bash hack/images.sh ref redis')}`],
};
let operator = await startOperator(operatorArgs);
type Tier = KubeObject & { status?: { conditions?: { type: string; status: string }[] } };
const ready = (o: Tier) => o.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
const tier = (name: string) =>
  client.create(Resources.CacheTier, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'CacheTier',
    metadata: { name, namespace: ns },
    spec: {
      maxMemory: '256mb',
      healthCheckIntervalSeconds: 5,
      persistence: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
    },
  });

try {
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `c${i}`;
    const t0 = performance.now();
    await tier(name);
    await waitFor(async () => ready(await client.get<Tier>(Resources.CacheTier, ns, name)) || undefined);
    times.push((performance.now() - t0) / 1000);
    console.log(`run ${i + 1}: apply -> Ready ${times.at(-1)!.toFixed(1)} s`);
    await client.delete(Resources.CacheTier, ns, name);
    await waitFor(async () => {
      const pods = await client.list(Resources.Pod, ns, { labelSelector: `homeops.io/cache=${name}` });
      return pods.items.length === 0 || undefined;
    });
  }
  console.log(`apply -> Ready on the real node: median ${median(times).toFixed(1)} s, ${RUNS} runs`);

  const NAME = 'load';
  await tier(NAME);
  await waitFor(async () => ready(await client.get<Tier>(Resources.CacheTier, ns, NAME)) || undefined);
  const ip = (await client.get<KubeObject & { spec: { clusterIP: string } }>(Resources.Service, ns, NAME))
    .spec.clusterIP;
  const secret = await client.get<KubeObject & { data: { password: string } }>(
    Resources.Secret,
    ns,
    `${NAME}-redis-auth`,
  );
  const password = Buffer.from(secret.data.password, 'base64').toString();
  const bench = () => {
    const out = execFileSync(
      'redis-benchmark',
      [
        '-h',
        ip,
        '-p',
        '6379',
        '-a',
        password,
        '-t',
        'set,get',
        '-n',
        String(REQUESTS),
        '-c',
        '50',
        '-q',
        '--csv',
      ],
      { encoding: 'utf8' },
    );
    // "SET","51546.39",... one line per test after the header
    const rps = [...out.matchAll(/^"(SET|GET)","([0-9.]+)"/gm)].map((m) => Number(m[2]));
    return rps.reduce((a, b) => a + b, 0) / rps.length;
  };
  const withProbes: number[] = [];
  const without: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    withProbes.push(bench());
    operator.kill('SIGTERM');
    await new Promise((res) => operator.once('exit', res));
    without.push(bench());
    operator = await startOperator(operatorArgs);
    // Its start (informer lists, the first reconciles) is not the probe's steady cost.
    await sleep(15_000);
    console.log(
      `round ${r + 1}: ${withProbes.at(-1)!.toFixed(0)} req/s with the operator probing, ${without.at(-1)!.toFixed(0)} without`,
    );
  }
  const a = median(withProbes);
  const b = median(without);
  console.log(
    `redis-benchmark SET+GET mean, 50 clients, ${REQUESTS} requests each: median ${a.toFixed(0)} req/s probed every 5 s, ${b.toFixed(0)} req/s unprobed: ${(((b - a) / b) * 100).toFixed(2)} % (${ROUNDS} rounds)`,
  );
} finally {
  operator.kill('SIGTERM');
  await client.delete(Resources.Namespace, undefined, ns).catch(() => {});
}
