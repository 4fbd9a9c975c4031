/**
 * The labels every kind puts on its children, by one convention: `homeops.io/<owner>` names the
 * object a child belongs to (the same key on the child, its pods and in the selectors), and
 * `homeops.io/role` which of the owner's workloads a pod is (its selector's second key).
 *
 * The keys are the ones released: they are in the selectors of StatefulSets already running on
 * users' clusters, which the API server does not let anyone change (`spec.selector` is
 * immutable), so a renamed key would strand every existing StatefulSet. They stay; new kinds
 * follow the same pattern. `test/unit/compat.test.ts` pins them on built objects.
 */
import { keyOf } from '../runtime/controller.ts';
import { type KubeObject, MANAGED_BY } from '../runtime/types.ts';

/** The label naming a child's owner, per owning kind. */
export const OWNER_LABEL = {
  HomeOpsDatabase: 'homeops.io/database',
  ReplicaSet: 'homeops.io/replicaset',
  CacheTier: 'homeops.io/cache',
} as const;
export type OwnerKind = keyof typeof OWNER_LABEL;

/** Which of its owner's workloads a pod is: primary, pooler, replica, redis. */
export const ROLE_LABEL = 'homeops.io/role';

/** The owner label and the managed-by label: what selects all of an object's children. */
export const childrenOf = (kind: OwnerKind, owner: KubeObject) => ({
  [OWNER_LABEL[kind]]: owner.metadata.name!,
  ...MANAGED_BY,
});

/** The name of the `kind` object that `o` belongs to, from its owner label. */
export const ownerName = (kind: OwnerKind, o: KubeObject): string | undefined =>
  o.metadata.labels?.[OWNER_LABEL[kind]];

/** A watch's map: an object with an owner label wakes that owner (same namespace). */
export const toOwner =
  (kind: OwnerKind) =>
  (o: KubeObject): string[] => {
    const name = ownerName(kind, o);
    return name ? [keyOf({ metadata: { namespace: o.metadata.namespace, name } })] : [];
  };

/** `k=v,k=v`, as a label selector string (the scale subresource's, a list call's). */
export const selectorString = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
