/**
 * Partition rollover on a real PostgreSQL 15, with `now` set: across a year boundary, and at the
 * retention edge with rows that prove nothing inside retention is dropped.
 */
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RolloverError, rollover } from '../../src/jobs/rollover.ts';
import { testDatabase, withClient } from '../support/dataplane.ts';
import { jobEnv, runJobCli } from '../support/jobs.ts';

let db: Awaited<ReturnType<typeof testDatabase>>;
const spec = {
  table: 'fin.tx',
  column: 'day',
  interval: 'yearly' as const,
  premake: 1,
  retention: '2 years',
};
const on = <T>(fn: (c: pg.Client) => Promise<T>) => withClient(db.config, fn);
const partitions = () =>
  on((c) =>
    c.query<{ name: string }>(
      "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'fin.tx'::regclass ORDER BY 1",
    ),
  ).then((r) => r.rows.map((x) => x.name));

beforeAll(async () => {
  db = await testDatabase('rollover');
  await on((c) =>
    c.query(`CREATE SCHEMA fin;
             CREATE TABLE fin.tx (id bigint GENERATED ALWAYS AS IDENTITY, day date NOT NULL, amount numeric NOT NULL,
                                  PRIMARY KEY (id, day)) PARTITION BY RANGE (day);
             CREATE INDEX tx_day ON fin.tx (day);
             CREATE TABLE fin.tx_2023 PARTITION OF fin.tx FOR VALUES FROM ('2023-01-01') TO ('2024-01-01');
             CREATE TABLE fin.tx_2024 PARTITION OF fin.tx FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
             CREATE TABLE fin.tx_2025 PARTITION OF fin.tx FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
             INSERT INTO fin.tx (day, amount) VALUES ('2023-06-01', 1), ('2024-12-31', 2), ('2025-01-01', 3), ('2025-07-01', 4);`),
  );
});
afterAll(() => db?.cleanup());

describe('rollover', () => {
  it('plans without changing anything on a dry run', async () => {
    const plan = await on((c) => rollover(c, spec, { now: new Date('2026-12-31T23:00:00Z'), dryRun: true }));
    expect(plan.create.map((p) => p.name)).toEqual(['tx_2026', 'tx_2027']);
    expect(plan.drop.map((p) => p.name)).toEqual(['tx_2023']);
    expect(plan.cutoff).toBe('2024-12-31');
    expect(await partitions()).toEqual(['tx_2023', 'tx_2024', 'tx_2025']);
  });

  it('creates the year and the next one with their indexes, and drops only what is wholly past retention', async () => {
    const plan = await on((c) => rollover(c, spec, { now: new Date('2026-12-31T23:00:00Z') }));
    expect(plan.create.map((p) => p.name)).toEqual(['tx_2026', 'tx_2027']);
    expect(await partitions()).toEqual(['tx_2024', 'tx_2025', 'tx_2026', 'tx_2027']);
    const idx = await on((c) => c.query("SELECT indexname FROM pg_indexes WHERE tablename = 'tx_2027'"));
    expect(idx.rows.length).toBeGreaterThanOrEqual(2); // primary key and tx_day, inherited
    // 2024-12-31 is at the cutoff (now - 2 years = 2024-12-31): its partition is kept with its row.
    const rows = await on((c) => c.query<{ day: string }>('SELECT day::text FROM fin.tx ORDER BY day'));
    expect(rows.rows.map((r) => r.day)).toEqual(['2024-12-31', '2025-01-01', '2025-07-01']);
  });

  it('is idempotent', async () => {
    const again = await on((c) => rollover(c, spec, { now: new Date('2026-12-31T23:30:00Z') }));
    expect(again).toMatchObject({ create: [], drop: [], kept: 4 });
  });

  it('crosses the year boundary: the next year is made, and 2024 now lies wholly before the cutoff', async () => {
    const next = await on((c) => rollover(c, spec, { now: new Date('2027-01-01T00:30:00Z') }));
    expect(next.cutoff).toBe('2025-01-01');
    expect(next.create.map((p) => p.name)).toEqual(['tx_2028']);
    expect(next.drop.map((p) => p.name)).toEqual(['tx_2024']);
    const rows = await on((c) => c.query<{ day: string }>('SELECT day::text FROM fin.tx ORDER BY day'));
    expect(rows.rows.map((r) => r.day)).toEqual(['2025-01-01', '2025-07-01']); // the first in-retention day stays
    expect(await partitions()).toEqual(['tx_2025', 'tx_2026', 'tx_2027', 'tx_2028']);
  });

  it('refuses a table that is not range-partitioned on the column', async () => {
    const err = await on((c) => rollover(c, { ...spec, column: 'amount' })).catch((e) => e);
    expect(err).toBeInstanceOf(RolloverError);
    expect(err.reason).toBe('NotPartitioned');
  });
});

describe('daily partitions on a timestamptz key (the time-series tables without TimescaleDB)', () => {
  const daily = { table: 'm.metrics', column: 'time', interval: 'daily', premake: 2, retention: '7 days' };
  const now = new Date('2026-03-10T12:00:00Z'); // cutoff: 2026-03-03 12:00 UTC
  // In New York, pg_get_expr prints the bounds in local time: they must still read as UTC.
  const inNewYork = <T>(fn: (c: pg.Client) => Promise<T>) =>
    on(async (c) => {
      await c.query("SET TIME ZONE 'America/New_York'");
      return fn(c);
    });
  const metricPartitions = () =>
    on((c) =>
      c.query<{ name: string }>(
        "SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'm.metrics'::regclass ORDER BY 1",
      ),
    ).then((r) => r.rows.map((x) => x.name));

  beforeAll(() =>
    on((c) =>
      c.query(`CREATE SCHEMA m;
               CREATE TABLE m.metrics (time timestamptz NOT NULL, v int) PARTITION BY RANGE (time);
               CREATE INDEX metrics_time ON m.metrics (time DESC);
               CREATE TABLE m.shifted (time timestamptz NOT NULL) PARTITION BY RANGE (time);
               CREATE TABLE m.shifted_legacy PARTITION OF m.shifted FOR VALUES FROM ('2026-03-09 12:00+00') TO ('2026-03-10 12:00+00');`),
    ),
  );

  it('backfills from `since` through premake days ahead, each day with the index', async () => {
    const plan = await inNewYork((c) =>
      rollover(c, { ...daily, retention: undefined }, { now, since: new Date('2026-03-01T00:00:00Z') }),
    );
    expect(plan.create).toHaveLength(12); // March 1 to 12
    expect(plan.create[0]).toEqual({
      name: 'metrics_p20260301',
      from: '2026-03-01 00:00:00+00',
      to: '2026-03-02 00:00:00+00',
    });
    const idx = await on((c) => c.query("SELECT 1 FROM pg_indexes WHERE tablename = 'metrics_p20260312'"));
    expect(idx.rows).toHaveLength(1);
    await on((c) =>
      c.query(`INSERT INTO m.metrics VALUES ('2026-03-01 00:00+00', 1), ('2026-03-02 23:59:59.999+00', 2),
                                            ('2026-03-03 11:59:59+00', 3), ('2026-03-03 12:00+00', 4), ('2026-03-09 08:00+00', 5)`),
    );
  });

  it('drops the days wholly before the cutoff and keeps the day the cutoff falls in, whatever the session time zone', async () => {
    const plan = await inNewYork((c) => rollover(c, daily, { now }));
    expect(plan).toMatchObject({
      kind: 'partitioned',
      create: [],
      cutoff: '2026-03-03 12:00:00+00',
      kept: 10,
    });
    expect(plan.drop.map((p) => p.name)).toEqual(['metrics_p20260301', 'metrics_p20260302']);
    const left = await on((c) => c.query<{ v: number }>('SELECT v FROM m.metrics ORDER BY time'));
    expect(left.rows.map((r) => r.v)).toEqual([3, 4, 5]); // 11:59:59 on the cutoff day stays with its day
    expect((await metricPartitions())[0]).toBe('metrics_p20260303');
    const again = await inNewYork((c) => rollover(c, daily, { now }));
    expect(again).toMatchObject({ create: [], drop: [], kept: 10 });
  });

  it('refuses to make a day that partly overlaps an existing partition, naming it, and changes nothing', async () => {
    const err = await on((c) =>
      rollover(c, { table: 'm.shifted', column: 'time', interval: 'daily', premake: 1 }, { now }),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(RolloverError);
    expect(err.reason).toBe('Overlap');
    expect(err.message).toContain('shifted_legacy');
    const n = await on((c) =>
      c.query("SELECT count(*)::int AS n FROM pg_inherits WHERE inhparent = 'm.shifted'::regclass"),
    );
    expect(n.rows[0].n).toBe(1);
  });

  it('refuses a sub-day period on a date key', async () => {
    const err = await on((c) => rollover(c, { ...spec, interval: '6 hours' })).catch((e) => e);
    expect(err).toMatchObject({ reason: 'InvalidInterval' });
  });
});

describe('job rollover', () => {
  const cli = (args: string[]) => runJobCli(['rollover', ...args], jobEnv(db.name));

  it('prints the plan of a dry run and exits 0', async () => {
    const r = await cli(['--table=fin.tx', '--column=day', '--premake=3', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.out).toMatchObject({ job: 'rollover', ok: true, dryRun: true, plan: { table: 'fin.tx' } });
  });

  it('takes a time-series interval and --since, and refuses an unknown period with exit 2', async () => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const ok = await cli([
      '--table=m.metrics',
      '--column=time',
      '--interval=6 hours',
      '--premake=1',
      `--since=${yesterday}`,
      '--dry-run',
    ]);
    expect(ok.code).toBe(0);
    expect(ok.out.plan.create[0]).toMatchObject({
      name: `metrics_p${yesterday.replaceAll('-', '')}_0000`,
      from: `${yesterday} 00:00:00+00`,
    });
    expect(ok.out.plan.create.length).toBeGreaterThanOrEqual(6); // yesterday's four, today's so far, one ahead
    const bad = await cli(['--table=m.metrics', '--column=time', '--interval=fortnightly']);
    expect(bad.code).toBe(2);
    expect(bad.out.message).toContain('--interval: must be daily, weekly, monthly, yearly or an interval');
  });

  it('refuses a malformed retention with the API schema message and exits 2', async () => {
    const r = await cli(['--table=fin.tx', '--column=day', '--retention=forever']);
    expect(r.code).toBe(2);
    expect(r.out.message).toContain('--retention: must be an interval');
  });
});
