/**
 * The gate in front of `spec.postgres.parameters`: a change is asked of the running primary
 * before it reaches the configuration (src/pg/settings.ts). One PostgreSQL refuses holds the
 * whole change: the ConfigMap and the pod template keep the parameters that run now, so a typo
 * never restarts the primary into a crash loop, and status says why in PostgreSQL's words. The
 * parameters in force are recorded on the ConfigMap (an annotation), so the gate knows what runs
 * without asking anyone. With no primary to ask (none yet, or one that is down) a change goes
 * through unchecked: that is how a fix reaches a database a bad start took down.
 */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { dbNames } from './names.ts';

/** The ConfigMap's annotation: the spec.postgres.parameters its postgresql.conf was rendered from. */
export const PARAMETERS_ANNOTATION = 'homeops.io/parameters';

export type Parameters = Record<string, string>;

/** The outcome of a check: what PostgreSQL refused, or why it could not be asked. */
export interface ParameterCheck {
  refused?: Record<string, string>;
  error?: string;
}

export const parametersAnnotation = (p: Parameters) =>
  JSON.stringify(Object.fromEntries(Object.entries(p).sort(([a], [b]) => (a < b ? -1 : 1))));

/** The parameters in force: from the live ConfigMap, or undefined when it has none recorded. */
export function parametersInForce(db: HomeOpsDatabase, ctx: ReconcileContext): Parameters | undefined {
  const cm = ctx.cache.get<KubeObject>(Resources.ConfigMap, db.metadata.namespace, dbNames(db).config);
  const text = cm?.metadata.annotations?.[PARAMETERS_ANNOTATION];
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Parameters;
  } catch {
    return undefined;
  }
}

/** What the spec sets anew or differently from what is in force (a removed one needs no check). */
export function changedParameters(spec: Parameters, inForce: Parameters): Parameters {
  return Object.fromEntries(Object.entries(spec).filter(([k, v]) => inForce[k] !== v));
}

/** Whether the change is held: something refused, or the primary could not be asked. */
export const held = (c: ParameterCheck | undefined) =>
  !!c && (c.error !== undefined || Object.keys(c.refused ?? {}).length > 0);

/** `db` with the parameters in force instead of the spec's: what the builders make while a change is held. */
export function withParameters<T extends HomeOpsDatabase>(db: T, parameters: Parameters): T {
  return { ...db, spec: { ...db.spec, postgres: { ...db.spec.postgres, parameters } } };
}

/**
 * `db` as it runs: with the parameters in force while a change is held. What follows the
 * database (its ReplicaSets' members share its postgresql.conf) follows this, not the spec.
 */
export function asRunning<T extends HomeOpsDatabase>(db: T, ctx: ReconcileContext): T {
  const inForce = parametersInForce(db, ctx);
  return inForce ? withParameters(db, inForce) : db;
}

/** ParametersApplied, from the check of this reconcile (none: the spec's parameters are in the configuration). */
export function parametersCondition(check: ParameterCheck | undefined): ConditionInput {
  if (check?.error !== undefined)
    return {
      type: 'ParametersApplied',
      status: 'Unknown',
      reason: 'CheckFailed',
      message: `the change to spec.postgres.parameters waits: the primary could not check it (${check.error})`,
    };
  const refused = Object.entries(check?.refused ?? {});
  if (refused.length)
    return {
      type: 'ParametersApplied',
      status: 'False',
      reason: 'ParameterRejected',
      message: `PostgreSQL refuses ${refused.map(([k, why]) => `${k}: ${why}`).join('; ')}; the parameters in force are kept, nothing was restarted`,
    };
  return {
    type: 'ParametersApplied',
    status: 'True',
    reason: 'Applied',
    message: 'spec.postgres.parameters are in the configuration',
  };
}
