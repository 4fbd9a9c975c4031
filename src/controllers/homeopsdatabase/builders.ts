/**
 * The desired children of a HomeOpsDatabase, as pure functions of the resource (and of digests
 * of its Secrets, for the checksum that rolls pods when they change). No I/O: reconcile applies
 * what these return, and tests read them directly.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { CHECKSUM_ANNOTATION, containerSecurity, placement } from '../../common/podspec.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { dataClaimTemplate, pdbObject, podSecurityContext, serviceObject } from '../../runtime/objects.ts';
import { ownerRef } from '../../runtime/status.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { backupPod, renderPgBackRestConf } from './backup.ts';
import { preloadLibraries } from './extensions.ts';
import {
  CONFIG_DIR,
  DATA_DIR,
  dbLabels,
  dbNames,
  dbSelector,
  POOLER_PORT,
  POSTGRES_PORT,
  SECRETS_DIR,
  SOCKET_DIR,
} from './names.ts';
import {
  FAILED_ANNOTATION,
  failedAnnotation,
  PARAMETERS_ANNOTATION,
  type ParameterRecord,
  parametersAnnotation,
  RAN_ANNOTATION,
  withParameters,
} from './parameters.ts';
import { POOLER_KEY_PREFIX, poolerFiles } from './pgbouncerconf.ts';
import { needsRestart, renderPgHba, renderPostgresConf, renderPostgresStartScript } from './pgconfig.ts';
import { RECOVERY_ANNOTATION, type RecoveryPlan, renderRestoreConf } from './recovery.ts';

/** The uid each default image runs PostgreSQL as (postgres:15 and the local image: 999). */
const TIMESCALE_HA_UID = 1000;
const POSTGRES_UID = 999;
/** Whether the TimescaleDB library is preloaded: only when asked for explicitly. */
export const timescaleEnabled = (db: HomeOpsDatabase) => db.spec.postgres.timescale === 'enabled';

export function postgresImage(db: HomeOpsDatabase, images: DefaultImages = DEFAULT_IMAGES): string {
  return db.spec.postgres.image ?? (timescaleEnabled(db) ? images.timescale : images.postgres);
}

/** The uid: the spec's, else 1000 for the timescaledb-ha image family, else 999. */
export function postgresUid(db: HomeOpsDatabase, images: DefaultImages = DEFAULT_IMAGES): number {
  if (db.spec.postgres.runAsUser !== undefined) return db.spec.postgres.runAsUser;
  return /timescaledb-ha/.test(postgresImage(db, images)) ? TIMESCALE_HA_UID : POSTGRES_UID;
}

const sha = (...parts: string[]) =>
  createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 16);

export function meta(db: HomeOpsDatabase, name: string, component: Parameters<typeof dbLabels>[1]) {
  return {
    name,
    namespace: db.metadata.namespace,
    labels: dbLabels(db, component),
    ownerReferences: [ownerRef(db as never)],
  };
}

/**
 * The postgres container's probes and fast shutdown, the same on a primary and a replica:
 * pg_isready over the socket (a hot standby accepts connections, so it is Ready), TCP for
 * liveness and start-up (a first start may run initdb or a base backup for minutes).
 */
export function postgresProbes() {
  return {
    readinessProbe: {
      exec: {
        command: ['pg_isready', '-h', SOCKET_DIR, '-p', String(POSTGRES_PORT), '-U', 'postgres'],
      },
      periodSeconds: 10,
      timeoutSeconds: 5,
    },
    livenessProbe: { tcpSocket: { port: POSTGRES_PORT }, periodSeconds: 10, failureThreshold: 6 },
    // A fast shutdown: SIGTERM alone is PostgreSQL's smart shutdown, which waits for
    // every client (PgBouncer keeps its server connections) until the grace period ends.
    lifecycle: {
      preStop: {
        exec: {
          command: [
            'sh',
            '-c',
            'command -v pg_ctl >/dev/null || PATH="$PATH:$(ls -d /usr/lib/postgresql/*/bin | tail -n1)"; exec pg_ctl -D "$PGDATA" -m fast -w -t 50 stop',
          ],
        },
      },
    },
    startupProbe: { tcpSocket: { port: POSTGRES_PORT }, periodSeconds: 5, failureThreshold: 120 },
  };
}

/** The primary's files: mounted whole by the StatefulSet. */
function postgresFiles(db: HomeOpsDatabase, recovery?: RecoveryPlan): Record<string, string> {
  return {
    'postgresql.conf': renderPostgresConf(db.spec),
    'pg_hba.conf': renderPgHba(!!db.spec.backup),
    'start.sh': renderPostgresStartScript(
      db.spec.database.name,
      db.spec.database.owner,
      preloadLibraries(db),
      db.spec,
      recovery,
    ),
    ...(db.spec.backup ? { 'pgbackrest.conf': renderPgBackRestConf(db) } : {}),
    ...(recovery ? { 'pgbackrest-restore.conf': renderRestoreConf(recovery) } : {}),
  };
}

/**
 * `db` as far as a restart goes: without the parameters PostgreSQL applies on reload, and with
 * backups on or off but not their reloadable details (archive_timeout).
 */
export function restartView<T extends HomeOpsDatabase>(db: T): T {
  const params = db.spec.postgres.parameters;
  const view = withParameters(
    db,
    Object.fromEntries(Object.entries(params).filter(([k]) => needsRestart(k))),
  );
  const backup = view.spec.backup;
  return backup
    ? { ...view, spec: { ...view.spec, backup: { ...backup, archiveTimeoutSeconds: 60 } } }
    : view;
}

/**
 * The primary's files as far as a restart goes. pgbackrest.conf is read by each pgBackRest
 * command, from the ConfigMap volume the kubelet keeps current: no restart for it.
 */
const restartFiles = (db: HomeOpsDatabase, recovery?: RecoveryPlan) => {
  const { 'pgbackrest.conf': _, ...files } = postgresFiles(restartView(db), recovery);
  return files;
};

/**
 * One ConfigMap for the database: the primary's files, and PgBouncer's (prefixed) when the
 * pooler is enabled. Each pod mounts only its own keys, and each pod template's checksum covers
 * only its own files, so a pooler change never restarts the primary. One object, not two: one
 * request less per database to converge.
 */
export function buildConfigMap(
  db: HomeOpsDatabase,
  record: ParameterRecord = {},
  recovery?: RecoveryPlan,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      ...meta(db, dbNames(db).config, 'config'),
      // What the parameter gate compares a change with (parameters.ts).
      annotations: {
        [PARAMETERS_ANNOTATION]: parametersAnnotation(db.spec.postgres.parameters),
        ...(record.ran ? { [RAN_ANNOTATION]: parametersAnnotation(record.ran) } : {}),
        ...(record.failed ? { [FAILED_ANNOTATION]: failedAnnotation(record.failed) } : {}),
        // The backup this database is made from, decided once (recovery.ts).
        ...(recovery ? { [RECOVERY_ANNOTATION]: JSON.stringify(recovery) } : {}),
      },
    },
    data: {
      ...postgresFiles(db, recovery),
      ...(db.spec.pooler.enabled
        ? Object.fromEntries(Object.entries(poolerFiles(db)).map(([k, v]) => [`${POOLER_KEY_PREFIX}${k}`, v]))
        : {}),
    },
  };
}

/** The config checksum in the pod template: a change to config or Secrets rolls the pod. */
export function configChecksum(configData: Record<string, string>, secretsDigest: string): string {
  return sha(JSON.stringify(configData), secretsDigest);
}

export function buildStatefulSet(
  db: HomeOpsDatabase,
  secretsDigest: string,
  images: DefaultImages = DEFAULT_IMAGES,
  recovery?: RecoveryPlan,
): KubeObject {
  const n = dbNames(db);
  const pg = db.spec.postgres;
  const uid = postgresUid(db, images);
  const config = postgresFiles(db, recovery);
  const backup = backupPod(db, recovery);
  const probes = postgresProbes();
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
      selector: { matchLabels: dbSelector(db) },
      podManagementPolicy: 'OrderedReady',
      updateStrategy: { type: 'RollingUpdate' },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: pg.storage.reclaimPolicy,
        whenScaled: 'Retain',
      },
      template: {
        metadata: {
          labels: { ...dbLabels(db, 'postgres'), ...dbSelector(db) },
          // Only what a restart must follow: a setting PostgreSQL reloads does not roll the pod.
          annotations: { [CHECKSUM_ANNOTATION]: configChecksum(restartFiles(db, recovery), secretsDigest) },
        },
        spec: {
          securityContext: podSecurityContext(uid),
          ...placement(pg.scheduling),
          terminationGracePeriodSeconds: 60,
          enableServiceLinks: false,
          ...backup.podSpec,
          containers: [
            {
              name: 'postgres',
              image: postgresImage(db, images),
              // The operator's own start script: no image entrypoint is used.
              command: ['sh', `${CONFIG_DIR}/start.sh`],
              // A failed start's last log lines (PostgreSQL's FATAL) reach the pod's status.
              terminationMessagePolicy: 'FallbackToLogsOnError',
              ports: [{ name: 'postgres', containerPort: POSTGRES_PORT }],
              env: [
                { name: 'PGDATA', value: `${DATA_DIR}/pgdata` },
                { name: 'HOME', value: '/tmp' },
                ...backup.env,
              ],
              ...probes,
              // A restore and its WAL replay run before the server listens: up to 12 hours.
              ...(recovery ? { startupProbe: { ...probes.startupProbe, failureThreshold: 8640 } } : {}),
              ...(pg.resources ? { resources: pg.resources } : {}),
              securityContext: containerSecurity(uid),
              volumeMounts: [
                { name: 'data', mountPath: DATA_DIR },
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'superuser', mountPath: `${SECRETS_DIR}/superuser`, readOnly: true },
                { name: 'app', mountPath: `${SECRETS_DIR}/app`, readOnly: true },
                { name: 'replication', mountPath: `${SECRETS_DIR}/replication`, readOnly: true },
                { name: 'pooler', mountPath: `${SECRETS_DIR}/pooler`, readOnly: true },
                { name: 'run', mountPath: SOCKET_DIR },
                { name: 'tmp', mountPath: '/tmp' },
                ...backup.mounts,
              ],
            },
          ],
          volumes: [
            {
              name: 'config',
              configMap: {
                name: n.config,
                defaultMode: 0o444,
                items: Object.keys(config).map((k) => ({ key: k, path: k })),
              },
            },
            secretVolume('superuser', n.superuserSecret),
            secretVolume('app', n.appSecret),
            secretVolume('replication', n.replicationSecret),
            secretVolume('pooler', n.poolerSecret),
            { name: 'run', emptyDir: {} },
            { name: 'tmp', emptyDir: {} },
            ...backup.volumes,
          ],
        },
      },
      volumeClaimTemplates: [dataClaimTemplate(dbLabels(db, 'postgres'), pg.storage)],
    },
  };
}

export function service(
  db: HomeOpsDatabase,
  name: string,
  sel: Record<string, string>,
  headless: boolean,
  component: 'postgres' | 'pooler',
): KubeObject {
  return serviceObject(meta(db, name, component), {
    selector: sel,
    port: { name: 'postgres', port: component === 'pooler' ? POOLER_PORT : POSTGRES_PORT },
    headless,
  });
}

export const buildHeadlessService = (db: HomeOpsDatabase) =>
  service(db, dbNames(db).headlessService, dbSelector(db), true, 'postgres');
export const buildRwService = (db: HomeOpsDatabase) =>
  service(db, dbNames(db).rwService, dbSelector(db), false, 'postgres');

/** One primary: a voluntary eviction must wait for the operator (or the admin) to allow it. */
export function buildPrimaryPdb(db: HomeOpsDatabase): KubeObject {
  return pdbObject(meta(db, dbNames(db).pdb, 'postgres'), dbSelector(db), { minAvailable: 1 });
}
