/**
 * Query benchmarks: the guide's four scenarios (with parameters drawn from real rows) and
 * custom ones; warm-up, then timed iterations over one or more connections; min, median, mean,
 * p95, p99, max; pass when p95 <= target; regression against a baseline with the guide's factor
 * and severities. Every statement runs in a READ ONLY transaction: a benchmark never
 * changes data.
 */
import pg from 'pg';
import {
  type Embeddings,
  recall,
  SIMILAR_ITEMS_EXACT_QUERY,
  SIMILAR_ITEMS_PARAMS,
  SIMILAR_ITEMS_QUERY,
  similaritySettings,
} from './embeddings.ts';

export interface Scenario {
  name: string;
  query: string;
  params: string[];
  targetMs: number;
  /** Several parameter sets, taken in turn (instead of `params`). */
  paramSets?: string[][];
  /** Settings for each transaction (SET LOCAL), not timed. */
  settings?: Record<string, string>;
  /**
   * The query is approximate (an ANN index) and this is its exact form: each parameter set is
   * run both ways, and the result has recall@10, the share of the exact rows it returned.
   */
  exactQuery?: string;
}

export interface Stats {
  iterations: number;
  minMs: number;
  medianMs: number;
  meanMs: number;
  p95Ms: number;
  p99Ms: number;
  maxMs: number;
}

export interface ScenarioResult extends Stats {
  name: string;
  targetMs: number;
  passed: boolean;
  regression?: { factor: number; severity: 'minor' | 'major' | 'critical'; baselineP95Ms: number };
  recallAt10?: number;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) throw new Error('no samples');
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

export function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return {
    iterations: s.length,
    minMs: s[0]!,
    medianMs: s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2,
    meanMs: s.reduce((a, b) => a + b, 0) / s.length,
    p95Ms: percentile(s, 95),
    p99Ms: percentile(s, 99),
    maxMs: s[s.length - 1]!,
  };
}

/** The guide's PerformanceMonitor: p95 over baseline p95 above the threshold is a regression. */
export function regression(
  p95Ms: number,
  baselineP95Ms: number,
  threshold: number,
): ScenarioResult['regression'] {
  const factor = p95Ms / baselineP95Ms;
  if (!(factor > threshold)) return undefined;
  return { factor, severity: factor > 3 ? 'critical' : factor > 2 ? 'major' : 'minor', baselineP95Ms };
}

/** The guide's scenarios. `$1` is drawn from real rows by `paramQuery` when no params are given. */
export const BUILTIN_SCENARIOS: (Omit<Scenario, 'params'> & { paramQuery: string })[] = [
  {
    name: 'user-authentication',
    query: 'SELECT id, email, role FROM core.users WHERE email = $1 AND is_active = true',
    targetMs: 50,
    paramQuery: 'SELECT email AS p FROM core.users WHERE is_active ORDER BY id LIMIT 1',
  },
  {
    name: 'dashboard-loading',
    query: `SELECT
      (SELECT count(*) FROM core.notifications WHERE user_id = $1 AND is_read = false) AS unread_notifications,
      (SELECT count(*) FROM smart_home.devices WHERE is_online = true) AS online_devices,
      (SELECT sum(balance) FROM financial.accounts WHERE user_id = $1) AS total_balance`,
    targetMs: 200,
    paramQuery: 'SELECT user_id::text AS p FROM financial.accounts ORDER BY id LIMIT 1',
  },
  {
    // C11: the guide's join sorts every transaction of the user before the LIMIT; taking the
    // newest 50 of each account first (an index range per account and partition) gives the same rows.
    name: 'transaction-history',
    query: `SELECT t.*, a.account_name
      FROM financial.accounts a
      CROSS JOIN LATERAL (SELECT * FROM financial.transactions t WHERE t.account_id = a.id
                           ORDER BY t.transaction_date DESC LIMIT 50) t
      WHERE a.user_id = $1 ORDER BY t.transaction_date DESC LIMIT 50`,
    targetMs: 100,
    paramQuery: 'SELECT user_id::text AS p FROM financial.accounts ORDER BY id LIMIT 1',
  },
  {
    // C12: the guide's GROUP BY counts the activity of every item in the library before the
    // LIMIT; taking the newest 100 items first and counting theirs gives the same rows.
    name: 'media-library-browse',
    query: `SELECT i.*, (SELECT count(*) FROM media.user_activity ua WHERE ua.item_id = i.id) AS activity_count
      FROM media.items i
      WHERE i.library_id = $1 ORDER BY i.date_added DESC LIMIT 100`,
    targetMs: 300,
    paramQuery: 'SELECT id::text AS p FROM media.libraries ORDER BY id LIMIT 1',
  },
];

/** The two queries as the guide wrote them, kept to compare with C11 and C12. */
export const AS_WRITTEN: Record<string, string> = {
  'transaction-history': `SELECT t.*, a.account_name
      FROM financial.transactions t JOIN financial.accounts a ON t.account_id = a.id
      WHERE a.user_id = $1 ORDER BY t.transaction_date DESC LIMIT 50`,
  'media-library-browse': `SELECT i.*, count(ua.id) AS activity_count
      FROM media.items i LEFT JOIN media.user_activity ua ON i.id = ua.item_id
      WHERE i.library_id = $1 GROUP BY i.id ORDER BY i.date_added DESC LIMIT 100`,
};

export interface BenchOptions {
  iterations: number;
  warmup: number;
  concurrency: number;
  regressionThreshold: number;
  baseline?: Record<string, { p95Ms: number }>;
}

async function connect(config: pg.ClientConfig): Promise<pg.Client> {
  const c = new pg.Client(config);
  await c.connect();
  return c;
}

/**
 * `fn` in a READ ONLY transaction, so a benchmark never changes data. Per statement, not by a
 * startup option: PgBouncer refuses startup options, and in transaction pooling a session
 * setting would not follow the client from one server connection to the next. Returns the
 * milliseconds `fn` took (BEGIN and COMMIT are not timed).
 */
async function readOnly(
  c: pg.Client,
  fn: () => Promise<unknown>,
  settings: Record<string, string> = {},
): Promise<number> {
  await c.query('BEGIN TRANSACTION READ ONLY');
  try {
    for (const [k, v] of Object.entries(settings)) await c.query('SELECT set_config($1, $2, true)', [k, v]);
    const t0 = process.hrtime.bigint();
    await fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    await c.query('COMMIT');
    return ms;
  } catch (e) {
    await c.query('ROLLBACK').catch(() => {});
    throw e;
  }
}

/** Resolves the builtin scenarios' parameters from the data; a scenario with no data is skipped. */
export async function builtinScenarios(
  config: pg.ClientConfig,
  embeddings?: Pick<Embeddings, 'efSearch' | 'targetMs'>,
): Promise<{ scenarios: Scenario[]; skipped: string[] }> {
  const c = await connect(config);
  try {
    const scenarios: Scenario[] = [];
    const skipped: string[] = [];
    for (const s of BUILTIN_SCENARIOS) {
      let rows: { p: string }[] = [];
      await readOnly(c, async () => {
        rows = (await c.query<{ p: string }>(s.paramQuery)).rows;
      });
      if (rows[0])
        scenarios.push({ name: s.name, query: s.query, targetMs: s.targetMs, params: [rows[0].p] });
      else skipped.push(s.name);
    }
    if (embeddings) {
      // The guide's phase 3: items like a given one, over several items (recall varies by item).
      const name = 'similar-media-items';
      let rows: { p: string }[] = [];
      await readOnly(c, async () => {
        rows = (await c.query<{ p: string }>(SIMILAR_ITEMS_PARAMS)).rows;
      });
      if (rows.length)
        scenarios.push({
          name,
          query: SIMILAR_ITEMS_QUERY,
          params: [rows[0]!.p],
          paramSets: rows.map((r) => [r.p]),
          targetMs: embeddings.targetMs,
          settings: similaritySettings(embeddings.efSearch),
          exactQuery: SIMILAR_ITEMS_EXACT_QUERY,
        });
      else skipped.push(name);
    }
    return { scenarios, skipped };
  } finally {
    await c.end();
  }
}

export async function runScenario(
  config: pg.ClientConfig,
  s: Scenario,
  o: BenchOptions,
): Promise<ScenarioResult> {
  const clients = await Promise.all(Array.from({ length: o.concurrency }, () => connect(config)));
  try {
    const first = clients[0]!;
    const sets = s.paramSets?.length ? s.paramSets : [s.params];
    const run = (c: pg.Client, i: number) =>
      readOnly(c, () => c.query(s.query, sets[i % sets.length]), s.settings);
    for (let i = 0; i < o.warmup; i++) await run(first, i);
    const samples: number[] = [];
    let next = 0;
    await Promise.all(
      clients.map(async (c) => {
        while (next < o.iterations) samples.push(await run(c, next++));
      }),
    );
    const st = stats(samples);
    const recallAt10 = s.exactQuery ? await measureRecall(first, s, s.exactQuery, sets) : undefined;
    const base = o.baseline?.[s.name];
    const reg = base ? regression(st.p95Ms, base.p95Ms, o.regressionThreshold) : undefined;
    return {
      name: s.name,
      targetMs: s.targetMs,
      ...st,
      passed: st.p95Ms <= s.targetMs,
      ...(reg ? { regression: reg } : {}),
      ...(recallAt10 !== undefined ? { recallAt10 } : {}),
    };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}

/**
 * Mean recall of an approximate scenario over its parameter sets: its rows beside the rows of
 * its exact form (first columns compared).
 */
async function measureRecall(
  c: pg.Client,
  s: Scenario,
  exactQuery: string,
  sets: string[][],
): Promise<number | undefined> {
  const values: number[] = [];
  const firsts = (r: pg.QueryResult) => r.rows.map((row) => String(Object.values(row)[0]));
  for (const params of sets) {
    let approx: string[] = [];
    let exact: string[] = [];
    await readOnly(
      c,
      async () => {
        approx = firsts(await c.query(s.query, params));
        exact = firsts(await c.query(exactQuery, params));
      },
      s.settings,
    );
    const r = recall(approx, exact);
    if (r !== undefined) values.push(r);
  }
  return values.length ? Number((values.reduce((a, b) => a + b, 0) / values.length).toFixed(3)) : undefined;
}
