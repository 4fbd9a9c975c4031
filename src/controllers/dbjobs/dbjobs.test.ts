import { describe, expect, it } from 'vitest';
import { type HomeOpsDatabase, homeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { terminationSummary } from '../../jobs/cli.ts';
import { buildMigrationJob, migrationInputs } from './builders.ts';
import { builtinDigest, jobView } from './controller.ts';
import { jobName, RETRY_MIGRATIONS } from './names.ts';
import { type MigrationObservation, migrationStatus, parseSummary } from './status.ts';

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
      onExitCodes: { containerName: 'migrate', operator: 'In', values: [1, 2] },
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
    migrationStatus(withSets, o, prev).conditions?.find((c) => c.type === 'MigrationsApplied');
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
    const first = migrationStatus(withSets, { databaseReady: true, job: ok }, {});
    expect(first.migrations).toEqual({
      applied: 6,
      sets: ['builtin/0004_timeseries', 'app-schema/0002_b'],
      lastApplied: 'app-schema/0002_b',
      job: 'home-migrate-abc',
      result: 'Succeeded',
      lastRunTime: '2026-12-02T01:00:00Z',
    });
    const then = migrationStatus(withSets, { databaseReady: true, job: bad }, first);
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
