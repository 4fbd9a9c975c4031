/** Names and labels of a HomeOpsDatabase's children: one place, so builders and reconcile agree. */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { OWNER_LABEL, ROLE_LABEL } from '../../common/labels.ts';
import { MANAGED_BY } from '../../runtime/types.ts';

export const POSTGRES_PORT = 5432;
export const POOLER_PORT = 5432;
export const POOLER_AUTH_USER = 'pgbouncer_auth';
export const REPLICATION_USER = 'replicator';
export const SUPERUSER = 'postgres';

/** Paths inside the pods (the image contract in the README). */
export const CONFIG_DIR = '/etc/homeops/config';
export const SECRETS_DIR = '/etc/homeops/secrets';
export const DATA_DIR = '/var/lib/postgresql/data';
export const SOCKET_DIR = '/var/run/postgresql';
export const POOLER_CONFIG_DIR = '/etc/pgbouncer';
export const POOLER_RUN_DIR = '/var/run/pgbouncer';
/** pgBackRest: the repository volume, and the asynchronous archiver's spool (on the data volume, outside pg_wal). */
export const BACKUP_REPO_DIR = '/var/lib/pgbackrest';
export const BACKUP_SPOOL_DIR = `${DATA_DIR}/pgbackrest-spool`;
/** The S3 repository's credentials and CA (the NAME-backup-s3 Secret): pgBackRest's --config-include-path. */
export const BACKUP_S3_DIR = '/etc/homeops/backup-s3';
/** The stanza: one per database, and each database has its own repository. */
export const STANZA = 'db';

export function dbNames(db: HomeOpsDatabase) {
  const n = db.metadata.name!;
  return {
    statefulSet: n,
    pod: `${n}-0`,
    headlessService: `${n}-hl`,
    rwService: `${n}-rw`,
    config: `${n}-config`,
    bootstrap: `${n}-bootstrap`,
    pdb: n,
    superuserSecret: `${n}-superuser`,
    appSecret: `${n}-app`,
    replicationSecret: `${n}-replication`,
    poolerSecret: `${n}-pooler-auth`,
    pooler: `${n}-pooler`,
    /** The backup repository's PVC, and the identity the backup Jobs exec into the primary as. */
    backupRepo: `${n}-backup-repo`,
    backupAccount: `${n}-backup`,
    /** The S3 repository's credentials (and CA) as pgBackRest reads them: made from the user's Secrets. */
    backupS3: `${n}-backup-s3`,
  };
}

/** Labels on every child; `dbSelector` picks the primary's pods, `poolerSelector` PgBouncer's. */
export function dbLabels(
  db: HomeOpsDatabase,
  component: 'postgres' | 'pooler' | 'config' | 'secret' | 'backup',
) {
  return {
    'app.kubernetes.io/name': component === 'pooler' ? 'pgbouncer' : 'postgresql',
    'app.kubernetes.io/instance': db.metadata.name!,
    'app.kubernetes.io/component': component,
    ...MANAGED_BY,
    [OWNER_LABEL.HomeOpsDatabase]: db.metadata.name!,
  };
}

export const dbSelector = (db: HomeOpsDatabase) => ({
  [OWNER_LABEL.HomeOpsDatabase]: db.metadata.name!,
  [ROLE_LABEL]: 'primary',
});
export const poolerSelector = (db: HomeOpsDatabase) => ({
  [OWNER_LABEL.HomeOpsDatabase]: db.metadata.name!,
  [ROLE_LABEL]: 'pooler',
});
