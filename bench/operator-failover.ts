/**
 * The operator installed by its Helm chart on the real node (two replicas, the image built here):
 *  - install: `helm install --wait` until both pods are Ready and one holds the Lease;
 *  - hung leader: its pod frozen (cgroup freezer, nothing it can release): time until the
 *    standby holds the Lease (lease 15 s, retry 2 s);
 *  - stopped leader: its pod deleted (SIGTERM: it releases the Lease): time until the standby
 *    holds it.
 * Each failover is repeated RUNS times (the Deployment's new pod Ready again in between).
 *   npx node bench/operator-failover.ts [runs=5]
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { helmBinary } from '../src/cmd/gen-chart.ts';
import { type KubeObject, Resources } from '../src/runtime/types.ts';
import { adoptCrdCommands } from '../test/support/chart.ts';
import { freezePod } from '../test/support/freezer.ts';
import { benchCluster, median, sleep, waitFor } from './operator.ts';

const RUNS = Number(process.argv[2] ?? 5);
const repo = join(import.meta.dirname, '..');
const { sh, kubeconfig, client, ns } = await benchCluster('bench-opfo');
const helmBin = helmBinary();
const helm = (...args: string[]) =>
  execFileSync(helmBin, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8', cwd: repo });
const RELEASE = 'homeops-operator';
const LEASE = `${RELEASE}-leader`;
type Pod = KubeObject & { status?: { phase?: string; containerStatuses?: { ready: boolean }[] } };
type Lease = KubeObject & { spec?: { holderIdentity?: string } };

const holder = async () =>
  (await client.get<Lease>(Resources.Lease, ns, LEASE).catch(() => undefined))?.spec?.holderIdentity;
const readyPods = async () => {
  const pods = (
    await client.list<Pod>(Resources.Pod, ns, { labelSelector: `app.kubernetes.io/instance=${RELEASE}` })
  ).items;
  const ready = pods.filter((p) => !p.metadata.deletionTimestamp && p.status?.containerStatuses?.[0]?.ready);
  return ready.length === 2 ? ready : undefined;
};
/** Polls every 100 ms until the Lease names someone other than `old`; seconds since `from`. */
async function handover(old: string, from: number): Promise<number> {
  await waitFor(async () => {
    const h = await holder();
    if (h && h !== old) return true;
    await sleep(100);
    return undefined;
  }, 120_000);
  return (Date.now() - from) / 1000;
}

const image = sh('bash hack/images.sh ref operator');
const at = image.lastIndexOf(':');
for (const args of adoptCrdCommands(RELEASE, ns))
  sh(`eval "$(bash hack/cluster.sh env)"; kubectl ${args.map((a) => `'${a}'`).join(' ')} >/dev/null`);
try {
  const t0 = Date.now();
  helm(
    'install',
    RELEASE,
    'charts/homeops-operator',
    '-n',
    ns,
    '--set',
    `image.repository=${image.slice(0, at)}`,
    '--set',
    `image.tag=${image.slice(at + 1)}`,
    '--set',
    `watchNamespaces={${ns}}`,
    '--wait',
    '--timeout',
    '5m',
  );
  await waitFor(async () => ((await readyPods()) && (await holder()) ? true : undefined));
  console.log(`install: both pods Ready and a leader after ${((Date.now() - t0) / 1000).toFixed(1)} s`);

  const results: Record<string, number[]> = { frozen: [], deleted: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const how of ['frozen', 'deleted'] as const) {
      await waitFor(async () => ((await readyPods()) ? true : undefined));
      const leader = (await holder())!;
      const pod = await client.get<Pod>(Resources.Pod, ns, leader);
      const from = Date.now();
      if (how === 'frozen') freezePod(pod.metadata.uid!, true);
      else
        sh(
          `eval "$(bash hack/cluster.sh env)"; kubectl delete pod -n ${ns} ${leader} --wait=false >/dev/null`,
        );
      const s = await handover(leader, from);
      results[how]!.push(s);
      console.log(`run ${i + 1} ${how}: the standby leads after ${s.toFixed(1)} s`);
      if (how === 'frozen') {
        freezePod(pod.metadata.uid!, false);
        sh(
          `eval "$(bash hack/cluster.sh env)"; kubectl delete pod -n ${ns} ${leader} --wait=false >/dev/null`,
        );
      }
    }
  }
  for (const [how, xs] of Object.entries(results))
    console.log(
      `${how} leader -> standby leads: median ${median(xs).toFixed(1)} s (min ${Math.min(...xs).toFixed(1)}, max ${Math.max(...xs).toFixed(1)}, ${xs.length} runs)`,
    );
} finally {
  try {
    helm('uninstall', RELEASE, '-n', ns, '--wait');
  } catch {}
  await client.delete(Resources.Namespace, undefined, ns).catch(() => {});
}
