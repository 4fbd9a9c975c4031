import { describe, expect, it } from 'vitest';
import { lagSeconds, lsnBytes, parseLsn } from './lag.ts';

describe('WAL positions', () => {
  it('parses LSNs and never gives negative lag', () => {
    expect(parseLsn('1/0')).toBe(4294967296n);
    expect(lsnBytes('0/3000148', '0/3000000')).toBe(0x148);
    expect(lsnBytes('0/3000000', '0/3000148')).toBe(0);
    expect(() => parseLsn('nope')).toThrow(/not a WAL position/);
  });
});

describe('lag in seconds', () => {
  const base = {
    caughtUpAtFirst: false,
    caughtUpAfterMs: undefined,
    waitedMs: 1000,
    nowOnPrimaryMs: 100_000,
  };
  it.each<[string, Parameters<typeof lagSeconds>[0], number | undefined]>([
    [
      'caught up at once: 0, however old the last commit (an idle primary)',
      { ...base, caughtUpAtFirst: true, replayedAtMs: 0 },
      0,
    ],
    ['caught up while watched: the time it took', { ...base, caughtUpAfterMs: 300, replayedAtMs: 0 }, 0.3],
    ['stuck: now minus the last replayed commit', { ...base, replayedAtMs: 88_000 }, 12],
    ['never below the time waited', { ...base, replayedAtMs: 99_900 }, 1],
    ['nothing replayed since start: not measured', { ...base, replayedAtMs: undefined }, undefined],
  ])('%s', (_, input, want) => {
    expect(lagSeconds(input).lagSeconds).toBe(want);
  });
});
