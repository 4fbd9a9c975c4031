/**
 * Partition rollover for natively partitioned tables (range on a date or timestamp column):
 * creates the partitions from the current period through `premake` periods ahead (each gets the
 * parent's partitioned indexes), and detaches and drops partitions that lie entirely before the
 * retention cutoff, after checking that they hold no row at or after it. Idempotent; a dry run
 * returns the same plan without changing anything. `now` can be set, for tests and for replays.
 */
import type pg from 'pg';

export interface PartitionSpec {
  table: string; // schema.table
  column: string;
  interval: 'monthly' | 'yearly';
  premake: number;
  retention?: string; // a PostgreSQL interval, e.g. "7 years"
}

export interface PartitionRange {
  name: string;
  from: string; // YYYY-MM-DD, inclusive
  to: string; // exclusive
}

export interface RolloverPlan {
  table: string;
  create: PartitionRange[];
  drop: PartitionRange[];
  kept: number;
  cutoff?: string;
}

export class RolloverError extends Error {
  readonly reason: 'NotPartitioned' | 'UnsafeDrop' | 'RolloverFailed';
  constructor(reason: RolloverError['reason'], message: string) {
    super(message);
    this.name = 'RolloverError';
    this.reason = reason;
  }
}

const ymd = (d: Date) => d.toISOString().slice(0, 10);

/** The start of the period holding `d` (UTC), and the start of the period `n` after it. */
export function periodStart(d: Date, interval: PartitionSpec['interval'], n = 0): Date {
  return interval === 'yearly'
    ? new Date(Date.UTC(d.getUTCFullYear() + n, 0, 1))
    : new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + n, 1));
}

export function partitionName(table: string, from: Date, interval: PartitionSpec['interval']): string {
  const rel = table.split('.')[1]!;
  const y = from.getUTCFullYear();
  return interval === 'yearly'
    ? `${rel}_${y}`
    : `${rel}_${y}_${String(from.getUTCMonth() + 1).padStart(2, '0')}`;
}

/** The partitions that should exist at `now`: the current period and `premake` after it. */
export function wantedPartitions(spec: PartitionSpec, now: Date): PartitionRange[] {
  return Array.from({ length: spec.premake + 1 }, (_, i) => {
    const from = periodStart(now, spec.interval, i);
    return {
      name: partitionName(spec.table, from, spec.interval),
      from: ymd(from),
      to: ymd(periodStart(from, spec.interval, 1)),
    };
  });
}

/** Reads "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')" (dates or timestamps). */
export function parseBound(expr: string): { from: string; to: string } | undefined {
  const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(expr);
  return m ? { from: m[1]!.slice(0, 10), to: m[2]!.slice(0, 10) } : undefined;
}

const q = (ident: string) => `"${ident.replaceAll('"', '""')}"`;
const qualified = (table: string) => table.split('.').map(q).join('.');

export async function planRollover(client: pg.Client, spec: PartitionSpec, now: Date): Promise<RolloverPlan> {
  const [schema, rel] = spec.table.split('.') as [string, string];
  const { rows: keyRows } = await client.query(
    `SELECT pt.partstrat, a.attname
       FROM pg_partitioned_table pt
       JOIN pg_class c ON c.oid = pt.partrelid JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, rel],
  );
  if (keyRows.length === 0 || keyRows[0].partstrat !== 'r' || keyRows[0].attname !== spec.column) {
    throw new RolloverError('NotPartitioned', `${spec.table} is not partitioned by range on ${spec.column}`);
  }
  const { rows: parts } = await client.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass ORDER BY 1`,
    [spec.table],
  );
  const existing = parts.flatMap((p) => {
    const b = parseBound(p.bound);
    return b ? [{ name: p.name, ...b }] : [];
  });
  const create = wantedPartitions(spec, now).filter(
    (w) => !existing.some((e) => e.from <= w.from && w.to <= e.to),
  );
  let drop: PartitionRange[] = [];
  let cutoff: string | undefined;
  if (spec.retention) {
    const { rows } = await client.query<{ cutoff: string }>(
      "SELECT (($1::timestamptz AT TIME ZONE 'UTC') - $2::interval)::date::text AS cutoff",
      [now.toISOString(), spec.retention],
    );
    cutoff = rows[0]!.cutoff;
    drop = existing.filter((e) => e.to <= cutoff!);
  }
  return {
    table: spec.table,
    create,
    drop,
    kept: existing.length - drop.length,
    ...(cutoff ? { cutoff } : {}),
  };
}

export async function rollover(
  client: pg.Client,
  spec: PartitionSpec,
  opts: { now?: Date; dryRun?: boolean } = {},
): Promise<RolloverPlan> {
  const plan = await planRollover(client, spec, opts.now ?? new Date());
  if (opts.dryRun) return plan;
  const [schema] = spec.table.split('.') as [string];
  for (const p of plan.create) {
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${q(schema)}.${q(p.name)} PARTITION OF ${qualified(spec.table)} FOR VALUES FROM ('${p.from}') TO ('${p.to}')`,
    );
  }
  for (const p of plan.drop) {
    await client.query('BEGIN');
    try {
      // Never drop a row inside the retention window, whatever the bounds say.
      const { rows } = await client.query(
        `SELECT EXISTS (SELECT 1 FROM ${q(schema)}.${q(p.name)} WHERE ${q(spec.column)} >= $1::date) AS inside`,
        [plan.cutoff],
      );
      if (rows[0].inside)
        throw new RolloverError(
          'UnsafeDrop',
          `${schema}.${p.name} holds rows at or after ${plan.cutoff}: not dropped`,
        );
      await client.query(`ALTER TABLE ${qualified(spec.table)} DETACH PARTITION ${q(schema)}.${q(p.name)}`);
      await client.query(`DROP TABLE ${q(schema)}.${q(p.name)}`);
      await client.query('COMMIT');
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw e;
    }
  }
  return plan;
}
