import { describe, expect, it } from 'vitest';
import { homeOpsDatabaseSpec } from '../../api/v1alpha1/index.ts';
import { median } from '../../common/figures.ts';
import { primaryStatus, thresholdConditions } from './health.ts';
import type { PrimaryMeasurement } from './prober.ts';

const mon = homeOpsDatabaseSpec.parse({}).monitoring;
const healthy: PrimaryMeasurement = {
  responseMs: 0.8,
  connections: { active: 1, idle: 4, total: 5, max: 100, usagePercent: 5 },
  cacheHitRatio: 0.99,
  tables: [{ table: 'core.users', deadTupleRatio: 0.01, indexScanRatio: 0.97 }],
  slowQueries: 0,
  statementsAvailable: true,
  extensions: {
    installed: { plpgsql: '1.0' },
    available: {},
    preloaded: ['pg_stat_statements'],
    startedAt: 't0',
  },
  timescale: { available: false },
};
const byType = (m: PrimaryMeasurement) =>
  Object.fromEntries(thresholdConditions(m, mon).map((c) => [c.type, c]));

describe("the guide's alert thresholds", () => {
  it('are all off for a healthy database', () => {
    for (const c of thresholdConditions(healthy, mon)) expect(c.status).toBe('False');
  });

  it('turn on past each threshold, with a message that says what was measured', () => {
    const c = byType({
      ...healthy,
      connections: { active: 70, idle: 15, total: 85, max: 100, usagePercent: 85 },
      cacheHitRatio: 0.9,
      tables: [
        { table: 'financial.transactions', deadTupleRatio: 0.2, indexScanRatio: 0.5 },
        { table: 'core.users', deadTupleRatio: 0, indexScanRatio: 0.99 },
      ],
      slowQueries: 2,
    });
    expect(c.HighConnectionUsage).toMatchObject({ status: 'True', reason: 'ConnectionUsageHigh' });
    expect(c.HighConnectionUsage!.message).toContain('85 of 100');
    expect(c.LowCacheHitRatio).toMatchObject({ status: 'True', reason: 'CacheHitRatioLow' });
    expect(c.LowIndexUsage!.message).toContain('financial.transactions');
    expect(c.HighDeadTuples!.message).toContain('financial.transactions');
    expect(c.SlowQueries!.message).toContain('2 statement(s)');
  });

  it('say nothing of index usage for tables not scanned enough to tell', () => {
    expect(byType({ ...healthy, tables: [{ table: 't', deadTupleRatio: 0 }] }).LowIndexUsage!.status).toBe(
      'False',
    );
  });

  it('leave out what was not measured (no pg_stat_statements, no cache figures)', () => {
    const c = byType({
      ...healthy,
      slowQueries: undefined,
      cacheHitRatio: undefined,
      statementsAvailable: false,
    });
    expect(c.SlowQueries).toBeUndefined();
    expect(c.LowCacheHitRatio).toBeUndefined();
  });
});

describe('status figures', () => {
  it('do not change when an idle database wobbles', () => {
    const first = primaryStatus(healthy, undefined, mon);
    const second = primaryStatus({ ...healthy, responseMs: 1.3, cacheHitRatio: 0.9912 }, first, mon);
    expect(second).toEqual(first);
    // A busy node's jitter of a few ms is not news; a slowdown past 5 ms is.
    expect(primaryStatus({ ...healthy, responseMs: 5.5 }, first, mon).responseMs).toBe(first.responseMs);
    expect(primaryStatus({ ...healthy, responseMs: 6.2 }, first, mon).responseMs).toBe(6.2);
    // Past 5 ms, only a doubling or a halving moves it.
    const at20 = primaryStatus({ ...healthy, responseMs: 20 }, first, mon);
    expect(primaryStatus({ ...healthy, responseMs: 39 }, at20, mon).responseMs).toBe(20);
    expect(primaryStatus({ ...healthy, responseMs: 10.5 }, at20, mon).responseMs).toBe(20);
    expect(primaryStatus({ ...healthy, responseMs: 41 }, at20, mon).responseMs).toBe(41);
  });
});

describe('counts in status', () => {
  it('connections move together, on the total leaving its band or max changing', () => {
    const at = (total: number, max = 100) => ({
      ...healthy,
      connections: { active: 1, idle: total - 1, total, max, usagePercent: (total / max) * 100 },
    });
    const first = primaryStatus(at(40), undefined, mon);
    expect(first.connections).toEqual({ active: 1, idle: 39, total: 40, max: 100, usagePercent: 40 });
    // A busy database: 36..44 connections from probe to probe, shown as 40.
    for (const n of [36, 44, 41, 38])
      expect(primaryStatus(at(n), first, mon).connections).toBe(first.connections);
    expect(primaryStatus(at(45), first, mon).connections).toEqual({
      active: 1,
      idle: 44,
      total: 45,
      max: 100,
      usagePercent: 45,
    });
    expect(primaryStatus(at(40, 200), first, mon).connections?.max).toBe(200);
  });
});

describe('the response time status shows', () => {
  it('is the median of the last probes: one spike moves nothing, a lasting slowdown does', () => {
    // A loaded node: probes mostly ~10 ms with spikes to 80 ms.
    const probes = [10, 11, 80, 9, 12, 75, 10, 11, 90, 10];
    let shown: ReturnType<typeof primaryStatus> | undefined;
    const seen = new Set<number>();
    for (let i = 0; i < probes.length; i++) {
      const m = median(probes.slice(Math.max(0, i - 4), i + 1))!;
      shown = primaryStatus({ ...healthy, responseMs: m }, shown, mon);
      seen.add(shown.responseMs!);
    }
    expect([...seen]).toEqual([10]);
    // Lasting: every probe at 60 ms.
    for (let i = 0; i < 3; i++) {
      const m = median([...probes.slice(-2), ...Array(i + 1).fill(60)].slice(-5))!;
      shown = primaryStatus({ ...healthy, responseMs: m }, shown, mon);
    }
    expect(shown!.responseMs).toBe(60);
  });
});
