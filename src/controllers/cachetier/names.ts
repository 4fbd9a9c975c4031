/** Names and labels of a CacheTier's children: one place, so builders and reconcile agree. */
import type { CacheTier } from '../../api/v1alpha1/index.ts';
import { OWNER_LABEL, ROLE_LABEL } from '../../common/labels.ts';
import { MANAGED_BY } from '../../runtime/types.ts';

export const REDIS_PORT = 6379;
export const REDIS_UID = 999;
export const CONFIG_DIR = '/etc/redis';
export const RUN_DIR = '/run/redis';
export const DATA_DIR = '/data';
export const AUTH_DIR = '/etc/homeops/secrets/redis';
export const OPERATOR_AUTH_DIR = '/etc/homeops/secrets/operator';
/** The operator's own ACL user: INFO, CONFIG, ACL SETUSER, REPLICAOF and FAILOVER only, no key access. */
export const OPERATOR_USER = 'homeops-operator';

/** Member `i`'s pod of the tier named `tier` (the StatefulSet's `NAME-redis`, ordinal i). */
export const memberPodName = (tier: string, i: number) => `${tier}-redis-${i}`;

export function tierNames(t: CacheTier) {
  const n = t.metadata.name!;
  return {
    /** The writer's Service: NAME, as the guide's clients expect. */
    service: n,
    /** mode replicated: the replicas linked to the writer. */
    readService: `${n}-ro`,
    statefulSet: `${n}-redis`,
    headlessService: `${n}-redis-hl`,
    config: `${n}-redis-config`,
    pdb: `${n}-redis`,
    ttl: `${n}-ttl`,
    /** The Secret with the password: the user's (auth.secretRef) or the generated one. */
    authSecret: t.spec.auth.secretRef?.name ?? `${n}-redis-auth`,
    /** The operator's own ACL user's password: it manages Redis while the user's rotates. */
    operatorSecret: `${n}-redis-operator`,
    pod: (i: number) => memberPodName(n, i),
  };
}

export function tierLabels(t: CacheTier, component: 'redis' | 'config' | 'secret') {
  return {
    'app.kubernetes.io/name': 'redis',
    'app.kubernetes.io/instance': t.metadata.name!,
    'app.kubernetes.io/component': component,
    ...MANAGED_BY,
    [OWNER_LABEL.CacheTier]: t.metadata.name!,
  };
}

/**
 * mode replicated: the role label the operator sets on each member from what INFO says and
 * whom it elected. The writer Service selects `writer`, NAME-ro selects `replica` (linked to the
 * writer); a pod made from the template has none until the operator has seen it.
 */
export const REDIS_ROLE_LABEL = 'homeops.io/redis-role';
export type RoleLabel = 'writer' | 'replica';

export const tierSelector = (t: CacheTier) => ({
  [OWNER_LABEL.CacheTier]: t.metadata.name!,
  [ROLE_LABEL]: 'redis',
});
