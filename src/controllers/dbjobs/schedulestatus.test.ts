import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { type RunView, type ScheduleObservation, schedulesStatus } from './schedulestatus.ts';
import type { JobSummary } from './status.ts';

describe('schedules in status', () => {
  const run = (over: Partial<RunView> & { name: string }, summary?: object): RunView => ({
    running: false,
    succeeded: true,
    failed: false,
    schedule: 'bench',
    kind: 'bench',
    ...over,
    ...(summary ? { summary: { job: over.kind ?? 'bench', ok: true, ...summary } as JobSummary } : {}),
  });
  const bench = (name: string, time: string, p95: number) =>
    run(
      { name, completionTime: time },
      {
        results: [
          {
            name: 'lookup',
            medianMs: p95 / 2,
            p95Ms: p95,
            p99Ms: p95 * 1.2,
            targetMs: 50,
            passed: p95 <= 50,
          },
        ],
      },
    );
  const target = db({ benchmarks: { schedule: '0 4 * * *' } });
  const obs = (runs: RunView[], pin = false): ScheduleObservation => ({
    schedules: [{ id: 'bench', kind: 'bench', schedule: '0 4 * * *', cronJob: 'home-bench' }],
    suspended: false,
    cronJobs: new Map([['bench', { name: 'home-bench', lastScheduleTime: '2026-12-02T04:00:00Z' }]]),
    runs,
    pinBaseline: pin,
  });
  it('takes the first successful run as the baseline, then grades each run against it (x1.5 minor, x2 major, x3 critical)', () => {
    const first = schedulesStatus(target, obs([bench('b1', '2026-12-01T04:00:01Z', 2)]), {});
    expect(first.benchmarks).toMatchObject({ baseline: { job: 'b1' }, passed: true });
    expect(first.benchmarks?.scenarios?.[0]).toMatchObject({
      p50Ms: 1,
      p95Ms: 2,
      baselineP95Ms: 2,
      ratio: 1,
    });
    expect(first.conditions[0]).toMatchObject({ type: 'BenchmarkRegression', status: 'False' });
    const grade = (p95: number) => {
      const s = schedulesStatus(
        target,
        obs([bench('b1', '2026-12-01T04:00:01Z', 2), bench('b2', '2026-12-02T04:00:01Z', p95)]),
        {
          benchmarks: first.benchmarks,
        },
      );
      return [s.benchmarks?.scenarios?.[0]?.regression, s.conditions[0]?.status];
    };
    expect(grade(2.9)).toEqual([undefined, 'False']);
    expect(grade(3.2)).toEqual(['minor', 'False']);
    expect(grade(4.2)).toEqual(['major', 'True']);
    expect(grade(7)).toEqual(['critical', 'True']);
    const bad = schedulesStatus(target, obs([bench('b2', '2026-12-02T04:00:01Z', 7)]), {
      benchmarks: first.benchmarks,
    });
    expect(bad.conditions[0]?.message).toBe('lookup: p95 7 ms is 3.5x the baseline 2 ms (critical)');
  });
  it('a pinned run becomes the baseline', () => {
    const first = schedulesStatus(target, obs([bench('b1', '2026-12-01T04:00:01Z', 2)]), {});
    const pinned = schedulesStatus(target, obs([bench('b2', '2026-12-02T04:00:01Z', 7)], true), {
      benchmarks: first.benchmarks,
    });
    expect(pinned.benchmarks?.baseline).toEqual({ job: 'b2', runTime: '2026-12-02T04:00:01Z', pinned: true });
    expect(pinned.benchmarks?.scenarios?.[0]).toMatchObject({ baselineP95Ms: 7, ratio: 1 });
  });
  it('per schedule: the CronJob, its last schedule, the last run with its summary, the last failure with its reason', () => {
    const s = schedulesStatus(
      target,
      obs([
        bench('b1', '2026-12-01T04:00:01Z', 2),
        run(
          { name: 'b2', succeeded: false, failed: true, completionTime: '2026-12-02T04:00:01Z' },
          { ok: false, reason: 'ConnectionFailed', message: 'connect ECONNREFUSED' },
        ),
      ]),
      {},
    );
    expect(s.schedules?.[0]).toEqual({
      name: 'bench',
      cronJob: 'home-bench',
      schedule: '0 4 * * *',
      suspended: false,
      lastScheduleTime: '2026-12-02T04:00:00Z',
      lastRun: {
        job: 'b2',
        result: 'Failed',
        time: '2026-12-02T04:00:01Z',
        summary: 'ConnectionFailed: connect ECONNREFUSED',
      },
      lastFailure: {
        job: 'b2',
        time: '2026-12-02T04:00:01Z',
        reason: 'ConnectionFailed',
        message: 'connect ECONNREFUSED',
      },
    });
    expect(s.benchmarks?.job).toBe('b1');
  });
  it('partitions per table from the last rollover; a table that failed keeps its figures and says why', () => {
    const roll = (name: string, time: string, results: object[]) =>
      run({ name, schedule: 'rollover', kind: 'rollover', completionTime: time }, { results });
    const first = schedulesStatus(
      target,
      obs([
        roll('r1', '2026-12-01T00:00:01Z', [
          {
            name: 'financial.transactions',
            ok: true,
            created: 2,
            dropped: 0,
            partitions: 3,
            ahead: 1,
            oldest: 'transactions_2025',
            newest: 'transactions_2027',
          },
        ]),
      ]),
      {},
    );
    expect(first.partitions).toEqual([
      {
        table: 'financial.transactions',
        count: 3,
        ahead: 1,
        oldest: 'transactions_2025',
        newest: 'transactions_2027',
        lastRolloverTime: '2026-12-01T00:00:01Z',
        result: 'Succeeded',
      },
    ]);
    const then = schedulesStatus(
      target,
      obs([
        roll('r2', '2026-12-02T00:00:01Z', [
          { name: 'financial.transactions', ok: false, reason: 'Overlap', message: 'overlaps' },
        ]),
      ]),
      { partitions: first.partitions },
    );
    expect(then.partitions?.[0]).toMatchObject({ count: 3, result: 'Failed', message: 'overlaps' });
  });
});
