/**
 * spec.backup as the primary's configuration and children, pure: the archive settings in
 * postgresql.conf, pgbackrest.conf, the repository's volume, and the identity the backup Jobs
 * exec into the primary as (`pods/exec` on that one pod, nothing else).
 *
 * pgBackRest runs where the data is: in the postgres container. PostgreSQL's archiver runs
 * `pgbackrest archive-push` (asynchronous, its spool on the data volume outside pg_wal, so
 * pg_rewind never sees it); a backup Job runs `pgbackrest backup` in the same container through
 * the exec API, as Crunchy PGO's backup Jobs do. pgBackRest connects to PostgreSQL over the
 * socket as the postgres OS user (peer), so no password is written anywhere for it.
 */

import { storage } from '../../api/v1alpha1/common.ts';
import type { HomeOpsDatabase, HomeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { ownerRef } from '../../runtime/status.ts';
import type { KubeObject } from '../../runtime/types.ts';
import {
  BACKUP_S3_DIR,
  BACKUP_SPOOL_DIR,
  CONFIG_DIR,
  DATA_DIR,
  dbLabels,
  dbNames,
  POSTGRES_PORT,
  SOCKET_DIR,
  STANZA,
} from './names.ts';
import { type RecoveryPlan, sourceRepoVolume } from './recovery.ts';
import { ownRepoDir, repoOf, repoOptions, repoVolume } from './repository.ts';

/** pgbackrest.conf's path in the postgres container (a key of the database's ConfigMap). */
export const PGBACKREST_CONF = `${CONFIG_DIR}/pgbackrest.conf`;
/** pgBackRest's locks and (unused) log directory: the pod's memory-backed /tmp. */
const PGBACKREST_TMP = '/tmp/pgbackrest';

/** `pgbackrest` with the operator's configuration and stanza, as sh words. */
export const pgbackrestCommand = (...args: string[]) => [
  'pgbackrest',
  `--config=${PGBACKREST_CONF}`,
  `--stanza=${STANZA}`,
  ...args,
];

/** postgresql.conf settings spec.backup asks for (none without it). */
export function archiveSettings(spec: HomeOpsDatabaseSpec): Record<string, string> {
  if (!spec.backup) return {};
  return {
    archive_mode: 'on',
    archive_command: `'${pgbackrestCommand('archive-push', '%p').join(' ')}'`,
    archive_timeout: String(spec.backup.archiveTimeoutSeconds),
  };
}

/**
 * pgbackrest.conf. No archive-push-queue-max: past it pgBackRest drops WAL and reports it
 * archived; without it WAL waits in pg_wal while archiving fails, and ContinuousArchiving says
 * so (the data volume's size is the limit, and the alert comes first).
 */
export function renderPgBackRestConf(db: HomeOpsDatabase): string {
  const b = db.spec.backup!;
  const repo = repoOf(db);
  return [
    '# Written by homeops-operator from spec.backup.',
    '[global]',
    ...repoOptions(repo, ownRepoDir(repo)),
    `repo1-retention-full=${b.retention.full}`,
    `repo1-retention-full-type=${b.retention.fullType}`,
    'archive-async=y',
    `spool-path=${BACKUP_SPOOL_DIR}`,
    `lock-path=${PGBACKREST_TMP}`,
    `log-path=${PGBACKREST_TMP}`,
    'log-level-file=off',
    'log-level-console=warn',
    'log-level-stderr=warn',
    'compress-type=lz4',
    'process-max=2',
    'start-fast=y',
    '',
    `[${STANZA}]`,
    `pg1-path=${DATA_DIR}/pgdata`,
    `pg1-socket-path=${SOCKET_DIR}`,
    `pg1-port=${POSTGRES_PORT}`,
    'pg1-user=postgres',
    '',
  ].join('\n');
}

/** The repository volume's storage (its defaults when spec.backup names none); undefined on S3. */
export const repoVolumeSpec = (db: HomeOpsDatabase) => {
  const r = db.spec.backup?.repository;
  return r && !r.s3 ? (r.volume ?? storage.parse({})) : undefined;
};

/**
 * What spec.backup adds to the primary's pod: the repository (its volume, or the S3 include
 * files, whose path pgBackRest takes from the environment so every command, the archiver's and
 * an exec'd backup's, reads them), and the source's repository when it is made by recovery.
 */
export function backupPod(db: HomeOpsDatabase, recovery?: RecoveryPlan) {
  const own = db.spec.backup ? repoOf(db) : undefined;
  const parts = [
    ...(own ? [repoVolume(own, 'backup-repo', ownRepoDir(own), false)] : []),
    ...(recovery ? [sourceRepoVolume(recovery)] : []),
  ];
  return {
    // pgBackRest's asynchronous archive-push detaches a process that outlives the archive
    // command. In the container's own PID namespace it is re-parented to PID 1, the
    // postmaster, which takes any child it did not start exiting non-zero for a crashed
    // backend and restarts the whole server (seen on the real node: "server process exited
    // with exit code 103", every connection dropped, the statistics reset). With the pod's
    // namespace shared, the pause process is PID 1 and reaps it.
    podSpec: own ? { shareProcessNamespace: true } : {},
    env: own?.kind === 's3' ? [{ name: 'PGBACKREST_CONFIG_INCLUDE_PATH', value: BACKUP_S3_DIR }] : [],
    mounts: parts.map((p) => p.mount),
    volumes: parts.map((p) => p.volume),
  };
}

/** The directories pgBackRest writes, made by the start script before PostgreSQL starts. */
export const backupDirsScript = (spec: HomeOpsDatabaseSpec) =>
  spec.backup ? `mkdir -p ${BACKUP_SPOOL_DIR} ${PGBACKREST_TMP}\n` : '';

const meta = (db: HomeOpsDatabase, name: string, owned: boolean) => ({
  name,
  namespace: db.metadata.namespace,
  labels: dbLabels(db, 'backup'),
  ...(owned ? { ownerReferences: [ownerRef(db as never)] } : {}),
});

/**
 * The repository's PVC. Under Retain it has no owner reference, so deleting the database keeps
 * the backups (a new database can be recovered from them); under Delete it goes with it.
 */
export function buildBackupRepoClaim(db: HomeOpsDatabase): KubeObject {
  const v = repoVolumeSpec(db)!;
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: meta(db, dbNames(db).backupRepo, v.reclaimPolicy === 'Delete'),
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: v.size } },
      ...(v.storageClassName ? { storageClassName: v.storageClassName } : {}),
    },
  };
}

/**
 * What a backup Job may do in the API: exec into the primary's pod, that one, nothing else.
 * The Job's pod is the only one with this ServiceAccount's token.
 */
export function buildBackupAccess(db: HomeOpsDatabase, roleExists = true): KubeObject[] {
  const n = dbNames(db);
  const objects: KubeObject[] = [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: meta(db, n.backupAccount, true),
      automountServiceAccountToken: false,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: meta(db, n.backupAccount, true),
      rules: [
        // The exec API is a GET upgraded to a WebSocket (authorized as `create` since 1.31, `get` before).
        { apiGroups: [''], resources: ['pods/exec'], verbs: ['create', 'get'], resourceNames: [n.pod] },
      ],
    },
  ];
  if (!roleExists) return objects;
  return [
    ...objects,
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: meta(db, n.backupAccount, true),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: n.backupAccount },
      subjects: [{ kind: 'ServiceAccount', name: n.backupAccount, namespace: db.metadata.namespace }],
    },
  ];
}
