import { describe, expect, it } from 'vitest';
import { median, steadyCount, sticky } from './figures.ts';

describe('sticky', () => {
  it('keep the previous value while the new one is within tolerance', () => {
    expect(sticky(1.0, 1.3, 2, 1)).toBe(1.0);
    expect(sticky(1.0, 9.87, 2, 1)).toBe(9.9);
    expect(sticky(undefined, 0.8123, 2, 1)).toBe(0.8);
  });
});

describe('steadyCount', () => {
  it.each([
    [undefined, 7, 7],
    [10, 12, 10], // within 2
    [10, 13, 13],
    [50, 55, 50], // within 10 %
    [50, 56, 56],
    [0, 1, 1], // from zero: a first waiting client is news
    [1, 0, 0], // to zero
    [3, 1, 3],
  ] as const)('steadyCount(%s, %s) = %s', (prev, next, shown) => {
    expect(steadyCount(prev, next)).toBe(shown);
  });
});

describe('median', () => {
  it('is the middle of the sorted values, the mean of the two middles, none of none', () => {
    expect(median([])).toBeUndefined();
    expect(median([3])).toBe(3);
    expect(median([1, 100, 2])).toBe(2);
    expect(median([1, 2, 3, 100])).toBe(2.5);
  });
});
