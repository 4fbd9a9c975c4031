import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
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
