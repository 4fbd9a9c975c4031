/**
 * Backups on the real node (issue 26, first part: the volume repository): with spec.backup the
 * primary archives WAL with pgBackRest, the first full backup runs by itself once the database
 * is Ready, an incremental one runs on demand, and status says what pgBackRest's own `info` and
 * PostgreSQL's pg_stat_archiver say in the pod. Archiving that fails (the repository made
 * unwritable) turns ContinuousArchiving False with pgBackRest's message and a Warning Event;
 * once the repository is writable again it catches up and `pgbackrest check` passes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pgbackrestCommand } from '../../src/controllers/homeopsdatabase/backup.ts';
import { BACKUP_REPO_DIR } from '../../src/controllers/homeopsdatabase/names.ts';
import type { KubeClient } from '../../src/runtime/client.ts';
import { Resources } from '../../src/runtime/types.ts';
import { backupEnv, type backupSteps, condIs, type Db } from '../support/backups.ts';
import { cond } from '../support/conditions.ts';
import { eventually } from '../support/kube.ts';
import { eventsSince } from '../support/realnode.ts';

const NAME = 'bk';
let live: Awaited<ReturnType<typeof backupEnv>>;
let ns: Awaited<ReturnType<typeof backupEnv>>['ns'];
let client: KubeClient;
let steps: ReturnType<typeof backupSteps>;
/** When the primary's postmaster started, as the first test saw it. */
let started = '';

const getDb = () => steps.getDb(NAME);
const psql = (sql: string) => steps.psql(NAME, sql);
const inPod = (...cmd: string[]) => steps.inPod(NAME, ...cmd);
const repoInfo = () => steps.repoInfo(NAME);
const until = (what: string, ok: (o: Db) => boolean, ms = 300_000) => steps.until(NAME, what, ok, ms);
const createDb = (name: string, spec: Record<string, unknown>) => steps.createDb(name, spec);

beforeAll(async () => {
  live = await backupEnv('e2e-backup');
  ({ ns, client, steps } = live);
  await createDb(NAME, {
    backup: { repository: { volume: { size: '1Gi', reclaimPolicy: 'Delete' } }, archiveTimeoutSeconds: 10 },
  });
});

afterAll(async () => {
  await live?.stop();
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
    await steps.run(NAME, 'backup-incr');
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
    await steps.pitr(NAME, 'bk-pitr');
  });

  it('retention 2 with a third full backup: the oldest full, the backups that depend on it and its WAL are expired', async () => {
    const before = await repoInfo();
    const fulls = before.backups.filter((b) => b.type === 'full');
    expect(fulls.length).toBe(2);
    const oldest = fulls[0]!;
    await steps.run(NAME, 'backup-full');
    const o = await until(
      'a third full backup',
      (d) =>
        d.status?.backup?.lastSuccessful?.type === 'full' &&
        d.status.backup.lastSuccessful.label !== fulls[1]!.label &&
        !d.status.backup.backups?.some((b) => b.label === oldest.label),
    );
    const after = await repoInfo();
    // pgBackRest's own view, and status, agree: two fulls, nothing older than the second.
    expect(after.backups.filter((b) => b.type === 'full').map((b) => b.label)).toEqual([
      fulls[1]!.label,
      o.status!.backup!.lastSuccessful!.label,
    ]);
    expect(after.backups.some((b) => b.label === oldest.label || b.startTime < fulls[1]!.startTime)).toBe(
      false,
    );
    expect(o.status!.backup!.backups!.map((b) => b.label)).toEqual(after.backups.map((b) => b.label));
    expect(o.status!.backup!.firstRecoverabilityPoint).toBe(fulls[1]!.stopTime);
    // The WAL only the expired backup needed went with it.
    expect(after.archive!.min > oldest.walStart!).toBe(true);
    expect(after.archive!.min <= fulls[1]!.walStart!).toBe(true);
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
