/**
 * Refreshes a continuous aggregate (TimescaleDB) or a materialized view. A continuous aggregate
 * is refreshed over [now - startOffset, now - endOffset] with refresh_continuous_aggregate, which
 * must not run inside a transaction block (the job's connection is in autocommit). A
 * materialized view is refreshed CONCURRENTLY (readers keep reading) when asked and possible:
 * it is populated and has a unique index on plain columns without a WHERE; plainly otherwise.
 */
import { JobError } from './errors.ts';
import { type Queryable, quoteQualified } from './queryable.ts';

export interface RefreshTarget {
  name: string; // schema.view
  startOffset: string;
  endOffset: string;
  concurrently: boolean;
}

export interface RefreshResult {
  name: string;
  kind: 'continuous_aggregate' | 'materialized_view';
  mode: 'window' | 'concurrently' | 'plain';
  ms: number;
  /** Why a CONCURRENTLY refresh was not possible, when it was asked for. */
  note?: string;
}

export class RefreshError extends JobError<'NotFound'> {}

export async function refresh(db: Queryable, t: RefreshTarget): Promise<RefreshResult> {
  const [schema, view] = t.name.split('.') as [string, string];
  const t0 = performance.now();
  const ts = await db.query<{ ok: boolean }>(
    "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb') AS ok",
  );
  if (ts.rows[0]?.ok) {
    const ca = await db.query(
      'SELECT 1 FROM timescaledb_information.continuous_aggregates WHERE view_schema = $1 AND view_name = $2',
      [schema, view],
    );
    if (ca.rows.length) {
      await db.query(
        `CALL refresh_continuous_aggregate('${quoteQualified(t.name).replaceAll("'", "''")}', now() - $1::interval, now() - $2::interval)`,
        [t.startOffset, t.endOffset],
      );
      return {
        name: t.name,
        kind: 'continuous_aggregate',
        mode: 'window',
        ms: Math.round(performance.now() - t0),
      };
    }
  }
  const mv = await db.query<{ populated: boolean; unique_index: boolean }>(
    `SELECT c.relispopulated AS populated,
            EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisunique AND i.indisvalid
                       AND i.indpred IS NULL AND i.indexprs IS NULL) AS unique_index
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind = 'm'`,
    [schema, view],
  );
  const info = mv.rows[0];
  if (!info)
    throw new RefreshError('NotFound', `${t.name} is neither a continuous aggregate nor a materialized view`);
  const canConcurrently = info.populated && info.unique_index;
  const concurrently = t.concurrently && canConcurrently;
  await db.query(`REFRESH MATERIALIZED VIEW ${concurrently ? 'CONCURRENTLY ' : ''}${quoteQualified(t.name)}`);
  const note =
    t.concurrently && !canConcurrently
      ? info.populated
        ? 'no unique index on plain columns: refreshed plainly'
        : 'not populated yet: refreshed plainly'
      : undefined;
  return {
    name: t.name,
    kind: 'materialized_view',
    mode: concurrently ? 'concurrently' : 'plain',
    ms: Math.round(performance.now() - t0),
    ...(note ? { note } : {}),
  };
}
