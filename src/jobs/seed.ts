/**
 * Deterministic synthetic household data at a scale factor, generated inside the server with
 * generate_series (no rows cross the network, which beats COPY from a client). Every value
 * comes from md5 of (seed, entity, index), so the same seed gives the same data whatever the
 * plan or parallelism. Scale 1: 40 users, 120 accounts, 1,000,000 transactions over eight
 * years, 100,000 notifications, 300 devices, 100,000 media items with 1,000,000 activity rows,
 * a month of per-minute metrics for 20 nodes.
 */
import { EMBEDDINGS_TABLE, seedEmbeddings } from './embeddings.ts';
import { JobError } from './errors.ts';
import type { Queryable } from './queryable.ts';
import { rollover } from './rollover.ts';

export interface SeedOptions {
  scale: number;
  seed: number;
  /** Today, for "eight years up to now" (fixed in tests so that runs compare). */
  today?: string;
}

export interface SeedResult {
  rows: Record<string, number>;
  ms: number;
}

export class SeedError extends JobError<'NotEmpty'> {}

const n = (base: number, scale: number) => Math.max(1, Math.round(base * scale));
const MINUTE = 60_000;
/** A month of per-minute metrics, a week of system metrics, a year of events (at scale 1). */
const METRIC_MINUTES = 43_200;
const SYSTEM_MINUTES = 10_080;
const EVENT_DAYS = 365;

/** The builtin time-series tables, their partition periods, and how far back the seed goes. */
const TIMESERIES = [
  {
    table: 'network.performance_metrics',
    column: 'time',
    interval: 'daily',
    span: (k: number) => n(METRIC_MINUTES, k) * MINUTE,
  },
  {
    table: 'system_optimization.performance_metrics',
    column: 'time',
    interval: 'daily',
    span: (k: number) => n(SYSTEM_MINUTES, k) * MINUTE,
  },
  {
    table: 'analytics.system_health',
    column: 'time',
    interval: 'daily',
    span: (k: number) => n(METRIC_MINUTES, k) * MINUTE,
  },
  {
    table: 'analytics.events',
    column: 'timestamp',
    interval: 'weekly',
    span: () => EVENT_DAYS * 1440 * MINUTE,
  },
];

export async function seed(db: Queryable, o: SeedOptions): Promise<SeedResult> {
  const t0 = performance.now();
  const existing = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM core.users');
  if (existing.rows[0]!.n > 0)
    throw new SeedError('NotEmpty', 'core.users is not empty: seed-data only fills an empty schema');
  const s = o.seed;
  const today = o.today ?? new Date().toISOString().slice(0, 10);
  const users = n(40, o.scale);
  const c = {
    users,
    accounts: users * 3,
    transactions: n(1_000_000, o.scale),
    notifications: n(100_000, o.scale),
    devices: n(300, o.scale),
    items: n(100_000, o.scale),
    activity: n(1_000_000, o.scale),
    nodes: 20,
    minutes: n(METRIC_MINUTES, o.scale),
  };
  // r(key) in [0, 1) and uid(key) as uuid, from md5: deterministic, order-independent.
  await db.query(`CREATE OR REPLACE FUNCTION pg_temp.r(k text) RETURNS float8 LANGUAGE sql IMMUTABLE AS
    $$ SELECT ('x' || substr(md5('${s}:' || k), 1, 8))::bit(32)::bigint / 4294967296.0 $$`);
  await db.query(`CREATE OR REPLACE FUNCTION pg_temp.uid(k text) RETURNS uuid LANGUAGE sql IMMUTABLE AS
    $$ SELECT md5('${s}:' || k)::uuid $$`);
  const steps: [string, string][] = [
    [
      'partitions',
      `SELECT financial.create_yearly_partition('financial.transactions', y)
       FROM generate_series(extract(year FROM date '${today}')::int - 8, extract(year FROM date '${today}')::int + 1) y`,
    ],
    [
      'core.users',
      `INSERT INTO core.users (id, email, display_name, role, is_active, last_login_at, created_at)
       SELECT pg_temp.uid('u' || g), 'user' || g || '@home.test', 'User ' || g,
              CASE WHEN g = 1 THEN 'admin' WHEN pg_temp.r('role' || g) < 0.2 THEN 'guest' ELSE 'member' END,
              pg_temp.r('active' || g) < 0.9,
              timestamptz '${today}' - (pg_temp.r('login' || g) * 60) * interval '1 day',
              timestamptz '${today}' - interval '8 years'
         FROM generate_series(1, ${c.users}) g`,
    ],
    [
      'financial.accounts',
      `INSERT INTO financial.accounts (id, user_id, account_name, account_type, balance)
       SELECT pg_temp.uid('a' || g), pg_temp.uid('u' || (1 + (g - 1) / 3)),
              (ARRAY['Checking', 'Savings', 'Brokerage'])[1 + (g - 1) % 3] || ' ' || g,
              (ARRAY['checking', 'savings', 'brokerage'])[1 + (g - 1) % 3],
              round((pg_temp.r('bal' || g) * 50000)::numeric, 2)
         FROM generate_series(1, ${c.accounts}) g`,
    ],
    [
      'financial.transactions',
      `INSERT INTO financial.transactions (id, account_id, transaction_date, amount, description, category)
       SELECT pg_temp.uid('t' || g), pg_temp.uid('a' || (1 + floor(pg_temp.r('ta' || g) * ${c.accounts})::int)),
              date '${today}' - floor(pg_temp.r('td' || g) * 2920)::int,
              round(((pg_temp.r('tm' || g) - 0.7) * 400)::numeric, 2),
              'Transaction ' || g,
              (ARRAY['groceries', 'utilities', 'salary', 'rent', 'dining', 'travel'])[1 + floor(pg_temp.r('tc' || g) * 6)::int]
         FROM generate_series(1, ${c.transactions}) g`,
    ],
    [
      'core.notifications',
      `INSERT INTO core.notifications (id, user_id, type, title, is_read, created_at)
       SELECT pg_temp.uid('n' || g), pg_temp.uid('u' || (1 + floor(pg_temp.r('nu' || g) * ${c.users})::int)),
              (ARRAY['info', 'alert', 'reminder'])[1 + floor(pg_temp.r('nt' || g) * 3)::int], 'Notification ' || g,
              pg_temp.r('nr' || g) < 0.7, timestamptz '${today}' - pg_temp.r('nc' || g) * interval '365 days'
         FROM generate_series(1, ${c.notifications}) g`,
    ],
    [
      'core.conversation_sessions',
      `INSERT INTO core.conversation_sessions (id, user_id, is_active, started_at)
       SELECT pg_temp.uid('s' || g), pg_temp.uid('u' || (1 + (g - 1) % ${c.users})), pg_temp.r('sa' || g) < 0.1,
              timestamptz '${today}' - pg_temp.r('ss' || g) * interval '30 days'
         FROM generate_series(1, ${c.users * 25}) g`,
    ],
    [
      'financial.portfolios',
      `INSERT INTO financial.portfolios (id, user_id, name, total_value, total_cost_basis)
       SELECT pg_temp.uid('p' || g), pg_temp.uid('u' || g), 'Portfolio ' || g,
              round((10000 + pg_temp.r('pv' || g) * 90000)::numeric, 2), round((10000 + pg_temp.r('pc' || g) * 80000)::numeric, 2)
         FROM generate_series(1, ${c.users}) g`,
    ],
    [
      'financial.positions',
      `INSERT INTO financial.positions (id, portfolio_id, symbol, quantity, average_cost, current_price)
       SELECT pg_temp.uid('pos' || g), pg_temp.uid('p' || (1 + (g - 1) / 20)), 'SYM' || (g % 97),
              round((pg_temp.r('q' || g) * 100)::numeric, 2), round((10 + pg_temp.r('ac' || g) * 200)::numeric, 2),
              round((10 + pg_temp.r('cp' || g) * 220)::numeric, 2)
         FROM generate_series(1, ${c.users * 20}) g`,
    ],
    [
      'smart_home.rooms',
      `INSERT INTO smart_home.rooms (id, name, type)
       SELECT pg_temp.uid('room' || g), 'Room ' || g, (ARRAY['bedroom', 'kitchen', 'living', 'office', 'garage', 'bath'])[1 + (g - 1) % 6]
         FROM generate_series(1, 12) g`,
    ],
    [
      'smart_home.devices',
      `INSERT INTO smart_home.devices (id, room_id, name, device_type, is_online, is_controllable, current_state, last_seen)
       SELECT pg_temp.uid('dev' || g), pg_temp.uid('room' || (1 + (g - 1) % 12)), 'Device ' || g,
              (ARRAY['light', 'thermostat', 'sensor', 'camera', 'plug'])[1 + floor(pg_temp.r('dt' || g) * 5)::int],
              pg_temp.r('do' || g) < 0.85, pg_temp.r('dc' || g) < 0.7, jsonb_build_object('on', pg_temp.r('ds' || g) < 0.5),
              timestamptz '${today}' - pg_temp.r('dl' || g) * interval '1 hour'
         FROM generate_series(1, ${c.devices}) g`,
    ],
    [
      'media.libraries',
      `INSERT INTO media.libraries (id, name, media_type)
       SELECT pg_temp.uid('lib' || g), (ARRAY['Movies', 'Series', 'Music', 'Photos', 'Podcasts'])[g], (ARRAY['video', 'video', 'audio', 'image', 'audio'])[g]
         FROM generate_series(1, 5) g`,
    ],
    [
      'media.items',
      `INSERT INTO media.items (id, library_id, title, year, duration_s, date_added)
       SELECT pg_temp.uid('item' || g), pg_temp.uid('lib' || (1 + floor(pg_temp.r('il' || g) * 5)::int)), 'Item ' || g,
              1950 + floor(pg_temp.r('iy' || g) * 75)::int, 60 + floor(pg_temp.r('idur' || g) * 7200)::int,
              timestamptz '${today}' - pg_temp.r('ia' || g) * interval '2920 days'
         FROM generate_series(1, ${c.items}) g`,
    ],
    [
      'media.user_activity',
      `INSERT INTO media.user_activity (item_id, user_id, activity_type, created_at)
       SELECT pg_temp.uid('item' || (1 + floor(pg_temp.r('ai' || g) * ${c.items})::int)), pg_temp.uid('u' || (1 + floor(pg_temp.r('au' || g) * ${c.users})::int)),
              (ARRAY['play', 'pause', 'complete', 'rate', 'favorite'])[1 + floor(pg_temp.r('at' || g) * 5)::int],
              timestamptz '${today}' - pg_temp.r('ac' || g) * interval '365 days'
         FROM generate_series(1, ${c.activity}) g`,
    ],
    [
      'network.services',
      `INSERT INTO network.services (id, name, status)
       SELECT pg_temp.uid('svc' || g), 'service-' || g, (ARRAY['up', 'up', 'up', 'degraded', 'down'])[1 + floor(pg_temp.r('ss' || g) * 5)::int]
         FROM generate_series(1, 30) g`,
    ],
    [
      'network.performance_metrics',
      `INSERT INTO network.performance_metrics (time, node_id, metric_type, value)
       SELECT timestamptz '${today}' - m * interval '1 minute', 'node-' || nd, 'cpu', pg_temp.r('pm' || m || ':' || nd) * 100
         FROM generate_series(1, ${c.minutes}) m, generate_series(1, ${c.nodes}) nd`,
    ],
    [
      'system_optimization.performance_metrics',
      `INSERT INTO system_optimization.performance_metrics (time, node_id, metric_type, value)
       SELECT timestamptz '${today}' - m * interval '1 minute', 'node-' || nd, 'memory', pg_temp.r('so' || m || ':' || nd) * 100
         FROM generate_series(1, ${n(SYSTEM_MINUTES, o.scale)}) m, generate_series(1, ${c.nodes}) nd`,
    ],
    [
      'analytics.system_health',
      `INSERT INTO analytics.system_health (time, overall_health_score, active_services, failed_services, error_rate)
       SELECT timestamptz '${today}' - m * interval '1 minute', round((80 + pg_temp.r('h' || m) * 20)::numeric, 2),
              25 + floor(pg_temp.r('hs' || m) * 5)::int, floor(pg_temp.r('hf' || m) * 3)::int, pg_temp.r('he' || m) * 0.05
         FROM generate_series(1, ${c.minutes}) m`,
    ],
    [
      'analytics.events',
      `INSERT INTO analytics.events ("timestamp", user_id, event_type, properties)
       SELECT timestamptz '${today}' - pg_temp.r('et' || g) * interval '${EVENT_DAYS} days', pg_temp.uid('u' || (1 + floor(pg_temp.r('eu' || g) * ${c.users})::int)),
              (ARRAY['login', 'view', 'click', 'search'])[1 + floor(pg_temp.r('ee' || g) * 4)::int], '{}'
         FROM generate_series(1, ${n(200_000, o.scale)}) g`,
    ],
  ];
  // Natively partitioned time-series tables (no TimescaleDB) need their partitions back to
  // the oldest seeded row: rollover makes them (on hypertables it has nothing to do).
  const day = Date.parse(`${today}T00:00:00Z`);
  for (const t of TIMESERIES) {
    const since = new Date(day - t.span(o.scale) - 86_400_000);
    // A large scale goes back further than one rollover run may: no cap here.
    await rollover(db, { ...t, premake: 1 }, { now: new Date(day), since, maxPartitions: Infinity });
  }
  const rows: Record<string, number> = {};
  for (const [table, sql] of steps) {
    if (table === 'partitions') {
      await db.query(sql);
      continue;
    }
    await db.query(sql);
    const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`);
    rows[table] = r.rows[0]!.n;
  }
  // The embeddings set's table, when the database has it: a vector per media item.
  const vectors = await seedEmbeddings(db, s);
  if (vectors !== undefined) rows[EMBEDDINGS_TABLE] = vectors;
  await db.query('REFRESH MATERIALIZED VIEW financial.portfolio_performance_summary');
  await db.query('ANALYZE');
  return { rows, ms: Math.round(performance.now() - t0) };
}
