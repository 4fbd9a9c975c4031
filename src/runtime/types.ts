/** The API resources the operator reads and writes. */
import type { ResourceType } from './client.ts';

const t = (apiVersion: string, kind: string, plural: string, namespaced = true): ResourceType => ({
  apiVersion,
  kind,
  plural,
  namespaced,
});

/** The label on everything the operator makes or adopts; its caches select on it. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY = { [MANAGED_BY_LABEL]: 'homeops-operator' } as const;
export const MANAGED_SELECTOR = `${MANAGED_BY_LABEL}=${MANAGED_BY[MANAGED_BY_LABEL]}`;

export const Resources = {
  HomeOpsDatabase: t('homeops.io/v1alpha1', 'HomeOpsDatabase', 'homeopsdatabases'),
  CacheTier: t('homeops.io/v1alpha1', 'CacheTier', 'cachetiers'),
  ReplicaSet: t('homeops.io/v1alpha1', 'ReplicaSet', 'replicasets'),
  ConfigMap: t('v1', 'ConfigMap', 'configmaps'),
  Secret: t('v1', 'Secret', 'secrets'),
  Service: t('v1', 'Service', 'services'),
  Pod: t('v1', 'Pod', 'pods'),
  PersistentVolumeClaim: t('v1', 'PersistentVolumeClaim', 'persistentvolumeclaims'),
  Namespace: t('v1', 'Namespace', 'namespaces', false),
  StatefulSet: t('apps/v1', 'StatefulSet', 'statefulsets'),
  Deployment: t('apps/v1', 'Deployment', 'deployments'),
  Job: t('batch/v1', 'Job', 'jobs'),
  CronJob: t('batch/v1', 'CronJob', 'cronjobs'),
  PodDisruptionBudget: t('policy/v1', 'PodDisruptionBudget', 'poddisruptionbudgets'),
  Lease: t('coordination.k8s.io/v1', 'Lease', 'leases'),
  Event: t('events.k8s.io/v1', 'Event', 'events'),
} as const satisfies Record<string, ResourceType>;

export function resourceOf(apiVersion: string, kind: string): ResourceType {
  const found = Object.values(Resources).find((r) => r.apiVersion === apiVersion && r.kind === kind);
  if (!found) throw new Error(`unknown resource ${apiVersion} ${kind}: add it to src/runtime/types.ts`);
  return found;
}
