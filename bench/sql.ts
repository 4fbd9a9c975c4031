/**
 * The guide's four benchmark scenarios at scale 1 on the local PostgreSQL 15: p50/p95/p99
 * against the guide's targets, with the guide's indexes and without them (same run, same data).
 *   node bench/sql.ts [scale=1] [iterations=100]     (starts the local data plane if needed)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AS_WRITTEN,
  builtinScenarios,
  runScenario,
  type Scenario,
  type ScenarioResult,
} from '../src/jobs/bench.ts';
import { BUILTIN_DIR, loadMigrationSet, migrate } from '../src/jobs/migrate.ts';
import { withClient } from '../src/jobs/queryable.ts';
import { seed } from '../src/jobs/seed.ts';

const scale = Number(process.argv[2] ?? 1);
const iterations = Number(process.argv[3] ?? 100);
const repo = join(import.meta.dirname, '..');
const envFile = execFileSync('bash', [join(repo, 'hack/dataplane.sh'), 'up'], {
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'ignore'],
})
  .trim()
  .split('\n')
  .pop()!;
const env = Object.fromEntries(
  readFileSync(envFile, 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(/=(.*)/s).slice(0, 2)),
);
const admin = {
  host: '127.0.0.1',
  port: Number(env.HOMEOPS_PG_PORT),
  user: 'postgres',
  password: env.HOMEOPS_PG_SUPERUSER_PASSWORD,
  database: 'postgres',
};
const name = `bench_sql_${Date.now()}`;
await withClient(admin, (c) => c.query(`CREATE DATABASE ${name}`));
const config = { ...admin, database: name };
try {
  const t0 = performance.now();
  await withClient(config, (c) => migrate(c, [loadMigrationSet(BUILTIN_DIR, 'builtin')]));
  const seeded = await withClient(config, (c) => seed(c, { scale, seed: 1 }));
  console.log(
    `schema + seed-data scale ${scale}: ${((performance.now() - t0) / 1000).toFixed(1)} s (seed ${(seeded.ms / 1000).toFixed(1)} s, ${Object.values(seeded.rows).reduce((a, b) => a + b, 0)} rows)`,
  );
  const { scenarios: builtin } = await builtinScenarios(config);
  const asWritten: Scenario[] = builtin
    .filter((s) => AS_WRITTEN[s.name])
    .map((s) => ({ ...s, name: `${s.name} (as written)`, query: AS_WRITTEN[s.name]! }));
  const scenarios = [...builtin, ...asWritten];
  const opts = { iterations, warmup: 10, concurrency: 1, regressionThreshold: 1.5 };
  const withIdx: ScenarioResult[] = [];
  for (const s of scenarios) withIdx.push(await runScenario(config, s, opts));
  // The guide's indexes (and the ones the schema adds for its queries) dropped; keys and uniques stay.
  const dropped = await withClient(config, async (c) => {
    const { rows } = await c.query<{ i: string }>(
      `SELECT quote_ident(n.nspname) || '.' || quote_ident(ci.relname) AS i
         FROM pg_index x JOIN pg_class ci ON ci.oid = x.indexrelid JOIN pg_namespace n ON n.oid = ci.relnamespace
        WHERE ci.relname LIKE 'idx\\_%' AND NOT x.indisunique AND NOT x.indisprimary AND n.nspname <> 'financial' OR ci.relname IN ('idx_transactions_account_date', 'idx_accounts_user', 'idx_positions_portfolio', 'idx_portfolios_user')`,
    );
    for (const r of rows) await c.query(`DROP INDEX IF EXISTS ${r.i}`);
    await c.query('ANALYZE');
    return rows.length;
  });
  const without: ScenarioResult[] = [];
  for (const s of scenarios) without.push(await runScenario(config, s, opts));
  console.log(
    `\n${iterations} iterations after 10 warm-up, one connection, read-only; ${dropped} indexes dropped for the second run\n`,
  );
  console.log(
    'scenario                 target   p50 ms   p95 ms   p99 ms   target/p95   p95 without indexes   without/with',
  );
  for (const [i, r] of withIdx.entries()) {
    const w = without[i]!;
    console.log(
      `${r.name.padEnd(24)} ${String(r.targetMs).padStart(6)} ${r.medianMs.toFixed(2).padStart(8)} ${r.p95Ms.toFixed(2).padStart(8)} ${r.p99Ms.toFixed(2).padStart(8)} ${(r.targetMs / r.p95Ms).toFixed(0).padStart(10)}x ${w.p95Ms.toFixed(2).padStart(20)} ${(w.p95Ms / r.p95Ms).toFixed(1).padStart(13)}x`,
    );
  }
} finally {
  await withClient(admin, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
}
