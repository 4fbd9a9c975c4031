/** What Kubernetes shows of a database's primary and pooler, from the caches. No writes. */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { type PodLike, podProblem } from '../../common/pods.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { dbNames } from './names.ts';
import type { Observation } from './status.ts';

export type ClusterView = Pick<Observation, 'primaryPodReady' | 'podIssue' | 'poolerReadyInstances'> & {
  /** The digest of the postgresql.conf the operator wrote (DIGEST_SETTING), for the reload. */
  configDigest?: string;
};
export type Measured = Pick<
  Observation,
  'primary' | 'primaryError' | 'pooler' | 'poolerError' | 'config' | 'extensions'
>;

/** What Kubernetes reports of the primary and the pooler, from the cache. */
export function observeCluster(db: HomeOpsDatabase, ctx: ReconcileContext): ClusterView {
  const ns = db.metadata.namespace!;
  const n = dbNames(db);
  const ready = (kind: 'StatefulSet' | 'Deployment', name: string) =>
    ctx.cache.get<KubeObject & { status?: { readyReplicas?: number } }>(Resources[kind], ns, name)?.status
      ?.readyReplicas ?? 0;
  const pod = ctx.cache.get<KubeObject & PodLike>(Resources.Pod, ns, n.pod);
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
