import { describe, expect, it } from 'vitest';
import { ownedPart, statusNeedsWrite, statusOwnership } from './ownership.ts';

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
