/**
 * The operator throttled by the API server's own API Priority and Fairness (no proxy): a
 * FlowSchema puts the operator's ServiceAccount on a priority level of the smallest share that
 * rejects (429 with Retry-After) what it cannot seat, and the test keeps that level saturated
 * with requests of the same user while the operator, with leader election, sets up 20
 * CacheTiers with the example controller, until the operator has met 429s. It must then
 * converge and still lead (the API server's rejected-requests counter for the schema says the
 * 429s happened).
 */
import https from 'node:https';
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient } from '../../src/runtime/client.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { registerTtlPublisher } from '../fixtures/ttl-publisher.ts';
import { OPERATOR_ACCOUNT, OPERATOR_NAMESPACE } from '../setup/global.ts';
import { apfObjects, FLOWCONTROL } from '../support/apf.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace } from '../support/kube.ts';
import { grantLeaderElection, leaderConfig } from '../support/operator.ts';

const TIERS = 20;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let admin: KubeClient;
let manager: Manager;
let name: string;
let stopLoad = false;
let load: Promise<void> | undefined;
let saturate: () => void;

const FLOW = `/apis/${FLOWCONTROL}`;

/** The API server's count of requests APF rejected for this test's FlowSchema. */
async function rejected(): Promise<number> {
  const text = await kubectl('get', '--raw', '/metrics');
  let n = 0;
  for (const line of String(text).split('\n'))
    if (
      line.startsWith('apiserver_flowcontrol_rejected_requests_total{') &&
      line.includes(`flow_schema="${name}"`)
    )
      n += Number(line.split(' ').at(-1));
  return n;
}

beforeAll(async () => {
  const kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'apf');
  name = `homeops-test-${ns.name}`;
  admin = new KubeClient(kc, { userAgent: 'homeops-tests' });
  await grantLeaderElection(kc, admin);
  // The smallest share there is, no borrowing, and a refusal (429) for what cannot be seated.
  for (const o of apfObjects(name, { name: OPERATOR_ACCOUNT, namespace: OPERATOR_NAMESPACE }))
    await admin.request({
      method: 'POST',
      path: `${FLOW}/${o.kind === 'FlowSchema' ? 'flowschemas' : 'prioritylevelconfigurations'}`,
      body: o,
    });
  // APF takes the new schema in a moment: wait until it is Active (not dangling).
  await eventually(async () => {
    const fs = await admin.request<{ status?: { conditions?: { type: string; status: string }[] } }>({
      method: 'GET',
      path: `${FLOW}/flowschemas/${name}`,
    });
    return fs.status?.conditions?.some((c) => c.type === 'Dangling' && c.status === 'False');
  }, 30_000);

  const operator = new KubeConfig();
  operator.loadFromFile(inject('operatorKubeconfig'));
  // The same user keeps the level busy: 32 loops of lists, each sent again as soon as it is
  // answered (no retry, no back-off: a 429 is just the next request), while the test says.
  const cluster = operator.getCurrentCluster()!;
  const token = operator.getCurrentUser()!.token!;
  const ca = cluster.caData ? Buffer.from(cluster.caData, 'base64') : undefined;
  const get = () =>
    new Promise<void>((resolve) => {
      const req = https.request(
        `${cluster.server}/api/v1/namespaces/${ns.name}/configmaps`,
        { headers: { Authorization: `Bearer ${token}` }, ca, rejectUnauthorized: !!ca },
        (res) => res.resume().on('end', () => resolve()),
      );
      req.on('error', () => resolve());
      req.end();
    });
  saturate = () => {
    stopLoad = false;
    load = Promise.all(
      Array.from({ length: 32 }, async () => {
        while (!stopLoad) await get();
      }),
    ).then(() => undefined);
  };
  const config = leaderConfig(ns.name, `apf-${ns.name}`);
  manager = new Manager(config, operator, pino({ level: 'silent' }));
  registerTtlPublisher(manager);
  await manager.start();
});

afterAll(async () => {
  stopLoad = true;
  await load;
  await manager?.stop();
  await admin?.delete(Resources.Lease, OPERATOR_NAMESPACE, `apf-${ns?.name}`).catch(() => undefined);
  for (const kind of ['flowschemas', 'prioritylevelconfigurations'])
    await admin?.request({ method: 'DELETE', path: `${FLOW}/${kind}/${name}` }).catch(() => undefined);
  await ns?.cleanup();
});

describe("the API server's own throttling (API Priority and Fairness)", () => {
  it('converges 20 CacheTiers while its requests are rejected with 429, and keeps its leadership', async () => {
    const before = await rejected();
    const throttledNow = async () =>
      (await manager.metrics.restClientThrottled.get()).values.reduce((n, v) => n + v.value, 0);
    // Saturated while the tiers are made, until the operator has met 429s (at most 30 s): then
    // the level is left to it, and it must converge and still lead.
    saturate();
    for (let i = 0; i < TIERS; i++)
      await admin.create(Resources.CacheTier, {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'CacheTier',
        metadata: { name: `cache-${i}`, namespace: ns.name },
        spec: {},
      });
    await eventually(async () => (await throttledNow()) > 0, 30_000, 250).catch(() => undefined);
    stopLoad = true;
    await load;
    await eventually(
      async () => {
        const tiers = await admin.list<
          KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
        >(Resources.CacheTier, ns.name);
        return tiers.items.filter((t) => cond(t, 'Ready')?.status === 'True').length === TIERS;
      },
      180_000,
      1000,
    );
    const maps = await admin.list(Resources.ConfigMap, ns.name, { labelSelector: 'homeops.io/cache' });
    expect(maps.items).toHaveLength(TIERS);
    // APF did reject requests of the operator's user, and the operator's client met some of them.
    expect((await rejected()) - before).toBeGreaterThan(0);
    expect(await throttledNow()).toBeGreaterThan(0);
    // Leadership held throughout.
    const lease = await admin.get<
      KubeObject & { spec?: { holderIdentity?: string; leaseTransitions?: number } }
    >(Resources.Lease, OPERATOR_NAMESPACE, `apf-${ns.name}`);
    expect(lease.spec?.holderIdentity).toBe(`apf-${ns.name}`);
    expect(lease.spec?.leaseTransitions ?? 0).toBe(0);
    expect(manager.exitCode).toBe(0);
  }, 300_000);
});
