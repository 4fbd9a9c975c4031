/**
 * The schedules a database's spec asks for (rollover, refresh, maintenance, benchmarks) as
 * CronJobs, and a run of one now as a Job. Pure builders.
 */
import { createHash } from 'node:crypto';
import { DEFAULT_FULL_SCHEDULE, type HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { fitName } from '../../common/names.ts';
import { ownerRef } from '../../runtime/status.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { dbNames } from '../homeopsdatabase/names.ts';
import { embeddingsArgs, jobSpec } from './builders.ts';
import { type JobKind, jobLabels, SCHEDULE_LABEL } from './names.ts';

/** A schedule from the spec: which job, when, with which arguments. */
export interface Schedule {
  /** The CronJob's suffix, and status.schedules[].name: rollover, refresh[-HASH], maintain, bench. */
  id: string;
  kind: Exclude<JobKind, 'migrate'>;
  schedule: string;
  args: string[];
  viaPooler?: boolean;
}

export const shortHash = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 6);

/**
 * The schedules the spec asks for. Rollover is one CronJob for every table of
 * spec.partitioning.tables (they share its one schedule; one Job, one result per table, and a
 * handful of objects per database rather than one per table). Aggregates are refreshed by one
 * CronJob per distinct schedule. Maintenance always; benchmarks when spec.benchmarks.schedule
 * is set (and on demand).
 */
export function schedules(db: HomeOpsDatabase): Schedule[] {
  const s = db.spec;
  const out: Schedule[] = [];
  const tables = rolloverTables(db);
  if (tables.length)
    out.push({
      id: 'rollover',
      kind: 'rollover',
      schedule: s.partitioning.schedule,
      args: [`--tables-json=${JSON.stringify(tables)}`],
    });
  const bySchedule = new Map<string, typeof s.aggregates>();
  for (const a of s.aggregates) bySchedule.set(a.schedule, [...(bySchedule.get(a.schedule) ?? []), a]);
  for (const [schedule, aggs] of bySchedule)
    out.push({
      id: bySchedule.size === 1 ? 'refresh' : `refresh-${shortHash(schedule)}`,
      kind: 'refresh',
      schedule,
      args: [`--aggregates-json=${JSON.stringify(aggs.map(({ schedule: _, ...a }) => a))}`],
    });
  out.push({ id: 'maintain', kind: 'maintain', schedule: s.maintenance.schedule, args: maintainArgs(db) });
  out.push(...backupSchedules(db));
  if (s.benchmarks.schedule)
    out.push({
      id: 'bench',
      kind: 'bench',
      schedule: s.benchmarks.schedule,
      args: benchArgs(db),
      viaPooler: true,
    });
  return out;
}

/**
 * spec.backup's schedules, one CronJob per backup type: full (weekly by default), and diff and
 * incr when asked. The Job execs pgBackRest in the primary's pod.
 */
export function backupSchedules(db: HomeOpsDatabase): Schedule[] {
  const b = db.spec.backup;
  if (!b) return [];
  const when = {
    full: b.schedules.full ?? DEFAULT_FULL_SCHEDULE,
    diff: b.schedules.diff,
    incr: b.schedules.incr,
  };
  return BACKUP_TYPES.flatMap((type) => (when[type] ? [backupSchedule(db, type, when[type]!)] : []));
}

export const BACKUP_TYPES = ['full', 'diff', 'incr'] as const;

/** One backup type as a schedule (an empty schedule: a run on demand). */
export const backupSchedule = (
  db: HomeOpsDatabase,
  type: (typeof BACKUP_TYPES)[number],
  schedule: string,
): Schedule => ({ id: `backup-${type}`, kind: 'backup', schedule, args: backupArgs(db, type) });

export const backupArgs = (db: HomeOpsDatabase, type: 'full' | 'diff' | 'incr') => [
  `--type=${type}`,
  `--namespace=${db.metadata.namespace}`,
  `--pod=${dbNames(db).pod}`,
];

/**
 * What rollover keeps: spec.partitioning.tables, and the time-series tables of
 * spec.timeseries.hypertables (chunks past retainFor dropped, compressAfter tried; without
 * TimescaleDB, the native partitions of their chunkInterval made ahead and dropped).
 */
export function rolloverTables(db: HomeOpsDatabase): Record<string, unknown>[] {
  const s = db.spec;
  return [
    ...s.partitioning.tables,
    ...s.timeseries.hypertables
      .filter((h) => !s.partitioning.tables.some((t) => t.table === h.table))
      .map((h) => ({
        table: h.table,
        column: h.timeColumn,
        interval: h.chunkInterval,
        premake: 2,
        ...(h.retainFor ? { retention: h.retainFor } : {}),
        ...(h.compressAfter ? { compressAfter: h.compressAfter } : {}),
      })),
  ];
}

export function maintainArgs(db: HomeOpsDatabase): string[] {
  const m = db.spec.maintenance;
  return [
    `--analyze=${m.analyze}`,
    `--vacuum=${m.vacuum}`,
    `--slow-query-ms=${db.spec.monitoring.slowQueryMs}`,
    `--dead-tuple-ratio=${db.spec.monitoring.deadTupleRatio}`,
  ];
}

export function benchArgs(db: HomeOpsDatabase): string[] {
  const b = db.spec.benchmarks;
  return [
    `--builtin=${b.builtin}`,
    `--iterations=${b.iterations}`,
    `--warmup=${b.warmup}`,
    `--concurrency=${b.concurrency}`,
    `--regression-threshold=${b.regressionThreshold}`,
    ...(b.scenarios.length ? [`--scenarios-json=${JSON.stringify(b.scenarios)}`] : []),
    ...(b.builtin ? embeddingsArgs(db, ['efSearch', 'targetMs']) : []),
  ];
}

/** A CronJob's name: NAME-ID, within the 52 characters a CronJob may have. */
/** `NAME-ID` within the 52 characters a CronJob's name may have (its Jobs' names add 11). */
export const cronJobName = (db: HomeOpsDatabase, id: string) => fitName(db.metadata.name!, id, 52);

/**
 * One schedule as a CronJob: Forbid (a run never overlaps the last), 3 successful and 3 failed
 * Jobs kept, a missed start given up after 5 minutes (never a burst of catch-up runs), in UTC,
 * and suspended while the database is not Ready (the controller makes it once the database is
 * first Ready).
 */
export function buildCronJob(
  db: HomeOpsDatabase,
  s: Schedule,
  image: string,
  suspended: boolean,
): KubeObject {
  const extraLabels = { [SCHEDULE_LABEL]: s.id };
  return {
    apiVersion: 'batch/v1',
    kind: 'CronJob',
    metadata: {
      name: cronJobName(db, s.id),
      namespace: db.metadata.namespace,
      labels: { ...jobLabels(db, s.kind), ...extraLabels },
      ownerReferences: [ownerRef(db as never)],
    },
    spec: {
      schedule: s.schedule,
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      suspend: suspended,
      jobTemplate: {
        metadata: { labels: { ...jobLabels(db, s.kind), ...extraLabels } },
        spec: jobSpec(db, s.kind, s.args, image, { viaPooler: s.viaPooler, backoffLimit: 1, extraLabels }),
      },
    },
  };
}

/** A run now (the homeops.io/run annotation): the schedule's Job, owned by the database. */
export function buildRunJob(db: HomeOpsDatabase, s: Schedule, image: string, suffix: string): KubeObject {
  const extraLabels = { [SCHEDULE_LABEL]: s.id };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: fitName(cronJobName(db, s.id), `run-${suffix}`, 63),
      namespace: db.metadata.namespace,
      labels: { ...jobLabels(db, s.kind), ...extraLabels },
      ownerReferences: [ownerRef(db as never)],
    },
    spec: jobSpec(db, s.kind, s.args, image, { viaPooler: s.viaPooler, backoffLimit: 1, extraLabels }),
  };
}
