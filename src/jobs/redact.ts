/**
 * A failed migration is reported with its statement and the server's message (in the Job's
 * output, its termination message and the database's status). A password in it must not go
 * with them: the literal after PASSWORD (CREATE/ALTER ROLE ... PASSWORD '...', and the same in
 * a quoted, E'' or dollar-quoted form) is replaced, in the statement and wherever the server's
 * message repeats it.
 */

const LITERAL = String.raw`(?:[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|\$(?<tag>[A-Za-z_][A-Za-z0-9_]*)?\$[\s\S]*?\$\k<tag>\$)`;
const AFTER_PASSWORD = new RegExp(String.raw`(\bPASSWORD\s+)${LITERAL}`, 'gi');

export const REDACTED = "'[redacted]'";

/** The literals that follow PASSWORD in `sql`, as written (quotes included). */
export function passwordLiterals(sql: string): string[] {
  return [...sql.matchAll(AFTER_PASSWORD)].map((m) => m[0].slice(m[1]!.length));
}

/** `sql` with every literal after PASSWORD replaced. */
export function redactSql(sql: string): string {
  return sql.replace(AFTER_PASSWORD, (_m, keyword: string) => `${keyword}${REDACTED}`);
}

/** `message` without any of the statement's password literals, quoted or bare. */
export function redactMessage(message: string, sql: string): string {
  let out = message;
  for (const literal of passwordLiterals(sql)) {
    const bare = literal.replace(/^[Ee]?'|'$/g, '').replace(/^\$[A-Za-z0-9_]*\$|\$[A-Za-z0-9_]*\$$/g, '');
    for (const form of [literal, bare].filter((f) => f.length >= 2)) out = out.split(form).join('[redacted]');
  }
  return out;
}

/**
 * A parser's `... at or near "TOKEN"` without TOKEN when TOKEN follows PASSWORD in `sql`: an
 * unterminated password literal has no closing quote for `passwordLiterals` to find, and the
 * scanner's message would repeat all of it.
 */
export function redactSyntaxError(message: string, sql: string): string {
  const out = redactMessage(message, sql);
  const near = /at or near "([\s\S]*)"$/.exec(out);
  if (!near?.[1]) return out;
  const token = near[1];
  const escaped = token.slice(0, 200).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(String.raw`\bPASSWORD\s+${escaped}`, 'i').test(sql)
    ? `${out.slice(0, near.index)}at or near ${REDACTED}`
    : out;
}
