/**
 * Schema migrations: ordered files `NNNN_name.sql` in sets (the builtin reference schema, then
 * the application's own sets in order), each checksummed with sha256 and recorded in
 * homeops_migrations.applied. A session advisory lock makes concurrent runners take turns. A
 * migration runs all-or-nothing in one transaction, unless its first line says
 * `-- homeops:no-transaction` (needed for CREATE INDEX CONCURRENTLY): then each statement runs
 * alone and must be idempotent. An applied migration whose file changed stops the run, unless
 * its leading comments say `-- homeops:repeatable` (Flyway's repeatable migrations): then a
 * changed file runs again (an index rebuilt with new parameters), and it must be idempotent.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { JobError } from './errors.ts';
import type { Queryable } from './queryable.ts';
import { redactMessage, redactSql, redactSyntaxError } from './redact.ts';
import { SqlSyntaxError, type Statement, splitSql } from './sqlsplit.ts';

export interface Migration {
  set: string;
  version: string;
  name: string;
  file: string;
  sql: string;
  checksum: string;
  transactional: boolean;
  /** Runs again whenever its checksum changes (`-- homeops:repeatable`). */
  repeatable?: boolean;
}

export interface MigrateResult {
  applied: { set: string; version: string; name: string; ms: number; again?: boolean }[];
  alreadyApplied: number;
  /** Per set, its last migration (`VERSION_name`): every set is applied up to it. */
  latest: Record<string, string>;
}

export type MigrationFailure =
  | 'ChecksumMismatch'
  | 'MissingMigration'
  | 'MigrationFailed'
  | 'InvalidMigrationSet'
  /** A TimescaleDB feature of the Timescale License (a continuous aggregate, compression) on an Apache build. */
  | 'TimescaleLicenseRequired';

/** TimescaleDB's refusal of a TSL feature on its Apache build (SQLSTATE 0A000, "... under the current "apache" license"). */
export const isLicenseRefusal = (e: { code?: string; message?: string }) =>
  e.code === '0A000' && /under the current "apache" license/.test(String(e.message));

export class MigrationError extends JobError<MigrationFailure> {
  readonly file?: string;
  readonly line?: number;
  readonly statement?: string;
  constructor(
    reason: MigrationFailure,
    message: string,
    where: { file?: string; line?: number; statement?: string } = {},
  ) {
    super(reason, message);
    Object.assign(this, where);
  }
}

const FILE = /^(\d{4,})_([a-z0-9_]+)\.sql$/;
/** Key of the session advisory lock all runners take (ASCII "HOMEOPSM"). */
export const MIGRATION_LOCK_KEY = 0x484f4d454f50534dn;

export function checksum(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Reads one migration set from a directory; files not named NNNN_name.sql are refused. */
export function loadMigrationSet(dir: string, set: string): Migration[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.sql'))
    .sort();
  const seen = new Set<string>();
  return files.map((f) => {
    const m = FILE.exec(f);
    if (!m)
      throw new MigrationError(
        'InvalidMigrationSet',
        `${join(dir, f)}: migration files are named NNNN_name.sql`,
      );
    if (seen.has(m[1]!))
      throw new MigrationError(
        'InvalidMigrationSet',
        `${join(dir, f)}: version ${m[1]} appears twice in set ${set}`,
      );
    seen.add(m[1]!);
    return migrationOf(set, m[1]!, m[2]!, join(dir, f), readFileSync(join(dir, f), 'utf8'));
  });
}

/** The `homeops:WORD` directives of a script's leading comment lines. */
export function directives(sql: string): Set<string> {
  const out = new Set<string>();
  for (const line of sql.split('\n')) {
    if (!line.startsWith('--')) break;
    const d = /^--\s*homeops:([a-z-]+)\b/.exec(line);
    if (d) out.add(d[1]!);
  }
  return out;
}

export function migrationOf(
  set: string,
  version: string,
  name: string,
  file: string,
  sql: string,
): Migration {
  const d = directives(sql);
  return {
    set,
    version,
    name,
    file,
    sql,
    checksum: checksum(sql),
    transactional: !d.has('no-transaction'),
    ...(d.has('repeatable') ? { repeatable: true } : {}),
  };
}

export const BUILTIN_DIR = join(import.meta.dirname, '..', '..', 'sql', 'builtin');

// One statement each: PGlite (the TimescaleDB stand-in of the tests) takes one per query.
const SETUP = [
  'CREATE SCHEMA IF NOT EXISTS homeops_migrations',
  `CREATE TABLE IF NOT EXISTS homeops_migrations.applied (
    set_name    text NOT NULL,
    version     text NOT NULL,
    name        text NOT NULL,
    checksum    text NOT NULL,
    applied_at  timestamptz NOT NULL DEFAULT now(),
    duration_ms integer NOT NULL,
    PRIMARY KEY (set_name, version)
)`,
];

export async function migrate(client: Queryable, sets: Migration[][]): Promise<MigrateResult> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
  try {
    for (const sql of SETUP) await client.query(sql);
    const { rows } = await client.query<{
      set_name: string;
      version: string;
      name: string;
      checksum: string;
    }>('SELECT set_name, version, name, checksum FROM homeops_migrations.applied');
    const applied = new Map(rows.map((r) => [`${r.set_name}/${r.version}`, r]));
    // Verify everything before changing anything.
    const known = new Set<string>();
    for (const m of sets.flat()) {
      known.add(`${m.set}/${m.version}`);
      const done = applied.get(`${m.set}/${m.version}`);
      if (done && done.checksum !== m.checksum && !m.repeatable) {
        throw new MigrationError(
          'ChecksumMismatch',
          `${m.file} was changed after it was applied (checksum ${m.checksum.slice(0, 12)}, applied ${done.checksum.slice(0, 12)}): restore it and add a new migration instead`,
          { file: m.file },
        );
      }
    }
    const setNames = new Set(sets.flat().map((m) => m.set));
    for (const [key, r] of applied) {
      if (setNames.has(r.set_name) && !known.has(key)) {
        throw new MigrationError(
          'MissingMigration',
          `migration ${key}_${r.name} was applied but is missing from set ${r.set_name}`,
        );
      }
    }
    const result: MigrateResult = {
      applied: [],
      alreadyApplied: 0,
      latest: Object.fromEntries(
        sets
          .filter((set) => set.length)
          .map((set) => [set.at(-1)!.set, `${set.at(-1)!.version}_${set.at(-1)!.name}`]),
      ),
    };
    // Every pending migration parsed before the first one runs: one PostgreSQL cannot parse
    // stops the run with its file and line, and nothing of the run is applied.
    const isPending = (m: Migration) => applied.get(`${m.set}/${m.version}`)?.checksum !== m.checksum;
    const pending = sets.flat().filter(isPending);
    const statements = new Map<Migration, Statement[]>();
    for (const m of pending) statements.set(m, await parseMigration(m));
    result.alreadyApplied = sets.flat().length - pending.length;
    for (const m of pending) {
      const t0 = performance.now();
      await runMigration(client, m, statements.get(m)!);
      const ms = Math.round(performance.now() - t0);
      const again = applied.has(`${m.set}/${m.version}`);
      await client.query(
        `INSERT INTO homeops_migrations.applied (set_name, version, name, checksum, duration_ms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (set_name, version) DO UPDATE SET name = excluded.name, checksum = excluded.checksum,
           applied_at = now(), duration_ms = excluded.duration_ms`,
        [m.set, m.version, m.name, m.checksum, ms],
      );
      result.applied.push({ set: m.set, version: m.version, name: m.name, ms, ...(again ? { again } : {}) });
    }
    return result;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]).catch(() => {});
  }
}

async function parseMigration(m: Migration): Promise<Statement[]> {
  try {
    return await splitSql(m.sql);
  } catch (e) {
    if (!(e instanceof SqlSyntaxError)) throw e;
    throw new MigrationError(
      'MigrationFailed',
      // Every error of PostgreSQL's scanner and grammar is SQLSTATE 42601 (syntax_error).
      `${m.file}:${e.line}: ${redactSyntaxError(e.message, m.sql)} (SQLSTATE 42601, PostgreSQL's parser); nothing of this run was applied`,
      { file: m.file, line: e.line },
    );
  }
}

async function runMigration(client: Queryable, m: Migration, statements: Statement[]): Promise<void> {
  if (m.transactional) await client.query('BEGIN');
  for (const s of statements) {
    try {
      await client.query(s.sql);
    } catch (e) {
      if (m.transactional) await client.query('ROLLBACK').catch(() => {});
      const err = e as { message?: string; code?: string };
      // A password in the statement goes nowhere: not in the report, not in the status.
      throw new MigrationError(
        isLicenseRefusal(err) ? 'TimescaleLicenseRequired' : 'MigrationFailed',
        `${m.file}:${s.line}: ${redactMessage(String(err.message), s.sql)}${err.code ? ` (SQLSTATE ${err.code})` : ''}${isLicenseRefusal(err) ? '; this TimescaleDB is the Apache build: the feature needs the Timescale License (an image with timescaledb-tsl), or a materialized view instead' : ''}${m.transactional ? '; the migration was rolled back' : ''}`,
        { file: m.file, line: s.line, statement: redactSql(s.sql).slice(0, 500) },
      );
    }
  }
  if (m.transactional) await client.query('COMMIT');
}
