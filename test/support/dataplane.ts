/** Helpers for integration tests against the real local PostgreSQL, PgBouncer and Redis. */
import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { inject } from 'vitest';
import { withClient } from '../../src/jobs/queryable.ts';

export function dataplane() {
  return inject('dataplane');
}

export function superuserConfig(overrides: Partial<pg.ClientConfig> = {}): pg.ClientConfig {
  const env = dataplane();
  return {
    host: env.HOMEOPS_PG_HOST,
    port: Number(env.HOMEOPS_PG_PORT),
    user: env.HOMEOPS_PG_SUPERUSER,
    password: env.HOMEOPS_PG_SUPERUSER_PASSWORD,
    database: 'postgres',
    ...overrides,
  };
}

export { withClient };

/** A database of its own for one test file, on the primary; `cleanup` drops it. */
export async function testDatabase(prefix: string) {
  const name = `${prefix}_${randomBytes(3).toString('hex')}`;
  await withClient(superuserConfig(), (c) => c.query(`CREATE DATABASE ${name}`));
  return {
    name,
    config: superuserConfig({ database: name }),
    cleanup: () =>
      withClient(superuserConfig(), (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)),
  };
}
