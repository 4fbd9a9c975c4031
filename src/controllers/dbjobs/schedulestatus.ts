/**
 * The schedules' part of the jobs writer's status, from the CronJobs and their runs: each
 * schedule's last run, partitions from rollover, benchmarks against their baseline. Pure.
 */
import type { HomeOpsDatabase, HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { regression } from '../../jobs/bench.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';
import type { JobSummary, JobView } from './status.ts';

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

export type Status = HomeOpsDatabaseStatus;
export type ScenarioStatus = NonNullable<NonNullable<Status['benchmarks']>['scenarios']>[number];

// A run's time: when it ended, or (running) when it was made; its start would be one more write.
export const runTime = (r: RunView) => r.completionTime ?? r.created ?? r.startTime;
export const newest = (runs: RunView[]) =>
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
  const b = (s as { backup?: { label: string; type: string } }).backup;
  if (s.job === 'backup' && b) return `${b.type} backup ${b.label}`;
  return 'ok';
}

export function partitions(o: ScheduleObservation, prev: Status): Status['partitions'] {
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
      ...(Array.isArray(t.skipped) && t.skipped.length
        ? { skipped: t.skipped.map((x) => String(x).slice(0, 300)).slice(0, 8) }
        : {}),
    };
  });
}

export function benchmarks(db: HomeOpsDatabase, o: ScheduleObservation, prev: Status): Status['benchmarks'] {
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
    recallAt10?: number;
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
      ...(typeof r.recallAt10 === 'number' ? { recallAt10: r.recallAt10 } : {}),
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
