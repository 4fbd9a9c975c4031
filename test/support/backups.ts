/**
 * The backup e2e tests' shared steps, for any repository (a volume, S3): a small database on
 * the real node, status waits that say what they saw, and point-in-time recovery checked row by
 * row (10,000 rows, a full backup, more rows, T, DROP TABLE, a database restored to T).
 */
import { expect } from 'vitest';
import type { HomeOpsDatabaseStatus } from '../../src/api/v1alpha1/index.ts';
import { registerDatabaseJobsController } from '../../src/controllers/dbjobs/controller.ts';
import { pgbackrestCommand } from '../../src/controllers/homeopsdatabase/backup.ts';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { STANZA } from '../../src/controllers/homeopsdatabase/names.ts';
import { parseInfo } from '../../src/jobs/backup.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from './conditions.ts';
import { installCrds } from './crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from './kube.ts';
import { testManager } from './operator.ts';
import { localImages, operatorImage, psqlInPod } from './realnode.ts';

export type Db = KubeObject & { status?: HomeOpsDatabaseStatus };

export const condIs = (type: string, status: string, reason?: string) => (o: Db) => {
  const c = cond(o, type);
  return c?.status === status && (!reason || c.reason === reason);
};

export function backupSteps(client: KubeClient, namespace: string) {
  const getDb = (name: string) => client.get<Db>(Resources.HomeOpsDatabase, namespace, name);
  const psql = (name: string, sql: string) => psqlInPod(namespace, `${name}-0`, sql);
  const inPod = (name: string, ...cmd: string[]) =>
    kubectl('exec', '-n', namespace, `${name}-0`, '-c', 'postgres', '--', ...cmd);
  const repoInfo = async (name: string) =>
    parseInfo(await inPod(name, ...pgbackrestCommand('info', '--output=json')), STANZA);
  const until = (name: string, what: string, ok: (o: Db) => boolean, ms = 300_000) =>
    eventually(
      async () => {
        const o = await getDb(name);
        if (ok(o)) return o;
        throw new Error(
          `${name}: ${what}: conditions ${JSON.stringify(o.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]))}; backup ${JSON.stringify(o.status?.backup)}; archiving ${JSON.stringify(o.status?.archiving)}`,
        );
      },
      ms,
      1000,
    );
  /** A small database on the real node: no pooler, no builtin schema, probed every 5 s. */
  const createDb = (name: string, spec: Record<string, unknown>) =>
    client.create(Resources.HomeOpsDatabase, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name, namespace },
      spec: {
        postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
        pooler: { enabled: false },
        migrations: { builtin: false },
        monitoring: { intervalSeconds: 5 },
        ...spec,
      },
    });
  const run = (name: string, what: string) =>
    client.patch(
      Resources.HomeOpsDatabase,
      namespace,
      name,
      { metadata: { annotations: { 'homeops.io/run': what } } },
      MERGE_PATCH,
    );
  const secretValue = (name: string, key: string) =>
    kubectl('get', 'secret', '-n', namespace, name, '-o', `jsonpath={.data.${key}}`);

  /** The newest WAL segment switched to, once status says it is archived. */
  const archived = async (name: string) => {
    const wal = await psql(name, 'SELECT pg_walfile_name(pg_switch_wal())');
    await until(name, `WAL ${wal} archived`, (d) => (d.status?.archiving?.lastArchivedWal ?? '') >= wal);
    return wal;
  };

  /**
   * Point-in-time recovery of `source` into `restored`: exactly the rows at T (count and
   * checksum), nothing written after it, promoted, its own password, and it takes writes.
   */
  async function pitr(source: string, restored: string) {
    await psql(
      source,
      'CREATE TABLE pitr AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g',
    );
    const before = (await getDb(source)).status?.backup?.backups?.length ?? 0;
    await run(source, 'backup');
    await until(
      source,
      'the full backup',
      (d) =>
        (d.status?.backup?.backups?.length ?? 0) > before &&
        d.status?.backup?.lastSuccessful?.type === 'full',
    );
    await psql(source, 'INSERT INTO pitr SELECT g, md5(g::text) FROM generate_series(10001, 10500) g');
    const atT = await psql(source, "SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM pitr");
    await new Promise((r) => setTimeout(r, 1500));
    const T = await psql(source, `SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
    await new Promise((r) => setTimeout(r, 1500));
    await psql(source, 'DROP TABLE pitr; CREATE TABLE after_t AS SELECT generate_series(1, 100) AS id');
    await archived(source);

    await createDb(restored, { bootstrap: { recovery: { source, target: { time: T } } } });
    const o = await until(restored, 'Ready', (d) => cond(d, 'Ready')?.status === 'True', 420_000);
    const last = (await getDb(source)).status!.backup!.lastSuccessful!.label;
    expect(o.status!.recovery).toEqual({ source, backup: last, target: `time:${T}` });
    const there = (sql: string) => psql(restored, sql);
    expect(await there("SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM pitr")).toBe(atT);
    expect(await there("SELECT to_regclass('after_t') IS NULL")).toBe('t');
    expect(await there('SELECT pg_is_in_recovery()')).toBe('f');
    // Its own Secret's password, not the source's (psqlInPod logs in with the pod's superuser file).
    expect(await secretValue(`${restored}-superuser`, 'password')).not.toBe(
      await secretValue(`${source}-superuser`, 'password'),
    );
    await there('CREATE TABLE written_after AS SELECT 1 AS id');
    return o;
  }

  return { getDb, psql, inPod, repoInfo, until, createDb, run, archived, pitr };
}

/**
 * A namespace of its own and an operator for it (the database and jobs controllers, the local
 * images), as each backup e2e file starts; `stop` ends both.
 */
export async function backupEnv(prefix: string) {
  const kc = kubeConfig();
  await installCrds(kc);
  const ns = await testNamespace(kc, prefix);
  await waitForServiceAccount(kc, ns.name);
  const client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  const manager = testManager(ns.name, `${prefix}-${ns.name}`);
  registerHomeOpsDatabaseController(manager, {
    endpointMap: {},
    serviceAddresses: 'cluster-ip',
    images: localImages(),
  });
  registerDatabaseJobsController(manager, { operatorImage: operatorImage() });
  await manager.start();
  const stop = async () => {
    await manager.stop();
    await ns.cleanup();
  };
  return { ns, client, steps: backupSteps(client, ns.name), stop };
}
