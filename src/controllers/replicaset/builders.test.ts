import { describe, expect, it } from 'vitest';
import { databaseObject as db, replicaSetObject as rs } from '../../../test/support/objects.ts';
import { buildReadService, buildReplicaConfigMap, buildReplicaStatefulSet } from './builders.ts';
import { READ_LABEL } from './names.ts';

interface Sts {
  replicas: number;
  persistentVolumeClaimRetentionPolicy: { whenScaled: string };
  template: {
    metadata: { labels: Record<string, string> };
    spec: { containers: { securityContext: unknown }[]; volumes: { secret?: { secretName: string } }[] };
  };
}

describe('builders', () => {
  const plan = { replicas: 2, readFromPrimary: false, secretsDigest: 'x' };
  it("gives members the primary's settings and their own slots", () => {
    const cm = buildReplicaConfigMap(rs(), db);
    const data = cm.data as Record<string, string>;
    expect(data['postgresql.conf']).toMatch(/^max_connections = 300$/m);
    expect(data['postgresql.conf']).toMatch(/^hot_standby = on$/m);
    expect(data['start.sh']).toContain(`slot="hors_reads_\${member##*-}"`);
    expect(data['start.sh']).toContain('pg_basebackup -h db-rw.ns.svc');
    expect(data['start.sh']).not.toMatch(/PGPASSWORD/);
  });
  it('runs the members non-root, read-only, with the replication Secret only', () => {
    const sts = buildReplicaStatefulSet(rs(), db, plan) as unknown as { spec: Sts };
    expect(sts.spec.replicas).toBe(2);
    const pod = sts.spec.template.spec;
    expect(pod.containers[0]?.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
    });
    expect(pod.volumes.filter((v) => v.secret).map((v) => v.secret!.secretName)).toEqual(['db-replication']);
    expect(sts.spec.persistentVolumeClaimRetentionPolicy.whenScaled).toBe('Delete');
    expect(sts.spec.template.metadata.labels).not.toHaveProperty(READ_LABEL);
  });
  it('routes the read Service to labelled members, or to the primary when the plan says', () => {
    expect((buildReadService(rs(), db, plan).spec as { selector: unknown }).selector).toEqual({
      'homeops.io/replicaset': 'reads',
      'homeops.io/role': 'replica',
      [READ_LABEL]: 'in',
    });
    expect(
      (buildReadService(rs(), db, { ...plan, readFromPrimary: true }).spec as { selector: unknown }).selector,
    ).toEqual({
      'homeops.io/database': 'db',
      'homeops.io/role': 'primary',
    });
  });
});
