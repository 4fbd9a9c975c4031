/**
 * The Jobs' part of a HomeOpsDatabase's status (written by the second field manager,
 * homeops-operator-jobs): status.migrations and the MigrationsApplied condition, from the Job
 * and the summary its pod wrote in its termination message (never from logs). Pure.
 */
import type { HomeOpsDatabase, HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { regression } from '../../jobs/bench.ts';
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

/** A CronJob as reconcile saw it. */
export interface CronJobView {
  name: string;
  lastScheduleTime?: string;
  lastSuccessfulTime?: string;
}

/** A scheduled or on-demand run: its Job, with the schedule it belongs to. */
export type RunView = JobView & { schedule: string; kind: string; created?: string };

export interface ScheduleObservation {
  /** The schedules the spec asks for (builders.schedules). */
  schedules: { id: string; kind: string; schedule: string; cronJob: string }[];
  suspended: boolean;
  cronJobs: Map<string, CronJobView>;
  runs: RunView[];
  /** homeops.io/benchmark-baseline: latest was set: the last run becomes the baseline. */
  pinBaseline?: boolean;
}

type Status = HomeOpsDatabaseStatus;
type ScenarioStatus = NonNullable<NonNullable<Status['benchmarks']>['scenarios']>[number];

// A run's time: when it ended, or (running) when it was made; its start would be one more write.
const runTime = (r: RunView) => r.completionTime ?? r.created ?? r.startTime;
const newest = (runs: RunView[]) =>
  [...runs].sort((a, b) => Date.parse(runTime(b) ?? '') - Date.parse(runTime(a) ?? ''))[0];

/** A run's summary in one line, for status (what it did, not its whole output). */
export function summaryLine(s: JobSummary | undefined): string | undefined {
  if (!s) return undefined;
  const r = s as JobSummary & {
    results?: { name: string; ok?: boolean; created?: number; dropped?: number; p95Ms?: number }[];
  };
  if (!s.ok) return `${s.reason ?? 'Failed'}: ${s.message ?? ''}`.slice(0, 300);
  if (s.job === 'rollover' && r.results)
    return r.results.map((t) => `${t.name}: +${t.created ?? 0} -${t.dropped ?? 0}`).join(', ');
  if (s.job === 'bench' && r.results) return r.results.map((t) => `${t.name} p95 ${t.p95Ms} ms`).join(', ');
  if (s.job === 'refresh' && r.results) return `${r.results.length} refreshed`;
  return 'ok';
}

function partitions(o: ScheduleObservation, prev: Status): Status['partitions'] {
  const done = o.runs.filter((r) => r.kind === 'rollover' && !r.running && r.summary);
  const last = newest(done);
  const results = (last?.summary as { results?: Record<string, unknown>[] } | undefined)?.results;
  if (!last || !results) return prev.partitions;
  return results.map((t) => {
    const before = prev.partitions?.find((p) => p.table === t.name);
    if (!t.ok)
      return {
        ...(before ?? { table: String(t.name), count: 0 }),
        result: 'Failed' as const,
        message: String(t.message ?? t.reason ?? ''),
        ...(runTime(last) ? { lastRolloverTime: runTime(last) } : {}),
      };
    return {
      table: String(t.name),
      count: Number(t.partitions ?? 0),
      ahead: Number(t.ahead ?? 0),
      ...(t.oldest ? { oldest: String(t.oldest) } : {}),
      ...(t.newest ? { newest: String(t.newest) } : {}),
      ...(runTime(last) ? { lastRolloverTime: runTime(last) } : {}),
      result: 'Succeeded' as const,
    };
  });
}

function benchmarks(db: HomeOpsDatabase, o: ScheduleObservation, prev: Status): Status['benchmarks'] {
  const ok = o.runs.filter((r) => r.kind === 'bench' && r.succeeded && r.summary?.ok);
  const last = newest(ok);
  if (!last) return prev.benchmarks;
  const results = ((last.summary as { results?: Record<string, number | string | boolean>[] }).results ??
    []) as {
    name: string;
    medianMs: number;
    p95Ms: number;
    p99Ms: number;
    targetMs: number;
    passed: boolean;
  }[];
  const before = prev.benchmarks;
  // The baseline: the first successful run, kept; or the last one when the user pins it.
  const rebase = !before?.baseline || o.pinBaseline;
  const baseline = rebase
    ? {
        job: last.name,
        ...(runTime(last) ? { runTime: runTime(last) } : {}),
        ...(o.pinBaseline ? { pinned: true } : {}),
      }
    : before!.baseline!;
  const threshold = db.spec.benchmarks.regressionThreshold;
  const scenarios: ScenarioStatus[] = results.map((r) => {
    const base = rebase ? r.p95Ms : before?.scenarios?.find((s) => s.name === r.name)?.baselineP95Ms;
    const ratio = base && base > 0 ? Number((r.p95Ms / base).toFixed(2)) : undefined;
    // The job runner's own rule (bench.ts): one definition of the guide's severities.
    const sev = base && base > 0 ? regression(r.p95Ms, base, threshold)?.severity : undefined;
    return {
      name: r.name,
      p50Ms: r.medianMs,
      p95Ms: r.p95Ms,
      p99Ms: r.p99Ms,
      targetMs: r.targetMs,
      passed: r.passed,
      ...(base !== undefined ? { baselineP95Ms: base } : {}),
      ...(ratio !== undefined ? { ratio } : {}),
      ...(sev ? { regression: sev } : {}),
    };
  });
  return {
    job: last.name,
    ...(runTime(last) ? { lastRunTime: runTime(last) } : {}),
    passed: scenarios.every((s) => s.passed && !s.regression),
    baseline,
    scenarios,
  };
}

/** status.schedules, partitions, benchmarks and the BenchmarkRegression condition. */
export function schedulesStatus(
  db: HomeOpsDatabase,
  o: ScheduleObservation,
  prev: Status,
): Pick<Status, 'schedules' | 'partitions' | 'benchmarks'> & { conditions: ConditionInput[] } {
  const schedules = o.schedules.map((s) => {
    const cj = o.cronJobs.get(s.id);
    const runs = o.runs.filter((r) => r.schedule === s.id);
    const last = newest(runs);
    const failed = newest(runs.filter((r) => r.failed));
    const line = summaryLine(last?.summary);
    return {
      name: s.id,
      cronJob: s.cronJob,
      schedule: s.schedule,
      suspended: o.suspended,
      ...(cj?.lastScheduleTime ? { lastScheduleTime: cj.lastScheduleTime } : {}),
      ...(cj?.lastSuccessfulTime ? { lastSuccessfulTime: cj.lastSuccessfulTime } : {}),
      ...(last
        ? {
            lastRun: {
              job: last.name,
              result: last.succeeded
                ? ('Succeeded' as const)
                : last.failed
                  ? ('Failed' as const)
                  : ('Running' as const),
              ...(runTime(last) ? { time: runTime(last) } : {}),
              ...(line ? { summary: line } : {}),
            },
          }
        : {}),
      ...(failed
        ? {
            lastFailure: {
              job: failed.name,
              ...(runTime(failed) ? { time: runTime(failed) } : {}),
              reason: failed.summary?.reason ?? failed.failure?.reason ?? 'Failed',
              message: (failed.summary?.message ?? failed.failure?.message ?? '').slice(0, 500),
            },
          }
        : {}),
    };
  });
  const bench = benchmarks(db, o, prev);
  const worst = (bench?.scenarios ?? []).filter(
    (s) => s.regression === 'major' || s.regression === 'critical',
  );
  const conditions: ConditionInput[] = bench?.scenarios
    ? [
        worst.length
          ? {
              type: 'BenchmarkRegression',
              status: 'True',
              reason: 'Regression',
              message: worst
                .map(
                  (s) =>
                    `${s.name}: p95 ${s.p95Ms} ms is ${s.ratio}x the baseline ${s.baselineP95Ms} ms (${s.regression})`,
                )
                .join('; '),
            }
          : {
              type: 'BenchmarkRegression',
              status: 'False',
              reason: 'NoRegression',
              message: 'no scenario is 2x or more over its baseline p95',
            },
      ]
    : [];
  const parts = partitions(o, prev);
  return {
    ...(schedules.length ? { schedules } : {}),
    ...(parts ? { partitions: parts } : {}),
    ...(bench ? { benchmarks: bench } : {}),
    conditions,
  };
}
