/**
 * The ReplicaSet controller (homeops.io): streaming read replicas of a HomeOpsDatabase. Each
 * member has its own physical slot on the primary, made before the member starts and dropped
 * once it is gone; lag is measured on the primary and on each member; the read Service NAME-ro
 * selects a label the operator sets only on members that are Ready, streaming and within
 * maxLagSeconds. Built on the shared pattern: registration, named steps, builders, pure status.
 */
import type { Registry } from 'prom-client';
import {
  type HomeOpsDatabase,
  homeOpsDatabase,
  type ReplicaSet,
  type ReplicaSetStatus,
  replicaSet,
} from '../../api/v1alpha1/index.ts';
import { serviceHost } from '../../common/hosts.ts';
import { podProblem } from '../../common/pods.ts';
import { type EndpointMap, makeResolver, type ServiceAddressMode } from '../../endpoints.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import { classifyPgError } from '../../pg/errors.ts';
import { applyChildren } from '../../runtime/children.ts';
import { MERGE_PATCH } from '../../runtime/client.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import { keyOf, type ReconcileContext, type Reconciler } from '../../runtime/controller.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter } from '../../runtime/result.ts';
import { type KubeObject, MANAGED_BY, MANAGED_SELECTOR, Resources } from '../../runtime/types.ts';
import { growVolume } from '../../runtime/volumes.ts';
import { names as dbNames, POSTGRES_PORT, SUPERUSER } from '../homeopsdatabase/names.ts';
import { readCredentials, secretsDigest } from '../homeopsdatabase/secrets.ts';
import { buildReplicaChildren } from './builders.ts';
import { dropSlots, type Login, measureMember, type PrimaryView, type SlotRow, syncPrimary } from './lag.ts';
import { ReplicaMetrics } from './metrics.ts';
import { ordinalOf, READ_LABEL, READ_LABEL_VALUE, rsNames, slotName, slotOrdinal } from './names.ts';
import {
  decideMembers,
  type Failure,
  type MemberDecision,
  type MemberView,
  type Observation,
  replicaSetStatus,
} from './status.ts';

export const RS_FINALIZER = 'homeops.io/replication-slots';

export interface ReplicaSetControllerOptions {
  endpointMap: EndpointMap;
  serviceAddresses?: ServiceAddressMode;
  images?: DefaultImages;
  /** Connection and statement timeout of the operator's sessions with the primary and members. */
  timeoutMs?: number;
  /** How long a member that is behind is watched for catching up before its lag is read from timestamps. */
  settleMs?: number;
}

type Rs = ReplicaSet & KubeObject;
type Pod = KubeObject & {
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      name: string;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { message?: string } };
    }[];
  };
};

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

const podReady = (p: Pod | undefined) =>
  !!p &&
  !p.metadata.deletionTimestamp &&
  !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** A pod's problem, with the termination message a failed base backup left (its reason first). */
function memberProblem(pod: Pod): Failure | undefined {
  const p = podProblem(pod);
  const message = pod.status?.containerStatuses?.[0]?.lastState?.terminated?.message?.trim();
  // The last failure stays the member's state while the kubelet retries (a new attempt is
  // running, or waiting out its backoff), so the state does not flap with each attempt.
  const m = message && /^(BaseBackupFailed): (.*)$/s.exec(message);
  if (m) return { reason: m[1]!, message: m[2]!.trim() };
  return p;
}

/**
 * When to measure again: each interval, or sooner when a member in the read Service already
 * lags a fifth of the bound or more, at the moment its lag would reach the bound if replay had
 * stopped (lag grows at most one second per second). A stuck member then leaves about when it
 * crosses the bound, not up to an interval later; a member near 0 costs nothing extra.
 */
export function nextMeasurementMs(rs: ReplicaSet, decisions: readonly MemberDecision[]): number {
  const interval = rs.spec.healthCheckIntervalSeconds * 1000;
  const max = rs.spec.maxLagSeconds;
  let next = interval;
  for (const d of decisions)
    if (d.in && d.lagSeconds !== undefined && d.lagSeconds >= max * 0.2)
      next = Math.min(next, Math.max(1000, (max - d.lagSeconds) * 1000 + 250));
  return next;
}

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
    const db = this.database(rs, ctx);
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
    const access = this.access(db.object, ctx);
    const pods = this.memberPods(rs, sts, ctx);
    let primary: PrimaryView | undefined;
    let primaryError: Failure | undefined;
    if (db.view.state === 'Ready' && access.login) {
      try {
        primary = await syncPrimary(access.login, this.slotPlan(rs, pods), this.opts.timeoutMs);
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
    const members = await this.observeMembers(rs, pods, primary, access.login, ctx);
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
        selector: { 'homeops.io/replicaset': rs.metadata.name!, ...MANAGED_BY },
      },
    );
    if (waiting) return requeueAfter(5000);
    await this.label(rs, pods, decisions, ctx);
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
    if (wrote) await this.tellFailingMembers(rs, o, prev, status, ctx);
    // A missing database's arrival wakes the ReplicaSet (the database watch): no polling.
    if (o.database.state === 'Missing') return undefined;
    return requeueAfter(nextMeasurementMs(rs, decisions));
  }

  /**
   * A member that starts failing (a base backup refused, an image, a crash loop) is told once,
   * as a Warning with the reason: Ready may already be False for another reason and not flip.
   */
  private async tellFailingMembers(
    rs: Rs,
    o: Observation,
    prev: ReplicaSetStatus,
    next: ReplicaSetStatus,
    ctx: ReconcileContext,
  ) {
    for (const m of next.members ?? []) {
      const problem = o.members.find((v) => v.name === m.name)?.problem;
      if (!problem || prev.members?.find((p) => p.name === m.name)?.state === m.state) continue;
      await ctx.writer.event(rs, {
        type: 'Warning',
        reason: problem.reason,
        note: `${m.name}: ${problem.message}`,
        action: 'Member',
      });
    }
  }

  /** The database it follows, from the cache, and what its status says of the primary. */
  private database(
    rs: Rs,
    ctx: ReconcileContext,
  ): { object?: HomeOpsDatabase; view: Observation['database'] } {
    const ns = rs.metadata.namespace!;
    const name = rs.spec.databaseRef.name;
    const raw = ctx.cache.get<KubeObject>(Resources.HomeOpsDatabase, ns, name);
    if (!raw || raw.metadata.deletionTimestamp)
      return {
        view: {
          state: 'Missing',
          message: raw
            ? `HomeOpsDatabase ${name} is being deleted`
            : `HomeOpsDatabase ${name} not found in namespace ${ns}`,
        },
      };
    const parsed = homeOpsDatabase.safeParse(raw);
    if (!parsed.success)
      return { view: { state: 'Missing', message: `HomeOpsDatabase ${name} has an invalid spec` } };
    const primary = (
      raw.status as
        | { conditions?: { type: string; status: string; reason?: string; message?: string }[] }
        | undefined
    )?.conditions?.find((c) => c.type === 'PrimaryAvailable');
    return primary?.status === 'True'
      ? {
          object: parsed.data,
          view: { state: 'Ready', message: `HomeOpsDatabase ${name}'s primary is available` },
        }
      : {
          object: parsed.data,
          view: {
            state: 'NotReady',
            message: `waiting for HomeOpsDatabase ${name}'s primary${primary ? `: ${primary.reason}: ${primary.message}` : ''}`,
          },
        };
  }

  /** The superuser login on the primary (through its -rw Service) and the replication Secret's digest. */
  private access(
    db: HomeOpsDatabase,
    ctx: ReconcileContext,
  ): { login?: Login; digest: string; error?: string } {
    const ns = db.metadata.namespace!;
    const dn = dbNames(db);
    const superuser = ctx.cache.get(Resources.Secret, ns, dn.superuserSecret);
    const replication = ctx.cache.get(Resources.Secret, ns, dn.replicationSecret);
    const digest = secretsDigest([replication]);
    if (!superuser) return { digest, error: `Secret ${dn.superuserSecret} not found` };
    let password: string;
    try {
      password = readCredentials(superuser, SUPERUSER).password;
    } catch (e) {
      return { digest, error: (e as Error).message };
    }
    const resolve = this.resolver(ctx);
    return {
      digest,
      login: {
        ...resolve(serviceHost(db, dn.rwService), POSTGRES_PORT),
        user: SUPERUSER,
        password,
        database: 'postgres',
      },
    };
  }

  private resolver(ctx: ReconcileContext) {
    return makeResolver(
      this.opts.endpointMap,
      this.opts.serviceAddresses ?? 'dns',
      (svcNs, svc) =>
        ctx.cache.get<KubeObject & { spec?: { clusterIP?: string } }>(Resources.Service, svcNs, svc)?.spec
          ?.clusterIP,
    );
  }

  /** The member pods in the cache, by ordinal. */
  /**
   * The members' pods: the StatefulSet's (the owner index), or, with no StatefulSet in the cache
   * (deleted, its pods possibly still going), those of the namespace with the ReplicaSet's label.
   */
  private memberPods(rs: Rs, sts: KubeObject | undefined, ctx: ReconcileContext): Map<number, Pod> {
    const out = new Map<number, Pod>();
    const candidates = sts?.metadata.uid
      ? ctx.cache.owned<Pod>(Resources.Pod, sts.metadata.uid)
      : ctx.cache.list<Pod>(Resources.Pod, rs.metadata.namespace);
    for (const p of candidates) {
      if (p.metadata.labels?.['homeops.io/replicaset'] !== rs.metadata.name) continue;
      const i = ordinalOf(rs, p.metadata.name!);
      if (i !== undefined) out.set(i, p);
    }
    return out;
  }

  /**
   * Slots to make: each wanted member's that is missing. Slots to drop: the ReplicaSet's whose
   * member is no longer wanted and whose pod is gone (its walsender, if any, is ended first).
   */
  private slotPlan(rs: Rs, pods: Map<number, Pod>) {
    const wanted = rs.spec.replicas;
    return {
      create: (slots: SlotRow[]) => {
        const have = new Set(slots.map((s) => s.name));
        return Array.from({ length: wanted }, (_, i) => slotName(rs, i)).filter((s) => !have.has(s));
      },
      drop: (slots: SlotRow[]) =>
        slots
          .map((s) => ({ s, i: slotOrdinal(rs, s.name) }))
          .filter(({ i }) => i !== undefined && i >= wanted && !pods.has(i))
          .map(({ s }) => s.name),
    };
  }

  /** Each wanted member: its pod, its pg_stat_replication row, and its lag measured on it. */
  private async observeMembers(
    rs: Rs,
    pods: Map<number, Pod>,
    primary: PrimaryView | undefined,
    login: Login | undefined,
    ctx: ReconcileContext,
  ): Promise<MemberView[]> {
    const n = rsNames(rs);
    return Promise.all(
      Array.from({ length: rs.spec.replicas }, async (_, i): Promise<MemberView> => {
        const name = n.member(i);
        const pod = pods.get(i);
        const ready = podReady(pod);
        const replication = primary?.replication.find((r) => r.applicationName === name);
        const view: MemberView = {
          name,
          pod: !!pod && !pod.metadata.deletionTimestamp,
          podReady: ready,
          wasIn: pod?.metadata.labels?.[READ_LABEL] === READ_LABEL_VALUE,
          ...(replication ? { replication } : {}),
        };
        if (pod && !ready) {
          const problem = memberProblem(pod);
          if (problem) view.problem = problem;
        }
        if (primary && replication && ready && pod?.status?.podIP && login) {
          const target = this.opts.endpointMap[`${name}:${POSTGRES_PORT}`];
          const [host, port] = target ? target.split(':') : [pod.status.podIP, String(POSTGRES_PORT)];
          try {
            view.measurement = await measureMember({ ...login, host: host!, port: Number(port) }, primary, {
              timeoutMs: this.opts.timeoutMs,
              settleMs: this.opts.settleMs,
            });
          } catch (e) {
            view.measureError = classifyPgError(e).message;
            ctx.log.debug({ member: name, err: view.measureError }, 'member not measured');
          }
        }
        return view;
      }),
    );
  }

  /** Moves the read label to match the decisions, with an Event for each member that left or came in. */
  private async label(rs: Rs, pods: Map<number, Pod>, decisions: MemberDecision[], ctx: ReconcileContext) {
    const ro = rsNames(rs).readService;
    await Promise.all(
      decisions.map(async (d) => {
        const i = ordinalOf(rs, d.name)!;
        const pod = pods.get(i);
        if (!pod || pod.metadata.deletionTimestamp) return;
        const isIn = pod.metadata.labels?.[READ_LABEL] === READ_LABEL_VALUE;
        if (isIn === d.in) return;
        await ctx.client.patch(
          Resources.Pod,
          rs.metadata.namespace!,
          pod.metadata.name!,
          { metadata: { labels: { [READ_LABEL]: d.in ? READ_LABEL_VALUE : null } } },
          MERGE_PATCH,
        );
        const lag = d.lagSeconds !== undefined ? `lag ${d.lagSeconds} s` : d.state;
        ctx.log.info(
          { member: d.name, in: d.in, lagSeconds: d.lagSeconds },
          d.in ? 'member in the read Service' : 'member out of the read Service',
        );
        await ctx.writer.event(rs, {
          type: d.in ? 'Normal' : 'Warning',
          reason: d.in ? 'MemberJoinedReadService' : 'MemberLeftReadService',
          note: d.in ? `${d.name} is in ${ro} (${lag})` : `${d.name} is out of ${ro}: ${d.message ?? lag}`,
          action: 'ReadService',
        });
      }),
    );
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
    const db = this.database(rs, ctx);
    if (!db.object) return undefined;
    const access = this.access(db.object, ctx);
    if (!access.login) {
      ctx.log.warn({ err: access.error }, 'cannot reach the primary to drop the slots; they are left');
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

/** Declares the controller on a manager (the HomeOpsDatabase controller declares the shared informers). */
export function registerReplicaSetController(manager: Manager, opts: ReplicaSetControllerOptions) {
  const reconciler = new ReplicaSetReconciler(manager.metrics.registry, opts);
  for (const type of [...CHILD_KINDS, Resources.Secret, Resources.Pod, Resources.PersistentVolumeClaim])
    manager.informer(type, { labelSelector: MANAGED_SELECTOR });
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
    // The database's arrival, deletion or primary's change; the members' pods (readiness, a
    // failed start, a label).
    .watches(Resources.HomeOpsDatabase, ofDatabase)
    .watches(Resources.Pod, (p) => {
      const rs = p.metadata.labels?.['homeops.io/replicaset'];
      return rs ? [keyOf({ metadata: { namespace: p.metadata.namespace, name: rs } })] : [];
    })
    .complete(reconciler);
  return { reconciler, controller };
}
