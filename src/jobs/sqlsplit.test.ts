import { describe, expect, it } from 'vitest';
import { splitSql } from './sqlsplit.ts';

describe('splitSql', () => {
  it('splits at top-level semicolons and records each statement line', () => {
    expect(splitSql('-- header\nSELECT 1;\n\nSELECT 2;\n')).toEqual([
      { sql: 'SELECT 1', line: 2 },
      { sql: 'SELECT 2', line: 4 },
    ]);
  });

  it('keeps semicolons in strings, identifiers, comments and dollar-quoted bodies', () => {
    const script = `SELECT 'a;b', "x;y" FROM t; -- c;d
CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; PERFORM 2; END; $$;
CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'it''s; fine' $body$;
/* a; /* nested; */ comment */ SELECT 3`;
    const parts = splitSql(script).map((s) => s.sql);
    expect(parts).toHaveLength(4);
    expect(parts[0]).toBe(`SELECT 'a;b', "x;y" FROM t`);
    expect(parts[1]).toContain('PERFORM 2; END; $$');
    expect(parts[2]).toContain("'it''s; fine'");
    expect(parts[3]).toContain('SELECT 3');
  });

  it('ignores empty statements', () => {
    expect(splitSql(';;  ;\n')).toEqual([]);
  });
});
