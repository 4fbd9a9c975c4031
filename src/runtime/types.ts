/** The API resources the operator reads and writes, and the shape of the objects. */

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
  ServiceAccount: t('v1', 'ServiceAccount', 'serviceaccounts'),
  Role: t('rbac.authorization.k8s.io/v1', 'Role', 'roles'),
  RoleBinding: t('rbac.authorization.k8s.io/v1', 'RoleBinding', 'rolebindings'),
  Lease: t('coordination.k8s.io/v1', 'Lease', 'leases'),
  Event: t('events.k8s.io/v1', 'Event', 'events'),
} as const satisfies Record<string, ResourceType>;

export function resourceOf(apiVersion: string, kind: string): ResourceType {
  const found = Object.values(Resources).find((r) => r.apiVersion === apiVersion && r.kind === kind);
  if (!found) throw new Error(`unknown resource ${apiVersion} ${kind}: add it to src/runtime/types.ts`);
  return found;
}

/** A Kubernetes object as the operator reads and writes it: plain JSON, typed loosely. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    finalizers?: string[];
    deletionTimestamp?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}

export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectList<T> {
  items: T[];
  metadata: { resourceVersion?: string; continue?: string };
}

/** Where a kind lives in the API. */
export interface ResourceType {
  apiVersion: string;
  kind: string;
  plural: string;
  namespaced: boolean;
}

/** The path of a collection (name undefined) or of one object, optionally a subresource. */
export function resourcePath(
  type: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = type.namespaced && namespace ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const obj = name ? `/${encodeURIComponent(name)}` : '';
  const sub = subresource ? `/${subresource}` : '';
  return `${base}${ns}/${type.plural}${obj}${sub}`;
}
