import { describe, expect, it } from 'vitest';
import { conditionChanged, conditionEvent, setCondition } from './conditions.ts';

const t0 = new Date('2026-01-01T00:00:00.123Z');
const t1 = new Date('2026-01-01T01:00:00Z');

describe('setCondition', () => {
  it('adds a condition with the transition time, without fractional seconds', () => {
    const c = setCondition([], { type: 'Ready', status: 'False', reason: 'Starting', message: 'm' }, 3, t0);
    expect(c).toEqual([
      {
        type: 'Ready',
        status: 'False',
        reason: 'Starting',
        message: 'm',
        observedGeneration: 3,
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ]);
  });

  it('keeps lastTransitionTime while the status stays, and moves it when the status flips', () => {
    const a = setCondition([], { type: 'Ready', status: 'False', reason: 'Starting', message: 'm' }, 1, t0);
    const b = setCondition(
      a,
      { type: 'Ready', status: 'False', reason: 'StillStarting', message: 'n' },
      2,
      t1,
    );
    expect(b[0]).toMatchObject({
      reason: 'StillStarting',
      observedGeneration: 2,
      lastTransitionTime: '2026-01-01T00:00:00Z',
    });
    const c = setCondition(b, { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok' }, 2, t1);
    expect(c[0]?.lastTransitionTime).toBe('2026-01-01T01:00:00Z');
    expect(conditionChanged(b, c, 'Ready')).toBe(true);
    expect(conditionChanged(a, b, 'Ready')).toBe(false);
  });

  it('leaves other conditions alone', () => {
    const a = setCondition([], { type: 'Ready', status: 'True', reason: 'Ready', message: '' }, 1, t0);
    const b = setCondition(a, { type: 'Stalled', status: 'False', reason: 'Ready', message: '' }, 1, t1);
    expect(b.map((c) => c.type)).toEqual(['Ready', 'Stalled']);
    expect(b[0]).toBe(a[0]);
  });

  it('refuses a reason that is not CamelCase', () => {
    expect(() =>
      setCondition([], { type: 'Ready', status: 'True', reason: 'not ok', message: '' }, 1),
    ).toThrow(/CamelCase/);
  });
});

describe('conditionEvent: Events tell what a user acts on', () => {
  const c = (type: string, status: 'True' | 'False', reason = 'R') => ({
    type,
    status,
    reason,
    message: 'm',
    lastTransitionTime: '2026-11-27T00:00:00Z',
  });
  it.each<[string, ReturnType<typeof c> | undefined, ReturnType<typeof c>, string | undefined]>([
    ['a new database comes up: Ready', undefined, c('Ready', 'True'), 'Normal'],
    ['Ready starts out False: no news', undefined, c('Ready', 'False'), undefined],
    ['Ready turns True', c('Ready', 'False'), c('Ready', 'True'), 'Normal'],
    ['Ready is lost', c('Ready', 'True'), c('Ready', 'False'), 'Warning'],
    [
      'a part comes up: Ready tells it',
      c('PrimaryAvailable', 'False'),
      c('PrimaryAvailable', 'True'),
      undefined,
    ],
    ['a part is lost', c('PrimaryAvailable', 'True'), c('PrimaryAvailable', 'False'), 'Warning'],
    ['stalled at once', undefined, c('Stalled', 'True'), 'Warning'],
    ['not stalled at first: no news', undefined, c('Stalled', 'False'), undefined],
    ['unstalled', c('Stalled', 'True'), c('Stalled', 'False'), 'Normal'],
    ['progress is never told', c('Reconciling', 'True'), c('Reconciling', 'False'), undefined],
    ['no flip, no Event', c('Ready', 'True', 'A'), c('Ready', 'True', 'B'), undefined],
  ])('%s', (_, prev, next, type) => {
    expect(conditionEvent(prev, next)?.type).toBe(type);
  });
});
