/**
 * Backups on the real node (issue 26, first part: the volume repository): with spec.backup the
 * primary archives WAL with pgBackRest, the first full backup runs by itself once the database
 * is Ready, an incremental one runs on demand, and status says what pgBackRest's own `info` and
 * PostgreSQL's pg_stat_archiver say in the pod. Archiving that fails (the repository made
 * unwritable) turns ContinuousArchiving False with pgBackRest's message and a Warning Event;
 * once the repository is writable again it catches up and `pgbackrest check` passes.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HomeOpsDatabaseStatus } from '../../src/api/v1alpha1/index.ts';
import { registerDatabaseJobsController } from '../../src/controllers/dbjobs/controller.ts';
import { pgbackrestCommand } from '../../src/controllers/homeopsdatabase/backup.ts';
import { registerHomeOpsDatabaseController } from '../../src/controllers/homeopsdatabase/controller.ts';
import { BACKUP_REPO_DIR, STANZA } from '../../src/controllers/homeopsdatabase/names.ts';
import { parseInfo } from '../../src/jobs/backup.ts';
import { KubeClient, MERGE_PATCH } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from '../support/conditions.ts';
import { installCrds } from '../support/crds.ts';
import { eventually, kubeConfig, kubectl, testNamespace, waitForServiceAccount } from '../support/kube.ts';
import { testManager } from '../support/operator.ts';
import { eventsSince, localImages, operatorImage, psqlInPod } from '../support/realnode.ts';

type Db = KubeObject & { status?: HomeOpsDatabaseStatus };

const NAME = 'bk';
let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let client: KubeClient;
let manager: Manager;
/** When the primary's postmaster started, as the first test saw it. */
let started = '';

const getDb = () => client.get<Db>(Resources.HomeOpsDatabase, ns.name, NAME);
const psql = (sql: string) => psqlInPod(ns.name, `${NAME}-0`, sql);
const inPod = (...cmd: string[]) =>
  kubectl('exec', '-n', ns.name, `${NAME}-0`, '-c', 'postgres', '--', ...cmd);
const repoInfo = async () => parseInfo(await inPod(...pgbackrestCommand('info', '--output=json')), STANZA);
const until = (what: string, ok: (o: Db) => boolean, ms = 300_000) =>
  eventually(
    async () => {
      const o = await getDb();
      if (ok(o)) return o;
      throw new Error(
        `${what}: conditions ${JSON.stringify(o.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]))}; backup ${JSON.stringify(o.status?.backup)}; archiving ${JSON.stringify(o.status?.archiving)}`,
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
    metadata: { name, namespace: ns.name },
    spec: {
      postgres: { storage: { size: '1Gi', reclaimPolicy: 'Delete' } },
      pooler: { enabled: false },
      migrations: { builtin: false },
      monitoring: { intervalSeconds: 5 },
      ...spec,
    },
  });
const condIs = (type: string, status: string, reason?: string) => (o: Db) => {
  const c = cond(o, type);
  return c?.status === status && (!reason || c.reason === reason);
};

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'e2e-backup');
  await waitForServiceAccount(kc, ns.name);
  client = new KubeClient(kc, { userAgent: 'homeops-tests' });
  manager = testManager(ns.name, `e2e-backup-${ns.name}`);
  registerHomeOpsDatabaseController(manager, {
    endpointMap: {},
    serviceAddresses: 'cluster-ip',
    images: localImages(),
  });
  registerDatabaseJobsController(manager, { operatorImage: operatorImage() });
  await manager.start();
  await createDb(NAME, {
    backup: { repository: { volume: { size: '1Gi', reclaimPolicy: 'Delete' } }, archiveTimeoutSeconds: 10 },
  });
});

afterAll(async () => {
  await manager?.stop();
  await ns?.cleanup();
});

describe('backups with pgBackRest on a volume', () => {
  it('archives WAL and takes the first full backup by itself; status matches pgbackrest info', async () => {
    const o = await until('the first backup', condIs('BackupSucceeded', 'True', 'Succeeded'), 420_000);
    const info = await repoInfo();
    expect(info.code).toBe(0);
    expect(info.backups.map((b) => b.label)).toEqual(o.status!.backup!.backups!.map((b) => b.label));
    const last = o.status!.backup!.lastSuccessful!;
    expect(last.type).toBe('full');
    expect(last.label).toBe(info.backups.at(-1)!.label);
    expect(last.databaseBytes).toBeGreaterThan(1_000_000);
    expect(o.status!.backup!.firstRecoverabilityPoint).toBe(info.backups[0]!.stopTime);
    // The operator's settings are the ones in force, and no password was needed for pgBackRest.
    expect(await psql('SHOW archive_mode')).toBe('on');
    expect(await psql('SHOW archive_command')).toContain('archive-push');
    expect(await psql('SHOW archive_timeout')).toBe('10s');
    started = await psql('SELECT pg_postmaster_start_time()');
  });

  it('ContinuousArchiving follows pg_stat_archiver', async () => {
    await psql('CREATE TABLE IF NOT EXISTS t (id int); INSERT INTO t SELECT generate_series(1, 1000)');
    const wal = await psql('SELECT pg_walfile_name(pg_switch_wal())');
    const o = await until(
      `WAL ${wal} archived`,
      (d) =>
        condIs('ContinuousArchiving', 'True', 'Archiving')(d) &&
        (d.status?.archiving?.lastArchivedWal ?? '') >= wal,
    );
    expect(o.status!.archiving!.lastArchivedWal).toBe(
      await psql('SELECT last_archived_wal FROM pg_stat_archiver'),
    );
  });

  it('an incremental backup on demand (homeops.io/run: backup-incr)', async () => {
    const before = (await getDb()).status!.backup!.backups!.length;
    await psql('INSERT INTO t SELECT generate_series(1, 1000)');
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      NAME,
      { metadata: { annotations: { 'homeops.io/run': 'backup-incr' } } },
      MERGE_PATCH,
    );
    const o = await until(
      'the incremental backup',
      (d) => d.status?.backup?.lastSuccessful?.type === 'incr' && condIs('BackupSucceeded', 'True')(d),
    );
    expect(o.status!.backup!.backups!.length).toBe(before + 1);
    expect((await repoInfo()).backups.at(-1)!.label).toBe(o.status!.backup!.lastSuccessful!.label);
  });

  it('archiving that fails is ContinuousArchiving=False with the reason and a Warning; it then catches up', async () => {
    const since = Date.now();
    await inPod('chmod', '000', `${BACKUP_REPO_DIR}/archive`);
    try {
      await psql('INSERT INTO t SELECT generate_series(1, 1000)');
      await psql('SELECT pg_switch_wal()');
      const o = await until(
        'archiving failing',
        condIs('ContinuousArchiving', 'False', 'ArchiveFailed'),
        180_000,
      );
      expect(cond(o, 'ContinuousArchiving')!.message).toMatch(/could not be archived/);
      expect(o.status!.archiving!.lastFailedWal).toBeTruthy();
      await eventually(
        async () =>
          (await eventsSince(client, ns.name, NAME, since)).includes('ContinuousArchiving/ArchiveFailed'),
        60_000,
      );
    } finally {
      await inPod('chmod', '750', `${BACKUP_REPO_DIR}/archive`);
    }
    await psql('SELECT pg_switch_wal()');
    await until('archiving again', condIs('ContinuousArchiving', 'True', 'Archiving'), 180_000);
    // Every segment reached the repository: check switches WAL and waits for it to be archived.
    await inPod(...pgbackrestCommand('check'));
    // The server never restarted: a failing asynchronous push (its detached process exiting
    // non-zero) must not be taken by the postmaster for a crashed backend.
    expect(await psql('SELECT pg_postmaster_start_time()')).toBe(started);
  });

  it('point-in-time recovery into a new database: exactly the rows at T, its own passwords', async () => {
    // 10,000 rows, a full backup, more rows, T, the table dropped, more rows elsewhere.
    await psql('CREATE TABLE pitr AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 10000) g');
    await client.patch(
      Resources.HomeOpsDatabase,
      ns.name,
      NAME,
      { metadata: { annotations: { 'homeops.io/run': 'backup' } } },
      MERGE_PATCH,
    );
    const full = (await getDb()).status!.backup!.backups!.length;
    await until(
      'the full backup',
      (d) =>
        (d.status?.backup?.backups?.length ?? 0) > full && d.status?.backup?.lastSuccessful?.type === 'full',
    );
    await psql('INSERT INTO pitr SELECT g, md5(g::text) FROM generate_series(10001, 10500) g');
    const atT = await psql("SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM pitr");
    await new Promise((r) => setTimeout(r, 1500));
    const T = await psql(`SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`);
    await new Promise((r) => setTimeout(r, 1500));
    await psql('DROP TABLE pitr; CREATE TABLE after_t AS SELECT generate_series(1, 100) AS id');
    const wal = await psql('SELECT pg_walfile_name(pg_switch_wal())');
    await until(`WAL ${wal} archived`, (d) => (d.status?.archiving?.lastArchivedWal ?? '') >= wal);

    const restored = 'bk-pitr';
    await createDb(restored, { bootstrap: { recovery: { source: NAME, target: { time: T } } } });
    const o = await eventually(
      async () => {
        const d = await client.get<Db>(Resources.HomeOpsDatabase, ns.name, restored);
        if (cond(d, 'Ready')?.status === 'True') return d;
        throw new Error(
          `${restored}: ${JSON.stringify(d.status?.conditions?.map((c) => [c.type, c.status, c.reason, c.message]))}`,
        );
      },
      420_000,
      1000,
    );
    const last = (await getDb()).status!.backup!.lastSuccessful!.label;
    expect(o.status!.recovery).toEqual({
      source: NAME,
      backup: last,
      target: `time:${T}`,
    });
    const there = (sql: string) => psqlInPod(ns.name, `${restored}-0`, sql);
    expect(await there("SELECT count(*) || ':' || md5(string_agg(v, ',' ORDER BY id)) FROM pitr")).toBe(atT);
    expect(await there("SELECT to_regclass('after_t') IS NULL")).toBe('t');
    expect(await there('SELECT pg_is_in_recovery()')).toBe('f');
    // Its own Secret's password, not the source's (psqlInPod logs in with the pod's superuser file).
    const own = await kubectl(
      'get',
      'secret',
      '-n',
      ns.name,
      `${restored}-superuser`,
      '-o',
      'jsonpath={.data.password}',
    );
    const src = await kubectl(
      'get',
      'secret',
      '-n',
      ns.name,
      `${NAME}-superuser`,
      '-o',
      'jsonpath={.data.password}',
    );
    expect(own).not.toBe(src);
    await there('CREATE TABLE written_after AS SELECT 1 AS id');
  });

  it('a target before the first recoverable point, or a source that does not exist: Stalled, nothing made', async () => {
    const make = (name: string, recovery: Record<string, unknown>) =>
      createDb(name, { bootstrap: { recovery } });

    await make('bk-early', { source: NAME, target: { time: '2001-01-01T00:00:00Z' } });
    await make('bk-nosrc', { source: 'no-such-db' });
    for (const [name, reason] of [
      ['bk-early', 'TargetBeforeFirstRecoverabilityPoint'],
      ['bk-nosrc', 'RecoverySourceNotFound'],
    ] as const) {
      await eventually(async () => {
        const d = await client.get<Db>(Resources.HomeOpsDatabase, ns.name, name);
        return cond(d, 'Stalled')?.status === 'True' && cond(d, 'Stalled')?.reason === reason;
      }, 120_000);
      await expect(client.get(Resources.StatefulSet, ns.name, name)).rejects.toMatchObject({
        notFound: true,
      });
    }
  });
});
