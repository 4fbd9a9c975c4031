/**
 * The jobs controller of HomeOpsDatabase: the Jobs that run `homeops-operator job ...` in the
 * operator's image against a database, and their results in its status, written by a second
 * field manager (homeops-operator-jobs) beside the health the database controller writes.
 * First: the migrations, once the database is Ready and again whenever their inputs change.
 */
import { createHash } from 'node:crypto';
import {
  type HomeOpsDatabase,
  type HomeOpsDatabaseStatus,
  homeOpsDatabase,
} from '../../api/v1alpha1/index.ts';
import { BUILTIN_DIR, loadMigrationSet } from '../../jobs/migrate.ts';
import { KubeApiError, type KubeObject, MERGE_PATCH } from '../../runtime/client.ts';
import { keyOf, type ReconcileContext, type Reconciler } from '../../runtime/controller.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter } from '../../runtime/result.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, MANAGED_SELECTOR, Resources } from '../../runtime/types.ts';
import { buildMigrationJob, type ConfigMapData, migrationInputs } from './builders.ts';
import { HASH_LABEL, JOB_LABEL, JOBS_FIELD_MANAGER, jobName } from './names.ts';
import { type JobView, type MigrationObservation, migrationStatus, parseSummary } from './status.ts';

export interface DatabaseJobsControllerOptions {
  /** The operator's own image: the Jobs run its `job` command. */
  operatorImage: string;
  /** The builtin migration set's digest (default: read from sql/builtin). */
  builtinDigest?: string;
}

type Db = HomeOpsDatabase & KubeObject;
type Job = KubeObject & {
  status?: {
    active?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};
type Pod = KubeObject & {
  status?: {
    containerStatuses?: {
      name: string;
      state?: { terminated?: { message?: string; finishedAt?: string } };
    }[];
  };
};

/** The digest of the builtin set shipped with this operator (its files' checksums). */
export function builtinDigest(): string {
  const set = loadMigrationSet(BUILTIN_DIR, 'builtin');
  return createHash('sha256')
    .update(set.map((m) => `${m.version}:${m.checksum}`).join('\n'))
    .digest('hex');
}

const isTrue = (j: Job, type: string) =>
  j.status?.conditions?.some((c) => c.type === type && c.status === 'True');

/** A Job and the termination message of its last finished pod. */
export function jobView(job: Job, pods: Pod[]): JobView {
  const failed = job.status?.conditions?.find((c) => c.type === 'Failed' && c.status === 'True');
  const finished = pods
    .flatMap((p) => p.status?.containerStatuses ?? [])
    .map((c) => c.state?.terminated)
    .filter((t) => t?.message)
    .sort((a, b) => Date.parse(b!.finishedAt ?? '') - Date.parse(a!.finishedAt ?? ''));
  const summary = parseSummary(finished[0]?.message);
  const succeeded = !!isTrue(job, 'Complete');
  return {
    name: job.metadata.name!,
    succeeded,
    failed: !!failed,
    running: !succeeded && !failed,
    ...(failed ? { failure: { reason: failed.reason ?? 'Failed', message: failed.message ?? '' } } : {}),
    ...(job.status?.startTime ? { startTime: job.status.startTime } : {}),
    ...(job.status?.completionTime ? { completionTime: job.status.completionTime } : {}),
    ...(summary ? { summary } : {}),
  };
}

export class DatabaseJobsReconciler implements Reconciler<Db> {
  private readonly opts: Required<DatabaseJobsControllerOptions>;

  constructor(opts: DatabaseJobsControllerOptions) {
    this.opts = { ...opts, builtinDigest: opts.builtinDigest ?? builtinDigest() };
  }

  /** The steps: the inputs → the migration Job (made, or observed) → the older ones pruned → status. */
  async reconcile(db: Db, ctx: ReconcileContext) {
    // A database being deleted gets no new Job; its Jobs go with it (owner references).
    if (db.metadata.deletionTimestamp) return undefined;
    const writer = ctx.writer.as(JOBS_FIELD_MANAGER);
    const ns = db.metadata.namespace!;
    const o: MigrationObservation = {
      databaseReady: !!db.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
    };
    const data = await this.configMaps(db, ctx);
    const inputs = migrationInputs(db, (name) => data.get(name), this.opts.builtinDigest);
    if ('missing' in inputs) o.missing = inputs.missing;
    else {
      const name = jobName(db, 'migrate', inputs.hash);
      let job = ctx.cache.get<Job>(Resources.Job, ns, name);
      if (!job && o.databaseReady) {
        const desired = buildMigrationJob(db, inputs.hash, inputs.summary, this.opts.operatorImage);
        await writer.applyChild(Resources.Job, desired, undefined);
        job = desired as Job;
        ctx.log.info({ job: name, inputs: inputs.summary }, 'migration Job made');
      }
      if (job) {
        o.job = jobView(job, this.podsOf(ctx, ns, name));
        // One migration Job per database: those of older inputs go (their pods with them).
        for (const old of ctx.cache.list<Job>(Resources.Job, ns))
          if (
            old.metadata.labels?.['homeops.io/database'] === db.metadata.name &&
            old.metadata.labels?.[JOB_LABEL] === 'migrate' &&
            old.metadata.labels?.[HASH_LABEL] !== inputs.hash &&
            !old.metadata.deletionTimestamp
          )
            await ctx.client.delete(Resources.Job, ns, old.metadata.name!).catch((e) => {
              if (!(e instanceof KubeApiError && e.notFound)) throw e;
            });
      }
    }
    const status = migrationStatus(db, o, (db.status ?? {}) as HomeOpsDatabaseStatus);
    await writer.applyStatus(Resources.HomeOpsDatabase, db, status as Record<string, unknown>);
    return o.missing ? requeueAfter(60_000) : undefined;
  }

  private podsOf(ctx: ReconcileContext, ns: string, job: string): Pod[] {
    return ctx.cache
      .list<Pod>(Resources.Pod, ns)
      .filter((p) => p.metadata.labels?.['batch.kubernetes.io/job-name'] === job);
  }

  /**
   * The listed ConfigMaps' data. A user's ConfigMap gets the operator's label (not an owner:
   * deleting the database leaves it), so that the label-scoped cache holds it and its change
   * brings the database back; until then it is read directly.
   */
  private async configMaps(db: Db, ctx: ReconcileContext): Promise<Map<string, ConfigMapData>> {
    const ns = db.metadata.namespace!;
    const out = new Map<string, ConfigMapData>();
    for (const { name } of db.spec.migrations.configMaps) {
      let cm = ctx.cache.get<KubeObject & { data?: ConfigMapData }>(Resources.ConfigMap, ns, name);
      if (!cm) {
        cm = await ctx.client
          .get<KubeObject & { data?: ConfigMapData }>(Resources.ConfigMap, ns, name)
          .catch((e) => {
            if (e instanceof KubeApiError && e.notFound) return undefined;
            throw e;
          });
        if (cm && cm.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY[MANAGED_BY_LABEL])
          await ctx.client.patch(
            Resources.ConfigMap,
            ns,
            name,
            { metadata: { labels: MANAGED_BY } },
            MERGE_PATCH,
          );
      }
      if (cm) out.set(name, cm.data ?? {});
    }
    return out;
  }
}

const jobReads = (j: KubeObject) =>
  ((j as Job).status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(',') +
  `/${(j as Job).status?.active ?? 0}`;

/** Declares the jobs controller: a second controller of HomeOpsDatabase, with its own queue. */
export function registerDatabaseJobsController(manager: Manager, opts: DatabaseJobsControllerOptions) {
  const reconciler = new DatabaseJobsReconciler(opts);
  for (const type of [Resources.Job, Resources.Pod, Resources.ConfigMap])
    manager.informer(type, { labelSelector: MANAGED_SELECTOR });
  // The database's own status wakes this controller only when its readiness flips.
  const ready = new Map<string, boolean>();
  const controller = manager
    .controller<Db>('homeopsdatabase-jobs')
    .for(Resources.HomeOpsDatabase, { schema: homeOpsDatabase })
    .owns(Resources.Job, { reads: jobReads })
    .watches(Resources.HomeOpsDatabase, (db) => {
      const key = keyOf(db);
      const now = !!(db.status as HomeOpsDatabaseStatus | undefined)?.conditions?.some(
        (c) => c.type === 'Ready' && c.status === 'True',
      );
      if (ready.get(key) === now) return [];
      ready.set(key, now);
      return [key];
    })
    .watches(Resources.Pod, (p) => {
      const db = p.metadata.labels?.['homeops.io/database'];
      return db && p.metadata.labels?.[JOB_LABEL]
        ? [keyOf({ metadata: { namespace: p.metadata.namespace, name: db } })]
        : [];
    })
    .watches(Resources.ConfigMap, (cm) =>
      manager.cache
        .list<Db>(Resources.HomeOpsDatabase, cm.metadata.namespace)
        .filter((db) => db.spec?.migrations?.configMaps?.some((r) => r.name === cm.metadata.name))
        .map(keyOf),
    )
    .complete(reconciler);
  return { reconciler, controller };
}
