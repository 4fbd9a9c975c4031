import { describe, expect, it } from 'vitest';
import { phaseOf, summarize } from './summary.ts';

const ok = { ok: true, reason: 'A', message: 'a' };
const podDown = { ok: false, reason: 'PodNotReady', message: 'the pod is not ready' };
const server = { ok: false, reason: 'ServerDown', message: 'no answer' };

describe('summarize', () => {
  it('names Ready after the first failing check, in the order given', () => {
    const s = summarize([ok, podDown, server], 'all up');
    expect(s.ready).toMatchObject({
      status: 'False',
      reason: 'PodNotReady',
      message: 'the pod is not ready',
    });
    expect(s.blocking).toBe(podDown);
    expect(summarize([ok], 'all up')).toEqual({
      ready: { type: 'Ready', status: 'True', reason: 'Ready', message: 'all up' },
    });
  });
});

describe('phaseOf', () => {
  const blocked = summarize([server], 'up');
  const fine = summarize([ok], 'up');
  it.each([
    ['blocked, nothing serving', blocked, {}, 'Provisioning'],
    ['blocked while a pod serves', blocked, { serving: true }, 'Degraded'],
    ['blocked and alerting, not serving', blocked, { alerting: true }, 'Provisioning'],
    ['ready', fine, {}, 'Ready'],
    ['ready, serving', fine, { serving: true }, 'Ready'],
    ['ready with a firing alert', fine, { alerting: true }, 'Degraded'],
  ] as const)('%s → %s', (_, s, o, phase) => {
    expect(phaseOf(s, o)).toBe(phase);
  });
});
