/**
 * The HomeOpsDatabase controller: Secrets (created once), config, the primary's StatefulSet and
 * Services, PgBouncer, then measured health in status. Reads come from the informer caches;
 * children and status are written only when they differ from what the cache holds.
 */
import type { Registry } from 'prom-client';
import {
  type HomeOpsDatabase,
  type HomeOpsDatabaseStatus,
  homeOpsDatabase,
} from '../../api/v1alpha1/index.ts';
import { childrenOf, toOwner } from '../../common/labels.ts';
import { type PodLike, podProblem } from '../../common/pods.ts';
import { DEFAULT_IMAGES } from '../../images.ts';
import { applyChildren } from '../../runtime/children.ts';
import { MERGE_PATCH } from '../../runtime/client.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import { keyOf, type ReconcileContext, type Reconciler } from '../../runtime/controller.ts';
import { KubeApiError } from '../../runtime/errors.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter } from '../../runtime/result.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { growVolume } from '../../runtime/volumes.ts';
import { repoVolumeSpec } from './backup.ts';
import { buildChildren } from './children.ts';
import { type Credentials, ensureCredentials } from './credentials.ts';
import { ALERT_CONDITIONS } from './health.ts';
import { type ProbeOptions, Probes } from './measure.ts';
import { DatabaseMetrics } from './metrics.ts';
import { dbNames } from './names.ts';
import { observeCluster } from './observe.ts';
import {
  changedParameters,
  observeParameters,
  type ParameterCheck,
  type ParameterRecord,
  parameterRecord,
  planParameters,
  recordedFailure,
  unaskedCheck,
  withParameters,
} from './parameters.ts';
import { configDigest } from './pgconfig.ts';
import { decideRecovery, type RecoveryPlan, waitingOn } from './recovery.ts';
import { readingSecret, s3SecretFor } from './repository.ts';
import { SECRET_ROLES, secretName } from './secrets.ts';
import { databaseStatus } from './status.ts';

/**
 * The finalizer earlier builds added: the Secrets' ownership now follows the reclaim policy
 * (see `secrets`), so deletion needs no finalizer; objects that still carry it lose it.
 */
export const RETIRED_FINALIZER = 'homeops.io/finalizer';

export type HomeOpsDatabaseControllerOptions = ProbeOptions;

/** The kinds of child the builders make, pruned when no longer desired (Secrets are never). */
const CHILD_KINDS = [
  Resources.ConfigMap,
  Resources.Service,
  Resources.StatefulSet,
  Resources.Deployment,
  Resources.PodDisruptionBudget,
  Resources.ServiceAccount,
  Resources.Role,
  Resources.RoleBinding,
];

const POLARITY = {
  ...DEFAULT_POLARITY,
  abnormalTrue: new Set([...DEFAULT_POLARITY.abnormalTrue, ...ALERT_CONDITIONS]),
};

type Db = HomeOpsDatabase & KubeObject;

export class HomeOpsDatabaseReconciler implements Reconciler<Db> {
  readonly retiredFinalizers = [RETIRED_FINALIZER];
  private readonly opts: HomeOpsDatabaseControllerOptions;
  private readonly probes: Probes;
  readonly metrics: DatabaseMetrics;

  constructor(registry: Registry, opts: HomeOpsDatabaseControllerOptions) {
    this.opts = opts;
    this.metrics = new DatabaseMetrics(registry);
    this.probes = new Probes(opts, this.metrics);
  }

  /**
   * The steps, in order. `db` is parsed and defaulted: one that does not parse was Stalled
   * (InvalidSpec) by the runtime.
   */
  async reconcile(db: Db, ctx: ReconcileContext) {
    // Decided before anything is made: a recovery no backup can serve is Stalled, nothing made.
    const recovery = decideRecovery(db, ctx);
    const secrets = await ensureCredentials(db, ctx);
    if (!secrets) return undefined; // one exists but is not cached yet: its event brings the key back
    const s3Secret = await s3SecretFor(db, ctx);
    const { built, check, record, rollback } = await this.gateParameters(db, secrets, ctx);
    const { waiting } = await this.applyChildren(built, secrets.digest, ctx, record, recovery, s3Secret);
    // The pod that failed goes, or the StatefulSet would wait for it to become Ready before
    // rolling back (kubernetes/kubernetes#67250); it served nothing.
    if (rollback) await deletePod(ctx, db.metadata.namespace!, dbNames(db).pod);
    if (waiting) return requeueAfter(5000);
    await growVolume(
      ctx,
      db.metadata.namespace!,
      `data-${dbNames(db).statefulSet}-0`,
      db.spec.postgres.storage.size,
    );
    const repoVolume = repoVolumeSpec(db);
    if (repoVolume) await growVolume(ctx, db.metadata.namespace!, dbNames(db).backupRepo, repoVolume.size);
    // With the digest of the postgresql.conf it wrote: the probe reloads it once it reaches the pod.
    const seen = {
      ...observeCluster(db, ctx),
      configDigest: configDigest(built.spec),
    };
    const { measured, responseMedianMs, nextProbeMs } = seen.primaryPodReady
      ? await this.probes.measureWhenDue(db, secrets, seen, ctx)
      : { measured: {}, responseMedianMs: undefined, nextProbeMs: db.spec.monitoring.intervalSeconds * 1000 };
    const pooler = db.spec.pooler.enabled ? measured.pooler : null;
    this.metrics.record(db.metadata.namespace!, db.metadata.name!, measured.primary, pooler);
    // Status is a pure function of what was observed, written only when it differs.
    const status = databaseStatus(
      db,
      {
        ...seen,
        ...measured,
        ...(measured.primary && responseMedianMs !== undefined ? { responseMedianMs } : {}),
        ...(check ? { parameters: check } : {}),
      },
      (db.status ?? {}) as HomeOpsDatabaseStatus,
    );
    const made = recovery ?? db.status?.recovery;
    if (made) status.recovery = { source: made.source, backup: made.backup, target: made.target };
    await ctx.writer.applyStatus(Resources.HomeOpsDatabase, db, status as Record<string, unknown>, POLARITY);
    return requeueAfter(nextProbeMs);
  }

  /**
   * spec.postgres.parameters through the gate (parameters.ts): a change is asked of the running
   * primary first; one that failed to start goes back to the parameters that last ran.
   */
  private async gateParameters(db: Db, secrets: Credentials, ctx: ReconcileContext) {
    const spec = db.spec.postgres.parameters;
    const view = observeParameters(db, ctx);
    const changed = view.inForce ? changedParameters(spec, view.inForce) : {};
    let check: ParameterCheck | undefined;
    // No primary to ask: a change refused or failed before stays held; any other waits for the
    // primary, unless it is down in a way the change may fix (parameters.ts: unaskedCheck).
    if (Object.keys(changed).length) {
      const cluster = observeCluster(db, ctx);
      // A change that failed to start before is not asked again (the ConfigMap keeps the verdict).
      check =
        recordedFailure(spec, view) ??
        (cluster.primaryPodReady
          ? await this.probes.checkParameters(db, secrets.credentials, changed, ctx)
          : (this.probes.knownCheck(db, changed) ?? unaskedCheck(view, !!cluster.podIssue)));
    }
    const plan = planParameters(spec, view, check);
    if (plan.rollback) {
      check = { failedStart: plan.rollback.message };
      this.probes.remember(db, changedParameters(spec, plan.build), check);
      ctx.log.warn(
        { failed: Object.keys(plan.rollback.change) },
        'the primary did not start: parameters rolled back',
      );
    }
    const record = parameterRecord(spec, view, plan);
    return { built: withParameters(db, plan.build), check, record, rollback: !!plan.rollback };
  }

  /** The children the spec asks for, applied where the cache differs; the rest pruned. */
  private applyChildren(
    db: Db,
    digest: string,
    ctx: ReconcileContext,
    record: ParameterRecord,
    recovery: RecoveryPlan | undefined,
    s3Secret: KubeObject | undefined,
  ) {
    const ns = db.metadata.namespace;
    const n = dbNames(db);
    const existing = {
      repo: !!ctx.cache.get(Resources.PersistentVolumeClaim, ns, n.backupRepo),
      role: !!ctx.cache.get(Resources.Role, ns, n.backupAccount),
    };
    const desired = buildChildren(
      db,
      digest,
      this.opts.images ?? DEFAULT_IMAGES,
      record,
      existing,
      recovery,
      s3Secret,
    );
    return applyChildren(ctx, db, desired, {
      // What the spec no longer asks for (the pooler, once disabled) is pruned.
      prune: CHILD_KINDS,
      selector: childrenOf('HomeOpsDatabase', db),
    });
  }

  /** Gone: its metrics series and last measurements with it. */
  forget({ namespace, name }: { namespace: string | undefined; name: string }) {
    this.metrics.forget(namespace!, name);
    this.probes.forget(namespace, name);
  }

  /**
   * Only for a database deleted while it still carries the retired finalizer (made by an earlier
   * version, not reconciled since): its Secrets may still be owned; under Retain they must stay.
   */
  async cleanup(raw: Db, ctx: ReconcileContext) {
    const ns = raw.metadata.namespace!;
    const parsed = homeOpsDatabase.safeParse(raw);
    const retain = !parsed.success || parsed.data.spec.postgres.storage.reclaimPolicy === 'Retain';
    if (retain) {
      // The PVCs stay; so must the credentials that open them, or a re-created database could not.
      for (const role of SECRET_ROLES) {
        const name = secretName(raw as HomeOpsDatabase, role);
        const s = ctx.cache.get<KubeObject>(Resources.Secret, ns, name);
        const refs = s?.metadata.ownerReferences ?? [];
        if (!s || !refs.some((r) => r.uid === raw.metadata.uid)) continue;
        await ctx.client.patch(
          Resources.Secret,
          ns,
          name,
          { metadata: { ownerReferences: refs.filter((r) => r.uid !== raw.metadata.uid) } },
          MERGE_PATCH,
        );
      }
      ctx.log.info('reclaimPolicy Retain: PVCs and Secrets are kept');
    }
    return undefined;
  }
}

/** The database a child names in its owner label. */
const ofDatabaseLabel = toOwner('HomeOpsDatabase');

const readyReplicas = (o: KubeObject) => (o.status as { readyReplicas?: number } | undefined)?.readyReplicas;

async function deletePod(ctx: ReconcileContext, namespace: string, name: string) {
  await ctx.client.delete(Resources.Pod, namespace, name).catch((e) => {
    if (!(e instanceof KubeApiError && e.notFound)) throw e;
  });
}

/** Declares the controller on a manager. */
export function registerHomeOpsDatabaseController(manager: Manager, opts: HomeOpsDatabaseControllerOptions) {
  const reconciler = new HomeOpsDatabaseReconciler(manager.metrics.registry, opts);
  const controller = manager
    .controller<Db>('homeopsdatabase')
    .for(Resources.HomeOpsDatabase, { schema: homeOpsDatabase })
    .owns(Resources.ConfigMap)
    .owns(Resources.Service)
    // Of the children's status, observeCluster reads only the ready replicas.
    .owns(Resources.StatefulSet, { reads: readyReplicas })
    .owns(Resources.Deployment, { reads: readyReplicas })
    .owns(Resources.PodDisruptionBudget)
    .owns(Resources.ServiceAccount)
    .owns(Resources.Role)
    .owns(Resources.RoleBinding)
    // Lean caches: only what the operator made or adopted (a Secret the user made is found by a
    // direct read). A pod's change (an image that cannot be pulled, a crash loop) wakes its
    // database.
    .caches(Resources.Secret, Resources.Pod, Resources.PersistentVolumeClaim)
    // By label: under Retain the Secrets have no owner reference. And the S3 repository's
    // credentials (adopted by label): a rotated key reaches NAME-backup-s3.
    .watches(Resources.Secret, (s) => [
      ...ofDatabaseLabel(s),
      ...readingSecret(manager.cache.list<Db>(Resources.HomeOpsDatabase, s.metadata.namespace), s).map(keyOf),
    ])
    // A database recovering from another waits for its backups: their status wakes it.
    .watches(Resources.HomeOpsDatabase, (src) =>
      waitingOn(manager.cache.list<Db>(Resources.HomeOpsDatabase, src.metadata.namespace), src).map(keyOf),
    )
    // Only a pod that will not start by itself, or one being deleted, wakes its database (a pod
    // becoming Ready moves its StatefulSet's status, which does): pods' many ordinary updates
    // cost no reconcile.
    .watches(Resources.Pod, (p) => {
      return p.metadata.deletionTimestamp || podProblem(p as PodLike) ? ofDatabaseLabel(p) : [];
    })
    .complete(reconciler);
  return { reconciler, controller };
}
