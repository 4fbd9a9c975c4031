import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cacheTier, homeOpsDatabase, homeOpsDatabaseSpec, replicaSet } from './index.ts';

const samplesDir = join(import.meta.dirname, '..', '..', '..', 'manifests', 'samples');
const schemas = { HomeOpsDatabase: homeOpsDatabase, CacheTier: cacheTier, ReplicaSet: replicaSet } as const;

function errorsOf(result: {
  success: boolean;
  error?: { issues: { path: PropertyKey[]; message: string }[] };
}) {
  return (result.error?.issues ?? []).map((i) => `${i.path.join('.')}: ${i.message}`);
}

describe('samples', () => {
  const files = readdirSync(samplesDir).filter((f) => f.endsWith('.yaml'));

  it('has a minimal and a full sample of each kind', () => {
    for (const kind of ['homeopsdatabase', 'cachetier', 'replicaset']) {
      expect(files).toContain(`${kind}-minimal.yaml`);
      expect(files).toContain(`${kind}-full.yaml`);
    }
  });

  it.each(files)('%s parses with the zod schema of its kind', (file) => {
    const doc = parse(readFileSync(join(samplesDir, file), 'utf8'));
    const schema = schemas[doc.kind as keyof typeof schemas];
    expect(schema, `unknown kind ${doc.kind}`).toBeDefined();
    const result = schema.safeParse(doc);
    expect(errorsOf(result)).toEqual([]);
  });
});

describe('HomeOpsDatabase defaults are the guide', () => {
  const db = homeOpsDatabase.parse({
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: {},
  });

  it("fills the pooler with the guide's pgbouncer.ini", () => {
    expect(db.spec.pooler).toMatchObject({
      enabled: true,
      poolMode: 'transaction',
      maxClientConn: 100,
      defaultPoolSize: 20,
      minPoolSize: 5,
      reservePoolSize: 5,
      reservePoolTimeoutSeconds: 10,
      maxDbConnections: 50,
      maxUserConnections: 30,
    });
  });

  it("fills monitoring with the guide's alert thresholds", () => {
    expect(db.spec.monitoring).toEqual({
      intervalSeconds: 30,
      slowQueryMs: 1000,
      connectionUsagePercent: 80,
      indexScanRatio: 0.8,
      deadTupleRatio: 0.1,
      cacheHitRatio: 0.95,
    });
  });

  it("fills benchmarks with the guide's iterations, warm-up and regression factor", () => {
    expect(db.spec.benchmarks).toMatchObject({
      builtin: true,
      iterations: 100,
      warmup: 10,
      regressionThreshold: 1.5,
    });
  });

  it('keeps volumes by default', () => {
    expect(db.spec.postgres.storage.reclaimPolicy).toBe('Retain');
    expect(db.spec.postgres.timescale).toBe('auto');
  });
});

describe('CacheTier and ReplicaSet defaults are the guide', () => {
  it("fills redis.conf's memory, eviction and persistence settings", () => {
    const c = cacheTier.parse({ apiVersion: 'homeops.io/v1alpha1', kind: 'CacheTier', metadata: {} });
    expect(c.spec).toMatchObject({
      maxMemory: '2gb',
      maxMemoryPolicy: 'allkeys-lru',
      timeoutSeconds: 300,
      tcpKeepaliveSeconds: 60,
      persistence: {
        appendOnly: true,
        appendFsync: 'everysec',
        autoAofRewritePercentage: 100,
        autoAofRewriteMinSize: '64mb',
      },
    });
    expect(c.spec.ttlPolicies).toMatchObject({
      session: '15m',
      preferences: '1h',
      configs: '24h',
      realtime: '30s',
    });
  });

  it('allows 5 seconds of replica lag', () => {
    const r = replicaSet.parse({
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'ReplicaSet',
      metadata: {},
      spec: { databaseRef: { name: 'db' } },
    });
    expect(r.spec.maxLagSeconds).toBe(5);
    expect(r.spec.healthCheckIntervalSeconds).toBe(30);
  });
});

describe('invalid specs are refused with a message that says what to change', () => {
  const db = (spec: unknown) =>
    errorsOf(
      homeOpsDatabase.safeParse({
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'HomeOpsDatabase',
        metadata: {},
        spec,
      }),
    );

  it.each([
    [
      { pooler: { minPoolSize: 30 } },
      'spec.pooler.minPoolSize: pooler.minPoolSize must not exceed pooler.defaultPoolSize',
    ],
    [
      { pooler: { defaultPoolSize: 48 } },
      'spec.pooler.maxDbConnections: pooler.defaultPoolSize + pooler.reservePoolSize',
    ],
    [{ pooler: { poolMode: 'bogus' } }, 'spec.pooler.poolMode'],
    [
      { postgres: { parameters: { wal_level: 'minimal' } } },
      'parameters may not set settings the operator owns',
    ],
    [{ postgres: { storage: { size: '10 gigs' } } }, 'must be a Kubernetes quantity'],
    [{ partitioning: { tables: [{ table: 'transactions', column: 'd' }] } }, 'must be a schema-qualified'],
    [
      { partitioning: { tables: [{ table: 'a.b', column: 'd', retention: 'forever' }] } },
      'must be an interval',
    ],
    [{ maintenance: { schedule: 'sometimes' } }, 'must be a standard 5-field cron schedule'],
    [{ maintenance: { schedule: '0 0 2 * * 0' } }, 'a 6-field schedule (with seconds) is not accepted'],
    [{ monitoring: { cacheHitRatio: 1.5 } }, 'spec.monitoring.cacheHitRatio'],
  ])('%j', (spec, message) => {
    const errors = db(spec);
    expect(errors.join('\n')).toContain(message);
  });

  it('refuses more than one Redis in standalone mode', () => {
    const errors = errorsOf(
      cacheTier.safeParse({
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'CacheTier',
        metadata: {},
        spec: { replicas: 3 },
      }),
    );
    expect(errors.join('\n')).toContain('replicas > 1 needs mode: replicated');
  });

  it('refuses a ReplicaSet without a database, or with a lag of zero', () => {
    const base = { apiVersion: 'homeops.io/v1alpha1', kind: 'ReplicaSet', metadata: {} };
    expect(errorsOf(replicaSet.safeParse({ ...base, spec: {} })).join()).toContain('spec.databaseRef');
    expect(
      errorsOf(
        replicaSet.safeParse({ ...base, spec: { databaseRef: { name: 'db' }, maxLagSeconds: 0 } }),
      ).join(),
    ).toContain('spec.maxLagSeconds');
  });
});

describe('spec.postgres.parameters, as zod mirrors the CRD rules', () => {
  const parse = (parameters: Record<string, string>) =>
    homeOpsDatabaseSpec.safeParse({ postgres: { parameters } }).success;
  it('admits settings, custom placeholders and any printable value', () => {
    expect(
      parse({ work_mem: '8MB', 'pg_stat_statements.max': '10000', search_path: "'$user', public" }),
    ).toBe(true);
    expect(parse({ application_name: "it's C:\\x # not a comment" })).toBe(true);
  });
  it.each([
    ['an owned setting in another case', { Port: '5433' }],
    ['an include directive', { include_dir: 'conf.d' }],
    ['code loaded from a path', { session_preload_libraries: 'auto_explain' }],
    ['a name with a space', { 'work mem': '4MB' }],
    ['a name with two dots', { 'a.b.c': '1' }],
    ['a line break in a value', { work_mem: '4MB\nport = 1' }],
    ['a NUL in a value', { work_mem: '4MB\u0000' }],
  ])('refuses %s', (_what, parameters) => {
    expect(parse(parameters)).toBe(false);
  });
});
