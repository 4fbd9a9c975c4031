/**
 * The ReplicaSet controller (homeops.io): streaming read replicas of a HomeOpsDatabase. Each
 * member has its own physical slot on the primary, made before the member starts and dropped
 * once it is gone; lag is measured on the primary and on each member; the read Service NAME-ro
 * selects a label the operator sets only on members that are Ready, streaming and within
 * maxLagSeconds. Built on the shared pattern: registration, named steps, builders, pure status.
 */
import type { Registry } from 'prom-client';
import { type HomeOpsDatabase, type ReplicaSetStatus, replicaSet } from '../../api/v1alpha1/index.ts';
import { childrenOf, toOwner } from '../../common/labels.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { classifyPgError } from '../../pg/errors.ts';
import { applyChildren } from '../../runtime/children.ts';
import { MERGE_PATCH } from '../../runtime/client.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import { keyOf, type ReconcileContext, type Reconciler } from '../../runtime/controller.ts';
import { errorText } from '../../runtime/errors.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter } from '../../runtime/result.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { growVolume } from '../../runtime/volumes.ts';
import { configDigest } from '../homeopsdatabase/pgconfig.ts';
import { buildReplicaChildren } from './builders.ts';
import { dropSlots, type PrimaryView, syncPrimary } from './lag.ts';
import { ReplicaMetrics } from './metrics.ts';
import { rsNames, slotOrdinal } from './names.ts';
import {
  memberPods,
  type ObserveOptions,
  observeDatabase,
  observeMembers,
  primaryAccess,
  type Rs,
} from './observe.ts';
import { nextMeasurementMs, slotPlan } from './plan.ts';
import { moveReadLabels, tellFailingMembers } from './readservice.ts';
import {
  decideMembers,
  type Failure,
  type MemberDecision,
  type Observation,
  replicaSetStatus,
} from './status.ts';

export const RS_FINALIZER = 'homeops.io/replication-slots';

export interface ReplicaSetControllerOptions extends ObserveOptions {
  images?: DefaultImages;
}

const POLARITY = {
  ...DEFAULT_POLARITY,
  abnormalTrue: new Set([...DEFAULT_POLARITY.abnormalTrue, 'LagExceeded']),
};
const CHILD_KINDS = [
  Resources.ConfigMap,
  Resources.Service,
  Resources.StatefulSet,
  Resources.PodDisruptionBudget,
];

export class ReplicaSetReconciler implements Reconciler<Rs> {
  readonly finalizer = RS_FINALIZER;
  readonly metrics: ReplicaMetrics;
  private readonly opts: ReplicaSetControllerOptions;

  constructor(registry: Registry, opts: ReplicaSetControllerOptions) {
    this.opts = opts;
    this.metrics = new ReplicaMetrics(registry);
  }

  /** The steps: database → primary (slots, WAL position) → members' lag → children → labels → status. */
  async reconcile(rs: Rs, ctx: ReconcileContext) {
    const ns = rs.metadata.namespace!;
    const n = rsNames(rs);
    const sts = ctx.cache.get<
      KubeObject & { spec?: { replicas?: number }; status?: { replicas?: number; readyReplicas?: number } }
    >(Resources.StatefulSet, ns, n.statefulSet);
    const db = observeDatabase(rs, ctx);
    if (!db.object) {
      // Its members copied a primary that is gone: they stop (a database made again under the
      // same name is a new cluster, which they could not follow), and start afresh when it comes.
      if ((sts?.spec?.replicas ?? 0) > 0)
        await ctx.client.patch(
          Resources.StatefulSet,
          ns,
          n.statefulSet,
          { spec: { replicas: 0 } },
          MERGE_PATCH,
        );
      return this.finish(
        rs,
        ctx,
        {
          database: db.view,
          primaryReached: false,
          members: [],
          replicas: sts?.status?.replicas ?? 0,
          readyReplicas: sts?.status?.readyReplicas ?? 0,
        },
        [],
      );
    }
    const access = primaryAccess(db.object, ctx, this.opts);
    const pods = memberPods(rs, sts, ctx);
    let primary: PrimaryView | undefined;
    let primaryError: Failure | undefined;
    if (db.view.state === 'Ready' && access.login) {
      try {
        primary = await syncPrimary(access.login, slotPlan(rs, pods), this.opts.timeoutMs);
        for (const s of (primary as { created?: string[] }).created ?? [])
          ctx.log.info({ slot: s }, 'replication slot created');
        for (const s of (primary as { dropped?: string[] }).dropped ?? [])
          ctx.log.info({ slot: s }, 'replication slot dropped');
      } catch (e) {
        primaryError = classifyPgError(e);
      }
    } else if (!access.login) primaryError = { reason: 'SecretNotReadable', message: access.error! };
    // New members only once their slots exist; without the primary, none is added.
    const liveReplicas = sts?.spec?.replicas ?? 0;
    const replicas = primary ? rs.spec.replicas : Math.min(liveReplicas, rs.spec.replicas);
    const configDigest = digestOf(db.object);
    const members = await observeMembers(rs, pods, primary, access.login, ctx, {
      ...this.opts,
      configDigest,
    });
    const decisions = decideMembers(members, { primaryReached: !!primary }, rs.spec.maxLagSeconds);
    const readFromPrimary = rs.spec.fallbackToPrimary && rs.spec.replicas > 0 && !decisions.some((d) => d.in);
    const { waiting } = await applyChildren(
      ctx,
      rs,
      buildReplicaChildren(
        rs,
        db.object,
        { replicas, readFromPrimary, secretsDigest: access.digest },
        this.opts.images ?? DEFAULT_IMAGES,
      ),
      {
        prune: CHILD_KINDS,
        selector: childrenOf('ReplicaSet', rs),
      },
    );
    if (waiting) return requeueAfter(5000);
    await moveReadLabels(rs, pods, decisions, ctx);
    for (let i = 0; i < replicas; i++) await growVolume(ctx, ns, n.pvc(i), rs.spec.storage.size);
    return this.finish(
      rs,
      ctx,
      {
        database: db.view,
        primaryReached: !!primary,
        ...(primaryError ? { primaryError } : {}),
        members,
        replicas: sts?.status?.replicas ?? 0,
        readyReplicas: sts?.status?.readyReplicas ?? 0,
      },
      decisions,
    );
  }

  private async finish(rs: Rs, ctx: ReconcileContext, o: Observation, decisions: MemberDecision[]) {
    this.metrics.set(rs.metadata.namespace!, rs.metadata.name!, decisions);
    const prev = (rs.status ?? {}) as ReplicaSetStatus;
    const status = replicaSetStatus(rs, o, decisions, prev);
    const wrote = await ctx.writer.applyStatus(
      Resources.ReplicaSet,
      rs,
      status as Record<string, unknown>,
      POLARITY,
    );
    if (wrote) await tellFailingMembers(rs, o, prev, status, ctx);
    // A missing database's arrival wakes the ReplicaSet (the database watch): no polling.
    if (o.database.state === 'Missing') return undefined;
    return requeueAfter(nextMeasurementMs(rs, decisions));
  }

  /**
   * On deletion: the slots are dropped, so the primary keeps no WAL for members about to go.
   * With the database gone or going there is nothing to drop; an unreachable primary is retried
   * (the slots would keep WAL forever).
   */
  async cleanup(raw: Rs, ctx: ReconcileContext) {
    this.metrics.forget(raw.metadata.namespace!, raw.metadata.name!);
    const parsed = replicaSet.safeParse(raw);
    if (!parsed.success) return undefined;
    const rs = parsed.data as Rs;
    const db = observeDatabase(rs, ctx);
    if (!db.object) return undefined;
    const access = primaryAccess(db.object, ctx, this.opts);
    if (!access.login) {
      ctx.log.warn(
        { err: errorText(access.error) },
        'cannot reach the primary to drop the slots; they are left',
      );
      return undefined;
    }
    const dropped = await dropSlots(
      access.login,
      (s) => slotOrdinal(rs, s) !== undefined,
      this.opts.timeoutMs,
    );
    ctx.log.info({ slots: dropped }, 'replication slots dropped');
    return undefined;
  }
}

/** The digest the members' postgresql.conf carries (the database's parameters in force). */
const digestOf = (db: HomeOpsDatabase) => configDigest(db.spec);

/** Declares the controller on a manager (the HomeOpsDatabase controller declares the shared informers). */
export function registerReplicaSetController(manager: Manager, opts: ReplicaSetControllerOptions) {
  const reconciler = new ReplicaSetReconciler(manager.metrics.registry, opts);
  const ofDatabase = (db: KubeObject) =>
    manager.cache
      .list<Rs>(Resources.ReplicaSet, db.metadata.namespace)
      .filter((rs) => rs.spec?.databaseRef?.name === db.metadata.name)
      .map(keyOf);
  const controller = manager
    .controller<Rs>('replicaset')
    .for(Resources.ReplicaSet, { schema: replicaSet })
    .owns(Resources.ConfigMap)
    .owns(Resources.Service)
    .owns(Resources.StatefulSet, {
      reads: (s) => [
        (s.status as { replicas?: number })?.replicas,
        (s.status as { readyReplicas?: number })?.readyReplicas,
      ],
    })
    .owns(Resources.PodDisruptionBudget)
    .caches(Resources.Secret, Resources.Pod, Resources.PersistentVolumeClaim)
    // The database's arrival, deletion or primary's change; the members' pods (readiness, a
    // failed start, a label).
    .watches(Resources.HomeOpsDatabase, ofDatabase)
    .watches(Resources.Pod, toOwner('ReplicaSet'))
    .complete(reconciler);
  return { reconciler, controller };
}
