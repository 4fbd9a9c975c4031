import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { homeOpsDatabaseSpec, recoverySpec } from '../../api/v1alpha1/index.ts';
import { CHECKSUM_ANNOTATION } from '../../common/podspec.ts';
import { TerminalError } from '../../runtime/result.ts';
import { renderPgBackRestConf } from './backup.ts';
import { buildConfigMap, buildStatefulSet } from './builders.ts';
import { buildChildren } from './children.ts';
import { planRecovery, renderRestoreConf, restoreScript, sourceRepoVolume } from './recovery.ts';
import { buildS3Secret, readingSecret, readS3Keys } from './repository.ts';

// biome-ignore lint/suspicious/noExplicitAny: a built object, walked freely
type Any = any;
const s3 = (extra: Record<string, unknown> = {}) => ({
  backup: {
    repository: {
      s3: {
        endpoint: '198.18.1.1:8333',
        bucket: 'backups',
        uriStyle: 'path',
        credentials: { name: 'creds' },
        ...extra,
      },
    },
  },
});
const secret = (data: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 'creds', namespace: 'ns' },
  data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
});
const reason = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return e instanceof TerminalError ? `${e.reason}: ${e.message}` : `not terminal: ${e}`;
  }
  return 'no error';
};

describe('an S3 repository', () => {
  it('admission: volume or s3, not both; an endpoint is host[:port], no scheme', () => {
    const parse = (repository: unknown) =>
      homeOpsDatabaseSpec.safeParse({ ...db().spec, backup: { repository } });
    expect(parse({ volume: {}, s3: s3().backup.repository.s3 }).error?.message).toMatch(
      /volume or s3, not both/,
    );
    expect(parse({ s3: { ...s3().backup.repository.s3, endpoint: 'https://s3.example' } }).success).toBe(
      false,
    );
    expect(parse({ s3: { ...s3().backup.repository.s3, bucket: 'UPPER' } }).success).toBe(false);
    expect(parse({ s3: s3().backup.repository.s3 }).success).toBe(true);
  });
  it('pgbackrest.conf names the bucket, endpoint and port, one path per database, and holds no key', () => {
    const conf = renderPgBackRestConf(db(s3()));
    expect(conf).toContain(
      'repo1-type=s3\nrepo1-path=/homeops/ns/home\nrepo1-s3-bucket=backups\nrepo1-s3-endpoint=198.18.1.1\nrepo1-storage-port=8333\nrepo1-s3-region=us-east-1\nrepo1-s3-uri-style=path\n',
    );
    expect(conf).not.toMatch(/repo1-storage-ca-file|s3-key/);
    expect(renderPgBackRestConf(db(s3({ caSecretRef: { name: 'ca' }, path: '/x' })))).toMatch(
      /repo1-path=\/x\n[\s\S]*repo1-storage-ca-file=\/etc\/homeops\/backup-s3\/ca.crt/,
    );
  });
  it('no repository volume; the pod reads the include files from NAME-backup-s3, path from the environment', () => {
    const d = db(s3());
    const kinds = buildChildren(
      d,
      'x',
      undefined,
      {},
      {},
      undefined,
      buildS3Secret(d, { accessKeyId: 'A', secretAccessKey: 'B' }),
    ).map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds).not.toContain('PersistentVolumeClaim/home-backup-repo');
    expect(kinds).toContain('Secret/home-backup-s3');
    const pod = (buildStatefulSet(d, 'x') as Any).spec.template.spec;
    expect(pod.volumes).toContainEqual({
      name: 'backup-repo',
      secret: { secretName: 'home-backup-s3', defaultMode: 0o400 },
    });
    expect(pod.containers[0].volumeMounts).toContainEqual({
      name: 'backup-repo',
      mountPath: '/etc/homeops/backup-s3',
      readOnly: true,
    });
    expect(pod.containers[0].env).toContainEqual({
      name: 'PGBACKREST_CONFIG_INCLUDE_PATH',
      value: '/etc/homeops/backup-s3',
    });
    expect(pod.shareProcessNamespace).toBe(true);
  });
  it('the keys go only into the Secret, in pgBackRest format; a rotation restarts nothing', () => {
    const d = db(s3());
    const made = buildS3Secret(d, { accessKeyId: 'AKID1', secretAccessKey: 'sek/ret+1' }) as Any;
    expect(made.stringData['s3.conf']).toBe('[global]\nrepo1-s3-key=AKID1\nrepo1-s3-key-secret=sek/ret+1\n');
    expect(made.metadata.ownerReferences).toHaveLength(1);
    const everythingElse = JSON.stringify([buildConfigMap(d), buildStatefulSet(d, 'x')]);
    expect(everythingElse).not.toMatch(/AKID1|sek\/ret/);
    // The checksum that rolls the pod does not cover NAME-backup-s3.
    const sum = (o: Any) => o.spec.template.metadata.annotations[CHECKSUM_ANNOTATION];
    expect(sum(buildStatefulSet(db(s3()), 'x'))).toBe(sum(buildStatefulSet(d, 'x')));
  });
  it('a credentials Secret without a key, or with whitespace in one, is refused by name, never by value', () => {
    expect(reason(() => readS3Keys(secret({ accessKeyId: 'A' }) as never))).toBe(
      'InvalidBackupCredentials: Secret creds (backup.repository.s3.credentials) has no "secretAccessKey" key',
    );
    const r = reason(() => readS3Keys(secret({ accessKeyId: 'A', secretAccessKey: 'top secret' }) as never));
    expect(r).toMatch(/^InvalidBackupCredentials: .*"secretAccessKey" is empty or holds whitespace/);
    expect(r).not.toContain('top secret');
    expect(readS3Keys(secret({ accessKeyId: 'A', secretAccessKey: 'B' }) as never)).toEqual({
      accessKeyId: 'A',
      secretAccessKey: 'B',
    });
  });
  it('a change to the credentials or the CA Secret wakes the databases that read it, in its namespace', () => {
    const a = db(s3({ caSecretRef: { name: 'ca' } }));
    const other = { ...db(s3()), metadata: { name: 'o', namespace: 'elsewhere' } };
    expect(readingSecret([a, other, db()], secret({}) as never)).toEqual([a]);
    expect(readingSecret([a], { ...secret({}), metadata: { name: 'ca', namespace: 'ns' } } as never)).toEqual(
      [a],
    );
  });
  it('a recovery from an S3 source reads its bucket with its Secret, read-only', () => {
    const source = {
      ...db(s3()),
      status: {
        backup: {
          backups: [{ label: 'F1', type: 'full' as const, startTime: 'x', stopTime: '2026-12-01T00:00:00Z' }],
        },
      },
    };
    const plan = planRecovery(recoverySpec.parse({ source: 'home', target: {} }), source);
    expect(plan.repo).toMatchObject({
      kind: 's3',
      secret: 'home-backup-s3',
      s3: { path: '/homeops/ns/home' },
    });
    expect(renderRestoreConf(plan)).toContain('repo1-type=s3\nrepo1-path=/homeops/ns/home\n');
    expect(sourceRepoVolume(plan).volume).toEqual({
      name: 'recovery-repo',
      secret: { secretName: 'home-backup-s3', defaultMode: 0o400 },
    });
    const script = restoreScript(plan, 'homeops');
    expect(script.match(/--config-include-path=\/etc\/homeops\/recovery-s3/g)).toHaveLength(2);
  });
});
