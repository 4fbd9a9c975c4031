/**
 * What the operator may do in the API, one rule per need, each naming the code that needs it.
 * The chart's ClusterRole (or, with `watchNamespaces`, one Role per namespace) is rendered from
 * `WATCH_RULES`, its leader-election Role from `LEADER_RULES` (`npm run gen:chart`). The tests
 * run every controller under exactly these rules (test/setup/global.ts binds them to the
 * operator's ServiceAccount), and the `rbac` project then fails on any request the API server
 * refused the operator.
 */

import { Document, isMap, isSeq } from 'yaml';

export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

interface Need extends PolicyRule {
  /** Who needs it, for the reader of the rendered role. */
  why: string;
}

const READ = ['get', 'list', 'watch'];
/** Server-side apply is a PATCH that also needs `create` when the object does not exist yet. */
const OWN = [...READ, 'create', 'patch', 'delete'];

const NEEDS: Need[] = [
  {
    why: 'the three kinds: informers; finalizers and the run annotation are patched',
    apiGroups: ['homeops.io'],
    resources: ['homeopsdatabases', 'cachetiers', 'replicasets'],
    verbs: [...READ, 'patch'],
  },
  {
    why: 'status, server-side applied by each writer under its own field manager',
    apiGroups: ['homeops.io'],
    resources: ['homeopsdatabases/status', 'cachetiers/status', 'replicasets/status'],
    verbs: ['get', 'patch'],
  },
  {
    why: 'ownerReferences with blockOwnerDeletion on children (OwnerReferencesPermissionEnforcement)',
    apiGroups: ['homeops.io'],
    resources: ['homeopsdatabases/finalizers', 'cachetiers/finalizers', 'replicasets/finalizers'],
    verbs: ['update'],
  },
  {
    why: 'children applied and pruned (config, Services); user migration ConfigMaps are labelled',
    apiGroups: [''],
    resources: ['configmaps', 'services'],
    verbs: OWN,
  },
  {
    why: 'generated Secrets (never deleted: garbage collection or Retain decides); a user auth Secret is labelled',
    apiGroups: [''],
    resources: ['secrets'],
    verbs: [...READ, 'create', 'patch'],
  },
  {
    why: 'pod readiness and roles; Redis role labels (patch); Redis rolling restarts (delete)',
    apiGroups: [''],
    resources: ['pods'],
    verbs: [...READ, 'patch', 'delete'],
  },
  {
    why: 'data volumes: size observed, grown in place; the backup repository volume is made',
    apiGroups: [''],
    resources: ['persistentvolumeclaims'],
    verbs: [...READ, 'create', 'patch'],
  },
  {
    why: "the backup Jobs' identity: a ServiceAccount, and a Role that lets it exec into its database's primary pod only",
    apiGroups: [''],
    resources: ['serviceaccounts'],
    verbs: OWN,
  },
  {
    why: 'the backup Role and its binding (namespaced; the operator holds what it grants)',
    apiGroups: ['rbac.authorization.k8s.io'],
    resources: ['roles', 'rolebindings'],
    verbs: OWN,
  },
  {
    why: 'granted to the backup Jobs (pgBackRest runs in the postgres container); RBAC lets the operator grant only what it holds',
    apiGroups: [''],
    resources: ['pods/exec'],
    verbs: ['create', 'get'],
  },
  {
    why: 'PostgreSQL, Redis and replica StatefulSets; the PgBouncer Deployment',
    apiGroups: ['apps'],
    resources: ['statefulsets', 'deployments'],
    verbs: OWN,
  },
  {
    why: 'migration, on-demand and scheduled Jobs',
    apiGroups: ['batch'],
    resources: ['jobs', 'cronjobs'],
    verbs: OWN,
  },
  {
    why: 'a PodDisruptionBudget per StatefulSet and pooler',
    apiGroups: ['policy'],
    resources: ['poddisruptionbudgets'],
    verbs: OWN,
  },
  {
    why: 'Events on the resources (condition changes, failovers, regressions)',
    apiGroups: ['events.k8s.io'],
    resources: ['events'],
    verbs: ['create', 'patch'],
  },
];

/** Everything the controllers do in a watched namespace (all of them in cluster-wide mode). */
export const WATCH_RULES: PolicyRule[] = NEEDS.map(({ apiGroups, resources, verbs }) => ({
  apiGroups,
  resources,
  verbs,
}));

/** Leader election, in the operator's own namespace only (src/runtime/leader.ts). */
export const LEADER_RULES: PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
  { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
];

/** The rules with the reason of each as a comment, as the chart's files carry them. */
export function rulesYaml(rules: readonly PolicyRule[], withReasons = true): string {
  const why = new Map(NEEDS.map((n) => [n.resources.join(','), n.why]));
  const doc = new Document(rules);
  if (withReasons && isSeq(doc.contents))
    for (const [i, item] of doc.contents.items.entries())
      if (isMap(item)) item.commentBefore = ` ${why.get(rules[i]!.resources.join(',')) ?? ''}`;
  return doc.toString();
}

/** Whether `rules` allow one request's attributes, as the RBAC authorizer decides it. */
export function allows(
  rules: readonly PolicyRule[],
  req: { verb: string; apiGroup: string; resource: string; subresource?: string },
): boolean {
  const resource = req.subresource ? `${req.resource}/${req.subresource}` : req.resource;
  return rules.some(
    (r) =>
      (r.apiGroups.includes(req.apiGroup) || r.apiGroups.includes('*')) &&
      (r.resources.includes(resource) || r.resources.includes('*')) &&
      (r.verbs.includes(req.verb) || r.verbs.includes('*')),
  );
}
