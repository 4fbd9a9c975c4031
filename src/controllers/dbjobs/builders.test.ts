import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { buildMigrationJob, embeddingsOf, migrationInputs } from './builders.ts';
import { builtinDigest } from './migrations.ts';
import { jobName, RETRY_MIGRATIONS } from './names.ts';
import { benchArgs } from './schedules.ts';

const withSets = db({ migrations: { configMaps: [{ name: 'app-schema' }] } });
const cms = (data: Record<string, string> | undefined) => (name: string) =>
  name === 'app-schema' ? data : undefined;

describe('migration inputs', () => {
  const base = migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b1');
  const hashOf = (x: ReturnType<typeof migrationInputs>) => ('hash' in x ? x.hash : x.missing.join());
  it('the same inputs give the same Job; a changed ConfigMap, builtin set or retry annotation a new one', () => {
    expect(hashOf(migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b1'))).toBe(
      hashOf(base),
    );
    expect(hashOf(migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE b ()' }), 'b1'))).not.toBe(
      hashOf(base),
    );
    expect(hashOf(migrationInputs(withSets, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b2'))).not.toBe(
      hashOf(base),
    );
    const retried = db({ migrations: { configMaps: [{ name: 'app-schema' }] } }, { [RETRY_MIGRATIONS]: '1' });
    expect(hashOf(migrationInputs(retried, cms({ '0001_a.sql': 'CREATE TABLE a ()' }), 'b1'))).not.toBe(
      hashOf(base),
    );
    expect('summary' in base && base.summary).toBe('builtin@b1 configmap/app-schema');
  });
  it('a listed ConfigMap that does not exist makes no Job', () => {
    expect(migrationInputs(withSets, cms(undefined), 'b1')).toEqual({ missing: ['app-schema'] });
  });
  it('the builtin digest covers the shipped files', () => {
    expect(builtinDigest()).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('embeddings', () => {
  const vector = (embeddings: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) =>
    db({ postgres: { extensions: ['pg_stat_statements', 'vector@0.8.0'] }, embeddings, ...extra });
  const hash = (d: ReturnType<typeof db>) => {
    const x = migrationInputs(d, () => undefined, 'b1');
    return 'hash' in x ? x : undefined;
  };
  const args = (d: ReturnType<typeof db>) =>
    (
      buildMigrationJob(d, 'h', 's', 'img') as unknown as {
        spec: { template: { spec: { containers: { command: string[] }[] } } };
      }
    ).spec.template.spec.containers[0]!.command;

  it('are on when vector is declared and the builtin schema is on, and only then', () => {
    expect(embeddingsOf(vector())).toMatchObject({
      dimensions: 384,
      m: 16,
      efConstruction: 64,
      efSearch: 40,
    });
    expect(embeddingsOf(db())).toBeUndefined();
    expect(embeddingsOf(vector({}, { migrations: { builtin: false } }))).toBeUndefined();
    expect(args(db()).some((a) => a.startsWith('--embeddings'))).toBe(false);
    const flag = args(vector({ m: 24, efConstruction: 100 })).find((a) => a.startsWith('--embeddings='))!;
    expect(JSON.parse(flag.slice('--embeddings='.length))).toEqual({
      dimensions: 384,
      m: 24,
      efConstruction: 100,
      maintenanceWorkMem: '256MB',
    });
  });

  it("a new index's parameters make a new migration Job; the query's settings do not", () => {
    const base = hash(vector())!;
    expect(base.summary).toBe('builtin@b1 embeddings@m=16,ef_construction=64');
    expect(hash(vector({ m: 24, efConstruction: 64 }))!.hash).not.toBe(base.hash);
    expect(hash(vector({ maintenanceWorkMem: '1GB' }))!.hash).not.toBe(base.hash);
    expect(hash(vector({ efSearch: 100, targetMs: 5 }))!.hash).toBe(base.hash);
    // A database without embeddings keeps the digest it had before they existed.
    expect(hash(db())!.summary).toBe('builtin@b1');
  });

  it("the benchmark gets the similarity scenario's settings, only with the builtin scenarios", () => {
    const flag = benchArgs(vector({ efSearch: 100, targetMs: 5 })).find((a) => a.startsWith('--embeddings='));
    expect(JSON.parse(flag!.slice('--embeddings='.length))).toEqual({ efSearch: 100, targetMs: 5 });
    expect(
      benchArgs(vector({}, { benchmarks: { builtin: false } })).some((a) => a.startsWith('--embeddings')),
    ).toBe(false);
    expect(benchArgs(db()).some((a) => a.startsWith('--embeddings'))).toBe(false);
  });
});

describe('the migration Job', () => {
  type JobShape = {
    metadata: { name: string; labels: Record<string, string> };
    spec: {
      backoffLimit: number;
      podFailurePolicy: { rules: unknown[] };
      template: {
        spec: {
          restartPolicy: string;
          automountServiceAccountToken: boolean;
          containers: {
            command: string[];
            env: { name: string; value: string }[];
            securityContext: object;
          }[];
        };
      };
    };
  };
  const job = buildMigrationJob(withSets, 'abc123', 'builtin@b1', 'op:1') as unknown as JobShape;
  const c = job.spec.template.spec.containers[0]!;
  it('runs job migrate against the primary as the owner, the password from a mounted file', () => {
    expect(job.metadata.name).toBe('home-migrate-abc123');
    expect(c.command).toEqual([
      'node',
      '--liftoff-only',
      '/app/dist/main.js',
      'job',
      'migrate',
      '--set=app-schema:/etc/homeops/migrations/app-schema',
    ]);
    const env = Object.fromEntries(c.env.map((e) => [e.name, e.value]));
    expect(env).toEqual({
      PGHOST: 'home-rw.ns.svc',
      PGPORT: '5432',
      PGDATABASE: 'homeops',
      PGUSER: 'homeops',
      PGPASSWORD_FILE: '/etc/homeops/secrets/app/password',
    });
    expect(JSON.stringify(job)).not.toMatch(/PGPASSWORD"/);
  });
  it('is bounded: no retry of a failure the job reports, a deadline, hardened pods', () => {
    expect(job.spec.backoffLimit).toBe(2);
    expect(job.spec.podFailurePolicy.rules[0]).toEqual({
      action: 'FailJob',
      onExitCodes: { containerName: 'job', operator: 'In', values: [1, 2] },
    });
    expect(job.spec.template.spec.restartPolicy).toBe('Never');
    expect(c.securityContext).toMatchObject({ runAsNonRoot: true, readOnlyRootFilesystem: true });
    expect(job.spec.template.spec.automountServiceAccountToken).toBe(false);
  });
  it('keeps a long database name within 63 characters', () => {
    const long = db();
    long.metadata.name = 'a'.repeat(63);
    expect(jobName(long, 'migrate', '0123456789')).toHaveLength(63);
  });
});
