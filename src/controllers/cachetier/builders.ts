/**
 * The desired children of a CacheTier, as pure functions of it (and of the digest of its
 * Secret, which rolls the pods when the password changes). No I/O.
 */
import { createHash } from 'node:crypto';
import type { CacheTier } from '../../api/v1alpha1/index.ts';
import { generatePassword } from '../../common/passwords.ts';
import { CHECKSUM_ANNOTATION, containerSecurity, placement } from '../../common/podspec.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { dataClaimTemplate, pdbObject, podSecurityContext, serviceObject } from '../../runtime/objects.ts';
import { ownerRef } from '../../runtime/status.ts';
import type { KubeObject } from '../../runtime/types.ts';
import {
  AUTH_DIR,
  CONFIG_DIR,
  DATA_DIR,
  OPERATOR_AUTH_DIR,
  REDIS_PORT,
  REDIS_ROLE_LABEL,
  REDIS_UID,
  RUN_DIR,
  tierLabels,
  tierNames,
  tierSelector,
} from './names.ts';
import { renderLiveConf, renderRedisConf, renderRedisStartScript } from './redisconf.ts';

function meta(t: CacheTier, name: string, component: 'redis' | 'config' | 'secret') {
  return {
    name,
    namespace: t.metadata.namespace,
    labels: tierLabels(t, component),
    ownerReferences: [ownerRef(t as never)],
  };
}

const replicated = (t: CacheTier) => t.spec.mode === 'replicated';
/** The writer Service's name, which members of a replicated tier start as replicas of. */
const writerHost = (t: CacheTier) => `${tierNames(t).service}.${t.metadata.namespace}.svc`;

export function buildRedisConfigMap(t: CacheTier): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(t, tierNames(t).config, 'config'),
    data: {
      'redis.conf': renderRedisConf(t.spec, writerHost(t)),
      'live.conf': renderLiveConf(t.spec),
      'start.sh': renderRedisStartScript(),
    },
  };
}

/** The generated password Secret (when auth.secretRef names none): 256 bits from the CSPRNG. */
export function buildAuthSecret(t: CacheTier, password = generatePassword()): KubeObject {
  return passwordSecret(t, tierNames(t).authSecret, password);
}

/** The operator's own ACL user's password (always generated, never shown to applications). */
export function buildOperatorSecret(t: CacheTier, password = generatePassword()): KubeObject {
  return passwordSecret(t, tierNames(t).operatorSecret, password);
}

function passwordSecret(t: CacheTier, name: string, password: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: meta(t, name, 'secret'),
    type: 'Opaque',
    stringData: { password },
  };
}

/**
 * Only what needs a restart goes into the pods' checksum: redis.conf and the start script (and
 * the image). live.conf changes reach the running server by CONFIG SET, and a new password by
 * ACL SETUSER (a rotation), not a roll; a restart reads both from the mounted files.
 */
export function restartChecksum(t: CacheTier): string {
  const cm = buildRedisConfigMap(t).data as Record<string, string>;
  return createHash('sha256')
    .update(JSON.stringify([cm['redis.conf'], cm['start.sh']]))
    .digest('hex')
    .slice(0, 16);
}

/**
 * The StatefulSet. `members` is spec.replicas, or more while a scale-down would remove the
 * writer: it keeps its pod until the operator has switched over to a member that stays.
 */
export function buildRedisStatefulSet(
  t: CacheTier,
  images: DefaultImages = DEFAULT_IMAGES,
  members = t.spec.replicas,
): KubeObject {
  const n = tierNames(t);
  const storage = t.spec.persistence.storage;
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: meta(t, n.statefulSet, 'redis'),
    spec: {
      replicas: members,
      serviceName: n.headlessService,
      selector: { matchLabels: tierSelector(t) },
      podManagementPolicy: 'OrderedReady',
      // Replicated: the operator restarts members itself, replicas first and the writer last
      // after a switchover (roll.ts); the StatefulSet controller's order knows no roles.
      updateStrategy: { type: replicated(t) ? 'OnDelete' : 'RollingUpdate' },
      persistentVolumeClaimRetentionPolicy: { whenDeleted: storage.reclaimPolicy, whenScaled: 'Retain' },
      template: {
        metadata: {
          labels: { ...tierLabels(t, 'redis'), ...tierSelector(t) },
          annotations: { [CHECKSUM_ANNOTATION]: restartChecksum(t) },
        },
        spec: {
          securityContext: podSecurityContext(REDIS_UID),
          ...placement(t.spec.scheduling),
          // Redis writes its AOF and exits on SIGTERM; a large dataset may take a while.
          terminationGracePeriodSeconds: 60,
          enableServiceLinks: false,
          containers: [
            {
              name: 'redis',
              image: t.spec.image ?? images.redis,
              command: ['sh', `${CONFIG_DIR}/start.sh`],
              ports: [{ name: 'redis', containerPort: REDIS_PORT }],
              // redis-cli needs the password for PING; a TCP probe does not, and a loading
              // Redis (replaying its AOF) accepts connections: readiness is the operator's INFO.
              readinessProbe: { tcpSocket: { port: REDIS_PORT }, periodSeconds: 5 },
              livenessProbe: { tcpSocket: { port: REDIS_PORT }, periodSeconds: 10, failureThreshold: 6 },
              ...(t.spec.resources ? { resources: t.spec.resources } : {}),
              securityContext: containerSecurity(REDIS_UID),
              volumeMounts: [
                { name: 'data', mountPath: DATA_DIR },
                { name: 'config', mountPath: CONFIG_DIR, readOnly: true },
                { name: 'auth', mountPath: AUTH_DIR, readOnly: true },
                { name: 'operator', mountPath: OPERATOR_AUTH_DIR, readOnly: true },
                { name: 'run', mountPath: RUN_DIR },
                { name: 'tmp', mountPath: '/tmp' },
              ],
            },
          ],
          volumes: [
            { name: 'config', configMap: { name: n.config, defaultMode: 0o444 } },
            {
              name: 'auth',
              secret: {
                secretName: n.authSecret,
                defaultMode: 0o400,
                items: [{ key: 'password', path: 'password' }],
              },
            },
            {
              name: 'operator',
              secret: {
                secretName: n.operatorSecret,
                defaultMode: 0o400,
                items: [{ key: 'password', path: 'password' }],
              },
            },
            { name: 'run', emptyDir: { medium: 'Memory' } },
            { name: 'tmp', emptyDir: {} },
          ],
        },
      },
      volumeClaimTemplates: [dataClaimTemplate(tierLabels(t, 'redis'), storage)],
    },
  };
}

const PORT = { name: 'redis', port: REDIS_PORT };

/** The writer: in mode replicated, the member the operator elected (its role label). */
export const buildRedisService = (t: CacheTier) =>
  serviceObject(meta(t, tierNames(t).service, 'redis'), {
    selector: replicated(t) ? { ...tierSelector(t), [REDIS_ROLE_LABEL]: 'writer' } : tierSelector(t),
    port: PORT,
  });
/** mode replicated: the replicas linked to the writer. */
export const buildReadService = (t: CacheTier) =>
  serviceObject(meta(t, tierNames(t).readService, 'redis'), {
    selector: { ...tierSelector(t), [REDIS_ROLE_LABEL]: 'replica' },
    port: PORT,
  });
export const buildHeadlessService = (t: CacheTier) =>
  serviceObject(meta(t, tierNames(t).headlessService, 'redis'), {
    selector: tierSelector(t),
    port: PORT,
    headless: true,
  });
export const buildRedisPdb = (t: CacheTier) =>
  pdbObject(meta(t, tierNames(t).pdb, 'redis'), tierSelector(t), { maxUnavailable: 1 });

export function buildTierChildren(t: CacheTier, images?: DefaultImages, members?: number): KubeObject[] {
  return [
    buildRedisConfigMap(t),
    buildTtlConfigMap(t),
    buildHeadlessService(t),
    buildRedisService(t),
    ...(replicated(t) ? [buildReadService(t)] : []),
    buildRedisStatefulSet(t, images, members),
    buildRedisPdb(t),
  ];
}

/** Seconds of a Go duration ("15m", "1h30m", "500ms"). */
export const durationSeconds = (d: string) =>
  [...d.matchAll(/([0-9.]+)(ms|s|m|h)/g)].reduce(
    (t, [, v, u]) => t + Number(v) * { ms: 0.001, s: 1, m: 60, h: 3600 }[u as 'ms' | 's' | 'm' | 'h'],
    0,
  );

/** The guide's TTL hierarchy for applications: NAME-ttl, seconds per policy, and a JSON form. */
export function buildTtlConfigMap(t: CacheTier): KubeObject {
  const p = t.spec.ttlPolicies;
  const ttl: Record<string, number> = {
    session: durationSeconds(p.session),
    preferences: durationSeconds(p.preferences),
    configs: durationSeconds(p.configs),
    queryResultsMin: durationSeconds(p.queryResults.min),
    queryResultsMax: durationSeconds(p.queryResults.max),
    apiResponsesMin: durationSeconds(p.apiResponses.min),
    apiResponsesMax: durationSeconds(p.apiResponses.max),
    realtime: durationSeconds(p.realtime),
    aggregationsMin: durationSeconds(p.aggregations.min),
    aggregationsMax: durationSeconds(p.aggregations.max),
  };
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: meta(t, tierNames(t).ttl, 'config'),
    data: {
      ...Object.fromEntries(Object.entries(ttl).map(([k, v]) => [k, String(v)])),
      'ttl.json': JSON.stringify(ttl),
    },
  };
}
