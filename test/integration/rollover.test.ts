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

describe('job rollover', () => {
  const cli = (args: string[]) => runJobCli(['rollover', ...args], jobEnv(db.name));

  it('prints the plan of a dry run and exits 0', async () => {
    const r = await cli(['--table=fin.tx', '--column=day', '--premake=3', '--dry-run']);
    expect(r.code).toBe(0);
    expect(r.out).toMatchObject({ job: 'rollover', ok: true, dryRun: true, plan: { table: 'fin.tx' } });
  });

  it('refuses a malformed retention with the API schema message and exits 2', async () => {
    const r = await cli(['--table=fin.tx', '--column=day', '--retention=forever']);
    expect(r.code).toBe(2);
    expect(r.out.message).toContain('--retention: must be an interval');
  });
});
