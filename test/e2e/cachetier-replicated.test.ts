/**
 * A replicated CacheTier on the real node: three Redis pods that start as replicas, one elected
 * writer behind NAME, the linked replicas behind NAME-ro; a writer frozen (cgroup freezer) is
 * failed over after failoverAfterSeconds with no replicated key lost, and comes back as a
 * replica; a new pod template restarts the replicas first and the writer last after a
 * switchover. The operator runs out of the cluster; the test reaches the Services' ClusterIPs
 * and the pods' IPs from the node.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCacheTierController } from '../../src/controllers/cachetier/controller.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { eventRecords, freezePod, localImages } from '../support/realnode.ts';
import { redisClient } from '../support/redis.ts';

const TIER = 'rcache';
const INTERVAL = 5;
const FAILOVER_AFTER = 8;

type Cond = { type: string; status: string; reason: string; message: string };
type Member = { name: string; role: string; linkUp?: boolean; lagBytes?: number; inReadService?: boolean };
type Tier = KubeObject & {
  status?: {
    conditions?: Cond[];
    writer?: string;
    members?: Member[];
    keys?: number;
    rotation?: { since: string; until: string };
  };
};
type Pod = KubeObject & { status?: { podIP?: string } };

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;
let password: string;

const getTier = () => client.get<Tier>(Resources.CacheTier, ns.name, TIER);
const pod = (i: number) => `${TIER}-redis-${i}`;
const getPod = (name: string) => client.get<Pod>(Resources.Pod, ns.name, name);
const clusterIP = async (svc: string) =>
  (await client.get<KubeObject & { spec: { clusterIP: string } }>(Resources.Service, ns.name, svc)).spec
    .clusterIP;
/** A short-lived client; `host` a pod IP or a ClusterIP. */
async function redisAt<T>(host: string, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = redisClient(host, password, 6000);
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}
const roleOf = async (name: string) => {
  const ip = (await getPod(name)).status?.podIP;
  if (!ip) return 'none';
  return redisAt(ip, async (r) => /role:(\w+)/.exec(await r.info('replication'))?.[1] ?? 'unknown').catch(
    () => 'unreachable',
  );
};
const settled = (want: (t: Tier) => boolean, ms = 180_000) =>
  eventually(async () => {
    const t = await getTier();
    return cond(t, 'Ready')?.status === 'True' && want(t) ? t : undefined;
  }, ms);
/** Every member a replica in NAME-ro except the writer: the steady shape. */
const whole = (t: Tier) =>
  (t.status?.members ?? []).length === 3 &&
  t.status!.members!.every((m) =>
    m.name === t.status!.writer ? m.role === 'writer' : m.role === 'replica' && m.inReadService === true,
  );

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e-rcache');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(ns.name, `e2e-rcache-${ns.name}`);
  registerCacheTierController(manager, {
    endpointMap: {},
    serviceAddresses: 'cluster-ip',
    images: localImages(),
    timeoutMs: 2000,
  });
  await manager.start();
  await client.create(Resources.CacheTier, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'CacheTier',
    metadata: { name: TIER, namespace: ns.name },
    spec: {
      mode: 'replicated',
      replicas: 3,
      maxMemory: '64mb',
      failoverAfterSeconds: FAILOVER_AFTER,
      healthCheckIntervalSeconds: INTERVAL,
      persistence: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
    },
  });
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('a replicated CacheTier on the real node', () => {
  it('elects one writer; a key written through NAME is read through NAME-ro', async () => {
    const t = await settled(whole, 300_000);
    expect(t.status?.writer).toBe(pod(0));
    const secret = await client.get<KubeObject & { data: { password: string } }>(
      Resources.Secret,
      ns.name,
      `${TIER}-redis-auth`,
    );
    password = Buffer.from(secret.data.password, 'base64').toString();
    expect((await Promise.all([0, 1, 2].map((i) => roleOf(pod(i))))).sort()).toEqual([
      'master',
      'slave',
      'slave',
    ]);
    const writer = await clusterIP(TIER);
    const readers = await clusterIP(`${TIER}-ro`);
    await redisAt(writer, (r) => r.set('hello', 'world'));
    await eventually(async () => (await redisAt(readers, (r) => r.get('hello'))) === 'world', 30_000, 200);
    // A replica refuses writes: NAME-ro is for reads only.
    await expect(redisAt(readers, (r) => r.set('x', 'y'))).rejects.toThrow(/READONLY/);
    expect(cond(t, 'ReplicaLagging')?.status).toBe('False');
  });

  it('writes nothing over two idle intervals: no status write, no label moved', async () => {
    await settled(whole);
    // The last test's reads leave the hit ratio of one interval, gone the interval after.
    await new Promise((r) => setTimeout(r, 2 * INTERVAL * 1000 + 1000));
    const versions = async () => [
      (await getTier()).metadata.resourceVersion,
      ...(await Promise.all([0, 1, 2].map(async (i) => (await getPod(pod(i))).metadata.resourceVersion))),
    ];
    const before = await versions();
    const status = (await getTier()).status;
    await new Promise((r) => setTimeout(r, 2 * INTERVAL * 1000 + 1000));
    expect((await getTier()).status).toEqual(status);
    expect(await versions()).toEqual(before);
  });

  it('does not fail over for a blip shorter than failoverAfterSeconds', async () => {
    const before = await settled(whole);
    const writer = before.status!.writer!;
    const uid = (await getPod(writer)).metadata.uid!;
    const since = Date.now();
    freezePod(uid, true);
    await new Promise((r) => setTimeout(r, 2000));
    freezePod(uid, false);
    await new Promise((r) => setTimeout(r, 2 * INTERVAL * 1000 + 1000));
    const after = await settled(whole);
    expect(after.status?.writer).toBe(writer);
    const events = await eventRecords(client, ns.name, TIER, since);
    expect(events.filter((e) => e.action === 'ElectWriter')).toEqual([]);
  });

  it('fails a frozen writer over after failoverAfterSeconds, with no replicated key lost; the old writer rejoins as a replica', async () => {
    const old = await getTier();
    const oldWriter = old.status!.writer!;
    const oldPod = await getPod(oldWriter);
    const keys = await redisAt(oldPod.status!.podIP!, async (r) => {
      const p = r.pipeline();
      for (let i = 0; i < 2000; i++) p.set(`fo:${i}`, String(i));
      await p.exec();
      // Both replicas have every key before the failure.
      expect(await r.call('WAIT', '2', '5000')).toBe(2);
      return r.dbsize();
    });
    const since = Date.now();
    freezePod(oldPod.metadata.uid!, true);
    let thawed = false;
    try {
      const after = await eventually(
        async () => {
          const t = await getTier();
          return t.status?.writer && t.status.writer !== oldWriter ? t : undefined;
        },
        120_000,
        250,
      );
      const newWriter = after.status!.writer!;
      const events = await eventRecords(client, ns.name, TIER, since);
      const failover = events.find((e) => e.reason === 'FailedOver');
      expect(failover?.note).toContain(`writer ${oldWriter} did not answer`);
      // The clock runs from the writer's last answer, at most one interval before the freeze.
      expect(failover!.time - since).toBeGreaterThanOrEqual((FAILOVER_AFTER - INTERVAL) * 1000);
      // The writer Service routes to the new writer: writes work, and every key is there.
      const writer = await clusterIP(TIER);
      await eventually(
        async () => (await redisAt(writer, (r) => r.set('after', '1')).catch(() => '')) === 'OK',
        30_000,
        250,
      );
      expect(await redisAt(writer, (r) => r.dbsize())).toBe(keys + 1);
      expect(await roleOf(newWriter)).toBe('master');
      freezePod(oldPod.metadata.uid!, false);
      thawed = true;
      // Thawed, the old writer is a writer again for a moment; the operator demotes it.
      const t = await settled((x) => whole(x) && x.status?.writer === newWriter);
      const roles = await Promise.all([0, 1, 2].map((i) => roleOf(pod(i))));
      expect(roles.filter((r) => r === 'master')).toEqual(['master']);
      expect(await roleOf(oldWriter)).toBe('slave');
      expect(t.status?.members?.find((m) => m.name === oldWriter)).toMatchObject({
        role: 'replica',
        linkUp: true,
      });
      const demoted = (await eventRecords(client, ns.name, TIER, since)).find(
        (e) => e.reason === 'WriterDemoted',
      );
      expect(demoted?.note).toContain(`${oldWriter} was a second writer`);
      // The old writer resynchronised from the new one: the key written after the failover is there.
      await eventually(
        async () => (await redisAt(oldPod.status!.podIP!, (r) => r.get('after'))) === '1',
        30_000,
        250,
      );
    } finally {
      if (!thawed) freezePod(oldPod.metadata.uid!, false);
    }
  });

  it('rotates the password on every member; replicas re-authenticate to the writer with the new one', async () => {
    await client.patch(
      Resources.CacheTier,
      ns.name,
      TIER,
      { spec: { auth: { rotationGraceSeconds: 5 } } },
      MERGE_PATCH,
    );
    const old = password;
    const next = `rot-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    await client.patch(
      Resources.Secret,
      ns.name,
      `${TIER}-redis-auth`,
      { stringData: { password: next } },
      MERGE_PATCH,
    );
    const rotated = await eventually(async () => (await getTier()).status?.rotation, 60_000, 250);
    expect(rotated).toBeDefined();
    await eventually(async () => (await getTier()).status?.rotation === undefined, 60_000, 250);
    password = next;
    const ips = await Promise.all([0, 1, 2].map(async (i) => (await getPod(pod(i))).status!.podIP!));
    for (const ip of ips) {
      // Every member: the new password works, the old one is refused.
      const r = new Redis({
        host: ip,
        port: 6379,
        lazyConnect: true,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      r.on('error', () => {});
      await r.connect();
      await expect(r.auth(old)).rejects.toThrow(/WRONGPASS/);
      expect(await r.auth(next)).toBe('OK');
      r.disconnect();
    }
    // Cut the replicas' links: they come back only if masterauth is the new password.
    const writer = await clusterIP(TIER);
    await redisAt(writer, (r) => r.call('CLIENT', 'KILL', 'TYPE', 'replica'));
    await redisAt(writer, (r) => r.set('after-rotation', '1'));
    await eventually(
      async () => (await redisAt(await clusterIP(`${TIER}-ro`), (r) => r.get('after-rotation'))) === '1',
      30_000,
      250,
    );
    const t = await settled(whole);
    expect(t.status?.members?.filter((m) => m.linkUp).length).toBe(2);
  });

  it('restarts for a new pod template replicas first, then the writer after a switchover, losing no key', async () => {
    const before = await settled(whole);
    const writer = before.status!.writer!;
    const keys = await redisAt(await clusterIP(TIER), (r) => r.dbsize());
    const uids = new Map(
      await Promise.all([0, 1, 2].map(async (i) => [pod(i), (await getPod(pod(i))).metadata.uid!] as const)),
    );
    const since = Date.now();
    await client.patch(
      Resources.CacheTier,
      ns.name,
      TIER,
      { spec: { resources: { requests: { cpu: '10m' } } } },
      MERGE_PATCH,
    );
    await eventually(
      async () => {
        const all = await Promise.all([0, 1, 2].map((i) => getPod(pod(i)).catch(() => undefined)));
        return all.every((p) => p && p.metadata.uid !== uids.get(p.metadata.name!));
      },
      300_000,
      1000,
    );
    const after = await settled(whole);
    expect(after.status?.writer).not.toBe(writer);
    const events = (await eventRecords(client, ns.name, TIER, since)).filter((e) => e.action === 'Restart');
    const order = events.map((e) =>
      e.reason === 'Switchover'
        ? 'switchover'
        : /^(\S+) restarted/.exec(e.note)?.[1] === writer
          ? 'writer'
          : 'replica',
    );
    expect(order).toEqual(['replica', 'replica', 'switchover', 'writer']);
    expect(await redisAt(await clusterIP(TIER), (r) => r.dbsize())).toBe(keys);
  });
});

describe('a replicated CacheTier scaled down', () => {
  it('adopts a writer promoted by hand, then moves the writer off a member the scale-down removes', async () => {
    await settled(whole);
    const ip = async (i: number) => (await getPod(pod(i))).status!.podIP!;
    const current = (await getTier()).status!.writer!;
    if (current !== pod(2)) {
      // A switchover by hand (FAILOVER, as an admin would run it): the operator follows it.
      const from = await ip(Number(current.slice(-1)));
      await redisAt(from, async (r) => r.call('FAILOVER', 'TO', await ip(2), '6379', 'TIMEOUT', '10000'));
      await settled((t) => whole(t) && t.status?.writer === pod(2));
    }
    const keys = await redisAt(await clusterIP(TIER), (r) => r.dbsize());
    const since = Date.now();
    await client.patch(Resources.CacheTier, ns.name, TIER, { spec: { replicas: 1 } }, MERGE_PATCH);
    const t = await settled(
      (x) =>
        x.status?.writer === pod(0) &&
        x.status?.members?.length === 1 &&
        x.status.members[0]!.role === 'writer',
    );
    expect(t.status?.writer).toBe(pod(0));
    for (const i of [1, 2])
      await eventually(async () => (await getPod(pod(i)).catch((e) => e.code)) === 404, 120_000);
    const events = await eventRecords(client, ns.name, TIER, since);
    const moved = events.find((e) => e.reason === 'Switchover');
    expect(moved?.note).toBe(
      `writer moved from ${pod(2)} to ${pod(0)}: the scale-down to 1 removes ${pod(2)}`,
    );
    expect(events.some((e) => e.reason === 'FailedOver')).toBe(false);
    expect(await redisAt(await clusterIP(TIER), (r) => r.dbsize())).toBe(keys);
  });
});
