/**
 * The database's credentials. Passwords come from a CSPRNG, are created once and never
 * overwritten by a reconcile: an existing Secret (the operator's, or one the user made before
 * the database, to bring their own credentials) is kept as it is, and only checked. Neither
 * the passwords nor the Secrets' data are ever logged, put in status or in events.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { serviceHost } from '../../common/hosts.ts';
import { generatePassword } from '../../common/passwords.ts';
import { ownerRef } from '../../runtime/status.ts';
import type { KubeObject } from '../../runtime/types.ts';
import {
  dbLabels,
  dbNames,
  POOLER_AUTH_USER,
  POOLER_PORT,
  POSTGRES_PORT,
  REPLICATION_USER,
  SUPERUSER,
} from './names.ts';

export type SecretRole = 'superuser' | 'app' | 'replication' | 'pooler';
export const SECRET_ROLES: SecretRole[] = ['superuser', 'app', 'replication', 'pooler'];

export interface Credentials {
  username: string;
  password: string;
}

export function secretName(db: HomeOpsDatabase, role: SecretRole): string {
  const n = dbNames(db);
  return {
    superuser: n.superuserSecret,
    app: n.appSecret,
    replication: n.replicationSecret,
    pooler: n.poolerSecret,
  }[role];
}

export function usernameFor(db: HomeOpsDatabase, role: SecretRole): string {
  return {
    superuser: SUPERUSER,
    app: db.spec.database.owner,
    replication: REPLICATION_USER,
    pooler: POOLER_AUTH_USER,
  }[role];
}

/** A new Secret for `role` with a fresh password (the app Secret also carries URIs, as apps expect). */
export function buildSecret(
  db: HomeOpsDatabase,
  role: SecretRole,
  password = generatePassword(),
): KubeObject {
  const n = dbNames(db);
  const username = usernameFor(db, role);
  const data: Record<string, string> = { username, password };
  if (role === 'app') {
    const dbname = db.spec.database.name;
    const host = serviceHost(db, n.rwService);
    const poolerHost = serviceHost(db, n.pooler);
    const enc = encodeURIComponent;
    Object.assign(data, {
      host,
      port: String(POSTGRES_PORT),
      dbname,
      uri: `postgresql://${enc(username)}:${enc(password)}@${host}:${POSTGRES_PORT}/${dbname}`,
      'pooler-host': poolerHost,
      'pooler-port': String(POOLER_PORT),
      'pooler-uri': `postgresql://${enc(username)}:${enc(password)}@${poolerHost}:${POOLER_PORT}/${dbname}`,
    });
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: secretName(db, role),
      namespace: db.metadata.namespace,
      labels: dbLabels(db, 'secret'),
      ownerReferences: [ownerRef(db as never)],
    },
    type: role === 'superuser' || role === 'replication' ? 'kubernetes.io/basic-auth' : 'Opaque',
    stringData: data,
  };
}

export class InvalidSecretError extends Error {
  readonly secret: string;
  constructor(secret: string, message: string) {
    super(message);
    this.name = 'InvalidSecretError';
    this.secret = secret;
  }
}

/** Reads username and password from a Secret, or says clearly what is wrong with it (never its content). */
export function readCredentials(secret: KubeObject, expectedUser: string): Credentials {
  const name = secret.metadata.name!;
  const data = (secret.data ?? {}) as Record<string, string>;
  const decode = (k: string) =>
    data[k] === undefined ? undefined : Buffer.from(data[k]!, 'base64').toString('utf8');
  const username = decode('username');
  const password = decode('password');
  if (!password)
    throw new InvalidSecretError(
      name,
      `Secret ${name} has no "password" key: add one, or delete the Secret to have one generated`,
    );
  if (username !== undefined && username !== expectedUser) {
    throw new InvalidSecretError(
      name,
      `Secret ${name} is for user "${username}", expected "${expectedUser}"`,
    );
  }
  if (/[\s"']/.test(password))
    throw new InvalidSecretError(name, `Secret ${name}: the password contains whitespace or quotes`);
  return { username: expectedUser, password };
}

/** A short digest of Secrets' data, for the pod template's checksum (not reversible). */
export function secretsDigest(secrets: (KubeObject | undefined)[]): string {
  const h = createHash('sha256');
  for (const s of secrets) h.update(JSON.stringify(s?.data ?? null));
  return h.digest('hex').slice(0, 16);
}
