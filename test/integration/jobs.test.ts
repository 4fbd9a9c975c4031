/**
 * The refresh and maintain jobs on a real PostgreSQL 15: a materialized view refreshed plainly
 * while it cannot be refreshed concurrently, then CONCURRENTLY while readers keep reading;
 * maintenance as top-level statements with the guide's reports.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maintain } from '../../src/jobs/maintain.ts';
import { refresh } from '../../src/jobs/refresh.ts';
import { testDatabase, withClient } from '../support/dataplane.ts';
import { jobEnv, runJobCli } from '../support/jobs.ts';
import { eventually } from '../support/kube.ts';

let db: Awaited<ReturnType<typeof testDatabase>>;
const on = <T>(fn: (c: pg.Client) => Promise<T>) => withClient(db.config, fn);
const target = { name: 'rep.totals', startOffset: '1 day', endOffset: '1 hour', concurrently: true };

beforeAll(async () => {
  db = await testDatabase('jobs');
  await on((c) =>
    c.query(`CREATE SCHEMA rep;
             CREATE TABLE rep.sales (id int PRIMARY KEY, region text NOT NULL, amount numeric NOT NULL);
             INSERT INTO rep.sales SELECT g, 'r' || (g % 10), g FROM generate_series(1, 20000) g;
             CREATE MATERIALIZED VIEW rep.totals AS SELECT region, sum(amount) AS total, count(*) AS n FROM rep.sales GROUP BY region WITH NO DATA;`),
  );
});
afterAll(() => db?.cleanup());

describe('refresh', () => {
  it('refreshes plainly a view that is not populated or has no unique index, and says why', async () => {
    const first = await on((c) => refresh(c, target));
    expect(first).toMatchObject({
      kind: 'materialized_view',
      mode: 'plain',
      note: 'not populated yet: refreshed plainly',
    });
    const second = await on((c) => refresh(c, target));
    expect(second).toMatchObject({
      mode: 'plain',
      note: 'no unique index on plain columns: refreshed plainly',
    });
  });

  it('refreshes CONCURRENTLY once it can, while readers keep reading', async () => {
    await on((c) => c.query('CREATE UNIQUE INDEX totals_region ON rep.totals (region)'));
    await on((c) => c.query('UPDATE rep.sales SET amount = amount + 1'));
    // A reader holds a transaction open on the view: CONCURRENTLY takes only an EXCLUSIVE lock,
    // which does not wait for readers (a plain refresh's ACCESS EXCLUSIVE lock would).
    const reader = new pg.Client(db.config);
    await reader.connect();
    try {
      await reader.query('BEGIN');
      await reader.query('SELECT count(*) FROM rep.totals');
      const r = await on((c) => refresh(c, target));
      expect(r).toMatchObject({ mode: 'concurrently' });
      expect(r.note).toBeUndefined();
      const reads = await reader.query<{ n: string }>('SELECT count(*) AS n FROM rep.totals');
      expect(reads.rows[0]!.n).toBe('10');
      await reader.query('COMMIT');
    } finally {
      await reader.end();
    }
    const [total] = (await on((c) => c.query<{ s: string }>('SELECT sum(total)::text AS s FROM rep.totals')))
      .rows;
    expect(total!.s).toBe(String((20000 * 20001) / 2 + 20000));
  });

  it('reports a missing view', async () => {
    await expect(on((c) => refresh(c, { ...target, name: 'rep.nope' }))).rejects.toThrow(
      /neither a continuous aggregate nor a materialized view/,
    );
  });
});

describe('maintain', () => {
  it('reports dead tuples and unused indexes, then VACUUM (ANALYZE) clears the dead tuples', async () => {
    await on(async (c) => {
      await c.query('CREATE INDEX sales_amount_unused ON rep.sales (amount)');
      await c.query('DELETE FROM rep.sales WHERE id % 4 = 0');
      await c.query('SELECT pg_stat_force_next_flush()');
    });
    await new Promise((r) => setTimeout(r, 1200)); // statistics are flushed at most once a second
    const before = await on((c) =>
      maintain(c, { analyze: true, vacuum: false, slowQueryMs: 1000, deadTupleRatio: 0.1 }),
    );
    expect(before.bloat.map((b) => b.table)).toContain('rep.sales');
    expect(before.bloat.find((b) => b.table === 'rep.sales')!.deadTuplePercent).toBeGreaterThan(10);
    expect(before.unusedIndexes).toContainEqual({ table: 'rep.sales', index: 'sales_amount_unused' });
    // The streaming replica's hot_standby_feedback holds the removable cutoff back until its
    // next status message (wal_receiver_status_interval): vacuum until the dead tuples are gone.
    const after = await eventually(
      async () => {
        const r = await on((c) =>
          maintain(c, { analyze: true, vacuum: true, slowQueryMs: 1000, deadTupleRatio: 0.1 }),
        );
        await new Promise((res) => setTimeout(res, 1200));
        const check = await on((c) =>
          maintain(c, { analyze: false, vacuum: false, slowQueryMs: 1000, deadTupleRatio: 0.1 }),
        );
        return check.bloat.some((b) => b.table === 'rep.sales') ? undefined : r;
      },
      60_000,
      2000,
    );
    expect(after.vacuumed).toBe(true);
  });
});

describe('job refresh and job maintain', () => {
  const cli = (args: string[]) => runJobCli(args, jobEnv(db.name));

  it('run with the API defaults and exit 0; a missing view is a failure, a bad flag invalid input', async () => {
    expect(await cli(['refresh', '--name=rep.totals'])).toMatchObject({
      code: 0,
      out: { ok: true, result: { mode: 'concurrently' } },
    });
    expect(await cli(['refresh', '--name=rep.nope'])).toMatchObject({
      code: 1,
      out: { ok: false, reason: 'NotFound' },
    });
    expect(await cli(['refresh', '--name=nope'])).toMatchObject({ code: 2, out: { reason: 'InvalidInput' } });
    expect(await cli(['maintain', '--vacuum=false'])).toMatchObject({
      code: 0,
      out: { ok: true, result: { analyzed: true, vacuumed: false } },
    });
  });
});
