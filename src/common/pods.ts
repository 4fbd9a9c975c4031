/** What the kubelet and the scheduler say of a pod, read the same way for every kind; a pod's labels. */
import { type KubeClient, MERGE_PATCH } from '../runtime/client.ts';
import { Resources } from '../runtime/types.ts';

/** Waiting reasons that mean a container will not start by itself soon: named in status. */
const FAILING_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'ErrImageNeverPull',
  'InvalidImageName',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);

export interface PodLike {
  status?: {
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    initContainerStatuses?: ContainerStatusLike[];
    containerStatuses?: ContainerStatusLike[];
  };
}
export interface ContainerStatusLike {
  name: string;
  state?: { waiting?: { reason?: string; message?: string } };
}

/**
 * Why a pod that is not Ready will not become Ready by itself, from what the kubelet and the
 * scheduler wrote in its status: an image that cannot be pulled, a container that keeps
 * crashing, a pod no node can take. Undefined while it is merely starting. Pure.
 */
export function podProblem(pod: PodLike | undefined): { reason: string; message: string } | undefined {
  if (!pod?.status) return undefined;
  for (const c of [...(pod.status.initContainerStatuses ?? []), ...(pod.status.containerStatuses ?? [])]) {
    const w = c.state?.waiting;
    if (w?.reason && FAILING_WAITING.has(w.reason)) {
      return {
        reason: w.reason,
        message: `container ${c.name}: ${w.reason}${w.message ? `: ${w.message}` : ''}`,
      };
    }
  }
  const scheduled = pod.status.conditions?.find((c) => c.type === 'PodScheduled');
  if (scheduled?.status === 'False' && scheduled.reason === 'Unschedulable') {
    return { reason: 'Unschedulable', message: scheduled.message ?? 'no node can run the pod' };
  }
  return undefined;
}

/** The one write the operator makes to a pod it does not own the spec of: a label (null removes it). */
export async function patchPodLabel(
  client: KubeClient,
  namespace: string,
  pod: string,
  key: string,
  value: string | null,
): Promise<void> {
  await client.patch(Resources.Pod, namespace, pod, { metadata: { labels: { [key]: value } } }, MERGE_PATCH);
}
