import { describe, expect, it } from 'vitest';
import { planExtensions, type ServerExtensions } from './extensions.ts';

const server = (over: Partial<ServerExtensions> = {}): ServerExtensions => ({
  installed: { plpgsql: '1.0' },
  available: {
    vector: { defaultVersion: '0.8.0', versions: ['0.7.0', '0.8.0'] },
    timescaledb: { defaultVersion: '2.19.3', versions: ['2.19.3'] },
  },
  preloaded: ['pg_stat_statements'],
  requestedPreload: ['pg_stat_statements'],
  startedAt: 't0',
  ...over,
});
const IMAGE = 'localhost/homeops/postgres:17';

describe('planExtensions', () => {
  it('creates what is missing, quoted, and pins a version', () => {
    const p = planExtensions(
      [
        { name: 'vector', version: '0.7.0', required: true },
        { name: 'pg-trgm"x', required: false },
      ],
      server({ available: { ...server().available, 'pg-trgm"x': { defaultVersion: '1', versions: ['1'] } } }),
      IMAGE,
      true,
    );
    expect(p.actions.map((a) => a.sql)).toEqual([
      `CREATE EXTENSION IF NOT EXISTS "vector" VERSION '0.7.0' CASCADE`,
      `CREATE EXTENSION IF NOT EXISTS "pg-trgm""x" CASCADE`,
    ]);
  });

  it('updates an installed one to the pinned or the default version, and leaves a current one alone', () => {
    const p = planExtensions(
      [
        { name: 'vector', required: true },
        { name: 'timescaledb', version: '2.19.3', required: true },
      ],
      server({
        installed: { vector: '0.7.0', timescaledb: '2.19.3' },
        preloaded: ['pg_stat_statements', 'timescaledb'],
      }),
      IMAGE,
      true,
    );
    expect(p.actions).toEqual([{ name: 'vector', sql: 'ALTER EXTENSION "vector" UPDATE' }]);
    expect(p.states.find((s) => s.name === 'timescaledb')).toMatchObject({
      phase: 'Installed',
      version: '2.19.3',
    });
  });

  it('names the extension and the image when the image lacks it or the version, and runs nothing', () => {
    const p = planExtensions(
      [
        { name: 'postgis', required: true },
        { name: 'vector', version: '9.9.9', required: true },
      ],
      server(),
      IMAGE,
      true,
    );
    expect(p.actions).toEqual([]);
    expect(p.states[0]).toMatchObject({ phase: 'Unavailable' });
    expect(p.states[0]!.message).toContain('postgis');
    expect(p.states[0]!.message).toContain(IMAGE);
    expect(p.states[1]).toMatchObject({ phase: 'VersionUnavailable' });
    expect(p.states[1]!.message).toContain('0.7.0, 0.8.0');
  });

  it('tells a library the image lacks from one waiting for a restart', () => {
    const want = [{ name: 'timescaledb', required: true }];
    const missing = planExtensions(
      want,
      server({ requestedPreload: ['pg_stat_statements', 'timescaledb'] }),
      IMAGE,
      true,
    );
    expect(missing.states[0]).toMatchObject({ phase: 'Unavailable' });
    expect(missing.states[0]!.message).toContain('timescaledb.so');
    const pending = planExtensions(want, server(), IMAGE, true);
    expect(pending.states[0]).toMatchObject({ phase: 'RestartPending' });
    expect(missing.actions).toEqual([]);
    expect(pending.actions).toEqual([]);
  });

  it('reports one dropped by hand as Missing when not acting', () => {
    const p = planExtensions([{ name: 'vector', required: true }], server(), IMAGE, false);
    expect(p.actions).toEqual([]);
    expect(p.states[0]).toMatchObject({ phase: 'Missing' });
  });
});
