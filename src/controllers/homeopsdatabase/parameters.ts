/**
 * The gate in front of `spec.postgres.parameters`: a change is asked of the running primary
 * before it reaches the configuration (src/pg/settings.ts). One PostgreSQL refuses holds the
 * whole change: the ConfigMap and the pod template keep the parameters that run now, so a typo
 * never restarts the primary into a crash loop, and status says why in PostgreSQL's words. The
 * parameters in force are recorded on the ConfigMap (an annotation), so the gate knows what runs
 * without asking anyone. With no primary to ask because it is down (a crash loop, a failed start)
 * a change goes through unchecked: that is how a fix reaches a database a bad start took down;
 * one that is only (re)starting holds the change until it can be asked.
 */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { CHECKSUM_ANNOTATION } from '../../common/podspec.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { dbNames } from './names.ts';
import type { ConfigState } from './prober.ts';

/** The ConfigMap's annotation: the spec.postgres.parameters its postgresql.conf was rendered from. */
export const PARAMETERS_ANNOTATION = 'homeops.io/parameters';

export type Parameters = Record<string, string>;

/** The ConfigMap's annotation: the parameters a Ready primary last ran with (what a failed start goes back to). */
export const RAN_ANNOTATION = 'homeops.io/parameters-ran';

/**
 * The ConfigMap's annotation: a change the primary did not start with, and PostgreSQL's last
 * words, kept while the spec still asks for it. The verdict outlives the operator: a restarted
 * one does not ask the (rolled back, Ready) primary again, which would take the change, restart,
 * and fail again (a second outage for the same typo).
 */
export const FAILED_ANNOTATION = 'homeops.io/parameters-failed';

/** A change that failed to start, as FAILED_ANNOTATION records it. */
export interface FailedChange {
  change: Parameters;
  message: string;
}

/** What the ConfigMap records beside the parameters in force. */
export interface ParameterRecord {
  /** The parameters a Ready primary last ran with. */
  ran?: Parameters;
  failed?: FailedChange;
}

export const failedAnnotation = (f: FailedChange) =>
  JSON.stringify({ change: JSON.parse(parametersAnnotation(f.change)), message: f.message });

/** The outcome of a check: what PostgreSQL refused, why it could not be asked, or how a start with it failed. */
export interface ParameterCheck {
  refused?: Record<string, string>;
  error?: string;
  /** The primary did not start with the change (PostgreSQL's last words): it was rolled back. */
  failedStart?: string;
}

export const parametersAnnotation = (p: Parameters) =>
  JSON.stringify(Object.fromEntries(Object.entries(p).sort(([a], [b]) => (a < b ? -1 : 1))));

const recorded = (o: KubeObject | undefined, annotation: string): Parameters | undefined => {
  const text = o?.metadata.annotations?.[annotation];
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Parameters;
  } catch {
    return undefined;
  }
};

/** The parameters in force: from the live ConfigMap, or undefined when it has none recorded. */
export function parametersInForce(db: HomeOpsDatabase, ctx: ReconcileContext): Parameters | undefined {
  const cm = ctx.cache.get<KubeObject>(Resources.ConfigMap, db.metadata.namespace, dbNames(db).config);
  return recorded(cm, PARAMETERS_ANNOTATION);
}

const same = (a: Parameters, b: Parameters) => parametersAnnotation(a) === parametersAnnotation(b);

/** What the gate sees of the primary, from the caches. */
export interface ParameterView {
  inForce?: Parameters;
  ran?: Parameters;
  /** The primary pod is Ready and runs the configuration in force (its checksum is the StatefulSet's). */
  runsInForce: boolean;
  /** The primary pod runs the configuration in force and crash-loops: PostgreSQL's last words. */
  failedStart?: string;
  /** A change that failed to start before, as the ConfigMap records it. */
  failed?: FailedChange;
}

type PodView = KubeObject & {
  status?: {
    containerStatuses?: {
      name: string;
      ready?: boolean;
      state?: { waiting?: { reason?: string } };
      lastState?: { terminated?: { exitCode?: number; message?: string } };
    }[];
  };
};

export function observeParameters(db: HomeOpsDatabase, ctx: ReconcileContext): ParameterView {
  const ns = db.metadata.namespace;
  const n = dbNames(db);
  const cm = ctx.cache.get<KubeObject>(Resources.ConfigMap, ns, n.config);
  const sts = ctx.cache.get<KubeObject & { spec?: { template?: { metadata?: KubeObject['metadata'] } } }>(
    Resources.StatefulSet,
    ns,
    n.statefulSet,
  );
  const pod = ctx.cache.get<PodView>(Resources.Pod, ns, n.pod);
  const checksum = sts?.spec?.template?.metadata?.annotations?.[CHECKSUM_ANNOTATION];
  const current = !!checksum && pod?.metadata.annotations?.[CHECKSUM_ANNOTATION] === checksum;
  const c = pod?.status?.containerStatuses?.find((s) => s.name === 'postgres');
  const crashing =
    c?.state?.waiting?.reason === 'CrashLoopBackOff' && (c.lastState?.terminated?.exitCode ?? 0) !== 0;
  const inForce = recorded(cm, PARAMETERS_ANNOTATION);
  const ran = recorded(cm, RAN_ANNOTATION);
  const failed = recorded(cm, FAILED_ANNOTATION) as unknown as FailedChange | undefined;
  return {
    ...(inForce ? { inForce } : {}),
    ...(ran ? { ran } : {}),
    ...(failed && typeof failed.message === 'string' && failed.change ? { failed } : {}),
    runsInForce: current && !!c?.ready && !pod?.metadata.deletionTimestamp,
    ...(current && crashing
      ? {
          failedStart:
            (c?.lastState?.terminated?.message ?? '').trim().split('\n').slice(-3).join(' ') || 'exited',
        }
      : {}),
  };
}

export interface ParameterPlan {
  /** The parameters the children are built with. */
  build: Parameters;
  /** What to record as having run (the ConfigMap's RAN_ANNOTATION). */
  ran?: Parameters;
  /** A start that failed with the parameters in force: they go back to `ran`. */
  rollback?: { change: Parameters; message: string };
}

/**
 * The gate's decision. Pure. A change applied while the primary is Ready on the parameters in
 * force records those as the ones that ran. A primary that crash-loops on parameters that differ from the ones that ran goes back to
 * those (a typo costs one failed start); a change PostgreSQL refused, or one that failed to
 * start, stays held; anything else is the spec.
 */
export function planParameters(spec: Parameters, v: ParameterView, check?: ParameterCheck): ParameterPlan {
  const keep = v.ran ? { ran: v.ran } : {};
  if (v.failedStart !== undefined && v.inForce && v.ran && !same(v.inForce, v.ran))
    return { build: v.ran, ran: v.ran, rollback: { change: v.inForce, message: v.failedStart } };
  if (held(check) && v.inForce) return { build: v.inForce, ...keep };
  // What ran is recorded with the change that replaces it, in the same write of the ConfigMap
  // (a database whose parameters never change costs no write for it).
  if (v.inForce && v.runsInForce && !same(spec, v.inForce)) return { build: spec, ran: v.inForce };
  return { build: spec, ...keep };
}

/**
 * The verdict on a change when there is no Ready primary to ask. A primary that is down in a way
 * a change may fix (a crash loop, a failed start, a pod that cannot start) lets it through
 * unchecked: that is how a fix reaches it. One that is only starting or restarting holds it
 * until it can be asked: a value PostgreSQL would refuse must not reach the file unchecked (for
 * a reloaded setting, PostgreSQL would ignore it on reload and refuse to start with it later).
 */
export function unaskedCheck(v: ParameterView, primaryDown: boolean): ParameterCheck | undefined {
  if (primaryDown || v.failedStart !== undefined) return undefined;
  return { error: 'the primary is not Ready; the change is checked once it is' };
}

/**
 * The verdict already known on the spec's change: it failed to start before (the ConfigMap says
 * so), and the spec asks for exactly that again.
 */
export function recordedFailure(spec: Parameters, v: ParameterView): ParameterCheck | undefined {
  return v.failed && same(v.failed.change, spec) ? { failedStart: v.failed.message } : undefined;
}

/** What to record on the ConfigMap: what ran, and a failed change while the spec asks for it. */
export function parameterRecord(spec: Parameters, v: ParameterView, plan: ParameterPlan): ParameterRecord {
  const failed = plan.rollback
    ? { change: plan.rollback.change, message: plan.rollback.message }
    : recordedFailure(spec, v)
      ? v.failed
      : undefined;
  return { ...(plan.ran ? { ran: plan.ran } : {}), ...(failed ? { failed } : {}) };
}

/** What the spec sets anew or differently from what is in force (a removed one needs no check). */
export function changedParameters(spec: Parameters, inForce: Parameters): Parameters {
  return Object.fromEntries(Object.entries(spec).filter(([k, v]) => inForce[k] !== v));
}

/** Whether the change is held: something refused, or the primary could not be asked. */
export const held = (c: ParameterCheck | undefined) =>
  !!c && (c.error !== undefined || c.failedStart !== undefined || Object.keys(c.refused ?? {}).length > 0);

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

/**
 * ParametersApplied, from the check of this reconcile (none: the spec's parameters are in the
 * configuration) and where the primary's configuration stands (a reload due, a restart pending).
 */
export function parametersCondition(check: ParameterCheck | undefined, config?: ConfigState): ConditionInput {
  if (check?.failedStart !== undefined)
    return {
      type: 'ParametersApplied',
      status: 'False',
      reason: 'StartFailed',
      message: `PostgreSQL did not start with the change to spec.postgres.parameters (${check.failedStart}); the parameters that last ran are back, and the change is held until the spec changes`,
    };
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
  const state = !config
    ? 'in the configuration'
    : config.loaded
      ? 'loaded by PostgreSQL'
      : 'in the configuration; PostgreSQL reloads it once the file reaches the pod';
  const pending = config?.pendingRestart.length
    ? `; waiting for a restart: ${config.pendingRestart.join(', ')}`
    : '';
  return {
    type: 'ParametersApplied',
    status: 'True',
    reason: 'Applied',
    message: `spec.postgres.parameters are ${state}${pending}`,
  };
}
