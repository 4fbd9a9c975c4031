/**
 * The jobs controller of HomeOpsDatabase: the Jobs that run `homeops-operator job ...` in the
 * operator's image against a database, and their results in its status, written by a second
 * field manager (homeops-operator-jobs) beside the health the database controller writes.
 * First: the migrations, once the database is Ready and again whenever their inputs change.
 */
import { createHash } from 'node:crypto';
import { Gauge, type Registry } from 'prom-client';
import {
  type HomeOpsDatabase,
  type HomeOpsDatabaseStatus,
  homeOpsDatabase,
} from '../../api/v1alpha1/index.ts';
import { BUILTIN_DIR, loadMigrationSet } from '../../jobs/migrate.ts';
import { adoptByLabel } from '../../runtime/adopt.ts';
import { applyChildren } from '../../runtime/children.ts';
import { MERGE_PATCH } from '../../runtime/client.ts';
import { DEFAULT_POLARITY } from '../../runtime/conditions.ts';
import { keyOf, type ReconcileContext, type Reconciler } from '../../runtime/controller.ts';
import { KubeApiError } from '../../runtime/errors.ts';
import type { Manager } from '../../runtime/manager.ts';
import { requeueAfter } from '../../runtime/result.ts';
import { type KubeObject, MANAGED_BY, MANAGED_SELECTOR, Resources } from '../../runtime/types.ts';
import {
  benchArgs,
  buildCronJob,
  buildMigrationJob,
  buildRunJob,
  type ConfigMapData,
  cronJobName,
  migrationInputs,
  type Schedule,
  schedules,
} from './builders.ts';
import {
  BASELINE_ANNOTATION,
  HASH_LABEL,
  JOB_LABEL,
  JOBS_FIELD_MANAGER,
  jobName,
  RUN_ANNOTATION,
  SCHEDULE_LABEL,
} from './names.ts';
import {
  type JobView,
  jobsStatus,
  type MigrationObservation,
  migrationStatus,
  parseSummary,
  schedulesStatus,
} from './status.ts';

export interface DatabaseJobsControllerOptions {
  /** The operator's own image: the Jobs run its `job` command. */
  operatorImage: string;
  /** The builtin migration set's digest (default: read from sql/builtin). */
  builtinDigest?: string;
}

type Db = HomeOpsDatabase & KubeObject;
/** BenchmarkRegression is the alarm when True: its flip to True is a Warning Event. */
const POLARITY = {
  ...DEFAULT_POLARITY,
  abnormalTrue: new Set([...DEFAULT_POLARITY.abnormalTrue, 'BenchmarkRegression']),
};
type Job = KubeObject & {
  status?: {
    active?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};
type CronJob = KubeObject & { status?: { lastScheduleTime?: string; lastSuccessfulTime?: string } };
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
  private readonly metrics: BenchmarkMetrics;

  constructor(registry: Registry, opts: DatabaseJobsControllerOptions) {
    this.opts = { ...opts, builtinDigest: opts.builtinDigest ?? builtinDigest() };
    this.metrics = new BenchmarkMetrics(registry);
  }

  /**
   * The steps: migrations (inputs → Job → older ones pruned) → the schedules' CronJobs → a run
   * asked for by annotation → the runs observed → status (one write, this writer's part).
   */
  async reconcile(db: Db, ctx: ReconcileContext) {
    // A database being deleted gets no new Job; its Jobs and CronJobs go with it (owner references).
    if (db.metadata.deletionTimestamp) {
      this.metrics.forget(db.metadata.namespace!, db.metadata.name!);
      return undefined;
    }
    const writer = ctx.writer.as(JOBS_FIELD_MANAGER);
    const jctx = { ...ctx, writer };
    const ns = db.metadata.namespace!;
    const ready = !!db.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');
    const migration = await this.migrations(db, jctx, ready);
    const wanted = schedules(db);
    await applyChildren(
      jctx,
      db,
      // A CronJob is made once the database is Ready (one apply, not a suspended one first);
      // one that exists is suspended while it is not.
      wanted
        .filter((s) => ready || ctx.cache.get(Resources.CronJob, ns, cronJobName(db, s.id)))
        .map((s) => buildCronJob(db, s, this.opts.operatorImage, !ready)),
      { prune: [Resources.CronJob], selector: { 'homeops.io/database': db.metadata.name!, ...MANAGED_BY } },
    );
    const ran = await this.runNow(db, jctx, wanted, ready);
    // The database's runs: Jobs of its CronJobs, and those it owns (asked for by annotation).
    const runs = [db, ...ctx.cache.owned<KubeObject>(Resources.CronJob, db.metadata.uid!)]
      .flatMap((owner) => ctx.cache.owned<Job>(Resources.Job, owner.metadata.uid!))
      .filter(
        (j) =>
          j.metadata.labels?.['homeops.io/database'] === db.metadata.name &&
          j.metadata.labels?.[SCHEDULE_LABEL],
      )
      .map((j) => ({
        ...jobView(j, this.podsOf(ctx, j)),
        schedule: j.metadata.labels![SCHEDULE_LABEL]!,
        kind: j.metadata.labels![JOB_LABEL] ?? '',
        ...(j.metadata.creationTimestamp ? { created: String(j.metadata.creationTimestamp) } : {}),
      }));
    const pin = db.metadata.annotations?.[BASELINE_ANNOTATION] === 'latest';
    const prev = (db.status ?? {}) as HomeOpsDatabaseStatus;
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
        cronJobs: new Map(
          wanted.flatMap((s) => {
            const cj = ctx.cache.get<CronJob>(Resources.CronJob, ns, cronJobName(db, s.id));
            return cj
              ? [
                  [
                    s.id,
                    {
                      name: cj.metadata.name!,
                      ...(cj.status?.lastScheduleTime
                        ? { lastScheduleTime: cj.status.lastScheduleTime }
                        : {}),
                      ...(cj.status?.lastSuccessfulTime
                        ? { lastSuccessfulTime: cj.status.lastSuccessfulTime }
                        : {}),
                    },
                  ] as const,
                ]
              : [];
          }),
        ),
        runs,
        pinBaseline: pin,
      },
      prev,
    );
    const status = jobsStatus(db, [migration.status, scheduled], prev);
    // Before the database is first Ready this writer has nothing to tell that Ready=False does
    // not (migrations wait for it, schedules are not made): it writes from then on, or at once
    // for a problem of its own (a migration ConfigMap missing).
    const nothingYet =
      !ready && !migration.missing && !runs.length && Object.keys(writer.ownStatus(db)).length === 0;
    if (!nothingYet) await writer.applyStatus(Resources.HomeOpsDatabase, db, status, POLARITY);
    if (scheduled.benchmarks) this.metrics.set(ns, db.metadata.name!, scheduled.benchmarks);
    // The pin is taken: the annotation goes (an annotation is an instruction, run once).
    if (pin && scheduled.benchmarks?.baseline?.pinned)
      await this.removeAnnotation(db, ctx, BASELINE_ANNOTATION);
    return migration.missing || ran === 'waiting' ? requeueAfter(60_000) : undefined;
  }

  /** The migration Job of the current inputs (made once the database is Ready), older ones pruned. */
  private async migrations(db: Db, ctx: ReconcileContext, ready: boolean) {
    const ns = db.metadata.namespace!;
    const o: MigrationObservation = { databaseReady: ready };
    const data = await this.configMaps(db, ctx);
    const inputs = migrationInputs(db, (name) => data.get(name), this.opts.builtinDigest);
    if ('missing' in inputs) o.missing = inputs.missing;
    else {
      const name = jobName(db, 'migrate', inputs.hash);
      let job = ctx.cache.get<Job>(Resources.Job, ns, name);
      if (!job && ready) {
        const desired = buildMigrationJob(db, inputs.hash, inputs.summary, this.opts.operatorImage);
        await ctx.writer.applyChild(Resources.Job, desired, undefined);
        job = desired as Job;
        ctx.log.info({ job: name, inputs: inputs.summary }, 'migration Job made');
      }
      if (job) {
        o.job = jobView(job, this.podsOf(ctx, job));
        // One migration Job per database: those of older inputs go (their pods with them).
        for (const old of ctx.cache.owned<Job>(Resources.Job, db.metadata.uid!))
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
    return { status: migrationStatus(o, (db.status ?? {}) as HomeOpsDatabaseStatus), missing: !!o.missing };
  }

  /**
   * `homeops.io/run: rollover|refresh|maintain|bench`: one Job now from the schedule's
   * template (benchmarks also without a schedule), then the annotation is removed so it runs
   * once. Waits (annotation kept) while the database is not Ready; an unknown value is named in
   * a Warning Event and removed.
   */
  private async runNow(db: Db, ctx: ReconcileContext, wanted: Schedule[], ready: boolean) {
    const value = db.metadata.annotations?.[RUN_ANNOTATION];
    if (!value) return 'none';
    const bench: Schedule = {
      id: 'bench',
      kind: 'bench',
      schedule: '',
      args: benchArgs(db),
      viaPooler: true,
    };
    const matching = [...wanted, ...(wanted.some((s) => s.kind === 'bench') ? [] : [bench])].filter(
      (s) => s.kind === value || s.id === value,
    );
    if (!matching.length) {
      await ctx.writer.event(db, {
        type: 'Warning',
        reason: 'UnknownRun',
        note: `${RUN_ANNOTATION}: "${value}" names no job of this database: one of ${[...new Set([...wanted.map((s) => s.id), 'bench'])].join(', ')}`,
        action: 'Run',
      });
      await this.removeAnnotation(db, ctx, RUN_ANNOTATION);
      return 'none';
    }
    if (!ready) return 'waiting';
    // Named by the object version that carries the annotation: a second reconcile that sees the
    // same version (the removal not yet in the cache) makes the same Job, not a second run.
    const suffix = createHash('sha256')
      .update(`${value}/${db.metadata.resourceVersion}`)
      .digest('hex')
      .slice(0, 8);
    for (const s of matching) {
      const job = buildRunJob(db, s, this.opts.operatorImage, suffix);
      await ctx.writer.applyChild(Resources.Job, job, undefined);
      await ctx.writer.event(db, {
        type: 'Normal',
        reason: 'RunStarted',
        note: `${RUN_ANNOTATION}: ${value}: Job ${job.metadata.name}`,
        action: 'Run',
      });
    }
    await this.removeAnnotation(db, ctx, RUN_ANNOTATION);
    return 'started';
  }

  private async removeAnnotation(db: Db, ctx: ReconcileContext, key: string) {
    await ctx.client.patch(
      Resources.HomeOpsDatabase,
      db.metadata.namespace!,
      db.metadata.name!,
      { metadata: { annotations: { [key]: null } } },
      MERGE_PATCH,
    );
  }

  /** A Job's pods, from the cache's owner index (none for a Job not cached yet). */
  private podsOf(ctx: ReconcileContext, job: Job): Pod[] {
    return job.metadata.uid ? ctx.cache.owned<Pod>(Resources.Pod, job.metadata.uid) : [];
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
      const cm = await adoptByLabel<KubeObject & { data?: ConfigMapData }>(
        ctx,
        Resources.ConfigMap,
        ns,
        name,
      );
      if (cm) out.set(name, cm.data ?? {});
    }
    return out;
  }
}

/** homeops_benchmark_seconds{scenario,quantile} and homeops_benchmark_regression_ratio{scenario}. */
class BenchmarkMetrics {
  private readonly seconds: Gauge<'namespace' | 'name' | 'scenario' | 'quantile'>;
  private readonly ratio: Gauge<'namespace' | 'name' | 'scenario'>;
  private readonly known = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    this.seconds = new Gauge({
      name: 'homeops_benchmark_seconds',
      help: "The last benchmark run's latency quantiles per scenario",
      labelNames: ['namespace', 'name', 'scenario', 'quantile'] as const,
      registers: [registry],
    });
    this.ratio = new Gauge({
      name: 'homeops_benchmark_regression_ratio',
      help: 'p95 of the last run over the baseline p95, per scenario',
      labelNames: ['namespace', 'name', 'scenario'] as const,
      registers: [registry],
    });
  }

  set(namespace: string, name: string, b: NonNullable<HomeOpsDatabaseStatus['benchmarks']>) {
    this.forget(namespace, name);
    const names = new Set<string>();
    for (const s of b.scenarios ?? []) {
      names.add(s.name);
      const q = (quantile: string, ms: number | undefined) =>
        ms !== undefined && this.seconds.set({ namespace, name, scenario: s.name, quantile }, ms / 1000);
      q('0.5', s.p50Ms);
      q('0.95', s.p95Ms);
      q('0.99', s.p99Ms);
      if (s.ratio !== undefined) this.ratio.set({ namespace, name, scenario: s.name }, s.ratio);
    }
    this.known.set(`${namespace}/${name}`, names);
  }

  forget(namespace: string, name: string) {
    for (const scenario of this.known.get(`${namespace}/${name}`) ?? []) {
      for (const quantile of ['0.5', '0.95', '0.99'])
        this.seconds.remove({ namespace, name, scenario, quantile });
      this.ratio.remove({ namespace, name, scenario });
    }
    this.known.delete(`${namespace}/${name}`);
  }
}

/** Declares the jobs controller: a second controller of HomeOpsDatabase, with its own queue. */
export function registerDatabaseJobsController(manager: Manager, opts: DatabaseJobsControllerOptions) {
  const reconciler = new DatabaseJobsReconciler(manager.metrics.registry, opts);
  for (const type of [Resources.Job, Resources.CronJob, Resources.Pod, Resources.ConfigMap])
    manager.informer(type, { labelSelector: MANAGED_SELECTOR });
  // The database's own status wakes this controller only when its readiness flips.
  const ready = new Map<string, boolean>();
  const controller = manager
    .controller<Db>('homeopsdatabase-jobs')
    .for(Resources.HomeOpsDatabase, { schema: homeOpsDatabase })
    .owns(Resources.CronJob, {
      reads: (c) => [(c as CronJob).status?.lastScheduleTime, (c as CronJob).status?.lastSuccessfulTime],
    })
    // A CronJob's Jobs are the CronJob's, not the database's: mapped by their label.
    .watches(Resources.Job, (j) => {
      const db = j.metadata.labels?.['homeops.io/database'];
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
