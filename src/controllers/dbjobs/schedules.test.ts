import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { buildCronJob, schedules } from './schedules.ts';

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
