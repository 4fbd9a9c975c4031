/**
 * The controller runtime against the real API server, with the trivial controller of
 * test/fixtures: dedupe under an event storm, backoff and its reset, terminal errors, silence
 * when idle, and watches that survive an API server restart and a forced 410 Gone.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { KubeConfig as KC, type KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import { Informer } from '../../src/runtime/informer.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { ExponentialBackoff } from '../../src/runtime/workqueue.ts';
import { A, startTrivialOperator } from '../fixtures/trivial.ts';
import { auditEvents, WRITE_VERBS } from '../support/audit.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, testNamespace } from '../support/kube.ts';

const repo = join(import.meta.dirname, '..', '..');
let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let op: ReturnType<typeof startTrivialOperator>;

const hodb = (name: string, annotations: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: { name, namespace: ns.name, annotations },
  spec: {},
});
const getDb = (name: string) =>
  client.get<KubeObject & { status?: Record<string, unknown> }>(Resources.HomeOpsDatabase, ns.name, name);
const annotate = (name: string, annotations: Record<string, string | null>) =>
  client.patch(Resources.HomeOpsDatabase, ns.name, name, { metadata: { annotations } }, MERGE_PATCH);
const condition = (o: { status?: Record<string, unknown> }, type: string) =>
  (o.status?.conditions as { type: string; status: string; reason: string }[] | undefined)?.find(
    (c) => c.type === type,
  );

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'runtime');
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  op = startTrivialOperator(
    inject('kubeconfig'),
    { namespaces: [ns.name], identity: `runtime-test-${ns.name}` },
    {
      rateLimiter: new ExponentialBackoff(100, 10_000),
    },
  );
  await op.started;
});
afterAll(async () => {
  await op?.manager.stop();
  await ns?.cleanup();
});

describe('work queue on the real API server', () => {
  it('collapses an event storm: 1,000 updates, a handful of reconciles, never two at once, the last one seen', async () => {
    await client.create(Resources.HomeOpsDatabase, hodb('storm', { [A.delayMs]: '4000' }));
    await eventually(() => op.reconciler.count.get(`${ns.name}/storm`), 30_000);
    const updates = 1000;
    const t0 = performance.now();
    for (let i = 0; i < updates; i += 50) {
      await Promise.all(Array.from({ length: 50 }, (_, j) => annotate('storm', { [A.seq]: String(i + j) })));
    }
    const updateSeconds = (performance.now() - t0) / 1000;
    // The last update was seen by a reconcile (level-based: the final state always wins).
    const final = (await getDb('storm')).metadata.annotations?.[A.seq];
    await eventually(
      () => op.reconciler.lastSeq.get(`${ns.name}/storm`) === final && op.reconciler.inFlight.size === 0,
      30_000,
    );
    const reconciles = op.reconciler.count.get(`${ns.name}/storm`)!;
    expect(op.reconciler.overlaps).toBe(0);
    // One reconcile of this key at a time, each taking 4 s: at most one per 4 s of updates, plus
    // the one in flight when they started and the one that sees the last update.
    expect(reconciles).toBeLessThanOrEqual(Math.ceil(updateSeconds / 4) + 2);
    expect(reconciles).toBeLessThan(updates / 20);
  });

  it('backs off exponentially on errors, then resets on success', async () => {
    const key = `${ns.name}/flaky`;
    await client.create(Resources.HomeOpsDatabase, hodb('flaky', { [A.failTimes]: '4' }));
    const ready = await eventually(async () => {
      const o = await getDb('flaky');
      return condition(o, 'Ready')?.status === 'True' ? o : undefined;
    }, 30_000);
    expect(ready.status?.phase).toBe('Ready');
    const times = op.reconciler.attempts.get(key)!;
    expect(times).toHaveLength(5);
    const gaps = times.slice(1).map((t, i) => t - times[i]!);
    // The limiter of this test: 100 ms doubling. Each wait is at least its backoff.
    for (const [i, min] of [100, 200, 400, 800].entries()) expect(gaps[i]).toBeGreaterThanOrEqual(min * 0.95);
    // The status is written inside the successful reconcile; the queue forgets the key's failures
    // when that reconcile returns, a moment later.
    await eventually(() => op.controller.queue.rateLimiter.retries(key) === 0, 10_000);
    expect(op.controller.queue.rateLimiter.retries(key)).toBe(0);
  });

  it('stops retrying on a terminal error and sets Stalled; a fix clears it', async () => {
    const key = `${ns.name}/broken`;
    await client.create(Resources.HomeOpsDatabase, hodb('broken', { [A.terminal]: 'BadThing' }));
    const stalled = await eventually(async () => {
      const o = await getDb('broken');
      return condition(o, 'Stalled')?.status === 'True' ? o : undefined;
    }, 30_000);
    expect(condition(stalled, 'Stalled')?.reason).toBe('BadThing');
    expect(condition(stalled, 'Ready')?.status).toBe('False');
    expect(stalled.status?.phase).toBe('Failed');
    const before = op.reconciler.count.get(key);
    await new Promise((r) => setTimeout(r, 2000));
    expect(op.reconciler.count.get(key)).toBe(before); // no hot retry
    await annotate('broken', { [A.terminal]: null });
    await eventually(async () => condition(await getDb('broken'), 'Stalled')?.status === 'False', 30_000);
  });
});

describe('idle is silent', () => {
  it('after convergence, 10 s without changes cause no write and no list/get from the operator', async () => {
    for (let i = 0; i < 10; i++) await client.create(Resources.HomeOpsDatabase, hodb(`idle-${i}`));
    await eventually(async () => {
      for (let i = 0; i < 10; i++)
        if (condition(await getDb(`idle-${i}`), 'Ready')?.status !== 'True') return false;
      return true;
    }, 30_000);
    await eventually(() => op.controller.queue.length === 0 && op.reconciler.inFlight.size === 0, 10_000);
    const since = new Date();
    await new Promise((r) => setTimeout(r, 10_000));
    const events = auditEvents(`homeops-operator/runtime-test-${ns.name}`, since);
    const writes = events.filter((e) => WRITE_VERBS.has(e.verb));
    const reads = events.filter((e) => e.verb === 'get' || e.verb === 'list');
    expect(writes.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
    expect(reads.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  });
});

describe('watches', () => {
  it('survive an API server restart without missing a change made meanwhile', async () => {
    await client.create(Resources.HomeOpsDatabase, hodb('survivor'));
    await eventually(async () => condition(await getDb('survivor'), 'Ready')?.status === 'True', 30_000);
    const informer = op.manager.informer(Resources.HomeOpsDatabase);
    const restartsBefore = informer.restarts;
    execFileSync('bash', [join(repo, 'hack', 'cluster.sh'), 'restart', 'kube-apiserver'], {
      stdio: 'ignore',
    });
    const patched = await client.patch<KubeObject>(
      Resources.HomeOpsDatabase,
      ns.name,
      'survivor',
      { spec: { pooler: { instances: 3 } } },
      MERGE_PATCH,
    );
    const gen = patched.metadata.generation;
    await eventually(async () => (await getDb('survivor')).status?.observedGeneration === gen, 60_000);
    expect(informer.restarts).toBeGreaterThan(restartsBefore);
  });

  it('relist after 410 Gone (history compacted while disconnected) and still see the change', async () => {
    const local = new KC();
    local.loadFromFile(inject('kubeconfig'));
    const informer = new Informer<KubeObject>(
      local,
      client,
      Resources.HomeOpsDatabase,
      pino({ level: 'silent' }),
      {
        namespaces: [ns.name],
        backoffBaseMs: 12_000, // slow to reconnect, so the compaction happens while it is away
        backoffMaxMs: 12_000,
      },
    );
    await informer.start();
    expect(informer.lists).toBe(1);
    await client.create(Resources.HomeOpsDatabase, hodb('gone'));
    await eventually(() => informer.get(ns.name, 'gone'), 10_000);
    execFileSync('bash', [join(repo, 'hack', 'cluster.sh'), 'restart', 'kube-apiserver'], {
      stdio: 'ignore',
    });
    await annotate('gone', { [A.seq]: 'after-compaction' });
    execFileSync('bash', [join(repo, 'hack', 'cluster.sh'), 'compact'], { stdio: 'ignore' });
    try {
      await eventually(
        () => informer.get(ns.name, 'gone')?.metadata.annotations?.[A.seq] === 'after-compaction',
        60_000,
      );
      expect(informer.lists).toBeGreaterThanOrEqual(2);
    } finally {
      await informer.stop();
    }
  });
});

describe('informers', () => {
  it('start at once when first asked for after the manager started, and a read can wait for their sync', async () => {
    await client.create(Resources.ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'late', namespace: ns.name },
      data: { a: '1' },
    });
    // The trivial operator never asked for ConfigMaps: this informer is created after start().
    const informer = op.manager.informer<KubeObject & { data?: Record<string, string> }>(Resources.ConfigMap);
    await Promise.race([
      informer.waitForSync(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new Error('the late informer never synced')), 10_000),
      ),
    ]);
    expect(informer.hasSynced).toBe(true);
    expect(informer.get(ns.name, 'late')?.data).toEqual({ a: '1' });
    await client.create(Resources.ConfigMap, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'later', namespace: ns.name },
    });
    await eventually(() => informer.get(ns.name, 'later'), 10_000);
  });
});
