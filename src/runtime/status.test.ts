import { describe, expect, it } from 'vitest';
import { microTime } from './events.ts';
import { fingerprint } from './manager.ts';
import { isSubset, ownedPart, ownerRef, statusNeedsWrite, statusOwnership } from './status.ts';

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

describe('a status shared by two writers', () => {
  const cond = (type: string, status = 'True') => ({
    type,
    status,
    reason: 'R',
    message: 'm',
    lastTransitionTime: '2026-11-27T00:00:00Z',
  });
  // What the API server records for two managers that applied status (trimmed to the shape).
  const obj = {
    apiVersion: 'homeops.io/v1alpha1',
    kind: 'HomeOpsDatabase',
    metadata: {
      name: 'db',
      managedFields: [
        {
          manager: 'homeops-operator',
          operation: 'Apply',
          subresource: 'status',
          fieldsV1: {
            'f:status': {
              'f:phase': {},
              'f:primary': { 'f:responseMs': {} },
              'f:conditions': { 'k:{"type":"Ready"}': { '.': {}, 'f:status': {} } },
            },
          },
        },
        {
          manager: 'homeops-operator-jobs',
          operation: 'Apply',
          subresource: 'status',
          fieldsV1: {
            'f:status': {
              'f:benchmarks': { 'f:passed': {} },
              'f:conditions': { 'k:{"type":"BenchmarksPassing"}': { '.': {}, 'f:status': {} } },
            },
          },
        },
        { manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': { 'f:x': {} } } },
      ],
    },
    status: {
      phase: 'Ready',
      primary: { responseMs: 2 },
      benchmarks: { passed: true },
      conditions: [cond('Ready'), cond('BenchmarksPassing')],
    },
  };
  const controller = statusOwnership(obj, 'homeops-operator');
  const jobs = statusOwnership(obj, 'homeops-operator-jobs');

  it('reads what each manager owns from managedFields', () => {
    expect([...controller.keys].sort()).toEqual(['conditions', 'phase', 'primary']);
    expect([...controller.conditions]).toEqual(['Ready']);
    expect([...jobs.keys].sort()).toEqual(['benchmarks', 'conditions']);
    expect([...jobs.conditions]).toEqual(['BenchmarksPassing']);
    expect(statusOwnership(obj, 'kubectl').keys.size).toBe(0);
    expect(ownedPart(obj.status, jobs)).toEqual({
      benchmarks: { passed: true },
      conditions: [cond('BenchmarksPassing')],
    });
  });

  it("writes nothing when its own part is unchanged, whatever the other writer's fields are", () => {
    const mine = { phase: 'Ready', primary: { responseMs: 2 }, conditions: [cond('Ready')] };
    expect(statusNeedsWrite(obj.status, mine, controller)).toBe(false);
    expect(
      statusNeedsWrite(
        obj.status,
        { benchmarks: { passed: true }, conditions: [cond('BenchmarksPassing')] },
        jobs,
      ),
    ).toBe(false);
  });

  it('writes when a value changed, a condition flipped, or an owned field is to be removed', () => {
    const mine = { phase: 'Ready', primary: { responseMs: 2 }, conditions: [cond('Ready')] };
    expect(statusNeedsWrite(obj.status, { ...mine, phase: 'Degraded' }, controller)).toBe(true);
    expect(statusNeedsWrite(obj.status, { ...mine, conditions: [cond('Ready', 'False')] }, controller)).toBe(
      true,
    );
    // primary no longer measured: the apply removes it.
    expect(statusNeedsWrite(obj.status, { phase: 'Ready', conditions: [cond('Ready')] }, controller)).toBe(
      true,
    );
    expect(statusNeedsWrite(obj.status, { phase: 'Ready', primary: { responseMs: 2 } }, controller)).toBe(
      true,
    );
    // a sub-field gone from an owned key
    expect(statusNeedsWrite(obj.status, { ...mine, primary: {} }, controller)).toBe(true);
  });

  it('takes over nothing: a first write compares only the fields it brings', () => {
    const none = statusOwnership(obj, 'a-new-writer');
    expect(statusNeedsWrite(obj.status, { phase: 'Ready' }, none)).toBe(false);
    expect(statusNeedsWrite(obj.status, { extra: 1 }, none)).toBe(true);
  });
});
