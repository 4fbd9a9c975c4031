import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type HomeOpsDatabase, homeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { CHECKSUM_ANNOTATION } from '../../common/podspec.ts';
import { DEFAULT_IMAGES } from '../../images.ts';
import {
  buildChildren,
  buildConfigMap,
  buildPoolerDeployment,
  buildStatefulSet,
  postgresUid,
} from './builders.ts';

const samples = join(import.meta.dirname, '..', '..', '..', 'manifests', 'samples');
function sample(file: string): HomeOpsDatabase {
  const doc = parse(readFileSync(join(samples, file), 'utf8'));
  const db = homeOpsDatabase.parse(doc);
  return { ...db, metadata: { ...db.metadata, namespace: 'prod', uid: 'uid-1' } };
}
const minimal = sample('homeopsdatabase-minimal.yaml');
const full = sample('homeopsdatabase-full.yaml');
// biome-ignore lint/suspicious/noExplicitAny: test code walks built objects freely
type Any = Record<string, any>;

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
      "shared_preload_libraries = 'pg_stat_statements'",
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

  it('preloads timescaledb only when asked for, with a TimescaleDB image', () => {
    const ts = {
      ...full,
      spec: {
        ...full.spec,
        postgres: { ...full.spec.postgres, timescale: 'enabled' as const, image: undefined },
      },
    };
    const tsConf = (buildConfigMap(ts).data as Record<string, string>)['postgresql.conf']!;
    expect(tsConf).toContain("shared_preload_libraries = 'pg_stat_statements,timescaledb'");
    const pod = (buildStatefulSet(ts, 'd').spec as Any).template.spec;
    expect(pod.containers[0].image).toBe(DEFAULT_IMAGES.timescale);
    // timescaledb-ha runs as uid 1000, not 999: the pod follows the image.
    expect(pod.containers[0].securityContext.runAsUser).toBe(1000);
    expect(pod.securityContext.fsGroup).toBe(1000);
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

  it('roll the pods when the config or a Secret changes, and only then', () => {
    const checksum = (db: HomeOpsDatabase, digest: string) =>
      (buildStatefulSet(db, digest).spec as Any).template.metadata.annotations[CHECKSUM_ANNOTATION];
    const changed = {
      ...full,
      spec: {
        ...full.spec,
        postgres: {
          ...full.spec.postgres,
          parameters: { ...full.spec.postgres.parameters, work_mem: '8MB' },
        },
      },
    };
    expect(checksum(full, 'a')).toBe(checksum(full, 'a'));
    expect(checksum(changed, 'a')).not.toBe(checksum(full, 'a'));
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
