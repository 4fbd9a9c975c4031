/**
 * status.backup and the BackupSucceeded condition, from the backup Jobs and what each read of
 * the repository after its backup (the summary in its termination message). Pure. What no Job
 * in the cache says any more (history limits prune them) is kept from the status before.
 */
import type { HomeOpsDatabase, HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import type { BackupInfo } from '../../jobs/backup.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';
import { newest, type RunView, runTime } from './schedulestatus.ts';

type Backup = NonNullable<HomeOpsDatabaseStatus['backup']>;

/** What `job backup` reports on success (src/jobs/backup.ts runBackup). */
interface BackupSummary {
  ok: true;
  type: BackupInfo['type'];
  backup: BackupInfo;
  backups: BackupInfo[];
  archive?: { min: string; max: string };
}

const info = (b: BackupInfo) => ({
  label: b.label,
  type: b.type,
  startTime: b.startTime,
  stopTime: b.stopTime,
  ...(b.walStart ? { walStart: b.walStart } : {}),
  ...(b.walStop ? { walStop: b.walStop } : {}),
  ...(b.lsnStop ? { lsnStop: b.lsnStop } : {}),
});

export function backupStatus(
  db: HomeOpsDatabase,
  runs: RunView[],
  prev: HomeOpsDatabaseStatus,
): Pick<HomeOpsDatabaseStatus, 'backup'> & { conditions: ConditionInput[] } {
  if (!db.spec.backup) return { conditions: [] };
  const mine = runs.filter((r) => r.kind === 'backup');
  const ok = newest(mine.filter((r) => r.succeeded && r.summary?.ok));
  const failed = newest(mine.filter((r) => r.failed));
  const before = prev.backup ?? {};
  const s = ok?.summary as unknown as BackupSummary | undefined;
  const backup: Backup = { ...before };
  if (ok && s?.backup) {
    backup.lastSuccessful = {
      ...info(s.backup),
      job: ok.name,
      ...(s.backup.databaseBytes !== undefined ? { databaseBytes: s.backup.databaseBytes } : {}),
      ...(s.backup.repositoryBytes !== undefined ? { repositoryBytes: s.backup.repositoryBytes } : {}),
    };
    backup.backups = s.backups.map(info);
    // The earliest point a recovery can reach: the end of the oldest backup the repository keeps.
    if (s.backups[0]) backup.firstRecoverabilityPoint = s.backups[0].stopTime;
    if (s.archive) backup.walArchived = s.archive;
  }
  if (failed)
    backup.lastFailed = {
      job: failed.name,
      ...(runTime(failed) ? { time: runTime(failed) } : {}),
      reason: failed.summary?.reason ?? failed.failure?.reason ?? 'Failed',
      message: (failed.summary?.message ?? failed.failure?.message ?? '').slice(0, 1000),
    };
  return {
    ...(Object.keys(backup).length ? { backup } : {}),
    conditions: [backupCondition(mine, backup)],
  };
}

function backupCondition(runs: RunView[], backup: Backup): ConditionInput {
  const last = newest(runs.filter((r) => !r.running));
  const running = newest(runs.filter((r) => r.running));
  const good = backup.lastSuccessful;
  if (last?.failed)
    return {
      type: 'BackupSucceeded',
      status: 'False',
      reason: last.summary?.reason ?? last.failure?.reason ?? 'BackupFailed',
      message: `Job ${last.name}: ${last.summary?.message ?? last.failure?.message ?? 'failed'}${
        good ? `; the last good backup is ${good.label} (${good.stopTime})` : '; there is no good backup yet'
      }`.slice(0, 2000),
    };
  if (good && (!last || last.succeeded))
    return {
      type: 'BackupSucceeded',
      status: 'True',
      reason: 'Succeeded',
      message: `backup ${good.label} (${good.type}) ended ${good.stopTime}`,
    };
  return running
    ? {
        type: 'BackupSucceeded',
        status: 'Unknown',
        reason: 'Running',
        message: `Job ${running.name} is taking a backup`,
      }
    : {
        type: 'BackupSucceeded',
        status: 'Unknown',
        reason: 'NoBackupYet',
        message: 'no backup has run yet: the first full backup starts once the database is Ready',
      };
}
