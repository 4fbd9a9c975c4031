/**
 * `homeops-operator job <name> [flags]`: the job runner that the operator's Jobs run. It
 * connects with libpq's environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, or
 * PGPASSWORD_FILE for a mounted Secret), prints one JSON result on stdout, writes a compact
 * summary (< 4 KiB) to the termination-message file, and exits 0 on success, 1 on failure,
 * 2 on invalid input.
 */

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type pg from 'pg';
import { type ZodType, z } from 'zod';
import { INTERVAL_PATTERN } from '../api/v1alpha1/common.ts';
import {
  aggregate,
  benchmarkScenario,
  benchmarksSpec,
  hypertable,
  maintenanceSpec,
  monitoringSpec,
  partitionedTable,
} from '../api/v1alpha1/homeopsdatabase.ts';
import { repositoryReason } from '../common/pgbackrest.ts';
import { pgbackrestCommand } from '../controllers/homeopsdatabase/backup.ts';
import { STANZA } from '../controllers/homeopsdatabase/names.ts';
import { BackupError, inClusterExec, type PodExec, runBackup } from './backup.ts';
import { builtinScenarios, runScenario, type Scenario } from './bench.ts';
import { embeddingsFlagSchema, embeddingsMigrations } from './embeddings.ts';
import { failureReason } from './errors.ts';
import { maintain } from './maintain.ts';
import { BUILTIN_DIR, loadMigrationSet, type Migration, MigrationError, migrate } from './migrate.ts';
import { withClient } from './queryable.ts';
import { refresh } from './refresh.ts';
import { partitionState, rollover } from './rollover.ts';
import { seed } from './seed.ts';

export const EXIT = { ok: 0, failed: 1, invalid: 2 } as const;

const USAGE = `usage: homeops-operator job <job> [flags]

jobs:
  migrate [--no-builtin] [--embeddings=JSON] [--set=NAME:DIR ...]   the builtin schema, the embeddings set
          (JSON: spec.embeddings), then each set in order
  rollover --tables-json=[{table,column,interval,premake,retention}...]   every table, one result each
  rollover --table=S.T --column=C [--interval=yearly|monthly|weekly|daily|INTERVAL] [--premake=N]
           [--retention=INTERVAL] [--compress-after=INTERVAL] [--since=YYYY-MM-DD] [--dry-run]
  refresh --aggregates-json=[{name,startOffset,endOffset,concurrently}...]   every view, one result each
  refresh --name=S.V [--start-offset=INTERVAL] [--end-offset=INTERVAL] [--concurrently=false]
  maintain [--analyze=false] [--vacuum=false] [--slow-query-ms=N] [--dead-tuple-ratio=R]
  bench [--builtin=false] [--embeddings=JSON] [--iterations=N] [--warmup=N] [--concurrency=N] [--regression-threshold=F]
        [--scenarios-file=JSON] [--scenarios-json=[...]] [--baseline-file=JSON]   (JSON: [{name,query,params,targetMs}], {name: {p95Ms}})
  backup --type=full|diff|incr --namespace=NS --pod=POD   pgBackRest in the pod's postgres container (exec API)
  seed-data [--scale=1] [--seed=1] [--today=YYYY-MM-DD]   deterministic synthetic household data
`;

interface JobOutput {
  job: string;
  ok: boolean;
  reason?: string;
  message?: string;
  [key: string]: unknown;
}

function flags(argv: string[]): { values: Map<string, string[]>; bad: string[] } {
  const values = new Map<string, string[]>();
  const bad: string[] = [];
  for (const a of argv) {
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(a);
    if (!m) bad.push(a);
    else values.set(m[1]!, [...(values.get(m[1]!) ?? []), m[2] ?? 'true']);
  }
  return { values, bad };
}

export function connectionConfig(env: NodeJS.ProcessEnv = process.env): pg.ClientConfig {
  const password = env.PGPASSWORD_FILE ? readFileSync(env.PGPASSWORD_FILE, 'utf8').trim() : env.PGPASSWORD;
  return { password, application_name: 'homeops-job', connectionTimeoutMillis: 10_000 };
}

/** The summary for the pod's termination message: the result, cut to fit 4 KiB. */
export function terminationSummary(out: JobOutput): string {
  let text = JSON.stringify(out);
  if (Buffer.byteLength(text) <= 4000) return text;
  // Too long (a long list of applied migrations): the small fields stay, whole.
  const { job, ok, reason, message } = out;
  const small = Object.fromEntries(
    Object.entries(out).filter(([k, v]) => k !== 'message' && JSON.stringify(v).length <= 512),
  );
  text = JSON.stringify({ ...small, job, ok, reason, message: message?.slice(0, 2000), truncated: true });
  return text.slice(0, 4000);
}

function finish(out: JobOutput, code: number): number {
  process.stdout.write(`${JSON.stringify(out)}\n`);
  const path = process.env.HOMEOPS_TERMINATION_LOG ?? '/dev/termination-log';
  if (process.env.HOMEOPS_TERMINATION_LOG || existsSync(path)) {
    try {
      writeFileSync(path, terminationSummary(out));
    } catch {
      // not in a pod: nothing to write
    }
  }
  return code;
}

async function runMigrate(argv: string[]): Promise<number> {
  const { values, bad } = flags(argv);
  const unknown = [...values.keys()].filter((k) => !['no-builtin', 'set', 'embeddings'].includes(k));
  if (bad.length || unknown.length) {
    return finish(
      {
        job: 'migrate',
        ok: false,
        reason: 'InvalidInput',
        message: `unknown arguments: ${[...bad, ...unknown.map((k) => `--${k}`)].join(' ')}`,
      },
      EXIT.invalid,
    );
  }
  let sets: Migration[][];
  try {
    sets = values.has('no-builtin') ? [] : [loadMigrationSet(BUILTIN_DIR, 'builtin')];
    const embeddings = values.get('embeddings')?.at(-1);
    if (embeddings !== undefined) sets.push(embeddingsMigrations(parseEmbeddings(embeddings)));
    for (const spec of values.get('set') ?? []) {
      const m = /^([a-z0-9][a-z0-9-]*):(.+)$/.exec(spec);
      if (!m) throw new MigrationError('InvalidMigrationSet', `--set=${spec}: expected NAME:DIR`);
      if (m[1] === 'builtin' || m[1] === 'embeddings')
        throw new MigrationError('InvalidMigrationSet', `--set: the name ${m[1]} is reserved`);
      sets.push(loadMigrationSet(m[2]!, m[1]!));
    }
  } catch (e) {
    return finish(
      { job: 'migrate', ok: false, reason: 'InvalidInput', message: (e as Error).message },
      EXIT.invalid,
    );
  }
  return withConnection('migrate', async (c) => ({ ...(await migrate(c, sets)) }));
}

function parseEmbeddings(json: string) {
  try {
    return embeddingsFlagSchema.parse(JSON.parse(json));
  } catch (e) {
    throw new MigrationError('InvalidMigrationSet', `--embeddings: ${(e as Error).message}`.slice(0, 2000));
  }
}

/** Runs `fn` on one connection, turning its outcome into the job's output and exit code. */
async function withConnection(
  job: string,
  fn: (c: pg.Client) => Promise<Record<string, unknown>>,
): Promise<number> {
  try {
    return finish({ job, ok: true, ...(await withClient(connectionConfig(), fn)) }, EXIT.ok);
  } catch (e) {
    // A failed migration says where: file, line and statement.
    const where = e instanceof MigrationError ? { file: e.file, line: e.line, statement: e.statement } : {};
    return finish(
      { job, ok: false, reason: failureReason(e), message: (e as Error).message, ...where },
      EXIT.failed,
    );
  }
}

// The flags of spec.partitioning.tables[] (an interval keyword) and of a time-series table of
// spec.timeseries.hypertables[] (an interval, compressAfter): one definition of what is valid.
const rolloverFlags = partitionedTable
  .extend({
    interval: z
      .string()
      .regex(
        new RegExp(`^(${partitionedTable.shape.interval.unwrap().options.join('|')})$|${INTERVAL_PATTERN}`),
        'must be daily, weekly, monthly, yearly or an interval such as "1 day" or "6 hours"',
      )
      .default('yearly'),
    compressAfter: hypertable.shape.compressAfter,
    since: z.iso.date().optional(),
    dryRun: z.boolean().default(false),
  })
  .strict();

/**
 * A job over a list from the spec in one run (the operator's CronJobs: every table of
 * spec.partitioning.tables, every aggregate of one schedule): each item on its own, and a
 * compact result per item; the run fails (exit 1) when one did, after all were tried.
 */
async function runEach<S extends ZodType>(
  job: string,
  flag: string,
  json: string,
  schema: S,
  label: (item: z.infer<S>) => string,
  fn: (c: pg.Client, item: z.infer<S>) => Promise<Record<string, unknown>>,
): Promise<number> {
  let items: z.infer<S>[];
  try {
    items = z.array(schema).min(1).parse(JSON.parse(json));
  } catch (e) {
    return finish(
      {
        job,
        ok: false,
        reason: 'InvalidInput',
        message: `--${flag}: ${(e as Error).message}`.slice(0, 2000),
      },
      EXIT.invalid,
    );
  }
  const results: Record<string, unknown>[] = [];
  try {
    await withClient(connectionConfig(), async (c) => {
      for (const item of items) {
        try {
          results.push({ name: label(item), ok: true, ...(await fn(c, item)) });
        } catch (e) {
          results.push({
            name: label(item),
            ok: false,
            reason: failureReason(e),
            message: (e as Error).message.slice(0, 300),
          });
        }
      }
    });
  } catch (e) {
    return finish({ job, ok: false, reason: failureReason(e), message: (e as Error).message }, EXIT.failed);
  }
  const failed = results.filter((r) => !r.ok);
  return finish(
    {
      job,
      ok: failed.length === 0,
      ...(failed.length
        ? {
            reason: String(failed[0]!.reason),
            message: failed.map((f) => `${f.name}: ${f.message}`).join('; '),
          }
        : {}),
      results,
    },
    failed.length ? EXIT.failed : EXIT.ok,
  );
}

async function runRollover(argv: string[]): Promise<number> {
  const all = argv.find((a) => a.startsWith('--tables-json='));
  if (all && argv.length === 1)
    return runEach(
      'rollover',
      'tables-json',
      all.slice('--tables-json='.length),
      rolloverFlags.omit({ since: true, dryRun: true }),
      (t) => t.table,
      async (c, t) => {
        const plan = await rollover(c, t);
        return {
          kind: plan.kind,
          created: plan.create.length,
          dropped: plan.drop.length,
          ...(plan.compress ? { compressed: plan.compress.length } : {}),
          ...(plan.skipped ? { skipped: plan.skipped } : {}),
          ...(await partitionState(c, t)),
        };
      },
    );
  const p = parseFlags('rollover', argv, rolloverFlags, ['premake']);
  if (p.error !== undefined) return p.error;
  const { dryRun, since, ...spec } = p.data;
  return withConnection('rollover', async (c) => ({
    plan: await rollover(c, spec, { dryRun, ...(since ? { since: new Date(`${since}T00:00:00Z`) } : {}) }),
    dryRun,
  }));
}

/** Parses flags into an object for a zod schema of the API (kebab-case flags, camelCase fields). */
function parseFlags<S extends ZodType>(job: string, argv: string[], schema: S, numeric: string[] = []) {
  const { values, bad } = flags(argv);
  const raw: Record<string, unknown> = {};
  for (const [k, v] of values) {
    const key = k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const last = v.at(-1)!;
    raw[key] = numeric.includes(key)
      ? Number(last)
      : last === 'true'
        ? true
        : last === 'false'
          ? false
          : last;
  }
  const parsed = schema.safeParse(raw);
  const problems = [
    ...bad,
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `--${String(i.path[0] ?? '')}: ${i.message}`)),
  ];
  if (problems.length || !parsed.success) {
    return {
      error: finish({ job, ok: false, reason: 'InvalidInput', message: problems.join('; ') }, EXIT.invalid),
    };
  }
  return { data: parsed.data as z.infer<S> };
}

async function runRefresh(argv: string[]): Promise<number> {
  const all = argv.find((a) => a.startsWith('--aggregates-json='));
  if (all && argv.length === 1)
    return runEach(
      'refresh',
      'aggregates-json',
      all.slice('--aggregates-json='.length),
      aggregate.omit({ schedule: true }),
      (a) => a.name,
      async (c, a) => {
        const r = await refresh(c, a);
        return { result: r };
      },
    );
  const p = parseFlags('refresh', argv, aggregate.omit({ schedule: true }).strict());
  if (p.error !== undefined) return p.error;
  const target = p.data;
  return withConnection('refresh', async (c) => ({ result: await refresh(c, target) }));
}

async function runMaintain(argv: string[]): Promise<number> {
  const schema = maintenanceSpec
    .omit({ schedule: true })
    .extend({
      slowQueryMs: monitoringSpec.shape.slowQueryMs,
      deadTupleRatio: monitoringSpec.shape.deadTupleRatio,
    })
    .strict();
  const p = parseFlags('maintain', argv, schema, ['slowQueryMs', 'deadTupleRatio']);
  if (p.error !== undefined) return p.error;
  const opts = p.data;
  return withConnection('maintain', async (c) => ({ result: await maintain(c, opts) }));
}

async function runBench(argv: string[]): Promise<number> {
  const schema = benchmarksSpec
    .omit({ schedule: true, scenarios: true })
    .extend({
      scenariosFile: z.string().optional(),
      scenariosJson: z.string().optional(),
      baselineFile: z.string().optional(),
      embeddings: z.string().optional(),
    })
    .strict();
  const p = parseFlags('bench', argv, schema, ['iterations', 'warmup', 'concurrency', 'regressionThreshold']);
  if (p.error !== undefined) return p.error;
  const o = p.data;
  let custom: Scenario[] = [];
  let baseline: Record<string, { p95Ms: number }> | undefined;
  let embeddings: ReturnType<typeof parseEmbeddings> | undefined;
  try {
    if (o.embeddings !== undefined) embeddings = parseEmbeddings(o.embeddings);
    if (o.scenariosFile)
      custom = z.array(benchmarkScenario).parse(JSON.parse(readFileSync(o.scenariosFile, 'utf8')));
    if (o.scenariosJson)
      custom = [...custom, ...z.array(benchmarkScenario).parse(JSON.parse(o.scenariosJson))];
    if (o.baselineFile) {
      baseline = z
        .record(z.string(), z.object({ p95Ms: z.number().positive() }).loose())
        .parse(JSON.parse(readFileSync(o.baselineFile, 'utf8')));
    }
  } catch (e) {
    return finish(
      { job: 'bench', ok: false, reason: 'InvalidInput', message: (e as Error).message.slice(0, 2000) },
      EXIT.invalid,
    );
  }
  const config = connectionConfig();
  try {
    const builtin = o.builtin ? await builtinScenarios(config, embeddings) : { scenarios: [], skipped: [] };
    const results = [];
    for (const s of [...builtin.scenarios, ...custom])
      results.push(await runScenario(config, s, { ...o, baseline }));
    const passed = results.every((r) => r.passed && !r.regression);
    return finish({ job: 'bench', ok: true, passed, results, skipped: builtin.skipped }, EXIT.ok);
  } catch (e) {
    return finish(
      { job: 'bench', ok: false, reason: failureReason(e), message: (e as Error).message },
      EXIT.failed,
    );
  }
}

async function runSeed(argv: string[]): Promise<number> {
  const schema = z
    .object({
      scale: z.number().positive().max(100).default(1),
      seed: z.number().int().min(0).default(1),
      today: z.iso.date().optional(),
    })
    .strict();
  const p = parseFlags('seed-data', argv, schema, ['scale', 'seed']);
  if (p.error !== undefined) return p.error;
  const o = p.data;
  return withConnection('seed-data', async (c) => ({ result: await seed(c, o) }));
}

const backupFlags = z
  .object({
    type: z.enum(['full', 'diff', 'incr']),
    namespace: z.string().min(1).max(63),
    pod: z.string().min(1).max(253),
  })
  .strict();

/** `job backup`: the backup, and what the repository holds after it. `exec` is for tests. */
export async function runBackupJob(argv: string[], exec?: PodExec): Promise<number> {
  const { values, bad } = flags(argv);
  const parsed = backupFlags.safeParse(Object.fromEntries([...values].map(([k, v]) => [k, v.at(-1)])));
  if (bad.length || !parsed.success)
    return finish(
      {
        job: 'backup',
        ok: false,
        reason: 'InvalidInput',
        message: bad.length ? `unknown arguments: ${bad.join(' ')}` : parsed.error!.message.slice(0, 2000),
      },
      EXIT.invalid,
    );
  const o = parsed.data;
  try {
    const run = exec ?? (await inClusterExec(o.namespace, o.pod, 'postgres'));
    return finish(
      { job: 'backup', ok: true, ...(await runBackup(run, pgbackrestCommand(), STANZA, o.type)) },
      EXIT.ok,
    );
  } catch (e) {
    const reason = repositoryReason(
      (e as Error).message,
      e instanceof BackupError ? e.reason : 'BackupFailed',
    );
    return finish(
      { job: 'backup', ok: false, reason, message: (e as Error).message.slice(0, 2000) },
      EXIT.failed,
    );
  }
}

export async function runJob(argv: string[]): Promise<number> {
  const [job, ...rest] = argv;
  switch (job) {
    case 'migrate':
      return runMigrate(rest);
    case 'rollover':
      return runRollover(rest);
    case 'refresh':
      return runRefresh(rest);
    case 'maintain':
      return runMaintain(rest);
    case 'bench':
      return runBench(rest);
    case 'seed-data':
      return runSeed(rest);
    case 'backup':
      return runBackupJob(rest);
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`${job ? `unknown job "${job}"\n` : ''}${USAGE}`);
      return EXIT.invalid;
  }
}
