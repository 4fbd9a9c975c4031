/**
 * The desired children of a HomeOpsDatabase, as pure functions of the resource (and of digests
 * of its Secrets, for the checksum that rolls pods when they change). No I/O: reconcile applies
 * what these return, and tests read them directly.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import type { KubeObject } from '../../runtime/client.ts';
import { ownerRef } from '../../runtime/status.ts';
import {
  labels,
  names,
  POOLER_AUTH_USER,
  POOLER_PORT,
  POSTGRES_PORT,
  poolerSelector,
  selector,
  serviceHost,
} from './names.ts';
import { renderBootstrapScript, renderPgBouncerIni, renderPgHba, renderPostgresConf } from './pgconfig.ts';

export const DEFAULT_POSTGRES_IMAGE = 'docker.io/library/postgres:15';
export const DEFAULT_TIMESCALE_IMAGE = 'docker.io/timescale/timescaledb-ha:pg15';
export const DEFAULT_PGBOUNCER_IMAGE = 'ghcr.io/cloudnative-pg/pgbouncer:1.23.0';
export const CHECKSUM_ANNOTATION = 'homeops.io/config-checksum';

/** Whether the TimescaleDB library is preloaded: only when asked for explicitly. */
export const timescaleEnabled = (db: HomeOpsDatabase) => db.spec.postgres.timescale === 'enabled';

export function postgresImage(db: HomeOpsDatabase): string {
  return db.spec.postgres.image ?? (timescaleEnabled(db) ? DEFAULT_TIMESCALE_IMAGE : DEFAULT_POSTGRES_IMAGE);
}

const sha = (...parts: string[]) =>
  createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16);

function meta(db: HomeOpsDatabase, name: string, component: Parameters<typeof labels>[1]) {
  return {
    name,
    namespace: db.metadata.namespace,
    labels: labels(db, component),
    ownerReferences: [ownerRef(db as never)],
  };
}

/** Non-root, no privilege escalation, no capabilities, read-only root filesystem. */
function containerSecurity(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

export function buildPostgresConfigMap(db: HomeOpsDatabase): KubeObject {
  const n = names(db);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(db, n.config, 'config'),
    data: {
      'postgresql.conf': renderPostgresConf(db.spec, timescaleEnabled(db)),
      'pg_hba.conf': renderPgHba(),
      '10-homeops-bootstrap.sh': renderBootstrapScript(db.spec.database.name, db.spec.database.owner),
    },
  };
}

/** The config checksum in the pod template: a change to config or Secrets rolls the pod. */
export function configChecksum(configData: Record<string, string>, secretsDigest: string): string {
  return sha(JSON.stringify(configData), secretsDigest);
}

export function buildStatefulSet(db: HomeOpsDatabase, secretsDigest: string): KubeObject {
  const n = names(db);
  const pg = db.spec.postgres;
  const config = buildPostgresConfigMap(db).data as Record<string, string>;
  const secretVolume = (name: string, secret: string) => ({
    name,
    secret: { secretName: secret, defaultMode: 0o400 },
  });
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(db, n.statefulSet, 'postgres'),
    spec: {
      replicas: 1,
      serviceName: n.headlessService,
      selector: { matchLabels: selector(db) },
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate' },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: pg.storage.reclaimPolicy,
        whenScaled: 'Retain',
      },
      template: {
        metadata: {
          labels: { ...labels(db, 'postgres'), ...selector(db) },
          annotations: { [CHECKSUM_ANNOTATION]: configChecksum(config, secretsDigest) },
        },
        spec: {
          securityContext: { fsGroup: 999, runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          terminationGracePeriodSeconds: 60,
          enableServiceLinks: false,
          containers: [
            {
              name: 'postgres',
              image: postgresImage(db),
              args: ['-c', 'config_file=/etc/homeops/postgresql.conf'],
              ports: [{ name: 'postgres', containerPort: POSTGRES_PORT }],
              env: [
                { name: 'PGDATA', value: '/var/lib/postgresql/data/pgdata' },
                { name: 'POSTGRES_USER', value: 'postgres' },
                { name: 'POSTGRES_PASSWORD_FILE', value: '/etc/homeops/secrets/superuser/password' },
              ],
              readinessProbe: {
                exec: {
                  command: ['pg_isready', '-h', '127.0.0.1', '-p', String(POSTGRES_PORT), '-U', 'postgres'],
                },
                periodSeconds: 10,
                timeoutSeconds: 5,
              },
              livenessProbe: { tcpSocket: { port: POSTGRES_PORT }, periodSeconds: 10, failureThreshold: 6 },
              startupProbe: { tcpSocket: { port: POSTGRES_PORT }, periodSeconds: 5, failureThreshold: 120 },
              ...(pg.resources ? { resources: pg.resources } : {}),
              securityContext: containerSecurity(999),
              volumeMounts: [
                { name: 'data', mountPath: '/var/lib/postgresql/data' },
                {
                  name: 'config',
                  mountPath: '/etc/homeops/postgresql.conf',
                  subPath: 'postgresql.conf',
                  readOnly: true,
                },
                {
                  name: 'config',
                  mountPath: '/etc/homeops/pg_hba.conf',
                  subPath: 'pg_hba.conf',
                  readOnly: true,
                },
                {
                  name: 'config',
                  mountPath: '/docker-entrypoint-initdb.d/10-homeops-bootstrap.sh',
                  subPath: '10-homeops-bootstrap.sh',
                  readOnly: true,
                },
                { name: 'superuser', mountPath: '/etc/homeops/secrets/superuser', readOnly: true },
                { name: 'app', mountPath: '/etc/homeops/secrets/app', readOnly: true },
                { name: 'replication', mountPath: '/etc/homeops/secrets/replication', readOnly: true },
                { name: 'pooler', mountPath: '/etc/homeops/secrets/pooler', readOnly: true },
                { name: 'run', mountPath: '/var/run/postgresql' },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: n.config, defaultMode: 0o555 } },
            secretVolume('superuser', n.superuserSecret),
            secretVolume('app', n.appSecret),
            secretVolume('replication', n.replicationSecret),
            secretVolume('pooler', n.poolerSecret),
            { name: 'run', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [
        {
          apiVersion: 'v1',
          kind: 'PersistentVolumeClaim',
          metadata: { name: 'data', labels: labels(db, 'postgres') },
          spec: {
            accessModes: ['ReadWriteOnce'],
            resources: { requests: { storage: pg.storage.size } },
            ...(pg.storage.storageClassName ? { storageClassName: pg.storage.storageClassName } : {}),
          },
        },
      ],
    },
  };
}

function service(
  db: HomeOpsDatabase,
  name: string,
  sel: Record<string, string>,
  headless: boolean,
  component: 'postgres' | 'pooler',
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(db, name, component),
    spec: {
      ...(headless ? { clusterIP: 'None', publishNotReadyAddresses: true } : { type: 'ClusterIP' }),
      selector: sel,
      ports: [
        {
          name: 'postgres',
          port: component === 'pooler' ? POOLER_PORT : POSTGRES_PORT,
          targetPort: 'postgres',
          protocol: 'TCP',
        },
      ],
    },
  };
}

export const buildHeadlessService = (db: HomeOpsDatabase) =>
  service(db, names(db).headlessService, selector(db), true, 'postgres');
export const buildRwService = (db: HomeOpsDatabase) =>
  service(db, names(db).rwService, selector(db), false, 'postgres');

/** One primary: a voluntary eviction must wait for the operator (or the admin) to allow it. */
export function buildPrimaryPdb(db: HomeOpsDatabase): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(db, names(db).pdb, 'postgres'),
    spec: { minAvailable: 1, selector: { matchLabels: selector(db) } },
  };
}

export function buildPoolerConfigMap(db: HomeOpsDatabase): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(db, names(db).poolerConfig, 'pooler'),
    data: { 'pgbouncer.ini': renderPgBouncerIni(db.spec, serviceHost(db, names(db).rwService)) },
  };
}

export function buildPoolerDeployment(db: HomeOpsDatabase, secretsDigest: string): KubeObject {
  const n = names(db);
  const p = db.spec.pooler;
  const ini = (buildPoolerConfigMap(db).data as Record<string, string>)['pgbouncer.ini']!;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(db, n.pooler, 'pooler'),
    spec: {
      replicas: p.instances,
      selector: { matchLabels: poolerSelector(db) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...labels(db, 'pooler'), ...poolerSelector(db) },
          annotations: { [CHECKSUM_ANNOTATION]: configChecksum({ 'pgbouncer.ini': ini }, secretsDigest) },
        },
        spec: {
          securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
          enableServiceLinks: false,
          // userlist.txt holds only the auth user's own password, written from its Secret at start.
          initContainers: [
            {
              name: 'auth-file',
              image: p.image ?? DEFAULT_PGBOUNCER_IMAGE,
              command: [
                'sh',
                '-c',
                'printf \'"%s" "%s"\\n\' "$AUTH_USER" "$(cat /etc/pooler-secret/password)" > /etc/pgbouncer-auth/userlist.txt',
              ],
              env: [{ name: 'AUTH_USER', value: POOLER_AUTH_USER }],
              securityContext: containerSecurity(998),
              volumeMounts: [
                { name: 'pooler-secret', mountPath: '/etc/pooler-secret', readOnly: true },
                { name: 'auth', mountPath: '/etc/pgbouncer-auth' },
              ],
            },
          ],
          containers: [
            {
              name: 'pgbouncer',
              image: p.image ?? DEFAULT_PGBOUNCER_IMAGE,
              command: ['pgbouncer', '/etc/pgbouncer/pgbouncer.ini'],
              ports: [{ name: 'postgres', containerPort: POOLER_PORT }],
              readinessProbe: { tcpSocket: { port: POOLER_PORT }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: POOLER_PORT }, periodSeconds: 10, failureThreshold: 6 },
              ...(p.resources ? { resources: p.resources } : {}),
              securityContext: containerSecurity(998),
              volumeMounts: [
                { name: 'config', mountPath: '/etc/pgbouncer', readOnly: true },
                { name: 'auth', mountPath: '/etc/pgbouncer-auth', readOnly: true },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: n.poolerConfig } },
            { name: 'pooler-secret', secret: { secretName: n.poolerSecret, defaultMode: 0o400 } },
            { name: 'auth', emptyDir: { medium: 'Memory' } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
    },
  };
}

export const buildPoolerService = (db: HomeOpsDatabase) =>
  service(db, names(db).pooler, poolerSelector(db), false, 'pooler');

export function buildPoolerPdb(db: HomeOpsDatabase): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(db, names(db).pooler, 'pooler'),
    spec: { maxUnavailable: 1, selector: { matchLabels: poolerSelector(db) } },
  };
}

/** Every child the spec asks for, in apply order; the pooler's only when it is enabled. */
export function buildChildren(db: HomeOpsDatabase, secretsDigest: string): KubeObject[] {
  const out = [
    buildPostgresConfigMap(db),
    buildHeadlessService(db),
    buildRwService(db),
    buildStatefulSet(db, secretsDigest),
    buildPrimaryPdb(db),
  ];
  if (db.spec.pooler.enabled) {
    out.push(
      buildPoolerConfigMap(db),
      buildPoolerDeployment(db, secretsDigest),
      buildPoolerService(db),
      buildPoolerPdb(db),
    );
  }
  return out;
}

/** The pooler's children, to delete when the pooler is disabled. */
export function poolerChildren(db: HomeOpsDatabase): { kind: string; name: string }[] {
  const n = names(db);
  return [
    { kind: 'ConfigMap', name: n.poolerConfig },
    { kind: 'Deployment', name: n.pooler },
    { kind: 'Service', name: n.pooler },
    { kind: 'PodDisruptionBudget', name: n.pooler },
  ];
}
