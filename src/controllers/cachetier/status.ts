/** The status of a CacheTier from what reconcile observed. Pure: table-tested in status.test.ts. */
import type { CacheTier, CacheTierStatus } from '../../api/v1alpha1/index.ts';
import { sticky } from '../../common/figures.ts';
import { serviceHost } from '../../common/hosts.ts';
import { type ConditionInput, conditionsFrom } from '../../runtime/conditions.ts';
import { phaseOf, summarize } from '../../runtime/summary.ts';
import { checks, lagging, persistenceFailing, writerOf } from './checks.ts';
import { REDIS_PORT, tierNames } from './names.ts';
import type { RedisProbe } from './probe.ts';

/** MemoryPressure turns True above this share of maxmemory. */
export const MEMORY_PRESSURE = 0.9;
/** ReplicaLagging turns True when a replica's last ack to the writer is older than this. */
export const REPLICA_ACK_SECONDS = 10;

export interface Failure {
  reason: string;
  message: string;
}

/** MemoryPressure turns True above this share of maxmemory. */
export interface MemberObservation {
  name: string;
  ordinal: number;
  podIP?: string;
  /** The pod's controller-revision-hash. */
  revision?: string;
  podIssue?: Failure;
  probe?: RedisProbe;
  probeError?: Failure;
  /** A replica's: the writer's offset minus its own. */
  lagBytes?: number;
  /** Labelled for NAME-ro by this reconcile's plan. */
  inReadService?: boolean;
}

export interface Observation {
  /** The password Secret's problem, if any (missing, no password key, bad characters). */
  secretProblem?: Failure;
  replicas: number;
  readyReplicas: number;
  /** The members whose pods exist, by ordinal. */
  members: MemberObservation[];
  /** The writer after this reconcile (standalone: the one member). */
  writer?: string;
  /** mode replicated: no writer answers, and why none was promoted yet. */
  waiting?: Failure;
  /** mode replicated, while no writer answers: when one last did (RFC 3339). */
  writerLostSince?: string;
  /** A restart for a new pod template in progress (or waiting): what it does. */
  restart?: string;
  /** A password rotation in progress: both passwords accepted from `since` until `until`. */
  rotation?: { since: string; until: string };
  /** Hits and misses since the previous probe (undefined on the first). */
  interval?: { hits: number; misses: number; evicted: number };
}

export const ALERTS = ['MemoryPressure', 'PersistenceFailing', 'ReplicaLagging'];

export function tierStatus(t: CacheTier, o: Observation, prev: CacheTierStatus): CacheTierStatus {
  const gen = t.metadata.generation;
  const n = tierNames(t);
  const replicated = t.spec.mode === 'replicated';
  const summary = summarize(checks(t, o), 'Redis is up with the spec applied');
  const { ready } = summary;
  // The figures are the writer's (where writes go), or the first member's that answered.
  const probed = o.members.filter((m) => m.probe);
  const main = (writerOf(o)?.probe ? writerOf(o) : probed[0])?.probe;
  const info = main?.info;
  const pct = info && info.maxMemory > 0 ? info.usedMemory / info.maxMemory : undefined;
  const failing = probed.flatMap((m) => {
    const f = persistenceFailing(m.probe!);
    return f ? [replicated ? `${m.name}: ${f}` : f] : [];
  });
  const lag = replicated ? lagging(o) : [];
  const alerts: ConditionInput[] = main
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
        failing.length
          ? { type: 'PersistenceFailing', status: 'True', reason: 'WriteFailed', message: failing.join('; ') }
          : {
              type: 'PersistenceFailing',
              status: 'False',
              reason: 'Ok',
              message: 'AOF and RDB writes succeed',
            },
        ...(replicated
          ? [
              lag.length
                ? {
                    type: 'ReplicaLagging',
                    status: 'True' as const,
                    reason: 'ReplicaBehind',
                    message: lag.join('; '),
                  }
                : {
                    type: 'ReplicaLagging',
                    status: 'False' as const,
                    reason: 'InSync',
                    message: `every replica linked, last ack within ${REPLICA_ACK_SECONDS} s`,
                  },
            ]
          : []),
      ]
    : [];
  const refused = probed.flatMap((m) =>
    Object.entries(m.probe!.config.refused).map(([k, e]) => `${m.name} refused ${k}: ${e}`),
  );
  // Replicated: a replica not yet linked (in NAME-ro) is still being set up.
  const linking = replicated
    ? o.members.filter((m) => m.name !== o.writer && m.inReadService === false).map((m) => m.name)
    : [];
  const settled = o.readyReplicas >= t.spec.replicas && !o.restart && linking.length === 0;
  const conds: ConditionInput[] = [
    ready,
    ...alerts,
    ...(main
      ? [
          refused.length
            ? {
                type: 'ConfigApplied',
                status: 'False' as const,
                reason: 'Refused',
                message: refused.join('; '),
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
      status: settled ? 'False' : 'True',
      reason: settled
        ? 'Reconciled'
        : o.restart
          ? 'Restarting'
          : o.readyReplicas < t.spec.replicas
            ? 'Provisioning'
            : 'Linking',
      message:
        o.restart ??
        (o.readyReplicas >= t.spec.replicas && linking.length
          ? `not linked to the writer yet: ${linking.join(', ')}`
          : `${o.readyReplicas}/${t.spec.replicas} Redis pod(s) ready`),
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
  const refusedMap = Object.fromEntries(
    probed.flatMap((m) =>
      Object.entries(m.probe!.config.refused).map(([k, e]) => [replicated ? `${m.name}/${k}` : k, e]),
    ),
  );
  return {
    observedGeneration: gen,
    phase: phaseOf(summary, {
      serving: o.readyReplicas > 0,
      alerting: alerts.some((a) => a.status === 'True'),
    }),
    conditions: conditionsFrom(prev.conditions, conds, gen),
    endpoint: `${serviceHost(t, n.service)}:${REDIS_PORT}`,
    ...(replicated
      ? {
          readEndpoint: `${serviceHost(t, n.readService)}:${REDIS_PORT}`,
          ...(o.writer ? { writer: o.writer } : {}),
          ...(o.writerLostSince ? { writerLostSince: o.writerLostSince } : {}),
          members: o.members.map((m) => memberStatus(m, o, prev)),
        }
      : {}),
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
          connectedClients: probed.reduce((sum, m) => sum + m.probe!.info.connectedClients, 0),
          persistence: {
            aofEnabled: info.aofEnabled,
            ...(info.aofLastWriteStatus ? { lastAofWriteStatus: info.aofLastWriteStatus } : {}),
            ...(info.aofLastRewriteStatus ? { lastAofRewriteStatus: info.aofLastRewriteStatus } : {}),
            ...(info.lastBgsaveStatus ? { lastBgsaveStatus: info.lastBgsaveStatus } : {}),
          },
          ...(lookups > 0 ? { hitRatio: sticky(prev.hitRatio, o.interval!.hits / lookups, 0.01, 3) } : {}),
          ...(o.interval ? { evictedPerInterval: o.interval.evicted } : {}),
          ...(refused.length ? { config: { refused: refusedMap } } : {}),
        }
      : {}),
  };
}

/** One member as status shows it: role from INFO, lag steady within 1 MiB. */
function memberStatus(
  m: MemberObservation,
  o: Observation,
  prev: CacheTierStatus,
): NonNullable<CacheTierStatus['members']>[number] {
  const i = m.probe?.info;
  const before = prev.members?.find((p) => p.name === m.name);
  const message = m.podIssue?.message ?? m.probeError?.message;
  return {
    name: m.name,
    role: !i ? 'unknown' : i.role === 'master' ? 'writer' : 'replica',
    ...(i?.linkUp !== undefined && m.name !== o.writer ? { linkUp: i.linkUp } : {}),
    ...(m.lagBytes !== undefined ? { lagBytes: sticky(before?.lagBytes, m.lagBytes, 1024 ** 2, 0) } : {}),
    ...(m.inReadService !== undefined
      ? { inReadService: m.inReadService }
      : before?.inReadService !== undefined
        ? { inReadService: before.inReadService }
        : {}),
    ...(message ? { message } : {}),
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
