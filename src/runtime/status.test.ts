import { describe, expect, it } from 'vitest';
import { microTime } from './events.ts';
import { fingerprint } from './manager.ts';
import { isSubset, ownerRef } from './status.ts';

describe('isSubset', () => {
  it('is true when every desired field has the live value, whatever else live has', () => {
    const live = {
      metadata: { name: 'a', uid: 'u', labels: { x: '1', y: '2' } },
      spec: { replicas: 1, other: true },
    };
    expect(isSubset({ metadata: { name: 'a', labels: { x: '1' } }, spec: { replicas: 1 } }, live)).toBe(true);
  });

  it('sees a changed value, a missing field and a different list', () => {
    const live = { spec: { replicas: 1, ports: [{ port: 5432 }] } };
    expect(isSubset({ spec: { replicas: 2 } }, live)).toBe(false);
    expect(isSubset({ spec: { selector: {} } }, live)).toBe(false);
    expect(isSubset({ spec: { ports: [{ port: 5432 }, { port: 6432 }] } }, live)).toBe(false);
  });

  it('takes a number for the same int-or-string the API server stored', () => {
    expect(isSubset({ cpu: 1 }, { cpu: '1' })).toBe(true);
  });
});

describe('helpers', () => {
  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(new Date('2026-11-26T10:00:00.123Z'))).toBe('2026-11-26T10:00:00.123000Z');
  });

  it('makes a controller owner reference', () => {
    const owner = {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: 'db', uid: 'u1' },
    };
    expect(ownerRef(owner)).toEqual({
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      name: 'db',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    });
  });

  it('fingerprints what calls for a reconcile, not the status', () => {
    const a = {
      apiVersion: 'v',
      kind: 'K',
      metadata: { name: 'x', generation: 1 },
      status: { phase: 'Ready' },
    };
    expect(fingerprint(a)).toBe(fingerprint({ ...a, status: { phase: 'Failed' } }));
    expect(fingerprint(a)).not.toBe(fingerprint({ ...a, metadata: { ...a.metadata, generation: 2 } }));
    expect(fingerprint(a)).not.toBe(
      fingerprint({ ...a, metadata: { ...a.metadata, annotations: { k: 'v' } } }),
    );
  });
});
