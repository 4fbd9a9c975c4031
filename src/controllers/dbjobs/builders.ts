/**
 * The Jobs of a HomeOpsDatabase, as pure functions of it and of their inputs. The migration
 * Job's name carries a digest of everything it applies (the builtin set, each listed
 * ConfigMap's content, the retry annotation): a change makes a new Job, and the same inputs
 * never run twice, a failed run included, until one of them changes.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import type { KubeObject } from '../../runtime/client.ts';
import { podSecurityContext } from '../../runtime/objects.ts';
import { ownerRef } from '../../runtime/status.ts';
import { containerSecurity, placement } from '../homeopsdatabase/builders.ts';
import { names, POSTGRES_PORT } from '../homeopsdatabase/names.ts';
import { secretName, usernameFor } from '../homeopsdatabase/secrets.ts';
import {
  APP_SECRET_DIR,
  HASH_LABEL,
  INPUTS_ANNOTATION,
  jobLabels,
  jobName,
  MIGRATIONS_DIR,
  OPERATOR_UID,
  RETRY_MIGRATIONS,
  setName,
} from './names.ts';

export type ConfigMapData = Record<string, string>;

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
  const hash = createHash('sha256')
    .update(
      JSON.stringify([
        m.builtin ? builtinDigest : null,
        sets.map((s) => [s.name, Object.entries(s.data!).sort(([a], [b]) => a.localeCompare(b))]),
        retry ?? null,
      ]),
    )
    .digest('hex')
    .slice(0, 10);
  const summary = [
    ...(m.builtin ? [`builtin@${builtinDigest.slice(0, 12)}`] : []),
    ...sets.map((s) => `configmap/${s.name}`),
    ...(retry ? [`retry=${retry}`] : []),
  ].join(' ');
  return { hash, summary };
}

/**
 * `homeops-operator job migrate` against the primary (the -rw Service, not PgBouncer: advisory
 * locks and CREATE INDEX CONCURRENTLY need a session), as the database's owner (it can create
 * schemas in its database; pg_stat_statements is made by the operator as the superuser before
 * the database is Ready), its password from the mounted app Secret (PGPASSWORD_FILE). A failure
 * the job reports (exit 1: a migration failed; 2: invalid input) fails the Job at once
 * (podFailurePolicy); anything else (the pod evicted, the node lost) is retried twice.
 */
export function buildMigrationJob(
  db: HomeOpsDatabase,
  hash: string,
  summary: string,
  image: string,
): KubeObject {
  const n = names(db);
  const sets = db.spec.migrations.configMaps.map((r) => r.name);
  const labels = { ...jobLabels(db, 'migrate'), [HASH_LABEL]: hash };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: jobName(db, 'migrate', hash),
      namespace: db.metadata.namespace,
      labels,
      annotations: { [INPUTS_ANNOTATION]: summary },
      ownerReferences: [ownerRef(db as never)],
    },
    spec: {
      backoffLimit: 2,
      activeDeadlineSeconds: 1800,
      podFailurePolicy: {
        rules: [
          { action: 'FailJob', onExitCodes: { containerName: 'migrate', operator: 'In', values: [1, 2] } },
          // An evicted or preempted pod is not the migration's failure.
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
          automountServiceAccountToken: false,
          containers: [
            {
              name: 'migrate',
              image,
              command: [
                'node',
                '/app/dist/main.js',
                'job',
                'migrate',
                ...(db.spec.migrations.builtin ? [] : ['--no-builtin']),
                ...sets.map((s) => `--set=${setName(s)}:${MIGRATIONS_DIR}/${s}`),
              ],
              env: [
                { name: 'PGHOST', value: `${n.rwService}.${db.metadata.namespace}.svc` },
                { name: 'PGPORT', value: String(POSTGRES_PORT) },
                { name: 'PGDATABASE', value: db.spec.database.name },
                { name: 'PGUSER', value: usernameFor(db, 'app') },
                { name: 'PGPASSWORD_FILE', value: `${APP_SECRET_DIR}/password` },
              ],
              terminationMessagePolicy: 'File',
              resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } },
              securityContext: containerSecurity(OPERATOR_UID),
              volumeMounts: [
                { name: 'app', mountPath: APP_SECRET_DIR, readOnly: true },
                ...sets.map((s, i) => ({
                  name: `set-${i}`,
                  mountPath: `${MIGRATIONS_DIR}/${s}`,
                  readOnly: true,
                })),
              ],
            },
          ],
          volumes: [
            {
              name: 'app',
              secret: {
                secretName: secretName(db, 'app'),
                defaultMode: 0o400,
                items: [{ key: 'password', path: 'password' }],
              },
            },
            ...sets.map((s, i) => ({ name: `set-${i}`, configMap: { name: s, defaultMode: 0o444 } })),
          ],
        },
      },
    },
  };
}
