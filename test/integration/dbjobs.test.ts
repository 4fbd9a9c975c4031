/**
 * The Jobs controller's writes before and after a database is Ready, on the real API server
 * (kwok runs the pods and completes the Jobs; no migration really runs here: that is
 * test/e2e/dbjobs.test.ts on the real node). What a database costs to set up: its CronJob is
 * applied once (not first suspended, then resumed), the Jobs' status writer says nothing before
 * the database is Ready unless it has a problem of its own, and Secrets made beforehand with the
 * operator's labels are used without one request.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HomeOpsDatabaseStatus } from '../../src/api/v1alpha1/index.ts';
import { registerDatabaseJobsController } from '../../src/controllers/dbjobs/controller.ts';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { dbLabels } from '../../src/controllers/homeopsdatabase/names.ts';
import { KubeClient } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { auditEvents } from '../support/audit.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { dataplane } from '../support/dataplane.ts';
import { eventually, kubeConfig, onKwok, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';

type Db = KubeObject & { status?: HomeOpsDatabaseStatus };
type Job = KubeObject & { status?: { completionTime?: string } };

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;
let identity: string;
const since = new Date();

const getDb = (name: string) => client.get<Db>(Resources.HomeOpsDatabase, ns.name, name);
const cronJobs = async (db: string) =>
  (
    await client.list<KubeObject & { spec: { suspend?: boolean } }>(Resources.CronJob, ns.name, {
      labelSelector: `homeops.io/database=${db}`,
    })
  ).items;

function createDb(name: string, spec: Record<string, unknown> = {}) {
  return client.create<Db>(Resources.HomeOpsDatabase, {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: { name, namespace: ns.name },
    spec: onKwok({ monitoring: { intervalSeconds: 5 }, pooler: { instances: 1 }, ...spec }),
  });
}

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'dbjobs');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
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
  manager = testManager(ns.name, identity);
  registerHomeOpsDatabaseController(manager, {
    endpointMap,
    probeTimeoutMs: 2000,
    retry: { attempts: 2, baseDelayMs: 100 },
  });
  registerDatabaseJobsController(manager, { operatorImage: 'homeops-operator:test' });
  await manager.start();
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('the Jobs of a database being set up', () => {
  it('say nothing before it is Ready, unless they have a problem of their own', async () => {
    await createDb('waiting');
    await createDb('typo', { migrations: { configMaps: [{ name: 'no-such-map' }] } });
    // Its own problem is told at once, before the database is Ready. The two writers (the
    // database's controller with `Ready`, the Jobs' with `MigrationsApplied`) write in no fixed
    // order: wait for the state where both have spoken.
    const typo = await eventually(async () => {
      const o = await getDb('typo');
      return cond(o, 'MigrationsApplied')?.reason === 'ConfigMapNotFound' && cond(o, 'Ready') ? o : undefined;
    }, 60_000);
    expect(cond(typo, 'MigrationsApplied')?.message).toContain('no-such-map');
    expect(cond(typo, 'Ready')?.status).toBe('False');
    // `waiting` was reconciled (its database status says the primary cannot be reached), and the
    // Jobs' writer wrote nothing of its own: no condition, no schedules, no CronJob.
    const waiting = await eventually(async () => {
      const o = await getDb('waiting');
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
    await createDb('ready');
    const o = await eventually(async () => {
      const d = await getDb('ready');
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
    expect(cond(await getDb('waiting'), 'MigrationsApplied')).toBeUndefined();
  });

  it("reads and writes no Secret of a database whose Secrets carry the operator's labels", async () => {
    const secretRequests = auditEvents(`homeops-operator/${identity}`, since).filter(
      (e) => e.objectRef?.resource === 'secrets' && e.objectRef.name?.startsWith('ready-'),
    );
    expect(secretRequests.map((e) => `${e.verb} ${e.requestURI}`)).toEqual([]);
  });
});
