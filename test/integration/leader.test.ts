/**
 * Leader election between operator processes (the trivial operator of test/fixtures): only the
 * lease holder reconciles and reports ready; SIGKILL hands over within the lease duration;
 * SIGTERM releases the lease at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../../src/runtime/client.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, testNamespace } from '../support/kube.ts';

const fixture = join(import.meta.dirname, '..', 'fixtures', 'trivial-main.ts');
let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
const procs: ChildProcess[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function startOperator(identity: string) {
  const [metricsPort, healthPort] = [await freePort(), await freePort()];
  const proc = spawn(
    process.execPath,
    [
      fixture,
      `--kubeconfig=${inject('kubeconfig')}`,
      `--namespaces=${ns.name}`,
      `--leader-election-namespace=${ns.name}`,
      `--identity=${identity}`,
      `--metrics-port=${metricsPort}`,
      `--health-port=${healthPort}`,
      '--bind-address=127.0.0.1',
      '--log-level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  procs.push(proc);
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  const get = async (port: number, path: string) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: res.status, text: await res.text() };
  };
  return {
    proc,
    exited,
    metrics: () => get(metricsPort, '/metrics').then((r) => r.text),
    ready: () => get(healthPort, '/readyz').then((r) => r.status),
    healthy: () => get(healthPort, '/healthz').then((r) => r.status),
  };
}

const metric = (text: string, name: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith(name))
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0);

const holder = async () => {
  const lease = await client.get<KubeObject & { spec?: { holderIdentity?: string } }>(
    Resources.Lease,
    ns.name,
    'homeops-operator-leader',
  );
  return lease.spec?.holderIdentity;
};

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'leader');
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  for (let i = 0; i < 3; i++) {
    await client.create(Resources.HomeOpsDatabase, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: `db-${i}`, namespace: ns.name },
      spec: {},
    });
  }
});
afterAll(async () => {
  for (const p of procs) p.kill('SIGKILL');
  await ns?.cleanup();
});

describe('leader election', () => {
  it('lets only the lease holder reconcile; SIGKILL hands over within the lease duration; SIGTERM releases at once', async () => {
    const a = await startOperator('operator-a');
    await eventually(async () => (await holder().catch(() => undefined)) === 'operator-a', 30_000);
    const b = await startOperator('operator-b');
    await eventually(() => b.healthy().catch(() => 0), 30_000);
    await eventually(
      async () => metric(await a.metrics(), 'controller_runtime_reconcile_total') >= 3,
      30_000,
    );

    // The follower is ready (synced caches: it can take over at once) and reconciles nothing.
    await new Promise((r) => setTimeout(r, 3000));
    expect(await a.ready()).toBe(200);
    expect(await b.ready()).toBe(200);
    const bMetrics = await b.metrics();
    expect(metric(bMetrics, 'controller_runtime_reconcile_total')).toBe(0);
    expect(metric(bMetrics, 'leader_election_master_status')).toBe(0);
    expect(metric(await a.metrics(), 'leader_election_master_status')).toBe(1);

    // SIGKILL: nothing is released; b takes over once the lease has gone unrenewed for 15 s.
    const killedAt = Date.now();
    a.proc.kill('SIGKILL');
    await eventually(async () => (await holder()) === 'operator-b', 40_000, 500);
    const handover = (Date.now() - killedAt) / 1000;
    expect(handover).toBeLessThan(15 + 2 * 2 + 2); // lease duration + two retry periods + slack
    await eventually(
      async () => metric(await b.metrics(), 'controller_runtime_reconcile_total') >= 3,
      30_000,
    );
    expect(await b.ready()).toBe(200);

    // SIGTERM: b finishes, releases the lease and exits 0; c takes over without waiting out the lease.
    const c = await startOperator('operator-c');
    await eventually(() => c.healthy().catch(() => 0), 30_000);
    const termAt = Date.now();
    b.proc.kill('SIGTERM');
    expect(await b.exited).toBe(0);
    await eventually(async () => (await holder()) === 'operator-c', 20_000, 250);
    expect((Date.now() - termAt) / 1000).toBeLessThan(15);
  });
});
