/** What a ReplicaSet reconcile decides from what it saw, pure: the slots to make and drop, when to measure again. */

import type { ReplicaSet } from '../../api/v1alpha1/index.ts';
import type { SlotRow } from './lag.ts';
import { slotName, slotOrdinal } from './names.ts';
import type { Pod, Rs } from './observe.ts';
import type { MemberDecision } from './status.ts';

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

/**
 * Slots to make: each wanted member's that is missing. Slots to drop: the ReplicaSet's whose
 * member is no longer wanted and whose pod is gone (its walsender, if any, is ended first).
 */
export function slotPlan(rs: Rs, pods: Map<number, Pod>) {
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
