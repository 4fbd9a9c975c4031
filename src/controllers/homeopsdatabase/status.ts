/**
 * The status of a HomeOpsDatabase from what reconcile observed: Kubernetes' view (pods, ready
 * instances) and the probes' measurements or failures. Pure: the table of every reason is in
 * status.test.ts.
 */

import type { HomeOpsDatabase, HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { serviceHost } from '../../common/hosts.ts';
import type { ExtensionState } from '../../pg/extensions.ts';
import { type ConditionInput, conditionsFrom } from '../../runtime/conditions.ts';
import { type Check, phaseOf, summarize } from '../../runtime/summary.ts';
import { archivingCondition, archivingStatus } from './archiving.ts';
import { extensionCheck, extensionsCondition } from './extensions.ts';
import { poolerStatus, primaryStatus, thresholdConditions } from './health.ts';
import { dbNames, POOLER_PORT, POSTGRES_PORT } from './names.ts';
import { type ParameterCheck, parametersCondition } from './parameters.ts';
import type { ConfigState, PoolerMeasurement, PrimaryMeasurement } from './prober.ts';

export interface Failure {
  reason: string;
  message: string;
}

/** What one reconcile saw. A measurement or a failure, never both; neither when not probed. */
export interface Observation {
  primaryPodReady: boolean;
  /** Why the primary pod will not become Ready by itself (image pull, crash loop...). */
  podIssue?: Failure;
  poolerReadyInstances: number;
  primary?: PrimaryMeasurement;
  /** The median response time of the last few probes (status shows it; metrics the last one). */
  responseMedianMs?: number;
  primaryError?: Failure;
  pooler?: PoolerMeasurement;
  poolerError?: Failure;
  /** The check of a change to spec.postgres.parameters, when this reconcile made one. */
  parameters?: ParameterCheck;
  /** Where the primary's configuration stands (measured with the probe). */
  config?: ConfigState;
  /** Each declared extension, as the probe found (or made) it. */
  extensions?: ExtensionState[];
}

function primaryCondition(db: HomeOpsDatabase, o: Observation): ConditionInput {
  const pod = dbNames(db).pod;
  if (!o.primaryPodReady)
    return o.podIssue
      ? {
          type: 'PrimaryAvailable',
          status: 'False',
          reason: o.podIssue.reason,
          message: `pod ${pod}: ${o.podIssue.message}`,
        }
      : {
          type: 'PrimaryAvailable',
          status: 'False',
          reason: 'PodNotReady',
          message: `waiting for pod ${pod} to be Ready`,
        };
  if (o.primary)
    return {
      type: 'PrimaryAvailable',
      status: 'True',
      reason: 'Connected',
      message: 'the primary answers queries',
    };
  const e = o.primaryError ?? { reason: 'NotProbed', message: 'not probed' };
  return { type: 'PrimaryAvailable', status: 'False', reason: e.reason, message: e.message };
}

function poolerCondition(db: HomeOpsDatabase, o: Observation): ConditionInput {
  if (o.poolerReadyInstances === 0)
    return {
      type: 'PoolerAvailable',
      status: 'False',
      reason: 'PodNotReady',
      message: `no ready PgBouncer pod in ${dbNames(db).pooler}`,
    };
  if (o.pooler)
    return {
      type: 'PoolerAvailable',
      status: 'True',
      reason: 'Connected',
      message: `${o.poolerReadyInstances} PgBouncer instance(s) ready`,
    };
  if (!o.primaryPodReady)
    return {
      type: 'PoolerAvailable',
      status: 'False',
      reason: 'PrimaryNotReady',
      message: 'waiting for the primary',
    };
  const e = o.poolerError ?? { reason: 'NotProbed', message: 'not probed' };
  return { type: 'PoolerAvailable', status: 'False', reason: e.reason, message: e.message };
}

/** Ready's checks, in the order to fix them: the first that fails names Ready's reason. */
export function readinessChecks(db: HomeOpsDatabase, o: Observation): Check[] {
  const pod = dbNames(db).pod;
  const checks: Check[] = [
    {
      ok: o.primaryPodReady,
      reason: o.podIssue?.reason ?? 'Provisioning',
      message: o.podIssue
        ? `primary pod ${pod}: ${o.podIssue.message}`
        : `waiting for the primary pod ${pod}`,
    },
    {
      ok: !!o.primary,
      reason: o.primaryError?.reason ?? 'NotProbed',
      message: `primary: ${o.primaryError?.message ?? 'not probed'}`,
    },
  ];
  if (db.spec.pooler.enabled)
    checks.push({
      ok: !!o.pooler,
      reason: o.poolerReadyInstances === 0 ? 'PoolerNotReady' : (o.poolerError?.reason ?? 'PoolerNotReady'),
      message: `pooler: ${o.poolerError?.message ?? 'no ready instance'}`,
    });
  checks.push(
    {
      ok: o.primary?.statementsAvailable !== false,
      reason: 'ExtensionMissing',
      message: 'pg_stat_statements is not installed: it must be in shared_preload_libraries',
    },
    {
      ok: !(db.spec.postgres.timescale === 'enabled' && o.primary && !o.primary.timescale.available),
      reason: 'TimescaleUnavailable',
      message: 'timescale: enabled, but the image has no timescaledb extension',
    },
    extensionCheck(o.extensions),
  );
  return checks;
}

/**
 * The controller's part of the status (all of it but the job results, which their own writer
 * owns): conditions, phase and the measured figures, rounded against `prev`.
 */
export function databaseStatus(
  db: HomeOpsDatabase,
  o: Observation,
  prev: HomeOpsDatabaseStatus,
): HomeOpsDatabaseStatus {
  const n = dbNames(db);
  const gen = db.metadata.generation;
  const alerts = o.primary ? thresholdConditions(o.primary, db.spec.monitoring) : [];
  const summary = summarize(readinessChecks(db, o), 'primary and pooler are up');
  const { ready, blocking } = summary;
  const firing = alerts.filter((c) => c.status === 'True');
  if (!blocking && firing.length)
    ready.message = `ready, with alerts: ${firing.map((a) => a.type).join(', ')}`;
  const conds: ConditionInput[] = [
    primaryCondition(db, o),
    ...(db.spec.pooler.enabled ? [poolerCondition(db, o)] : []),
    ...alerts,
    parametersCondition(o.parameters, o.config),
    ...[extensionsCondition(db, o.extensions)].filter((c) => c !== undefined),
    ...(db.spec.backup && o.primary?.archiver ? [archivingCondition(o.primary.archiver)] : []),
    ready,
    {
      type: 'Reconciling',
      status: o.primaryPodReady ? 'False' : 'True',
      reason: o.primaryPodReady ? 'Reconciled' : 'Provisioning',
      message: o.primaryPodReady ? 'children are applied' : 'waiting for the primary pod',
    },
    { type: 'Stalled', status: 'False', reason: 'Reconciled', message: 'no blocking error' },
  ];
  // Only these: alert conditions of a database that can no longer be measured are dropped, not
  // guessed, and another writer's conditions are not this writer's to repeat.
  const conditions = conditionsFrom(prev.conditions, conds, gen);

  return {
    observedGeneration: gen,
    phase: phaseOf(summary, { serving: o.primaryPodReady, alerting: firing.length > 0 }),
    conditions,
    endpoints: {
      primary: `${serviceHost(db, n.rwService)}:${POSTGRES_PORT}`,
      ...(db.spec.pooler.enabled ? { pooler: `${serviceHost(db, n.pooler)}:${POOLER_PORT}` } : {}),
    },
    secrets: {
      superuser: n.superuserSecret,
      app: n.appSecret,
      replication: n.replicationSecret,
      pooler: n.poolerSecret,
    },
    ...(o.primary ? { timescale: o.primary.timescale } : prev.timescale ? { timescale: prev.timescale } : {}),
    ...(o.primary
      ? { extensions: installedList(o.primary.extensions.installed) }
      : prev.extensions
        ? { extensions: prev.extensions }
        : {}),
    ...(o.primary
      ? {
          primary: primaryStatus(
            { ...o.primary, responseMs: o.responseMedianMs ?? o.primary.responseMs },
            prev.primary,
            db.spec.monitoring,
          ),
        }
      : {}),
    ...(db.spec.pooler.enabled && o.pooler
      ? { pooler: poolerStatus(o.pooler, o.poolerReadyInstances, prev.pooler) }
      : {}),
    ...archivingPart(db, o, prev),
  };
}

/** status.extensions: what pg_extension holds, by name. */
const installedList = (installed: Record<string, string>) =>
  Object.keys(installed)
    .sort()
    .map((name) => ({ name, version: installed[name]! }));

/** status.archiving: as the probe read it, else as before; absent before anything was archived or failed. */
function archivingPart(db: HomeOpsDatabase, o: Observation, prev: HomeOpsDatabaseStatus) {
  if (!db.spec.backup) return {};
  const archiving = o.primary?.archiver ? archivingStatus(o.primary.archiver) : prev.archiving;
  return archiving && Object.keys(archiving).length ? { archiving } : {};
}
