/**
 * Whether PostgreSQL would take a setting, asked of the running server before a change reaches
 * its configuration. A setting a session may set (context user or superuser) is tried with
 * `set_config` in a transaction that is rolled back: PostgreSQL's own parser and check hooks
 * answer, with its own message, and nothing changes. A setting only the configuration file or a
 * restart can change cannot be tried that way; it is checked against the server's own
 * description of it in pg_settings (its type, unit, range and enum values), with PostgreSQL's
 * unit rules and wording. A name the server does not know is refused; a custom `ext.name` only
 * when an extension loaded in the server defines settings under `ext`.
 */

/** A pg_settings row, as this module reads it. */
export interface SettingRow {
  name: string;
  context: string;
  vartype: 'bool' | 'integer' | 'real' | 'string' | 'enum';
  unit: string | null;
  min_val: string | null;
  max_val: string | null;
  enumvals: string[] | null;
}

export interface SqlClient {
  query<R = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<{ rows: R[] }>;
}

const MEMORY: Record<string, number> = { B: 1, kB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };
const TIME: Record<string, number> = { us: 0.001, ms: 1, s: 1000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const HINTS = {
  memory: 'Valid units for this parameter are "B", "kB", "MB", "GB", and "TB".',
  time: 'Valid units for this parameter are "us", "ms", "s", "min", "h", and "d".',
};

/** The unit family and size of a pg_settings unit ('8kB', 'MB', 'ms', 'min'...). */
function baseUnit(
  unit: string | null,
): { table: Record<string, number>; size: number; hint: string } | undefined {
  const m = /^([0-9]*)(.*)$/.exec(unit ?? '')!;
  const factor = m[1] ? Number(m[1]) : 1;
  if (m[2]! in MEMORY) return { table: MEMORY, size: factor * MEMORY[m[2]!]!, hint: HINTS.memory };
  if (m[2]! in TIME) return { table: TIME, size: factor * TIME[m[2]!]!, hint: HINTS.time };
  return undefined;
}

const invalid = (row: SettingRow, value: string, hint?: string) =>
  `invalid value for parameter "${row.name}": "${value}"${hint ? `; ${hint}` : ''}`;

/** A number as PostgreSQL's parse_int/parse_real read it, with an optional unit. */
function parseNumber(row: SettingRow, value: string): number | string {
  const unit = baseUnit(row.unit);
  // strtol (base 0: 0x hex, leading-0 octal) or strtod, then blanks, a unit, blanks.
  const m =
    /^\s*([-+]?(?:0[xX][0-9a-fA-F]+|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?))\s*([A-Za-z]*)\s*$/.exec(
      value,
    );
  if (!m) return invalid(row, value, unit?.hint);
  const text = m[1]!;
  let n: number;
  if (/^[-+]?0[xX]/.test(text)) n = Number.parseInt(text, 16);
  else if (row.vartype === 'integer' && /^[-+]?0[0-7]+$/.test(text)) n = Number.parseInt(text, 8);
  else n = Number(text);
  if (!Number.isFinite(n)) return invalid(row, value, unit?.hint);
  if (m[2]) {
    if (!unit) return invalid(row, value);
    const factor = unit.table[m[2]];
    if (factor === undefined) return invalid(row, value, unit.hint);
    n = (n * factor) / unit.size;
  }
  return row.vartype === 'integer' ? Math.round(n) : n;
}

const BOOL = ['true', 'false', 'yes', 'no', 'on', 'off', '1', '0'];

/** Why `value` is refused for the setting `row` describes, or undefined when it is fine. */
export function checkSetting(row: SettingRow, value: string): string | undefined {
  switch (row.vartype) {
    case 'bool': {
      const v = value.trim().toLowerCase();
      // parse_bool: a unique prefix of true/false/yes/no, or on/off (at least "of"), 1, 0.
      const ok =
        BOOL.includes(v) ||
        (v.length > 0 && ['true', 'false', 'yes', 'no'].some((w) => w.startsWith(v))) ||
        v === 'of';
      return ok ? undefined : `parameter "${row.name}" requires a Boolean value`;
    }
    case 'enum': {
      const v = value.trim().toLowerCase();
      const vals = (row.enumvals ?? []).map((e) => e.toLowerCase());
      // An enum of on/off/... also takes every Boolean spelling (hidden values pg_settings omits).
      const boolish = vals.includes('on') && vals.includes('off') && BOOL.includes(v);
      const ok = vals.includes(v) || boolish;
      return ok ? undefined : invalid(row, value, `Available values: ${(row.enumvals ?? []).join(', ')}.`);
    }
    case 'integer':
    case 'real': {
      const n = parseNumber(row, value);
      if (typeof n === 'string') return n;
      const min = Number(row.min_val);
      const max = Number(row.max_val);
      if (n < min || n > max) {
        const u = row.unit ? ` ${row.unit}` : '';
        return `${n}${u} is outside the valid range for parameter "${row.name}" (${row.min_val}${u} .. ${row.max_val}${u})`;
      }
      return undefined;
    }
    default:
      return undefined;
  }
}

const SESSION_CONTEXTS = new Set(['user', 'superuser']);

/** A value the spec wrote as one quoted literal ('all'), as the server reads it. */
const unquoted = (v: string) => (/^'(?:[^'\\]|'')*'$/.test(v) ? v.slice(1, -1).replaceAll("''", "'") : v);

/**
 * The settings of `params` the server refuses, with why: PostgreSQL's message where it can try
 * them, the same rules where it cannot. Changes nothing on the server.
 */
export async function refusedSettings(
  client: SqlClient,
  params: Record<string, string>,
): Promise<Record<string, string>> {
  const names = Object.keys(params);
  if (!names.length) return {};
  const { rows } = await client.query<SettingRow>(
    `SELECT name, context, vartype, unit, min_val, max_val, enumvals FROM pg_settings
      WHERE lower(name) = ANY($1) OR lower(split_part(name, '.', 1)) = ANY($2)`,
    [
      names.map((n) => n.toLowerCase()),
      names.filter((n) => n.includes('.')).map((n) => n.split('.')[0]!.toLowerCase()),
    ],
  );
  // Names are case-insensitive (pg_settings spells some in mixed case: TimeZone, DateStyle).
  const byName = new Map(rows.map((r) => [r.name.toLowerCase(), r]));
  const refused: Record<string, string> = {};
  const trySession: [string, string][] = [];
  for (const [name, written] of Object.entries(params)) {
    const value = unquoted(written);
    const row = byName.get(name.toLowerCase());
    if (!row) {
      const prefix = name.split('.')[0]!.toLowerCase();
      refused[name] = !name.includes('.')
        ? `unrecognized configuration parameter "${name}"`
        : rows.some((r) => r.name.toLowerCase().startsWith(`${prefix}.`))
          ? `invalid configuration parameter name "${name}": the extension "${prefix}" defines no such setting`
          : `"${name}": no extension loaded in the server defines settings under "${prefix}"`;
    } else if (SESSION_CONTEXTS.has(row.context)) trySession.push([name, value]);
    else {
      const why = checkSetting(row, value);
      if (why) refused[name] = why;
    }
  }
  if (trySession.length) {
    await client.query('BEGIN');
    try {
      for (const [name, value] of trySession) {
        await client.query('SAVEPOINT homeops_check');
        try {
          await client.query('SELECT set_config($1, $2, true)', [name, value]);
        } catch (e) {
          refused[name] = String((e as Error).message);
        }
        await client.query('ROLLBACK TO SAVEPOINT homeops_check');
      }
    } finally {
      await client.query('ROLLBACK');
    }
  }
  return refused;
}
