/**
 * The migration Job on the real node: the operator's own image runs `job migrate` in a pod
 * against the database's primary, once the database is Ready and again when a listed
 * ConfigMap changes; the result comes back into status from the pod's termination message.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HomeOpsDatabaseStatus } from '../../src/api/v1alpha1/index.ts';
import { registerDatabaseJobsController } from '../../src/controllers/dbjobs/controller.ts';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { eventRecords, localImages, operatorImage, psqlInPod } from '../support/realnode.ts';

const DB = 'mig';
type Db = KubeObject & { status?: HomeOpsDatabaseStatus };
type Job = KubeObject & { status?: { failed?: number; succeeded?: number } };

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;

const getDb = () => client.get<Db>(Resources.HomeOpsDatabase, ns.name, DB);
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
const jobs = async (kind?: string) =>
  (
    await client.list<Job>(Resources.Job, ns.name, {
      labelSelector: `homeops.io/database=${DB}${kind ? `,homeops.io/job=${kind}` : ''}`,
    })
  ).items;
const setConfigMap = (data: Record<string, string>) =>
  client.patch(Resources.ConfigMap, ns.name, 'app-schema', { data }, MERGE_PATCH);
const psql = (sql: string) => psqlInPod(ns.name, `${DB}-0`, sql);

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e-jobs');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(ns.name, `e2e-jobs-${ns.name}`);
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
      // A table for a benchmark whose speed hangs on one index (items_v): 300,000 rows.
      '0001_items.sql':
        'CREATE SCHEMA IF NOT EXISTS app;\nCREATE TABLE app.items (id int PRIMARY KEY, v int NOT NULL);\nINSERT INTO app.items SELECT g, g % 100000 FROM generate_series(1, 300000) g;\nCREATE INDEX items_v ON app.items (v);\nANALYZE app.items;\n',
    },
  });
  await client.create(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name: DB, namespace: ns.name },
    spec: {
      postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
      pooler: { instances: 1 },
      migrations: { configMaps: [{ name: 'app-schema' }] },
      partitioning: {
        tables: [
          { table: 'financial.transactions', column: 'transaction_date', interval: 'yearly', premake: 2 },
        ],
      },
      benchmarks: {
        builtin: false,
        iterations: 100,
        warmup: 10,
        scenarios: [
          {
            name: 'items-by-v',
            query: 'SELECT count(*) FROM app.items WHERE v = $1',
            params: ['4242'],
            targetMs: 50,
          },
        ],
      },
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
    expect((await jobs('migrate')).map((j) => j.metadata.name)).toEqual([o.status!.migrations!.job]);
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
    const all = await jobs('migrate');
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
    await eventually(async () => (await jobs('migrate')).length === 1, 60_000);
  });

  it('runs rollover from its CronJob (kubectl create job --from): the partitions in status match pg_inherits', async () => {
    const cronJob = await client.get<KubeObject & { spec: Record<string, unknown> }>(
      Resources.CronJob,
      ns.name,
      `${DB}-rollover`,
    );
    expect(cronJob.spec).toMatchObject({
      concurrencyPolicy: 'Forbid',
      suspend: false,
      schedule: '0 0 * * *',
    });
    await kubectl('create', 'job', '-n', ns.name, `--from=cronjob/${DB}-rollover`, `${DB}-rollover-now`);
    const o = await eventually(
      async () => {
        const d = await getDb();
        const p = d.status?.partitions?.[0];
        return p?.result === 'Succeeded' ? d : undefined;
      },
      180_000,
      500,
    );
    const inherits = (
      await psql(
        "SELECT string_agg(c.relname, ',' ORDER BY c.relname) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'financial.transactions'::regclass",
      )
    ).split(',');
    const p = o.status!.partitions![0]!;
    expect(p).toMatchObject({ table: 'financial.transactions', count: inherits.length });
    expect([p.oldest, p.newest]).toEqual([inherits[0], inherits.at(-1)]);
    // This year's partition and two ahead.
    expect(p.ahead).toBeGreaterThanOrEqual(2);
    const schedule = o.status?.schedules?.find((x) => x.name === 'rollover');
    expect(schedule?.lastRun).toMatchObject({ job: `${DB}-rollover-now`, result: 'Succeeded' });
  });

  it('benchmarks on demand: a baseline, a regression when an index is dropped, cleared when it is back', async () => {
    const runBench = async () => {
      const before = (await getDb()).status?.benchmarks?.job;
      await client.patch(
        Resources.HomeOpsDatabase,
        ns.name,
        DB,
        { metadata: { annotations: { 'homeops.io/run': 'bench' } } },
        MERGE_PATCH,
      );
      return eventually(
        async () => {
          const d = await getDb();
          const b = d.status?.benchmarks;
          return b?.job && b.job !== before && !d.metadata.annotations?.['homeops.io/run'] ? d : undefined;
        },
        180_000,
        500,
      );
    };
    const first = await runBench();
    // Through PgBouncer, in transaction pooling, as applications query.
    const job = await client.get<
      KubeObject & {
        spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
      }
    >(Resources.Job, ns.name, first.status!.benchmarks!.job!);
    expect(job.spec.template.spec.containers[0]!.env.find((e) => e.name === 'PGHOST')?.value).toBe(
      `${DB}-pooler.${ns.name}.svc`,
    );
    const s0 = first.status!.benchmarks!.scenarios![0]!;
    expect(s0).toMatchObject({ name: 'items-by-v', targetMs: 50, ratio: 1 });
    expect(first.status?.benchmarks?.baseline?.job).toBe(first.status?.benchmarks?.job);
    expect(cond(first, 'BenchmarkRegression')?.status).toBe('False');
    const since = Date.now();
    await psql('DROP INDEX app.items_v');
    const slow = await runBench();
    const s1 = slow.status!.benchmarks!.scenarios![0]!;
    expect(s1.regression).toBe('critical');
    expect(cond(slow, 'BenchmarkRegression')).toMatchObject({ status: 'True', reason: 'Regression' });
    expect(cond(slow, 'BenchmarkRegression')?.message).toContain('items-by-v');
    const warning = (await eventRecords(client, ns.name, DB, since)).find((e) => e.reason === 'Regression');
    expect(warning?.note).toMatch(/items-by-v: p95 [0-9.]+ ms is [0-9.]+x the baseline/);
    await psql('CREATE INDEX items_v ON app.items (v)');
    // Cleared: no longer major or critical. A sub-millisecond p95 on a loaded 2-core machine
    // can read as 'minor' (x1.5, no condition), or once in a while 'major': a second run then
    // decides. With the index still missing no run would clear (the run above: critical).
    let back = await runBench();
    for (
      let i = 0;
      i < 2 && ['major', 'critical'].includes(back.status!.benchmarks!.scenarios![0]!.regression!);
      i++
    )
      back = await runBench();
    const s2 = back.status!.benchmarks!.scenarios![0]!;
    expect(['major', 'critical']).not.toContain(s2.regression);
    expect(s2.ratio).toBeLessThan(2);
    expect(s2.ratio!).toBeLessThan(s1.ratio! / 4);
    expect(cond(back, 'BenchmarkRegression')?.status).toBe('False');
  });

  it('follows a schedule change in the spec, and refuses a 6-field cron at admission', async () => {
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      DB,
      { spec: { maintenance: { schedule: '15 3 * * 6' } } },
      MERGE_PATCH,
    );
    await eventually(
      async () =>
        (
          await client.get<KubeObject & { spec: { schedule: string } }>(
            Resources.CronJob,
            ns.name,
            `${DB}-maintain`,
          )
        ).spec.schedule === '15 3 * * 6',
      60_000,
    );
    const refused = (await client
      .patch(
        Resources.HomeOpsDatabase,
        ns.name,
        DB,
        { spec: { maintenance: { schedule: '0 15 3 * * 6' } } },
        MERGE_PATCH,
      )
      .then(
        () => ({ code: 0, message: 'accepted' }),
        (e: { code: number; message: string }) => e,
      )) as { code: number; message: string };
    expect(refused.code).toBe(422);
    expect(refused.message).toContain('a 6-field schedule (with seconds) is not accepted');
  });

  it('removes its Jobs and CronJobs with the database', async () => {
    await client.delete(Resources.HomeOpsDatabase, ns.name, DB);
    await eventually(async () => (await jobs()).length === 0, 120_000, 500);
    await eventually(
      async () =>
        (await client.list(Resources.CronJob, ns.name, { labelSelector: `homeops.io/database=${DB}` })).items
          .length === 0,
      120_000,
      500,
    );
  });
});
