import { describe, expect, it } from 'vitest';
import type { Any } from '../../../test/support/objects.ts';
import { sampleDatabase as sample } from '../../../test/support/objects.ts';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { buildConfigMap, buildStatefulSet, postgresUid } from './builders.ts';
import { buildPoolerDeployment } from './pooler.ts';

const minimal = sample('homeopsdatabase-minimal.yaml');
const full = sample('homeopsdatabase-full.yaml');

describe('images, the image contract and placement', () => {
  const local = {
    postgres: 'localhost/homeops/postgres:15',
    timescale: 'ts:1',
    pgbouncer: 'localhost/pgb:1',
    redis: 'r:1',
  };

  it("use the operator's default images unless the spec names one", () => {
    const pod = (db: HomeOpsDatabase) => (buildStatefulSet(db, 'd', local).spec as Any).template.spec;
    expect(pod(minimal).containers[0].image).toBe('localhost/homeops/postgres:15');
    const own = {
      ...minimal,
      spec: { ...minimal.spec, postgres: { ...minimal.spec.postgres, image: 'mine:1' } },
    };
    expect(pod(own).containers[0].image).toBe('mine:1');
    const pooler = (buildPoolerDeployment(minimal, 'd', local).spec as Any).template.spec;
    expect(pooler.containers[0].image).toBe('localhost/pgb:1');
  });

  it("start PostgreSQL and PgBouncer with the operator's scripts, never an image entrypoint", () => {
    const c = (buildStatefulSet(minimal, 'd').spec as Any).template.spec.containers[0];
    expect(c.command).toEqual(['sh', '/etc/homeops/config/start.sh']);
    expect(c.args).toBeUndefined();
    expect(c.env.map((e: Any) => e.name)).not.toContain('POSTGRES_PASSWORD_FILE');
    const cm = buildConfigMap(minimal).data as Record<string, string>;
    expect(Object.keys(cm).sort()).toEqual([
      'pg_hba.conf',
      'pgbouncer-pgbouncer.ini',
      'pgbouncer-start.sh',
      'postgresql.conf',
      'start.sh',
    ]);
    expect(cm['postgresql.conf']).toContain("hba_file = '/etc/homeops/config/pg_hba.conf'");
    const p = (buildPoolerDeployment(minimal, 'd').spec as Any).template.spec;
    expect(p.initContainers).toBeUndefined();
    expect(p.containers[0].command).toEqual(['sh', '/etc/pgbouncer/start.sh']);
    expect(cm['pgbouncer-pgbouncer.ini']).toContain('auth_file = /var/run/pgbouncer/userlist.txt');
    expect(cm['pgbouncer-start.sh']).toContain('> /var/run/pgbouncer/userlist.txt');
  });

  it('share one ConfigMap: each pod mounts only its own files, and a pooler change does not roll the primary', () => {
    const volume = (spec: Any) => spec.template.spec.volumes.find((v: Any) => v.name === 'config').configMap;
    const sts = volume(buildStatefulSet(minimal, 'd').spec as Any);
    const dep = volume(buildPoolerDeployment(minimal, 'd').spec as Any);
    expect(sts.name).toBe('homeops-config');
    expect(dep.name).toBe('homeops-config');
    expect(sts.items.map((i: Any) => i.path).sort()).toEqual(['pg_hba.conf', 'postgresql.conf', 'start.sh']);
    expect(dep.items).toEqual([
      { key: 'pgbouncer-pgbouncer.ini', path: 'pgbouncer.ini' },
      { key: 'pgbouncer-start.sh', path: 'start.sh' },
    ]);
    // Every key mounted exists in the ConfigMap.
    const keys = Object.keys(buildConfigMap(minimal).data as object);
    for (const i of [...sts.items, ...dep.items]) expect(keys).toContain(i.key);
    const checksum = (spec: Any) => spec.template.metadata.annotations['homeops.io/config-checksum'];
    const bigger = {
      ...minimal,
      spec: { ...minimal.spec, pooler: { ...minimal.spec.pooler, defaultPoolSize: 7 } },
    } as HomeOpsDatabase;
    expect(checksum(buildStatefulSet(bigger, 'd').spec as Any)).toBe(
      checksum(buildStatefulSet(minimal, 'd').spec as Any),
    );
    expect(checksum(buildPoolerDeployment(bigger, 'd').spec as Any)).not.toBe(
      checksum(buildPoolerDeployment(minimal, 'd').spec as Any),
    );
    // The pooler disabled: its keys leave the ConfigMap.
    const off = { ...minimal, spec: { ...minimal.spec, pooler: { ...minimal.spec.pooler, enabled: false } } };
    expect(Object.keys(buildConfigMap(off).data as object).some((k) => k.startsWith('pgbouncer-'))).toBe(
      false,
    );
  });

  it('bootstrap a new cluster beside PGDATA and move it into place only when complete', () => {
    const script = (buildConfigMap(full).data as Record<string, string>)['start.sh']!;
    const at = (s: string) => {
      const i = script.indexOf(s);
      expect(i, s).toBeGreaterThanOrEqual(0);
      return i;
    };
    expect(at('initdb -D "$init"')).toBeLessThan(at('CREATE ROLE'));
    expect(at('CREATE ROLE')).toBeLessThan(at('pgbouncer.get_auth'));
    expect(at('pgbouncer.get_auth')).toBeLessThan(at('mv "$init" "$PGDATA"'));
    expect(at('mv "$init" "$PGDATA"')).toBeLessThan(at('exec postgres'));
    expect(script).toContain('--pwfile=/etc/homeops/secrets/superuser/password');
    // Passwords go through psql variables, never into the script's text.
    expect(script).toContain("PASSWORD :'app_password'");
    expect(script.startsWith('#!/bin/sh')).toBe(true);
  });

  it("run as the uid the spec sets, else the default image family's", () => {
    expect(postgresUid(minimal)).toBe(999);
    const ha = {
      ...minimal,
      spec: { ...minimal.spec, postgres: { ...minimal.spec.postgres, image: 'x/timescaledb-ha:pg15' } },
    };
    expect(postgresUid(ha)).toBe(1000);
    const own = { ...ha, spec: { ...ha.spec, postgres: { ...ha.spec.postgres, runAsUser: 26 } } };
    expect(postgresUid(own)).toBe(26);
    const c = (buildStatefulSet(own, 'd').spec as Any).template.spec.containers[0];
    expect(c.securityContext.runAsUser).toBe(26);
  });

  it('copy nodeSelector, tolerations and affinity into the pod templates, and nothing when unset', () => {
    const scheduling = {
      nodeSelector: { type: 'kwok' },
      tolerations: [
        { key: 'kwok.x-k8s.io/node', operator: 'Exists' as const, effect: 'NoSchedule' as const },
      ],
      affinity: { podAntiAffinity: {} },
    };
    const placed = {
      ...minimal,
      spec: {
        ...minimal.spec,
        postgres: { ...minimal.spec.postgres, scheduling },
        pooler: { ...minimal.spec.pooler, scheduling: { nodeSelector: { zone: 'a' } } },
      },
    };
    const pod = (buildStatefulSet(placed, 'd').spec as Any).template.spec;
    expect(pod).toMatchObject(scheduling);
    const pooler = (buildPoolerDeployment(placed, 'd').spec as Any).template.spec;
    expect(pooler.nodeSelector).toEqual({ zone: 'a' });
    expect(pooler.tolerations).toBeUndefined();
    const plain = (buildStatefulSet(minimal, 'd').spec as Any).template.spec;
    expect('nodeSelector' in plain || 'tolerations' in plain || 'affinity' in plain).toBe(false);
  });
});
