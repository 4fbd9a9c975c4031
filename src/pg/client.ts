/** The one way the operator opens a PostgreSQL or PgBouncer connection: short-lived, retried. */
import pg from 'pg';
import { classifyPgError, PgError } from './errors.ts';

/** Where to connect: a host name or address and a port. */
export interface Endpoint {
  host: string;
  port: number;
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
}

/** The guide's ResilientDatabaseClient: 3 attempts, 1 s doubling, on connection errors only. */
export const GUIDE_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 1000 };
export const NO_RETRY: RetryPolicy = { attempts: 1, baseDelayMs: 0 };

/**
 * Runs `fn` on a connection of its own, closed afterwards whatever happens. With a retry policy,
 * a failure that classifies as retryable is tried again after baseDelayMs, doubling; the last
 * failure is thrown as a PgError carrying its reason. Without one, errors pass through as thrown
 * (the job runner reports the server's own error, with its SQLSTATE and position).
 */
export async function withClient<T>(
  config: pg.ClientConfig,
  fn: (c: pg.Client) => Promise<T>,
  retry?: RetryPolicy,
): Promise<T> {
  const attempts = retry?.attempts ?? 1;
  for (let attempt = 1; ; attempt++) {
    const client = new pg.Client(config);
    client.on('error', () => {}); // a dropped connection surfaces as the query's error
    try {
      await client.connect();
      return await fn(client);
    } catch (err) {
      if (!retry) throw err;
      const c = classifyPgError(err);
      if (!c.retryable || attempt >= attempts) throw new PgError(c.reason, c.message);
      await new Promise((r) => setTimeout(r, retry.baseDelayMs * 2 ** (attempt - 1)));
    } finally {
      await client.end().catch(() => {});
    }
  }
}
