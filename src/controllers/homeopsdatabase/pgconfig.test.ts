import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Any } from '../../../test/support/objects.ts';
import { sampleDatabase as sample } from '../../../test/support/objects.ts';
import { DEFAULT_IMAGES } from '../../images.ts';
import { buildConfigMap, buildStatefulSet } from './builders.ts';
import { preloadLibraries } from './extensions.ts';
import { preloadScript } from './pgconfig.ts';

const minimal = sample('homeopsdatabase-minimal.yaml');
const full = sample('homeopsdatabase-full.yaml');

describe('postgresql.conf and pg_hba.conf', () => {
  const data = buildConfigMap(full).data as Record<string, string>;
  const conf = data['postgresql.conf']!;

  it("carries the guide's settings", () => {
    for (const line of [
      'wal_level = replica',
      'max_wal_senders = 10',
      'max_replication_slots = 10',
      'hot_standby = on',
      'track_io_timing = on',
      'log_min_duration_statement = 100',
      "password_encryption = 'scram-sha-256'",
      "max_standby_streaming_delay = '30s'",
    ]) {
      expect(conf.split('\n')).toContain(line);
    }
  });

  it('merges spec.postgres.parameters over the defaults, quoting where postgresql.conf needs it', () => {
    expect(conf).toContain("shared_buffers = '512MB'");
    expect(conf).toContain('max_connections = 100');
  });

  it('leaves shared_preload_libraries to the start script, which asks for timescaledb unless disabled', () => {
    expect(conf).not.toContain('shared_preload_libraries');
    const withTs = (timescale: 'enabled' | 'auto' | 'disabled') => ({
      ...full,
      spec: {
        ...full.spec,
        postgres: { ...full.spec.postgres, timescale, image: undefined, extensions: [] },
      },
    });
    const script = (t: 'enabled' | 'auto' | 'disabled') =>
      (buildConfigMap(withTs(t)).data as Record<string, string>)['start.sh']!;
    expect(script('enabled')).toContain("requested='pg_stat_statements,timescaledb'");
    expect(script('auto')).toContain("requested='pg_stat_statements,timescaledb'");
    expect(script('disabled')).toContain("requested='pg_stat_statements'");
    const pod = (buildStatefulSet(withTs('enabled'), 'd').spec as Any).template.spec;
    expect(pod.containers[0].image).toBe(DEFAULT_IMAGES.timescale);
    // timescaledb-ha runs as uid 1000, not 999: the pod follows the image.
    expect(pod.containers[0].securityContext.runAsUser).toBe(1000);
    expect(pod.securityContext.fsGroup).toBe(1000);
  });

  it('preloads the libraries of declared extensions, and keeps timescaledb while it is installed', () => {
    const db = (extensions: string[], timescale: 'auto' | 'disabled', installed: string[] = []) => ({
      ...full,
      spec: { ...full.spec, postgres: { ...full.spec.postgres, timescale, extensions } },
      status: { extensions: installed.map((name) => ({ name, version: '1' })) },
    });
    expect(preloadLibraries(db(['vector', 'pg_cron'], 'disabled'))).toEqual([
      'pg_stat_statements',
      'pg_cron',
    ]);
    expect(preloadLibraries(db([], 'disabled'))).toEqual(['pg_stat_statements']);
    expect(preloadLibraries(db([], 'disabled', ['timescaledb']))).toEqual([
      'pg_stat_statements',
      'timescaledb',
    ]);
  });

  it('uses scram-sha-256 on every line of pg_hba.conf', () => {
    const rules = data['pg_hba.conf']!.split('\n').filter((l) => l && !l.startsWith('#'));
    expect(rules.length).toBeGreaterThan(0);
    for (const r of rules) expect(r.trim().endsWith('scram-sha-256')).toBe(true);
  });
});

describe('pgbouncer.ini', () => {
  const ini = (buildConfigMap(minimal).data as Record<string, string>)['pgbouncer-pgbouncer.ini']!;
  it("carries the guide's pool settings and authenticates through auth_query", () => {
    for (const line of [
      'pool_mode = transaction',
      'max_client_conn = 100',
      'default_pool_size = 20',
      'min_pool_size = 5',
      'reserve_pool_size = 5',
      'reserve_pool_timeout = 10',
      'max_db_connections = 50',
      'max_user_connections = 30',
      'ignore_startup_parameters = extra_float_digits',
      'auth_type = scram-sha-256',
      'auth_user = pgbouncer_auth',
      'auth_query = SELECT usename, passwd FROM pgbouncer.get_auth($1)',
    ]) {
      expect(ini.split('\n')).toContain(line);
    }
    expect(ini).toContain('* = host=homeops-rw.prod.svc port=5432');
  });
});

describe('the start script', () => {
  const script = (buildConfigMap(full).data as Record<string, string>)['start.sh']!;
  it('puts no password on a command line or in an environment variable', () => {
    // Before: PGPASSWORD exported, and each role's password passed to psql as `-v name=value`.
    expect(script).not.toMatch(/PGPASSWORD/);
    expect(script).not.toMatch(/-v \w*password=/);
    // The superuser's comes from a passfile (mode 600 by umask), the roles' from their files,
    // read by psql itself; the passfile goes once the roles exist.
    expect(script).toMatch(/umask 077\n\s+PGPASSFILE=\/tmp\/homeops-bootstrap\.pgpass/);
    expect(script).toContain('\\set app_password `cat /etc/homeops/secrets/app/password`');
    expect(script).toContain('rm -f "$PGPASSFILE"');
    // The passfile's escapes of \ and : (the format's own), done by sed on the file, not by argv.
    expect(script).toContain("password=$(sed 's/[\\\\:]/\\\\&/g' /etc/homeops/secrets/superuser/password)");
  });
});

describe("the start script's preload list", () => {
  /** Runs preloadScript in sh with a fake server: bin/postgres and the given library files. */
  function preload(libs: string[], files: string[], layout: 'lib' | 'lib/postgresql' = 'lib') {
    const dir = mkdtempSync(join(tmpdir(), 'homeops-preload-'));
    try {
      mkdirSync(join(dir, 'bin'));
      mkdirSync(join(dir, layout), { recursive: true });
      writeFileSync(join(dir, 'bin', 'postgres'), '#!/bin/sh\n', { mode: 0o755 });
      for (const f of files) writeFileSync(join(dir, layout, `${f}.so`), '');
      const out = execFileSync(
        'sh',
        ['-c', `set -eu\n${preloadScript(libs)}printf '%s|%s|%s' "$preload" "$requested" "$preload_args"`],
        { encoding: 'utf8', env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin` } },
      );
      const [found, requested, args] = out.split('|');
      return { found, requested, args };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it('keeps only the libraries the image has, so a missing one cannot stop the server', () => {
    expect(preload(['pg_stat_statements', 'timescaledb'], ['pg_stat_statements'])).toEqual({
      found: 'pg_stat_statements',
      requested: 'pg_stat_statements,timescaledb',
      args: '',
    });
  });

  it('finds them in <prefix>/lib/postgresql too, and turns TimescaleDB telemetry off when loaded', () => {
    const r = preload(
      ['pg_stat_statements', 'timescaledb'],
      ['pg_stat_statements', 'timescaledb'],
      'lib/postgresql',
    );
    expect(r.found).toBe('pg_stat_statements,timescaledb');
    expect(r.args).toBe('-c timescaledb.telemetry_level=off');
  });
});
