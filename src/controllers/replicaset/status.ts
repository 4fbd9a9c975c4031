/**
 * From what a reconcile observed to each member's place in the read Service and to the
 * ReplicaSet's status. Pure: tables of every case are in status.test.ts.
 */
import type { ReplicaSet, ReplicaSetStatus } from '../../api/v1alpha1/index.ts';
import { sticky } from '../../common/figures.ts';
import { serviceHost } from '../../common/hosts.ts';
import { selectorString } from '../../common/labels.ts';
import { type ConditionInput, conditionsFrom } from '../../runtime/conditions.ts';
import { type Check, phaseOf, summarize } from '../../runtime/summary.ts';
import { POSTGRES_PORT } from '../homeopsdatabase/names.ts';
import type { MemberMeasurement, ReplicationRow } from './lag.ts';
import { rsNames, rsSelector } from './names.ts';

/** A member out of the read Service comes back only at or under this share of the bound. */
export const REJOIN_FRACTION = 0.8;

export interface Failure {
  reason: string;
  message: string;
}

/** One member as reconcile saw it. */
export interface MemberView {
  name: string;
  /** Its pod exists (it may be starting). */
  pod: boolean;
  podReady: boolean;
  /** Why its pod will not become Ready by itself (a failed base backup, an image...). */
  problem?: Failure;
  /** Its pg_stat_replication row on the primary; undefined when there is none. */
  replication?: ReplicationRow;
  measurement?: MemberMeasurement;
  measureError?: string;
  /** It carries the read label now. */
  wasIn: boolean;
}

export interface Observation {
  /** The database it follows: found and Ready, found but not Ready, or missing. */
  database: { state: 'Missing' | 'NotReady' | 'Ready'; message: string };
  /** The primary was reached this time (slots, WAL position, pg_stat_replication are known). */
  primaryReached: boolean;
  primaryError?: Failure;
  members: MemberView[];
  /** The StatefulSet's replicas and ready replicas, from the cache. */
  replicas: number;
  readyReplicas: number;
}

export interface MemberDecision {
  name: string;
  in: boolean;
  state: string;
  message?: string;
  lagSeconds?: number;
  lagBytes?: number;
}

/**
 * Whether each member is in the read Service. Out: not Ready, not streaming, or over the bound.
 * Back in: Ready, streaming, and at or under REJOIN_FRACTION of the bound (hysteresis: a member
 * near the bound does not flap). Not measured this time (the primary or the member could not be
 * reached): unchanged, so a short outage of the operator's view moves no traffic.
 */
export function decideMembers(
  members: readonly MemberView[],
  o: Pick<Observation, 'primaryReached'>,
  maxLag: number,
): MemberDecision[] {
  return members.map((m) => {
    const lag = {
      ...(m.measurement?.lagSeconds !== undefined ? { lagSeconds: m.measurement.lagSeconds } : {}),
      ...(m.measurement ? { lagBytes: m.measurement.lagBytes } : {}),
    };
    if (!m.pod) return { name: m.name, in: false, state: 'Pending', message: 'the pod does not exist yet' };
    if (!m.podReady)
      return m.problem
        ? { name: m.name, in: false, state: m.problem.reason, message: m.problem.message }
        : { name: m.name, in: false, state: 'Starting', message: 'the pod is not Ready' };
    if (!o.primaryReached)
      return {
        name: m.name,
        in: m.wasIn,
        state: 'Unknown',
        message: 'the primary could not be reached: lag not measured',
      };
    if (!m.replication)
      return {
        name: m.name,
        in: false,
        state: 'NotStreaming',
        message: 'no pg_stat_replication row on the primary: the member is not streaming',
      };
    const state = m.replication.state;
    if (m.measureError || m.measurement?.lagSeconds === undefined)
      return {
        name: m.name,
        in: m.wasIn,
        state,
        ...lag,
        message: m.measureError
          ? `lag not measured: ${m.measureError}`
          : 'lag not measurable yet: nothing replayed since it started',
      };
    const seconds = m.measurement.lagSeconds;
    const bound = m.wasIn ? maxLag : maxLag * REJOIN_FRACTION;
    const inside = seconds <= bound;
    const paused = m.measurement.paused ? ' (replay is paused)' : '';
    return {
      name: m.name,
      in: inside,
      state,
      ...lag,
      ...(inside
        ? m.measurement.paused
          ? { message: 'replay is paused' }
          : {}
        : {
            message: m.wasIn
              ? `lag ${seconds} s is over ${maxLag} s${paused}`
              : `lag ${seconds} s: back in at ${bound} s or less${paused}`,
          }),
    };
  });
}

type Member = NonNullable<ReplicaSetStatus['members']>[number];

/** The member's figures, kept from `prev` while they move less than the band: no write for noise. */
function steadyMember(d: MemberDecision, ready: boolean, prev: Member | undefined, maxLag: number): Member {
  return {
    name: d.name,
    ready,
    inReadService: d.in,
    ...(d.lagSeconds !== undefined
      ? { lagSeconds: sticky(prev?.lagSeconds, d.lagSeconds, Math.max(0.5, maxLag * 0.1), 1) }
      : {}),
    ...(d.lagBytes !== undefined ? { lagBytes: sticky(prev?.lagBytes, d.lagBytes, 1024 * 1024, 0) } : {}),
    state: d.state,
    ...(d.message ? { message: d.message.slice(0, 1024) } : {}),
  };
}

export function readinessChecks(
  rs: ReplicaSet,
  o: Observation,
  decisions: readonly MemberDecision[],
): Check[] {
  const notReady = decisions.filter((d) => !o.members.find((m) => m.name === d.name)?.podReady);
  const out = decisions.filter((d) => !d.in);
  const firstProblem = notReady.find((d) => d.state !== 'Starting' && d.state !== 'Pending');
  return [
    { ok: o.database.state !== 'Missing', reason: 'DatabaseNotFound', message: o.database.message },
    { ok: o.database.state === 'Ready', reason: 'PrimaryNotReady', message: o.database.message },
    {
      ok: o.primaryReached,
      reason: o.primaryError?.reason ?? 'PrimaryNotReady',
      message: `primary: ${o.primaryError?.message ?? 'not reached'}`,
    },
    {
      ok: notReady.length === 0 && o.members.length === rs.spec.replicas,
      reason: firstProblem?.state ?? 'MembersNotReady',
      message: firstProblem
        ? `member ${firstProblem.name}: ${firstProblem.message}`
        : `waiting for member(s) ${notReady.map((d) => d.name).join(', ') || `to reach ${rs.spec.replicas}`}`,
    },
    {
      ok: !decisions.some((d) => d.state === 'NotStreaming'),
      reason: 'NotStreaming',
      message: `not streaming: ${decisions
        .filter((d) => d.state === 'NotStreaming')
        .map((d) => d.name)
        .join(', ')}`,
    },
    {
      ok: out.length === 0 || rs.spec.replicas === 0,
      reason: out.length === decisions.length ? 'AllMembersLagging' : 'LagExceeded',
      message:
        out.length === decisions.length
          ? `every member is out of ${rsNames(rs).readService}: it routes ${rs.spec.fallbackToPrimary ? 'to the primary' : 'nowhere'}`
          : `out of ${rsNames(rs).readService}: ${out.map((d) => `${d.name} (${d.message ?? d.state})`).join('; ')}`,
    },
  ];
}

/** Where the read Service routes, given the decisions. */
export function readTarget(
  rs: ReplicaSet,
  decisions: readonly MemberDecision[],
): 'Members' | 'Primary' | 'None' {
  if (decisions.some((d) => d.in)) return 'Members';
  return rs.spec.fallbackToPrimary ? 'Primary' : 'None';
}

export function replicaSetStatus(
  rs: ReplicaSet,
  o: Observation,
  decisions: readonly MemberDecision[],
  prev: ReplicaSetStatus,
): ReplicaSetStatus {
  const gen = rs.metadata.generation;
  const maxLag = rs.spec.maxLagSeconds;
  const summary = summarize(
    readinessChecks(rs, o, decisions),
    `${rs.spec.replicas} member(s) streaming within ${maxLag} s`,
  );
  const { ready } = summary;
  const lagging = decisions.filter((d) => d.lagSeconds !== undefined && d.lagSeconds > maxLag);
  const converging =
    o.database.state === 'Ready' &&
    o.primaryReached &&
    o.replicas === rs.spec.replicas &&
    o.readyReplicas === rs.spec.replicas;
  const conds: ConditionInput[] = [
    ready,
    {
      type: 'LagExceeded',
      status: lagging.length ? 'True' : 'False',
      reason: lagging.length ? 'LagExceeded' : 'WithinBound',
      message: lagging.length
        ? `over ${maxLag} s: ${lagging.map((d) => `${d.name} ${d.lagSeconds} s`).join(', ')}`
        : `every measured member is within ${maxLag} s`,
    },
    {
      type: 'Reconciling',
      status: converging ? 'False' : 'True',
      reason: converging ? 'Reconciled' : 'Progressing',
      message: converging ? 'members are in place' : `${o.readyReplicas}/${rs.spec.replicas} member(s) ready`,
    },
    { type: 'Stalled', status: 'False', reason: 'Reconciled', message: 'no blocking error' },
  ];
  const members = decisions.map((d) =>
    steadyMember(
      d,
      !!o.members.find((m) => m.name === d.name)?.podReady,
      prev.members?.find((p) => p.name === d.name),
      maxLag,
    ),
  );
  const measured = members.filter((m) => m.lagSeconds !== undefined).map((m) => m.lagSeconds!);
  return {
    observedGeneration: gen,
    phase: phaseOf(summary, { serving: o.database.state === 'Ready' && o.readyReplicas > 0 }),
    conditions: conditionsFrom(prev.conditions, conds, gen),
    replicas: o.replicas,
    readyReplicas: o.readyReplicas,
    selector: selectorString(rsSelector(rs)),
    readEndpoint: `${serviceHost(rs, rsNames(rs).readService)}:${POSTGRES_PORT}`,
    readServiceTarget: readTarget(rs, decisions),
    ...(measured.length ? { maxLagSeconds: Math.max(...measured) } : {}),
    ...(members.length ? { members } : {}),
  };
}
