import pg from 'pg';

/** What the jobs need of a connection: pg.Client and PGlite both fit, so both paths are tested. */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: rows are typed by each caller
  query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

/** Runs `fn` on a connection of its own, closed afterwards whatever happens. */
export async function withClient<T>(config: pg.ClientConfig, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client(config);
  try {
    await client.connect();
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export const quoteIdent = (ident: string) => `"${ident.replaceAll('"', '""')}"`;
export const quoteQualified = (name: string) => name.split('.').map(quoteIdent).join('.');
