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
import { type EndpointMap, makeResolver, type ServiceAddressMode } from '../../endpoints.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { applyChildren } from '../../runtime/children.ts';
import { KubeApiError, type KubeObject, MERGE_PATCH } from '../../runtime/client.ts';
import type { ReconcileContext, Reconciler } from '../../runtime/controller.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter, TerminalError } from '../../runtime/result.ts';
import { ensureSecrets } from '../../runtime/secrets.ts';
import { DEFAULT_POLARITY } from '../../runtime/status.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, MANAGED_SELECTOR, Resources } from '../../runtime/types.ts';
import { growVolume } from '../../runtime/volumes.ts';
import { podProblem } from '../homeopsdatabase/health.ts';
import { buildAuthSecret, buildOperatorSecret, buildTierChildren } from './builders.ts';
import { OPERATOR_USER, REDIS_PORT, tierNames } from './names.ts';
import { probeRedis } from './probe.ts';
import { liveSettings } from './redisconf.ts';
import { passwordHash, rotationStep } from './rotation.ts';
import { ALERTS, type Failure, type Observation, tierStatus } from './status.ts';

export interface CacheTierControllerOptions {
  endpointMap: EndpointMap;
  serviceAddresses?: ServiceAddressMode;
  images?: DefaultImages;
  timeoutMs?: number;
}

type Tier = CacheTier & KubeObject;
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
  private readonly counters = new Map<string, { hits: number; misses: number; evicted: number }>();
  private readonly gauges: Record<
    'used' | 'max' | 'keys' | 'clients' | 'hitRatio' | 'evicted' | 'up',
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
      hitRatio: g('homeops_cache_hit_ratio', 'Hits over lookups during the last interval'),
      evicted: g('homeops_cache_evicted_keys_total', 'evicted_keys since the server started'),
    };
  }

  async reconcile(t: Tier, ctx: ReconcileContext) {
    const ns = t.metadata.namespace!;
    const n = tierNames(t);
    if (t.spec.mode === 'replicated')
      // Not a half-made replicated tier (writers that do not replicate, no failover): Stalled,
      // with the reason, until it is implemented or the spec says standalone.
      throw new TerminalError(
        'ModeNotSupported',
        'mode replicated (replicas, NAME-ro and failover) is not implemented by this operator version yet; use mode standalone',
      );
    const auth = await this.password(t, ctx);
    if (!auth) return undefined; // made meanwhile: its event brings the tier back
    if ('reason' in auth) {
      // Nothing running is touched: the children stay as they are until the Secret is right.
      await this.write(t, ctx, { secretProblem: auth, replicas: 0, readyReplicas: 0 });
      return requeueAfter(30_000);
    }
    const { waiting } = await applyChildren(
      ctx,
      t,
      buildTierChildren(t, this.opts.images ?? DEFAULT_IMAGES),
      {
        prune: CHILD_KINDS,
        selector: { 'homeops.io/cache': t.metadata.name!, ...MANAGED_BY },
      },
    );
    if (waiting) return requeueAfter(5000);
    for (let i = 0; i < t.spec.replicas; i++)
      await growVolume(ctx, ns, `data-${n.statefulSet}-${i}`, t.spec.persistence.storage.size);
    const sts = ctx.cache.get<KubeObject & { status?: { replicas?: number; readyReplicas?: number } }>(
      Resources.StatefulSet,
      ns,
      n.statefulSet,
    );
    const o: Observation = {
      replicas: sts?.status?.replicas ?? 0,
      readyReplicas: sts?.status?.readyReplicas ?? 0,
    };
    const pod = ctx.cache.get<KubeObject & { status?: { podIP?: string } }>(Resources.Pod, ns, n.pod(0));
    if (o.readyReplicas < 1) {
      const issue = podProblem(pod as Parameters<typeof podProblem>[0]);
      if (issue) o.podIssue = issue;
    } else await this.probe(t, ctx, auth, pod, o);
    await this.write(t, ctx, o);
    const interval = t.spec.healthCheckIntervalSeconds * 1000;
    // A rotation's end is on time, not up to an interval late.
    const end = o.rotation ? Date.parse(o.rotation.until) - Date.now() + 250 : interval;
    return requeueAfter(Math.max(1000, Math.min(interval, end)));
  }

  /** INFO and the live settings, and the counters' change since the last probe. */
  private async probe(
    t: Tier,
    ctx: ReconcileContext,
    auth: { password: string; operator: string },
    pod: KubeObject | undefined,
    o: Observation,
  ) {
    const ns = t.metadata.namespace!;
    const n = tierNames(t);
    const resolve = makeResolver(
      this.opts.endpointMap,
      this.opts.serviceAddresses ?? 'dns',
      (svcNs, svc) =>
        ctx.cache.get<KubeObject & { spec?: { clusterIP?: string } }>(Resources.Service, svcNs, svc)?.spec
          ?.clusterIP,
    );
    const host = `${n.service}.${ns}.svc`;
    const mapped = resolve(host, REDIS_PORT);
    const podIP = (pod?.status as { podIP?: string } | undefined)?.podIP;
    // The member itself (its pod IP) when the endpoint map does not say otherwise.
    const target = mapped.host !== host || !podIP ? mapped : { host: podIP, port: REDIS_PORT };
    const labels = { namespace: ns, name: t.metadata.name!, member: n.pod(0) };
    try {
      const graceMs = t.spec.auth.rotationGraceSeconds * 1000;
      const since = t.status?.rotation?.since ? Date.parse(t.status.rotation.since) : undefined;
      o.probe = await probeRedis(
        { ...target, username: OPERATOR_USER, password: auth.operator },
        liveSettings(t.spec),
        {
          password: auth.password,
          decide: (hashes) => rotationStep(hashes, passwordHash(auth.password), since, Date.now(), graceMs),
        },
        this.opts.timeoutMs,
      );
      const step = o.probe.rotation.action;
      const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
      if (step.kind === 'add') {
        const now = Date.now();
        o.rotation = { since: iso(now), until: iso(now + graceMs) };
        await ctx.writer.event(t, {
          type: 'Normal',
          reason: 'PasswordRotationStarted',
          note: `Redis accepts the new password of Secret ${tierNames(t).authSecret} beside the old one until ${o.rotation.until}`,
          action: 'RotatePassword',
        });
      } else if (step.kind === 'wait') o.rotation = { since: iso(step.sinceMs), until: iso(step.untilMs) };
      else if (step.kind === 'finish')
        await ctx.writer.event(t, {
          type: 'Normal',
          reason: 'PasswordRotated',
          note: 'the old password is no longer accepted',
          action: 'RotatePassword',
        });
      for (const [k, v] of Object.entries(o.probe.config.set))
        ctx.log.info({ setting: k, value: v }, 'applied with CONFIG SET');
      const i = o.probe.info;
      const key = t.metadata.uid!;
      const before = this.counters.get(key);
      const now = { hits: i.keyspaceHits, misses: i.keyspaceMisses, evicted: i.evictedKeys };
      // A restart resets the counters: no interval figure across one.
      if (before && now.hits >= before.hits && now.misses >= before.misses && now.evicted >= before.evicted)
        o.interval = {
          hits: now.hits - before.hits,
          misses: now.misses - before.misses,
          evicted: now.evicted - before.evicted,
        };
      this.counters.set(key, now);
      this.gauges.up.set(labels, 1);
      this.gauges.used.set(labels, i.usedMemory);
      this.gauges.max.set(labels, i.maxMemory);
      this.gauges.keys.set(labels, i.keys);
      this.gauges.clients.set(labels, i.connectedClients);
      this.gauges.evicted.set(labels, i.evictedKeys);
      const lookups = (o.interval?.hits ?? 0) + (o.interval?.misses ?? 0);
      if (lookups > 0) this.gauges.hitRatio.set(labels, o.interval!.hits / lookups);
      else this.gauges.hitRatio.remove(labels);
    } catch (e) {
      o.probeError = { reason: 'ConnectionFailed', message: String((e as Error).message ?? e) };
      this.gauges.up.set(labels, 0);
    }
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
    const wanted = [{ name: n.operatorSecret, build: () => buildOperatorSecret(t) }];
    if (!t.spec.auth.secretRef) wanted.push({ name: n.authSecret, build: () => buildAuthSecret(t) });
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
    this.counters.delete(t.metadata.uid!);
    for (const g of Object.values(this.gauges))
      g.remove({
        namespace: t.metadata.namespace!,
        name: t.metadata.name!,
        member: tierNames(t as CacheTier).pod(0),
      });
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
