/**
 * The CacheTier controller: Redis with the guide's memory, eviction and persistence policy, as
 * a StatefulSet with its PVC, a generated (or the user's) password, Services, and the TTL
 * hierarchy for applications in NAME-ttl; the live settings applied to the running Redis with
 * CONFIG SET (and in the ConfigMap it reads at a restart); a new password rotated in with ACLs
 * while clients switch (rotation.ts, password.ts); status from INFO. Mode `replicated` runs
 * several members with the operator's own failover (topology.ts decides, failover.ts acts).
 *
 * One reconcile: passwords → children → volumes → visit members → elect/roll (replicated) →
 * rotation → metrics → status.
 */
import type { Registry } from 'prom-client';
import { type CacheTierStatus, cacheTier } from '../../api/v1alpha1/index.ts';
import { childrenOf } from '../../common/labels.ts';
import type { EndpointMap, ServiceAddressMode } from '../../endpoints.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { applyChildren } from '../../runtime/children.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import type { ReconcileContext, Reconciler } from '../../runtime/controller.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter, TerminalError } from '../../runtime/result.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { growVolume } from '../../runtime/volumes.ts';
import { buildTierChildren } from './builders.ts';
import { type StsStatus, WriterElection } from './failover.ts';
import { maxMemoryAboveLimit, memberPods, syncMember, type Tier } from './members.ts';
import { CacheMetrics } from './metrics.ts';
import { tierNames } from './names.ts';
import { ensurePasswords, reportRotation } from './password.ts';
import { ALERTS, type Observation, tierStatus } from './status.ts';

export interface CacheTierControllerOptions {
  endpointMap: EndpointMap;
  serviceAddresses?: ServiceAddressMode;
  images?: DefaultImages;
  timeoutMs?: number;
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
/** Earlier versions added it only to clear memory on deletion; `forget` does that now. */
export const RETIRED_CACHE_FINALIZER = 'homeops.io/finalizer';

export class CacheTierReconciler implements Reconciler<Tier> {
  readonly retiredFinalizers = [RETIRED_CACHE_FINALIZER];
  private readonly opts: CacheTierControllerOptions;
  private readonly metrics: CacheMetrics;
  private readonly election: WriterElection;

  constructor(registry: Registry, opts: CacheTierControllerOptions) {
    this.opts = opts;
    this.metrics = new CacheMetrics(registry);
    this.election = new WriterElection(opts);
  }

  async reconcile(t: Tier, ctx: ReconcileContext) {
    const tooBig = maxMemoryAboveLimit(t.spec);
    // Nothing running is touched: the tier keeps its last good spec until this one is fixed.
    if (tooBig) throw new TerminalError('MaxMemoryAboveLimit', tooBig);
    const auth = await ensurePasswords(t, ctx);
    if (!auth) return undefined; // made meanwhile: its event brings the tier back
    if ('reason' in auth) {
      // Nothing running is touched: the children stay as they are until the Secret is right.
      await this.writeStatus(t, ctx, { secretProblem: auth, replicas: 0, readyReplicas: 0, members: [] });
      return requeueAfter(30_000);
    }
    if (await this.applyChildren(t, ctx)) return requeueAfter(5000);
    const ns = t.metadata.namespace!;
    const n = tierNames(t);
    const sts = ctx.cache.get<KubeObject & { status?: StsStatus }>(Resources.StatefulSet, ns, n.statefulSet);
    const o: Observation = {
      replicas: sts?.status?.replicas ?? 0,
      readyReplicas: sts?.status?.readyReplicas ?? 0,
      members: [],
    };
    const pods = memberPods(t, ctx, Math.max(t.spec.replicas, o.replicas));
    const replicated = t.spec.mode === 'replicated';
    // The elected writer first: in a rotation it accepts the new password before any replica
    // authenticates with it (masterauth).
    const first = replicated ? t.status?.writer : n.pod(0);
    const order = [...pods.filter((p) => p.name === first), ...pods.filter((p) => p.name !== first)];
    const probedAt = Date.now();
    for (const group of [order.slice(0, 1), order.slice(1)])
      o.members.push(...(await Promise.all(group.map((p) => syncMember(t, ctx, this.opts, auth, p)))));
    o.members.sort((a, b) => a.ordinal - b.ordinal);
    let soonMs = Number.POSITIVE_INFINITY;
    if (replicated)
      soonMs = await this.election.converge(t, ctx, o, pods, auth.operator, probedAt, sts?.status);
    else o.writer = n.pod(0);
    await reportRotation(t, ctx, o);
    this.metrics.update(t, o);
    await this.writeStatus(t, ctx, o);
    const interval = t.spec.healthCheckIntervalSeconds * 1000;
    // A rotation's end is on time, not up to an interval late.
    const end = o.rotation ? Date.parse(o.rotation.until) - Date.now() + 250 : interval;
    return requeueAfter(Math.max(1000, Math.min(interval, end, soonMs)));
  }

  /** The children and their volumes; true while a child of the same name is still being deleted. */
  private async applyChildren(t: Tier, ctx: ReconcileContext): Promise<boolean> {
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
        selector: childrenOf('CacheTier', t),
      },
    );
    if (waiting) return true;
    const n = tierNames(t);
    for (let i = 0; i < t.spec.replicas; i++)
      await growVolume(
        ctx,
        t.metadata.namespace!,
        `data-${n.statefulSet}-${i}`,
        t.spec.persistence.storage.size,
      );
    return false;
  }

  private async writeStatus(t: Tier, ctx: ReconcileContext, o: Observation) {
    const status = tierStatus(t, o, (t.status ?? {}) as CacheTierStatus);
    await ctx.writer.applyStatus(Resources.CacheTier, t, status as Record<string, unknown>, POLARITY);
  }

  /** The tier is gone from the cache: its counters, series and failover clock go too. */
  forget({ namespace, name }: { namespace: string | undefined; name: string }) {
    this.metrics.forget(namespace!, name);
    this.election.forget(namespace!, name);
  }
}

const readyReplicas = (o: KubeObject) => (o.status as { readyReplicas?: number } | undefined)?.readyReplicas;

export function registerCacheTierController(manager: Manager, opts: CacheTierControllerOptions) {
  const reconciler = new CacheTierReconciler(manager.metrics.registry, opts);
  const controller = manager
    .controller<Tier>('cachetier')
    .for(Resources.CacheTier, { schema: cacheTier })
    .owns(Resources.ConfigMap)
    .owns(Resources.Service)
    .owns(Resources.StatefulSet, { reads: readyReplicas })
    .owns(Resources.PodDisruptionBudget)
    .owns(Resources.Secret)
    .caches(Resources.Pod, Resources.PersistentVolumeClaim)
    .complete(reconciler);
  return { reconciler, controller };
}
