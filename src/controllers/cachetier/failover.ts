/**
 * mode replicated, acting on what topology.ts and roll.ts decide: promote, demote and re-point
 * members (REPLICAOF), move the role labels the Services select, and at most one restart or
 * switchover per reconcile for a new pod template. The decisions are pure and tested there;
 * this file only carries them out, each change with its Event.
 */
import { patchPodLabel } from '../../common/pods.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { Resources } from '../../runtime/types.ts';
import { type MemberPod, memberTarget, type ReachOptions, type Tier } from './members.ts';
import { REDIS_ROLE_LABEL, type RoleLabel } from './names.ts';
import { PROBE_TIMEOUT_MS, type RedisTarget, replicaOf, switchover } from './probe.ts';
import { nextRestart, type RollMember } from './roll.ts';
import type { Observation } from './status.ts';
import { type MemberView, planTopology } from './topology.ts';

export type StsStatus = { replicas?: number; readyReplicas?: number; updateRevision?: string };

const label = (t: Tier, ctx: ReconcileContext, pod: string, role: RoleLabel | null) =>
  patchPodLabel(ctx.client, t.metadata.namespace!, pod, REDIS_ROLE_LABEL, role);

/** What the members said, as topology.ts reads it. Pure. */
export function memberViews(t: Tier, o: Observation, pods: MemberPod[]): MemberView[] {
  return o.members.map((m) => {
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
      ...(pod.metadata.labels?.[REDIS_ROLE_LABEL] ? { label: pod.metadata.labels[REDIS_ROLE_LABEL] } : {}),
      ...(m.ordinal >= t.spec.replicas ? { leaving: true } : {}),
    };
  });
}

/** What this process saw of a tier's writer: when one last answered, or when it first found none. */
export interface WriterMemory {
  at: number;
  answered: boolean;
}

/**
 * When the writer was lost, in ms: the failover clock's start, as Sentinel's down-after runs from
 * the last valid reply. Status first (written when the writer was first missed, so an operator
 * that just became leader goes on with the clock instead of starting it again), unless this
 * process saw a writer answer after it (a value left from an earlier loss); else this process's
 * memory; else now. Pure.
 */
export function writerLostSince(
  statusValue: string | undefined,
  memory: WriterMemory | undefined,
  nowMs: number,
): number {
  const fromStatus = statusValue ? Date.parse(statusValue) : Number.NaN;
  const stale = memory?.answered === true && fromStatus < memory.at;
  if (Number.isFinite(fromStatus) && fromStatus <= nowMs && !stale) return fromStatus;
  return memory?.at ?? nowMs;
}

export class WriterElection {
  /** When a writer last answered, per tier (namespace/name, with its uid), in this process. */
  private readonly writerSeen = new Map<string, WriterMemory & { uid: string }>();
  private readonly reach: ReachOptions;

  constructor(reach: ReachOptions) {
    this.reach = reach;
  }

  forget(namespace: string, name: string): void {
    this.writerSeen.delete(`${namespace}/${name}`);
  }

  /**
   * Elect, demote, re-point and label (topology.ts), then at most one restart for a new pod
   * template (roll.ts). Sets `o.writer`, `o.waiting`, members' `inReadService`, `o.restart`.
   * Returns how soon to look again.
   */
  async converge(
    t: Tier,
    ctx: ReconcileContext,
    o: Observation,
    pods: MemberPod[],
    operator: string,
    probedAt: number,
    sts: StsStatus | undefined,
  ): Promise<number> {
    const key = `${t.metadata.namespace}/${t.metadata.name}`;
    const views = memberViews(t, o, pods);
    const now = Date.now();
    const anyWriter = views.some((v) => v.reachable && v.role === 'master');
    const uid = t.metadata.uid!;
    if (anyWriter || this.writerSeen.get(key)?.uid !== uid)
      this.writerSeen.set(key, { uid, at: probedAt, answered: anyWriter });
    const lostSince = anyWriter
      ? undefined
      : writerLostSince(t.status?.writerLostSince, this.writerSeen.get(key), probedAt);
    if (lostSince !== undefined) o.writerLostSince = new Date(lostSince).toISOString();
    const plan = planTopology({
      members: views,
      ...(t.status?.writer ? { elected: t.status.writer } : {}),
      ...(lostSince !== undefined ? { writerLostSinceMs: lostSince } : {}),
      nowMs: now,
      failoverAfterMs: t.spec.failoverAfterSeconds * 1000,
    });
    o.writer = plan.writer ?? t.status?.writer;
    if (plan.waiting) o.waiting = plan.waiting;
    if (!plan.writer)
      // The next visit of the silent writer ends (its timeout) when the failover is due.
      return plan.waiting?.failoverAtMs
        ? Math.max(250, plan.waiting.failoverAtMs - now - (this.reach.timeoutMs ?? PROBE_TIMEOUT_MS))
        : 1000;
    const view = (name: string) => views.find((v) => v.name === name)!;
    const writer = view(plan.writer);
    const target = (name: string) =>
      memberTarget(t, ctx, this.reach, o.members.find((m) => m.name === name)!, operator);
    // The writer Service first stops routing to any other member, then the new writer is made.
    for (const v of views)
      if (v.label === 'writer' && v.name !== plan.writer) await label(t, ctx, v.name, null);
    if (plan.promote) {
      await replicaOf(target(plan.writer), undefined, this.reach.timeoutMs);
      this.writerSeen.set(key, { uid, at: Date.now(), answered: true });
      delete o.writerLostSince; // a writer again: the clock is over
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
    if (writer.label !== 'writer') await label(t, ctx, plan.writer, 'writer');
    for (const name of [...plan.demote, ...plan.repoint]) {
      await replicaOf(target(name), writer.podIP, this.reach.timeoutMs);
      if (plan.demote.includes(name))
        await ctx.writer.event(t, {
          type: 'Warning',
          reason: 'WriterDemoted',
          note: `${name} was a second writer: now a replica of ${plan.writer}; writes it took alone are dropped`,
          action: 'ElectWriter',
        });
    }
    for (const [name, role] of Object.entries(plan.labels))
      if (role !== 'writer' && (view(name).label ?? null) !== role) await label(t, ctx, name, role);
    for (const m of o.members) {
      const role = plan.labels[m.name];
      if (role !== undefined) m.inReadService = role === 'replica';
    }
    const changed = !!plan.promote || plan.demote.length > 0 || plan.repoint.length > 0;
    if (changed || views.some((v) => !v.reachable)) return 1000;
    return rollStep(t, ctx, o, views, target, sts);
  }
}

/** One restart step for a new pod template, replicas first and the writer after a switchover. */
async function rollStep(
  t: Tier,
  ctx: ReconcileContext,
  o: Observation,
  views: MemberView[],
  target: (member: string) => RedisTarget,
  sts?: StsStatus,
): Promise<number> {
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
    await label(t, ctx, step.from, null);
    await label(t, ctx, step.to, 'writer');
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
