/**
 * metav1.Condition semantics: one condition per type; lastTransitionTime moves only when the
 * status flips; reason is CamelCase.
 */

import type { Condition } from '../api/v1alpha1/common.ts';
import type { EventInput } from './events.ts';

export type { Condition };

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

const REASON = /^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/;

/**
 * Returns the conditions with `input` set: a new condition, or the existing one updated,
 * keeping its lastTransitionTime unless the status changed.
 */
export function setCondition(
  conditions: readonly Condition[] | undefined,
  input: ConditionInput,
  observedGeneration: number | undefined,
  now: Date = new Date(),
): Condition[] {
  if (!REASON.test(input.reason)) throw new Error(`condition reason "${input.reason}" is not CamelCase`);
  const list = [...(conditions ?? [])];
  const i = list.findIndex((c) => c.type === input.type);
  const previous = i >= 0 ? list[i] : undefined;
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    lastTransitionTime:
      previous && previous.status === input.status
        ? previous.lastTransitionTime
        : now.toISOString().replace(/\.\d+Z$/, 'Z'),
    ...(observedGeneration !== undefined ? { observedGeneration } : {}),
  };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/**
 * A writer's whole list of conditions: `inputs`, in order, each keeping the lastTransitionTime
 * it has in `previous` unless its status flipped. Conditions in `previous` that are not among
 * the inputs (another writer's, or ones this writer dropped) are not in the result.
 */
export function conditionsFrom(
  previous: readonly Condition[] | undefined,
  inputs: readonly ConditionInput[],
  observedGeneration: number | undefined,
  now: Date = new Date(),
): Condition[] {
  return inputs.map((input) => {
    const prev = previous?.find((c) => c.type === input.type);
    return setCondition(prev ? [prev] : [], input, observedGeneration, now)[0]!;
  });
}

export function getCondition(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when a condition of `type` flipped (or appeared) between two lists. */
export function conditionChanged(
  before: readonly Condition[] | undefined,
  after: readonly Condition[],
  type: string,
): boolean {
  return getCondition(before, type)?.status !== getCondition(after, type)?.status;
}

export interface ConditionPolarity {
  /** Condition types whose True is bad news (an Event of type Warning when they turn True). */
  abnormalTrue: ReadonlySet<string>;
  /** Condition types never told as Events (progress markers). */
  silent?: ReadonlySet<string>;
}

export const DEFAULT_POLARITY: ConditionPolarity = {
  abnormalTrue: new Set(['Stalled', 'Degraded']),
  silent: new Set(['Reconciling']),
};

/**
 * The Event a condition's change is worth, if any. Events tell what a user acts on, not every
 * step: a condition turning bad (Warning); Ready turning True (Normal; this covers the parts
 * that came up with it); an alert or Stalled clearing (Normal). A condition that starts out
 * good or False-and-normal is no news, and `silent` types are never told.
 */
export function conditionEvent(
  prev: Condition | undefined,
  next: Condition,
  polarity: ConditionPolarity = DEFAULT_POLARITY,
): EventInput | undefined {
  if (polarity.silent?.has(next.type) || prev?.status === next.status) return undefined;
  const abnormal = polarity.abnormalTrue.has(next.type);
  const bad = abnormal ? next.status === 'True' : next.status !== 'True';
  const tell = bad ? abnormal || !!prev : next.type === 'Ready' || (abnormal && !!prev);
  if (!tell) return undefined;
  return { type: bad ? 'Warning' : 'Normal', reason: next.reason, note: next.message, action: next.type };
}
