/**
 * The operator under a throttling, failing API server: every request goes through a fault
 * proxy in front of the real API server (test/support/faultproxy.ts) that answers some with 429
 * and Retry-After (API Priority and Fairness' own answer), some with 503 and Retry-After, fails
 * the first lists with 500, and leaves one lease renewal hanging. The operator, as its
 * ServiceAccount, with leader election, runs the example controller
 * (test/fixtures/ttl-publisher.ts).
 */
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../../src/runtime/client.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { registerTtlPublisher } from '../fixtures/ttl-publisher.ts';
import { OPERATOR_NAMESPACE } from '../setup/global.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { type FaultProxy, startFaultProxy } from '../support/faultproxy.ts';
import { eventually, kubeConfig, testNamespace } from '../support/kube.ts';
import { grantLeaderElection, leaderConfig } from '../support/operator.ts';

let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let proxy: FaultProxy;
let manager: Manager;
let listsFailed = 0;
let hungRenewal = false;
const isWrite = (m: string) => m !== 'GET';

beforeAll(async () => {
  const kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'throttle');
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  // Leader election in the operator's own namespace, as the chart grants it there.
  await grantLeaderElection(kc, client);
  const operator = new KubeConfig();
  operator.loadFromFile(inject('operatorKubeconfig'));
  proxy = await startFaultProxy(new URL(kc.getCurrentCluster()!.server), ({ method, url, n }) => {
    if (url.includes('watch=true')) return undefined;
    // The informers' first lists fail (each call is retried by the client, then relisted).
    if (method === 'GET' && url.includes('/configmaps?') && listsFailed < 6) {
      listsFailed++;
      return { status: 500 };
    }
    // One lease renewal hangs on a connection that never answers.
    if (method === 'PUT' && url.includes('/leases/') && !hungRenewal && n > 20) {
      hungRenewal = true;
      return { hang: true };
    }
    if (n % 4 === 3) return { status: 429, retryAfter: 1 };
    if (n % 9 === 8 && !url.includes('/leases')) return { status: 503, retryAfter: 1 };
    return undefined;
  });
  const config = leaderConfig(ns.name, `throttle-${ns.name}`);
  manager = new Manager(
    config,
    proxy.kubeConfig(operator.getCurrentUser()!.token!),
    pino({ level: 'silent' }),
  );
  registerTtlPublisher(manager);
  await manager.start();
});

afterAll(async () => {
  await client?.delete(Resources.Lease, OPERATOR_NAMESPACE, `throttle-${ns?.name}`).catch(() => undefined);
  if (process.env.THROTTLE_DEBUG)
    for (const x of proxy.seen) console.error(`${x.status} ${x.injected ? 'I' : ' '} ${x.method} ${x.url}`);
  await manager?.stop();
  await proxy?.close();
  await ns?.cleanup();
});

describe('an API server that throttles and fails', () => {
  it('converges anyway, writes nothing before its caches are synced, and keeps its leadership', async () => {
    await client.create(Resources.CacheTier, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'CacheTier',
      metadata: { name: 'cache', namespace: ns.name },
      spec: {},
    });
    await eventually(() => client.get(Resources.ConfigMap, ns.name, 'cache-ttl'), 90_000, 500);
    await eventually(
      async () => {
        const t = await client.get<
          KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
        >(Resources.CacheTier, ns.name, 'cache');
        return cond(t, 'Ready')?.status === 'True';
      },
      90_000,
      500,
    );
    // Keep running past a hung renewal and through lease durations of 429s and 503s.
    await eventually(() => hungRenewal, 60_000, 500);
    await new Promise((r) => setTimeout(r, 20_000));

    const seen = proxy.seen;
    const injected = (status: number) => seen.filter((s) => s.injected && s.status === status).length;
    // Faults of each kind were met (how many depends on the run's number of requests).
    expect(injected(429)).toBeGreaterThan(0);
    expect(injected(503)).toBeGreaterThan(0);
    expect(injected(500)).toBe(6);
    // No write of the controller's before its ConfigMap cache had a successful list.
    const firstList = seen.findIndex(
      (s) =>
        s.method === 'GET' &&
        s.url.includes('/configmaps?') &&
        !s.url.includes('watch=true') &&
        s.status === 200,
    );
    const firstWrite = seen.findIndex((s) => isWrite(s.method) && !s.url.includes('/leases'));
    expect(firstList).toBeGreaterThanOrEqual(0);
    expect(firstWrite).toBeGreaterThan(firstList);
    // Leadership held throughout: still the holder, never stopped.
    const lease = await client.get<
      KubeObject & { spec?: { holderIdentity?: string; leaseTransitions?: number } }
    >(Resources.Lease, OPERATOR_NAMESPACE, `throttle-${ns.name}`);
    expect(lease.spec?.holderIdentity).toBe(`throttle-${ns.name}`);
    expect(lease.spec?.leaseTransitions ?? 0).toBe(0);
    expect(manager.exitCode).toBe(0);
    const status = await manager.metrics.leaderStatus.get();
    expect(status.values[0]?.value).toBe(1);
  });
});
