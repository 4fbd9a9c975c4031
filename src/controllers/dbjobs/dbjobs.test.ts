import { describe, expect, it } from 'vitest';
import { type HomeOpsDatabase, homeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { terminationSummary } from '../../jobs/cli.ts';
import type { Condition } from '../../runtime/conditions.ts';
import { buildCronJob, buildMigrationJob, migrationInputs, schedules } from './builders.ts';
import { builtinDigest, jobView } from './controller.ts';
import { jobName, RETRY_MIGRATIONS } from './names.ts';
import {
  type JobSummary,
  jobsStatus,
  type MigrationObservation,
  migrationStatus,
  parseSummary,
  type RunView,
  type ScheduleObservation,
  schedulesStatus,
} from './status.ts';

const db = (spec: Record<string, unknown> = {}, annotations?: Record<string, string>): HomeOpsDatabase => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: {
    name: 'home',
    namespace: 'ns',
    uid: 'u1',
    generation: 3,
    ...(annotations ? { annotations } : {}),
  },
  spec: homeOpsDatabaseSpec.parse(spec),
});
const withSets = db({ migrations: { configMaps: [{ name: 'app-schema' }] } });
const cms = (data: Record<string, string> | undefined) => (name: string) =>
  name === 'app-schema' ? data : undefined;

describe('migration inputs', () => {
  const base = migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b1');
  const hashOf = (x: ReturnType<typeof migrationInputs>) => ('hash' in x ? x.hash : x.missing.join());
  it('the same inputs give the same Job; a changed ConfigMap, builtin set or retry annotation a new one', () => {
    expect(hashOf(migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b1'))).toBe(
      hashOf(base),
    );
    expect(hashOf(migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE b ()' }), 'b1'))).not.toBe(
      hashOf(base),
    );
    expect(hashOf(migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b2'))).not.toBe(
      hashOf(base),
    );
    const retried = db({ migrations: { configMaps: [{ name: 'app-schema' }] } }, { [RETRY_MIGRATIONS]: '1' });
    expect(hashOf(migrationInputs(retried, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b1'))).not.toBe(
      hashOf(base),
    );
    expect('summary' in base && base.summary).toBe('builtin@b1 configmap/app-schema');
  });
  it('a listed ConfigMap that does not exist makes no Job', () => {
    expect(migrationInputs(withSets, cms(undefined), 'b1')).toEqual({ missing: ['app-schema'] });
  });
  it('the builtin digest covers the shipped files', () => {
    expect(builtinDigest()).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('the migration Job', () => {
  type JobShape = {
    metadata: { name: string; labels: Record<string, string> };
    spec: {
      backoffLimit: number;
      podFailurePolicy: { rules: unknown[] };
      template: {
        spec: {
          restartPolicy: string;
          automountServiceAccountToken: boolean;
          containers: {
            command: string[];
            env: { name: string; value: string }[];
            securityContext: object;
          }[];
        };
      };
    };
  };
  const job = buildMigrationJob(withSets, 'abc123', 'builtin@b1', 'op:1') as unknown as JobShape;
  const c = job.spec.template.spec.containers[0]!;
  it('runs job migrate against the primary as the owner, the password from a mounted file', () => {
    expect(job.metadata.name).toBe('home-migrate-abc123');
    expect(c.command).toEqual([
      'node',
      '/app/dist/main.js',
      'job',
      'migrate',
      '--set=app-schema:/etc/homeops/migrations/app-schema',
    ]);
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    expect(env).toEqual({
      PGHOST: 'home-rw.ns.svc',
      PGPORT: '5432',
      PGDATABASE: 'homeops',
      PGUSER: 'homeops',
      PGPASSWORD_FILE: '/etc/homeops/secrets/app/password',
    });
    expect(JSON.stringify(job)).not.toMatch(/PGPASSWORD"/);
  });
  it('is bounded: no retry of a failure the job reports, a deadline, hardened pods', () => {
    expect(job.spec.backoffLimit).toBe(2);
    expect(job.spec.podFailurePolicy.rules[0]).toEqual({
      action: 'FailJob',
      onExitCodes: { containerName: 'job', operator: 'In', values: [1, 2] },
    });
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(job.spec.template.spec.automountServiceAccountToken).toBe(false);
  });
  it('keeps a long database name within 63 characters', () => {
    const long = db();
    long.metadata.name = 'a'.repeat(63);
    expect(jobName(long, 'migrate', '0123456789')).toHaveLength(63);
  });
});

describe('migration status', () => {
  const summary = (o: object) => JSON.stringify({ job: 'migrate', ...o });
  const job = (over: Record<string, unknown>, message?: string) =>
    jobView(
      { apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'home-migrate-abc' }, status: over } as never,
      message
        ? [
            {
              metadata: { name: 'p' },
              status: { containerStatuses: [{ name: 'migrate', state: { terminated: { message } } }] },
            } as never,
          ]
        : [],
    );
  const ok = job(
    { conditions: [{ type: 'Complete', status: 'True' }], completionTime: '2026-12-02T01:00:00Z' },
    summary({
      ok: true,
      applied: [{ set: 'app-schema', version: '0002', name: 'b' }],
      alreadyApplied: 5,
      latest: { builtin: '0004_timeseries', 'app-schema': '0002_b' },
    }),
  );
  const bad = job(
    { conditions: [{ type: 'Failed', status: 'True', reason: 'PodFailurePolicy' }] },
    summary({
      ok: false,
      reason: 'MigrationFailed',
      message:
        '/etc/homeops/migrations/app-schema/0003_c.sql:4: syntax error at or near "TABL" (SQLSTATE 42601); the migration was rolled back',
      file: '/etc/homeops/migrations/app-schema/0003_c.sql',
      line: 4,
    }),
  );
  const cond = (o: MigrationObservation, prev = {}) =>
    (jobsStatus(withSets, [migrationStatus(o, prev)], prev).conditions as Condition[]).find(
      (c) => c.type === 'MigrationsApplied',
    );
  it.each<[string, MigrationObservation, string, string]>([
    ['waiting for the database', { databaseReady: false }, 'Unknown', 'WaitingForDatabase'],
    ['a ConfigMap missing', { databaseReady: true, missing: ['app-schema'] }, 'False', 'ConfigMapNotFound'],
    ['running', { databaseReady: true, job: job({ active: 1 }) }, 'Unknown', 'Running'],
    ['applied', { databaseReady: true, job: ok }, 'True', 'Applied'],
    ['a bad migration', { databaseReady: true, job: bad }, 'False', 'MigrationFailed'],
    [
      'failed without a summary (deadline)',
      {
        databaseReady: true,
        job: job({ conditions: [{ type: 'Failed', status: 'True', reason: 'DeadlineExceeded' }] }),
      },
      'False',
      'DeadlineExceeded',
    ],
  ])('%s', (_, o, status, reason) => {
    expect(cond(o)).toMatchObject({ status, reason, observedGeneration: 3 });
  });
  it('lists what is applied, and keeps it through a later failure, naming file, line and SQLSTATE', () => {
    const first = migrationStatus({ databaseReady: true, job: ok }, {});
    expect(first.migrations).toEqual({
      applied: 6,
      sets: ['builtin/0004_timeseries', 'app-schema/0002_b'],
      lastApplied: 'app-schema/0002_b',
      job: 'home-migrate-abc',
      result: 'Succeeded',
      lastRunTime: '2026-12-02T01:00:00Z',
    });
    const then = migrationStatus({ databaseReady: true, job: bad }, { migrations: first.migrations });
    expect(then.migrations).toMatchObject({
      applied: 6,
      sets: ['builtin/0004_timeseries', 'app-schema/0002_b'],
      result: 'Failed',
      failedMigration: '/etc/homeops/migrations/app-schema/0003_c.sql:4',
    });
    expect(cond({ databaseReady: true, job: bad })?.message).toContain('0003_c.sql:4: syntax error');
    expect(cond({ databaseReady: true, job: bad })?.message).toContain('SQLSTATE 42601');
  });
  it("reads only the job runner's JSON from a termination message", () => {
    expect(parseSummary('Error: boom')).toBeUndefined();
    expect(parseSummary('{"x":1}')).toBeUndefined();
    expect(parseSummary(summary({ ok: true }))).toEqual({ job: 'migrate', ok: true });
  });
  it('a long result keeps its small fields within the 4 KiB message', () => {
    const applied = Array.from({ length: 200 }, (_, i) => ({
      set: 's',
      version: String(i).padStart(4, '0'),
      name: 'x',
      ms: 1,
    }));
    const text = terminationSummary({
      job: 'migrate',
      ok: true,
      applied,
      alreadyApplied: 3,
      latest: { s: '0199_x' },
    });
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4000);
    expect(JSON.parse(text)).toMatchObject({
      ok: true,
      alreadyApplied: 3,
      latest: { s: '0199_x' },
      truncated: true,
    });
  });
});

describe('schedules', () => {
  const full = db({
    partitioning: {
      tables: [
        { table: 'financial.transactions', column: 'transaction_date' },
        { table: 'media.files', column: 'created_at', interval: 'monthly' },
      ],
    },
    aggregates: [
      { name: 'analytics.daily' },
      { name: 'analytics.weekly' },
      { name: 'analytics.monthly', schedule: '0 3 * * *' },
    ],
    benchmarks: { schedule: '30 4 * * *' },
  });
  it('one rollover for every table, one refresh per distinct schedule, maintenance, benchmarks when scheduled', () => {
    const s = schedules(full);
    expect(s.map((x) => [x.id.replace(/-[0-9a-f]{6}$/, '-H'), x.schedule])).toEqual([
      ['rollover', '0 0 * * *'],
      ['refresh-H', '0 * * * *'],
      ['refresh-H', '0 3 * * *'],
      ['maintain', '0 2 * * 0'],
      ['bench', '30 4 * * *'],
    ]);
    expect(JSON.parse(s[0]!.args[0]!.replace('--tables-json=', ''))).toHaveLength(2);
    expect(
      JSON.parse(s[1]!.args[0]!.replace('--aggregates-json=', '')).map((a: { name: string }) => a.name),
    ).toEqual(['analytics.daily', 'analytics.weekly']);
    expect(schedules(db()).map((x) => x.id)).toEqual(['maintain']);
  });
  it('a CronJob that never overlaps, keeps 3 + 3 Jobs, gives up a missed start, runs in UTC, suspended on demand', () => {
    const s = schedules(full).find((x) => x.id === 'bench')!;
    const cj = buildCronJob(full, s, 'op:1', true) as unknown as {
      metadata: { name: string };
      spec: Record<string, unknown> & {
        jobTemplate: {
          spec: { template: { spec: { containers: { env: { name: string; value: string }[] }[] } } };
        };
      };
    };
    expect(cj.metadata.name).toBe('home-bench');
    expect(cj.spec).toMatchObject({
      schedule: '30 4 * * *',
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      startingDeadlineSeconds: 300,
      suspend: true,
    });
    // The benchmarks measure what applications get: through PgBouncer.
    const env = cj.spec.jobTemplate.spec.template.spec.containers[0]!.env;
    expect(env.find((e) => e.name === 'PGHOST')?.value).toBe('home-pooler.ns.svc');
    expect((buildCronJob(full, s, 'op:1', false).spec as { suspend: boolean }).suspend).toBe(false);
  });
});

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
