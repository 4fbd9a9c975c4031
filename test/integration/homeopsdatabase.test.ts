/**
 * The HomeOpsDatabase controller on the real API server (kwok runs the pods) and the real local
 * PostgreSQL 15 and PgBouncer (reached through the operator's endpoint map): children and
 * ownership, Ready with measured figures that match psql, silence when idle, a spec change that
 * rolls the pod, Secrets never regenerated, and each failure named in status.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { type KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { auditEvents, WRITE_VERBS } from '../support/audit.ts';
import { cond } from '../support/conditions.ts';
import { dataplane, superuserConfig, withClient } from '../support/dataplane.ts';
import { type Db, databases, startOperator, stop, type TestEnv, testEnv } from '../support/env.ts';
import { eventually, onKwok } from '../support/kube.ts';

const repo = join(import.meta.dirname, '..', '..');
const hack = (cmd: string) =>
  execFileSync('bash', [join(repo, 'hack', 'dataplane.sh'), cmd], { stdio: 'ignore' });
let live: TestEnv;
let ns: TestEnv['ns'];
let client: KubeClient;
let manager: Manager;
let identity: string;
let dbs: ReturnType<typeof databases>;

const secret = (name: string) =>
  client.get<KubeObject & { data?: Record<string, string> }>(Resources.Secret, ns.name, name);

async function makeSecret(name: string, data: Record<string, string>) {
  await client.create(Resources.Secret, {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: ns.name },
    stringData: data,
  });
}

beforeAll(async () => {
  live = await testEnv('hodb');
  ({ ns, client } = live);
  dbs = databases(live);
  const env = dataplane();
  const primary = `127.0.0.1:${env.HOMEOPS_PG_PORT}`;
  const endpointMap = {
    [`ready-rw.${ns.name}.svc:5432`]: primary,
    [`ready-pooler.${ns.name}.svc:5432`]: `127.0.0.1:${env.HOMEOPS_PGBOUNCER_PORT}`,
    [`gen-rw.${ns.name}.svc:5432`]: primary,
    [`bad-rw.${ns.name}.svc:5432`]: primary,
  };
  // The ready database uses the local servers' credentials, made before it (the operator adopts them).
  await makeSecret('ready-superuser', { username: 'postgres', password: env.HOMEOPS_PG_SUPERUSER_PASSWORD! });
  await makeSecret('ready-app', { username: 'homeops', password: env.HOMEOPS_PG_APP_PASSWORD! });
  await makeSecret('ready-replication', {
    username: 'replicator',
    password: env.HOMEOPS_PG_REPLICATION_PASSWORD!,
  });
  await makeSecret('ready-pooler-auth', {
    username: 'pgbouncer_auth',
    password: env.HOMEOPS_PGBOUNCER_AUTH_PASSWORD!,
  });

  identity = `hodb-test-${ns.name}`;
  manager = await startOperator(live, identity, (m) =>
    registerHomeOpsDatabaseController(m, {
      endpointMap,
      probeTimeoutMs: 2000,
      retry: { attempts: 2, baseDelayMs: 100 },
    }),
  );
});

afterAll(() => stop(live, manager));

describe('a database on the local servers', () => {
  it('gets its children, owned by it, and becomes Ready with figures that match psql', async () => {
    const created = await dbs.create('ready');
    const ready = await dbs.until('ready', 'Ready', 'True');
    expect(ready.status?.observedGeneration).toBe(created.metadata.generation);
    expect(ready.status?.phase).toBe('Ready');
    expect(cond(ready, 'PrimaryAvailable')?.reason).toBe('Connected');
    expect(cond(ready, 'PoolerAvailable')?.status).toBe('True');
    expect(ready.status?.endpoints).toEqual({
      primary: `ready-rw.${ns.name}.svc:5432`,
      pooler: `ready-pooler.${ns.name}.svc:5432`,
    });
    expect(ready.status?.timescale).toEqual({ available: false });
    expect(ready.status?.pooler?.readyInstances).toBe(1);

    for (const [type, name] of [
      [Resources.StatefulSet, 'ready'],
      [Resources.Service, 'ready-rw'],
      [Resources.Service, 'ready-hl'],
      [Resources.ConfigMap, 'ready-config'],
      [Resources.Deployment, 'ready-pooler'],
      [Resources.Service, 'ready-pooler'],
      [Resources.PodDisruptionBudget, 'ready'],
    ] as const) {
      const child = await client.get(type, ns.name, name);
      expect(child.metadata.ownerReferences?.[0], `${type.kind}/${name}`).toMatchObject({
        uid: created.metadata.uid,
        controller: true,
      });
    }
    // No finalizer: nothing has to happen before a database goes.
    expect(ready.metadata.finalizers ?? []).toEqual([]);
    // The user's Secret was adopted (labelled), its data untouched; under Retain (the default)
    // it has no owner: it must outlive the database, like the volume it opens.
    const s = await secret('ready-superuser');
    expect(s.metadata.labels?.['homeops.io/database']).toBe('ready');
    expect(s.metadata.ownerReferences ?? []).toEqual([]);
    expect(Buffer.from(s.data!.password!, 'base64').toString()).toBe(
      dataplane().HOMEOPS_PG_SUPERUSER_PASSWORD,
    );

    const psql = await withClient(superuserConfig({ database: 'homeops' }), async (c) => {
      const max = await c.query('SHOW max_connections');
      const hit = await c.query(
        'SELECT sum(blks_hit)::float8 / nullif(sum(blks_hit) + sum(blks_read), 0) AS r FROM pg_stat_database WHERE datname = current_database()',
      );
      return { max: Number(max.rows[0].max_connections), hit: Number(hit.rows[0].r) };
    });
    expect(ready.status?.primary?.connections?.max).toBe(psql.max);
    expect(ready.status?.primary?.cacheHitRatio).toBeCloseTo(psql.hit, 1);
  });

  it('is silent when idle: no write and no get/list over more than two probe intervals', async () => {
    await eventually(async () => {
      const o = await dbs.get('ready');
      return o.status?.observedGeneration === o.metadata.generation && cond(o, 'Ready')?.status === 'True';
    });
    await new Promise((r) => setTimeout(r, 6000)); // let the first figures settle
    const since = new Date();
    await new Promise((r) => setTimeout(r, 12_000));
    const events = auditEvents(`homeops-operator/${identity}`, since);
    expect(events.filter((e) => WRITE_VERBS.has(e.verb)).map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
    expect(events.filter((e) => e.verb === 'get' || e.verb === 'list').map((e) => e.requestURI)).toEqual([]);
  });

  it('applies a spec change to the changed fields only, rolls the pod via the checksum for a setting read at start, and keeps the Secrets', async () => {
    const secretsBefore = await Promise.all(
      ['superuser', 'app', 'replication', 'pooler-auth'].map((r) => secret(`ready-${r}`)),
    );
    const stsBefore = await client.get<
      KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } }
    >(Resources.StatefulSet, ns.name, 'ready');
    const podBefore = await client.get(Resources.Pod, ns.name, 'ready-0');
    const patched = await client.patch<Db>(
      Resources.HomeOpsDatabase,
      ns.name,
      'ready',
      { spec: { postgres: { parameters: { max_connections: '120' } } } },
      MERGE_PATCH,
    );
    await eventually(
      async () => (await dbs.get('ready')).status?.observedGeneration === patched.metadata.generation,
    );
    const cm = await client.get<KubeObject & { data: Record<string, string> }>(
      Resources.ConfigMap,
      ns.name,
      'ready-config',
    );
    expect(cm.data['postgresql.conf']).toContain('max_connections = 120');
    const sts = await client.get<typeof stsBefore>(Resources.StatefulSet, ns.name, 'ready');
    const key = 'homeops.io/config-checksum';
    expect(sts.spec.template.metadata.annotations[key]).not.toBe(
      stsBefore.spec.template.metadata.annotations[key],
    );
    // The pooler's config did not change, so its Deployment was not touched.
    const secretsAfter = await Promise.all(
      ['superuser', 'app', 'replication', 'pooler-auth'].map((r) => secret(`ready-${r}`)),
    );
    expect(secretsAfter.map((s) => s.metadata.resourceVersion)).toEqual(
      secretsBefore.map((s) => s.metadata.resourceVersion),
    );
    // The StatefulSet controller replaces the pod (kwok honours the 60 s grace period).
    const podAfter = await eventually(
      async () => {
        const p = await client.get<KubeObject>(Resources.Pod, ns.name, 'ready-0').catch(() => undefined);
        return p && p.metadata.uid !== podBefore.metadata.uid ? p : undefined;
      },
      150_000,
      1000,
    );
    expect(podAfter.metadata.annotations?.[key]).toBe(sts.spec.template.metadata.annotations[key]);
  });

  it('writes a setting PostgreSQL reloads into the ConfigMap without rolling the pod, and says the reload waits for the file', async () => {
    await dbs.until('ready', 'Ready', 'True', 150_000);
    type Sts = KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } };
    const stsBefore = await client.get<Sts>(Resources.StatefulSet, ns.name, 'ready');
    const podBefore = await client.get(Resources.Pod, ns.name, 'ready-0');
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      'ready',
      { spec: { postgres: { parameters: { work_mem: '8MB' } } } },
      MERGE_PATCH,
    );
    const cm = await eventually(async () => {
      const c = await client.get<KubeObject & { data: Record<string, string> }>(
        Resources.ConfigMap,
        ns.name,
        'ready-config',
      );
      return c.data['postgresql.conf']?.includes("work_mem = '8MB'") ? c : undefined;
    }, 30_000);
    expect(cm.data['postgresql.conf']).toContain('max_connections = 120');
    // The host's server does not read this ConfigMap: the operator says the reload still waits.
    const o = await eventually(async () => {
      const d = await dbs.get('ready');
      return /reloads it once the file reaches the pod/.test(cond(d, 'ParametersApplied')?.message ?? '')
        ? d
        : undefined;
    }, 30_000);
    expect(cond(o, 'ParametersApplied')?.status).toBe('True');
    const key = 'homeops.io/config-checksum';
    const sts = await client.get<Sts>(Resources.StatefulSet, ns.name, 'ready');
    expect(sts.spec.template.metadata.annotations[key]).toBe(
      stsBefore.spec.template.metadata.annotations[key],
    );
    expect((await client.get(Resources.Pod, ns.name, 'ready-0')).metadata.uid).toBe(podBefore.metadata.uid);
  });

  it('holds a parameter change PostgreSQL refuses: its message in status, nothing rolled, then the fix goes through', async () => {
    await dbs.until('ready', 'Ready', 'True', 150_000);
    type Sts = KubeObject & { spec: { template: { metadata: { annotations: Record<string, string> } } } };
    const key = 'homeops.io/config-checksum';
    const cmBefore = await client.get<KubeObject & { data: Record<string, string> }>(
      Resources.ConfigMap,
      ns.name,
      'ready-config',
    );
    const stsBefore = await client.get<Sts>(Resources.StatefulSet, ns.name, 'ready');
    const podBefore = await client.get(Resources.Pod, ns.name, 'ready-0');
    const bad = await client.patch<Db>(
      Resources.HomeOpsDatabase,
      ns.name,
      'ready',
      {
        spec: {
          postgres: { parameters: { work_mem: '8XB', shared_buffers: '12', random_page_cost: '1.1' } },
        },
      },
      MERGE_PATCH,
    );
    const held = await dbs.until('ready', 'ParametersApplied', 'False', 30_000);
    const c = cond(held, 'ParametersApplied')!;
    expect(c.reason).toBe('ParameterRejected');
    expect(c.message).toContain('invalid value for parameter "work_mem": "8XB"');
    expect(c.message).toContain('12 8kB is outside the valid range for parameter "shared_buffers"');
    expect(c.message).not.toContain('random_page_cost'); // fine on its own, held with the rest
    expect(held.status?.observedGeneration).toBe(bad.metadata.generation);
    expect(cond(held, 'Ready')?.status).toBe('True'); // the database goes on serving
    // Nothing of the change reached the configuration or the pod.
    const cm = await client.get<typeof cmBefore>(Resources.ConfigMap, ns.name, 'ready-config');
    expect(cm.data).toEqual(cmBefore.data);
    const sts = await client.get<Sts>(Resources.StatefulSet, ns.name, 'ready');
    expect(sts.spec.template.metadata.annotations[key]).toBe(
      stsBefore.spec.template.metadata.annotations[key],
    );
    expect((await client.get(Resources.Pod, ns.name, 'ready-0')).metadata.uid).toBe(podBefore.metadata.uid);
    // Back to the parameters in force: applied again, still without a restart.
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      'ready',
      {
        spec: { postgres: { parameters: { work_mem: '8MB', shared_buffers: null, random_page_cost: null } } },
      },
      MERGE_PATCH,
    );
    const fixed = await dbs.until('ready', 'ParametersApplied', 'True', 30_000);
    expect(cond(fixed, 'ParametersApplied')?.reason).toBe('Applied');
    expect((await client.get(Resources.Pod, ns.name, 'ready-0')).metadata.uid).toBe(podBefore.metadata.uid);
  });

  it('shows a deliberately slow query, and clears it when the statistics are reset', async () => {
    await withClient(superuserConfig({ database: 'homeops' }), (c) => c.query('SELECT pg_sleep(1.1)'));
    const slow = await dbs.until('ready', 'SlowQueries', 'True', 30_000);
    expect(slow.status?.primary?.slowQueries).toBeGreaterThanOrEqual(1);
    expect(slow.status?.phase).toBe('Degraded');
    await withClient(superuserConfig({ database: 'homeops' }), (c) =>
      c.query('SELECT pg_stat_statements_reset()'),
    );
    await dbs.until('ready', 'SlowQueries', 'False', 30_000);
  });

  it('moves the connection usage when connections are held open', async () => {
    const before = (await dbs.get('ready')).status!.primary!.connections!;
    const held: pg.Client[] = [];
    try {
      for (let i = 0; i < 20; i++) {
        const c = new pg.Client(superuserConfig({ database: 'homeops' }));
        await c.connect();
        held.push(c);
      }
      const during = await eventually(async () => {
        const p = (await dbs.get('ready')).status?.primary?.connections;
        return p && p.total >= before.total + 20 ? p : undefined;
      }, 30_000);
      expect(during.usagePercent).toBeGreaterThanOrEqual(before.usagePercent + 19);
    } finally {
      await Promise.all(held.map((c) => c.end()));
    }
  });

  it('names the outage when the primary stops, and recovers when it returns', async () => {
    hack('stop-primary');
    try {
      const down = await dbs.until('ready', 'PrimaryAvailable', 'False', 30_000);
      expect(cond(down, 'PrimaryAvailable')?.reason).toBe('ConnectionRefused');
      expect(cond(down, 'Ready')).toMatchObject({ status: 'False', reason: 'ConnectionRefused' });
      // Alerts that can no longer be measured are dropped, not guessed.
      expect(cond(down, 'SlowQueries')).toBeUndefined();
    } finally {
      hack('start-primary');
    }
    await dbs.until('ready', 'Ready', 'True', 60_000);
    const events = await client.list<
      KubeObject & { reason?: string; type?: string; regarding?: { name?: string } }
    >(Resources.Event, ns.name);
    expect(
      events.items.some(
        (e) => e.regarding?.name === 'ready' && e.type === 'Warning' && e.reason === 'ConnectionRefused',
      ),
    ).toBe(true);
  });

  it('names a pooler outage while the primary stays measured, and recovers when PgBouncer returns', async () => {
    hack('stop-pooler');
    try {
      const down = await dbs.until('ready', 'PoolerAvailable', 'False', 30_000);
      expect(cond(down, 'PoolerAvailable')?.reason).toBe('ConnectionRefused');
      expect(cond(down, 'Ready')).toMatchObject({ status: 'False', reason: 'ConnectionRefused' });
      expect(cond(down, 'Ready')?.message).toMatch(/^pooler: /);
      expect(cond(down, 'PrimaryAvailable')?.status).toBe('True');
      expect(down.status?.phase).toBe('Degraded');
      expect(down.status?.primary?.connections?.max).toBeGreaterThan(0);
    } finally {
      hack('start-pooler');
    }
    const back = await dbs.until('ready', 'Ready', 'True', 60_000);
    expect(cond(back, 'PoolerAvailable')).toMatchObject({ status: 'True', reason: 'Connected' });
  });

  it('says ExtensionMissing when pg_stat_statements is dropped, measures no slow queries meanwhile, and recovers', async () => {
    const su = superuserConfig({ database: 'homeops' });
    await withClient(su, (c) => c.query('DROP EXTENSION pg_stat_statements'));
    try {
      const missing = await eventually(async () => {
        const o = await dbs.get('ready');
        return cond(o, 'Ready')?.reason === 'ExtensionMissing' ? o : undefined;
      }, 30_000);
      expect(cond(missing, 'Ready')?.message).toContain('shared_preload_libraries');
      expect(missing.status?.primary?.slowQueries).toBeUndefined();
      expect(cond(missing, 'PrimaryAvailable')?.status).toBe('True');
    } finally {
      await withClient(su, (c) => c.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements'));
    }
    const back = await dbs.until('ready', 'Ready', 'True', 60_000);
    expect(back.status?.primary?.slowQueries).toBeTypeOf('number');
  });
});

describe('credentials', () => {
  it('generates the Secrets once with strong passwords and never regenerates them', async () => {
    await dbs.create('gen');
    const secrets = await eventually(async () => {
      const all = await Promise.all(
        ['superuser', 'app', 'replication', 'pooler-auth'].map((r) =>
          secret(`gen-${r}`).catch(() => undefined),
        ),
      );
      return all.every(Boolean) ? (all as NonNullable<(typeof all)[number]>[]) : undefined;
    }, 30_000);
    const passwords = secrets.map((s) => Buffer.from(s.data!.password!, 'base64').toString());
    expect(new Set(passwords).size).toBe(4);
    for (const p of passwords) expect(p).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const app = secrets[1]!.data!;
    expect(Object.keys(app).sort()).toEqual([
      'dbname',
      'host',
      'password',
      'pooler-host',
      'pooler-port',
      'pooler-uri',
      'port',
      'uri',
      'username',
    ]);
    // The local server does not know these passwords: the status says so precisely.
    const down = await dbs.until('gen', 'PrimaryAvailable', 'False', 60_000).then(async () =>
      eventually(async () => {
        const o = await dbs.get('gen');
        return cond(o, 'PrimaryAvailable')?.reason === 'AuthenticationFailed' ? o : undefined;
      }, 60_000),
    );
    expect(cond(down, 'Ready')?.reason).toBe('AuthenticationFailed');
    expect(JSON.stringify(down.status)).not.toContain(passwords[0]);
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      'gen',
      { spec: { pooler: { instances: 2 } } },
      MERGE_PATCH,
    );
    await eventually(async () => {
      const o = await dbs.get('gen');
      return o.status?.observedGeneration === o.metadata.generation;
    });
    const again = await Promise.all(
      ['superuser', 'app', 'replication', 'pooler-auth'].map((r) => secret(`gen-${r}`)),
    );
    expect(again.map((s) => s.metadata.resourceVersion)).toEqual(
      secrets.map((s) => s.metadata.resourceVersion),
    );
  });

  it('follows the reclaim policy: owned by the database under Delete, not under Retain', async () => {
    const owners = async () =>
      (
        await Promise.all(['superuser', 'app', 'replication', 'pooler-auth'].map((r) => secret(`gen-${r}`)))
      ).map((x) => (x.metadata.ownerReferences ?? []).map((o) => o.name).join(','));
    expect(await owners()).toEqual(['', '', '', '']);
    const setPolicy = (reclaimPolicy: string) =>
      client.patch(
        Resources.HomeOpsDatabase,
        ns.name,
        'gen',
        { spec: { postgres: { storage: { reclaimPolicy } } } },
        MERGE_PATCH,
      );
    await setPolicy('Delete');
    await eventually(async () => (await owners()).every((o) => o === 'gen'), 30_000);
    await setPolicy('Retain');
    await eventually(async () => (await owners()).every((o) => o === ''), 30_000);
  });

  it('removes the finalizer earlier versions added, from a live database and from a deleted one', async () => {
    for (const name of ['legacy-live', 'legacy-gone']) {
      await client.create(Resources.HomeOpsDatabase, {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'HomeOpsDatabase',
        metadata: { name, namespace: ns.name, finalizers: ['homeops.io/finalizer'] },
        spec: onKwok({ pooler: { enabled: false } }),
      });
    }
    await client.delete(Resources.HomeOpsDatabase, ns.name, 'legacy-gone');
    await eventually(async () => {
      const o = await dbs.get('legacy-live');
      return (o.metadata.finalizers ?? []).length === 0 && o.status?.observedGeneration ? o : undefined;
    }, 30_000);
    await eventually(
      () =>
        dbs.get('legacy-gone').then(
          () => undefined,
          () => true,
        ),
      30_000,
    );
    await client.delete(Resources.HomeOpsDatabase, ns.name, 'legacy-live');
  });

  it('refuses a malformed Secret with a clear reason, leaves it alone, and goes on once it is fixed', async () => {
    await makeSecret('bad-superuser', { username: 'postgres' });
    await dbs.create('bad');
    const stalled = await dbs.until('bad', 'Stalled', 'True', 30_000);
    expect(cond(stalled, 'Stalled')).toMatchObject({ reason: 'InvalidSecret' });
    expect(cond(stalled, 'Stalled')?.message).toContain('bad-superuser has no "password" key');
    const untouched = await secret('bad-superuser');
    expect(Object.keys(untouched.data ?? {})).toEqual(['username']);
    await client.patch(
      Resources.Secret,
      ns.name,
      'bad-superuser',
      { stringData: { password: 'not-the-real-one' } },
      MERGE_PATCH,
    );
    await dbs.until('bad', 'Stalled', 'False', 30_000);
  });
});

describe('children no longer desired', () => {
  it('prunes the pooler when it is disabled, by label and ownership, and brings it back when enabled', async () => {
    await dbs.create('nopool', { postgres: { storage: { reclaimPolicy: 'Delete' } } });
    const pooler = [
      [Resources.Deployment, 'nopool-pooler'],
      [Resources.Service, 'nopool-pooler'],
      [Resources.PodDisruptionBudget, 'nopool-pooler'],
    ] as const;
    // The pooler's objects, and its files in the database's ConfigMap.
    const present = async () => [
      ...(await Promise.all(
        pooler.map(([t, n]) =>
          client.get(t, ns.name, n).then(
            () => true,
            () => false,
          ),
        ),
      )),
      await client
        .get<KubeObject & { data?: Record<string, string> }>(Resources.ConfigMap, ns.name, 'nopool-config')
        .then(
          (cm) => 'pgbouncer-pgbouncer.ini' in (cm.data ?? {}),
          () => false,
        ),
    ];
    await eventually(async () => (await present()).every(Boolean), 60_000);
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      'nopool',
      { spec: { pooler: { enabled: false } } },
      MERGE_PATCH,
    );
    await eventually(async () => (await present()).every((p) => !p), 60_000);
    // The primary's children and the Secrets are untouched.
    for (const [t, n] of [
      [Resources.StatefulSet, 'nopool'],
      [Resources.Service, 'nopool-rw'],
      [Resources.ConfigMap, 'nopool-config'],
      [Resources.Secret, 'nopool-pooler-auth'],
    ] as const)
      expect((await client.get(t, ns.name, n)).metadata.deletionTimestamp).toBeUndefined();
    const off = await eventually(async () => {
      const o = await dbs.get('nopool');
      return o.status?.observedGeneration === o.metadata.generation ? o : undefined;
    });
    expect(cond(off, 'PoolerAvailable')).toBeUndefined();
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      'nopool',
      { spec: { pooler: { enabled: true } } },
      MERGE_PATCH,
    );
    await eventually(async () => (await present()).every(Boolean), 60_000);
    // Deleted in the deletion test below.
  });
});

describe('deletion', () => {
  it('garbage-collects the children and keeps the PVC and the Secrets under Retain', async () => {
    await eventually(() => client.get(Resources.PersistentVolumeClaim, ns.name, 'data-ready-0'), 30_000);
    await client.delete(Resources.HomeOpsDatabase, ns.name, 'ready');
    await eventually(async () => {
      const gone = await Promise.all(
        [
          [Resources.StatefulSet, 'ready'],
          [Resources.Service, 'ready-rw'],
          [Resources.ConfigMap, 'ready-config'],
          [Resources.Deployment, 'ready-pooler'],
        ].map(([t, n]) =>
          client.get(t as typeof Resources.Service, ns.name, n as string).then(
            () => false,
            () => true,
          ),
        ),
      );
      return gone.every(Boolean);
    }, 90_000);
    const pvc = await client.get(Resources.PersistentVolumeClaim, ns.name, 'data-ready-0');
    expect(pvc.metadata.deletionTimestamp).toBeUndefined();
    const s = await secret('ready-superuser');
    expect(s.metadata.ownerReferences ?? []).toEqual([]);
  });

  it('under Delete, garbage-collects the Secrets with the database', async () => {
    // nopool: reclaimPolicy Delete, its Secrets generated and owned.
    const owned = await secret('nopool-superuser');
    expect(owned.metadata.ownerReferences?.[0]?.name).toBe('nopool');
    await client.delete(Resources.HomeOpsDatabase, ns.name, 'nopool');
    await eventually(
      () =>
        secret('nopool-superuser').then(
          () => undefined,
          () => true,
        ),
      90_000,
    );
  });
});
