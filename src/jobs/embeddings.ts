/**
 * The guide's phase 3, "vector database optimization for embeddings", on pgvector: a migration
 * set made from spec.embeddings (the table, then its HNSW index as a repeatable migration, so a
 * change of m or ef_construction rebuilds it), the similar-media-items benchmark scenario, and
 * deterministic synthetic vectors for seed-data.
 */
import type { z } from 'zod';
import { embeddingsSpec } from '../api/v1alpha1/homeopsdatabase.ts';
import { type Migration, migrationOf } from './migrate.ts';
import type { Queryable } from './queryable.ts';

export type Embeddings = z.infer<typeof embeddingsSpec>;
export const EMBEDDINGS_SET = 'embeddings';
export const EMBEDDINGS_TABLE = 'media.item_embeddings';
export const HNSW_INDEX = 'item_embeddings_hnsw';

/** What the jobs need of spec.embeddings, as one flag (`--embeddings=JSON`). */
export const embeddingsFlag = (e: Partial<Embeddings>) => JSON.stringify(e);
export const embeddingsFlagSchema = embeddingsSpec;

/**
 * The set, versioned like a directory of files (`embeddings/NNNN_name.sql`). 0001 makes the
 * table (its dimension is fixed by the API); 0002 is repeatable: the index is built under a
 * second name with CREATE INDEX CONCURRENTLY (writes go on), then swapped for the old one, each
 * step idempotent so that an interrupted run is finished by the next. maintenance_work_mem is
 * the session's, for the build only; the build is serial (parallel workers would need a
 * /dev/shm as large as maintenance_work_mem, which a pod does not have by default).
 */
export function embeddingsMigrations(e: Embeddings): Migration[] {
  const table = `-- The guide's embeddings for media items (pgvector): one vector per item, cosine distance.
CREATE TABLE ${EMBEDDINGS_TABLE} (
    item_id     uuid PRIMARY KEY REFERENCES media.items (id) ON DELETE CASCADE,
    model       text NOT NULL DEFAULT '',
    embedding   vector(${e.dimensions}) NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
`;
  const next = `${HNSW_INDEX}_next`;
  const index = `-- homeops:no-transaction
-- homeops:repeatable
-- The HNSW index with m = ${e.m}, ef_construction = ${e.efConstruction}: built beside the old one, then swapped.
SET maintenance_work_mem = '${e.maintenanceWorkMem}';
SET max_parallel_maintenance_workers = 0;
DROP INDEX CONCURRENTLY IF EXISTS media.${next};
CREATE INDEX CONCURRENTLY ${next} ON ${EMBEDDINGS_TABLE}
    USING hnsw (embedding vector_cosine_ops) WITH (m = ${e.m}, ef_construction = ${e.efConstruction});
DROP INDEX CONCURRENTLY IF EXISTS media.${HNSW_INDEX};
ALTER INDEX media.${next} RENAME TO ${HNSW_INDEX};
RESET max_parallel_maintenance_workers;
RESET maintenance_work_mem;
`;
  const file = (v: string, n: string) => `${EMBEDDINGS_SET}/${v}_${n}.sql`;
  return [
    migrationOf(EMBEDDINGS_SET, '0001', 'item_embeddings', file('0001', 'item_embeddings'), table),
    migrationOf(EMBEDDINGS_SET, '0002', 'hnsw_index', file('0002', 'hnsw_index'), index),
  ];
}

// The item asked about, and every other item of its library with its distance to it.
const QUESTION = `WITH q AS MATERIALIZED (
  SELECT e.embedding, i.library_id FROM ${EMBEDDINGS_TABLE} e JOIN media.items i ON i.id = e.item_id WHERE e.item_id = $1
)`;
const CANDIDATES = `SELECT e.item_id, e.embedding <=> (SELECT embedding FROM q) AS distance
    FROM ${EMBEDDINGS_TABLE} e JOIN media.items i ON i.id = e.item_id
   WHERE i.library_id = (SELECT library_id FROM q) AND e.item_id <> $1`;

/**
 * "More like this": the 10 items nearest to item $1 by cosine distance, in its library, itself
 * excluded. The filter runs after the index scan: with hnsw.iterative_scan the scan goes on
 * until 10 rows pass it (relaxed_order may return them slightly out of order, so the outer
 * query sorts the 10 again, as pgvector's README advises).
 */
export const SIMILAR_ITEMS_QUERY = `${QUESTION}, nearest AS MATERIALIZED (
  ${CANDIDATES}
   ORDER BY e.embedding <=> (SELECT embedding FROM q) LIMIT 10
)
SELECT item_id, distance FROM nearest ORDER BY distance`;

/**
 * The same answer computed exactly: every item of the library scored in a materialized CTE,
 * which no index order can reach into, then sorted. (Planner settings such as
 * enable_indexscan = off do not keep an HNSW scan out of a plan.)
 */
export const SIMILAR_ITEMS_EXACT_QUERY = `${QUESTION}, scored AS MATERIALIZED (
  ${CANDIDATES}
)
SELECT item_id, distance FROM scored ORDER BY distance LIMIT 10`;

/** Items to ask about: a deterministic spread over the table (by hash, not by insertion order). */
export const SIMILAR_ITEMS_PARAMS = `SELECT item_id::text AS p FROM ${EMBEDDINGS_TABLE} ORDER BY md5(item_id::text) LIMIT 20`;

/** The session settings of the similarity scenario (SET LOCAL, per transaction). */
export const similaritySettings = (efSearch: number) => ({
  'hnsw.ef_search': String(efSearch),
  'hnsw.iterative_scan': 'relaxed_order',
});

/** Share of `exact` found in `approx` (recall@k with k = the exact list's length). */
export function recall(approx: string[], exact: string[]): number | undefined {
  if (exact.length === 0) return undefined;
  const got = new Set(approx);
  return exact.filter((x) => got.has(x)).length / exact.length;
}

/**
 * Synthetic embeddings for seed-data, made inside the server: each item has a 16-number latent
 * (its "topic"), spread over the table's dimensions with fixed weights, plus 5 % noise per
 * component. Real embeddings lie near a low-dimensional manifold too; uniformly random vectors
 * (which no model produces) would make every index look bad. Deterministic per seed.
 */
export async function seedEmbeddings(db: Queryable, seed: number): Promise<number | undefined> {
  const { rows } = await db.query<{ dims: number }>(
    `SELECT a.atttypmod AS dims FROM pg_attribute a
      WHERE a.attrelid = to_regclass('${EMBEDDINGS_TABLE}') AND a.attname = 'embedding' AND NOT a.attisdropped`,
  );
  const dims = rows[0]?.dims;
  if (!dims || dims < 1) return undefined;
  const h = (x: string) => `(hashint8extended(${x}, ${seed}) % 1000000)::float8 / 1000000`;
  await db.query(
    `INSERT INTO ${EMBEDDINGS_TABLE} (item_id, model, embedding)
     SELECT i.id, 'synthetic-16', ARRAY(
              SELECT ${h('i.n * 16 + d % 16')} * (0.5 + abs(${h('1000000000 + d')}))
                     + 0.05 * ${h('2000000000 + i.n * 4096 + d')}
                FROM generate_series(0, ${dims - 1}) d)::vector
       FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM media.items) i`,
  );
  const n = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${EMBEDDINGS_TABLE}`);
  return n.rows[0]!.n;
}
