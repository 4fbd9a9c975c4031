/**
 * Maintenance as the guide meant it, as top-level statements (VACUUM cannot run in a function
 * or a transaction): ANALYZE, VACUUM (ANALYZE), and the guide's reports: unused indexes,
 * dead-tuple percentages over the threshold, and slow statements (PostgreSQL 13+ columns).
 */
import type { Queryable } from './queryable.ts';

export interface MaintainOptions {
  analyze: boolean;
  vacuum: boolean;
  slowQueryMs: number;
  deadTupleRatio: number;
}

export interface MaintainResult {
  analyzed: boolean;
  vacuumed: boolean;
  ms: number;
  unusedIndexes: { table: string; index: string }[];
  bloat: { table: string; deadTuplePercent: number; deadTuples: number }[];
  slowQueries?: { query: string; calls: number; meanMs: number; totalMs: number }[];
}

export async function maintain(db: Queryable, o: MaintainOptions): Promise<MaintainResult> {
  const t0 = performance.now();
  if (o.vacuum) await db.query('VACUUM (ANALYZE)');
  else if (o.analyze) await db.query('ANALYZE');
  const unused = await db.query<{ table: string; index: string }>(
    `SELECT s.schemaname || '.' || s.relname AS table, s.indexrelname AS index
       FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid
      WHERE s.idx_scan = 0 AND NOT i.indisunique AND NOT i.indisprimary
      ORDER BY 1, 2`,
  );
  const bloat = await db.query<{ table: string; pct: string; dead: string }>(
    `SELECT schemaname || '.' || relname AS table,
            round(n_dead_tup * 100.0 / (n_live_tup + n_dead_tup), 2) AS pct, n_dead_tup AS dead
       FROM pg_stat_user_tables
      WHERE n_live_tup + n_dead_tup > 0 AND n_dead_tup::float8 / (n_live_tup + n_dead_tup) > $1
      ORDER BY 2 DESC`,
    [o.deadTupleRatio],
  );
  const pss = await db.query<{ ok: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements') AS ok",
  );
  let slowQueries: MaintainResult['slowQueries'];
  if (pss.rows[0]?.ok) {
    const slow = await db.query<{ query: string; calls: string; mean: number; total: number }>(
      `SELECT left(query, 500) AS query, calls, mean_exec_time AS mean, total_exec_time AS total
         FROM pg_stat_statements
        WHERE mean_exec_time > $1 AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
        ORDER BY total_exec_time DESC LIMIT 20`,
      [o.slowQueryMs],
    );
    slowQueries = slow.rows.map((r) => ({
      query: r.query,
      calls: Number(r.calls),
      meanMs: Number(r.mean),
      totalMs: Number(r.total),
    }));
  }
  return {
    analyzed: o.analyze || o.vacuum,
    vacuumed: o.vacuum,
    ms: Math.round(performance.now() - t0),
    unusedIndexes: unused.rows,
    bloat: bloat.rows.map((r) => ({
      table: r.table,
      deadTuplePercent: Number(r.pct),
      deadTuples: Number(r.dead),
    })),
    ...(slowQueries ? { slowQueries } : {}),
  };
}
