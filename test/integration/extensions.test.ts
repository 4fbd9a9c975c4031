/**
 * Declared extensions on the real PostgreSQL (the host-run data plane, PostgreSQL 15 with its
 * contrib): what the server has is read as it is, what is missing is made (a pinned version
 * too), an unknown extension or version is named without running anything, and one dropped by
 * hand is reported, not made again, until the next start or declaration.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureExtensions } from '../../src/controllers/homeopsdatabase/ensureextensions.ts';
import type { ProbeTarget } from '../../src/controllers/homeopsdatabase/prober.ts';
import { readServerExtensions } from '../../src/pg/extensions.ts';
import { testDatabase, withClient } from '../support/dataplane.ts';

let db: Awaited<ReturnType<typeof testDatabase>>;
let target: ProbeTarget;
const IMAGE = 'the host data plane';

beforeAll(async () => {
  db = await testDatabase('ext');
  const c = db.config;
  target = {
    host: c.host!,
    port: c.port!,
    user: c.user!,
    password: String(c.password),
    database: c.database!,
  };
});
afterAll(() => db?.cleanup());

const read = (names: string[]) => withClient(db.config, (c) => readServerExtensions(c, names));
const installed = (name: string) =>
  withClient(db.config, (c) =>
    c.query<{ v: string }>('SELECT extversion AS v FROM pg_extension WHERE extname = $1', [name]),
  ).then((r) => r.rows[0]?.v);

describe('extensions on a real server', () => {
  it('reads every version the image has, and what the server preloaded', async () => {
    const s = await read(['hstore', 'no_such_ext']);
    expect(s.available.hstore?.versions).toContain(s.available.hstore?.defaultVersion);
    expect(s.available.hstore!.versions.length).toBeGreaterThan(1);
    expect(s.available.no_such_ext).toBeUndefined();
    expect(s.installed.plpgsql).toBeTypeOf('string');
    expect(s.startedAt).toMatch(/^\d{4}-/);
  });

  it('makes a missing extension at a pinned version, then updates it to the default', async () => {
    const before = await read(['hstore']);
    const old = before.available.hstore!.versions.find((v) => v !== before.available.hstore!.defaultVersion)!;
    const pinned = await ensureExtensions(
      target,
      [{ name: 'hstore', version: old, required: true }],
      before,
      {
        image: IMAGE,
        act: true,
      },
    );
    expect(pinned.states).toEqual([{ name: 'hstore', phase: 'Installed', required: true, version: old }]);
    expect(await installed('hstore')).toBe(old);
    const now = await read(['hstore']);
    const updated = await ensureExtensions(target, [{ name: 'hstore', required: true }], now, {
      image: IMAGE,
      act: true,
    });
    expect(updated.states[0]).toMatchObject({
      phase: 'Installed',
      version: now.available.hstore!.defaultVersion,
    });
    expect(await installed('hstore')).toBe(now.available.hstore!.defaultVersion);
  });

  it('names an extension and a version the server lacks, and runs nothing', async () => {
    const wants = [
      { name: 'no_such_ext', required: true },
      { name: 'pg_trgm', version: '9.9', required: true },
    ];
    const r = await ensureExtensions(target, wants, await read(wants.map((w) => w.name)), {
      image: IMAGE,
      act: true,
    });
    expect(r.states.map((s) => s.phase)).toEqual(['Unavailable', 'VersionUnavailable']);
    expect(r.states[0]!.message).toContain(IMAGE);
    expect(await installed('pg_trgm')).toBeUndefined();
  });

  it("says Failed with PostgreSQL's error when a pin asks for a downgrade, and keeps the version", async () => {
    const s = await read(['hstore']);
    const current = s.installed.hstore!;
    const older = s.available.hstore!.versions.find((v) => v !== current)!;
    const r = await ensureExtensions(target, [{ name: 'hstore', version: older, required: true }], s, {
      image: IMAGE,
      act: true,
    });
    expect(r.failed).toBe(true);
    expect(r.states[0]).toMatchObject({ phase: 'Failed', version: current });
    expect(r.states[0]!.message).toMatch(/no update path/);
    expect(await installed('hstore')).toBe(current);
  });

  it('reports one dropped by hand as Missing while not acting, and makes it again when acting', async () => {
    await withClient(db.config, (c) => c.query('DROP EXTENSION hstore'));
    const wants = [{ name: 'hstore', required: true }];
    const report = await ensureExtensions(target, wants, await read(['hstore']), {
      image: IMAGE,
      act: false,
    });
    expect(report.states[0]).toMatchObject({ phase: 'Missing' });
    expect(await installed('hstore')).toBeUndefined();
    const made = await ensureExtensions(target, wants, await read(['hstore']), { image: IMAGE, act: true });
    expect(made.states[0]).toMatchObject({ phase: 'Installed' });
    expect(await installed('hstore')).toBeTypeOf('string');
  });
});
