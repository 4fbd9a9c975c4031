import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { buildMigrationJob, migrationInputs } from './builders.ts';
import { builtinDigest } from './migrations.ts';
import { jobName, RETRY_MIGRATIONS } from './names.ts';

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
