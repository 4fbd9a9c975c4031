import { describe, expect, it } from 'vitest';
import type { Any } from '../../../test/support/objects.ts';
import { sampleDatabase as sample } from '../../../test/support/objects.ts';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { CHECKSUM_ANNOTATION } from '../../common/podspec.ts';
import { buildStatefulSet } from './builders.ts';
import { buildChildren } from './children.ts';
import { buildPoolerDeployment } from './pooler.ts';

const minimal = sample('homeopsdatabase-minimal.yaml');
const full = sample('homeopsdatabase-full.yaml');

describe('children', () => {
  it('all have a controller ownerReference to the database', () => {
    for (const child of buildChildren(full, 'd')) {
      expect(child.metadata.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'HomeOpsDatabase',
          name: 'homeops-full',
          uid: 'uid-1',
          controller: true,
        }),
      ]);
    }
  });

  it('include the pooler only when it is enabled', () => {
    const kinds = (db: HomeOpsDatabase) => buildChildren(db, 'd').map((c) => `${c.kind}/${c.metadata.name}`);
    expect(kinds(minimal)).toEqual([
      'ConfigMap/homeops-config',
      'Service/homeops-hl',
      'Service/homeops-rw',
      'StatefulSet/homeops',
      'PodDisruptionBudget/homeops',
      'Deployment/homeops-pooler',
      'Service/homeops-pooler',
      'PodDisruptionBudget/homeops-pooler',
    ]);
    const off = { ...minimal, spec: { ...minimal.spec, pooler: { ...minimal.spec.pooler, enabled: false } } };
    expect(kinds(off).some((k) => k.includes('pooler'))).toBe(false);
  });

  it('run PostgreSQL non-root with a read-only root filesystem and keep PVCs under Retain', () => {
    const sts = buildStatefulSet(full, 'd').spec as Any;
    const c = sts.template.spec.containers[0];
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(c.securityContext.capabilities.drop).toEqual(['ALL']);
    expect(sts.persistentVolumeClaimRetentionPolicy).toEqual({ whenDeleted: 'Retain', whenScaled: 'Retain' });
    expect(sts.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20Gi');
    expect(c.resources).toEqual({ requests: { cpu: '500m', memory: '1Gi' }, limits: { memory: '2Gi' } });
    // Writable places are volumes: data, the socket directory and /tmp.
    expect(c.volumeMounts.map((m: Any) => m.mountPath)).toEqual(
      expect.arrayContaining(['/var/lib/postgresql/data', '/var/run/postgresql', '/tmp']),
    );
  });

  it('roll the pods when a setting read at start or a Secret changes, and only then', () => {
    const checksum = (db: HomeOpsDatabase, digest: string) =>
      (buildStatefulSet(db, digest).spec as Any).template.metadata.annotations[CHECKSUM_ANNOTATION];
    const config = (db: HomeOpsDatabase) =>
      (buildChildren(db, 'a').find((o) => o.kind === 'ConfigMap') as Any).data['postgresql.conf'];
    const withParams = (p: Record<string, string>) => ({
      ...full,
      spec: {
        ...full.spec,
        postgres: { ...full.spec.postgres, parameters: { ...full.spec.postgres.parameters, ...p } },
      },
    });
    expect(checksum(full, 'a')).toBe(checksum(full, 'a'));
    // A restart setting (and an extension's) rolls the pod.
    expect(checksum(withParams({ shared_buffers: '256MB' }), 'a')).not.toBe(checksum(full, 'a'));
    expect(checksum(withParams({ 'pg_stat_statements.max': '10000' }), 'a')).not.toBe(checksum(full, 'a'));
    // A setting PostgreSQL reloads changes the file, not the pod: the operator reloads it.
    expect(checksum(withParams({ work_mem: '8MB' }), 'a')).toBe(checksum(full, 'a'));
    expect(config(withParams({ work_mem: '8MB' }))).not.toBe(config(full));
    expect(config(withParams({ work_mem: '8MB' }))).toMatch(/^homeops\.config_digest = '[0-9a-f]{16}'$/m);
    expect(checksum(full, 'b')).not.toBe(checksum(full, 'a'));
    const deploy = (digest: string) =>
      (buildPoolerDeployment(full, digest).spec as Any).template.metadata.annotations[CHECKSUM_ANNOTATION];
    expect(deploy('a')).not.toBe(deploy('b'));
  });

  it('run PgBouncer with spec.pooler.instances replicas and TCP readiness', () => {
    const d = buildPoolerDeployment(full, 'd').spec as Any;
    expect(d.replicas).toBe(2);
    expect(d.template.spec.containers[0].readinessProbe).toEqual({
      tcpSocket: { port: 5432 },
      periodSeconds: 5,
    });
  });
});
