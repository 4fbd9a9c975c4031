/** The status of a CacheTier from what reconcile observed. Pure: table-tested in cachetier.test.ts. */
import type { CacheTier, CacheTierStatus } from '../../api/v1alpha1/index.ts';
import { type ConditionInput, conditionsFrom } from '../../runtime/conditions.ts';
import { type Check, summarize } from '../../runtime/summary.ts';
import { sticky } from '../homeopsdatabase/health.ts';
import { serviceHost } from '../homeopsdatabase/names.ts';
import { REDIS_PORT, tierNames } from './names.ts';
import type { RedisProbe } from './probe.ts';

/** MemoryPressure turns True above this share of maxmemory. */
export const MEMORY_PRESSURE = 0.9;

export interface Failure {
  reason: string;
  message: string;
}

export interface Observation {
  /** The password Secret's problem, if any (missing, no password key, bad characters). */
  secretProblem?: Failure;
  replicas: number;
  readyReplicas: number;
  podIssue?: Failure;
  probe?: RedisProbe;
  probeError?: Failure;
  /** A password rotation in progress: both passwords accepted from `since` until `until`. */
  rotation?: { since: string; until: string };
  /** Hits and misses since the previous probe (undefined on the first). */
  interval?: { hits: number; misses: number; evicted: number };
}

export const ALERTS = ['MemoryPressure', 'PersistenceFailing'];

function checks(t: CacheTier, o: Observation): Check[] {
  const refused = Object.entries(o.probe?.config.refused ?? {});
  return [
    {
      ok: !o.secretProblem,
      reason: o.secretProblem?.reason ?? 'SecretNotFound',
      message: o.secretProblem?.message ?? '',
    },
    {
      ok: o.readyReplicas >= t.spec.replicas,
      reason: o.podIssue?.reason ?? 'Provisioning',
      message: o.podIssue
        ? `pod ${tierNames(t).pod(0)}: ${o.podIssue.message}`
        : `${o.readyReplicas}/${t.spec.replicas} Redis pod(s) ready`,
    },
    {
      ok: !!o.probe,
      reason: o.probeError?.reason ?? 'NotProbed',
      message: `redis: ${o.probeError?.message ?? 'not probed'}`,
    },
    { ok: !o.probe?.info.loading, reason: 'Loading', message: 'Redis is loading its data from disk' },
    {
      ok: refused.length === 0,
      reason: 'ConfigRefused',
      message: `Redis refused: ${refused.map(([k, e]) => `${k} (${e})`).join('; ')}`,
    },
  ];
}

function persistenceFailing(p: RedisProbe): string | undefined {
  const i = p.info;
  if (i.aofEnabled && i.aofLastWriteStatus && i.aofLastWriteStatus !== 'ok')
    return `AOF write status ${i.aofLastWriteStatus}`;
  if (i.aofLastRewriteStatus && i.aofLastRewriteStatus !== 'ok')
    return `AOF rewrite status ${i.aofLastRewriteStatus}`;
  if (i.lastBgsaveStatus && i.lastBgsaveStatus !== 'ok') return `last BGSAVE ${i.lastBgsaveStatus}`;
  return undefined;
}

export function tierStatus(t: CacheTier, o: Observation, prev: CacheTierStatus): CacheTierStatus {
  const gen = t.metadata.generation;
  const n = tierNames(t);
  const { ready, blocking } = summarize(checks(t, o), 'Redis is up with the spec applied');
  const info = o.probe?.info;
  const pct = info && info.maxMemory > 0 ? info.usedMemory / info.maxMemory : undefined;
  const failing = o.probe ? persistenceFailing(o.probe) : undefined;
  const alerts: ConditionInput[] = o.probe
    ? [
        pct !== undefined && pct > MEMORY_PRESSURE
          ? {
              type: 'MemoryPressure',
              status: 'True',
              reason: 'AboveThreshold',
              message: `used ${(pct * 100).toFixed(0)} % of maxmemory (over ${MEMORY_PRESSURE * 100} %)`,
            }
          : {
              type: 'MemoryPressure',
              status: 'False',
              reason: 'BelowThreshold',
              message: `under ${MEMORY_PRESSURE * 100} % of maxmemory`,
            },
        failing
          ? { type: 'PersistenceFailing', status: 'True', reason: 'WriteFailed', message: failing }
          : {
              type: 'PersistenceFailing',
              status: 'False',
              reason: 'Ok',
              message: 'AOF and RDB writes succeed',
            },
      ]
    : [];
  const refused = o.probe?.config.refused ?? {};
  const conds: ConditionInput[] = [
    ready,
    ...alerts,
    ...(o.probe
      ? [
          Object.keys(refused).length
            ? {
                type: 'ConfigApplied',
                status: 'False' as const,
                reason: 'Refused',
                message: `${n.pod(0)} refused ${Object.entries(refused)
                  .map(([k, e]) => `${k}: ${e}`)
                  .join('; ')}`,
              }
            : {
                type: 'ConfigApplied',
                status: 'True' as const,
                reason: 'Applied',
                message: "the running Redis has the spec's live settings",
              },
        ]
      : []),
    {
      type: 'Reconciling',
      status: o.readyReplicas >= t.spec.replicas ? 'False' : 'True',
      reason: o.readyReplicas >= t.spec.replicas ? 'Reconciled' : 'Provisioning',
      message: `${o.readyReplicas}/${t.spec.replicas} Redis pod(s) ready`,
    },
    { type: 'Stalled', status: 'False', reason: 'Reconciled', message: 'no blocking error' },
  ];
  const lookups = o.interval ? o.interval.hits + o.interval.misses : 0;
  // Steady within 1 MiB or 5 %: a probe's own connection moves used_memory by a few KiB.
  const used = info
    ? sticky(
        prev.memory?.usedBytes,
        info.usedMemory,
        Math.max(1024 ** 2, (prev.memory?.usedBytes ?? 0) * 0.05),
        0,
      )
    : undefined;
  return {
    observedGeneration: gen,
    phase: blocking
      ? o.readyReplicas > 0
        ? 'Degraded'
        : 'Provisioning'
      : alerts.some((a) => a.status === 'True')
        ? 'Degraded'
        : 'Ready',
    conditions: conditionsFrom(prev.conditions, conds, gen),
    endpoint: `${serviceHost(t as never, n.service)}:${REDIS_PORT}`,
    authSecret: n.authSecret,
    ...(o.rotation ? { rotation: o.rotation } : {}),
    replicas: o.replicas,
    readyReplicas: o.readyReplicas,
    ...(info && used !== undefined
      ? {
          memory: {
            usedBytes: used,
            usedHuman: human(used),
            ...(info.maxMemory > 0 ? { maxBytes: info.maxMemory } : {}),
            ...(pct !== undefined ? { usedPercent: sticky(prev.memory?.usedPercent, pct * 100, 1, 0) } : {}),
          },
          keys: info.keys,
          evictedKeys: info.evictedKeys,
          connectedClients: info.connectedClients,
          persistence: {
            aofEnabled: info.aofEnabled,
            ...(info.aofLastWriteStatus ? { lastAofWriteStatus: info.aofLastWriteStatus } : {}),
            ...(info.aofLastRewriteStatus ? { lastAofRewriteStatus: info.aofLastRewriteStatus } : {}),
            ...(info.lastBgsaveStatus ? { lastBgsaveStatus: info.lastBgsaveStatus } : {}),
          },
          ...(lookups > 0 ? { hitRatio: sticky(prev.hitRatio, o.interval!.hits / lookups, 0.01, 3) } : {}),
          ...(o.interval ? { evictedPerInterval: o.interval.evicted } : {}),
          ...(Object.keys(refused).length ? { config: { refused } } : {}),
        }
      : {}),
  };
}

/** Bytes as Redis's used_memory_human writes them: 968.14K, 1.50M, 2.00G. */
export function human(bytes: number): string {
  for (const [unit, size] of [
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const)
    if (bytes >= size) return `${(bytes / size).toFixed(2)}${unit}`;
  return `${bytes}B`;
}
