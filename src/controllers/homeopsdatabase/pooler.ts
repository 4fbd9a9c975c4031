/** PgBouncer in front of a database: its Deployment, Service and PDB. Pure builders. */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { CHECKSUM_ANNOTATION, containerSecurity, placement } from '../../common/podspec.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { pdbObject } from '../../runtime/objects.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { configChecksum, meta, service } from './builders.ts';
import {
  dbLabels,
  dbNames,
  POOLER_CONFIG_DIR,
  POOLER_PORT,
  POOLER_RUN_DIR,
  poolerSelector,
  SECRETS_DIR,
} from './names.ts';
import { POOLER_KEY_PREFIX, poolerFiles } from './pgbouncerconf.ts';

export const PGBOUNCER_UID = 998;

export function buildPoolerDeployment(
  db: HomeOpsDatabase,
  secretsDigest: string,
  images: DefaultImages = DEFAULT_IMAGES,
): KubeObject {
  const n = dbNames(db);
  const p = db.spec.pooler;
  const config = poolerFiles(db);
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
          labels: { ...dbLabels(db, 'pooler'), ...poolerSelector(db) },
          annotations: { [CHECKSUM_ANNOTATION]: configChecksum(config, secretsDigest) },
        },
        spec: {
          // fsGroup makes the mounted Secret (mode 0400) readable by the non-root user.
          securityContext: {
            fsGroup: PGBOUNCER_UID,
            runAsNonRoot: true,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          ...placement(p.scheduling),
          enableServiceLinks: false,
          containers: [
            {
              name: 'pgbouncer',
              image: p.image ?? images.pgbouncer,
              // The operator's start script writes userlist.txt (only the auth user's own
              // password, from its Secret) into a memory volume, then execs pgbouncer.
              command: ['sh', `${POOLER_CONFIG_DIR}/start.sh`],
              ports: [{ name: 'postgres', containerPort: POOLER_PORT }],
              readinessProbe: { tcpSocket: { port: POOLER_PORT }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: POOLER_PORT }, periodSeconds: 10, failureThreshold: 6 },
              ...(p.resources ? { resources: p.resources } : {}),
              securityContext: containerSecurity(PGBOUNCER_UID),
              volumeMounts: [
                { name: 'config', mountPath: POOLER_CONFIG_DIR, readOnly: true },
                { name: 'pooler-secret', mountPath: `${SECRETS_DIR}/pooler`, readOnly: true },
                { name: 'auth', mountPath: POOLER_RUN_DIR },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            {
              name: 'config',
              configMap: {
                name: n.config,
                defaultMode: 0o444,
                items: Object.keys(config).map((k) => ({ key: `${POOLER_KEY_PREFIX}${k}`, path: k })),
              },
            },
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
  service(db, dbNames(db).pooler, poolerSelector(db), false, 'pooler');

export function buildPoolerPdb(db: HomeOpsDatabase): KubeObject {
  return pdbObject(meta(db, dbNames(db).pooler, 'pooler'), poolerSelector(db), { maxUnavailable: 1 });
}
