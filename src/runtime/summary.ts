/**
 * From observed checks to Ready and the phase, for every kind: the first failing check that
 * blocks readiness names Ready's reason and message. Pure; each kind lists its checks in the
 * order a user should fix them (the pod before the server, the server before its extensions).
 */
import type { ConditionInput } from './conditions.ts';

export interface Check {
  /** Whether this part is as it should be. */
  ok: boolean;
  /** CamelCase, becomes Ready's reason when this check is the first to fail. */
  reason: string;
  message: string;
}

export interface Summary {
  ready: ConditionInput;
  /** The failing check that decided Ready, if any. */
  blocking?: Check;
}

export function summarize(checks: readonly Check[], readyMessage: string): Summary {
  const blocking = checks.find((c) => !c.ok);
  return blocking
    ? {
        ready: { type: 'Ready', status: 'False', reason: blocking.reason, message: blocking.message },
        blocking,
      }
    : { ready: { type: 'Ready', status: 'True', reason: 'Ready', message: readyMessage } };
}

export type Phase = 'Provisioning' | 'Ready' | 'Degraded';

/**
 * The phase, for every kind: a blocking check makes it Degraded when the workload still serves
 * (a pod is ready) and Provisioning when it never did or no longer does; without one, a firing
 * alert condition makes it Degraded.
 */
export function phaseOf(s: Summary, o: { serving?: boolean; alerting?: boolean } = {}): Phase {
  if (s.blocking) return o.serving ? 'Degraded' : 'Provisioning';
  return o.alerting ? 'Degraded' : 'Ready';
}
