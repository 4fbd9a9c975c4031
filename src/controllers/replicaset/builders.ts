/**
 * The desired children of a ReplicaSet, as pure functions of it, the database it follows and
 * what reconcile decided (how many members may run, where the read Service routes). No I/O.
 */
import type { HomeOpsDatabase, ReplicaSet } from '../../api/v1alpha1/index.ts';
import { serviceHost } from '../../common/hosts.ts';
import { CHECKSUM_ANNOTATION, containerSecurity, placement } from '../../common/podspec.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { dataClaimTemplate, pdbObject, podSecurityContext, serviceObject } from '../../runtime/objects.ts';
import { ownerRef } from '../../runtime/status.ts';
import type { KubeObject } from '../../runtime/types.ts';
import {
  configChecksum,
  postgresImage,
  postgresProbes,
  postgresUid,
  restartView,
} from '../homeopsdatabase/builders.ts';
import { preloadLibraries } from '../homeopsdatabase/extensions.ts';
import {
  CONFIG_DIR,
  DATA_DIR,
  dbNames,
  POSTGRES_PORT,
  dbSelector as primarySelector,
  SECRETS_DIR,
  SOCKET_DIR,
} from '../homeopsdatabase/names.ts';
import { renderPgHba, renderPostgresConf } from '../homeopsdatabase/pgconfig.ts';
import { READ_LABEL, READ_LABEL_VALUE, rsLabels, rsNames, rsSelector, slotPrefix } from './names.ts';
import { renderReplicaStartScript } from './pgconfig.ts';

/** What reconcile decided, beside the spec. */
export interface ReplicaPlan {
  /** Members the StatefulSet runs: spec.replicas once their slots exist, else what runs now. */
  replicas: number;
  /** The read Service selects the primary (fallbackToPrimary, every member out). */
  readFromPrimary: boolean;
  /** Digest of the replication Secret: a new password rolls the members. */
  secretsDigest: string;
}

function meta(rs: ReplicaSet, name: string, component: 'replica' | 'config') {
  return {
    name,
    namespace: rs.metadata.namespace,
    labels: rsLabels(rs, component),
    ownerReferences: [ownerRef(rs as never)],
  };
}

/**
 * The members' configuration: the primary's own postgresql.conf (a hot standby needs
 * max_connections, max_worker_processes, max_wal_senders, max_prepared_transactions and
 * max_locks_per_transaction at least as large as its primary's, and the user's parameters
 * apply to reads too), the same pg_hba.conf, and the replica start script.
 */
export function buildReplicaConfigMap(rs: ReplicaSet, db: HomeOpsDatabase): KubeObject {
  const primaryHost = serviceHost(db, dbNames(db).rwService);
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(rs, rsNames(rs).config, 'config'),
    data: {
      'postgresql.conf': renderPostgresConf(db.spec),
      'pg_hba.conf': renderPgHba(),
      // The primary's libraries: a standby replaying TimescaleDB's catalog needs its library too.
      'start.sh': renderReplicaStartScript(primaryHost, slotPrefix(rs), preloadLibraries(db)),
    },
  };
}

export function buildReplicaStatefulSet(
  rs: ReplicaSet,
  db: HomeOpsDatabase,
  plan: ReplicaPlan,
  images: DefaultImages = DEFAULT_IMAGES,
): KubeObject {
  const n = rsNames(rs);
  const uid = postgresUid(db, images);
  // Only what a restart must follow: a setting PostgreSQL reloads is reloaded by the operator.
  const config = buildReplicaConfigMap(rs, restartView(db)).data as Record<string, string>;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(rs, n.statefulSet, 'replica'),
    spec: {
      replicas: plan.replicas,
      serviceName: n.headlessService,
      selector: { matchLabels: rsSelector(rs) },
      // Members are independent (each has its own slot): they start and stop together.
      podManagementPolicy: 'Parallel',
      updateStrategy: { type: 'RollingUpdate' },
      persistentVolumeClaimRetentionPolicy: {
        whenDeleted: rs.spec.storage.reclaimPolicy,
        // A member scaled away loses its slot: its copy could not resume, so it goes too.
        whenScaled: 'Delete',
      },
      template: {
        metadata: {
          labels: { ...rsLabels(rs, 'replica'), ...rsSelector(rs) },
          annotations: { [CHECKSUM_ANNOTATION]: configChecksum(config, plan.secretsDigest) },
        },
        spec: {
          securityContext: podSecurityContext(uid),
          ...placement(rs.spec.scheduling),
          terminationGracePeriodSeconds: 60,
          enableServiceLinks: false,
          containers: [
            {
              name: 'postgres',
              image: postgresImage(db, images),
              command: ['sh', `${CONFIG_DIR}/start.sh`],
              ports: [{ name: 'postgres', containerPort: POSTGRES_PORT }],
              env: [
                { name: 'PGDATA', value: `${DATA_DIR}/pgdata` },
                { name: 'HOME', value: '/tmp' },
                { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
              ],
              ...postgresProbes(),
              terminationMessagePolicy: 'FallbackToLogsOnError',
              ...(rs.spec.resources ? { resources: rs.spec.resources } : {}),
              securityContext: containerSecurity(uid),
              volumeMounts: [
                { name: 'data', mountPath: DATA_DIR },
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'replication', mountPath: `${SECRETS_DIR}/replication`, readOnly: true },
                { name: 'run', mountPath: SOCKET_DIR },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: n.config, defaultMode: 0o444 } },
            {
              name: 'replication',
              secret: { secretName: dbNames(db).replicationSecret, defaultMode: 0o400 },
            },
            { name: 'run', emptyDir: {} },
            { name: 'tmp', emptyDir: { medium: 'Memory' } },
          ],
        },
      },
      volumeClaimTemplates: [dataClaimTemplate(rsLabels(rs, 'replica'), rs.spec.storage)],
    },
  };
}

const PORT = { name: 'postgres', port: POSTGRES_PORT };

/** Every member, Ready or not, by its stable DNS name (the operator and admins reach each one). */
export const buildHeadlessService = (rs: ReplicaSet) =>
  serviceObject(meta(rs, rsNames(rs).headlessService, 'replica'), {
    selector: rsSelector(rs),
    port: PORT,
    headless: true,
  });

/**
 * The read Service: the members the operator labelled as within the lag bound (and Ready: the
 * EndpointSlice controller leaves out a pod that is not), or the primary when the plan says so.
 */
export const buildReadService = (rs: ReplicaSet, db: HomeOpsDatabase, plan: ReplicaPlan) =>
  serviceObject(meta(rs, rsNames(rs).readService, 'replica'), {
    selector: plan.readFromPrimary
      ? primarySelector(db)
      : { ...rsSelector(rs), [READ_LABEL]: READ_LABEL_VALUE },
    port: PORT,
  });

/** Voluntary evictions one member at a time. */
export const buildReplicaPdb = (rs: ReplicaSet) =>
  pdbObject(meta(rs, rsNames(rs).pdb, 'replica'), rsSelector(rs), { maxUnavailable: 1 });

export function buildReplicaChildren(
  rs: ReplicaSet,
  db: HomeOpsDatabase,
  plan: ReplicaPlan,
  images: DefaultImages = DEFAULT_IMAGES,
): KubeObject[] {
  return [
    buildReplicaConfigMap(rs, db),
    buildHeadlessService(rs),
    buildReadService(rs, db, plan),
    buildReplicaStatefulSet(rs, db, plan, images),
    buildReplicaPdb(rs),
  ];
}
