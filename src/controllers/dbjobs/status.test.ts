import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { terminationSummary } from '../../jobs/cli.ts';
import type { Condition } from '../../runtime/conditions.ts';
import { jobView } from './observe.ts';
import { jobsStatus, type MigrationObservation, migrationStatus, parseSummary } from './status.ts';

const withSets = db({ migrations: { configMaps: [{ name: 'app-schema' }] } });
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
