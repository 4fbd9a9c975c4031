/**
 * The members of a CacheTier: their pods from the cache, where the operator reaches each, why a
 * pod does not run, and one visit per member per reconcile (`syncMember`): INFO, and the two
 * changes Redis takes live (CONFIG SET of the guide's settings, a password-rotation step).
 */
import type { CacheTier } from '../../api/v1alpha1/index.ts';
import { type PodLike, podProblem } from '../../common/pods.ts';
import { type ReachOptions as CommonReach, serviceResolver } from '../../common/reach.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { parseQuantity } from '../../runtime/volumes.ts';
import { OPERATOR_USER, REDIS_PORT, tierNames } from './names.ts';
import { probeRedis, type RedisTarget } from './probe.ts';
import { liveSettings, redisBytes } from './redisconf.ts';
import { passwordHash, rotationStep } from './rotation.ts';
import type { Failure, MemberObservation } from './status.ts';

export type Tier = CacheTier & KubeObject;
export type Pod = KubeObject & {
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: {
      name: string;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { exitCode?: number; message?: string } };
    }[];
  };
};
export interface MemberPod {
  name: string;
  ordinal: number;
  pod: Pod;
}

/** How the operator reaches Redis (common/reach.ts), and its timeout. */
export interface ReachOptions extends CommonReach {
  timeoutMs?: number;
}

/** A maxmemory above the container's memory limit: Redis would be OOM-killed before it evicts. */
export function maxMemoryAboveLimit(spec: CacheTier['spec']): string | undefined {
  const limit = spec.resources?.limits?.memory;
  if (limit === undefined) return undefined;
  const bytes = parseQuantity(String(limit));
  const max = redisBytes(spec.maxMemory);
  return max > bytes
    ? `maxMemory ${spec.maxMemory} (${max} bytes) is above the container's memory limit ${limit} (${bytes} bytes): Redis would be OOM-killed before it evicts; lower maxMemory or raise resources.limits.memory`
    : undefined;
}

/**
 * Why a Redis pod does not run: the start script's own message (an image without
 * redis-server exits 78 with it in the termination message), else the kubelet's reason.
 */
export function redisPodProblem(pod: Pod): Failure | undefined {
  for (const c of pod.status?.containerStatuses ?? []) {
    const t = c.lastState?.terminated;
    if (t?.exitCode === 78 && t.message?.includes('redis-server'))
      return { reason: 'RedisServerMissing', message: `container ${c.name}: ${t.message.trim()}` };
  }
  return podProblem(pod as PodLike);
}

/** The members' pods from the cache, by ordinal (those that exist). */
export function memberPods(t: Tier, ctx: ReconcileContext, count: number): MemberPod[] {
  const n = tierNames(t);
  const out: MemberPod[] = [];
  for (let i = 0; i < count; i++) {
    const pod = ctx.cache.get<Pod>(Resources.Pod, t.metadata.namespace!, n.pod(i));
    if (pod) out.push({ name: n.pod(i), ordinal: i, pod });
  }
  return out;
}

/** Where the operator reaches a member: the endpoint map's address for it, else its pod IP. */
export function memberTarget(
  t: Tier,
  ctx: ReconcileContext,
  reach: ReachOptions,
  m: MemberObservation,
  operatorPassword: string,
): RedisTarget {
  const ns = t.metadata.namespace!;
  const resolve = serviceResolver(reach, ctx.cache);
  // A standalone tier's one member is also reachable as the Service (an endpoint map for it).
  const host =
    t.spec.mode === 'replicated'
      ? `${m.name}.${tierNames(t).headlessService}.${ns}.svc`
      : `${tierNames(t).service}.${ns}.svc`;
  const mapped = resolve(host, REDIS_PORT);
  const endpoint = mapped.host !== host || !m.podIP ? mapped : { host: m.podIP, port: REDIS_PORT };
  return { ...endpoint, username: OPERATOR_USER, password: operatorPassword };
}

/**
 * One member's visit: what its pod says, INFO, and the live changes (CONFIG SET of the settings
 * that differ, the rotation step its ACLs call for). Writes to Redis, never to the API.
 */
export async function syncMember(
  t: Tier,
  ctx: ReconcileContext,
  reach: ReachOptions,
  auth: { password: string; operator: string },
  p: MemberPod,
): Promise<MemberObservation> {
  const podIP = p.pod.status?.podIP;
  const m: MemberObservation = {
    name: p.name,
    ordinal: p.ordinal,
    ...(podIP ? { podIP } : {}),
    ...(p.pod.metadata.labels?.['controller-revision-hash']
      ? { revision: p.pod.metadata.labels['controller-revision-hash'] }
      : {}),
  };
  const ready = p.pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
  if (!ready) {
    const issue = redisPodProblem(p.pod);
    if (issue) m.podIssue = issue;
    m.probeError = { reason: 'NotReady', message: issue?.message ?? 'pod not ready' };
    return m;
  }
  try {
    const graceMs = t.spec.auth.rotationGraceSeconds * 1000;
    const since = t.status?.rotation?.since ? Date.parse(t.status.rotation.since) : undefined;
    m.probe = await probeRedis(
      memberTarget(t, ctx, reach, m, auth.operator),
      liveSettings(t.spec),
      {
        password: auth.password,
        decide: (hashes) => rotationStep(hashes, passwordHash(auth.password), since, Date.now(), graceMs),
      },
      reach.timeoutMs,
    );
    for (const [k, v] of Object.entries(m.probe.config.set))
      ctx.log.info({ member: m.name, setting: k, value: v }, 'applied with CONFIG SET');
  } catch (e) {
    m.probeError = { reason: 'ConnectionFailed', message: String((e as Error).message ?? e) };
  }
  return m;
}
