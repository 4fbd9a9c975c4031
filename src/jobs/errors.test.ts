import { describe, expect, it } from 'vitest';
import { failureReason, JobError } from './errors.ts';
import { RolloverError } from './rollover.ts';

describe('failureReason', () => {
  it("takes a job error's reason, and tells server errors from connection failures", () => {
    const e = new RolloverError('Overlap', 'x');
    expect([e instanceof JobError, e.name, failureReason(e)]).toEqual([true, 'RolloverError', 'Overlap']);
    expect(failureReason(Object.assign(new Error('relation does not exist'), { code: '42P01' }))).toBe(
      'QueryFailed',
    );
    expect(failureReason(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' }))).toBe(
      'ConnectionFailed',
    );
    expect(failureReason(new Error('Connection terminated unexpectedly'))).toBe('ConnectionFailed');
    for (const code of ['28P01', '3D000', '08006', '57P01']) {
      expect(failureReason(Object.assign(new Error(code), { code })), code).toBe('ConnectionFailed');
    }
  });
});
