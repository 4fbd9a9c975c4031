import { describe, expect, it } from 'vitest';
import { SqlSyntaxError, splitSql } from './sqlsplit.ts';

const sqls = async (script: string) => (await splitSql(script)).map((s) => s.sql);

describe('splitSql (PostgreSQL 17 parser)', () => {
  it('splits at top-level semicolons and records each statement line', async () => {
    expect(await splitSql('-- header\nSELECT 1;\n\nSELECT 2;\n')).toEqual([
      { sql: 'SELECT 1', line: 2 },
      { sql: 'SELECT 2', line: 4 },
    ]);
  });

  it('keeps semicolons in strings, identifiers, comments and dollar-quoted bodies', async () => {
    const script = `SELECT 'a;b', "x;y" FROM t; -- c;d
CREATE FUNCTION f() RETURNS void LANGUAGE plpgsql AS $$ BEGIN PERFORM 1; PERFORM 2; END; $$;
CREATE FUNCTION g() RETURNS text LANGUAGE sql AS $body$ SELECT 'it''s; fine' $body$;
/* a; /* nested; */ comment */ SELECT 3`;
    const parts = await sqls(script);
    expect(parts).toHaveLength(4);
    expect(parts[0]).toBe(`SELECT 'a;b', "x;y" FROM t`);
    expect(parts[1]).toContain('PERFORM 2; END; $$');
    expect(parts[2]).toContain("'it''s; fine'");
    expect(parts[3]).toBe('SELECT 3');
  });

  // Each of these was split wrongly by the hand-written splitter this one replaced.
  it("follows PostgreSQL's quoting: E'' escapes, BEGIN ATOMIC bodies, $ inside identifiers", async () => {
    expect(await sqls(String.raw`SELECT E'it\'s; still one'; SELECT 2`)).toEqual([
      String.raw`SELECT E'it\'s; still one'`,
      'SELECT 2',
    ]);
    const atomic = `CREATE FUNCTION h() RETURNS int LANGUAGE sql
BEGIN ATOMIC
  SELECT 1;
  SELECT 2;
END;
SELECT 3;`;
    expect(await sqls(atomic)).toEqual([atomic.slice(0, atomic.indexOf('END;') + 3), 'SELECT 3']);
    // a$b is one identifier: "$b; SELECT $b" is not a dollar-quoted body.
    expect(await sqls('SELECT 1 AS a$b; SELECT 2 AS c$b;')).toEqual(['SELECT 1 AS a$b', 'SELECT 2 AS c$b']);
    expect(await sqls("SELECT U&'d\\0061t\\+000061'; SELECT 2")).toHaveLength(2);
  });

  it('counts lines in characters, not bytes, after multi-byte text', async () => {
    expect(await splitSql("SELECT 'héllo wörld';\nSELECT 'ünïcode';\n\nSELECT 3;")).toEqual([
      { sql: "SELECT 'héllo wörld'", line: 1 },
      { sql: "SELECT 'ünïcode'", line: 2 },
      { sql: 'SELECT 3', line: 4 },
    ]);
  });

  it('ignores empty statements', async () => {
    expect(await splitSql(';;  ;\n')).toEqual([]);
    expect(await splitSql('-- only a comment\n')).toEqual([]);
  });

  it('refuses a script PostgreSQL cannot parse, with the line of the error', async () => {
    const err = await splitSql('SELECT 1;\n\nCREATE TABLE t (id int;\nSELECT 2;').catch((e) => e);
    expect(err).toBeInstanceOf(SqlSyntaxError);
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/syntax error at or near/);
    // An unterminated quote is the scanner's error, not a statement running to the end.
    await expect(splitSql("SELECT 'open;\nSELECT 2;")).rejects.toThrow(/unterminated quoted string/);
  });
});
