import { describe, expect, it } from 'vitest';
import {
  boundMs,
  compressionUnavailable,
  literal,
  parseBound,
  parseStep,
  partitionName,
  periodStart,
  RolloverError,
  wantedPartitions,
} from './rollover.ts';

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe('partition periods', () => {
  const d = at('2026-12-31T23:30:00Z');
  const yearly = parseStep('yearly');
  const monthly = parseStep('monthly');
  const daily = parseStep('daily');
  const weekly = parseStep('weekly');

  it('reads keywords and intervals, and refuses anything else', () => {
    expect([yearly, monthly, daily, weekly]).toEqual([
      { months: 12 },
      { months: 1 },
      { ms: 86_400_000 },
      { ms: 604_800_000 },
    ]);
    expect(parseStep('6 hours')).toEqual({ ms: 21_600_000 });
    expect(parseStep('3 months')).toEqual({ months: 3 });
    expect(parseStep('2 years')).toEqual({ months: 24 });
    expect(() => parseStep('fortnightly')).toThrow(RolloverError);
    expect(() => parseStep('0 days')).toThrow(/not a partition interval/);
  });

  it('finds period starts in UTC, across a year boundary', () => {
    expect(iso(periodStart(d, yearly))).toBe('2026-01-01T00:00:00.000Z');
    expect(iso(periodStart(d, yearly, 1))).toBe('2027-01-01T00:00:00.000Z');
    expect(iso(periodStart(d, monthly, 1))).toBe('2027-01-01T00:00:00.000Z');
    expect(iso(periodStart(d, daily))).toBe('2026-12-31T00:00:00.000Z');
    expect(iso(periodStart(d, daily, 1))).toBe('2027-01-01T00:00:00.000Z');
    expect(iso(periodStart(d, parseStep('3 months')))).toBe('2026-10-01T00:00:00.000Z');
    expect(iso(periodStart(d, parseStep('6 hours')))).toBe('2026-12-31T18:00:00.000Z');
  });

  it('starts weeks on Monday (ISO weeks), also across a year boundary', () => {
    // 2026-12-31 is a Thursday; its ISO week starts on Monday 2026-12-28.
    expect(iso(periodStart(d, weekly))).toBe('2026-12-28T00:00:00.000Z');
    expect(iso(periodStart(d, weekly, 1))).toBe('2027-01-04T00:00:00.000Z');
    expect(new Date(periodStart(at('2024-02-29T12:00:00Z'), weekly)).getUTCDay()).toBe(1);
  });

  it('names partitions by their start', () => {
    expect(partitionName('a.b', at('2026-03-01T00:00:00Z'), monthly)).toBe('b_2026_03');
    expect(partitionName('a.b', at('2026-01-01T00:00:00Z'), yearly)).toBe('b_2026');
    expect(partitionName('a.b', at('2026-12-28T00:00:00Z'), weekly)).toBe('b_p20261228');
    expect(partitionName('a.b', at('2026-12-31T18:00:00Z'), parseStep('6 hours'))).toBe('b_p20261231_1800');
    expect(partitionName(`a.${'x'.repeat(63)}`, at('2026-12-31T00:00:00Z'), daily)).toHaveLength(63);
  });

  it('wants the current period and premake more, or from `since` on', () => {
    expect(wantedPartitions({ table: 'financial.transactions', premake: 2 }, yearly, 'date', d)).toEqual([
      { name: 'transactions_2026', from: '2026-01-01', to: '2027-01-01' },
      { name: 'transactions_2027', from: '2027-01-01', to: '2028-01-01' },
      { name: 'transactions_2028', from: '2028-01-01', to: '2029-01-01' },
    ]);
    expect(wantedPartitions({ table: 'a.b', premake: 1 }, monthly, 'date', d).map((p) => p.name)).toEqual([
      'b_2026_12',
      'b_2027_01',
    ]);
    expect(wantedPartitions({ table: 'n.m', premake: 1 }, daily, 'timestamptz', d)).toEqual([
      { name: 'm_p20261231', from: '2026-12-31 00:00:00+00', to: '2027-01-01 00:00:00+00' },
      { name: 'm_p20270101', from: '2027-01-01 00:00:00+00', to: '2027-01-02 00:00:00+00' },
    ]);
    expect(() =>
      wantedPartitions(
        { table: 'n.m', premake: 1 },
        parseStep('1 hour'),
        'timestamptz',
        d,
        at('2026-01-01T00:00:00Z'),
      ),
    ).toThrow(/8\d{3} partitions from 2026-01-01 00:00:00\+00 would be made; at most 1000/);
    const backfill = wantedPartitions(
      { table: 'n.m', premake: 0 },
      daily,
      'timestamptz',
      d,
      at('2026-12-01T05:00:00Z'),
    );
    expect(backfill).toHaveLength(31);
    expect(backfill[0]!.from).toBe('2026-12-01 00:00:00+00');
  });

  it('reads partition bounds of date and timestamp columns, whatever the session time zone', () => {
    expect(parseBound("FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')", 'date')).toEqual({
      from: at('2024-01-01T00:00:00Z'),
      to: at('2025-01-01T00:00:00Z'),
    });
    expect(
      parseBound(
        "FOR VALUES FROM ('2023-12-31 19:00:00-05') TO ('2024-01-01 05:30:00+05:30')",
        'timestamptz',
      ),
    ).toEqual({ from: at('2024-01-01T00:00:00Z'), to: at('2024-01-01T00:00:00Z') });
    expect(boundMs('2024-01-01 06:00:00', 'timestamp')).toBe(at('2024-01-01T06:00:00Z'));
    expect(parseBound('DEFAULT', 'date')).toBeUndefined();
    expect(parseBound("FOR VALUES FROM (MINVALUE) TO ('2024-01-01')", 'date')).toBeUndefined();
  });

  it('writes bounds as literals of the key type, in UTC', () => {
    const t = at('2026-12-31T18:00:00Z');
    expect([literal(t, 'date'), literal(t, 'timestamp'), literal(t, 'timestamptz')]).toEqual([
      '2026-12-31',
      '2026-12-31 18:00:00',
      '2026-12-31 18:00:00+00',
    ]);
  });
});

describe('hypertable compression', () => {
  it('is skipped, with the reason, on an Apache-only build, and runs with the TSL license', () => {
    expect(compressionUnavailable('apache')).toMatch(/build is apache; compression needs the TSL/);
    expect(compressionUnavailable(null)).toMatch(/unlicensed/);
    expect(compressionUnavailable('timescale')).toBeUndefined();
  });
});
