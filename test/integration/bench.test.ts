/**
 * The bench job on a real PostgreSQL 15 with the reference schema and a small household: the
 * guide's four scenarios with parameters drawn from real rows, read-only, and its statistics.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtinScenarios, runScenario } from '../../src/jobs/bench.ts';
import { BUILTIN_DIR, loadMigrationSet, migrate } from '../../src/jobs/migrate.ts';
import { testDatabase, withClient } from '../support/dataplane.ts';
import { jobEnv, runJobCli } from '../support/jobs.ts';

let db: Awaited<ReturnType<typeof testDatabase>>;
const opts = { iterations: 30, warmup: 5, concurrency: 2, regressionThreshold: 1.5 };

beforeAll(async () => {
  db = await testDatabase('bench');
  await withClient(db.config, async (c) => {
    await migrate(c, [loadMigrationSet(BUILTIN_DIR, 'builtin')]);
    await c.query(
      `SELECT financial.create_yearly_partition('financial.transactions', y) FROM generate_series(2024, 2026) y`,
    );
    await c.query(`
      INSERT INTO core.users (id, email, display_name) VALUES ('00000000-0000-0000-0000-000000000001', 'ada@home.test', 'Ada');
      INSERT INTO financial.accounts (id, user_id, account_name, account_type, balance)
        VALUES ('00000000-0000-0000-0000-0000000000a1', '00000000-0000-0000-0000-000000000001', 'Checking', 'checking', 1200);
      INSERT INTO financial.transactions (account_id, transaction_date, amount, description)
        SELECT '00000000-0000-0000-0000-0000000000a1', date '2024-01-01' + (g % 900), g % 500, 'tx ' || g FROM generate_series(1, 5000) g;
      INSERT INTO core.notifications (user_id, type, title) SELECT '00000000-0000-0000-0000-000000000001', 'info', 'n' || g FROM generate_series(1, 200) g;
      INSERT INTO smart_home.devices (name, device_type, is_online) SELECT 'd' || g, 'light', g % 2 = 0 FROM generate_series(1, 50) g;
      INSERT INTO media.libraries (id, name, media_type) VALUES ('00000000-0000-0000-0000-0000000000b1', 'Movies', 'video');
      INSERT INTO media.items (library_id, title) SELECT '00000000-0000-0000-0000-0000000000b1', 'm' || g FROM generate_series(1, 300) g;
      INSERT INTO media.user_activity (item_id, user_id, activity_type)
        SELECT id, '00000000-0000-0000-0000-000000000001', 'play' FROM media.items;
      ANALYZE;`);
  });
});
afterAll(() => db?.cleanup());

describe('bench', () => {
  it("runs the guide's four scenarios with parameters from real rows, and grades them", async () => {
    const { scenarios, skipped } = await builtinScenarios(db.config);
    expect(skipped).toEqual([]);
    expect(scenarios.map((s) => [s.name, s.params])).toEqual([
      ['user-authentication', ['ada@home.test']],
      ['dashboard-loading', ['00000000-0000-0000-0000-000000000001']],
      ['transaction-history', ['00000000-0000-0000-0000-000000000001']],
      ['media-library-browse', ['00000000-0000-0000-0000-0000000000b1']],
    ]);
    for (const s of scenarios) {
      const r = await runScenario(db.config, s, opts);
      expect(r.iterations).toBe(30);
      expect(r.minMs).toBeLessThanOrEqual(r.medianMs);
      expect(r.medianMs).toBeLessThanOrEqual(r.p95Ms);
      expect(r.p95Ms).toBeLessThanOrEqual(r.p99Ms);
      expect(r.p99Ms).toBeLessThanOrEqual(r.maxMs);
      expect(r.passed).toBe(r.p95Ms <= s.targetMs);
    }
  });

  it('never changes data: a writing scenario fails in its read-only transaction', async () => {
    const write = {
      name: 'sneaky',
      query: "INSERT INTO core.users (email, display_name) VALUES ('x@y', 'x')",
      params: [],
      targetMs: 10,
    };
    await expect(runScenario(db.config, write, { ...opts, warmup: 0 })).rejects.toThrow(
      /read-only transaction/,
    );
    const users = await withClient(db.config, (c) => c.query('SELECT count(*)::int AS n FROM core.users'));
    expect(users.rows[0].n).toBe(1);
  });

  it('reports a regression against a baseline through the CLI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'homeops-bench-'));
    writeFileSync(
      join(dir, 'scenarios.json'),
      JSON.stringify([{ name: 'slowish', query: 'SELECT pg_sleep(0.005)', targetMs: 1000 }]),
    );
    writeFileSync(join(dir, 'baseline.json'), JSON.stringify({ slowish: { p95Ms: 1 } }));
    const { out } = await runJobCli(
      [
        'bench',
        '--builtin=false',
        '--iterations=10',
        '--warmup=1',
        `--scenarios-file=${join(dir, 'scenarios.json')}`,
        `--baseline-file=${join(dir, 'baseline.json')}`,
      ],
      jobEnv(db.name),
    );
    expect(out).toMatchObject({ job: 'bench', ok: true, passed: false });
    expect(out.results[0]).toMatchObject({
      name: 'slowish',
      passed: true,
      regression: { severity: 'critical', baselineP95Ms: 1 },
    });
  });
});
