/**
 * The migration runner on a real PostgreSQL 15: the builtin reference schema applies to an
 * empty database (every corrected index, view and function of the guide runs), a rerun is a
 * no-op, a changed file is refused by name, concurrent runners take turns, and a failing
 * migration leaves nothing behind and says where it failed. The CLI's exit codes and outputs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_DIR, loadMigrationSet, MigrationError, migrate } from '../../src/jobs/migrate.ts';
import { rollover } from '../../src/jobs/rollover.ts';
import { testDatabase, withClient } from '../support/dataplane.ts';
import { jobEnv, runJobCli } from '../support/jobs.ts';

let db: Awaited<ReturnType<typeof testDatabase>>;
const builtin = () => loadMigrationSet(BUILTIN_DIR, 'builtin');
const run = (sets: ReturnType<typeof builtin>[]) => withClient(db.config, (c) => migrate(c, sets));
const query = <T extends pg.QueryResultRow>(sql: string, params: unknown[] = []) =>
  withClient(db.config, (c) => c.query<T>(sql, params)).then((r) => r.rows);

function migrationSet(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'homeops-mig-'));
  for (const [name, sql] of Object.entries(files)) writeFileSync(join(dir, name), sql);
  return dir;
}

beforeAll(async () => {
  db = await testDatabase('migrate');
});
afterAll(() => db?.cleanup());

describe('builtin reference schema', () => {
  it('applies to an empty database, and a rerun changes nothing', async () => {
    const first = await run([builtin()]);
    expect(first.applied.map((a) => a.name)).toEqual([
      'schemas_and_tables',
      'indexes',
      'views_and_functions',
      'timeseries',
    ]);
    const second = await run([builtin()]);
    expect(second).toEqual({
      applied: [],
      alreadyApplied: 4,
      latest: { builtin: '0004_timeseries' },
    });
    const schemas = await query<{ nspname: string }>(
      "SELECT nspname FROM pg_namespace WHERE nspname IN ('core','financial','smart_home','media','network','analytics','system_optimization','monitoring') ORDER BY 1",
    );
    expect(schemas).toHaveLength(8);
  });

  it('built every corrected index of the guide, valid (CONCURRENTLY outside a transaction)', async () => {
    const idx = await query<{ indexrelname: string; indisvalid: boolean }>(
      `SELECT c.relname AS indexrelname, i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname LIKE 'idx_%'`,
    );
    const valid = Object.fromEntries(idx.map((r) => [r.indexrelname, r.indisvalid]));
    for (const name of [
      'idx_users_auth_lookup',
      'idx_sessions_user_active',
      'idx_notifications_realtime',
      'idx_perf_metrics_node_hour',
      'idx_sys_metrics_recent',
      'idx_system_health_dashboard',
      'idx_transactions_account_date',
      'idx_devices_responsive',
      'idx_portfolio_perf_summary_id',
    ]) {
      expect(valid[name], name).toBe(true);
    }
  });

  it('makes yearly partitions that inherit the account/date index (the corrected create_yearly_partition)', async () => {
    const [made] = await query<{ p: string }>(
      "SELECT financial.create_yearly_partition('financial.transactions', 2026) AS p",
    );
    expect(made!.p).toBe('financial.transactions_2026');
    const idx = await query<{ indexname: string }>(
      "SELECT indexname FROM pg_indexes WHERE schemaname = 'financial' AND tablename = 'transactions_2026'",
    );
    expect(idx.map((i) => i.indexname).join()).toMatch(/account_id_transaction_date/);
  });

  it("without TimescaleDB, range-partitions the time-series tables; rollover makes the guide's periods, with the indexes", async () => {
    const keys = await query<{ t: string; key: string }>(
      `SELECT c.oid::regclass::text AS t, pg_get_partkeydef(c.oid) AS key FROM pg_partitioned_table p
         JOIN pg_class c ON c.oid = p.partrelid ORDER BY 1`,
    );
    expect(keys).toEqual([
      { t: 'analytics.events', key: 'RANGE ("timestamp")' },
      { t: 'analytics.system_health', key: 'RANGE ("time")' },
      { t: 'financial.transactions', key: 'RANGE (transaction_date)' },
      { t: 'network.performance_metrics', key: 'RANGE ("time")' },
      { t: 'system_optimization.performance_metrics', key: 'RANGE ("time")' },
    ]);
    // No partition until rollover first runs: a row is refused, not lost in a default partition.
    await expect(
      query("INSERT INTO network.performance_metrics VALUES (now(), 'n1', 'cpu', 1)"),
    ).rejects.toThrow(/no partition of relation/);
    const now = new Date();
    const plans = await withClient(db.config, async (c) => [
      await rollover(
        c,
        { table: 'network.performance_metrics', column: 'time', interval: '1 day', premake: 2 },
        { now, since: new Date(now.getTime() - 86_400_000) },
      ),
      await rollover(
        c,
        { table: 'analytics.events', column: 'timestamp', interval: '1 week', premake: 1 },
        { now },
      ),
    ]);
    expect(plans.map((p) => p.create.length)).toEqual([4, 2]); // yesterday, today, 2 ahead; this week, next
    expect(plans[1]!.create[0]!.name).toMatch(/^events_p\d{8}$/);
    expect(new Date(`${plans[1]!.create[0]!.from.slice(0, 10)}T00:00:00Z`).getUTCDay()).toBe(1); // Monday
    const idx = await query<{ indexdef: string }>(
      `SELECT indexdef FROM pg_indexes WHERE schemaname = 'network' AND tablename = $1`,
      [plans[0]!.create[1]!.name],
    );
    expect(idx.map((i) => i.indexdef).join()).toMatch(/node_id, date_trunc\('hour'/);
  });

  it("runs the guide's monitoring views on PostgreSQL 15's column names", async () => {
    for (const view of [
      'database_performance',
      'index_usage',
      'slow_queries',
      'unused_indexes',
      'table_bloat',
    ]) {
      await expect(query(`SELECT * FROM monitoring.${view} LIMIT 1`), view).resolves.toBeDefined();
    }
    const tables = await query<{ tablename: string }>(
      'SELECT tablename FROM monitoring.database_performance',
    );
    expect(tables.map((t) => t.tablename)).toContain('users');
  });

  it('without TimescaleDB, makes network.performance_hourly a materialized view the refresh job can refresh CONCURRENTLY', async () => {
    const { refresh } = await import('../../src/jobs/refresh.ts');
    const [kind] = await query<{ relkind: string }>(
      "SELECT relkind FROM pg_class WHERE oid = 'network.performance_hourly'::regclass",
    );
    expect(kind!.relkind).toBe('m');
    await query(
      "INSERT INTO network.performance_metrics VALUES (now() - interval '2 hours', 'n1', 'cpu', 10), (now() - interval '2 hours', 'n1', 'cpu', 20)",
    );
    const target = {
      name: 'network.performance_hourly',
      startOffset: '1 day',
      endOffset: '1 hour',
      concurrently: true,
    };
    expect(await withClient(db.config, (c) => refresh(c, target))).toMatchObject({ mode: 'plain' });
    expect(await withClient(db.config, (c) => refresh(c, target))).toMatchObject({ mode: 'concurrently' });
    const [row] = await query<{ avg_value: number; sample_count: string }>(
      'SELECT avg_value, sample_count FROM network.performance_hourly',
    );
    expect(row).toEqual({ avg_value: 15, sample_count: '2' });
  });

  it('refreshes the portfolio materialized view concurrently through its function', async () => {
    await query(`WITH u AS (INSERT INTO core.users (email, display_name) VALUES ('a@example.com', 'A') RETURNING id),
                      p AS (INSERT INTO financial.portfolios (user_id, name, total_value, total_cost_basis) SELECT id, 'main', 1500, 1000 FROM u RETURNING id)
                 INSERT INTO financial.positions (portfolio_id, symbol, quantity, average_cost, current_price) SELECT id, 'ACME', 10, 100, 150 FROM p`);
    await query('REFRESH MATERIALIZED VIEW financial.portfolio_performance_summary');
    await query('SELECT financial.refresh_portfolio_performance()');
    const [row] = await query<{ position_count: string; avg_position_pnl: string }>(
      'SELECT position_count, avg_position_pnl FROM financial.portfolio_performance_summary',
    );
    expect(row).toEqual({ position_count: '1', avg_position_pnl: '500.0000000000000000' });
  });
});

describe('the runner', () => {
  it('refuses to go on when an applied migration changed, naming the file', async () => {
    const dir = migrationSet({ '0001_first.sql': 'CREATE TABLE app_first (id int);' });
    await run([builtin(), loadMigrationSet(dir, 'app')]);
    writeFileSync(join(dir, '0001_first.sql'), 'CREATE TABLE app_first (id bigint);');
    const err = await run([builtin(), loadMigrationSet(dir, 'app')]).catch((e) => e);
    expect(err).toBeInstanceOf(MigrationError);
    expect(err.reason).toBe('ChecksumMismatch');
    expect(err.message).toContain(join(dir, '0001_first.sql'));
  });

  it('runs a repeatable migration again when it changed, and only then; a plain one stays refused', async () => {
    const view = (n: number) =>
      `-- homeops:repeatable\nCREATE OR REPLACE VIEW app_rep_v AS SELECT ${n} AS n;\n`;
    const dir = migrationSet({
      '0001_table.sql': 'CREATE TABLE app_rep (id int);',
      '0002_view.sql': view(1),
    });
    const first = await run([loadMigrationSet(dir, 'rep')]);
    expect(first.applied.map((a) => a.version)).toEqual(['0001', '0002']);
    expect((await run([loadMigrationSet(dir, 'rep')])).applied).toEqual([]);
    writeFileSync(join(dir, '0002_view.sql'), view(2));
    const again = await run([loadMigrationSet(dir, 'rep')]);
    expect(again.applied).toMatchObject([{ version: '0002', again: true }]);
    expect(again.alreadyApplied).toBe(1);
    expect(await query<{ n: number }>('SELECT n FROM app_rep_v')).toEqual([{ n: 2 }]);
    const rows = await query<{ version: string; checksum: string }>(
      "SELECT version, checksum FROM homeops_migrations.applied WHERE set_name = 'rep' ORDER BY version",
    );
    expect(rows.map((r) => r.version)).toEqual(['0001', '0002']);
    expect(rows[1]!.checksum).toBe(loadMigrationSet(dir, 'rep')[1]!.checksum);
    // The table's migration is not repeatable: a change to it is still refused.
    writeFileSync(join(dir, '0001_table.sql'), 'CREATE TABLE app_rep (id bigint);');
    await expect(run([loadMigrationSet(dir, 'rep')])).rejects.toMatchObject({ reason: 'ChecksumMismatch' });
  });

  it('rolls a failing migration back whole and reports file, line, statement and server error', async () => {
    const dir = migrationSet({
      '0001_ok.sql': 'CREATE TABLE app2_ok (id int);',
      '0002_broken.sql':
        'CREATE TABLE app2_half (id int);\nINSERT INTO app2_half VALUES (1);\n\nSELECT * FROM app2_missing;\n',
    });
    const err = await run([loadMigrationSet(dir, 'app2')]).catch((e) => e);
    expect(err).toMatchObject({ reason: 'MigrationFailed', file: join(dir, '0002_broken.sql'), line: 4 });
    expect(err.statement).toBe('SELECT * FROM app2_missing');
    expect(err.message).toContain('relation "app2_missing" does not exist');
    expect(err.message).toContain('42P01');
    const tables = await query<{ t: string | null }>("SELECT to_regclass('app2_half')::text AS t");
    expect(tables[0]!.t).toBeNull(); // nothing of the failed migration is left
    const applied = await query<{ version: string }>(
      "SELECT version FROM homeops_migrations.applied WHERE set_name = 'app2'",
    );
    expect(applied.map((a) => a.version)).toEqual(['0001']);
  });

  it("refuses a set PostgreSQL's parser cannot read before running any of it, with file and line", async () => {
    const dir = migrationSet({
      '0001_fine.sql': 'CREATE TABLE app4_fine (id int);',
      // The closing quote forgotten: the scanner's message would repeat the whole password.
      '0002_typo.sql': "CREATE TABLE app4_other (id int);\n\nALTER ROLE nobody PASSWORD 'hunter2-secret;\n",
    });
    const err = await run([loadMigrationSet(dir, 'app4')]).catch((e) => e);
    expect(err).toMatchObject({ reason: 'MigrationFailed', file: join(dir, '0002_typo.sql'), line: 3 });
    expect(err.message).toMatch(/unterminated quoted string at or near '\[redacted\]'/);
    expect(err.message).not.toContain('hunter2');
    // Not even the migration before it ran.
    expect(
      (await query<{ t: string | null }>("SELECT to_regclass('app4_fine')::text AS t"))[0]!.t,
    ).toBeNull();
  });

  it("runs what PostgreSQL's own quoting makes one statement as one (E'' escapes, BEGIN ATOMIC)", async () => {
    const dir = migrationSet({
      '0001_quoting.sql': String.raw`CREATE TABLE app5_notes (body text);
INSERT INTO app5_notes VALUES (E'it\'s; one value');
CREATE FUNCTION app5_two() RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT 1;
  SELECT 2;
END;
`,
    });
    await run([loadMigrationSet(dir, 'app5')]);
    expect(await query<{ body: string }>('SELECT body FROM app5_notes')).toEqual([
      { body: "it's; one value" },
    ]);
    expect(await query<{ v: number }>('SELECT app5_two() AS v')).toEqual([{ v: 2 }]);
  });

  it('reports a failed statement without the password in it', async () => {
    const dir = migrationSet({
      '0001_role.sql': "CREATE ROLE app3_role LOGIN PASSWORD 'hunter2-secret' IN ROLE app3_no_such_group;\n",
    });
    const err = await run([loadMigrationSet(dir, 'app3')]).catch((e) => e);
    expect(err).toMatchObject({ reason: 'MigrationFailed', line: 1 });
    expect(err.statement).toBe(
      "CREATE ROLE app3_role LOGIN PASSWORD '[redacted]' IN ROLE app3_no_such_group",
    );
    expect(err.message).toMatch(/role "app3_no_such_group" does not exist/);
    expect(JSON.stringify({ message: err.message, statement: err.statement })).not.toContain('hunter2');
  });

  it('lets two concurrent runners take turns: one applies, the other finds it done', async () => {
    const dir = migrationSet({ '0001_slow.sql': 'SELECT pg_sleep(1);\nCREATE TABLE app3_once (id int);' });
    const set = loadMigrationSet(dir, 'app3');
    const [a, b] = await Promise.all([run([set]), run([set])]);
    expect([a.applied.length, b.applied.length].sort()).toEqual([0, 1]);
    expect([a.alreadyApplied, b.alreadyApplied].sort()).toEqual([0, 1]);
  });
});

describe('the job CLI', () => {
  // The shared job helper, with a termination-message file of this test's own to read back.
  const cli = async (args: string[], env: Record<string, string>) => {
    const log = join(mkdtempSync(join(tmpdir(), 'homeops-term-')), 'termination-log');
    const r = await runJobCli(args, { ...env, HOMEOPS_TERMINATION_LOG: log });
    return { ...r, log: readFileSync(log, 'utf8') };
  };
  const pgEnv = () => jobEnv(db.name);

  it('prints the result as JSON, writes the termination message and exits 0', async () => {
    const r = await cli(['migrate'], pgEnv());
    expect(r.code).toBe(0);
    expect(r.out).toMatchObject({ job: 'migrate', ok: true, applied: [], alreadyApplied: 4 });
    expect(JSON.parse(r.log)).toEqual(r.out);
  });

  it('exits 2 on invalid input and 1 on a failure, with the reason', async () => {
    const bad = await cli(['migrate', '--frobnicate'], pgEnv());
    expect(bad.code).toBe(2);
    expect(bad.out).toMatchObject({ ok: false, reason: 'InvalidInput' });
    const denied = await cli(['migrate'], { ...pgEnv(), PGPASSWORD: 'wrong' });
    expect(denied.code).toBe(1);
    expect(denied.out.reason).toBe('ConnectionFailed');
    expect(denied.out.message).toContain('password authentication failed');
    expect(Buffer.byteLength(denied.log)).toBeLessThan(4096);
  });
});
