/**
 * Measures a database the way the guide's DatabaseMonitor and health check meant to, done
 * properly: one short connection per probe with timeouts, the guide's retry policy (3 tries,
 * 1 s doubling) on connection errors only, PostgreSQL 13+ pg_stat_statements columns, and
 * PgBouncer's SHOW POOLS. Failures are classified so that status can say exactly what is wrong.
 */
import type pg from 'pg';
import { type Endpoint, GUIDE_RETRY, NO_RETRY, type RetryPolicy, withClient } from '../../pg/client.ts';
import { readServerExtensions, type ServerExtensions } from '../../pg/extensions.ts';
import { refusedSettings } from '../../pg/settings.ts';
import { type ArchiverState, readArchiver } from './archiving.ts';
import { DIGEST_SETTING } from './pgconfig.ts';

/** The probes' own connections carry this name, and are left out of the connection figures. */
export const PROBE_APPLICATION = 'homeops-operator-probe';

export interface ProbeTarget extends Endpoint {
  user: string;
  password: string;
  database: string;
}

export interface TableStat {
  table: string;
  deadTupleRatio: number;
  indexScanRatio?: number;
}

export interface PrimaryMeasurement {
  responseMs: number;
  connections: { active: number; idle: number; total: number; max: number; usagePercent: number };
  cacheHitRatio?: number;
  tables: TableStat[];
  slowQueries?: number;
  statementsAvailable: boolean;
  timescale: { available: boolean; version?: string; license?: 'apache' | 'timescale' };
  /** What the server has of the declared extensions (and every installed one). */
  extensions: ServerExtensions;
  /** WAL archiving (read when spec.backup is set). */
  archiver?: ArchiverState;
}

export interface PoolerMeasurement {
  clientsActive: number;
  clientsWaiting: number;
  serversActive: number;
  serversIdle: number;
  maxWaitSeconds: number;
}

export function connect<T>(
  target: ProbeTarget,
  timeoutMs: number,
  retry: RetryPolicy,
  fn: (c: pg.Client) => Promise<T>,
  serverTimeout = true,
): Promise<T> {
  return withClient(
    {
      host: target.host,
      port: target.port,
      user: target.user,
      password: target.password,
      database: target.database,
      connectionTimeoutMillis: timeoutMs,
      // PgBouncer's admin console refuses statement_timeout as a startup parameter.
      ...(serverTimeout ? { statement_timeout: timeoutMs } : {}),
      query_timeout: timeoutMs,
      application_name: PROBE_APPLICATION,
    },
    fn,
    retry,
  );
}

const num = (v: unknown) => (v === null || v === undefined ? undefined : Number(v));

/**
 * status.timescale from what the server has (readServerExtensions, which always asks about
 * timescaledb): available when the image has the extension; version and license only once it is
 * installed (an Apache build never claims TSL features).
 */
export function timescaleOf(server: ServerExtensions): PrimaryMeasurement['timescale'] {
  const version = server.installed.timescaledb;
  const license = server.timescaleLicense;
  return {
    available: !!(version || server.available.timescaledb),
    ...(version ? { version } : {}),
    ...(version && (license === 'apache' || license === 'timescale') ? { license } : {}),
  };
}

/** Extensions every probe reads, beside the declared ones: the operator's monitoring and TimescaleDB. */
const PROBED_EXTENSIONS = ['pg_stat_statements', 'timescaledb'];

/** Tables with fewer scans than this say nothing yet about index usage. */
export const MIN_SCANS_FOR_RATIO = 50;

export async function probePrimary(
  target: ProbeTarget,
  opts: {
    slowQueryMs: number;
    timeoutMs?: number;
    retry?: RetryPolicy;
    extensions?: string[];
    archiving?: boolean;
  },
): Promise<PrimaryMeasurement> {
  const timeoutMs = opts.timeoutMs ?? 5000;
  return connect(target, timeoutMs, opts.retry ?? GUIDE_RETRY, async (c) => {
    const t0 = performance.now();
    await c.query('SELECT 1');
    const responseMs = performance.now() - t0;
    const conn = await c.query(
      `SELECT count(*) FILTER (WHERE state = 'active')::int AS active,
              count(*) FILTER (WHERE state = 'idle')::int AS idle,
              count(*)::int AS total,
              current_setting('max_connections')::int AS max
         FROM pg_stat_activity
        WHERE backend_type = 'client backend' AND application_name <> $1`,
      [PROBE_APPLICATION],
    );
    const cache = await c.query(
      `SELECT sum(blks_hit)::float8 / nullif(sum(blks_hit) + sum(blks_read), 0) AS ratio
         FROM pg_stat_database WHERE datname = current_database()`,
    );
    const tables = await c.query(
      `SELECT schemaname || '.' || relname AS table,
              n_dead_tup::float8 / nullif(n_live_tup + n_dead_tup, 0) AS dead_ratio,
              CASE WHEN coalesce(idx_scan, 0) + seq_scan >= $1
                   THEN coalesce(idx_scan, 0)::float8 / (coalesce(idx_scan, 0) + seq_scan) END AS index_ratio
         FROM pg_stat_user_tables ORDER BY 1`,
      [MIN_SCANS_FOR_RATIO],
    );
    const extensions = await readServerExtensions(c, [
      ...new Set([...PROBED_EXTENSIONS, ...(opts.extensions ?? [])]),
    ]);
    const statementsAvailable = !!extensions.installed.pg_stat_statements;
    let slowQueries: number | undefined;
    if (statementsAvailable) {
      // PostgreSQL 13+ names: mean_exec_time, total_exec_time (the guide's mean_time is gone).
      const slow = await c.query(
        'SELECT count(*)::int AS n FROM pg_stat_statements WHERE mean_exec_time > $1 AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())',
        [opts.slowQueryMs],
      );
      slowQueries = slow.rows[0].n;
    }
    const row = conn.rows[0];
    const archiver = opts.archiving ? await readArchiver(c) : undefined;
    return {
      responseMs,
      connections: {
        active: row.active,
        idle: row.idle,
        total: row.total,
        max: row.max,
        usagePercent: (row.total / row.max) * 100,
      },
      cacheHitRatio: num(cache.rows[0].ratio),
      tables: tables.rows.map((t) => ({
        table: t.table,
        deadTupleRatio: num(t.dead_ratio) ?? 0,
        ...(t.index_ratio === null ? {} : { indexScanRatio: Number(t.index_ratio) }),
      })),
      slowQueries,
      statementsAvailable,
      timescale: timescaleOf(extensions),
      extensions,
      ...(archiver ? { archiver } : {}),
    };
  });
}

/** Idempotent setup the operator needs on the primary: pg_stat_statements and the pooler's auth function. */
export async function ensureMonitoringObjects(
  target: ProbeTarget,
  sql: string,
  timeoutMs = 5000,
): Promise<void> {
  await connect(target, timeoutMs, NO_RETRY, async (c) => {
    await c.query(sql);
  });
}

/** What the primary refuses of `params` (src/pg/settings.ts); changes nothing on the server. */
export function checkParameters(
  target: ProbeTarget,
  params: Record<string, string>,
  opts: { timeoutMs?: number; retry?: RetryPolicy } = {},
): Promise<Record<string, string>> {
  return connect(target, opts.timeoutMs ?? 5000, opts.retry ?? GUIDE_RETRY, (c) =>
    refusedSettings(c, params),
  );
}

/** Where the primary's configuration stands: loaded, delivered to the pod, settings waiting for a restart. */
export interface ConfigState {
  /** PostgreSQL runs the configuration the operator wrote. */
  loaded: boolean;
  /** It asked PostgreSQL to reload it just now (the file had reached the pod). */
  reloaded: boolean;
  /** Settings changed in the file that take effect only at the next start. */
  pendingRestart: string[];
}

/**
 * Reloads the primary's configuration once the kubelet has delivered the file the operator wrote
 * (its digest on disk, read by pg_file_settings) and PostgreSQL has not loaded it yet. A reload
 * is what `pg_ctl reload` does: no connection is dropped.
 */
export function syncConfig(
  target: ProbeTarget,
  digest: string,
  opts: { timeoutMs?: number; retry?: RetryPolicy } = {},
): Promise<ConfigState> {
  return connect(target, opts.timeoutMs ?? 5000, opts.retry ?? GUIDE_RETRY, (c) =>
    reloadWhenDelivered(c, digest),
  );
}

/** syncConfig on an open session, as a superuser: the primary's, or a replica member's. */
export async function reloadWhenDelivered(
  c: Pick<pg.ClientBase, 'query'>,
  digest: string,
): Promise<ConfigState> {
  const { rows } = await c.query<{ loaded: string | null; on_disk: string | null; pending: string[] }>(
    `SELECT current_setting($1, true) AS loaded,
            (SELECT setting FROM pg_file_settings WHERE name = $1 ORDER BY seqno DESC LIMIT 1) AS on_disk,
            ARRAY(SELECT name FROM pg_settings WHERE pending_restart ORDER BY name) AS pending`,
    [DIGEST_SETTING],
  );
  const r = rows[0]!;
  const reload = r.loaded !== digest && r.on_disk === digest;
  if (reload) await c.query('SELECT pg_reload_conf()');
  return { loaded: r.loaded === digest, reloaded: reload, pendingRestart: r.pending };
}

export async function probePooler(
  target: ProbeTarget,
  opts: { timeoutMs?: number; retry?: RetryPolicy } = {},
): Promise<PoolerMeasurement> {
  return connect(
    { ...target, database: 'pgbouncer' },
    opts.timeoutMs ?? 5000,
    opts.retry ?? GUIDE_RETRY,
    async (c) => {
      const pools = await c.query('SHOW POOLS');
      const sum = (k: string) =>
        pools.rows.reduce((s, r) => (r.database === 'pgbouncer' ? s : s + Number(r[k] ?? 0)), 0);
      const maxWait = pools.rows.reduce(
        (m, r) =>
          r.database === 'pgbouncer'
            ? m
            : Math.max(m, Number(r.maxwait ?? 0) + Number(r.maxwait_us ?? 0) / 1e6),
        0,
      );
      return {
        clientsActive: sum('cl_active'),
        clientsWaiting: sum('cl_waiting'),
        serversActive: sum('sv_active'),
        serversIdle: sum('sv_idle'),
        maxWaitSeconds: maxWait,
      };
    },
    false,
  );
}
