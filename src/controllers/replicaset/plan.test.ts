import { describe, expect, it } from 'vitest';
import { replicaSetObject as rs } from '../../../test/support/objects.ts';
import { nextMeasurementMs } from './plan.ts';

describe('nextMeasurementMs', () => {
  const d = (lagSeconds: number | undefined, inRead = true) => ({
    name: 'm',
    in: inRead,
    state: 'streaming',
    ...(lagSeconds !== undefined ? { lagSeconds } : {}),
  });
  const r = rs({ maxLagSeconds: 5, healthCheckIntervalSeconds: 30 });
  it.each<[string, ReturnType<typeof d>[], number]>([
    ['caught up: the interval', [d(0)], 30_000],
    ['a little behind: the interval', [d(0.5)], 30_000],
    ['behind: when it would reach the bound', [d(0), d(3)], 2_250],
    ['at the bound: soon, not in a busy loop', [d(5)], 1_000],
    ['already out: the interval', [d(9, false)], 30_000],
    ['not measured: the interval', [d(undefined)], 30_000],
  ])('%s', (_, decisions, want) => {
    expect(nextMeasurementMs(r, decisions)).toBe(want);
  });
});
