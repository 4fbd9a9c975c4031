/**
 * Splits a SQL script into statements at top-level semicolons, skipping those inside quotes,
 * quoted identifiers, dollar-quoted bodies ($$ ... $$, $tag$ ... $tag$) and comments. The
 * runner executes statements one at a time so that a failure names the statement, and so that
 * statements that cannot run in a transaction block (CREATE INDEX CONCURRENTLY) can run alone.
 */
export interface Statement {
  sql: string;
  /** 1-based line of the statement's first character in the script. */
  line: number;
}

export function splitSql(script: string): Statement[] {
  const out: Statement[] = [];
  let start = 0;
  let i = 0;
  const n = script.length;
  const push = (end: number) => {
    const raw = script.slice(start, end);
    const sql = stripComments(raw).trim();
    if (sql) out.push({ sql, line: script.slice(0, start + raw.indexOf(sql)).split('\n').length });
  };
  while (i < n) {
    const c = script[i]!;
    const next = script[i + 1];
    if (c === '-' && next === '-') {
      const eol = script.indexOf('\n', i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < n && depth > 0) {
        const pair = script.slice(i, i + 2);
        if (pair === '/*' || pair === '*/') {
          depth += pair === '/*' ? 1 : -1;
          i += 2;
        } else i++;
      }
    } else if (c === "'" || c === '"') {
      i++;
      while (i < n) {
        if (script[i] === c && script[i + 1] === c) i += 2;
        else if (script[i] === c) break;
        else i++;
      }
      i++;
    } else if (c === '$') {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(script.slice(i));
      if (m) {
        const close = script.indexOf(m[0], i + m[0].length);
        i = close < 0 ? n : close + m[0].length;
      } else i++;
    } else if (c === ';') {
      push(i);
      start = i + 1;
      i++;
    } else i++;
  }
  push(n);
  return out;
}

/** Drops whole-line `--` comments at the start of a statement (they would shift its line). */
function stripComments(sql: string): string {
  const lines = sql.split('\n');
  while (lines.length && /^\s*(--.*)?$/.test(lines[0]!)) lines.shift();
  return lines.join('\n');
}
