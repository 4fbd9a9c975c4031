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
import { median } from '../../common/figures.ts';
import { serviceHost } from '../../common/hosts.ts';
import { type PodLike, podProblem } from '../../common/pods.ts';
import { serviceResolver } from '../../common/reach.ts';
import type { EndpointMap, ServiceAddressMode } from '../../endpoints.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import type { RetryPolicy } from '../../pg/client.ts';
import { classifyPgError } from '../../pg/errors.ts';
import { applyChildren } from '../../runtime/children.ts';
import { MERGE_PATCH } from '../../runtime/client.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import type { ReconcileContext, Reconciler } from '../../runtime/controller.ts';
import { keyOf } from '../../runtime/controller.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter, TerminalError } from '../../runtime/result.ts';
import { ensureSecrets } from '../../runtime/secrets.ts';
import { Semaphore } from '../../runtime/semaphore.ts';
import { type KubeObject, MANAGED_BY, MANAGED_SELECTOR, Resources } from '../../runtime/types.ts';
import { growVolume } from '../../runtime/volumes.ts';
import { buildChildren } from './builders.ts';
import { ALERT_CONDITIONS } from './health.ts';
import { DatabaseMetrics } from './metrics.ts';
import { names, POOLER_PORT, POSTGRES_PORT, labels as resourceLabels } from './names.ts';
import { POOLER_AUTH_SQL } from './pgconfig.ts';
import { ensureMonitoringObjects, type ProbeTarget, probePooler, probePrimary } from './prober.ts';
import {
  buildSecret,
  InvalidSecretError,
  readCredentials,
  SECRET_ROLES,
  type SecretRole,
  secretName,
  secretsDigest,
  usernameFor,
} from './secrets.ts';
import { databaseStatus, type Observation } from './status.ts';

/**
 * The finalizer earlier builds added: the Secrets' ownership now follows the reclaim policy
 * (see `secrets`), so deletion needs no finalizer; objects that still carry it lose it.
 */
export const RETIRED_FINALIZER = 'homeops.io/finalizer';

export interface HomeOpsDatabaseControllerOptions {
  endpointMap: EndpointMap;
  /** How Services are dialled: by DNS name (default), or by ClusterIP from the cache. */
  serviceAddresses?: ServiceAddressMode;
  /** Images used where a resource names none. */
  images?: DefaultImages;
  /** How many databases are probed at once. */
  probeConcurrency?: number;
  probeTimeoutMs?: number;
  retry?: RetryPolicy;
}

type ClusterView = Pick<Observation, 'primaryPodReady' | 'podIssue' | 'poolerReadyInstances'>;
type Measured = Pick<Observation, 'primary' | 'primaryError' | 'pooler' | 'poolerError'>;

/** How many probes' response times the status' median covers. */
const RESPONSE_WINDOW = 5;

/** What Kubernetes reports of the primary and the pooler, from the cache. */
function observeCluster(db: HomeOpsDatabase, ctx: ReconcileContext): ClusterView {
  const ns = db.metadata.namespace!;
  const n = names(db);
  const ready = (kind: 'StatefulSet' | 'Deployment', name: string) =>
    cached<KubeObject & { status?: { readyReplicas?: number } }>(ctx, kind, ns, name)?.status
      ?.readyReplicas ?? 0;
  const pod = cached<KubeObject & PodLike>(ctx, 'Pod', ns, n.pod);
  // A primary pod being deleted is not a primary: the StatefulSet's readyReplicas may count it
  // until it is gone, and may never show 0 if its replacement is Ready by the next status sync.
  const primaryPodReady = ready('StatefulSet', n.statefulSet) >= 1 && !pod?.metadata.deletionTimestamp;
  return {
    primaryPodReady,
    poolerReadyInstances: db.spec.pooler.enabled ? ready('Deployment', n.pooler) : 0,
    // A primary pod that will not become Ready by itself (image, crash loop, unschedulable).
    ...(primaryPodReady
      ? {}
      : {
          podIssue: podProblem(pod),
        }),
  };
}

/** A child from the cache, by kind name. */
function cached<T extends KubeObject>(
  ctx: ReconcileContext,
  kind: keyof typeof Resources,
  ns: string | undefined,
  name: string,
): T | undefined {
  return ctx.cache.get<T>(Resources[kind], ns, name);
}

/** The kinds of child the builders make, pruned when no longer desired (Secrets are never). */
const CHILD_KINDS = [
  Resources.ConfigMap,
  Resources.Service,
  Resources.StatefulSet,
  Resources.Deployment,
  Resources.PodDisruptionBudget,
];

const POLARITY = {
  ...DEFAULT_POLARITY,
  abnormalTrue: new Set([...DEFAULT_POLARITY.abnormalTrue, ...ALERT_CONDITIONS]),
};

type Db = HomeOpsDatabase & KubeObject;

export class HomeOpsDatabaseReconciler implements Reconciler<Db> {
  readonly retiredFinalizers = [RETIRED_FINALIZER];
  private readonly opts: HomeOpsDatabaseControllerOptions;
  private readonly probes: Semaphore;
  readonly metrics: DatabaseMetrics;
  /**
   * The last probe of each database, by namespace/name: of which object (uid), when, under which
   * view, and what it measured.
   */
  private readonly lastProbe = new Map<
    string,
    { uid: string; at: number; key: string; measured: Measured; responses: number[] }
  >();
  /** Databases whose monitoring objects (pg_stat_statements, the pooler auth function) exist: their uids by key. */
  private readonly prepared = new Map<string, string>();

  constructor(registry: Registry, opts: HomeOpsDatabaseControllerOptions) {
    this.opts = opts;
    this.probes = new Semaphore(opts.probeConcurrency ?? 4);
    this.metrics = new DatabaseMetrics(registry);
  }

  /**
   * The steps, in order. `db` is parsed and defaulted: one that does not parse was Stalled
   * (InvalidSpec) by the runtime.
   */
  async reconcile(db: Db, ctx: ReconcileContext) {
    const secrets = await this.secrets(db, ctx);
    if (!secrets) return undefined; // one exists but is not cached yet: its event brings the key back
    const { waiting } = await this.applyChildren(db, secrets.digest, ctx);
    if (waiting) return requeueAfter(5000);
    await growVolume(
      ctx,
      db.metadata.namespace!,
      `data-${names(db).statefulSet}-0`,
      db.spec.postgres.storage.size,
    );
    const seen = observeCluster(db, ctx);
    const { measured, responseMedianMs, nextProbeMs } = seen.primaryPodReady
      ? await this.measureWhenDue(db, secrets, seen, ctx)
      : { measured: {}, responseMedianMs: undefined, nextProbeMs: db.spec.monitoring.intervalSeconds * 1000 };
    this.metrics.primary(db.metadata.namespace!, db.metadata.name!, measured.primary);
    if (db.spec.pooler.enabled)
      this.metrics.pooler(db.metadata.namespace!, db.metadata.name!, measured.pooler);
    // Status is a pure function of what was observed, written only when it differs.
    const status = databaseStatus(
      db,
      {
        ...seen,
        ...measured,
        ...(measured.primary && responseMedianMs !== undefined ? { responseMedianMs } : {}),
      },
      (db.status ?? {}) as HomeOpsDatabaseStatus,
    );
    await ctx.writer.applyStatus(Resources.HomeOpsDatabase, db, status as Record<string, unknown>, POLARITY);
    return requeueAfter(nextProbeMs);
  }

  /**
   * The probes' figures: measured again once per monitoring interval, or at once when what
   * Kubernetes shows changed (the pods' readiness, the spec, the credentials); otherwise the
   * last measurement, whose time status.primary.lastProbeTime gives. A child's status update
   * wakes the database often while it starts; each wake need not cost a round of queries.
   */
  private async measureWhenDue(
    db: Db,
    secrets: { credentials: Record<SecretRole, { username: string; password: string }>; digest: string },
    seen: ClusterView,
    ctx: ReconcileContext,
  ): Promise<{ measured: Measured; responseMedianMs?: number; nextProbeMs: number }> {
    const interval = db.spec.monitoring.intervalSeconds * 1000;
    const key = JSON.stringify([
      db.metadata.generation,
      seen.primaryPodReady,
      seen.poolerReadyInstances > 0,
      secrets.digest,
    ]);
    const last = this.lastProbe.get(keyOf(db));
    const age = last ? Date.now() - last.at : Infinity;
    // 10 % early is on time: the requeue that brings the key back is not to the millisecond.
    const mine = last?.uid === db.metadata.uid ? last : undefined;
    if (mine && mine.key === key && age < interval * 0.9)
      return {
        measured: mine.measured,
        responseMedianMs: median(mine.responses),
        nextProbeMs: interval - age,
      };
    const endTimer = this.metrics.probeDuration.startTimer();
    const measured = await this.measure(db, secrets.credentials, seen, ctx);
    endTimer({ result: measured.primaryError || measured.poolerError ? 'error' : 'ok' });
    const rt = measured.primary?.responseMs;
    const responses = [...(mine?.responses ?? []), ...(rt === undefined ? [] : [rt])].slice(-RESPONSE_WINDOW);
    this.lastProbe.set(keyOf(db), { uid: db.metadata.uid!, at: Date.now(), key, measured, responses });
    return { measured, responseMedianMs: median(responses), nextProbeMs: interval };
  }

  /** The children the spec asks for, applied where the cache differs; the rest pruned. */
  private applyChildren(db: Db, digest: string, ctx: ReconcileContext) {
    return applyChildren(ctx, db, buildChildren(db, digest, this.opts.images ?? DEFAULT_IMAGES), {
      // What the spec no longer asks for (the pooler, once disabled) is pruned.
      prune: CHILD_KINDS,
      selector: { 'homeops.io/database': db.metadata.name!, ...MANAGED_BY },
    });
  }

  /** Probes the primary and PgBouncer (at most probeConcurrency databases at once). */
  private async measure(
    db: Db,
    credentials: Record<SecretRole, { username: string; password: string }>,
    seen: ClusterView,
    ctx: ReconcileContext,
  ): Promise<Measured> {
    const n = names(db);
    const resolve = serviceResolver(this.opts, ctx.cache);
    const superuser = credentials.superuser;
    const target: ProbeTarget = {
      ...resolve(serviceHost(db, n.rwService), POSTGRES_PORT),
      user: superuser.username,
      password: superuser.password,
      database: db.spec.database.name,
    };
    const out: Measured = {};
    await this.probes.run(async () => {
      try {
        if (this.prepared.get(keyOf(db)) !== db.metadata.uid) {
          await ensureMonitoringObjects(target, POOLER_AUTH_SQL, this.opts.probeTimeoutMs).then(
            () => this.prepared.set(keyOf(db), db.metadata.uid!),
            (e) => ctx.log.warn({ err: String(e?.message ?? e) }, 'could not create the monitoring objects'),
          );
        }
        out.primary = await probePrimary(target, {
          slowQueryMs: db.spec.monitoring.slowQueryMs,
          timeoutMs: this.opts.probeTimeoutMs,
          retry: this.opts.retry,
        });
      } catch (e) {
        out.primaryError = classifyPgError(e);
      }
      if (db.spec.pooler.enabled && seen.poolerReadyInstances > 0) {
        const auth = credentials.pooler;
        try {
          out.pooler = await probePooler(
            {
              ...resolve(serviceHost(db, n.pooler), POOLER_PORT),
              user: auth.username,
              password: auth.password,
              database: 'pgbouncer',
            },
            { timeoutMs: this.opts.probeTimeoutMs, retry: this.opts.retry },
          );
        } catch (e) {
          out.poolerError = classifyPgError(e);
        }
      }
    });
    return out;
  }

  /** Gone: its metrics series and last measurements with it. */
  forget({ namespace, name }: { namespace: string | undefined; name: string }) {
    this.metrics.forget(namespace!, name);
    const key = keyOf({ metadata: { namespace, name } });
    this.prepared.delete(key);
    this.lastProbe.delete(key);
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
        const s = cached<KubeObject>(ctx, 'Secret', ns, name);
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

  /**
   * The four Secrets (shared ensureSecrets), then their credentials, checked: a malformed one
   * stalls. Under reclaimPolicy Retain they are not owned by the database: the volumes outlive it,
   * so must the credentials that open them (and no finalizer is needed to let them go).
   */
  private async secrets(db: Db, ctx: ReconcileContext) {
    const live = await ensureSecrets(
      ctx,
      db,
      SECRET_ROLES.map((role) => ({
        name: secretName(db, role),
        labels: resourceLabels(db, 'secret'),
        build: () => buildSecret(db, role),
      })),
      { owned: db.spec.postgres.storage.reclaimPolicy === 'Delete' },
    );
    if (!live) return undefined;
    const objects = {} as Record<SecretRole, KubeObject>;
    const credentials = {} as Record<SecretRole, { username: string; password: string }>;
    for (const [i, role] of SECRET_ROLES.entries()) {
      objects[role] = live[i]!;
      try {
        credentials[role] = readCredentials(live[i]!, usernameFor(db, role));
      } catch (e) {
        if (e instanceof InvalidSecretError) throw new TerminalError('InvalidSecret', e.message);
        throw e;
      }
    }
    return { objects, credentials, digest: secretsDigest(SECRET_ROLES.map((r) => objects[r])) };
  }
}

/** The database a child names in its `homeops.io/database` label. */
const ofDatabaseLabel = (o: KubeObject) => {
  const db = o.metadata.labels?.['homeops.io/database'];
  return db ? [keyOf({ metadata: { namespace: o.metadata.namespace, name: db } })] : [];
};

const readyReplicas = (o: KubeObject) => (o.status as { readyReplicas?: number } | undefined)?.readyReplicas;

/** Declares the controller on a manager. */
export function registerHomeOpsDatabaseController(manager: Manager, opts: HomeOpsDatabaseControllerOptions) {
  const reconciler = new HomeOpsDatabaseReconciler(manager.metrics.registry, opts);
  // Lean caches: only what the operator made or adopted is cached (a label selector), not every
  // Secret, ConfigMap or pod of the cluster. A pod's change (an image that cannot be pulled, a
  // crash loop) wakes its database; a Secret the user made is found by a direct read.
  for (const type of [...CHILD_KINDS, Resources.Secret, Resources.Pod, Resources.PersistentVolumeClaim])
    manager.informer(type, { labelSelector: MANAGED_SELECTOR });
  const controller = manager
    .controller<Db>('homeopsdatabase')
    .for(Resources.HomeOpsDatabase, { schema: homeOpsDatabase })
    .owns(Resources.ConfigMap)
    .owns(Resources.Service)
    // Of the children's status, observeCluster reads only the ready replicas.
    .owns(Resources.StatefulSet, { reads: readyReplicas })
    .owns(Resources.Deployment, { reads: readyReplicas })
    .owns(Resources.PodDisruptionBudget)
    // By label: under Retain the Secrets have no owner reference.
    .watches(Resources.Secret, ofDatabaseLabel)
    // Only a pod that will not start by itself, or one being deleted, wakes its database (a pod
    // becoming Ready moves its StatefulSet's status, which does): pods' many ordinary updates
    // cost no reconcile.
    .watches(Resources.Pod, (p) => {
      return p.metadata.deletionTimestamp || podProblem(p as PodLike) ? ofDatabaseLabel(p) : [];
    })
    .complete(reconciler);
  return { reconciler, controller };
}
