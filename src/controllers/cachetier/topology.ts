/**
 * mode replicated: who is the writer, decided from what every member's INFO says, the writer
 * the operator elected last (status.writer) and how long no writer has answered. Pure:
 * table-tested in topology.test.ts; the controller carries out the plan.
 *
 * Members always start as replicas (redis.conf's replicaof): only the operator promotes, so
 * the rules are few.
 * - One writer answers: it stays. Two (a writer that was frozen or cut off while another was
 *   promoted, or a manual REPLICAOF NO ONE): the elected one stays, the others are demoted.
 * - None answers: if the elected writer is unreachable, wait `failoverAfterMs` from when that
 *   was first seen (a blip is not a failover). Then, or at once when the elected writer
 *   answers but as a replica (it restarted: its data is on disk, its replication offset is
 *   reset), promote the member with the highest replication offset: it holds every write that
 *   reached any replica. Ties go to the elected writer, then to the lowest ordinal.
 * - Every replica is pointed at the writer's pod IP; NAME-ro selects those linked to it.
 */

export interface MemberView {
  name: string;
  ordinal: number;
  podIP?: string;
  /** INFO answered. */
  reachable: boolean;
  role?: 'master' | 'slave';
  masterHost?: string;
  linkUp?: boolean;
  /** master_repl_offset (a writer's) or slave_repl_offset (a replica's). */
  offset: number;
  /** The role label the pod has now. */
  label?: string;
  /** Above spec.replicas: a scale-down removes it; elected only if no other answers. */
  leaving?: boolean;
}

export interface TopologyInput {
  members: MemberView[];
  /** status.writer: the member the operator elected last. */
  elected?: string;
  /** When the operator first found no writer answering (undefined while one does). */
  writerLostSinceMs?: number;
  nowMs: number;
  failoverAfterMs: number;
}

export type PromoteReason = 'Bootstrap' | 'WriterRestarted' | 'Failover';

export interface Plan {
  /** The writer once the plan is carried out (undefined: none yet). */
  writer?: string;
  /** REPLICAOF NO ONE on `writer` first. */
  promote?: { reason: PromoteReason; from?: string; offset: number };
  /** Writers that are not `writer`: REPLICAOF the writer. */
  demote: string[];
  /** Replicas not pointed at the writer's pod IP: REPLICAOF it. */
  repoint: string[];
  /** The role label each member should have (null: none). Members absent: left as they are. */
  labels: Record<string, 'writer' | 'replica' | null>;
  /** No writer and none promoted yet: why, and when a failover would happen. */
  waiting?: { reason: 'WriterUnreachable' | 'NoMemberAnswers'; message: string; failoverAtMs?: number };
}

const rank = (elected: string | undefined) => (a: MemberView, b: MemberView) =>
  Number(!!a.leaving) - Number(!!b.leaving) ||
  b.offset - a.offset ||
  Number(b.name === elected) - Number(a.name === elected) ||
  a.ordinal - b.ordinal;

export function planTopology(input: TopologyInput): Plan {
  const { members, elected } = input;
  const reachable = members.filter((m) => m.reachable);
  // Among writers, the elected one stays whatever its offset: the Service routes to it.
  const writers = reachable
    .filter((m) => m.role === 'master')
    .sort((a, b) => Number(b.name === elected) - Number(a.name === elected) || rank(elected)(a, b));
  const plan: Plan = { demote: [], repoint: [], labels: {} };
  let writer: MemberView | undefined = writers[0];
  if (writer) plan.demote = writers.slice(1).map((m) => m.name);
  else {
    const electedView = members.find((m) => m.name === elected);
    if (elected && !electedView?.reachable) {
      const lost = input.writerLostSinceMs ?? input.nowMs;
      const at = lost + input.failoverAfterMs;
      if (input.nowMs < at) {
        // A blip is not a failover: labels stay, the writer's included.
        plan.waiting = {
          reason: 'WriterUnreachable',
          message: `writer ${elected} does not answer; failover in ${Math.ceil((at - input.nowMs) / 1000)} s unless it does`,
          failoverAtMs: at,
        };
        return plan;
      }
    }
    writer = [...reachable].sort(rank(elected))[0];
    if (!writer) {
      plan.waiting = { reason: 'NoMemberAnswers', message: 'no member answers: no writer can be elected' };
      return plan;
    }
    plan.promote = {
      reason: !elected ? 'Bootstrap' : writer.name === elected ? 'WriterRestarted' : 'Failover',
      ...(elected && writer.name !== elected ? { from: elected } : {}),
      offset: writer.offset,
    };
  }
  plan.writer = writer.name;
  for (const m of members) {
    if (m === writer) plan.labels[m.name] = 'writer';
    else if (!m.reachable) plan.labels[m.name] = null;
    else if (m.role === 'slave') {
      const pointed = !!writer.podIP && m.masterHost === writer.podIP;
      if (!pointed) plan.repoint.push(m.name);
      plan.labels[m.name] = pointed && m.linkUp && !plan.promote ? 'replica' : null;
    } else plan.labels[m.name] = null; // a writer being demoted
  }
  return plan;
}
