/**
 * Rollover: keeps a time-partitioned table's partitions ahead of time and its old data within
 * retention, for both kinds of table the operator manages.
 *
 * - Natively partitioned (range on a date or timestamp column): creates the partitions from the
 *   current period through `premake` periods ahead (each gets the parent's partitioned indexes),
 *   and detaches and drops partitions that lie wholly before the retention cutoff, after checking
 *   that they hold no row at or after it. Periods are any "N minute|hour|day|week|month|year"
 *   (or daily/weekly/monthly/yearly), aligned in UTC: months to January, weeks to Monday.
 * - TimescaleDB hypertable: chunks are made on insert, so nothing is created; chunks wholly
 *   older than the cutoff are dropped with drop_chunks (Apache-licensed, so this also does the
 *   retention an Apache-only build has no policy for), and chunks older than `compressAfter` are
 *   compressed, which needs the TSL license: an Apache-only build reports it skipped.
 *
 * Idempotent; a dry run returns the same plan without changing anything. `now` can be set, for
 * tests and replays; `since` also makes the partitions from that date on (backfill).
 */
import { JobError } from './errors.ts';
import { type Queryable, quoteIdent, quoteQualified } from './queryable.ts';

export interface RolloverSpec {
  table: string; // schema.table
  column: string;
  /** daily | weekly | monthly | yearly, or "N minute|hour|day|week|month|year(s)". */
  interval: string;
  premake: number;
  /** A PostgreSQL interval: partitions/chunks wholly older than now - retention are dropped. */
  retention?: string;
  /** Hypertables: compress chunks wholly older than now - compressAfter (TSL only). */
  compressAfter?: string;
}

export interface PartitionRange {
  name: string;
  from: string; // inclusive, as a literal of the key's type
  to: string; // exclusive
}

export interface RolloverPlan {
  table: string;
  kind: 'partitioned' | 'hypertable';
  create: PartitionRange[];
  drop: PartitionRange[];
  compress?: PartitionRange[];
  kept: number;
  cutoff?: string;
  /** What was asked for and cannot be done on this server, and why. */
  skipped?: string[];
}

export type RolloverReason =
  | 'NotPartitioned'
  | 'InvalidInterval'
  | 'Overlap'
  | 'TooManyPartitions'
  | 'UnsafeDrop'
  | 'RolloverFailed';

export class RolloverError extends JobError<RolloverReason> {}

/** A partition period: whole months (calendar) or a fixed length in milliseconds. */
export type Step = { months: number } | { ms: number };
export type KeyType = 'date' | 'timestamp' | 'timestamptz';

const DAY = 86_400_000;
const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: DAY, week: 7 * DAY };
const KEYWORDS: Record<string, string> = {
  daily: '1 day',
  weekly: '1 week',
  monthly: '1 month',
  yearly: '1 year',
};
/** A guard against a runaway backfill (a year of hourly partitions is 8,760). */
export const MAX_PARTITIONS_PER_RUN = 1000;
/** Fixed-length periods are counted from a Monday, so weekly partitions are ISO weeks. */
const ORIGIN = Date.UTC(2000, 0, 3);

export function parseStep(interval: string): Step {
  const m = /^([1-9][0-9]{0,4}) (minute|hour|day|week|month|year)s?$/.exec(KEYWORDS[interval] ?? interval);
  if (!m) throw new RolloverError('InvalidInterval', `"${interval}" is not a partition interval`);
  const n = Number(m[1]);
  if (m[2] === 'month') return { months: n };
  if (m[2] === 'year') return { months: 12 * n };
  return { ms: n * UNIT_MS[m[2]!]! };
}

/** The start (ms since the epoch, UTC) of the period holding `t`, moved `n` periods on. */
export function periodStart(t: number, step: Step, n = 0): number {
  if ('ms' in step) return ORIGIN + (Math.floor((t - ORIGIN) / step.ms) + n) * step.ms;
  const d = new Date(t);
  const index = Math.floor((d.getUTCFullYear() * 12 + d.getUTCMonth()) / step.months + n) * step.months;
  return Date.UTC(Math.floor(index / 12), index % 12, 1);
}

const pad = (n: number, w = 2) => String(n).padStart(w, '0');

/** rel_2026 (yearly), rel_2026_03 (months), rel_p20260302 (days, weeks), rel_p20260302_0600. */
export function partitionName(table: string, from: number, step: Step): string {
  const rel = table.split('.')[1]!;
  const d = new Date(from);
  const ymd = `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}`;
  const suffix =
    'months' in step
      ? step.months % 12 === 0
        ? `${d.getUTCFullYear()}`
        : `${d.getUTCFullYear()}_${pad(d.getUTCMonth() + 1)}`
      : step.ms % DAY === 0
        ? `p${ymd}`
        : `p${ymd}_${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}`;
  return `${rel.slice(0, 62 - suffix.length)}_${suffix}`;
}

/** A bound as PostgreSQL reads it for the key's type, in UTC. */
export function literal(ms: number, type: KeyType): string {
  const iso = new Date(ms).toISOString();
  if (type === 'date') return iso.slice(0, 10);
  const ts = `${iso.slice(0, 10)} ${iso.slice(11, 19)}`;
  return type === 'timestamptz' ? `${ts}+00` : ts;
}

/** Reads a bound literal as pg_get_expr prints it (timestamptz in the session's time zone). */
export function boundMs(lit: string, type: KeyType): number | undefined {
  let s = lit.replace(' ', 'T');
  if (type === 'date') s += 'T00:00:00Z';
  else if (type === 'timestamp') s += 'Z';
  else s = s.replace(/([+-]\d{2})$/, '$1:00');
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? undefined : ms;
}

/** "FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')" → its range; DEFAULT, MINVALUE… → undefined. */
export function parseBound(expr: string, type: KeyType): { from: number; to: number } | undefined {
  const m = /FROM \('([^']+)'\) TO \('([^']+)'\)/.exec(expr);
  if (!m) return undefined;
  const from = boundMs(m[1]!, type);
  const to = boundMs(m[2]!, type);
  return from === undefined || to === undefined ? undefined : { from, to };
}

/** The partitions that should exist at `now`: from the period of `since` (or now) to `premake` after now. */
export function wantedPartitions(
  spec: Pick<RolloverSpec, 'table' | 'premake'>,
  step: Step,
  type: KeyType,
  now: number,
  since = now,
  max = MAX_PARTITIONS_PER_RUN,
): PartitionRange[] {
  const out: PartitionRange[] = [];
  const last = periodStart(now, step, spec.premake);
  const first = periodStart(Math.min(since, now), step);
  // Fixed periods count exactly; months roughly (31 days): enough to refuse a runaway backfill.
  const count = Math.ceil((last - first) / ('ms' in step ? step.ms : step.months * 31 * DAY)) + 1;
  if (count > max) {
    throw new RolloverError(
      'TooManyPartitions',
      `${spec.table}: ${count} partitions from ${literal(first, type)} would be made; at most ${max} in one run`,
    );
  }
  for (let from = first; from <= last; from = periodStart(from, step, 1)) {
    out.push({
      name: partitionName(spec.table, from, step),
      from: literal(from, type),
      to: literal(periodStart(from, step, 1), type),
    });
  }
  return out;
}

const TYPES: Record<string, KeyType> = {
  date: 'date',
  'timestamp without time zone': 'timestamp',
  'timestamp with time zone': 'timestamptz',
};

/** The cutoff `now - interval`, computed by the server in UTC (months and years are calendar ones). */
async function cutoffMs(db: Queryable, now: number, interval: string): Promise<number> {
  const { rows } = await db.query<{ ms: string }>(
    "SELECT (extract(epoch FROM (($1::timestamptz AT TIME ZONE 'UTC') - $2::interval) AT TIME ZONE 'UTC') * 1000)::bigint::text AS ms",
    [new Date(now).toISOString(), interval],
  );
  return Number(rows[0]!.ms);
}

async function hypertableOf(db: Queryable, schema: string, rel: string) {
  const ext = await db.query("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'");
  if (ext.rows.length === 0) return undefined;
  const { rows } = await db.query<{
    compression_enabled: boolean;
    license: string | null;
    time_column: string | null;
  }>(
    `SELECT h.compression_enabled, current_setting('timescaledb.license', true) AS license,
            (SELECT d.column_name FROM timescaledb_information.dimensions d
              WHERE d.hypertable_schema = h.hypertable_schema AND d.hypertable_name = h.hypertable_name
                AND d.dimension_type = 'Time' ORDER BY d.dimension_number LIMIT 1) AS time_column
       FROM timescaledb_information.hypertables h WHERE h.hypertable_schema = $1 AND h.hypertable_name = $2`,
    [schema, rel],
  );
  return rows[0];
}

interface Target {
  type: KeyType;
  hypertable?: { compression: boolean; license: string | null };
}

async function target(db: Queryable, spec: RolloverSpec): Promise<Target> {
  const [schema, rel] = spec.table.split('.') as [string, string];
  const ht = await hypertableOf(db, schema, rel);
  if (ht && ht.time_column !== spec.column) {
    throw new RolloverError(
      'NotPartitioned',
      `${spec.table} is a hypertable on ${ht.time_column ?? 'no time column'}, not on ${spec.column}`,
    );
  }
  const { rows } = await db.query<{ partstrat: string | null; attname: string | null; type: string }>(
    `SELECT pt.partstrat, pa.attname, format_type(a.atttypid, NULL) AS type
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $3 AND NOT a.attisdropped
       LEFT JOIN pg_partitioned_table pt ON pt.partrelid = c.oid
       LEFT JOIN pg_attribute pa ON pa.attrelid = c.oid AND pa.attnum = pt.partattrs[0]
      WHERE n.nspname = $1 AND c.relname = $2`,
    [schema, rel, spec.column],
  );
  const row = rows[0];
  const type = row && TYPES[row.type];
  if (!row) throw new RolloverError('NotPartitioned', `${spec.table}.${spec.column} does not exist`);
  if (!type) {
    throw new RolloverError(
      'NotPartitioned',
      `${spec.table}.${spec.column} is ${row.type}: partitions need a date or timestamp key`,
    );
  }
  if (ht) return { type, hypertable: { compression: ht.compression_enabled, license: ht.license } };
  if (row.partstrat !== 'r' || row.attname !== spec.column) {
    throw new RolloverError(
      'NotPartitioned',
      `${spec.table} is neither partitioned by range on ${spec.column} nor a hypertable`,
    );
  }
  return { type };
}

export interface RolloverOptions {
  now?: Date;
  /** Also make the partitions from this date on (backfill). */
  since?: Date;
  dryRun?: boolean;
  /** At most this many partitions in one run (default MAX_PARTITIONS_PER_RUN). */
  maxPartitions?: number;
}

async function planRollover(db: Queryable, spec: RolloverSpec, t: Target, opts: RolloverOptions) {
  const now = (opts.now ?? new Date()).getTime();
  const step = parseStep(spec.interval);
  const cutoff = spec.retention ? await cutoffMs(db, now, spec.retention) : undefined;
  if (t.hypertable) return planHypertable(db, spec, t, now, cutoff);
  if ('ms' in step && step.ms % DAY !== 0 && t.type === 'date') {
    throw new RolloverError(
      'InvalidInterval',
      `${spec.table}.${spec.column} is a date: "${spec.interval}" is shorter than a day`,
    );
  }
  const wanted = wantedPartitions(spec, step, t.type, now, opts.since?.getTime(), opts.maxPartitions);
  return planPartitions(db, spec, t.type, wanted, cutoff);
}

async function planPartitions(
  db: Queryable,
  spec: RolloverSpec,
  type: KeyType,
  wanted: PartitionRange[],
  cutoff: number | undefined,
): Promise<RolloverPlan> {
  const { rows: parts } = await db.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass ORDER BY 1`,
    [quoteQualified(spec.table)],
  );
  const existing = parts.flatMap((p) => {
    const b = parseBound(p.bound, type);
    return b ? [{ name: p.name, ...b }] : [];
  });
  const create: PartitionRange[] = [];
  for (const w of wanted) {
    const from = boundMs(w.from, type)!;
    const to = boundMs(w.to, type)!;
    if (existing.some((e) => e.from <= from && to <= e.to)) continue;
    const clash = existing.find((e) => e.from < to && from < e.to);
    if (clash) {
      throw new RolloverError(
        'Overlap',
        `${spec.table}: the ${spec.interval} partition ${w.name} [${w.from}, ${w.to}) overlaps the existing partition ${clash.name}`,
      );
    }
    create.push(w);
  }
  // A date key holds whole days: the cutoff is the day it falls in.
  const edge = cutoff === undefined ? undefined : type === 'date' ? Math.floor(cutoff / DAY) * DAY : cutoff;
  const drop =
    edge === undefined
      ? []
      : existing
          .filter((e) => e.to <= edge)
          .map((e) => ({ name: e.name, from: literal(e.from, type), to: literal(e.to, type) }));
  return {
    table: spec.table,
    kind: 'partitioned',
    create,
    drop,
    kept: existing.length - drop.length,
    ...(edge === undefined ? {} : { cutoff: literal(edge, type) }),
  };
}

async function planHypertable(
  db: Queryable,
  spec: RolloverSpec,
  t: Target,
  now: number,
  cutoff: number | undefined,
): Promise<RolloverPlan> {
  const [schema, rel] = spec.table.split('.') as [string, string];
  const { rows } = await db.query<{ name: string; from: string; to: string; compressed: boolean }>(
    `SELECT chunk_schema || '.' || chunk_name AS name, (extract(epoch FROM range_start) * 1000)::bigint::text AS from,
            (extract(epoch FROM range_end) * 1000)::bigint::text AS to, is_compressed AS compressed
       FROM timescaledb_information.chunks WHERE hypertable_schema = $1 AND hypertable_name = $2
      ORDER BY range_start, chunk_name`,
    [schema, rel],
  );
  const chunks = rows.map((c) => ({ ...c, from: Number(c.from), to: Number(c.to) }));
  const range = (c: (typeof chunks)[number]) => ({
    name: c.name,
    from: literal(c.from, t.type),
    to: literal(c.to, t.type),
  });
  const drop = cutoff === undefined ? [] : chunks.filter((c) => c.to <= cutoff);
  const skipped: string[] = [];
  let compress: typeof chunks = [];
  if (spec.compressAfter) {
    const unavailable = compressionUnavailable(t.hypertable!.license);
    if (unavailable) skipped.push(unavailable);
    else {
      const edge = await cutoffMs(db, now, spec.compressAfter);
      compress = chunks.filter((c) => c.to <= edge && !c.compressed && !drop.includes(c));
    }
  }
  return {
    table: spec.table,
    kind: 'hypertable',
    create: [],
    drop: drop.map(range),
    ...(spec.compressAfter ? { compress: compress.map(range) } : {}),
    kept: chunks.length - drop.length,
    ...(cutoff === undefined ? {} : { cutoff: literal(cutoff, t.type) }),
    ...(skipped.length ? { skipped } : {}),
  };
}

/** Why compression cannot run on this build (Apache-only: no TSL), or undefined when it can. */
export function compressionUnavailable(license: string | null): string | undefined {
  return license === 'timescale'
    ? undefined
    : `compression: this TimescaleDB build is ${license ?? 'unlicensed'}; compression needs the TSL (timescale) license`;
}

export async function rollover(
  db: Queryable,
  spec: RolloverSpec,
  opts: RolloverOptions = {},
): Promise<RolloverPlan> {
  const t = await target(db, spec);
  const plan = await planRollover(db, spec, t, opts);
  if (opts.dryRun) return plan;
  return t.hypertable ? applyHypertable(db, spec, t, plan) : applyPartitions(db, spec, plan);
}

async function applyPartitions(db: Queryable, spec: RolloverSpec, plan: RolloverPlan): Promise<RolloverPlan> {
  const [schema] = spec.table.split('.') as [string];
  for (const p of plan.create) {
    await db.query(
      `CREATE TABLE IF NOT EXISTS ${quoteIdent(schema)}.${quoteIdent(p.name)} PARTITION OF ${quoteQualified(spec.table)} FOR VALUES FROM ('${p.from}') TO ('${p.to}')`,
    );
  }
  for (const p of plan.drop) {
    await db.query('BEGIN');
    try {
      // Never drop a row inside the retention window, whatever the bounds say.
      const { rows } = await db.query(
        `SELECT EXISTS (SELECT 1 FROM ${quoteIdent(schema)}.${quoteIdent(p.name)} WHERE ${quoteIdent(spec.column)} >= '${plan.cutoff}') AS inside`,
      );
      if (rows[0].inside)
        throw new RolloverError(
          'UnsafeDrop',
          `${schema}.${p.name} holds rows at or after ${plan.cutoff}: not dropped`,
        );
      await db.query(
        `ALTER TABLE ${quoteQualified(spec.table)} DETACH PARTITION ${quoteIdent(schema)}.${quoteIdent(p.name)}`,
      );
      await db.query(`DROP TABLE ${quoteIdent(schema)}.${quoteIdent(p.name)}`);
      await db.query('COMMIT');
    } catch (e) {
      await db.query('ROLLBACK').catch(() => {});
      throw e;
    }
  }
  return plan;
}

async function applyHypertable(
  db: Queryable,
  spec: RolloverSpec,
  t: Target,
  plan: RolloverPlan,
): Promise<RolloverPlan> {
  if (plan.drop.length) {
    // drop_chunks removes only chunks whose whole range ends at or before older_than; the
    // key types (date, timestamp, timestamptz) are also their SQL names.
    const table = quoteQualified(spec.table).replaceAll("'", "''");
    await db.query(`SELECT drop_chunks('${table}', older_than => '${plan.cutoff}'::${t.type})`);
  }
  if (plan.compress?.length) {
    if (!t.hypertable!.compression) {
      // Segment by the space dimension when there is one (the guide's node_id / user_id).
      const { rows } = await db.query<{ column_name: string }>(
        `SELECT column_name FROM timescaledb_information.dimensions
          WHERE hypertable_schema || '.' || hypertable_name = $1 AND dimension_type = 'Space' ORDER BY dimension_number LIMIT 1`,
        [spec.table],
      );
      const segment = rows[0]
        ? `, timescaledb.compress_segmentby = '${rows[0].column_name.replaceAll("'", "''")}'`
        : '';
      await db.query(`ALTER TABLE ${quoteQualified(spec.table)} SET (timescaledb.compress${segment})`);
    }
    for (const c of plan.compress) {
      await db.query('SELECT compress_chunk($1::regclass, if_not_compressed => true)', [c.name]);
    }
  }
  return plan;
}

/** A partitioned table's partitions after a run, as status shows them (the pg_inherits view). */
export interface PartitionState {
  partitions: number;
  /** The oldest partition kept, and the newest made. */
  oldest?: string;
  newest?: string;
  /** Partitions wholly after now: made ahead of the current one. */
  ahead: number;
}

/** The partitions of `spec.table` now: a hypertable's chunks (timescaledb_information.chunks), or pg_inherits. */
export async function partitionState(
  db: Queryable,
  spec: RolloverSpec,
  now = new Date(),
): Promise<PartitionState | undefined> {
  const t = await target(db, spec);
  if (t.hypertable) {
    const [schema, rel] = spec.table.split('.') as [string, string];
    const { rows } = await db.query<{
      n: number;
      oldest: string | null;
      newest: string | null;
      ahead: number;
    }>(
      `SELECT count(*)::int AS n,
              (array_agg(chunk_name ORDER BY range_start, chunk_name))[1] AS oldest,
              (array_agg(chunk_name ORDER BY range_start DESC, chunk_name DESC))[1] AS newest,
              count(*) FILTER (WHERE range_start > $3)::int AS ahead
         FROM timescaledb_information.chunks WHERE hypertable_schema = $1 AND hypertable_name = $2`,
      [schema, rel, now.toISOString()],
    );
    const r = rows[0]!;
    return {
      partitions: r.n,
      ...(r.oldest ? { oldest: r.oldest } : {}),
      ...(r.newest ? { newest: r.newest } : {}),
      ahead: r.ahead,
    };
  }
  const { rows } = await db.query<{ name: string; bound: string }>(
    `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = $1::regclass`,
    [quoteQualified(spec.table)],
  );
  const parts = rows
    .flatMap((p) => {
      const b = parseBound(p.bound, t.type);
      return b ? [{ name: p.name, ...b }] : [];
    })
    .sort((a, b) => a.from - b.from);
  return {
    partitions: rows.length,
    ...(parts.length ? { oldest: parts[0]!.name, newest: parts.at(-1)!.name } : {}),
    ahead: parts.filter((p) => p.from > now.getTime()).length,
  };
}
