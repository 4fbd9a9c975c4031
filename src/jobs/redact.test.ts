import { describe, expect, it } from 'vitest';
import { passwordLiterals, redactMessage, redactSql } from './redact.ts';

describe('passwords in a failed migration', () => {
  it.each([
    ["CREATE ROLE app LOGIN PASSWORD 'hunter2'", "CREATE ROLE app LOGIN PASSWORD '[redacted]'"],
    [
      "ALTER ROLE app WITH password 'it''s secret' VALID UNTIL 'infinity'",
      "ALTER ROLE app WITH password '[redacted]' VALID UNTIL 'infinity'",
    ],
    ["ALTER USER app PASSWORD E'back\\\\slash\\'q'", "ALTER USER app PASSWORD '[redacted]'"],
    ['CREATE ROLE app PASSWORD $pw$dollar$quoted$pw$ LOGIN', "CREATE ROLE app PASSWORD '[redacted]' LOGIN"],
    ["SELECT 'PASSWORD' AS word, 'kept'", "SELECT 'PASSWORD' AS word, 'kept'"],
    ['CREATE ROLE app PASSWORD NULL', 'CREATE ROLE app PASSWORD NULL'],
  ])('%s', (sql, redacted) => {
    expect(redactSql(sql)).toBe(redacted);
  });

  it("removes the literal from the server's message, quoted or bare", () => {
    const sql = "CREATE ROLE app PASSWORD 'hunter2' BOGUS";
    expect(passwordLiterals(sql)).toEqual(["'hunter2'"]);
    expect(redactMessage('syntax error at or near "hunter2"', sql)).toBe(
      'syntax error at or near "[redacted]"',
    );
    expect(redactMessage("role option 'hunter2' unknown", sql)).not.toContain('hunter2');
    expect(redactMessage('relation "x" does not exist', sql)).toBe('relation "x" does not exist');
  });
});
