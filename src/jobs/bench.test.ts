import { describe, expect, it } from 'vitest';
import { percentile, regression, stats } from './bench.ts';

describe('benchmark statistics', () => {
  it('computes them on a known distribution (1..100 ms)', () => {
    const samples = Array.from({ length: 100 }, (_, i) => 100 - i); // unsorted on purpose
    expect(stats(samples)).toEqual({
      iterations: 100,
      minMs: 1,
      medianMs: 50.5,
      meanMs: 50.5,
      p95Ms: 95,
      p99Ms: 99,
      maxMs: 100,
    });
  });

  it('uses nearest-rank percentiles, also on small samples', () => {
    expect(percentile([10], 95)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 95)).toBe(10);
    expect(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 50)).toBe(5);
    expect(stats([3, 1, 2]).medianMs).toBe(2);
  });

  it("grades regressions with the guide's factor and severities", () => {
    expect(regression(14, 10, 1.5)).toBeUndefined();
    expect(regression(15, 10, 1.5)).toBeUndefined(); // exactly the threshold is not a regression
    expect(regression(16, 10, 1.5)).toEqual({ factor: 1.6, severity: 'minor', baselineP95Ms: 10 });
    expect(regression(25, 10, 1.5)?.severity).toBe('major');
    expect(regression(31, 10, 1.5)?.severity).toBe('critical');
  });
});
