import { describe, expect, it } from 'vitest';
import { linesAbout, namespacesOf } from '../support/logs.ts';

describe('the operator log, scoped to what a test made', () => {
  const terminating =
    '{"level":40,"err":"KubeApiError: events.events.k8s.io is forbidden: unable to create new content in namespace e2e-cache-1a2b3c because it is being terminated","msg":"could not record event"}';
  const rbac =
    '{"level":50,"err":"KubeApiError: secrets is forbidden: User \\"system:serviceaccount:ops:op\\" cannot list resource \\"secrets\\" in API group \\"\\" at the cluster scope"}';
  const ownKey =
    '{"level":40,"key":"helm-app-abc/homeops-full","err":"403 forbidden","msg":"reconcile failed"}';

  it('names the namespaces a line is about', () => {
    expect(namespacesOf(terminating)).toEqual(['e2e-cache-1a2b3c']);
    expect(namespacesOf(ownKey)).toEqual(['helm-app-abc']);
    expect(namespacesOf('GET /api/v1/namespaces/x-1/pods/p')).toEqual(['x-1']);
    expect(namespacesOf(rbac)).toEqual([]);
  });

  it("keeps refusals about the test's namespaces and cluster-wide ones, drops others'", () => {
    const log = [terminating, rbac, ownKey, '{"msg":"all well"}'].join('\n');
    expect(linesAbout(log, /forbidden/i, ['helm-app-abc'])).toEqual([rbac, ownKey]);
    expect(linesAbout(log, /forbidden/i, ['helm-app-abc', 'e2e-cache-1a2b3c'])).toHaveLength(3);
  });
});
