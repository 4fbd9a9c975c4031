/** Runs `homeops-operator job ...` as a process against a test database, as a Job pod would. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { dataplane } from './dataplane.ts';

const main = join(import.meta.dirname, '..', '..', 'src', 'main.ts');

export interface JobRun {
  code: number;
  // biome-ignore lint/suspicious/noExplicitAny: the job's JSON output, checked by each test
  out: any;
}

/** libpq environment for the local primary as the superuser, in `database`. */
export function jobEnv(database: string, overrides: Record<string, string> = {}): Record<string, string> {
  const env = dataplane();
  return {
    PGHOST: env.HOMEOPS_PG_HOST!,
    PGPORT: env.HOMEOPS_PG_PORT!,
    PGUSER: 'postgres',
    PGPASSWORD: env.HOMEOPS_PG_SUPERUSER_PASSWORD!,
    PGDATABASE: database,
    HOMEOPS_TERMINATION_LOG: '/dev/null',
    ...overrides,
  };
}

export async function runJobCli(args: string[], env: Record<string, string>): Promise<JobRun> {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, [main, 'job', ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, out: JSON.parse(stdout) };
  } catch (e) {
    const err = e as { code: number; stdout: string };
    return { code: err.code, out: err.stdout ? JSON.parse(err.stdout) : undefined };
  }
}
