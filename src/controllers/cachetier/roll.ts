/**
 * mode replicated: restarts for a new pod template (a setting that needs a restart, a new
 * image), one member at a time, replicas first (highest ordinal first) and the writer last,
 * after a switchover to its most caught-up replica, so that the writer Service is never left
 * without a writer for a restart. The StatefulSet's update strategy is OnDelete; this decides
 * which pod to delete next. A scale-down that would remove the writer's pod first switches over
 * to a member that stays (the StatefulSet keeps the pod meanwhile). Pure.
 */

export interface RollMember {
  name: string;
  ordinal: number;
  /** The pod's controller-revision-hash is not the StatefulSet's updateRevision. */
  outdated: boolean;
  /** A replica linked to the writer, or the writer answering: the member is whole. */
  settled: boolean;
  offset: number;
  podIP?: string;
}

export type RollStep =
  | { kind: 'none' }
  | { kind: 'wait'; message: string }
  | { kind: 'delete'; name: string }
  | { kind: 'switchover'; from: string; to: string; toIP: string; why: 'restart' | 'scale-down' };

export function nextRestart(members: RollMember[], writer: string | undefined, wanted: number): RollStep {
  const outdated = members.filter((m) => m.outdated);
  // A scale-down that removes the writer's ordinal: first hand its role to a member that stays.
  const leaving = members.find((m) => m.name === writer && m.ordinal >= wanted);
  if (leaving) {
    const to = members
      .filter((m) => m.ordinal < wanted && m.settled && m.podIP)
      .sort((a, b) => b.offset - a.offset || a.ordinal - b.ordinal)[0];
    return to
      ? { kind: 'switchover', from: leaving.name, to: to.name, toIP: to.podIP!, why: 'scale-down' }
      : { kind: 'wait', message: `scale-down waits for a member below ${wanted} to take the writer's role` };
  }
  if (outdated.length === 0) return { kind: 'none' };
  // One at a time: every member back and linked before the next.
  const unsettled = members.filter((m) => !m.settled);
  if (members.filter((m) => m.ordinal < wanted).length < wanted || unsettled.length || !writer)
    return {
      kind: 'wait',
      message: `restart waits for ${unsettled.map((m) => m.name).join(', ') || 'every member'} to be up and linked`,
    };
  const replica = outdated.filter((m) => m.name !== writer).sort((a, b) => b.ordinal - a.ordinal)[0];
  if (replica) return { kind: 'delete', name: replica.name };
  // Only the writer is left: hand its role to the most caught-up replica, then restart it.
  const to = members
    .filter((m) => m.name !== writer && m.podIP)
    .sort((a, b) => b.offset - a.offset || a.ordinal - b.ordinal)[0];
  return to
    ? { kind: 'switchover', from: writer, to: to.name, toIP: to.podIP!, why: 'restart' }
    : { kind: 'delete', name: writer };
}
