/**
 * The jobs controller of HomeOpsDatabase: the Jobs that run `homeops-operator job ...` in the
 * operator's image against a database, and their results in its status, written by a second
 * field manager (homeops-operator-jobs) beside the health the database controller writes.
 *
 * One reconcile: migrations (migrations.ts) → the schedules' CronJobs (schedules.ts) → a run
 * asked for by annotation (runs.ts) → the runs observed (observe.ts) → status (status.ts,
 * schedulestatus.ts), one write of this writer's part.
 */
import type { Registry } from 'prom-client';
import { type HomeOpsDatabaseStatus, homeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { childrenOf, ownerName } from '../../common/labels.ts';
import { applyChildren } from '../../runtime/children.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import { keyOf, type ReconcileContext, type Reconciler } from '../../runtime/controller.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter } from '../../runtime/result.ts';
import { Resources } from '../../runtime/types.ts';
import { backupStatus } from './backupstatus.ts';
import { BackupMetrics, BenchmarkMetrics } from './metrics.ts';
import { builtinDigest, migrations } from './migrations.ts';
import { BASELINE_ANNOTATION, JOB_LABEL, JOBS_FIELD_MANAGER } from './names.ts';
import { type CronJob, type Db, observeCronJobs, observeRuns } from './observe.ts';
import { firstBackup, removeAnnotation, runNow } from './runs.ts';
import { BACKUP_TYPES, buildCronJob, cronJobName, schedules } from './schedules.ts';
import { schedulesStatus } from './schedulestatus.ts';
import { jobsStatus } from './status.ts';

export interface DatabaseJobsControllerOptions {
  /** The operator's own image: the Jobs run its `job` command. */
  operatorImage: string;
  /** The builtin migration set's digest (default: read from sql/builtin). */
  builtinDigest?: string;
}

/** BenchmarkRegression is the alarm when True: its flip to True is a Warning Event. */
const POLARITY = {
  ...DEFAULT_POLARITY,
  abnormalTrue: new Set([...DEFAULT_POLARITY.abnormalTrue, 'BenchmarkRegression']),
};
export class DatabaseJobsReconciler implements Reconciler<Db> {
  private readonly opts: Required<DatabaseJobsControllerOptions>;
  private readonly metrics: BenchmarkMetrics;
  private readonly backupMetrics: BackupMetrics;
  /** Whether each database was last seen Ready (its status flips wake this controller). */
  readonly readiness = new Map<string, boolean>();

  constructor(registry: Registry, opts: DatabaseJobsControllerOptions) {
    this.opts = { ...opts, builtinDigest: opts.builtinDigest ?? builtinDigest() };
    this.metrics = new BenchmarkMetrics(registry);
    this.backupMetrics = new BackupMetrics(registry);
  }

  /**
   * The steps: migrations (inputs → Job → older ones pruned) → the schedules' CronJobs → a run
   * asked for by annotation → the runs observed → status (one write, this writer's part).
   */
  async reconcile(db: Db, ctx: ReconcileContext) {
    // A database being deleted gets no new Job; its Jobs and CronJobs go with it (owner references).
    if (db.metadata.deletionTimestamp) {
      this.forget({ namespace: db.metadata.namespace, name: db.metadata.name! });
      return undefined;
    }
    const writer = ctx.writer.as(JOBS_FIELD_MANAGER);
    const jctx = { ...ctx, writer };
    const ns = db.metadata.namespace!;
    const ready = !!db.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const migration = await migrations(db, jctx, ready, this.opts);
    const wanted = schedules(db);
    await applyChildren(
      jctx,
      db,
      // A CronJob is made once the database is Ready (one apply, not a suspended one first);
      // one that exists is suspended while it is not.
      wanted
        .filter((s) => ready || ctx.cache.get(Resources.CronJob, ns, cronJobName(db, s.id)))
        .map((s) => buildCronJob(db, s, this.opts.operatorImage, !ready)),
      { prune: [Resources.CronJob], selector: childrenOf('HomeOpsDatabase', db) },
    );
    const ran = await runNow(db, jctx, wanted, ready, this.opts.operatorImage);
    const runs = observeRuns(db, ctx);
    const prev = (db.status ?? {}) as HomeOpsDatabaseStatus;
    // Its Job's event brings the database back, with the run in the cache.
    if (ready) await firstBackup(db, jctx, runs, prev, this.opts.operatorImage);
    const pin = db.metadata.annotations?.[BASELINE_ANNOTATION] === 'latest';
    const cronJobs = observeCronJobs(db, ctx, wanted);
    const scheduled = schedulesStatus(
      db,
      {
        schedules: wanted.map((s) => ({
          id: s.id,
          kind: s.kind,
          schedule: s.schedule,
          cronJob: cronJobName(db, s.id),
        })),
        suspended: !ready,
        cronJobs,
        runs,
        pinBaseline: pin,
      },
      prev,
    );
    const status = jobsStatus(db, [migration.status, scheduled, backupStatus(db, runs, prev)], prev);
    // Before the database is first Ready this writer has nothing to tell that Ready=False does
    // not (migrations wait for it, schedules are not made): it writes from then on, or at once
    // for a problem of its own (a migration ConfigMap missing).
    const nothingYet =
      !ready && !migration.missing && !runs.length && Object.keys(writer.ownStatus(db)).length === 0;
    if (!nothingYet) await writer.applyStatus(Resources.HomeOpsDatabase, db, status, POLARITY);
    if (scheduled.benchmarks) this.metrics.set(ns, db.metadata.name!, scheduled.benchmarks);
    if (db.spec.backup) {
      const backupRuns = BACKUP_TYPES.map((t) => cronJobs.get(`backup-${t}`)?.lastScheduleTime);
      this.backupMetrics.set(
        ns,
        db.metadata.name!,
        status.backup as HomeOpsDatabaseStatus['backup'],
        backupRuns.filter((t): t is string => !!t),
      );
    } else this.backupMetrics.forget(ns, db.metadata.name!);
    // The pin is taken: the annotation goes (an annotation is an instruction, run once).
    if (pin && scheduled.benchmarks?.baseline?.pinned) await removeAnnotation(db, ctx, BASELINE_ANNOTATION);
    return migration.missing || ran === 'waiting' ? requeueAfter(60_000) : undefined;
  }

  /** The database is gone from the cache: its benchmark series and readiness go too. */
  forget({ namespace, name }: { namespace: string | undefined; name: string }) {
    this.metrics.forget(namespace!, name);
    this.backupMetrics.forget(namespace!, name);
    this.readiness.delete(keyOf({ metadata: { namespace, name } }));
  }
}

/** Declares the jobs controller: a second controller of HomeOpsDatabase, with its own queue. */
export function registerDatabaseJobsController(manager: Manager, opts: DatabaseJobsControllerOptions) {
  const reconciler = new DatabaseJobsReconciler(manager.metrics.registry, opts);
  // The database's own status wakes this controller only when its readiness flips.
  const ready = reconciler.readiness;
  const controller = manager
    .controller<Db>('homeopsdatabase-jobs')
    .for(Resources.HomeOpsDatabase, { schema: homeOpsDatabase })
    .caches(Resources.Job, Resources.Pod, Resources.ConfigMap)
    .owns(Resources.CronJob, {
      reads: (c) => [(c as CronJob).status?.lastScheduleTime, (c as CronJob).status?.lastSuccessfulTime],
    })
    // A CronJob's Jobs are the CronJob's, not the database's: mapped by their label.
    .watches(Resources.Job, (j) => {
      const db = ownerName('HomeOpsDatabase', j);
      return db &&
        j.metadata.labels?.[JOB_LABEL] &&
        ready.has(keyOf({ metadata: { namespace: j.metadata.namespace, name: db } }))
        ? [keyOf({ metadata: { namespace: j.metadata.namespace, name: db } })]
        : [];
    })
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
      const db = ownerName('HomeOpsDatabase', p);
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
