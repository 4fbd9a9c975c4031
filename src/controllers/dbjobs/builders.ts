/**
 * The Jobs of a HomeOpsDatabase, as pure functions of it and of their inputs. The migration
 * Job's name carries a digest of everything it applies (the builtin set, each listed
 * ConfigMap's content, the retry annotation): a change makes a new Job, and the same inputs
 * never run twice, a failed run included, until one of them changes.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { containerSecurity, placement } from '../../common/podspec.ts';
import { JOB_NODE_FLAGS } from '../../images.ts';
import { type Embeddings, embeddingsFlag, embeddingsMigrations } from '../../jobs/embeddings.ts';
import { podSecurityContext } from '../../runtime/objects.ts';
import { ownerRef } from '../../runtime/status.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { dbNames, POOLER_PORT, POSTGRES_PORT } from '../homeopsdatabase/names.ts';
import { secretName, usernameFor } from '../homeopsdatabase/secrets.ts';
import {
  APP_SECRET_DIR,
  HASH_LABEL,
  INPUTS_ANNOTATION,
  type JobKind,
  jobLabels,
  jobName,
  MIGRATIONS_DIR,
  OPERATOR_UID,
  RETRY_MIGRATIONS,
  setName,
} from './names.ts';

export type ConfigMapData = Record<string, string>;

/** A backup of a large database takes hours, not the other jobs' 30 minutes. */
const BACKUP_DEADLINE_SECONDS = 6 * 3600;

/** spec.embeddings when the database has them: `vector` declared, and the builtin schema on. */
export function embeddingsOf(db: HomeOpsDatabase): Embeddings | undefined {
  const vector = db.spec.postgres.extensions.some((e) => e.split('@')[0] === 'vector');
  return vector && db.spec.migrations.builtin ? db.spec.embeddings : undefined;
}

/** `--embeddings=JSON` with the fields a job needs, when the database has embeddings. */
export function embeddingsArgs(db: HomeOpsDatabase, fields: (keyof Embeddings)[]): string[] {
  const e = embeddingsOf(db);
  return e ? [`--embeddings=${embeddingsFlag(Object.fromEntries(fields.map((f) => [f, e[f]])))}`] : [];
}

/** The embeddings set's digest: only what its SQL is made of (not the benchmark's settings). */
const embeddingsDigest = (e: Embeddings) =>
  createHash('sha256')
    .update(
      embeddingsMigrations(e)
        .map((m) => `${m.version}:${m.checksum}`)
        .join('\n'),
    )
    .digest('hex');

/**
 * The digest of the migrations' inputs, or the listed ConfigMaps that do not exist (no Job
 * is made without them: a set applied without its predecessors would be out of order).
 */
export function migrationInputs(
  db: HomeOpsDatabase,
  configMap: (name: string) => ConfigMapData | undefined,
  builtinDigest: string,
): { hash: string; summary: string } | { missing: string[] } {
  const m = db.spec.migrations;
  const sets = m.configMaps.map((ref) => ({ name: ref.name, data: configMap(ref.name) }));
  const missing = sets.filter((s) => !s.data).map((s) => s.name);
  if (missing.length) return { missing };
  const retry = db.metadata.annotations?.[RETRY_MIGRATIONS];
  const e = embeddingsOf(db);
  const embeddings = e ? embeddingsDigest(e) : null;
  const hash = createHash('sha256')
    .update(
      JSON.stringify([
        m.builtin ? builtinDigest : null,
        sets.map((s) => [s.name, Object.entries(s.data!).sort(([a], [b]) => a.localeCompare(b))]),
        retry ?? null,
        // Absent from the list when unused, so that older inputs keep their digest.
        ...(embeddings ? [embeddings] : []),
      ]),
    )
    .digest('hex')
    .slice(0, 10);
  const summary = [
    ...(m.builtin ? [`builtin@${builtinDigest.slice(0, 12)}`] : []),
    ...(e ? [`embeddings@m=${e.m},ef_construction=${e.efConstruction}`] : []),
    ...sets.map((s) => `configmap/${s.name}`),
    ...(retry ? [`retry=${retry}`] : []),
  ].join(' ');
  return { hash, summary };
}

/**
 * A Job's spec running `homeops-operator job ARGS` in the operator's image, as the database's
 * owner (it owns the database: it can create schemas, partitions and views, vacuum and analyze;
 * pg_stat_statements, which needs the superuser, is made by the operator before the database is
 * Ready), its password from the mounted app Secret (PGPASSWORD_FILE, never an env value). To the
 * primary (-rw), or to PgBouncer (`viaPooler`: the benchmarks measure what applications get).
 * A failure the job reports (exit 1: it failed; 2: invalid input) fails the Job at once
 * (podFailurePolicy); an evicted pod is not a failure; anything else is retried `backoffLimit`
 * times. Hardened like the database's pods.
 */
export function jobSpec(
  db: HomeOpsDatabase,
  kind: JobKind,
  args: string[],
  image: string,
  opts: {
    viaPooler?: boolean;
    backoffLimit?: number;
    deadlineSeconds?: number;
    extraLabels?: Record<string, string>;
  } = {},
  sets: string[] = [],
) {
  const n = dbNames(db);
  const labels = { ...jobLabels(db, kind), ...opts.extraLabels };
  const pooled = opts.viaPooler && db.spec.pooler.enabled;
  // A backup reaches no database itself: it execs pgBackRest in the primary's pod, as the
  // database's backup ServiceAccount (the only pods with its token are these).
  const backup = kind === 'backup';
  const database = backup
    ? {}
    : {
        env: [
          { name: 'PGHOST', value: `${pooled ? n.pooler : n.rwService}.${db.metadata.namespace}.svc` },
          { name: 'PGPORT', value: String(pooled ? POOLER_PORT : POSTGRES_PORT) },
          { name: 'PGDATABASE', value: db.spec.database.name },
          { name: 'PGUSER', value: usernameFor(db, 'app') },
          { name: 'PGPASSWORD_FILE', value: `${APP_SECRET_DIR}/password` },
        ],
      };
  return {
    backoffLimit: opts.backoffLimit ?? 2,
    activeDeadlineSeconds: opts.deadlineSeconds ?? (backup ? BACKUP_DEADLINE_SECONDS : 1800),
    podFailurePolicy: {
      rules: [
        { action: 'FailJob', onExitCodes: { containerName: 'job', operator: 'In', values: [1, 2] } },
        { action: 'Ignore', onPodConditions: [{ type: 'DisruptionTarget' }] },
      ],
    },
    template: {
      metadata: { labels },
      spec: {
        restartPolicy: 'Never',
        securityContext: podSecurityContext(OPERATOR_UID),
        ...placement(db.spec.postgres.scheduling),
        enableServiceLinks: false,
        ...(backup
          ? { serviceAccountName: n.backupAccount, automountServiceAccountToken: true }
          : { automountServiceAccountToken: false }),
        containers: [
          {
            name: 'job',
            image,
            command: ['node', ...JOB_NODE_FLAGS, '/app/dist/main.js', 'job', kind, ...args],
            ...database,
            terminationMessagePolicy: 'File',
            resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
            securityContext: containerSecurity(OPERATOR_UID),
            volumeMounts: [
              ...(backup ? [] : [{ name: 'app', mountPath: APP_SECRET_DIR, readOnly: true }]),
              ...sets.map((s, i) => ({
                name: `set-${i}`,
                mountPath: `${MIGRATIONS_DIR}/${s}`,
                readOnly: true,
              })),
            ],
          },
        ],
        volumes: [
          ...(backup
            ? []
            : [
                {
                  name: 'app',
                  secret: {
                    secretName: secretName(db, 'app'),
                    defaultMode: 0o400,
                    items: [{ key: 'password', path: 'password' }],
                  },
                },
              ]),
          ...sets.map((s, i) => ({ name: `set-${i}`, configMap: { name: s, defaultMode: 0o444 } })),
        ],
      },
    },
  };
}

/**
 * `job migrate` against the primary (not PgBouncer: the advisory lock and CREATE INDEX
 * CONCURRENTLY need a session): the builtin set, then each listed ConfigMap mounted as a set.
 */
export function buildMigrationJob(
  db: HomeOpsDatabase,
  hash: string,
  summary: string,
  image: string,
): KubeObject {
  const sets = db.spec.migrations.configMaps.map((r) => r.name);
  const extraLabels = { [HASH_LABEL]: hash };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(db, 'migrate', hash),
      namespace: db.metadata.namespace,
      labels: { ...jobLabels(db, 'migrate'), ...extraLabels },
      annotations: { [INPUTS_ANNOTATION]: summary },
      ownerReferences: [ownerRef(db as never)],
    },
    spec: jobSpec(
      db,
      'migrate',
      [
        ...(db.spec.migrations.builtin ? [] : ['--no-builtin']),
        ...embeddingsArgs(db, ['dimensions', 'm', 'efConstruction', 'maintenanceWorkMem']),
        ...sets.map((s) => `--set=${setName(s)}:${MIGRATIONS_DIR}/${s}`),
      ],
      image,
      { extraLabels },
      sets,
    ),
  };
}
