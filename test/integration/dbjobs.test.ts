/**
 * The Jobs controller's writes before and after a database is Ready, on the real API server
 * (kwok runs the pods and completes the Jobs; no migration really runs here: that is
 * test/e2e/dbjobs.test.ts on the real node). What a database costs to set up: its CronJob is
 * applied once (not first suspended, then resumed), the Jobs' status writer says nothing before
 * the database is Ready unless it has a problem of its own, and Secrets made beforehand with the
 * operator's labels are used without one request.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerDatabaseJobsController } from '../../src/controllers/dbjobs/controller.ts';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { dbLabels } from '../../src/controllers/homeopsdatabase/names.ts';
import type { KubeClient } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { auditEvents } from '../support/audit.ts';
import { cond } from '../support/conditions.ts';
import { dataplane } from '../support/dataplane.ts';
import { databases, startOperator, stop, type TestEnv, testEnv } from '../support/env.ts';
import { eventually } from '../support/kube.ts';

type Job = KubeObject & { status?: { completionTime?: string } };

let live: TestEnv;
let ns: TestEnv['ns'];
let client: KubeClient;
let dbs: ReturnType<typeof databases>;
let manager: Manager;
let identity: string;
const since = new Date();

const cronJobs = async (db: string) =>
  (
    await client.list<KubeObject & { spec: { suspend?: boolean } }>(Resources.CronJob, ns.name, {
      labelSelector: `homeops.io/database=${db}`,
    })
  ).items;

beforeAll(async () => {
  live = await testEnv('dbjobs');
  ({ ns, client } = live);
  dbs = databases(live);
  const env = dataplane();
  // Only `ready` reaches the local servers: `waiting` and `typo` never become Ready.
  const endpointMap = {
    [`ready-rw.${ns.name}.svc:5432`]: `127.0.0.1:${env.HOMEOPS_PG_PORT}`,
    [`ready-pooler.${ns.name}.svc:5432`]: `127.0.0.1:${env.HOMEOPS_PGBOUNCER_PORT}`,
  };
  // The local servers' credentials, labelled as the operator labels its own Secrets.
  for (const [role, username, password] of [
    ['superuser', 'postgres', env.HOMEOPS_PG_SUPERUSER_PASSWORD],
    ['app', 'homeops', env.HOMEOPS_PG_APP_PASSWORD],
    ['replication', 'replicator', env.HOMEOPS_PG_REPLICATION_PASSWORD],
    ['pooler-auth', 'pgbouncer_auth', env.HOMEOPS_PGBOUNCER_AUTH_PASSWORD],
  ] as const)
    await client.create(Resources.Secret, {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: `ready-${role}`,
        namespace: ns.name,
        labels: dbLabels({ metadata: { name: 'ready' } } as never, 'secret'),
      },
      stringData: { username, password: password! },
    });
  identity = `dbjobs-test-${ns.name}`;
  manager = await startOperator(
    live,
    identity,
    (m) =>
      registerHomeOpsDatabaseController(m, {
        endpointMap,
        probeTimeoutMs: 2000,
        retry: { attempts: 2, baseDelayMs: 100 },
      }),
    (m) => registerDatabaseJobsController(m, { operatorImage: 'homeops-operator:test' }),
  );
});

afterAll(() => stop(live, manager));

describe('the Jobs of a database being set up', () => {
  it('say nothing before it is Ready, unless they have a problem of their own', async () => {
    await dbs.create('waiting');
    await dbs.create('typo', { migrations: { configMaps: [{ name: 'no-such-map' }] } });
    // Its own problem is told at once, before the database is Ready. The two writers (the
    // database's controller with `Ready`, the Jobs' with `MigrationsApplied`) write in no fixed
    // order: wait for the state where both have spoken.
    const typo = await eventually(async () => {
      const o = await dbs.get('typo');
      return cond(o, 'MigrationsApplied')?.reason === 'ConfigMapNotFound' && cond(o, 'Ready') ? o : undefined;
    }, 60_000);
    expect(cond(typo, 'MigrationsApplied')?.message).toContain('no-such-map');
    expect(cond(typo, 'Ready')?.status).toBe('False');
    // `waiting` was reconciled (its database status says the primary cannot be reached), and the
    // Jobs' writer wrote nothing of its own: no condition, no schedules, no CronJob.
    const waiting = await eventually(async () => {
      const o = await dbs.get('waiting');
      return cond(o, 'PrimaryAvailable')?.status === 'False' && o.status?.observedGeneration ? o : undefined;
    }, 60_000);
    expect(cond(waiting, 'Ready')?.status).toBe('False');
    expect(cond(waiting, 'MigrationsApplied')).toBeUndefined();
    expect(waiting.status?.schedules).toBeUndefined();
    expect(waiting.status?.migrations).toBeUndefined();
    expect(await cronJobs('waiting')).toEqual([]);
    expect(await cronJobs('typo')).toEqual([]);
  });

  it('once Ready: its CronJob made once, not resumed; the migration Job run and its end in status', async () => {
    await dbs.create('ready');
    const o = await eventually(async () => {
      const d = await dbs.get('ready');
      return cond(d, 'MigrationsApplied')?.status === 'True' ? d : undefined;
    }, 120_000);
    expect(cond(o, 'Ready')?.status).toBe('True');
    const [cj, ...more] = await cronJobs('ready');
    expect(more).toEqual([]);
    expect(cj?.metadata.name).toBe('ready-maintain');
    expect(cj?.spec.suspend).toBe(false);
    // Generation 1: its spec was never changed after it was made (no suspended first version).
    expect(cj?.metadata.generation).toBe(1);
    const job = await client.get<Job>(Resources.Job, ns.name, o.status!.migrations!.job!);
    expect(job.status?.completionTime).toBeDefined();
    expect(o.status?.migrations?.result).toBe('Succeeded');
    expect(o.status?.migrations?.lastRunTime).toBe(job.status?.completionTime);
    expect(o.status?.schedules?.map((s) => [s.name, s.suspended])).toEqual([['maintain', false]]);
    // The `waiting` database is still as it was: nothing of the Jobs' writer.
    expect(cond(await dbs.get('waiting'), 'MigrationsApplied')).toBeUndefined();
  });

  it("reads and writes no Secret of a database whose Secrets carry the operator's labels", async () => {
    const secretRequests = auditEvents(`homeops-operator/${identity}`, since).filter(
      (e) => e.objectRef?.resource === 'secrets' && e.objectRef.name?.startsWith('ready-'),
    );
    expect(secretRequests.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  });
});
