/**
 * Splits a SQL script into statements as PostgreSQL does: with PostgreSQL's own parser
 * (libpg-query, PostgreSQL 17's parser compiled to WebAssembly), from the statement locations of
 * its parse. Quoting of every kind (E'' strings with backslash escapes, dollar quotes, quoted
 * identifiers), comments, `BEGIN ATOMIC` bodies and identifiers with `$` are the parser's
 * business, not ours. The runner executes statements one at a time so that a failure names the
 * statement, and so that statements that cannot run in a transaction block (CREATE INDEX
 * CONCURRENTLY) can run alone. A script PostgreSQL cannot parse is refused whole, with its line.
 */
import { Buffer } from 'node:buffer';

export interface Statement {
  sql: string;
  /** 1-based line of the statement's first character in the script. */
  line: number;
}

export class SqlSyntaxError extends Error {
  /** 1-based line of the error in the script. */
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.line = line;
  }
}

interface RawStmt {
  stmt_location?: number;
  stmt_len?: number;
}

// Loaded on first use: only the Jobs split SQL, the operator never pays for the parser. The
// Jobs' node runs with --liftoff-only (JOB_NODE_FLAGS in src/images.ts): see there why.
let parser: Promise<(sql: string) => { stmts?: RawStmt[] }> | undefined;
function loadParser() {
  parser ??= import('libpg-query').then(async (m) => {
    await m.loadModule();
    return m.parseSync;
  });
  return parser;
}

const lineAt = (text: string, index: number) => text.slice(0, index).split('\n').length;

export async function splitSql(script: string): Promise<Statement[]> {
  const parse = await loadParser();
  let stmts: RawStmt[];
  try {
    stmts = parse(script).stmts ?? [];
  } catch (e) {
    const err = e as Error & { sqlDetails?: { cursorPosition?: number } };
    const at = err.sqlDetails?.cursorPosition;
    throw new SqlSyntaxError(err.message, at === undefined ? 1 : lineAt(script, at));
  }
  // Locations are byte offsets into the UTF-8 text; a statement's length excludes its semicolon.
  const bytes = Buffer.from(script, 'utf8');
  const out: Statement[] = [];
  for (const s of stmts) {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len ? start + s.stmt_len : bytes.length;
    const raw = bytes.subarray(start, end).toString('utf8');
    const lead = leadingTrivia(raw);
    const sql = raw.slice(lead).trimEnd();
    if (!sql) continue;
    const offset = bytes.subarray(0, start).toString('utf8').length + lead;
    out.push({ sql, line: lineAt(script, offset) });
  }
  return out;
}

/**
 * Length of the whitespace and comments before a statement's first token (the parser's
 * location is just after the previous semicolon). Only trivia is skipped: block comments nest,
 * as in PostgreSQL.
 */
function leadingTrivia(s: string): number {
  let i = 0;
  for (;;) {
    const ws = /^\s+/.exec(s.slice(i));
    if (ws) i += ws[0].length;
    if (s.startsWith('--', i)) {
      const eol = s.indexOf('\n', i);
      i = eol < 0 ? s.length : eol + 1;
    } else if (s.startsWith('/*', i)) {
      let depth = 0;
      do {
        const pair = s.slice(i, i + 2);
        if (pair === '/*' || pair === '*/') {
          depth += pair === '/*' ? 1 : -1;
          i += 2;
        } else i++;
      } while (depth > 0 && i < s.length);
    } else return i;
  }
}
