/**
 * The HomeOpsDatabase controller: Secrets (created once), config, the primary's StatefulSet and
 * Services, PgBouncer, then measured health in status. Reads come from the informer caches;
 * children and status are written only when they differ from what the cache holds.
 */
import type { Logger } from 'pino';
import {
  type HomeOpsDatabase,
  type HomeOpsDatabaseStatus,
  homeOpsDatabase,
} from '../../api/v1alpha1/index.ts';
import { type EndpointMap, makeResolver, type ServiceAddressMode } from '../../endpoints.ts';
import { KubeApiError, type KubeObject, MERGE_PATCH } from '../../runtime/client.ts';
import { type ConditionInput, setCondition } from '../../runtime/conditions.ts';
import type { ReconcileContext, Reconciler } from '../../runtime/controller.ts';
import { keyOf } from '../../runtime/controller.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter, TerminalError } from '../../runtime/result.ts';
import { Semaphore } from '../../runtime/semaphore.ts';
import { DEFAULT_POLARITY } from '../../runtime/status.ts';
import { Resources, resourceOf } from '../../runtime/types.ts';
import { buildChildren, DEFAULT_IMAGES, type DefaultImages, poolerChildren } from './builders.ts';
import { ALERT_CONDITIONS, podProblem, poolerStatus, primaryStatus, thresholdConditions } from './health.ts';
import { DatabaseMetrics } from './metrics.ts';
import { names, POOLER_PORT, POSTGRES_PORT, serviceHost } from './names.ts';
import { POOLER_AUTH_SQL } from './pgconfig.ts';
import {
  ensureMonitoringObjects,
  type PoolerMeasurement,
  type PrimaryMeasurement,
  ProbeError,
  type ProbeTarget,
  probePooler,
  probePrimary,
  type RetryPolicy,
} from './prober.ts';
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

export const FINALIZER = 'homeops.io/finalizer';

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

const POLARITY = { abnormalTrue: new Set([...DEFAULT_POLARITY.abnormalTrue, ...ALERT_CONDITIONS]) };

type Db = HomeOpsDatabase & KubeObject;

export class HomeOpsDatabaseReconciler implements Reconciler<Db> {
  readonly finalizer = FINALIZER;
  private readonly manager: Manager;
  private readonly opts: HomeOpsDatabaseControllerOptions;
  private readonly probes: Semaphore;
  readonly metrics: DatabaseMetrics;
  /** Databases whose monitoring objects (pg_stat_statements, the pooler auth function) exist. */
  private readonly prepared = new Set<string>();
  private readonly resolve: (host: string, port: number) => { host: string; port: number };

  constructor(manager: Manager, opts: HomeOpsDatabaseControllerOptions) {
    this.manager = manager;
    this.opts = opts;
    this.resolve = makeResolver(
      opts.endpointMap,
      opts.serviceAddresses ?? 'dns',
      (ns, name) =>
        this.cached<KubeObject & { spec?: { clusterIP?: string } }>('Service', ns, name)?.spec?.clusterIP,
    );
    this.probes = new Semaphore(opts.probeConcurrency ?? 4);
    this.metrics = new DatabaseMetrics(manager.metrics.registry);
  }

  private cached<T extends KubeObject>(
    kind: keyof typeof Resources,
    ns: string | undefined,
    name: string,
  ): T | undefined {
    return this.manager.informer<T>(Resources[kind]).get(ns, name);
  }

  async reconcile(raw: Db, ctx: ReconcileContext) {
    const parsed = homeOpsDatabase.safeParse(raw);
    if (!parsed.success) {
      throw new TerminalError(
        'InvalidSpec',
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    }
    const db = { ...parsed.data, metadata: raw.metadata } as Db;
    const ns = db.metadata.namespace!;
    const n = names(db);

    // 1. Secrets: created once with CSPRNG passwords, adopted when the user made them, checked, never rewritten.
    const secrets = await this.ensureSecrets(db, ctx.log);
    if (!secrets) return undefined; // just created: their watch events bring the key back

    // 2. Children, applied only where the cache differs.
    const digest = secretsDigest(SECRET_ROLES.map((r) => secrets.objects[r]));
    let deleting = false;
    for (const desired of buildChildren(db, digest, this.opts.images ?? DEFAULT_IMAGES)) {
      const type = resourceOf(desired.apiVersion, desired.kind);
      const live = this.cached<KubeObject>(
        desired.kind as keyof typeof Resources,
        ns,
        desired.metadata.name!,
      );
      if (live?.metadata.deletionTimestamp) {
        // Left by an earlier database of the same name and still being deleted: its deletion event
        // brings this key back, and the child is created anew then.
        deleting = true;
        continue;
      }
      if (desired.kind === 'StatefulSet' && live) {
        // volumeClaimTemplates are immutable: keep the live ones; a larger size is applied to the PVC.
        (desired.spec as Record<string, unknown>).volumeClaimTemplates = (
          live.spec as Record<string, unknown>
        ).volumeClaimTemplates;
      }
      await ctx.writer.applyChild(type, desired, live);
    }
    if (deleting) return requeueAfter(5000);
    await this.growVolume(db, ctx);
    if (!db.spec.pooler.enabled) await this.deletePooler(db, ctx.log);

    // 3. What Kubernetes reports, from the cache.
    const sts = this.cached<
      KubeObject & { status?: { readyReplicas?: number; observedGeneration?: number } }
    >('StatefulSet', ns, n.statefulSet);
    const deploy = db.spec.pooler.enabled
      ? this.cached<KubeObject & { status?: { readyReplicas?: number } }>('Deployment', ns, n.pooler)
      : undefined;
    const primaryPodReady = (sts?.status?.readyReplicas ?? 0) >= 1;
    const poolerReadyInstances = deploy?.status?.readyReplicas ?? 0;
    // A primary pod that will not become Ready by itself (image, crash loop, unschedulable).
    const podIssue = primaryPodReady
      ? undefined
      : podProblem(this.cached<KubeObject & Parameters<typeof podProblem>[0]>('Pod', ns, n.pod));

    // 4. Measured health.
    const superuser = secrets.credentials.superuser;
    const primaryEp = this.resolve(serviceHost(db, n.rwService), POSTGRES_PORT);
    const target: ProbeTarget = {
      ...primaryEp,
      user: superuser.username,
      password: superuser.password,
      database: db.spec.database.name,
    };
    let primary: PrimaryMeasurement | undefined;
    let primaryError: ProbeError | undefined;
    let pooler: PoolerMeasurement | undefined;
    let poolerError: ProbeError | undefined;
    if (primaryPodReady) {
      await this.probes.run(async () => {
        try {
          if (!this.prepared.has(db.metadata.uid!)) {
            await ensureMonitoringObjects(target, POOLER_AUTH_SQL, this.opts.probeTimeoutMs).then(
              () => this.prepared.add(db.metadata.uid!),
              (e) =>
                ctx.log.warn({ err: String(e?.message ?? e) }, 'could not create the monitoring objects'),
            );
          }
          primary = await probePrimary(target, {
            slowQueryMs: db.spec.monitoring.slowQueryMs,
            timeoutMs: this.opts.probeTimeoutMs,
            retry: this.opts.retry,
          });
        } catch (e) {
          primaryError = e instanceof ProbeError ? e : new ProbeError('QueryFailed', String(e));
        }
        if (db.spec.pooler.enabled && poolerReadyInstances > 0) {
          const ep = this.resolve(serviceHost(db, n.pooler), POOLER_PORT);
          const auth = secrets.credentials.pooler;
          try {
            pooler = await probePooler(
              { ...ep, user: auth.username, password: auth.password, database: 'pgbouncer' },
              { timeoutMs: this.opts.probeTimeoutMs, retry: this.opts.retry },
            );
          } catch (e) {
            poolerError = e instanceof ProbeError ? e : new ProbeError('QueryFailed', String(e));
          }
        }
      });
    }
    this.metrics.primary(ns, db.metadata.name!, primary);
    if (db.spec.pooler.enabled) this.metrics.pooler(ns, db.metadata.name!, pooler);

    // 5. Status: conditions, rounded figures; written only when it differs.
    const prev = (raw.status ?? {}) as HomeOpsDatabaseStatus;
    const gen = db.metadata.generation;
    const conds: ConditionInput[] = [];
    conds.push(
      !primaryPodReady
        ? {
            type: 'PrimaryAvailable',
            status: 'False',
            reason: podIssue?.reason ?? 'PodNotReady',
            message: podIssue ? `pod ${n.pod}: ${podIssue.message}` : `waiting for pod ${n.pod} to be Ready`,
          }
        : primary
          ? {
              type: 'PrimaryAvailable',
              status: 'True',
              reason: 'Connected',
              message: 'the primary answers queries',
            }
          : {
              type: 'PrimaryAvailable',
              status: 'False',
              reason: primaryError!.reason,
              message: primaryError!.message,
            },
    );
    if (db.spec.pooler.enabled) {
      conds.push(
        poolerReadyInstances === 0
          ? {
              type: 'PoolerAvailable',
              status: 'False',
              reason: 'PodNotReady',
              message: `no ready PgBouncer pod in ${n.pooler}`,
            }
          : pooler
            ? {
                type: 'PoolerAvailable',
                status: 'True',
                reason: 'Connected',
                message: `${poolerReadyInstances} PgBouncer instance(s) ready`,
              }
            : primaryPodReady
              ? {
                  type: 'PoolerAvailable',
                  status: 'False',
                  reason: poolerError?.reason ?? 'NotProbed',
                  message: poolerError?.message ?? 'not probed',
                }
              : {
                  type: 'PoolerAvailable',
                  status: 'False',
                  reason: 'PrimaryNotReady',
                  message: 'waiting for the primary',
                },
      );
    }
    if (primary) conds.push(...thresholdConditions(primary, db.spec.monitoring));

    const blocking: ConditionInput | undefined = !primaryPodReady
      ? {
          type: 'Ready',
          status: 'False',
          reason: podIssue?.reason ?? 'Provisioning',
          message: podIssue
            ? `primary pod ${n.pod}: ${podIssue.message}`
            : `waiting for the primary pod ${n.pod}`,
        }
      : !primary
        ? {
            type: 'Ready',
            status: 'False',
            reason: primaryError!.reason,
            message: `primary: ${primaryError!.message}`,
          }
        : db.spec.pooler.enabled && !pooler
          ? {
              type: 'Ready',
              status: 'False',
              reason:
                poolerReadyInstances === 0 ? 'PoolerNotReady' : (poolerError?.reason ?? 'PoolerNotReady'),
              message: `pooler: ${poolerError?.message ?? 'no ready instance'}`,
            }
          : !primary.statementsAvailable
            ? {
                type: 'Ready',
                status: 'False',
                reason: 'ExtensionMissing',
                message: 'pg_stat_statements is not installed: it must be in shared_preload_libraries',
              }
            : db.spec.postgres.timescale === 'enabled' && !primary.timescale.available
              ? {
                  type: 'Ready',
                  status: 'False',
                  reason: 'TimescaleUnavailable',
                  message: 'timescale: enabled, but the image has no timescaledb extension',
                }
              : undefined;
    const alerts = primary
      ? thresholdConditions(primary, db.spec.monitoring).filter((c) => c.status === 'True')
      : [];
    conds.push(
      blocking ?? {
        type: 'Ready',
        status: 'True',
        reason: 'Ready',
        message: alerts.length
          ? `ready, with alerts: ${alerts.map((a) => a.type).join(', ')}`
          : 'primary and pooler are up',
      },
    );
    conds.push({
      type: 'Reconciling',
      status: primaryPodReady ? 'False' : 'True',
      reason: primaryPodReady ? 'Reconciled' : 'Provisioning',
      message: primaryPodReady ? 'children are applied' : 'waiting for the primary pod',
    });
    conds.push({ type: 'Stalled', status: 'False', reason: 'Reconciled', message: 'no blocking error' });

    let conditions = prev.conditions ?? [];
    for (const c of conds) conditions = setCondition(conditions, c, gen);
    // Alert conditions of a database that can no longer be measured are dropped, not guessed.
    if (!primary)
      conditions = conditions.filter((c) => !(ALERT_CONDITIONS as readonly string[]).includes(c.type));
    if (!db.spec.pooler.enabled) conditions = conditions.filter((c) => c.type !== 'PoolerAvailable');

    const status: HomeOpsDatabaseStatus = {
      observedGeneration: gen,
      phase: blocking
        ? primaryPodReady
          ? 'Degraded'
          : 'Provisioning'
        : alerts.length
          ? 'Degraded'
          : 'Ready',
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
      ...(primary ? { timescale: primary.timescale } : prev.timescale ? { timescale: prev.timescale } : {}),
      ...(primary ? { primary: primaryStatus(primary, prev.primary, db.spec.monitoring) } : {}),
      ...(db.spec.pooler.enabled && pooler
        ? { pooler: poolerStatus(pooler, poolerReadyInstances, prev.pooler) }
        : {}),
      // Figures owned by the job runner (later issue) are kept as they are.
      ...(prev.migrations ? { migrations: prev.migrations } : {}),
      ...(prev.partitions ? { partitions: prev.partitions } : {}),
      ...(prev.benchmarks ? { benchmarks: prev.benchmarks } : {}),
    };
    await ctx.writer.applyStatus(Resources.HomeOpsDatabase, raw, status as Record<string, unknown>, POLARITY);
    return requeueAfter(db.spec.monitoring.intervalSeconds * 1000);
  }

  async cleanup(raw: Db, ctx: ReconcileContext) {
    const ns = raw.metadata.namespace!;
    this.metrics.forget(ns, raw.metadata.name!);
    this.prepared.delete(raw.metadata.uid!);
    const parsed = homeOpsDatabase.safeParse(raw);
    const retain = !parsed.success || parsed.data.spec.postgres.storage.reclaimPolicy === 'Retain';
    if (retain) {
      // The PVCs stay; so must the credentials that open them, or a re-created database could not.
      for (const role of SECRET_ROLES) {
        const name = secretName(raw as HomeOpsDatabase, role);
        const s = this.cached<KubeObject>('Secret', ns, name);
        const refs = s?.metadata.ownerReferences ?? [];
        if (!s || !refs.some((r) => r.uid === raw.metadata.uid)) continue;
        await this.manager.client.patch(
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

  private async ensureSecrets(db: Db, log: Logger) {
    const ns = db.metadata.namespace!;
    const objects = {} as Record<SecretRole, KubeObject>;
    const credentials = {} as Record<SecretRole, { username: string; password: string }>;
    let created = false;
    for (const role of SECRET_ROLES) {
      const name = secretName(db, role);
      const live = this.cached<KubeObject>('Secret', ns, name);
      if (!live) {
        try {
          await this.manager.client.create(Resources.Secret, buildSecret(db, role));
          log.info({ secret: name }, 'generated Secret');
        } catch (e) {
          if (!(e instanceof KubeApiError && e.conflict)) throw e; // 409: the cache is behind
        }
        created = true;
        continue;
      }
      try {
        credentials[role] = readCredentials(live, usernameFor(db, role));
      } catch (e) {
        if (e instanceof InvalidSecretError) throw new TerminalError('InvalidSecret', e.message);
        throw e;
      }
      objects[role] = live;
      if (!(live.metadata.ownerReferences ?? []).some((r) => r.uid === db.metadata.uid)) {
        // A Secret the user made first (or one retained from an earlier database): adopt it.
        await this.manager.client.patch(
          Resources.Secret,
          ns,
          name,
          {
            metadata: {
              ownerReferences: [
                ...(live.metadata.ownerReferences ?? []),
                ...buildSecret(db, role).metadata.ownerReferences!,
              ],
            },
          },
          MERGE_PATCH,
        );
        log.info({ secret: name }, 'adopted existing Secret');
      }
    }
    return created ? undefined : { objects, credentials };
  }

  /** Grows the data volume when spec.postgres.storage.size grew (shrinking is refused at admission). */
  private async growVolume(db: Db, ctx: ReconcileContext) {
    const ns = db.metadata.namespace!;
    const pvcName = `data-${names(db).statefulSet}-0`;
    const pvc = this.cached<KubeObject & { spec?: { resources?: { requests?: { storage?: string } } } }>(
      'PersistentVolumeClaim',
      ns,
      pvcName,
    );
    const current = pvc?.spec?.resources?.requests?.storage;
    if (!pvc || !current || current === db.spec.postgres.storage.size) return;
    if (parseQuantity(db.spec.postgres.storage.size) <= parseQuantity(current)) return;
    await this.manager.client.patch(
      Resources.PersistentVolumeClaim,
      ns,
      pvcName,
      { spec: { resources: { requests: { storage: db.spec.postgres.storage.size } } } },
      MERGE_PATCH,
    );
    ctx.log.info(
      { pvc: pvcName, from: current, to: db.spec.postgres.storage.size },
      'growing the data volume',
    );
  }

  private async deletePooler(db: Db, log: Logger) {
    const ns = db.metadata.namespace!;
    for (const { kind, name } of poolerChildren(db)) {
      const live = this.cached<KubeObject>(kind as keyof typeof Resources, ns, name);
      if (!live || !(live.metadata.ownerReferences ?? []).some((r) => r.uid === db.metadata.uid)) continue;
      await this.manager.client.delete(Resources[kind as keyof typeof Resources], ns, name).catch((e) => {
        if (!(e instanceof KubeApiError && e.notFound)) throw e;
      });
      log.info({ kind, name }, 'pooler disabled: deleted');
    }
  }
}

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
};
export function parseQuantity(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q);
  if (!m || UNITS[m[2]!] === undefined) throw new Error(`not a quantity: ${q}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Declares the controller on a manager. */
export function registerHomeOpsDatabaseController(manager: Manager, opts: HomeOpsDatabaseControllerOptions) {
  const reconciler = new HomeOpsDatabaseReconciler(manager, opts);
  const hodbInformer = manager.informer<Db>(Resources.HomeOpsDatabase);
  // Only the pods the operator made are cached (a label selector, not every pod of the cluster);
  // a pod's change (an image that cannot be pulled, a crash loop) wakes its database.
  manager.informer(Resources.Pod, { labelSelector: 'app.kubernetes.io/managed-by=homeops-operator' });
  const controller = manager
    .controller<Db>('homeopsdatabase')
    .for(Resources.HomeOpsDatabase)
    .owns(Resources.ConfigMap)
    .owns(Resources.Service)
    .owns(Resources.StatefulSet)
    .owns(Resources.Deployment)
    .owns(Resources.PodDisruptionBudget)
    .owns(Resources.Secret)
    // A Secret made by the user before its database (or fixed after being refused) maps by name.
    .watches(Resources.Secret, (s) => {
      const m = /^(.+)-(superuser|app|replication|pooler-auth)$/.exec(s.metadata.name ?? '');
      return m && hodbInformer.get(s.metadata.namespace, m[1]!)
        ? [keyOf({ metadata: { namespace: s.metadata.namespace, name: m[1]! } })]
        : [];
    })
    .watches(Resources.Pod, (p) => {
      const db = p.metadata.labels?.['homeops.io/database'];
      return db ? [keyOf({ metadata: { namespace: p.metadata.namespace, name: db } })] : [];
    })
    .complete(reconciler);
  // growVolume reads the data PVC from the cache; PVC events need not wake the controller.
  manager.informer(Resources.PersistentVolumeClaim);
  return { reconciler, controller };
}
