import { describe, expect, it } from 'vitest';
import { passwordLiterals, REDACTED, redactMessage, redactSql, redactSyntaxError } from './redact.ts';

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

describe('redactSyntaxError', () => {
  it("drops the parser's token when it is the start of a password literal", () => {
    const sql = "ALTER ROLE app WITH PASSWORD 'hunter2-secret";
    expect(redactSyntaxError(`unterminated quoted string at or near "'hunter2-secret"`, sql)).toBe(
      `unterminated quoted string at or near ${REDACTED}`,
    );
    const closed = "ALTER ROLE app PASSWORD 'hunter2-secret' 'hunter2-secret';";
    expect(redactSyntaxError(`syntax error at or near "'hunter2-secret'"`, closed)).not.toContain('hunter2');
    // Any other token stays: it says where the error is.
    expect(redactSyntaxError('syntax error at or near "TABLEE"', 'CREATE TABLEE t ()')).toBe(
      'syntax error at or near "TABLEE"',
    );
  });
});
