/**
 * A database's four Secrets (the shared ensureSecrets: created once from the CSPRNG, or adopted)
 * and the credentials in them, checked.
 */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { TerminalError } from '../../runtime/result.ts';
import { ensureSecrets } from '../../runtime/secrets.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { dbLabels } from './names.ts';
import {
  buildSecret,
  InvalidSecretError,
  readCredentials,
  SECRET_ROLES,
  type SecretRole,
  secretName,
  secretsDigest,
  usernameFor,
} from './secrets.ts';

type Db = HomeOpsDatabase & KubeObject;

/**
 * The four Secrets (shared ensureSecrets), then their credentials, checked: a malformed one
 * stalls. Under reclaimPolicy Retain they are not owned by the database: the volumes outlive it,
 * so must the credentials that open them (and no finalizer is needed to let them go).
 */
export type Credentials = NonNullable<Awaited<ReturnType<typeof ensureCredentials>>>;

export async function ensureCredentials(db: Db, ctx: ReconcileContext) {
  const live = await ensureSecrets(
    ctx,
    db,
    SECRET_ROLES.map((role) => ({
      name: secretName(db, role),
      labels: dbLabels(db, 'secret'),
      build: () => buildSecret(db, role),
    })),
    { owned: db.spec.postgres.storage.reclaimPolicy === 'Delete' },
  );
  if (!live) return undefined;
  const objects = {} as Record<SecretRole, KubeObject>;
  const credentials = {} as Record<SecretRole, { username: string; password: string }>;
  for (const [i, role] of SECRET_ROLES.entries()) {
    objects[role] = live[i]!;
    try {
      credentials[role] = readCredentials(live[i]!, usernameFor(db, role));
    } catch (e) {
      if (e instanceof InvalidSecretError) throw new TerminalError('InvalidSecret', e.message);
      throw e;
    }
  }
  return { objects, credentials, digest: secretsDigest(SECRET_ROLES.map((r) => objects[r])) };
}
