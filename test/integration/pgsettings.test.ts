/**
 * The parameter check against the real PostgreSQL: for every kind of setting (session, reload
 * and restart contexts; integers with memory and time units, reals, Booleans, enums, strings
 * with check hooks), the verdict of `refusedSettings` is PostgreSQL's own, as `ALTER SYSTEM`
 * gives it (each tried one at a time and reset at once, never reloaded). The check itself
 * changes nothing on the server.
 */
import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { needsRestart } from '../../src/controllers/homeopsdatabase/pgconfig.ts';
import { refusedSettings } from '../../src/pg/settings.ts';
import { superuserConfig, withClient } from '../support/dataplane.ts';

const CASES: [string, string][] = [
  ['work_mem', '64MB'],
  ['work_mem', '8XB'],
  ['work_mem', '1.5GB'],
  ['work_mem', '-1'],
  ['work_mem', '64 kB'],
  ['shared_buffers', '128MB'],
  ['shared_buffers', '8XB'],
  ['shared_buffers', '12'],
  ['shared_buffers', '0x10'],
  ['shared_buffers', '1.5MB'],
  ['shared_buffers', '128mb'],
  ['max_connections', '100'],
  ['max_connections', '0'],
  ['max_connections', '100MB'],
  ['max_connections', 'lots'],
  ['huge_pages', 'try'],
  ['huge_pages', 'true'],
  ['huge_pages', 'maybe'],
  ['checkpoint_timeout', '5min'],
  ['checkpoint_timeout', '10'],
  ['checkpoint_timeout', '2h'],
  ['checkpoint_timeout', '1d'],
  ['checkpoint_timeout', '2d'],
  ['checkpoint_timeout', '5 parsecs'],
  ['checkpoint_timeout', '300000ms'],
  ['log_min_duration_statement', '250ms'],
  ['autovacuum', 'on'],
  ['autovacuum', 'of'],
  ['autovacuum', 'maybe'],
  ['random_page_cost', '1.1'],
  ['random_page_cost', '-1'],
  ['autovacuum_vacuum_scale_factor', '0.05'],
  ['autovacuum_vacuum_scale_factor', '200'],
  ['timezone', 'Europe/Berlin'],
  ['timezone', 'Mars/Olympus_Mons'],
  ['TimeZone', 'UTC'],
  ['DateStyle', 'ISO, DMY'],
  ['DATESTYLE', 'Martian'],
  ['default_transaction_isolation', 'serializable'],
  ['default_transaction_isolation', 'sometimes'],
  ['log_line_prefix', "'%m [%p] '"],
  ['no_such_parameter', '1'],
];

const query = (sql: string, params: unknown[] = []) =>
  withClient(superuserConfig(), (c: pg.Client) => c.query(sql, params));

/** PostgreSQL's verdict: whether ALTER SYSTEM takes the value (then reset, never reloaded). */
async function postgresTakes(name: string, value: string): Promise<boolean> {
  const unquoted = /^'.*'$/.test(value) ? value.slice(1, -1) : value;
  const { rows } = await query('SELECT format($$ALTER SYSTEM SET %I = %L$$, $1::text, $2::text) AS sql', [
    name,
    unquoted,
  ]);
  try {
    await query(rows[0].sql);
  } catch {
    return false;
  }
  await query(`ALTER SYSTEM RESET ${name}`);
  return true;
}

describe('refusedSettings on PostgreSQL', () => {
  it.each(CASES)('%s = %s: refused exactly when PostgreSQL refuses it', async (name, value) => {
    const refused = await withClient(superuserConfig(), (c) => refusedSettings(c, { [name]: value }));
    const takes = await postgresTakes(name, value);
    expect({ refused: refused[name] !== undefined, why: refused[name] }).toMatchObject({ refused: !takes });
  });

  it("says why in PostgreSQL's words, all at once, and changes nothing", async () => {
    const before = (await query('SELECT name, setting FROM pg_settings ORDER BY name')).rows;
    const refused = await withClient(superuserConfig(), (c) =>
      refusedSettings(c, { work_mem: '8XB', shared_buffers: '8XB', max_connections: '0', timezone: 'UTC' }),
    );
    expect(refused.work_mem).toMatch(/invalid value for parameter "work_mem": "8XB"/);
    expect(refused.shared_buffers).toMatch(
      /invalid value for parameter "shared_buffers": "8XB".*Valid units/,
    );
    expect(refused.max_connections).toMatch(
      /0 is outside the valid range for parameter "max_connections" \(1 \.\. /,
    );
    expect(refused.timezone).toBeUndefined();
    expect((await query('SELECT name, setting FROM pg_settings ORDER BY name')).rows).toEqual(before);
    const auto = await query(
      "SELECT count(*)::int AS n FROM pg_file_settings WHERE sourcefile LIKE '%auto.conf'",
    );
    expect(auto.rows[0].n).toBe(0);
  });

  it('allows a custom ext.name only under an extension the server loaded', async () => {
    const loaded = (
      await query("SELECT name FROM pg_settings WHERE name LIKE 'pg_stat_statements.%' LIMIT 1")
    ).rows;
    const refused = await withClient(superuserConfig(), (c) =>
      refusedSettings(c, { 'myext.knob': '1', ...(loaded.length ? { 'pg_stat_statements.nope': '1' } : {}) }),
    );
    expect(refused['myext.knob']).toMatch(/no extension loaded in the server defines settings under "myext"/);
    if (loaded.length) expect(refused['pg_stat_statements.nope']).toMatch(/defines no such setting/);
  });

  it("classes exactly the server's postmaster settings as needing a restart (the rest are reloaded)", async () => {
    const { rows } = await query('SELECT name, context FROM pg_settings');
    const wrong = rows
      .filter((r: { name: string; context: string }) => needsRestart(r.name) !== (r.context === 'postmaster'))
      // An extension's ext.name is always restarted: some are read at start only.
      .filter((r: { name: string }) => !r.name.includes('.'))
      .map((r: { name: string; context: string }) => `${r.name} (${r.context})`);
    expect(wrong).toEqual([]);
  });
});
