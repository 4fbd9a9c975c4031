/**
 * seed-data on a real PostgreSQL 15: deterministic from its seed, proportional to its scale,
 * and the guide's queries (corrected) return sensible rows on what it makes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_DIR, loadMigrationSet, migrate } from '../../src/jobs/migrate.ts';
import { SeedError, seed } from '../../src/jobs/seed.ts';
import { testDatabase, withClient } from '../support/dataplane.ts';

const dbs: Awaited<ReturnType<typeof testDatabase>>[] = [];
const opts = { scale: 0.05, seed: 7, today: '2026-11-26' };
const USER1 = "SELECT md5('7:u1')::uuid";

async function seeded() {
  const db = await testDatabase('seed');
  dbs.push(db);
  await withClient(db.config, async (c) => {
    await migrate(c, [loadMigrationSet(BUILTIN_DIR, 'builtin')]);
  });
  const result = await withClient(db.config, (c) => seed(c, opts));
  return { db, result };
}
let a: Awaited<ReturnType<typeof seeded>>;
beforeAll(async () => {
  a = await seeded();
});
afterAll(() => Promise.all(dbs.map((d) => d.cleanup())));
const q = <T>(sql: string) => withClient(a.db.config, (c) => c.query(sql)).then((r) => r.rows as T[]);

describe('seed-data', () => {
  it('fills every table in proportion to the scale', () => {
    expect(a.result.rows).toMatchObject({
      'core.users': 2,
      'financial.accounts': 6,
      'financial.transactions': 50_000,
      'core.notifications': 5_000,
      'media.items': 5_000,
      'media.user_activity': 50_000,
      'network.performance_metrics': 2_160 * 20,
    });
  });

  it('is reproducible from its seed, and refuses a schema that already has data', async () => {
    const b = await seeded();
    const digest = (db: typeof a.db) =>
      withClient(db.config, (c) =>
        c.query(
          "SELECT md5(string_agg(id::text || transaction_date || amount, ',' ORDER BY id)) AS d FROM financial.transactions",
        ),
      ).then((r) => r.rows[0].d);
    expect(await digest(b.db)).toBe(await digest(a.db));
    await expect(withClient(a.db.config, (c) => seed(c, opts))).rejects.toBeInstanceOf(SeedError);
  });
});

describe("the guide's queries on seeded data", () => {
  it('system overview: latest health, unread count and service summary', async () => {
    const rows = await q<{
      overall_health_score: string;
      unread_count: string;
      status: string;
      count: string;
    }>(`
      WITH system_status AS (
        SELECT overall_health_score, active_services, failed_services FROM analytics.system_health ORDER BY time DESC LIMIT 1),
      recent_alerts AS (SELECT count(*) AS unread_count FROM core.notifications WHERE user_id = (${USER1}) AND is_read = false),
      service_summary AS (SELECT status, count(*) AS count FROM network.services GROUP BY status)
      SELECT * FROM system_status, recent_alerts, service_summary`);
    expect(rows.length).toBeGreaterThan(0);
    expect(Number(rows[0]!.overall_health_score)).toBeGreaterThanOrEqual(80);
    expect(rows.reduce((s, r) => s + Number(r.count), 0)).toBe(30);
  });

  it('portfolio performance with position summary', async () => {
    const rows = await q<{ position_count: string; return_percentage: string }>(`
      SELECT p.id, p.name, p.total_value, p.total_cost_basis, (p.total_value - p.total_cost_basis) AS unrealized_pnl,
             CASE WHEN p.total_cost_basis > 0 THEN ((p.total_value - p.total_cost_basis) / p.total_cost_basis) * 100 ELSE 0 END AS return_percentage,
             pos_summary.position_count, pos_summary.avg_performance
        FROM financial.portfolios p
        LEFT JOIN (SELECT portfolio_id, count(*) AS position_count,
                          avg(CASE WHEN average_cost > 0 THEN ((current_price - average_cost) / average_cost) * 100 ELSE 0 END) AS avg_performance
                     FROM financial.positions WHERE quantity > 0 GROUP BY portfolio_id) pos_summary ON p.id = pos_summary.portfolio_id
       WHERE p.user_id = (${USER1})`);
    expect(rows).toHaveLength(1);
    expect(Number(rows[0]!.position_count)).toBeGreaterThan(0);
  });

  it('device status by room, with the controllable filter in ON (C8) so rooms without such devices stay', async () => {
    const corrected = await q<{ room_name: string; devices: unknown[] }>(`
      SELECT r.name AS room_name, r.type AS room_type,
             coalesce(json_agg(json_build_object('id', d.id, 'name', d.name, 'type', d.device_type, 'online', d.is_online, 'state', d.current_state)
                               ORDER BY d.name) FILTER (WHERE d.id IS NOT NULL), '[]') AS devices
        FROM smart_home.rooms r LEFT JOIN smart_home.devices d ON r.id = d.room_id AND d.is_controllable = true
       GROUP BY r.id, r.name, r.type ORDER BY r.name`);
    expect(corrected).toHaveLength(12);
    const devices = corrected.reduce((s, r) => s + (r.devices as unknown[]).length, 0);
    const [controllable] = await q<{ n: number }>(
      'SELECT count(*)::int AS n FROM smart_home.devices WHERE is_controllable AND room_id IS NOT NULL',
    );
    expect(devices).toBe(controllable!.n);
  });

  it("media browse without N+1: one query with the items' activities", async () => {
    const rows = await q<{ activities: unknown[] }>(`
      SELECT i.id, i.title, coalesce(json_agg(json_build_object('activity_type', ua.activity_type, 'created_at', ua.created_at))
                                    FILTER (WHERE ua.id IS NOT NULL), '[]') AS activities
        FROM media.items i LEFT JOIN media.user_activity ua ON i.id = ua.item_id
       WHERE i.library_id = md5('7:lib1')::uuid GROUP BY i.id LIMIT 20`);
    expect(rows.length).toBe(20);
  });

  it('the monitoring views report the seeded tables', async () => {
    const perf = await q<{ tablename: string; n_live_tup: string }>(
      "SELECT tablename, n_live_tup FROM monitoring.database_performance WHERE schemaname = 'media' ORDER BY tablename",
    );
    expect(perf.map((p) => p.tablename)).toEqual(['items', 'libraries', 'user_activity']);
    expect(Number(perf.find((p) => p.tablename === 'user_activity')!.n_live_tup)).toBe(50_000);
  });
});

describe('C11 and C12: the corrected benchmark queries return what the guide wrote', () => {
  it.each(['transaction-history', 'media-library-browse'])('%s', async (name) => {
    const { AS_WRITTEN, BUILTIN_SCENARIOS } = await import('../../src/jobs/bench.ts');
    const s = BUILTIN_SCENARIOS.find((x) => x.name === name)!;
    const [param] = await q<{ p: string }>(s.paramQuery);
    const key = name === 'transaction-history' ? 'transaction_date' : 'date_added';
    const run = (sql: string) =>
      withClient(a.db.config, (c) => c.query(sql, [param!.p])).then((r) => r.rows.map((x) => String(x[key])));
    const corrected = await run(s.query);
    expect(corrected.length).toBeGreaterThan(0);
    // The same sort keys in the same order: rows tied on the key at the LIMIT may differ, as they
    // may between two runs of the guide's own query.
    expect(corrected).toEqual(await run(AS_WRITTEN[name]!));
  });
});
