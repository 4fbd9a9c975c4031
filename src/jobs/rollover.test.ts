import { describe, expect, it } from 'vitest';
import { parseBound, partitionName, periodStart, wantedPartitions } from './rollover.ts';

describe('partition periods', () => {
  const d = new Date('2026-12-31T23:30:00Z');
  it('finds period starts in UTC, across a year boundary', () => {
    expect(periodStart(d, 'yearly').toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(periodStart(d, 'yearly', 1).toISOString()).toBe('2027-01-01T00:00:00.000Z');
    expect(periodStart(d, 'monthly', 1).toISOString()).toBe('2027-01-01T00:00:00.000Z');
  });

  it('wants the current period and premake more', () => {
    expect(
      wantedPartitions({ table: 'financial.transactions', column: 'd', interval: 'yearly', premake: 2 }, d),
    ).toEqual([
      { name: 'transactions_2026', from: '2026-01-01', to: '2027-01-01' },
      { name: 'transactions_2027', from: '2027-01-01', to: '2028-01-01' },
      { name: 'transactions_2028', from: '2028-01-01', to: '2029-01-01' },
    ]);
    expect(
      wantedPartitions({ table: 'a.b', column: 'd', interval: 'monthly', premake: 1 }, d).map((p) => p.name),
    ).toEqual(['b_2026_12', 'b_2027_01']);
    expect(partitionName('a.b', new Date('2026-03-01T00:00:00Z'), 'monthly')).toBe('b_2026_03');
  });

  it('reads partition bounds of date and timestamp columns', () => {
    expect(parseBound("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')")).toEqual({
      from: '2024-01-01',
      to: '2025-01-01',
    });
    expect(parseBound("FOR VALUES FROM ('2024-01-01 00:00:00+00') TO ('2024-02-01 00:00:00+00')")).toEqual({
      from: '2024-01-01',
      to: '2024-02-01',
    });
    expect(parseBound('DEFAULT')).toBeUndefined();
  });
});
