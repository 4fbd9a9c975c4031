/**
 * What the jobs controller sees of a database's Jobs and CronJobs, from the caches: each Job
 * with the summary its last pod left in its termination message. No writes.
 */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { ownerName } from '../../common/labels.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { JOB_LABEL, SCHEDULE_LABEL } from './names.ts';
import { cronJobName, type Schedule } from './schedules.ts';
import type { CronJobView, RunView } from './schedulestatus.ts';
import { type JobView, parseSummary } from './status.ts';

export type Db = HomeOpsDatabase & KubeObject;
export type Job = KubeObject & {
  status?: {
    active?: number;
    startTime?: string;
    completionTime?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
};
export type CronJob = KubeObject & { status?: { lastScheduleTime?: string; lastSuccessfulTime?: string } };
export type Pod = KubeObject & {
  status?: {
    containerStatuses?: {
      name: string;
      state?: { terminated?: { message?: string; finishedAt?: string } };
    }[];
  };
};

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

/** A Job's pods, from the cache's owner index (none for a Job not cached yet). */
export function podsOf(ctx: ReconcileContext, job: Job): Pod[] {
  return job.metadata.uid ? ctx.cache.owned<Pod>(Resources.Pod, job.metadata.uid) : [];
}

/** The database's runs: Jobs of its CronJobs, and those it owns (asked for by annotation). */
export function observeRuns(db: Db, ctx: ReconcileContext): RunView[] {
  return [db, ...ctx.cache.owned<KubeObject>(Resources.CronJob, db.metadata.uid!)]
    .flatMap((owner) => ctx.cache.owned<Job>(Resources.Job, owner.metadata.uid!))
    .filter(
      (j) => ownerName('HomeOpsDatabase', j) === db.metadata.name && j.metadata.labels?.[SCHEDULE_LABEL],
    )
    .map((j) => ({
      ...jobView(j, podsOf(ctx, j)),
      schedule: j.metadata.labels![SCHEDULE_LABEL]!,
      kind: j.metadata.labels![JOB_LABEL] ?? '',
      ...(j.metadata.creationTimestamp ? { created: String(j.metadata.creationTimestamp) } : {}),
    }));
}

/** The schedules' CronJobs that exist, by schedule id, with their last times. */
export function observeCronJobs(db: Db, ctx: ReconcileContext, wanted: Schedule[]): Map<string, CronJobView> {
  const out = new Map<string, CronJobView>();
  for (const s of wanted) {
    const cj = ctx.cache.get<CronJob>(Resources.CronJob, db.metadata.namespace, cronJobName(db, s.id));
    if (!cj) continue;
    const { lastScheduleTime, lastSuccessfulTime } = cj.status ?? {};
    out.set(s.id, {
      name: cj.metadata.name!,
      ...(lastScheduleTime ? { lastScheduleTime } : {}),
      ...(lastSuccessfulTime ? { lastSuccessfulTime } : {}),
    });
  }
  return out;
}
