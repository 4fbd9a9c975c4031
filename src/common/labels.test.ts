import { describe, expect, it } from 'vitest';
import { childrenOf, OWNER_LABEL, ownerName, selectorString, toOwner } from './labels.ts';

const pod = (labels: Record<string, string>) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { namespace: 'shop', name: 'p', labels },
});

describe('owner labels', () => {
  it('map a labelled object to its owner, of the right kind only', () => {
    const p = pod({ 'homeops.io/replicaset': 'reads', 'homeops.io/database': 'orders' });
    expect(toOwner('ReplicaSet')(p)).toEqual(['shop/reads']);
    expect(toOwner('HomeOpsDatabase')(p)).toEqual(['shop/orders']);
    expect(toOwner('CacheTier')(p)).toEqual([]);
    expect(ownerName('CacheTier', pod({ 'homeops.io/cache': 'c' }))).toBe('c');
  });

  it('select all children of an owner: its label and the managed-by label', () => {
    const db = { apiVersion: 'homeops.io/v1alpha1', kind: 'HomeOpsDatabase', metadata: { name: 'orders' } };
    expect(childrenOf('HomeOpsDatabase', db)).toEqual({
      [OWNER_LABEL.HomeOpsDatabase]: 'orders',
      'app.kubernetes.io/managed-by': 'homeops-operator',
    });
    expect(selectorString({ a: '1', b: '2' })).toBe('a=1,b=2');
  });
});
