/**
 * The runtime on the real local API server: the trivial controller (test/fixtures) as its own
 * process over N HomeOpsDatabases (default 1,000). Prints the time to sync its cache, the time
 * until every object has been reconciled once (status Ready written), the operator's RSS, and
 * the API requests it made per object (from the API server's audit log), then the requests of
 * an idle period.
 *   node bench/runtime.ts [N] [idleSeconds]     (starts the local control plane if needed)
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeClient } from '../src/runtime/client.ts';
import { type KubeObject, Resources } from '../src/runtime/types.ts';

const N = Number(process.argv[2] ?? 1000);
const IDLE_S = Number(process.argv[3] ?? 30);
const repo = join(import.meta.dirname, '..');
const kubeconfig = execFileSync('bash', [join(repo, 'hack/cluster.sh'), 'up'], { encoding: 'utf8' })
  .trim()
  .split('\n')
  .pop()!;
const auditLog = join(kubeconfig, '..', 'audit.log');
const kc = new KubeConfig();
kc.loadFromFile(kubeconfig);
const client = new KubeClient(kc, { userAgent: 'homeops-bench' });
execFileSync('bash', [
  '-c',
  `eval "$(${join(repo, 'hack/cluster.sh')} env)"; kubectl apply --server-side -f ${join(repo, 'crds')} >/dev/null; kubectl wait --for=condition=Established crd --all >/dev/null`,
]);

const ns = `bench-${randomBytes(3).toString('hex')}`;
await client.create(Resources.Namespace, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } });
const t0 = performance.now();
for (let i = 0; i < N; i += 50) {
  await Promise.all(
    Array.from({ length: Math.min(50, N - i) }, (_, j) =>
      client.create(Resources.HomeOpsDatabase, {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'HomeOpsDatabase',
        metadata: { name: `db-${i + j}`, namespace: ns },
        spec: {},
      }),
    ),
  );
}
console.log(
  `created ${N} HomeOpsDatabases in ${((performance.now() - t0) / 1000).toFixed(1)} s (setup, not the operator)`,
);

const identity = `bench-${ns}`;
const healthPort = 18081;
const start = performance.now();
const since = new Date();
const proc = spawn(
  process.execPath,
  [
    join(repo, 'test/fixtures/trivial-main.ts'),
    `--kubeconfig=${kubeconfig}`,
    `--namespaces=${ns}`,
    '--leader-elect=false',
    `--identity=${identity}`,
    '--metrics-port=18080',
    `--health-port=${healthPort}`,
    '--bind-address=127.0.0.1',
    '--log-level=warn',
    '--concurrency=4',
  ],
  { stdio: ['ignore', 'ignore', 'inherit'] },
);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (;;) {
  const ok = await fetch(`http://127.0.0.1:${healthPort}/readyz`)
    .then((r) => r.status === 200)
    .catch(() => false);
  if (ok) break;
  await sleep(50);
}
const synced = performance.now();
let ready = 0;
while (ready < N) {
  const list = await client.list<KubeObject & { status?: { phase?: string } }>(Resources.HomeOpsDatabase, ns);
  ready = list.items.filter((o) => o.status?.phase === 'Ready').length;
  if (ready < N) await sleep(200);
}
const converged = performance.now();
const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))?.[1]);
const metricsText = await fetch('http://127.0.0.1:18080/metrics').then((r) => r.text());
const heapMiB = Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metricsText)?.[1]) / 2 ** 20;

function requestsSince(from: Date, to: Date) {
  const byVerb: Record<string, number> = {};
  for (const line of readFileSync(auditLog, 'utf8').split('\n')) {
    if (!line.includes(identity)) continue;
    const e = JSON.parse(line);
    const t = new Date(e.requestReceivedTimestamp);
    if (t < from || t > to || !String(e.userAgent).includes(identity)) continue;
    byVerb[e.verb] = (byVerb[e.verb] ?? 0) + 1;
  }
  return byVerb;
}
const convergedAt = new Date();
const reqs = requestsSince(since, convergedAt);
const total = Object.values(reqs).reduce((a, b) => a + b, 0);
console.log(`objects                         ${N}`);
console.log(`process start -> caches synced  ${((synced - start) / 1000).toFixed(2)} s`);
console.log(
  `synced -> all reconciled once   ${((converged - synced) / 1000).toFixed(2)} s (${(N / ((converged - synced) / 1000)).toFixed(0)} objects/s)`,
);
console.log(
  `operator RSS                    ${(rssKiB / 1024).toFixed(1)} MiB (JS heap used ${heapMiB.toFixed(1)} MiB)`,
);
console.log(
  `API requests to converge        ${total} (${(total / N).toFixed(2)} per object) ${JSON.stringify(reqs)}`,
);
await sleep(IDLE_S * 1000);
const idle = requestsSince(new Date(convergedAt.getTime() + 2000), new Date());
console.log(`API requests in ${IDLE_S} s idle      ${JSON.stringify(idle)} (watch reconnects are 'watch')`);
proc.kill('SIGTERM');
await new Promise((r) => proc.on('exit', r));
await client.delete(Resources.Namespace, undefined, ns);
