import { describe, expect, it } from 'vitest';
import { embeddingsSpec } from '../api/v1alpha1/homeopsdatabase.ts';
import { embeddingsMigrations, recall } from './embeddings.ts';
import { directives } from './migrate.ts';

const spec = (o: Record<string, unknown> = {}) => embeddingsSpec.parse(o);

describe('the embeddings migration set', () => {
  it('makes the table with the declared dimensions, then a repeatable, non-transactional index build', () => {
    const [table, index] = embeddingsMigrations(spec({ dimensions: 768, m: 24, efConstruction: 96 }));
    expect(table).toMatchObject({ set: 'embeddings', version: '0001', transactional: true });
    expect(table!.repeatable).toBeUndefined();
    expect(table!.sql).toContain('embedding   vector(768) NOT NULL');
    expect(index).toMatchObject({ version: '0002', transactional: false, repeatable: true });
    expect(index!.sql).toContain('WITH (m = 24, ef_construction = 96)');
    expect(index!.sql).toContain('USING hnsw (embedding vector_cosine_ops)');
    // maintenance_work_mem is the session's, for the build, and reset after it.
    expect(index!.sql).toMatch(
      /SET maintenance_work_mem = '256MB';[\s\S]*CREATE INDEX CONCURRENTLY[\s\S]*RESET maintenance_work_mem;/,
    );
  });

  it("changes only the index migration's checksum when the index parameters change", () => {
    const a = embeddingsMigrations(spec());
    const b = embeddingsMigrations(spec({ m: 8, efConstruction: 32 }));
    expect(b[0]!.checksum).toBe(a[0]!.checksum);
    expect(b[1]!.checksum).not.toBe(a[1]!.checksum);
    expect(embeddingsMigrations(spec({ efSearch: 200 }))[1]!.checksum).toBe(a[1]!.checksum);
  });

  it('refuses an ef_construction below 2 x m, and a malformed memory size', () => {
    expect(() => spec({ m: 32, efConstruction: 40 })).toThrow(/at least 2 x/);
    expect(() => spec({ maintenanceWorkMem: "1GB'; DROP TABLE x; --" })).toThrow(/a size such as/);
    expect(() => spec({ maintenanceWorkMem: '0MB' })).toThrow();
  });
});

describe('migration directives', () => {
  it('reads homeops: directives from the leading comment lines only', () => {
    expect([...directives('-- homeops:no-transaction\n-- homeops:repeatable\nSELECT 1')]).toEqual([
      'no-transaction',
      'repeatable',
    ]);
    expect([...directives('SELECT 1;\n-- homeops:repeatable\n')]).toEqual([]);
    expect([...directives('-- a comment\n-- homeops:repeatable\n')]).toEqual(['repeatable']);
  });
});

describe('recall', () => {
  it('is the share of the exact rows found, and absent without exact rows', () => {
    expect(recall(['a', 'b', 'c'], ['a', 'c', 'd', 'e'])).toBe(0.5);
    expect(recall(['x'], [])).toBeUndefined();
    expect(recall(['b', 'a'], ['a', 'b'])).toBe(1);
  });
});
