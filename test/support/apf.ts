/**
 * API Priority and Fairness objects that throttle one ServiceAccount: a priority level of the
 * smallest share (1, nothing lent) that rejects with 429 what it cannot seat, and a FlowSchema
 * that puts every request of the account on it. Used by test/integration/apf.test.ts and
 * bench/throttle.ts.
 */
export const FLOWCONTROL = 'flowcontrol.apiserver.k8s.io/v1';

export function apfObjects(name: string, account: { name: string; namespace: string }) {
  return [
    {
      apiVersion: FLOWCONTROL,
      kind: 'PriorityLevelConfiguration',
      metadata: { name },
      spec: {
        type: 'Limited',
        limited: { nominalConcurrencyShares: 1, lendablePercent: 0, limitResponse: { type: 'Reject' } },
      },
    },
    {
      apiVersion: FLOWCONTROL,
      kind: 'FlowSchema',
      metadata: { name },
      spec: {
        priorityLevelConfiguration: { name },
        matchingPrecedence: 500,
        distinguisherMethod: { type: 'ByUser' },
        rules: [
          {
            subjects: [{ kind: 'ServiceAccount', serviceAccount: account }],
            resourceRules: [
              { verbs: ['*'], apiGroups: ['*'], resources: ['*'], clusterScope: true, namespaces: ['*'] },
            ],
            nonResourceRules: [{ verbs: ['*'], nonResourceURLs: ['*'] }],
          },
        ],
      },
    },
  ];
}
