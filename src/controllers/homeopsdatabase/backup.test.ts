import { describe, expect, it } from 'vitest';
import { homeDatabaseObject as db } from '../../../test/support/objects.ts';
import { homeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { CHECKSUM_ANNOTATION } from '../../common/podspec.ts';
import { backupSchedules } from '../dbjobs/schedules.ts';
import { buildBackupAccess, buildBackupRepoClaim, renderPgBackRestConf } from './backup.ts';
import { buildConfigMap, buildStatefulSet } from './builders.ts';
import { buildChildren } from './children.ts';
import { renderPostgresConf } from './pgconfig.ts';

// biome-ignore lint/suspicious/noExplicitAny: a built object, walked freely
type Any = any;
const checksum = (d: ReturnType<typeof db>) =>
  (buildStatefulSet(d, 'digest') as Any).spec.template.metadata.annotations[CHECKSUM_ANNOTATION];
const pod = (d: ReturnType<typeof db>) => (buildStatefulSet(d, 'digest') as Any).spec.template.spec;

describe('spec.backup as configuration', () => {
  const plain = db();
  const backed = db({ backup: {} });
  it('archives with pgbackrest archive-push only when asked; archive_timeout from the spec', () => {
    expect(renderPostgresConf(plain.spec)).not.toMatch(/archive_/);
    const conf = renderPostgresConf(db({ backup: { archiveTimeoutSeconds: 30 } }).spec);
    expect(conf).toContain('archive_mode = on');
    expect(conf).toContain(
      "archive_command = 'pgbackrest --config=/etc/homeops/config/pgbackrest.conf --stanza=db archive-push %p'",
    );
    expect(conf).toContain('archive_timeout = 30');
  });
  it('pgbackrest.conf: retention, async archiving spooled outside pg_wal, no queue limit that drops WAL', () => {
    const conf = renderPgBackRestConf(db({ backup: { retention: { full: 3, fullType: 'time' } } }));
    expect(conf).toContain('repo1-retention-full=3\nrepo1-retention-full-type=time');
    expect(conf).toContain('archive-async=y');
    expect(conf).toMatch(/spool-path=\/var\/lib\/postgresql\/data\/pgbackrest-spool\n/);
    expect(conf).not.toMatch(/pg_wal|archive-push-queue-max/);
    expect(conf).toContain('[db]\npg1-path=/var/lib/postgresql/data/pgdata');
  });
  it('pgBackRest reaches the server by peer over the socket, and only with backups', () => {
    expect((buildConfigMap(plain).data as Record<string, string>)['pg_hba.conf']).not.toMatch(/peer/);
    const hba = (buildConfigMap(backed).data as Record<string, string>)['pg_hba.conf']!;
    expect(hba.split('\n')[1]).toMatch(/^local\s+all\s+postgres\s+peer$/);
  });
  it('turning backups on rolls the primary (archive_mode); retention and archive_timeout do not', () => {
    expect(checksum(backed)).not.toBe(checksum(plain));
    expect(checksum(db({ backup: { retention: { full: 9 }, archiveTimeoutSeconds: 300 } }))).toBe(
      checksum(backed),
    );
  });
  it('the repository volume is mounted in the primary; pgbackrest.conf is in the config volume', () => {
    expect(pod(plain).volumes.map((v: Any) => v.name)).not.toContain('backup-repo');
    const spec = pod(backed);
    expect(spec.volumes.find((v: Any) => v.name === 'backup-repo').persistentVolumeClaim.claimName).toBe(
      'home-backup-repo',
    );
    expect(spec.containers[0].volumeMounts).toContainEqual({
      name: 'backup-repo',
      mountPath: '/var/lib/pgbackrest',
    });
    expect(
      spec.volumes.find((v: Any) => v.name === 'config').configMap.items.map((i: Any) => i.key),
    ).toContain('pgbackrest.conf');
  });
  it('the pod shares its PID namespace with backups, so no pgBackRest process is the postmaster’s child', () => {
    expect(pod(plain).shareProcessNamespace).toBeUndefined();
    expect(pod(backed).shareProcessNamespace).toBe(true);
  });
  it('the repository PVC outlives the database under Retain, and goes with it under Delete', () => {
    expect(buildBackupRepoClaim(backed).metadata.ownerReferences).toBeUndefined();
    const del = db({ backup: { repository: { volume: { size: '5Gi', reclaimPolicy: 'Delete' } } } });
    const pvc = buildBackupRepoClaim(del) as Any;
    expect(pvc.metadata.ownerReferences[0].uid).toBe('u1');
    expect(pvc.spec.resources.requests.storage).toBe('5Gi');
  });
  it("the backup Jobs' Role is exec into the primary pod, nothing else", () => {
    const [sa, role, binding] = buildBackupAccess(backed) as Any[];
    expect(sa.automountServiceAccountToken).toBe(false);
    expect(role.rules).toEqual([
      { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'], resourceNames: ['home-0'] },
    ]);
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'home-backup', namespace: 'ns' }]);
  });
  it('children: the repository PVC once (then only grown), the access objects while backups are on', () => {
    const kinds = (cs: Any[]) => cs.map((c) => `${c.kind}/${c.metadata.name}`);
    expect(kinds(buildChildren(plain, 'd'))).not.toContain('ServiceAccount/home-backup');
    expect(kinds(buildChildren(backed, 'd'))).toEqual(
      expect.arrayContaining([
        'PersistentVolumeClaim/home-backup-repo',
        'ServiceAccount/home-backup',
        'Role/home-backup',
      ]),
    );
    // The binding once the Role is there.
    expect(kinds(buildChildren(backed, 'd'))).not.toContain('RoleBinding/home-backup');
    expect(kinds(buildChildren(backed, 'd', undefined, {}, { role: true }))).toContain(
      'RoleBinding/home-backup',
    );
    expect(kinds(buildChildren(backed, 'd', undefined, {}, { repo: true }))).not.toContain(
      'PersistentVolumeClaim/home-backup-repo',
    );
  });
  it('a weekly full backup by default; diff and incr when scheduled', () => {
    expect(backupSchedules(plain)).toEqual([]);
    expect(backupSchedules(backed).map((s) => [s.id, s.schedule])).toEqual([['backup-full', '0 1 * * 0']]);
    const all = backupSchedules(db({ backup: { schedules: { full: '0 1 * * 0', incr: '0 1 * * 1-6' } } }));
    expect(all.map((s) => s.id)).toEqual(['backup-full', 'backup-incr']);
    expect(all[1]!.args).toEqual(['--type=incr', '--namespace=ns', '--pod=home-0']);
  });
  it('admission: archive_timeout is the operator’s with backups; two types on one schedule are refused', () => {
    expect(() =>
      homeOpsDatabaseSpec.parse({ backup: {}, postgres: { parameters: { Archive_Timeout: '5' } } }),
    ).toThrow(/archive_timeout/);
    expect(homeOpsDatabaseSpec.parse({ postgres: { parameters: { archive_timeout: '5' } } })).toBeTruthy();
    expect(() =>
      homeOpsDatabaseSpec.parse({ backup: { schedules: { full: '0 1 * * *', diff: '0 1 * * *' } } }),
    ).toThrow(/same schedule/);
  });
});
