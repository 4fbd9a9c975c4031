/**
 * The shared controller pattern on the real API server, through the tiny example controller of
 * test/fixtures/ttl-publisher.ts: a kind that writes only its builders, its status and its
 * reconcile steps gets a parsed object, its child applied and kept current, and Ready.
 */

import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { statusOwnership } from '../../src/runtime/ownership.ts';
import { Writer } from '../../src/runtime/status.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { registerTtlPublisher } from '../fixtures/ttl-publisher.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, testNamespace } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';

let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;
type Cm = KubeObject & { data?: Record<string, string> };
const createTier = (name: string) =>
  client.create(Resources.CacheTier, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'CacheTier',
    metadata: { name, namespace: ns.name },
    spec: {},
  });

beforeAll(async () => {
  const kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'pattern');
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(ns.name, `pattern-${ns.name}`);
  registerTtlPublisher(manager);
  await manager.start();
});
afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('a controller written on the shared pattern', () => {
  it("publishes the guide's TTL hierarchy, keeps it current, and says Ready", async () => {
    await createTier('cache');
    const cm = await eventually(() => client.get<Cm>(Resources.ConfigMap, ns.name, 'cache-ttl'), 30_000);
    // The guide: sessions 15 min, preferences 1 h, configs 24 h, query results 5-60 min, realtime 30 s.
    expect(cm.data).toMatchObject({
      session: '900',
      preferences: '3600',
      configs: '86400',
      queryResultsMin: '300',
      queryResultsMax: '3600',
      realtime: '30',
    });
    expect(JSON.parse(cm.data!['ttl.json']!).aggregationsMax).toBe(21600);
    expect(cm.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'CacheTier',
      name: 'cache',
      controller: true,
    });
    const ready = await eventually(async () => {
      const t = await client.get<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >(Resources.CacheTier, ns.name, 'cache');
      return t.status?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True') ? t : undefined;
    }, 30_000);
    expect(ready.status).toMatchObject({ observedGeneration: 1, phase: 'Ready' });

    await client.patch(
      Resources.CacheTier,
      ns.name,
      'cache',
      { spec: { ttlPolicies: { session: '30m' } } },
      MERGE_PATCH,
    );
    await eventually(
      async () => (await client.get<Cm>(Resources.ConfigMap, ns.name, 'cache-ttl')).data?.session === '1800',
      30_000,
    );
    // A hand edit of the child is put back: the spec is the source of truth.
    await client.patch(Resources.ConfigMap, ns.name, 'cache-ttl', { data: { realtime: '999' } }, MERGE_PATCH);
    await eventually(
      async () => (await client.get<Cm>(Resources.ConfigMap, ns.name, 'cache-ttl')).data?.realtime === '30',
      30_000,
    );
  });
});

type Status = {
  observedGeneration?: number;
  phase?: string;
  keys?: number;
  conditions?: { type: string; status: string }[];
};
type Tier = KubeObject & { status?: Status };

describe('two writers of one status', () => {
  it("each owns its fields: neither erases the other's, and an unchanged part is not written", async () => {
    await createTier('shared');
    const get = () => client.get<Tier>(Resources.CacheTier, ns.name, 'shared');
    await eventually(async () => ((await get()).status?.phase === 'Ready' ? true : undefined), 30_000);

    // A second writer (the job results, in the operator) under its own field manager.
    const jobs = new Writer(client, 'homeops-operator-jobs', pino({ level: 'silent' }));
    const theirs = (keys: number, withCondition: boolean) => ({
      keys,
      ...(withCondition
        ? {
            conditions: [
              {
                type: 'ConfigApplied',
                status: 'True',
                reason: 'Applied',
                message: 'all members took the values',
                lastTransitionTime: '2026-11-27T00:00:00Z',
              },
            ],
          }
        : {}),
    });
    expect(await jobs.applyStatus(Resources.CacheTier, await get(), theirs(42, true))).toBe(true);
    // Applying the same part again is no write.
    expect(await jobs.applyStatus(Resources.CacheTier, await get(), theirs(42, true))).toBe(false);

    // The controller writes its part again (a spec change: observedGeneration 2).
    await client.patch(
      Resources.CacheTier,
      ns.name,
      'shared',
      { spec: { ttlPolicies: { session: '20m' } } },
      MERGE_PATCH,
    );
    const after = await eventually(async () => {
      const t = await get();
      return t.status?.observedGeneration === 2 ? t : undefined;
    }, 30_000);
    expect(after.status?.keys).toBe(42);
    expect(after.status?.conditions?.map((c) => c.type).sort()).toEqual(['ConfigApplied', 'Ready']);
    expect(after.status?.phase).toBe('Ready');
    const controller = statusOwnership(after, 'homeops-operator');
    expect([...controller.keys].sort()).toEqual(['conditions', 'observedGeneration', 'phase']);
    expect([...controller.conditions]).toEqual(['Ready']);
    expect([...statusOwnership(after, 'homeops-operator-jobs').conditions]).toEqual(['ConfigApplied']);

    // The second writer drops its condition: only its own goes; the controller's stay.
    expect(await jobs.applyStatus(Resources.CacheTier, after, theirs(43, false))).toBe(true);
    const dropped = await get();
    expect(dropped.status?.conditions?.map((c) => c.type)).toEqual(['Ready']);
    expect(dropped.status).toMatchObject({ keys: 43, phase: 'Ready', observedGeneration: 2 });
  });
});
