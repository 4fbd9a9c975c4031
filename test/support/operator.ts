/**
 * A Manager for tests: one namespace, no leader election, no HTTP ports, quiet logs. It runs as
 * the operator's ServiceAccount, bound to the chart's rules only (test/setup/global.ts), so a
 * controller needing a verb the role lacks fails its test.
 */
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { inject } from 'vitest';
import { LEADER_RULES } from '../../src/deploy/rbac.ts';
import type { KubeClient } from '../../src/runtime/client.ts';
import { loadConfig } from '../../src/runtime/config.ts';
import { Manager } from '../../src/runtime/manager.ts';
import { OPERATOR_ACCOUNT, OPERATOR_NAMESPACE } from '../setup/global.ts';
import { apply, eventually } from './kube.ts';

/** The operator's identity in the tests: its ServiceAccount's token. */
export function operatorKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('operatorKubeconfig'));
  return kc;
}

export function testManager(namespace: string, identity: string): Manager {
  const config = {
    ...loadConfig([], {}),
    namespaces: [namespace],
    leaderElect: false,
    metricsPort: 0,
    healthPort: 0,
    identity,
  };
  return new Manager(config, operatorKubeConfig(), pino({ level: 'warn' }));
}

/**
 * Grants the operator's ServiceAccount the leader-election Role in its own namespace, as the
 * chart does, and waits until the authorizer sees it (asked as the admin, so that the operator's
 * user is refused nothing, which test/rbac checks).
 */
export async function grantLeaderElection(kc: KubeConfig, admin: KubeClient): Promise<void> {
  const leader = { name: 'homeops-operator-leader', namespace: OPERATOR_NAMESPACE };
  for (const o of [
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: leader, rules: LEADER_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: leader,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: leader.name },
      subjects: [{ kind: 'ServiceAccount', name: OPERATOR_ACCOUNT, namespace: OPERATOR_NAMESPACE }],
    },
  ])
    await apply(kc, o as never);
  await eventually(
    async () => {
      const review = await admin.request<{ status?: { allowed?: boolean } }>({
        method: 'POST',
        path: '/apis/authorization.k8s.io/v1/subjectaccessreviews',
        body: {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user: `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_ACCOUNT}`,
            groups: [
              'system:serviceaccounts',
              `system:serviceaccounts:${OPERATOR_NAMESPACE}`,
              'system:authenticated',
            ],
            resourceAttributes: {
              namespace: OPERATOR_NAMESPACE,
              verb: 'get',
              group: 'coordination.k8s.io',
              resource: 'leases',
            },
          },
        },
      });
      return review.status?.allowed === true;
    },
    60_000,
    250,
  );
}

/** A config for an operator electing its leader in its own namespace, under `id`. */
export function leaderConfig(namespace: string, id: string) {
  return {
    ...loadConfig(
      [
        `--namespaces=${namespace}`,
        `--leader-election-namespace=${OPERATOR_NAMESPACE}`,
        `--leader-election-id=${id}`,
      ],
      {},
    ),
    metricsPort: 0,
    healthPort: 0,
    identity: id,
  };
}
