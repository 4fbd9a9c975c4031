/**
 * WAL archiving as the primary reports it: pg_stat_archiver, archive_mode in force, and
 * pgBackRest's own error for the segment it could not push (the asynchronous archiver leaves it
 * in its spool, `archive/STANZA/out/*.error`, which the superuser reads with pg_read_file). The
 * read is the probe's; status and the ContinuousArchiving condition are pure functions of it.
 */

import type pg from 'pg';
import type { HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { repositoryReason } from '../../common/pgbackrest.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';
import { BACKUP_SPOOL_DIR, STANZA } from './names.ts';

export interface ArchiverState {
  /** archive_mode as the server runs it (a change waits for a restart). */
  mode: string;
  archivedCount: number;
  lastArchivedWal?: string;
  lastArchivedTime?: string;
  failedCount: number;
  lastFailedWal?: string;
  lastFailedTime?: string;
  /** pgBackRest's message for the push that failed, when its spool holds one. */
  error?: string;
}

const SPOOL_OUT = `${BACKUP_SPOOL_DIR}/archive/${STANZA}/out`;
const time = (v: unknown) => (v instanceof Date ? v.toISOString() : v ? String(v) : undefined);

export async function readArchiver(c: Pick<pg.ClientBase, 'query'>): Promise<ArchiverState> {
  const { rows } = await c.query(
    `SELECT current_setting('archive_mode') AS mode, archived_count::int, last_archived_wal, last_archived_time,
            failed_count::int, last_failed_wal, last_failed_time FROM pg_stat_archiver`,
  );
  const r = rows[0];
  const state: ArchiverState = {
    mode: r.mode,
    archivedCount: r.archived_count,
    failedCount: r.failed_count,
    ...(r.last_archived_wal
      ? { lastArchivedWal: r.last_archived_wal, lastArchivedTime: time(r.last_archived_time) }
      : {}),
    ...(r.last_failed_wal
      ? { lastFailedWal: r.last_failed_wal, lastFailedTime: time(r.last_failed_time) }
      : {}),
  };
  if (failing(state)) {
    // The newest error file (global.error, or one per segment); none when the spool was cleared.
    const err = await c
      .query(
        `SELECT pg_read_file($1 || '/' || f) AS text FROM pg_ls_dir($1, true, false) AS f
          WHERE f LIKE '%.error' ORDER BY (pg_stat_file($1 || '/' || f)).modification DESC LIMIT 1`,
        [SPOOL_OUT],
      )
      .catch(() => ({ rows: [] as { text: string }[] }));
    const text = err.rows[0]?.text?.trim();
    if (text) state.error = text.replace(/\s+/g, ' ').slice(0, 1000);
  }
  return state;
}

/** The last attempt failed: a failure newer than the last success (or no success at all). */
export const failing = (a: ArchiverState) =>
  !!a.lastFailedTime &&
  (!a.lastArchivedTime || Date.parse(a.lastFailedTime) >= Date.parse(a.lastArchivedTime));

export function archivingStatus(a: ArchiverState): NonNullable<HomeOpsDatabaseStatus['archiving']> {
  return {
    ...(a.lastArchivedWal
      ? { lastArchivedWal: a.lastArchivedWal, lastArchivedTime: a.lastArchivedTime }
      : {}),
    ...(a.lastFailedWal ? { lastFailedWal: a.lastFailedWal, lastFailedTime: a.lastFailedTime } : {}),
  };
}

export function archivingCondition(a: ArchiverState): ConditionInput {
  if (a.mode === 'off')
    return {
      type: 'ContinuousArchiving',
      status: 'False',
      reason: 'ArchiveModeOff',
      message: 'archive_mode is off: it takes effect when the primary restarts with the backup configuration',
    };
  if (failing(a))
    return {
      type: 'ContinuousArchiving',
      status: 'False',
      // The repository's own trouble by name (unreachable, refused the keys, TLS), if it says so.
      reason: repositoryReason(a.error, 'ArchiveFailed'),
      message: `WAL ${a.lastFailedWal} could not be archived (last try ${a.lastFailedTime}${
        a.lastArchivedWal ? `; the last archived is ${a.lastArchivedWal} at ${a.lastArchivedTime}` : ''
      }): ${a.error ?? "pgBackRest has reported no error yet (its asynchronous push is still trying: an unreachable repository does this); the archive command's own failure is in the primary's log"}. WAL is kept in pg_wal until archiving works again`.slice(
        0,
        2000,
      ),
    };
  if (a.lastArchivedWal)
    return {
      type: 'ContinuousArchiving',
      status: 'True',
      reason: 'Archiving',
      message: `WAL is archived: the last is ${a.lastArchivedWal}, at ${a.lastArchivedTime}`,
    };
  return {
    type: 'ContinuousArchiving',
    status: 'Unknown',
    reason: 'NothingArchivedYet',
    message: 'no WAL segment has been archived since the server started',
  };
}
