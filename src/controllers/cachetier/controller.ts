/**
 * The CacheTier controller: Redis with the guide's memory, eviction and persistence policy, as
 * a StatefulSet with its PVC, a generated (or the user's) password, Services, and the TTL
 * hierarchy for applications in NAME-ttl; the live settings applied to the running Redis with
 * CONFIG SET (and in the ConfigMap it reads at a restart); a new password rotated in with ACLs
 * while clients switch (rotation.ts); status from INFO. Mode standalone; replicated mode (its
 * failover) is not implemented yet and is Stalled with that reason.
 */
import { Gauge, type Registry } from 'prom-client';
import { type CacheTier, type CacheTierStatus, cacheTier } from '../../api/v1alpha1/index.ts';
import { type PodLike, podProblem } from '../../common/pods.ts';
import { type EndpointMap, makeResolver, type ServiceAddressMode } from '../../endpoints.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { applyChildren } from '../../runtime/children.ts';
import { MERGE_PATCH } from '../../runtime/client.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import type { ReconcileContext, Reconciler } from '../../runtime/controller.ts';
import { KubeApiError } from '../../runtime/errors.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter, TerminalError } from '../../runtime/result.ts';
import { ensureSecrets } from '../../runtime/secrets.ts';
import {
  type KubeObject,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  MANAGED_SELECTOR,
  Resources,
} from '../../runtime/types.ts';
import { growVolume, parseQuantity } from '../../runtime/volumes.ts';
import { buildAuthSecret, buildOperatorSecret, buildTierChildren } from './builders.ts';
import { OPERATOR_USER, REDIS_PORT, ROLE_LABEL, type RoleLabel, tierLabels, tierNames } from './names.ts';
import { PROBE_TIMEOUT_MS, probeRedis, type RedisTarget, replicaOf, switchover } from './probe.ts';
import { liveSettings, redisBytes } from './redisconf.ts';
import { nextRestart, type RollMember } from './roll.ts';
import { passwordHash, rotationStep } from './rotation.ts';
import { ALERTS, type Failure, type MemberObservation, type Observation, tierStatus } from './status.ts';
import { type MemberView, planTopology } from './topology.ts';

export interface CacheTierControllerOptions {
  endpointMap: EndpointMap;
  serviceAddresses?: ServiceAddressMode;
  images?: DefaultImages;
  timeoutMs?: number;
}

type Tier = CacheTier & KubeObject;
type Pod = KubeObject & {
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
type StsStatus = { replicas?: number; readyReplicas?: number; updateRevision?: string };
interface MemberPod {
  name: string;
  ordinal: number;
  pod: Pod;
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
const CHILD_KINDS = [
  Resources.ConfigMap,
  Resources.Service,
  Resources.StatefulSet,
  Resources.PodDisruptionBudget,
];
const POLARITY = {
  ...DEFAULT_POLARITY,
  abnormalTrue: new Set([...DEFAULT_POLARITY.abnormalTrue, ...ALERTS]),
};

/** The password from a Secret's data, or why it cannot be used (never the value). */
export function readPassword(secret: KubeObject): { password: string } | Failure {
  const name = secret.metadata.name;
  const raw = (secret.data as Record<string, string> | undefined)?.password;
  if (!raw) return { reason: 'InvalidSecret', message: `Secret ${name} has no "password" key` };
  const password = Buffer.from(raw, 'base64').toString('utf8');
  if (/[\s"'\\]/.test(password))
    return {
      reason: 'InvalidSecret',
      message: `Secret ${name}: the password contains whitespace, quotes or backslashes`,
    };
  return { password };
}

export class CacheTierReconciler implements Reconciler<Tier> {
  /** Its cleanup removes the tier's metric series and counters. */
  readonly finalizer = 'homeops.io/finalizer';
  private readonly opts: CacheTierControllerOptions;
  /** Keyspace counters at the last probe, per `uid/member`. */
  private readonly counters = new Map<string, { hits: number; misses: number; evicted: number }>();
  /**
   * mode replicated: when a writer last answered, per tier (uid); the failover clock runs from
   * it, as Sentinel's down-after runs from the last valid reply. Unknown (the operator just
   * started): from the first probe that found none.
   */
  private readonly writerSeen = new Map<string, number>();
  private readonly gauges: Record<
    'used' | 'max' | 'keys' | 'clients' | 'hitRatio' | 'evicted' | 'up' | 'writer' | 'offset' | 'lag',
    Gauge<'namespace' | 'name' | 'member'>
  >;

  constructor(registry: Registry, opts: CacheTierControllerOptions) {
    this.opts = opts;
    const g = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ['namespace', 'name', 'member'] as const, registers: [registry] });
    this.gauges = {
      up: g('homeops_cache_up', '1 when the member answered INFO'),
      used: g('homeops_cache_memory_used_bytes', 'used_memory'),
      max: g('homeops_cache_memory_max_bytes', 'maxmemory'),
      keys: g('homeops_cache_keys', 'Keys in all databases'),
      clients: g('homeops_cache_connected_clients', 'connected_clients'),
      hitRatio: g(
        'homeops_cache_hit_ratio',
        'Hits over lookups during the last interval, all members (member="")',
      ),
      evicted: g('homeops_cache_evicted_keys_total', 'evicted_keys since the server started'),
      writer: g('homeops_cache_writer', '1 for the member the writer Service routes to'),
      offset: g(
        'homeops_cache_replication_offset_bytes',
        'master_repl_offset (writer) or slave_repl_offset (replica)',
      ),
      lag: g('homeops_cache_replica_lag_bytes', "The writer's replication offset minus the replica's"),
    };
  }

  async reconcile(t: Tier, ctx: ReconcileContext) {
    const ns = t.metadata.namespace!;
    const n = tierNames(t);
    const tooBig = maxMemoryAboveLimit(t.spec);
    // Nothing running is touched: the tier keeps its last good spec until this one is fixed.
    if (tooBig) throw new TerminalError('MaxMemoryAboveLimit', tooBig);
    const auth = await this.password(t, ctx);
    if (!auth) return undefined; // made meanwhile: its event brings the tier back
    if ('reason' in auth) {
      // Nothing running is touched: the children stay as they are until the Secret is right.
      await this.write(t, ctx, { secretProblem: auth, replicas: 0, readyReplicas: 0, members: [] });
      return requeueAfter(30_000);
    }
    // A scale-down keeps the writer's pod until a member that stays has taken its role (roll.ts).
    const writerOrdinal = Number(/-([0-9]+)$/.exec(t.status?.writer ?? '')?.[1] ?? -1);
    const keep =
      t.spec.mode === 'replicated' ? Math.max(t.spec.replicas, writerOrdinal + 1) : t.spec.replicas;
    const { waiting } = await applyChildren(
      ctx,
      t,
      buildTierChildren(t, this.opts.images ?? DEFAULT_IMAGES, keep),
      {
        prune: CHILD_KINDS,
        selector: { 'homeops.io/cache': t.metadata.name!, ...MANAGED_BY },
      },
    );
    if (waiting) return requeueAfter(5000);
    for (let i = 0; i < t.spec.replicas; i++)
      await growVolume(ctx, ns, `data-${n.statefulSet}-${i}`, t.spec.persistence.storage.size);
    const sts = ctx.cache.get<KubeObject & { status?: StsStatus }>(Resources.StatefulSet, ns, n.statefulSet);
    const o: Observation = {
      replicas: sts?.status?.replicas ?? 0,
      readyReplicas: sts?.status?.readyReplicas ?? 0,
      members: [],
    };
    const pods = this.pods(t, ctx, Math.max(t.spec.replicas, o.replicas));
    const replicated = t.spec.mode === 'replicated';
    // The elected writer first: in a rotation it accepts the new password before any replica
    // authenticates with it (masterauth).
    const first = replicated ? t.status?.writer : n.pod(0);
    const order = [...pods.filter((p) => p.name === first), ...pods.filter((p) => p.name !== first)];
    o.members = [];
    const probedAt = Date.now();
    for (const group of [order.slice(0, 1), order.slice(1)])
      o.members.push(...(await Promise.all(group.map((p) => this.probe(t, ctx, auth, p)))));
    o.members.sort((a, b) => a.ordinal - b.ordinal);
    let soonMs = Number.POSITIVE_INFINITY;
    if (replicated) soonMs = await this.topology(t, ctx, o, pods, auth.operator, probedAt, sts?.status);
    else o.writer = n.pod(0);
    await this.rotationEvents(t, ctx, o);
    this.record(t, o);
    await this.write(t, ctx, o);
    const interval = t.spec.healthCheckIntervalSeconds * 1000;
    // A rotation's end is on time, not up to an interval late.
    const end = o.rotation ? Date.parse(o.rotation.until) - Date.now() + 250 : interval;
    return requeueAfter(Math.max(1000, Math.min(interval, end, soonMs)));
  }

  /** The members' pods from the cache, by ordinal (those that exist). */
  private pods(t: Tier, ctx: ReconcileContext, count: number): MemberPod[] {
    const n = tierNames(t);
    const out: MemberPod[] = [];
    for (let i = 0; i < count; i++) {
      const pod = ctx.cache.get<Pod>(Resources.Pod, t.metadata.namespace!, n.pod(i));
      if (pod) out.push({ name: n.pod(i), ordinal: i, pod });
    }
    return out;
  }

  /**
   * mode replicated: elect, demote, re-point and label (topology.ts), then at most one restart
   * for a new pod template (roll.ts). Returns how soon to look again.
   */
  private async topology(
    t: Tier,
    ctx: ReconcileContext,
    o: Observation,
    pods: MemberPod[],
    operator: string,
    probedAt: number,
    sts: StsStatus | undefined,
  ): Promise<number> {
    const key = t.metadata.uid!;
    const views: MemberView[] = o.members.map((m) => {
      const info = m.probe?.info;
      const pod = pods.find((p) => p.name === m.name)!.pod;
      return {
        name: m.name,
        ordinal: m.ordinal,
        ...(m.podIP ? { podIP: m.podIP } : {}),
        reachable: !!info && !pod.metadata.deletionTimestamp,
        ...(info ? { role: info.role === 'master' ? ('master' as const) : ('slave' as const) } : {}),
        ...(info?.masterHost !== undefined ? { masterHost: info.masterHost } : {}),
        ...(info?.linkUp !== undefined ? { linkUp: info.linkUp } : {}),
        offset: info ? (info.role === 'master' ? info.replOffset : (info.replicaOffset ?? 0)) : 0,
        ...(pod.metadata.labels?.[ROLE_LABEL] ? { label: pod.metadata.labels[ROLE_LABEL] } : {}),
        ...(m.ordinal >= t.spec.replicas ? { leaving: true } : {}),
      };
    });
    const now = Date.now();
    const anyWriter = views.some((v) => v.reachable && v.role === 'master');
    if (anyWriter || !this.writerSeen.has(key)) this.writerSeen.set(key, probedAt);
    const plan = planTopology({
      members: views,
      ...(t.status?.writer ? { elected: t.status.writer } : {}),
      ...(anyWriter ? {} : { writerLostSinceMs: this.writerSeen.get(key)! }),
      nowMs: now,
      failoverAfterMs: t.spec.failoverAfterSeconds * 1000,
    });
    o.writer = plan.writer ?? t.status?.writer;
    if (plan.waiting) o.waiting = plan.waiting;
    if (!plan.writer)
      // The next probe of the silent writer ends (its timeout) when the failover is due.
      return plan.waiting?.failoverAtMs
        ? Math.max(250, plan.waiting.failoverAtMs - now - (this.opts.timeoutMs ?? PROBE_TIMEOUT_MS))
        : 1000;
    const view = (name: string) => views.find((v) => v.name === name)!;
    const writer = view(plan.writer);
    const target = (name: string) =>
      this.memberTarget(t, ctx, o.members.find((m) => m.name === name)!, operator);
    // The writer Service first stops routing to any other member, then the new writer is made.
    for (const v of views)
      if (v.label === 'writer' && v.name !== plan.writer) await this.label(t, ctx, v.name, null);
    if (plan.promote) {
      await replicaOf(target(plan.writer), undefined, this.opts.timeoutMs);
      this.writerSeen.set(key, Date.now());
      const p = plan.promote;
      ctx.log.info({ writer: plan.writer, reason: p.reason, offset: p.offset }, 'promoted a writer');
      await ctx.writer.event(t, {
        type: p.reason === 'Failover' ? 'Warning' : 'Normal',
        reason: p.reason === 'Failover' ? 'FailedOver' : 'WriterElected',
        note:
          p.reason === 'Failover'
            ? `writer ${p.from} did not answer for ${t.spec.failoverAfterSeconds} s: promoted ${plan.writer} (replication offset ${p.offset})`
            : p.reason === 'WriterRestarted'
              ? `writer ${plan.writer} restarted as a replica and no replica is ahead of it: promoted it again`
              : `${plan.writer} is the writer`,
        action: 'ElectWriter',
      });
    }
    if (writer.label !== 'writer') await this.label(t, ctx, plan.writer, 'writer');
    for (const name of [...plan.demote, ...plan.repoint]) {
      await replicaOf(target(name), writer.podIP, this.opts.timeoutMs);
      if (plan.demote.includes(name))
        await ctx.writer.event(t, {
          type: 'Warning',
          reason: 'WriterDemoted',
          note: `${name} was a second writer: now a replica of ${plan.writer}; writes it took alone are dropped`,
          action: 'ElectWriter',
        });
    }
    for (const [name, role] of Object.entries(plan.labels))
      if (role !== 'writer' && (view(name).label ?? null) !== role) await this.label(t, ctx, name, role);
    for (const m of o.members) {
      const role = plan.labels[m.name];
      if (role !== undefined) m.inReadService = role === 'replica';
    }
    const changed = !!plan.promote || plan.demote.length > 0 || plan.repoint.length > 0;
    if (changed || views.some((v) => !v.reachable)) return 1000;
    return this.roll(t, ctx, o, views, target, sts);
  }

  /** One restart step for a new pod template, replicas first and the writer after a switchover. */
  private async roll(
    t: Tier,
    ctx: ReconcileContext,
    o: Observation,
    views: MemberView[],
    target: (member: string) => RedisTarget,
    sts?: StsStatus,
  ) {
    if (!sts?.updateRevision) return Number.POSITIVE_INFINITY;
    const writer = views.find((v) => v.name === o.writer);
    const members: RollMember[] = o.members.map((m) => {
      const v = views.find((x) => x.name === m.name)!;
      return {
        name: m.name,
        ordinal: m.ordinal,
        outdated: m.revision !== sts.updateRevision,
        settled:
          v.reachable &&
          (m.name === o.writer ? v.role === 'master' : !!v.linkUp && v.masterHost === writer?.podIP),
        offset: v.offset,
        ...(m.podIP ? { podIP: m.podIP } : {}),
      };
    });
    const step = nextRestart(members, o.writer, t.spec.replicas);
    if (step.kind === 'none') return Number.POSITIVE_INFINITY;
    o.restart =
      step.kind === 'wait'
        ? step.message
        : step.kind === 'switchover' && step.why === 'scale-down'
          ? `moving the writer off ${step.from} for the scale-down`
          : 'restarting members for a new pod template';
    if (step.kind === 'wait') return 2000;
    if (step.kind === 'switchover') {
      await switchover(target(step.from), step.toIP);
      await this.label(t, ctx, step.from, null);
      await this.label(t, ctx, step.to, 'writer');
      o.writer = step.to;
      await ctx.writer.event(t, {
        type: 'Normal',
        reason: 'Switchover',
        note:
          step.why === 'restart'
            ? `writer moved from ${step.from} to ${step.to} before ${step.from} restarts for the new pod template`
            : `writer moved from ${step.from} to ${step.to}: the scale-down to ${t.spec.replicas} removes ${step.from}`,
        action: 'Restart',
      });
      return 500;
    }
    await ctx.client.delete(Resources.Pod, t.metadata.namespace!, step.name);
    await ctx.writer.event(t, {
      type: 'Normal',
      reason: 'MemberRestarted',
      note: `${step.name} restarted for the new pod template (replicas first, the writer last)`,
      action: 'Restart',
    });
    return 2000;
  }

  private async label(t: Tier, ctx: ReconcileContext, pod: string, role: RoleLabel | null) {
    await ctx.client.patch(
      Resources.Pod,
      t.metadata.namespace!,
      pod,
      { metadata: { labels: { [ROLE_LABEL]: role } } },
      MERGE_PATCH,
    );
  }

  /** Where the operator reaches a member: the endpoint map's address for it, else its pod IP. */
  private memberTarget(
    t: Tier,
    ctx: ReconcileContext,
    m: MemberObservation,
    operatorPassword: string,
  ): RedisTarget {
    const ns = t.metadata.namespace!;
    const resolve = makeResolver(
      this.opts.endpointMap,
      this.opts.serviceAddresses ?? 'dns',
      (svcNs, svc) =>
        ctx.cache.get<KubeObject & { spec?: { clusterIP?: string } }>(Resources.Service, svcNs, svc)?.spec
          ?.clusterIP,
    );
    // A standalone tier's one member is also reachable as the Service (an endpoint map for it).
    const host =
      t.spec.mode === 'replicated'
        ? `${m.name}.${tierNames(t).headless}.${ns}.svc`
        : `${tierNames(t).service}.${ns}.svc`;
    const mapped = resolve(host, REDIS_PORT);
    const endpoint = mapped.host !== host || !m.podIP ? mapped : { host: m.podIP, port: REDIS_PORT };
    return { ...endpoint, username: OPERATOR_USER, password: operatorPassword };
  }

  /** INFO, the live settings and the rotation step of one member. */
  private async probe(
    t: Tier,
    ctx: ReconcileContext,
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
        this.memberTarget(t, ctx, m, auth.operator),
        liveSettings(t.spec),
        {
          password: auth.password,
          decide: (hashes) => rotationStep(hashes, passwordHash(auth.password), since, Date.now(), graceMs),
        },
        this.opts.timeoutMs,
      );
      for (const [k, v] of Object.entries(m.probe.config.set))
        ctx.log.info({ member: m.name, setting: k, value: v }, 'applied with CONFIG SET');
    } catch (e) {
      m.probeError = { reason: 'ConnectionFailed', message: String((e as Error).message ?? e) };
    }
    return m;
  }

  /**
   * The rotation as status shows it, from the writer's step (the others follow the same rule
   * on their own ACLs), and its Events once per tier.
   */
  private async rotationEvents(t: Tier, ctx: ReconcileContext, o: Observation) {
    const graceMs = t.spec.auth.rotationGraceSeconds * 1000;
    const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
    const probed = o.members.filter((m) => m.probe);
    const step = (probed.find((m) => m.name === o.writer) ?? probed[0])?.probe?.rotation.action;
    const event = (reason: string, note: string) =>
      ctx.writer.event(t, { type: 'Normal', reason, note, action: 'RotatePassword' });
    if (step?.kind === 'add') {
      const now = Date.now();
      o.rotation = { since: iso(now), until: iso(now + graceMs) };
      await event(
        'PasswordRotationStarted',
        `Redis accepts the new password of Secret ${tierNames(t).authSecret} beside the old one until ${o.rotation.until}`,
      );
    } else if (step?.kind === 'wait') o.rotation = { since: iso(step.sinceMs), until: iso(step.untilMs) };
    else if (step?.kind === 'finish')
      await event('PasswordRotated', 'the old password is no longer accepted');
  }

  /** Counters' change since the last probe (per member, summed), and the metrics. */
  private record(t: Tier, o: Observation) {
    const ns = t.metadata.namespace!;
    const writer = o.members.find((m) => m.name === o.writer);
    let sum: Observation['interval'];
    for (const m of o.members) {
      const labels = { namespace: ns, name: t.metadata.name!, member: m.name };
      this.gauges.writer.set(labels, m.name === o.writer ? 1 : 0);
      if (!m.probe) {
        this.gauges.up.set(labels, 0);
        continue;
      }
      const i = m.probe.info;
      const key = `${t.metadata.uid}/${m.name}`;
      const before = this.counters.get(key);
      const now = { hits: i.keyspaceHits, misses: i.keyspaceMisses, evicted: i.evictedKeys };
      // A restart resets the counters: no interval figure across one.
      if (before && now.hits >= before.hits && now.misses >= before.misses && now.evicted >= before.evicted) {
        sum ??= { hits: 0, misses: 0, evicted: 0 };
        sum.hits += now.hits - before.hits;
        sum.misses += now.misses - before.misses;
        sum.evicted += now.evicted - before.evicted;
      }
      this.counters.set(key, now);
      const offset = i.role === 'master' ? i.replOffset : (i.replicaOffset ?? 0);
      if (m.name !== o.writer && writer?.probe && i.role === 'slave')
        m.lagBytes = Math.max(0, writer.probe.info.replOffset - offset);
      this.gauges.up.set(labels, 1);
      this.gauges.used.set(labels, i.usedMemory);
      this.gauges.max.set(labels, i.maxMemory);
      this.gauges.keys.set(labels, i.keys);
      this.gauges.clients.set(labels, i.connectedClients);
      this.gauges.evicted.set(labels, i.evictedKeys);
      this.gauges.offset.set(labels, offset);
      if (m.lagBytes !== undefined) this.gauges.lag.set(labels, m.lagBytes);
      else this.gauges.lag.remove(labels);
    }
    if (sum) o.interval = sum;
    const lookups = (sum?.hits ?? 0) + (sum?.misses ?? 0);
    const tierLabels = { namespace: ns, name: t.metadata.name!, member: '' };
    if (lookups > 0) this.gauges.hitRatio.set(tierLabels, sum!.hits / lookups);
    else this.gauges.hitRatio.remove(tierLabels);
    // Members gone by a scale-down leave no series behind.
    for (let i = o.members.length; i < 9; i++) this.removeMember(t, tierNames(t).pod(i));
  }

  private removeMember(t: Tier, member: string) {
    for (const g of Object.values(this.gauges))
      g.remove({ namespace: t.metadata.namespace!, name: t.metadata.name!, member });
  }

  private async write(t: Tier, ctx: ReconcileContext, o: Observation) {
    const status = tierStatus(t, o, (t.status ?? {}) as CacheTierStatus);
    await ctx.writer.applyStatus(Resources.CacheTier, t, status as Record<string, unknown>, POLARITY);
  }

  /**
   * The passwords: the applications' (the generated Secret, made once, or the user's
   * `auth.secretRef`, labelled so that the operator's cache holds it but not owned: deleting
   * the tier leaves it) and the operator's own ACL user's (always generated).
   */
  private async password(
    t: Tier,
    ctx: ReconcileContext,
  ): Promise<{ password: string; operator: string } | Failure | undefined> {
    const ns = t.metadata.namespace!;
    const n = tierNames(t);
    const secretLabels = tierLabels(t, 'secret');
    const wanted = [{ name: n.operatorSecret, labels: secretLabels, build: () => buildOperatorSecret(t) }];
    if (!t.spec.auth.secretRef)
      wanted.push({ name: n.authSecret, labels: secretLabels, build: () => buildAuthSecret(t) });
    const made = await ensureSecrets(ctx, t, wanted);
    if (!made) return undefined;
    let secret = made[1];
    if (t.spec.auth.secretRef) {
      secret =
        ctx.cache.get(Resources.Secret, ns, n.authSecret) ??
        (await ctx.client.get(Resources.Secret, ns, n.authSecret).catch((e) => {
          if (e instanceof KubeApiError && e.notFound) return undefined;
          throw e;
        }));
      if (!secret)
        return {
          reason: 'SecretNotFound',
          message: `Secret ${n.authSecret} (auth.secretRef) not found in ${ns}`,
        };
      if (secret.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY[MANAGED_BY_LABEL])
        await ctx.client.patch(
          Resources.Secret,
          ns,
          n.authSecret,
          { metadata: { labels: MANAGED_BY } },
          MERGE_PATCH,
        );
    }
    const p = readPassword(secret!);
    const op = readPassword(made[0]!);
    if ('reason' in p) return p;
    if ('reason' in op) return op;
    return { password: p.password, operator: op.password };
  }

  async cleanup(t: Tier) {
    const uid = t.metadata.uid!;
    for (const k of this.counters.keys()) if (k.startsWith(`${uid}/`)) this.counters.delete(k);
    this.writerSeen.delete(uid);
    for (let i = 0; i < 9; i++) this.removeMember(t, tierNames(t).pod(i));
    this.removeMember(t, '');
    return undefined;
  }
}

const readyReplicas = (o: KubeObject) => (o.status as { readyReplicas?: number } | undefined)?.readyReplicas;

export function registerCacheTierController(manager: Manager, opts: CacheTierControllerOptions) {
  const reconciler = new CacheTierReconciler(manager.metrics.registry, opts);
  for (const type of [...CHILD_KINDS, Resources.Secret, Resources.Pod, Resources.PersistentVolumeClaim])
    manager.informer(type, { labelSelector: MANAGED_SELECTOR });
  const controller = manager
    .controller<Tier>('cachetier')
    .for(Resources.CacheTier, { schema: cacheTier })
    .owns(Resources.ConfigMap)
    .owns(Resources.Service)
    .owns(Resources.StatefulSet, { reads: readyReplicas })
    .owns(Resources.PodDisruptionBudget)
    .owns(Resources.Secret)
    .complete(reconciler);
  return { reconciler, controller };
}
