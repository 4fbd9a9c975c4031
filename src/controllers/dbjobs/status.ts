/**
 * The Jobs' part of a HomeOpsDatabase's status (written by the second field manager,
 * homeops-operator-jobs): status.migrations and the MigrationsApplied condition, from the Job
 * and the summary its pod wrote in its termination message (never from logs). Pure.
 */
import type { HomeOpsDatabase, HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { type ConditionInput, conditionsFrom } from '../../runtime/conditions.ts';
import { RETRY_MIGRATIONS } from './names.ts';

/** What `homeops-operator job ...` writes to its termination message (cli.ts). */
export interface JobSummary {
  job: string;
  ok: boolean;
  reason?: string;
  message?: string;
  file?: string;
  line?: number;
  applied?: { set: string; version: string; name: string }[];
  alreadyApplied?: number;
  latest?: Record<string, string>;
  truncated?: boolean;
}

/** A Job as reconcile saw it. */
export interface JobView {
  name: string;
  running: boolean;
  succeeded: boolean;
  failed: boolean;
  /** The Failed condition's reason and message (BackoffLimitExceeded, PodFailurePolicy, DeadlineExceeded). */
  failure?: { reason: string; message: string };
  startTime?: string;
  completionTime?: string;
  /** The last finished pod's termination message, parsed; absent when none could be read. */
  summary?: JobSummary;
}

export interface MigrationObservation {
  /** The database is Ready (migrations start only then). */
  databaseReady: boolean;
  /** Listed ConfigMaps that do not exist. */
  missing?: string[];
  job?: JobView;
}

/** The termination message, parsed; undefined when it is not the job runner's JSON. */
export function parseSummary(message: string | undefined): JobSummary | undefined {
  if (!message) return undefined;
  try {
    const v = JSON.parse(message) as JobSummary;
    return typeof v === 'object' && v && typeof v.job === 'string' && typeof v.ok === 'boolean'
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}

type Migrations = NonNullable<HomeOpsDatabaseStatus['migrations']>;

function condition(o: MigrationObservation): ConditionInput {
  const job = o.job;
  if (o.missing?.length)
    return {
      type: 'MigrationsApplied',
      status: 'False',
      reason: 'ConfigMapNotFound',
      message: `ConfigMap ${o.missing.join(', ')} (spec.migrations.configMaps) not found: no migration runs until it exists`,
    };
  if (!job)
    return o.databaseReady
      ? {
          type: 'MigrationsApplied',
          status: 'Unknown',
          reason: 'Starting',
          message: 'the migration Job is being made',
        }
      : {
          type: 'MigrationsApplied',
          status: 'Unknown',
          reason: 'WaitingForDatabase',
          message: 'migrations run once the database is Ready',
        };
  if (job.succeeded) {
    const s = job.summary;
    const count = (s?.applied?.length ?? 0) + (s?.alreadyApplied ?? 0);
    return {
      type: 'MigrationsApplied',
      status: 'True',
      reason: 'Applied',
      message: s
        ? `${count} migration(s) applied, ${s.applied?.length ?? 0} by Job ${job.name}`
        : `Job ${job.name} succeeded`,
    };
  }
  if (job.failed) {
    const s = job.summary;
    return {
      type: 'MigrationsApplied',
      status: 'False',
      reason: s?.reason ?? job.failure?.reason ?? 'JobFailed',
      message: `Job ${job.name}: ${s?.message ?? job.failure?.message ?? 'failed'}. Migrations after it are blocked; what was applied before serves on. It runs again when its input changes or annotation ${RETRY_MIGRATIONS} gets a new value`,
    };
  }
  return {
    type: 'MigrationsApplied',
    status: 'Unknown',
    reason: 'Running',
    message: `Job ${job.name} applies the migrations`,
  };
}

/** status.migrations and the MigrationsApplied condition's input. */
export function migrationStatus(
  o: MigrationObservation,
  prev: HomeOpsDatabaseStatus,
): Pick<HomeOpsDatabaseStatus, 'migrations'> & { conditions: ConditionInput[] } {
  const job = o.job;
  const s = job?.summary;
  const before = prev.migrations;
  let migrations: Migrations | undefined = before;
  if (job) {
    migrations = {
      // What was applied stays known across a later failure (it is still applied).
      ...(before?.applied !== undefined ? { applied: before.applied } : {}),
      ...(before?.lastApplied ? { lastApplied: before.lastApplied } : {}),
      job: job.name,
      result: job.succeeded ? 'Succeeded' : job.failed ? 'Failed' : 'Running',
      // When the last run ended: a running Job keeps the one before (its start would be one
      // more status write per run, and says less than result: Running).
      ...(job.completionTime
        ? { lastRunTime: job.completionTime }
        : before?.lastRunTime
          ? { lastRunTime: before.lastRunTime }
          : {}),
    };
    if (job.succeeded && s?.ok) {
      migrations.applied = (s.applied?.length ?? 0) + (s.alreadyApplied ?? 0);
      const latest = Object.entries(s.latest ?? {}).map(([set, v]) => `${set}/${v}`);
      if (latest.length) migrations.sets = latest;
      const last = s.applied?.at(-1);
      if (last) migrations.lastApplied = `${last.set}/${last.version}_${last.name}`;
      else if (latest.length) migrations.lastApplied = latest.at(-1)!;
    } else if (before?.sets) migrations.sets = before.sets;
    if (job.failed && s?.file) migrations.failedMigration = `${s.file}${s.line ? `:${s.line}` : ''}`;
  }
  return { ...(migrations ? { migrations } : {}), conditions: [condition(o)] };
}

/** The jobs writer's whole part of the status: migrations, schedules, partitions, benchmarks. */
export function jobsStatus(
  db: HomeOpsDatabase,
  parts: { conditions: ConditionInput[] }[],
  prev: HomeOpsDatabaseStatus,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const inputs: ConditionInput[] = [];
  for (const { conditions, ...rest } of parts) {
    Object.assign(out, rest);
    inputs.push(...conditions);
  }
  return { ...out, conditions: conditionsFrom(prev.conditions, inputs, db.metadata.generation) };
}
