/**
 * The HomeOpsDatabase on the real node: PostgreSQL 15 and PgBouncer run in pods the operator
 * wrote, from the images built on this machine (hack/images.sh), with the controller-manager's
 * host-path PVs, cluster DNS and kube-proxy's ClusterIPs. The operator runs out of the cluster
 * (as in the dev loop) and reaches the Services by ClusterIP (--service-addresses=cluster-ip).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { eventsSince as eventsSince_, localImages, psqlInPod as psqlInPod_ } from '../support/realnode.ts';

const repo = join(import.meta.dirname, '..', '..');
const IMAGES = localImages();
const DB = 'homeops-full';
const NODE = 'homeops-node';

type Cond = { type: string; status: string; reason: string; message: string };
type Db = KubeObject & {
  status?: {
    observedGeneration?: number;
    phase?: string;
    conditions?: Cond[];
    primary?: { connections?: { max: number; total: number } };
    pooler?: { readyInstances?: number };
    timescale?: { available: boolean };
  };
};
type Pod = KubeObject & {
  spec?: { nodeName?: string };
  status?: { phase?: string; podIP?: string };
};

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;

function startOperator(): Promise<void> {
  manager = testManager(ns.name, `e2e-${ns.name}-${Date.now()}`);
  registerHomeOpsDatabaseController(manager, {
    endpointMap: {},
    serviceAddresses: 'cluster-ip',
    images: IMAGES,
  });
  return manager.start();
}

const getDb = (name: string) => client.get<Db>(Resources.HomeOpsDatabase, ns.name, name);
const until = (name: string, type: string, status: string, timeout = 240_000, interval = 250) =>
  eventually(
    async () => {
      const o = await getDb(name);
      return cond(o, type)?.status === status ? o : undefined;
    },
    timeout,
    interval,
  );
const pod = (name: string) => client.get<Pod>(Resources.Pod, ns.name, name);
/** A merge patch of the full sample's spec.postgres.parameters (null removes one). */
const setParameters = (parameters: Record<string, string | null>) =>
  client.patch(Resources.HomeOpsDatabase, ns.name, DB, { spec: { postgres: { parameters } } }, MERGE_PATCH);

const psqlInPod = (podName: string, sql: string, database = 'homeops') =>
  psqlInPod_(ns.name, podName, sql, { database });
const eventsSince = (name: string, since: number) => eventsSince_(client, ns.name, name, since);

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  await startOperator();
  const sample = parse(readFileSync(join(repo, 'manifests', 'samples', 'homeopsdatabase-full.yaml'), 'utf8'));
  sample.metadata.namespace = ns.name;
  sample.spec.monitoring = { ...sample.spec.monitoring, intervalSeconds: 5 };
  await client.create(Resources.HomeOpsDatabase, sample);
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('the full sample on the real node', () => {
  it('runs PostgreSQL and PgBouncer in real pods, Ready with figures that match the pod', async () => {
    const ready = await until(DB, 'Ready', 'True');
    expect(ready.status?.phase).toBe('Ready');
    const primary = await pod(`${DB}-0`);
    expect(primary.spec?.nodeName).toBe(NODE);
    expect(primary.status?.podIP).toMatch(/^198\.18\.0\./);
    const poolers = (
      await client.list<Pod>(Resources.Pod, ns.name, { labelSelector: 'homeops.io/role=pooler' })
    ).items;
    expect(poolers.filter((p) => p.spec?.nodeName === NODE && p.status?.phase === 'Running')).toHaveLength(2);
    const pvc = await client.get<KubeObject & { status?: { phase?: string } }>(
      Resources.PersistentVolumeClaim,
      ns.name,
      `data-${DB}-0`,
    );
    expect(pvc.status?.phase).toBe('Bound');

    // The status is what the server in the pod says.
    expect(ready.status?.primary?.connections?.max).toBe(
      Number(await psqlInPod(`${DB}-0`, 'SHOW max_connections')),
    );
    expect(await psqlInPod(`${DB}-0`, 'SHOW shared_buffers')).toBe('512MB');
    const timescaleThere = await psqlInPod(
      `${DB}-0`,
      "SELECT count(*) FROM pg_available_extensions WHERE name = 'timescaledb'",
    );
    expect(ready.status?.timescale?.available).toBe(timescaleThere !== '0');
    // Both PgBouncer pods Ready, as the status says once the second has come up.
    const both = await eventually(async () => {
      const o = await getDb(DB);
      return o.status?.pooler?.readyInstances === 2 ? o : undefined;
    }, 60_000);
    expect(cond(both, 'PoolerAvailable')?.message).toBe('2 PgBouncer instance(s) ready');
    expect(
      await psqlInPod(`${DB}-0`, "SELECT extname FROM pg_extension WHERE extname = 'pg_stat_statements'"),
    ).toBe('pg_stat_statements');
    // From inside the cluster: the pooler Service by its DNS name, PgBouncer's own auth_query login.
    const version = await kubectl(
      'exec',
      '-n',
      ns.name,
      `${DB}-0`,
      '--',
      'sh',
      '-c',
      'PGPASSWORD=$(cat /etc/homeops/secrets/pooler/password) exec psql -X -At -h "$0" -U pgbouncer_auth -d pgbouncer -c "SHOW VERSION"',
      `${DB}-pooler.${ns.name}.svc.cluster.local`,
    );
    expect(version).toMatch(/PgBouncer/);
  });

  it("serves an application's Job through PgBouncer with the app Secret's pooler-uri", async () => {
    await client.create(Resources.Job, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'app-write', namespace: ns.name },
      spec: {
        backoffLimit: 0,
        template: {
          spec: {
            restartPolicy: 'Never',
            securityContext: {
              runAsNonRoot: true,
              runAsUser: 999,
              seccompProfile: { type: 'RuntimeDefault' },
            },
            containers: [
              {
                name: 'app',
                image: IMAGES.postgres,
                command: [
                  'sh',
                  '-c',
                  'psql "$DATABASE_URL" -X -v ON_ERROR_STOP=1 -c "CREATE TABLE e2e_notes (id int PRIMARY KEY, note text)" -c "INSERT INTO e2e_notes VALUES (1, \'through pgbouncer\')"',
                ],
                env: [
                  {
                    name: 'DATABASE_URL',
                    valueFrom: { secretKeyRef: { name: `${DB}-app`, key: 'pooler-uri' } },
                  },
                ],
                securityContext: {
                  allowPrivilegeEscalation: false,
                  readOnlyRootFilesystem: true,
                  capabilities: { drop: ['ALL'] },
                },
              },
            ],
          },
        },
      },
    });
    const job = await eventually(async () => {
      const j = await client.get<KubeObject & { status?: { succeeded?: number; failed?: number } }>(
        Resources.Job,
        ns.name,
        'app-write',
      );
      if (j.status?.failed)
        throw new Error(`the Job failed: ${await kubectl('logs', '-n', ns.name, 'job/app-write')}`);
      return j.status?.succeeded === 1 ? j : undefined;
    }, 120_000);
    expect(job.status?.succeeded).toBe(1);
    expect(await psqlInPod(`${DB}-0`, 'SELECT note FROM e2e_notes WHERE id = 1')).toBe('through pgbouncer');
    expect(await psqlInPod(`${DB}-0`, "SELECT tableowner FROM pg_tables WHERE tablename = 'e2e_notes'")).toBe(
      'homeops',
    );
  });

  it('keeps the data when the pod is deleted: Ready goes False, then True, each with an Event', async () => {
    const before = await pod(`${DB}-0`);
    const since = Date.now();
    await client.delete(Resources.Pod, ns.name, `${DB}-0`);
    const down = await until(DB, 'Ready', 'False', 120_000, 100);
    expect(down.status?.phase).not.toBe('Ready');
    await until(DB, 'Ready', 'True');
    const after = await pod(`${DB}-0`);
    expect(after.metadata.uid).not.toBe(before.metadata.uid);
    expect(await psqlInPod(`${DB}-0`, 'SELECT note FROM e2e_notes WHERE id = 1')).toBe('through pgbouncer');
    // The new pod found the cluster on its volume: no second initdb.
    const log = await kubectl('logs', '-n', ns.name, `${DB}-0`, '-c', 'postgres');
    expect(log).not.toContain('initialising a new cluster');
    const events = await eventually(async () => {
      const e = await eventsSince(DB, since);
      return e.some((x) => x.startsWith('Ready/') && x !== 'Ready/Ready') && e.includes('Ready/Ready')
        ? e
        : undefined;
    }, 30_000);
    expect(events).toContain('Ready/Ready');
  });

  it('reloads a setting PostgreSQL reloads (work_mem) in the running pod, without a restart', async () => {
    const before = await pod(`${DB}-0`);
    expect(await psqlInPod(`${DB}-0`, 'SHOW work_mem')).not.toBe('8MB');
    await setParameters({ work_mem: '8MB' });
    // The kubelet delivers the ConfigMap's new file within its sync period (about a minute);
    // the next probe after that reloads it.
    expect(
      await eventually(async () => (await psqlInPod(`${DB}-0`, 'SHOW work_mem')) === '8MB', 240_000, 2000),
    ).toBe(true);
    expect((await pod(`${DB}-0`)).metadata.uid).toBe(before.metadata.uid);
    const o = await eventually(async () => {
      const d = await getDb(DB);
      return /loaded by PostgreSQL/.test(cond(d, 'ParametersApplied')?.message ?? '') ? d : undefined;
    }, 60_000);
    expect(cond(o, 'ParametersApplied')?.status).toBe('True');
  });

  it('rolls the pod by checksum for a setting read at start (max_connections), and the new pod has the value', async () => {
    const before = await pod(`${DB}-0`);
    await setParameters({ max_connections: '120' });
    await eventually(async () => {
      const p = await pod(`${DB}-0`).catch(() => undefined);
      return p && p.metadata.uid !== before.metadata.uid && p.status?.phase === 'Running';
    }, 240_000);
    await until(DB, 'Ready', 'True');
    expect(
      await eventually(async () => (await psqlInPod(`${DB}-0`, 'SHOW max_connections')) === '120', 60_000),
    ).toBe(true);
    expect(await psqlInPod(`${DB}-0`, 'SHOW work_mem')).toBe('8MB');
    expect(await psqlInPod(`${DB}-0`, 'SELECT count(*) FROM e2e_notes')).toBe('1');
  });

  it("holds a parameter PostgreSQL refuses (work_mem 8XB): the pod is not replaced and says so in PostgreSQL's words", async () => {
    const before = await pod(`${DB}-0`);
    await setParameters({ work_mem: '8XB' });
    const held = await until(DB, 'ParametersApplied', 'False');
    expect(cond(held, 'ParametersApplied')?.message).toContain(
      'invalid value for parameter "work_mem": "8XB"',
    );
    expect(cond(held, 'Ready')?.status).toBe('True');
    // Held: the next reconciles keep it so (not a race the roll would win later).
    await new Promise((r) => setTimeout(r, 10_000));
    const after = await pod(`${DB}-0`);
    expect(after.metadata.uid).toBe(before.metadata.uid);
    expect(await psqlInPod(`${DB}-0`, 'SHOW work_mem')).toBe('8MB');
    await setParameters({ work_mem: '8MB' });
    await until(DB, 'ParametersApplied', 'True');
    expect((await pod(`${DB}-0`)).metadata.uid).toBe(before.metadata.uid);
  });

  it('rolls back a change that passes the check but does not start (huge_pages on, none reserved): one failed start, no data lost', async () => {
    const before = await pod(`${DB}-0`);
    await setParameters({ work_mem: '8MB', huge_pages: 'on' });
    const failed = await until(DB, 'ParametersApplied', 'False');
    const c = cond(failed, 'ParametersApplied')!;
    expect(c.reason).toBe('StartFailed');
    // PostgreSQL's own words, from the pod's last log lines (the node reserves no huge pages).
    expect(c.message).toMatch(/could not map anonymous shared memory/);
    // Back on the parameters that ran, in a new pod, with the data.
    await eventually(async () => {
      const p = await pod(`${DB}-0`).catch(() => undefined);
      return p && p.metadata.uid !== before.metadata.uid && p.status?.phase === 'Running';
    }, 240_000);
    await until(DB, 'Ready', 'True');
    expect(await psqlInPod(`${DB}-0`, 'SHOW huge_pages')).toBe('try');
    expect(await psqlInPod(`${DB}-0`, 'SELECT count(*) FROM e2e_notes')).toBe('1');
    // Held while the spec keeps it: no second failed start.
    const healed = await pod(`${DB}-0`);
    await new Promise((r) => setTimeout(r, 10_000));
    expect((await pod(`${DB}-0`)).metadata.uid).toBe(healed.metadata.uid);
    expect(cond(await getDb(DB), 'ParametersApplied')?.reason).toBe('StartFailed');
    // A restarted operator (no memory of the failure) reads the verdict from the ConfigMap: it
    // does not ask the rolled-back primary again, which would take the change and fail again.
    await manager.stop();
    await startOperator();
    await new Promise((r) => setTimeout(r, 15_000));
    expect((await pod(`${DB}-0`)).metadata.uid).toBe(healed.metadata.uid);
    expect(cond(await getDb(DB), 'ParametersApplied')?.reason).toBe('StartFailed');
    expect(cond(await getDb(DB), 'Ready')?.status).toBe('True');
    await setParameters({ huge_pages: null });
    await until(DB, 'ParametersApplied', 'True');
    expect((await pod(`${DB}-0`)).metadata.uid).toBe(healed.metadata.uid);
  });

  it('regenerates no Secret when the operator is started again', async () => {
    const names = ['superuser', 'app', 'replication', 'pooler-auth'].map((r) => `${DB}-${r}`);
    const read = () =>
      Promise.all(
        names.map((n) =>
          client
            .get<KubeObject & { data?: Record<string, string> }>(Resources.Secret, ns.name, n)
            .then((s) => `${s.metadata.resourceVersion}:${s.data?.password}`),
        ),
      );
    const before = await read();
    await manager.stop();
    await startOperator();
    // Two probe intervals of the new operator: it reconciled, measured, and rewrote nothing.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(cond(await getDb(DB), 'Ready')?.status).toBe('True');
    expect(await read()).toEqual(before);
  });
});

describe('bad input on the real node', () => {
  it('names an image that cannot be pulled in Ready, and touches nothing else', async () => {
    const primaryBefore = await pod(`${DB}-0`);
    await client.create(Resources.HomeOpsDatabase, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: 'badimage', namespace: ns.name },
      spec: {
        postgres: { image: 'localhost/homeops/no-such-image:1', storage: { reclaimPolicy: 'Delete' } },
        pooler: { enabled: false },
        monitoring: { intervalSeconds: 5 },
      },
    });
    const failed = await eventually(async () => {
      const o = await getDb('badimage');
      const r = cond(o, 'Ready');
      return r?.status === 'False' && /Image|Pull/.test(r.reason) ? o : undefined;
    }, 120_000);
    const ready = cond(failed, 'Ready')!;
    expect(['ErrImagePull', 'ImagePullBackOff', 'ErrImageNeverPull']).toContain(ready.reason);
    expect(ready.message).toContain('badimage-0');
    expect(cond(failed, 'PrimaryAvailable')?.reason).toBe(ready.reason);
    // The other database and its pod are as they were.
    expect((await pod(`${DB}-0`)).metadata.uid).toBe(primaryBefore.metadata.uid);
    expect(cond(await getDb(DB), 'Ready')?.status).toBe('True');
    await client.delete(Resources.HomeOpsDatabase, ns.name, 'badimage');
  });
});
