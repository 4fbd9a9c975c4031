/**
 * CacheTier on the real node: Redis 7 in a pod the operator wrote, with its AOF on a PVC, the
 * generated password from a Secret, the live settings applied with CONFIG SET, and status from
 * INFO. The operator runs out of the cluster and reaches the pod by its IP.
 */
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerCacheTierController } from '../../src/controllers/cachetier/controller.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { eventsSince, localImages } from '../support/realnode.ts';

const IMAGES = localImages();
const TIER = 'cache';
const POD = `${TIER}-redis-0`;
const INTERVAL = 5;

type Cond = { type: string; status: string; reason: string; message: string };
type Tier = KubeObject & {
  status?: {
    conditions?: Cond[];
    memory?: { usedBytes: number; maxBytes?: number; usedPercent?: number };
    keys?: number;
    evictedKeys?: number;
    connectedClients?: number;
    persistence?: { aofEnabled?: boolean; lastAofWriteStatus?: string };
    rotation?: { since: string; until: string };
  };
};
type Pod = KubeObject & { status?: { containerStatuses?: { restartCount: number }[] } };

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;

const getTier = () => client.get<Tier>(Resources.CacheTier, ns.name, TIER);
const getPod = () => client.get<Pod>(Resources.Pod, ns.name, POD);
/** redis-cli in the pod, authenticated from the mounted Secret (REDISCLI_AUTH, not argv). */
async function cli(args: string, stdin?: string): Promise<string> {
  const script = stdin
    ? `export REDISCLI_AUTH=$(cat /etc/homeops/secrets/redis/password); ${stdin} | redis-cli ${args}`
    : `export REDISCLI_AUTH=$(cat /etc/homeops/secrets/redis/password); redis-cli ${args}`;
  return (await kubectl('exec', '-n', ns.name, POD, '-c', 'redis', '--', 'sh', '-c', script)).trim();
}
const info = async (section: string) =>
  Object.fromEntries(
    (await cli(`INFO ${section}`))
      .split(/\r?\n/)
      .filter((l) => l.includes(':'))
      .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
  );
const ready = async () =>
  eventually(async () => {
    const o = await getTier();
    return cond(o, 'Ready')?.status === 'True' ? o : undefined;
  }, 240_000);
const patchSpec = (spec: Record<string, unknown>) =>
  client.patch(Resources.CacheTier, ns.name, TIER, { spec }, MERGE_PATCH);

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e-cache');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(ns.name, `e2e-cache-${ns.name}`);
  registerCacheTierController(manager, { endpointMap: {}, serviceAddresses: 'cluster-ip', images: IMAGES });
  await manager.start();
  await client.create(Resources.CacheTier, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'CacheTier',
    metadata: { name: TIER, namespace: ns.name },
    spec: {
      maxMemory: '64mb',
      healthCheckIntervalSeconds: INTERVAL,
      persistence: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
    },
  });
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('a CacheTier on the real node', () => {
  it('runs Redis with the guide policy, Ready with figures equal to INFO in the pod', async () => {
    const o = await ready();
    const mem = await info('memory');
    expect(o.status?.memory?.maxBytes).toBe(64 * 1024 * 1024);
    expect(Number(mem.maxmemory)).toBe(64 * 1024 * 1024);
    expect(mem.maxmemory_policy).toBe('allkeys-lru');
    const persistence = await info('persistence');
    expect(o.status?.persistence?.aofEnabled).toBe(persistence.aof_enabled === '1');
    expect(persistence.aof_enabled).toBe('1');
    expect(o.status?.keys).toBe(Number(await cli('DBSIZE')));
    expect(await cli('CONFIG GET appendfsync')).toBe('appendfsync\neverysec');
    expect(cond(o, 'ConfigApplied')?.status).toBe('True');
    // The password is required: no command without it.
    const anonymous = await kubectl('exec', '-n', ns.name, POD, '-c', 'redis', '--', 'redis-cli', 'PING');
    expect(anonymous.trim()).toMatch(/NOAUTH/);
    const ttl = await client.get<KubeObject & { data?: Record<string, string> }>(
      Resources.ConfigMap,
      ns.name,
      `${TIER}-ttl`,
    );
    expect(ttl.data?.session).toBe('900');
    expect(JSON.parse(ttl.data!['ttl.json']!).aggregationsMax).toBe(21600);
  });

  it('keeps 10,000 keys through a pod restart (AOF on the PVC)', async () => {
    await cli('>/dev/null', "seq 1 10000 | sed 's/.*/SET k& v&/'");
    expect(await cli('DBSIZE')).toBe('10000');
    const old = await getPod();
    await client.delete(Resources.Pod, ns.name, POD);
    await eventually(async () => {
      const p = await getPod().catch(() => undefined);
      return p && p.metadata.uid !== old.metadata.uid;
    }, 120_000);
    await eventually(async () => (await cli('DBSIZE').catch(() => '')) === '10000', 120_000, 500);
    expect(await cli('GET k1234')).toBe('v1234');
    const o = await eventually(async () => {
      const t = await getTier();
      return cond(t, 'Ready')?.status === 'True' && t.status?.keys === 10000 ? t : undefined;
    }, 120_000);
    expect(o.status?.keys).toBe(10000);
  });

  it('applies maxMemory and maxMemoryPolicy to the running Redis without a restart, and keeps them after one', async () => {
    const before = await getPod();
    await patchSpec({ maxMemory: '96mb', maxMemoryPolicy: 'allkeys-lfu' });
    await eventually(
      async () =>
        (await cli('CONFIG GET maxmemory')) === `maxmemory\n${96 * 1024 * 1024}` &&
        (await cli('CONFIG GET maxmemory-policy')) === 'maxmemory-policy\nallkeys-lfu',
      60_000,
      500,
    );
    const after = await getPod();
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(after.status?.containerStatuses?.[0]?.restartCount).toBe(
      before.status?.containerStatuses?.[0]?.restartCount,
    );
    // A later restart reads them from the ConfigMap.
    await client.delete(Resources.Pod, ns.name, POD);
    await eventually(async () => {
      const p = await getPod().catch(() => undefined);
      return p && p.metadata.uid !== after.metadata.uid;
    }, 120_000);
    await eventually(
      async () => (await cli('CONFIG GET maxmemory').catch(() => '')) === `maxmemory\n${96 * 1024 * 1024}`,
      120_000,
      500,
    );
    expect(await cli('CONFIG GET maxmemory-policy')).toBe('maxmemory-policy\nallkeys-lfu');
  });

  it('writes nothing over two idle intervals', async () => {
    await ready();
    // Let the restarted pod's figures settle into status first.
    await new Promise((r) => setTimeout(r, INTERVAL * 1000 + 1000));
    const before = await getTier();
    await new Promise((r) => setTimeout(r, 2 * INTERVAL * 1000 + 1000));
    expect((await getTier()).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  });

  it('counts evictions and says MemoryPressure past 90 % of maxmemory, then clears it', async () => {
    const since = Date.now();
    await patchSpec({ maxMemory: '16mb' });
    await eventually(
      async () => (await cli('CONFIG GET maxmemory')) === `maxmemory\n${16 * 1024 * 1024}`,
      60_000,
      500,
    );
    try {
      await cli(
        '>/dev/null',
        'v=$(printf "%01000d" 0); seq 1 30000 | while read i; do echo "SET big$i $v"; done',
      );
      // A probe can land between 90 % and the first eviction: pressure first, the count later.
      const pressed = await eventually(async () => {
        const t = await getTier();
        return cond(t, 'MemoryPressure')?.status === 'True' && (t.status?.evictedKeys ?? 0) > 0
          ? t
          : undefined;
      }, 60_000);
      expect(Number((await info('stats')).evicted_keys)).toBeGreaterThanOrEqual(pressed.status!.evictedKeys!);
    } finally {
      // A failure here must not leave a full 16 MB cache evicting the next test's keys.
      await cli('FLUSHALL');
    }
    await eventually(async () => cond(await getTier(), 'MemoryPressure')?.status === 'False', 60_000);
    const events = await eventsSince(client, ns.name, TIER, since);
    expect(events).toContain('MemoryPressure/AboveThreshold');
    expect(events).toContain('MemoryPressure/BelowThreshold');
  });

  it('names bad input and touches nothing for it: a missing secretRef, maxMemory above the memory limit, an image without redis-server', async () => {
    const make = (name: string, spec: Record<string, unknown>) =>
      client.create(Resources.CacheTier, {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'CacheTier',
        metadata: { name, namespace: ns.name },
        spec: { persistence: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } }, ...spec },
      });
    await make('nosecret', { auth: { secretRef: { name: 'not-there' } } });
    await make('toobig', { maxMemory: '2gb', resources: { limits: { memory: '256Mi' } } });
    // The pgbouncer image has a shell but no redis-server.
    await make('noserver', { image: IMAGES.pgbouncer, maxMemory: '16mb' });
    const readyOf = async (name: string) =>
      cond(await client.get<Tier>(Resources.CacheTier, ns.name, name), 'Ready');
    await eventually(async () => (await readyOf('nosecret'))?.reason === 'SecretNotFound', 60_000);
    await eventually(async () => (await readyOf('toobig'))?.reason === 'MaxMemoryAboveLimit', 60_000);
    const stalled = await client.get<Tier>(Resources.CacheTier, ns.name, 'toobig');
    expect(cond(stalled, 'Stalled')).toMatchObject({ status: 'True', reason: 'MaxMemoryAboveLimit' });
    expect(cond(stalled, 'Stalled')?.message).toContain("above the container's memory limit 256Mi");
    for (const name of ['nosecret', 'toobig'])
      expect(await client.get(Resources.StatefulSet, ns.name, `${name}-redis`).catch((e) => e.code)).toBe(
        404,
      );
    const missing = await eventually(async () => {
      const c = await readyOf('noserver');
      return c?.reason === 'RedisServerMissing' ? c : undefined;
    }, 120_000);
    expect(missing.message).toContain('the image has no redis-server on PATH');
    // The running tier was not touched by any of them.
    expect(cond(await getTier(), 'Ready')?.status).toBe('True');
    for (const name of ['nosecret', 'toobig', 'noserver'])
      await client.delete(Resources.CacheTier, ns.name, name);
  });

  it('rotates the password while a client writes: no failed command, no key lost, no restart', async () => {
    await patchSpec({ auth: { rotationGraceSeconds: 15 } });
    const pod = await getPod();
    const host = (pod.status as { podIP?: string }).podIP!;
    const secretOf = async () =>
      Buffer.from(
        (
          await client.get<KubeObject & { data: { password: string } }>(
            Resources.Secret,
            ns.name,
            `${TIER}-redis-auth`,
          )
        ).data.password,
        'base64',
      ).toString();
    const oldPassword = await secretOf();
    const connect = (password: string) =>
      new Redis({
        host,
        port: 6379,
        password,
        maxRetriesPerRequest: 0,
        lazyConnect: true,
        retryStrategy: () => null,
      });
    let current = connect(oldPassword);
    await current.connect();
    let written = 0;
    const failures: string[] = [];
    let running = true;
    const since = Date.now();
    const writer = (async () => {
      while (running) {
        try {
          await current.set(`rot:${written}`, String(written));
          written++;
        } catch (e) {
          failures.push(String((e as Error).message));
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    try {
      const newPassword = randomBytes(32).toString('base64url');
      await client.patch(
        Resources.Secret,
        ns.name,
        `${TIER}-redis-auth`,
        { stringData: { password: newPassword } },
        MERGE_PATCH,
      );
      // Both accepted: the application switches to the new password meanwhile.
      await eventually(async () => (await getTier()).status?.rotation !== undefined, 60_000);
      const next = connect(newPassword);
      await next.connect();
      const old = current;
      current = next;
      old.disconnect();
      // The grace ends: the old password is refused, the new one works.
      await eventually(async () => (await getTier()).status?.rotation === undefined, 60_000);
      await new Promise((r) => setTimeout(r, 500));
      const stale = new Redis({
        host,
        port: 6379,
        lazyConnect: true,
        enableReadyCheck: false,
        maxRetriesPerRequest: 0,
        retryStrategy: () => null,
      });
      stale.on('error', () => {});
      await stale.connect();
      await expect(stale.auth(oldPassword)).rejects.toThrow(/WRONGPASS/);
      expect(await stale.auth(newPassword)).toBe('OK');
      stale.disconnect();
    } finally {
      running = false;
      await writer;
    }
    expect(failures).toEqual([]);
    expect(written).toBeGreaterThan(50);
    const keys = await current.keys('rot:*');
    expect(keys.length).toBe(written);
    current.disconnect();
    const after = await getPod();
    expect(after.metadata.uid).toBe(pod.metadata.uid);
    const events = await eventsSince(client, ns.name, TIER, since);
    expect(events).toContain('RotatePassword/PasswordRotationStarted');
    expect(events).toContain('RotatePassword/PasswordRotated');
  });
});
