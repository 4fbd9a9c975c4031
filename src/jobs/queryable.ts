/** What the jobs need of a connection: pg.Client and PGlite both fit, so both paths are tested. */
export interface Queryable {
  // biome-ignore lint/suspicious/noExplicitAny: rows are typed by each caller
  query<T = any>(sql: string, params?: unknown[]): Promise<{ rows: T[] }>;
}

/** The one connection helper (src/pg/client.ts); the jobs pass errors through unretried. */
export { withClient } from '../pg/client.ts';

export const quoteIdent = (ident: string) => `"${ident.replaceAll('"', '""')}"`;
export const quoteQualified = (name: string) => name.split('.').map(quoteIdent).join('.');
