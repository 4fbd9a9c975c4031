/**
 * A backup repository as pgBackRest's repo1-* options and the pod's volumes: a volume of its own,
 * or an S3 bucket. For S3 the credentials (and a private CA) are copied from the user's Secrets
 * into the database's NAME-backup-s3 Secret, in pgBackRest's own format, and mounted where
 * `--config-include-path` reads them: the kubelet keeps the files current and each pgBackRest
 * command reads them afresh, so a rotated key is used by the next archive-push and backup without
 * a restart. The keys are never on a command line, in the environment, in status or in a log.
 */
import type { HomeOpsDatabase, S3Repository } from '../../api/v1alpha1/index.ts';
import { adoptByLabel } from '../../runtime/adopt.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { TerminalError } from '../../runtime/result.ts';
import { ownerRef } from '../../runtime/status.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { BACKUP_REPO_DIR, BACKUP_S3_DIR, dbLabels, dbNames } from './names.ts';

/** Where a repository is, as the pods reach it. */
export type Repo =
  | { kind: 'volume'; claim: string }
  | { kind: 's3'; s3: Omit<S3Repository, 'credentials' | 'caSecretRef'>; ca: boolean; secret: string };

/** The keys of the credentials Secret (those the AWS tools and most operators use). */
export const ACCESS_KEY_ID = 'accessKeyId';
export const SECRET_ACCESS_KEY = 'secretAccessKey';
/** In the NAME-backup-s3 Secret: pgBackRest's include file, and the CA bundle. */
const S3_CONF_KEY = 's3.conf';
const CA_KEY = 'ca.crt';

/** The repository of `db` (spec.backup set). */
export function repoOf(db: HomeOpsDatabase): Repo {
  const r = db.spec.backup!.repository;
  const n = dbNames(db);
  if (!r.s3) return { kind: 'volume', claim: n.backupRepo };
  const { credentials: _, caSecretRef, ...s3 } = r.s3;
  return {
    kind: 's3',
    s3: { ...s3, path: s3.path ?? `/homeops/${db.metadata.namespace}/${db.metadata.name}` },
    ca: !!caSecretRef,
    secret: n.backupS3,
  };
}

/** repo1-* lines for pgbackrest.conf; `dir` is where the pod mounts the repository (volume or include files). */
export function repoOptions(repo: Repo, dir: string): string[] {
  if (repo.kind === 'volume') return [`repo1-path=${dir}`];
  const [host, port] = repo.s3.endpoint.split(':');
  return [
    'repo1-type=s3',
    `repo1-path=${repo.s3.path}`,
    `repo1-s3-bucket=${repo.s3.bucket}`,
    `repo1-s3-endpoint=${host}`,
    ...(port ? [`repo1-storage-port=${port}`] : []),
    `repo1-s3-region=${repo.s3.region}`,
    `repo1-s3-uri-style=${repo.s3.uriStyle}`,
    ...(repo.ca ? [`repo1-storage-ca-file=${dir}/${CA_KEY}`] : []),
  ];
}

/** The volume and mount a pod needs for `repo`, named `name`, at `dir`. */
export function repoVolume(repo: Repo, name: string, dir: string, readOnly: boolean) {
  return {
    volume:
      repo.kind === 'volume'
        ? { name, persistentVolumeClaim: { claimName: repo.claim, ...(readOnly ? { readOnly } : {}) } }
        : { name, secret: { secretName: repo.secret, defaultMode: 0o400 } },
    mount: { name, mountPath: dir, ...(readOnly || repo.kind === 's3' ? { readOnly: true } : {}) },
  };
}

/** The mount directory of the database's own repository. */
export const ownRepoDir = (repo: Repo) => (repo.kind === 'volume' ? BACKUP_REPO_DIR : BACKUP_S3_DIR);

const printable = /^[\x21-\x7e]+$/;

/** NAME-backup-s3 from the credentials (checked) and the CA bundle. Pure. */
export function buildS3Secret(
  db: HomeOpsDatabase,
  keys: { accessKeyId: string; secretAccessKey: string },
  ca?: string,
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: dbNames(db).backupS3,
      namespace: db.metadata.namespace,
      labels: dbLabels(db, 'backup'),
      ownerReferences: [ownerRef(db as never)],
    },
    type: 'Opaque',
    stringData: {
      [S3_CONF_KEY]: `[global]\nrepo1-s3-key=${keys.accessKeyId}\nrepo1-s3-key-secret=${keys.secretAccessKey}\n`,
      ...(ca !== undefined ? { [CA_KEY]: ca } : {}),
    },
  };
}

const decode = (s: KubeObject, key: string) => {
  const v = (s.data as Record<string, string> | undefined)?.[key];
  return v === undefined ? undefined : Buffer.from(v, 'base64').toString('utf8');
};

/** The keys of a credentials Secret, checked; a TerminalError names what is wrong (never a value). */
export function readS3Keys(secret: KubeObject) {
  const name = secret.metadata.name;
  const keys = {
    accessKeyId: decode(secret, ACCESS_KEY_ID),
    secretAccessKey: decode(secret, SECRET_ACCESS_KEY),
  };
  for (const [k, v] of Object.entries(keys)) {
    if (v === undefined)
      throw new TerminalError(
        'InvalidBackupCredentials',
        `Secret ${name} (backup.repository.s3.credentials) has no "${k}" key`,
      );
    if (!printable.test(v))
      throw new TerminalError(
        'InvalidBackupCredentials',
        `Secret ${name} (backup.repository.s3.credentials): "${k}" is empty or holds whitespace or non-ASCII characters`,
      );
  }
  return keys as { accessKeyId: string; secretAccessKey: string };
}

/**
 * NAME-backup-s3 as desired, from the user's Secrets read through the cache (labelled so that a
 * change wakes the database): undefined without an S3 repository; a TerminalError for a Secret
 * missing or malformed, before anything is applied.
 */
export async function s3SecretFor(
  db: HomeOpsDatabase,
  ctx: ReconcileContext,
): Promise<KubeObject | undefined> {
  const s3 = db.spec.backup?.repository.s3;
  if (!s3) return undefined;
  const ns = db.metadata.namespace!;
  const read = async (name: string, field: string) => {
    const s = await adoptByLabel(ctx, Resources.Secret, ns, name);
    if (!s)
      throw new TerminalError(
        'BackupSecretNotFound',
        `Secret ${name} (backup.repository.s3.${field}) not found in ${ns}`,
        { recheckAfterMs: 30_000 },
      );
    return s;
  };
  const keys = readS3Keys(await read(s3.credentials.name, 'credentials'));
  let ca: string | undefined;
  if (s3.caSecretRef) {
    ca = decode(await read(s3.caSecretRef.name, 'caSecretRef'), s3.caSecretRef.key);
    if (!ca?.includes('-----BEGIN CERTIFICATE-----'))
      throw new TerminalError(
        'InvalidBackupCredentials',
        `Secret ${s3.caSecretRef.name} (backup.repository.s3.caSecretRef): key "${s3.caSecretRef.key}" holds no PEM certificate`,
      );
  }
  return buildS3Secret(db, keys, ca);
}

/** The databases whose S3 repository reads `secret`: its change wakes them. */
export const readingSecret = (all: HomeOpsDatabase[], secret: KubeObject) =>
  all.filter((d) => {
    const s3 = d.spec?.backup?.repository?.s3;
    return (
      d.metadata.namespace === secret.metadata.namespace &&
      (s3?.credentials.name === secret.metadata.name || s3?.caSecretRef?.name === secret.metadata.name)
    );
  });
