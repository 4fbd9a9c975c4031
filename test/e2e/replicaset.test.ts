/**
 * ReplicaSet on the real node: a primary and streaming replicas in real pods, each member on its
 * own replication slot, lag measured on the primary and the members, and the read Service
 * following the lag bound. The operator runs out of the cluster and reaches the members by pod
 * IP and the primary by ClusterIP.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { registerReplicaSetController } from '../../src/controllers/replicaset/controller.ts';
import { READ_LABEL } from '../../src/controllers/replicaset/names.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { eventsSince, localImages, psqlInPod } from '../support/realnode.ts';

const IMAGES = localImages();
const DB = 'rdb';
const RS = 'reads';
const MAX_LAG = 5;
const INTERVAL = 5;

type Cond = { type: string; status: string; reason: string; message: string };
type Member = {
  name: string;
  ready: boolean;
  inReadService: boolean;
  lagSeconds?: number;
  lagBytes?: number;
  state?: string;
  message?: string;
};
type Rs = KubeObject & {
  status?: {
    conditions?: Cond[];
    members?: Member[];
    replicas?: number;
    readyReplicas?: number;
    readServiceTarget?: string;
    maxLagSeconds?: number;
  };
};
type Pod = KubeObject & { status?: { podIP?: string } };

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;
let superuserPassword: string;

const getRs = () => client.get<Rs>(Resources.ReplicaSet, ns.name, RS);
const member = (o: Rs, name: string) => o.status?.members?.find((m) => m.name === name);
const onPrimary = (sql: string) => psqlInPod(ns.name, `${DB}-0`, sql, { database: 'postgres' });
const onMember = (pod: string, sql: string) =>
  psqlInPod(ns.name, pod, sql, { database: 'postgres', password: superuserPassword });
const slots = () =>
  onPrimary("SELECT string_agg(slot_name, ',' ORDER BY slot_name) FROM pg_replication_slots");
/** The pods the read Service routes to now, from its EndpointSlices (ready endpoints only). */
async function readEndpoints(): Promise<string[]> {
  const slices = await client.list<
    KubeObject & { endpoints?: { targetRef?: { name?: string }; conditions?: { ready?: boolean } }[] }
  >(
    { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true },
    ns.name,
    { labelSelector: `kubernetes.io/service-name=${RS}-ro` },
  );
  return slices.items
    .flatMap((s) => s.endpoints ?? [])
    .filter((e) => e.conditions?.ready)
    .map((e) => e.targetRef?.name ?? '')
    .sort();
}
const allIn = (o: Rs, n: number) =>
  cond(o, 'Ready')?.status === 'True' &&
  o.status?.members?.length === n &&
  o.status.members.every((m) => m.inReadService && m.state === 'streaming');

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e-rs');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(ns.name, `e2e-rs-${ns.name}`);
  const opts = { endpointMap: {}, serviceAddresses: 'cluster-ip' as const, images: IMAGES };
  registerHomeOpsDatabaseController(manager, opts);
  registerReplicaSetController(manager, opts);
  await manager.start();
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('a ReplicaSet on the real node', () => {
  it('waits for a missing database, saying so, and goes on by itself when it appears', async () => {
    await client.create(Resources.ReplicaSet, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'ReplicaSet',
      metadata: { name: RS, namespace: ns.name },
      spec: {
        databaseRef: { name: DB },
        replicas: 2,
        maxLagSeconds: MAX_LAG,
        healthCheckIntervalSeconds: INTERVAL,
        storage: { size: '1Gi', reclaimPolicy: 'Delete' },
      },
    });
    const missing = await eventually(async () => {
      const o = await getRs();
      return cond(o, 'Ready')?.reason === 'DatabaseNotFound' ? o : undefined;
    });
    expect(cond(missing, 'Ready')?.message).toContain(`HomeOpsDatabase ${DB} not found`);
    expect(await client.get(Resources.StatefulSet, ns.name, `${RS}-replica`).catch((e) => e.code)).toBe(404);

    await client.create(Resources.HomeOpsDatabase, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: DB, namespace: ns.name },
      spec: {
        postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
        pooler: { enabled: false },
        monitoring: { intervalSeconds: INTERVAL },
      },
    });
    // While the primary starts, the members wait, and say so.
    await eventually(async () => cond(await getRs(), 'Ready')?.reason === 'PrimaryNotReady', 120_000);
    const secret = await client.get<KubeObject & { data?: { password?: string } }>(
      Resources.Secret,
      ns.name,
      `${DB}-superuser`,
    );
    superuserPassword = Buffer.from(secret.data!.password!, 'base64').toString();

    // readyReplicas is the StatefulSet's, which the controller-manager may publish after the
    // members are measured streaming.
    const ready = await eventually(async () => {
      const o = await getRs();
      return allIn(o, 2) && o.status?.readyReplicas === 2 ? o : undefined;
    }, 300_000);
    expect(ready.status?.readServiceTarget).toBe('Members');
    expect(await slots()).toBe('hors_reads_0,hors_reads_1');
    expect(
      await onPrimary(
        "SELECT string_agg(application_name || '=' || state, ',' ORDER BY application_name) FROM pg_stat_replication",
      ),
    ).toBe(`${RS}-replica-0=streaming,${RS}-replica-1=streaming`);
    expect(await readEndpoints()).toEqual([`${RS}-replica-0`, `${RS}-replica-1`]);
  });

  it('serves a row written on the primary through NAME-ro within maxLagSeconds', async () => {
    await onPrimary('CREATE TABLE e2e_rows (id int PRIMARY KEY, note text)');
    const written = Date.now();
    await onPrimary("INSERT INTO e2e_rows VALUES (1, 'through the read service')");
    const read = await eventually(
      () =>
        psqlInPod(ns.name, `${DB}-0`, 'SELECT pg_is_in_recovery(), note FROM e2e_rows WHERE id = 1', {
          database: 'postgres',
          host: `${RS}-ro.${ns.name}.svc.cluster.local`,
        }).catch(() => ''),
      MAX_LAG * 1000,
      100,
    );
    expect(read).toBe('t|through the read service');
    expect(Date.now() - written).toBeLessThan(MAX_LAG * 1000 + 2000); // eventually's own bound, with the exec's time
  });

  it('writes nothing over two intervals of an idle primary, every lag 0', async () => {
    const before = await getRs();
    await new Promise((r) => setTimeout(r, 2 * INTERVAL * 1000 + 1000));
    const after = await getRs();
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.status?.members?.map((m) => m.lagSeconds)).toEqual([0, 0]);
    expect(after.status?.members?.map((m) => m.lagBytes)).toEqual([0, 0]);
  });

  it('takes a member whose replay is stuck out of NAME-ro, and back once it catches up', async () => {
    const stuck = `${RS}-replica-1`;
    const other = `${RS}-replica-0`;
    const since = Date.now();
    // A writer on the primary for the whole test: one small transaction every 100 ms.
    const writer: ChildProcess = spawn(
      join(inject('kubectlPath'), 'kubectl'),
      [
        '--kubeconfig',
        inject('kubeconfig'),
        'exec',
        '-n',
        ns.name,
        `${DB}-0`,
        '-c',
        'postgres',
        '--',
        'sh',
        '-c',
        // Until the test removes the flag file: a killed kubectl exec does not stop the shell.
        'export PGPASSWORD=$(cat /etc/homeops/secrets/superuser/password); touch /tmp/e2e-writer; i=100; while [ -e /tmp/e2e-writer ]; do i=$((i+1)); echo "INSERT INTO e2e_rows VALUES ($i, \'w\');"; sleep 0.1; done | psql -X -q -h /var/run/postgresql -U postgres -d postgres',
      ],
      { stdio: 'ignore' },
    );
    const otherAlwaysIn: boolean[] = [];
    try {
      const start = Number(await onPrimary('SELECT count(*) FROM e2e_rows'));
      await eventually(
        async () => Number(await onPrimary('SELECT count(*) FROM e2e_rows')) > start + 5,
        30_000,
      );
      await onMember(stuck, 'SELECT pg_wal_replay_pause()');
      const paused = Date.now();
      const out = await eventually(
        async () => {
          const o = await getRs();
          otherAlwaysIn.push(!!member(o, other)?.inReadService);
          return member(o, stuck)?.inReadService === false ? o : undefined;
        },
        60_000,
        200,
      );
      const leftAfter = (Date.now() - paused) / 1000;
      expect(member(out, stuck)?.lagSeconds).toBeGreaterThan(MAX_LAG);
      expect(member(out, stuck)?.message).toMatch(/replay is paused/);
      expect(cond(out, 'LagExceeded')?.status).toBe('True');
      expect(cond(out, 'Ready')).toMatchObject({ status: 'False', reason: 'LagExceeded' });
      // It stays in the headless Service and is not restarted; only -ro lost it.
      expect(await readEndpoints()).toEqual([other]);
      const pod = await client.get<Pod>(Resources.Pod, ns.name, stuck);
      expect(pod.metadata.labels?.[READ_LABEL]).toBeUndefined();
      expect(await onMember(stuck, 'SELECT pg_is_wal_replay_paused()')).toBe('t');
      // Detection: the bound, plus at most one interval, plus the settle time of a measurement.
      expect(leftAfter).toBeLessThan(MAX_LAG + INTERVAL + 3);

      await onMember(stuck, 'SELECT pg_wal_replay_resume()');
      const back = await eventually(
        async () => {
          const o = await getRs();
          otherAlwaysIn.push(!!member(o, other)?.inReadService);
          return member(o, stuck)?.inReadService ? o : undefined;
        },
        60_000,
        200,
      );
      expect(member(back, stuck)!.lagSeconds!).toBeLessThanOrEqual(MAX_LAG * 0.8);
      expect(await readEndpoints()).toEqual([other, stuck]);
    } finally {
      await kubectl('exec', '-n', ns.name, `${DB}-0`, '-c', 'postgres', '--', 'rm', '-f', '/tmp/e2e-writer');
      writer.kill();
    }
    expect(otherAlwaysIn.every(Boolean)).toBe(true);
    const events = await eventsSince(client, ns.name, RS, since);
    expect(events).toContain('ReadService/MemberLeftReadService');
    expect(events).toContain('ReadService/MemberJoinedReadService');
  });

  it('follows kubectl scale 2 → 3 → 1 with the slots on the primary, leaving none behind', async () => {
    await kubectl('scale', '-n', ns.name, `replicasets.homeops.io/${RS}`, '--replicas=3');
    await eventually(async () => allIn(await getRs(), 3), 300_000, 500);
    expect(await slots()).toBe('hors_reads_0,hors_reads_1,hors_reads_2');
    await kubectl('scale', '-n', ns.name, `replicasets.homeops.io/${RS}`, '--replicas=1');
    await eventually(async () => (await slots()) === 'hors_reads_0', 120_000, 500);
    const one = await eventually(async () => {
      const o = await getRs();
      return allIn(o, 1) && o.status?.replicas === 1 ? o : undefined;
    }, 120_000);
    expect(one.status?.members?.map((m) => m.name)).toEqual([`${RS}-replica-0`]);
    expect(await onPrimary('SELECT count(*) FROM pg_stat_replication')).toBe('1');
  });

  it('brings a deleted member back streaming from its volume, with no new base backup', async () => {
    const name = `${RS}-replica-0`;
    const marker = () =>
      kubectl(
        'exec',
        '-n',
        ns.name,
        name,
        '-c',
        'postgres',
        '--',
        'cat',
        '/var/lib/postgresql/data/pgdata/homeops-base-backup',
      );
    const before = (await marker()).trim();
    const old = await client.get<Pod>(Resources.Pod, ns.name, name);
    await client.delete(Resources.Pod, ns.name, name);
    await eventually(async () => {
      const p = await client.get<Pod>(Resources.Pod, ns.name, name).catch(() => undefined);
      return p && p.metadata.uid !== old.metadata.uid;
    }, 120_000);
    await eventually(async () => allIn(await getRs(), 1), 180_000, 500);
    // The base backup's own record is unchanged, and the start script said it resumed.
    expect((await marker()).trim()).toBe(before);
    const log = await kubectl('logs', '-n', ns.name, name, '-c', 'postgres');
    expect(log).toContain(`homeops: resuming from the volume (base backup of ${before})`);
    expect(log).not.toContain('homeops: base backup from');
    const rows = await onPrimary('SELECT count(*) FROM e2e_rows');
    expect(Number(rows)).toBeGreaterThan(10); // the writer's rows
    await eventually(async () => (await onMember(name, 'SELECT count(*) FROM e2e_rows')) === rows, 10_000);
  });

  it("reloads a setting PostgreSQL reloads (the database's work_mem) on the member too, without restarting it", async () => {
    const name = `${RS}-replica-0`;
    const before = await client.get<Pod>(Resources.Pod, ns.name, name);
    const primaryBefore = await client.get<Pod>(Resources.Pod, ns.name, `${DB}-0`);
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      DB,
      { spec: { postgres: { parameters: { work_mem: '12MB' } } } },
      MERGE_PATCH,
    );
    // The kubelet delivers the ConfigMaps within its sync period; the next measurement reloads.
    expect(
      await eventually(async () => (await onMember(name, 'SHOW work_mem')) === '12MB', 240_000, 2000),
    ).toBe(true);
    expect(await eventually(async () => (await onPrimary('SHOW work_mem')) === '12MB', 240_000, 2000)).toBe(
      true,
    );
    expect((await client.get<Pod>(Resources.Pod, ns.name, name)).metadata.uid).toBe(before.metadata.uid);
    expect((await client.get<Pod>(Resources.Pod, ns.name, `${DB}-0`)).metadata.uid).toBe(
      primaryBefore.metadata.uid,
    );
    await eventually(async () => allIn(await getRs(), 1), 60_000, 500);
  });

  it('names a member whose base backup fails, and paces its retries', async () => {
    // Wrong replication credentials: the role's password no longer matches the Secret.
    await onPrimary("ALTER ROLE replicator PASSWORD 'not-the-secret'");
    const since = Date.now();
    try {
      await kubectl('scale', '-n', ns.name, `replicasets.homeops.io/${RS}`, '--replicas=2');
      const failing = await eventually(
        async () => {
          const o = await getRs();
          return member(o, `${RS}-replica-1`)?.state === 'BaseBackupFailed' ? o : undefined;
        },
        180_000,
        500,
      );
      expect(member(failing, `${RS}-replica-1`)?.message).toMatch(/password authentication failed/);
      expect(cond(failing, 'Ready')).toMatchObject({ status: 'False', reason: 'BaseBackupFailed' });
      // The kubelet's crash-loop backoff paces the retries: a handful, not a storm.
      const pod = await client.get<
        KubeObject & { status?: { containerStatuses?: { restartCount: number }[] } }
      >(Resources.Pod, ns.name, `${RS}-replica-1`);
      const restarts = pod.status?.containerStatuses?.[0]?.restartCount ?? 0;
      expect(restarts).toBeLessThan(6);
      const events = await eventsSince(client, ns.name, RS, since);
      expect(events).toContain('Member/BaseBackupFailed');
    } finally {
      await kubectl('scale', '-n', ns.name, `replicasets.homeops.io/${RS}`, '--replicas=1');
      // The Secret's password back (URL-safe base64: nothing to quote).
      const secret = await client.get<KubeObject & { data?: { password?: string } }>(
        Resources.Secret,
        ns.name,
        `${DB}-replication`,
      );
      const password = Buffer.from(secret.data!.password!, 'base64').toString();
      await onPrimary(`ALTER ROLE replicator PASSWORD '${password}'`);
    }
  });

  it('drops its slots when the ReplicaSet is deleted', async () => {
    await client.delete(Resources.ReplicaSet, ns.name, RS);
    await eventually(async () => {
      const gone = await client.get(Resources.ReplicaSet, ns.name, RS).then(
        () => false,
        () => true,
      );
      return gone;
    }, 120_000);
    expect(await slots()).toBe('');
  });

  it('stops following a deleted database: DatabaseNotFound, and its members scaled to 0', async () => {
    await client.create(Resources.ReplicaSet, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'ReplicaSet',
      metadata: { name: 'follower', namespace: ns.name },
      spec: {
        databaseRef: { name: DB },
        replicas: 1,
        healthCheckIntervalSeconds: INTERVAL,
        storage: { size: '1Gi', reclaimPolicy: 'Delete' },
      },
    });
    const follower = () => client.get<Rs>(Resources.ReplicaSet, ns.name, 'follower');
    await eventually(async () => allIn(await follower(), 1), 180_000, 500);
    await client.delete(Resources.HomeOpsDatabase, ns.name, DB);
    const orphan = await eventually(async () => {
      const o = await follower();
      return cond(o, 'Ready')?.reason === 'DatabaseNotFound' ? o : undefined;
    }, 120_000);
    expect(cond(orphan, 'Ready')?.status).toBe('False');
    await eventually(async () => {
      const sts = await client.get<KubeObject & { spec?: { replicas?: number } }>(
        Resources.StatefulSet,
        ns.name,
        'follower-replica',
      );
      const pods = await client.list(Resources.Pod, ns.name, {
        labelSelector: 'homeops.io/replicaset=follower',
      });
      return sts.spec?.replicas === 0 && pods.items.length === 0;
    }, 120_000);
    // The ReplicaSet itself stays, for the database to come back.
    expect((await follower()).metadata.deletionTimestamp).toBeUndefined();
  });
});
