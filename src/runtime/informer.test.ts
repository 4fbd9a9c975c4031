import { describe, expect, it } from 'vitest';
import { trim } from './informer.ts';

describe('trim: what the cache keeps', () => {
  it('drops managedFields but status applies, and the last-applied annotation', () => {
    const obj = {
      metadata: {
        name: 'x',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":1}', keep: 'me' },
        managedFields: [
          { manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': {} } },
          { manager: 'homeops-operator', operation: 'Apply', fieldsV1: { 'f:spec': {} } },
          {
            manager: 'homeops-operator',
            operation: 'Apply',
            subresource: 'status',
            fieldsV1: { 'f:status': {} },
          },
          { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status' },
        ],
      },
      spec: { replicas: 1 },
    };
    const t = trim(structuredClone(obj));
    expect(t.metadata.annotations).toEqual({ keep: 'me' });
    expect(t.metadata.managedFields).toEqual([obj.metadata.managedFields[2]]);
    expect(t.spec).toEqual({ replicas: 1 });
  });

  it('leaves no empty fields behind', () => {
    const t = trim({
      metadata: {
        name: 'y',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
        managedFields: [{ manager: 'm', operation: 'Update' }],
      },
    });
    expect(t.metadata).toEqual({ name: 'y' });
  });
});
