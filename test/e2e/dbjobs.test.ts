/**
 * The migration Job on the real node: the operator's own image runs `job migrate` in a pod
 * against the database's primary, once the database is Ready and again when a listed
 * ConfigMap changes; the result comes back into status from the pod's termination message.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDatabaseJobsController } from '../../src/controllers/dbjobs/controller.ts';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { KubeClient, type KubeObject, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { Resources } from '../../src/runtime/types.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { eventRecords, localImages, operatorImage, psqlInPod } from '../support/realnode.ts';

const DB = 'mig';
type Cond = { type: string; status: string; reason: string; message: string };
type Db = KubeObject & {
  status?: {
    conditions?: Cond[];
    migrations?: {
      applied?: number;
      sets?: string[];
      job?: string;
      result?: string;
      failedMigration?: string;
    };
  };
};
type Job = KubeObject & { status?: { failed?: number; succeeded?: number } };

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;

const getDb = () => client.get<Db>(Resources.HomeOpsDatabase, ns.name, DB);
const cond = (o: Db, type: string) => o.status?.conditions?.find((c) => c.type === type);
const migrations = (status: string, reason?: string) =>
  eventually(
    async () => {
      const o = await getDb();
      const c = cond(o, 'MigrationsApplied');
      return c?.status === status && (!reason || c.reason === reason) ? o : undefined;
    },
    300_000,
    500,
  );
const jobs = async () =>
  (await client.list<Job>(Resources.Job, ns.name, { labelSelector: `homeops.io/database=${DB}` })).items;
const setConfigMap = (data: Record<string, string>) =>
  client.patch(Resources.ConfigMap, ns.name, 'app-schema', { data }, MERGE_PATCH);
const psql = (sql: string) => psqlInPod(ns.name, `${DB}-0`, sql);

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e-jobs');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(kc, ns.name, `e2e-jobs-${ns.name}`);
  registerHomeOpsDatabaseController(manager, {
    endpointMap: {},
    serviceAddresses: 'cluster-ip',
    images: localImages(),
  });
  registerDatabaseJobsController(manager, { operatorImage: operatorImage() });
  await manager.start();
  await client.create(Resources.ConfigMap, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'app-schema', namespace: ns.name },
    data: {
      '0001_items.sql': 'CREATE SCHEMA IF NOT EXISTS app;\nCREATE TABLE app.items (id int PRIMARY KEY);\n',
    },
  });
  await client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: DB, namespace: ns.name },
    spec: {
      postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
      pooler: { enabled: false },
      migrations: { configMaps: [{ name: 'app-schema' }] },
      monitoring: { intervalSeconds: 5 },
    },
  });
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('migrations run by the operator on the real node', () => {
  it('applies the builtin set and a ConfigMap set once the database is Ready; status lists them', async () => {
    const o = await migrations('True', 'Applied');
    expect(cond(o, 'Ready')?.status).toBe('True');
    expect(o.status?.migrations).toMatchObject({
      applied: 5,
      sets: ['builtin/0004_timeseries', 'app-schema/0001_items'],
      result: 'Succeeded',
    });
    expect(
      await psql(
        "SELECT string_agg(set_name || '/' || version, ',' ORDER BY applied_at, set_name, version) FROM homeops_migrations.applied",
      ),
    ).toBe('builtin/0001,builtin/0002,builtin/0003,builtin/0004,app-schema/0001');
    expect(await psql("SELECT to_regclass('app.items') IS NOT NULL")).toBe('t');
    // Run as the owner, not the superuser.
    expect(
      await psql("SELECT tableowner FROM pg_tables WHERE schemaname = 'app' AND tablename = 'items'"),
    ).toBe('homeops');
    expect((await jobs()).map((j) => j.metadata.name)).toEqual([o.status!.migrations!.job]);
  });

  it('names file, line and SQLSTATE of a bad migration, keeps the database Ready, and runs it no second time', async () => {
    const since = Date.now();
    await setConfigMap({ '0002_bad.sql': 'CREATE TABL app.more (id int);\n' });
    const o = await migrations('False', 'MigrationFailed');
    const c = cond(o, 'MigrationsApplied')!;
    expect(c.message).toContain('0002_bad.sql:1');
    expect(c.message).toContain('SQLSTATE 42601');
    expect(o.status?.migrations).toMatchObject({ applied: 5, result: 'Failed' });
    expect(o.status?.migrations?.failedMigration).toMatch(/app-schema\/0002_bad\.sql:1$/);
    expect(cond(o, 'Ready')?.status).toBe('True');
    // A Warning Event for the flip, and no retry: one Job, one pod, failed.
    expect((await eventRecords(client, ns.name, DB, since)).map((e) => e.reason)).toContain(
      'MigrationFailed',
    );
    await new Promise((r) => setTimeout(r, 15_000));
    const all = await jobs();
    expect(all).toHaveLength(1);
    expect(all[0]!.metadata.name).toBe(o.status?.migrations?.job);
    expect(all[0]!.status?.failed).toBe(1);
    expect(await psql("SELECT count(*) FROM homeops_migrations.applied WHERE set_name = 'app-schema'")).toBe(
      '1',
    );
  });

  it('applies the fixed migration when the ConfigMap is fixed', async () => {
    await setConfigMap({ '0002_bad.sql': 'CREATE TABLE app.more (id int);\n' });
    const o = await migrations('True', 'Applied');
    expect(o.status?.migrations).toMatchObject({
      applied: 6,
      sets: ['builtin/0004_timeseries', 'app-schema/0002_bad'],
      lastApplied: 'app-schema/0002_bad',
    });
    expect(await psql("SELECT to_regclass('app.more') IS NOT NULL")).toBe('t');
    await eventually(async () => (await jobs()).length === 1, 60_000);
  });

  it('removes its Jobs with the database', async () => {
    await client.delete(Resources.HomeOpsDatabase, ns.name, DB);
    await eventually(async () => (await jobs()).length === 0, 120_000, 500);
  });
});
