import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DatabaseMetrics } from './metrics.ts';
import type { PrimaryMeasurement } from './prober.ts';

const primary: PrimaryMeasurement = {
  responseMs: 2,
  connections: { active: 1, idle: 2, total: 3, max: 100, usagePercent: 3 },
  cacheHitRatio: 0.99,
  tables: [{ table: 'public.readings', deadTupleRatio: 0.1, indexScanRatio: 0.9 } as never],
  statementsAvailable: true,
  extensions: {
    installed: { plpgsql: '1.0' },
    available: {},
    preloaded: ['pg_stat_statements'],
    startedAt: 't0',
  },
  timescale: { available: false },
};
const pooler = { clientsActive: 1, clientsWaiting: 0, serversActive: 1, serversIdle: 1, maxWaitSeconds: 0 };
const series = async (r: Registry) =>
  (await r.metrics())
    .split('\n')
    .filter((l) => /^homeops_(database|pooler)_/.test(l))
    .map((l) => l.replace(/\{.*\}/, (m) => m.replace(/namespace="ns",name="db",?/, '')));

describe('DatabaseMetrics', () => {
  it('gives the figures of the last probe only: none stale from an earlier one', async () => {
    const r = new Registry();
    const m = new DatabaseMetrics(r);
    m.record('ns', 'db', primary, pooler);
    expect(await series(r)).toContain('homeops_database_dead_tuple_ratio{table="public.readings"} 0.1');
    expect(await series(r)).toContain('homeops_pooler_clients{state="waiting"} 0');
    // The primary stops answering, the pooler is turned off: up 0, nothing else.
    m.record('ns', 'db', undefined, null);
    expect(await series(r)).toEqual(['homeops_database_up{} 0']);
    m.forget('ns', 'db');
    expect(await series(r)).toEqual([]);
  });
  it('archiving: failing with the condition reason while the last attempt failed; 0 once it archives', async () => {
    const r = new Registry();
    const m = new DatabaseMetrics(r);
    m.record('ns', 'db', primary, null);
    expect((await series(r)).filter((l) => l.includes('wal_'))).toEqual([]);
    const archiver = {
      mode: 'on',
      lastArchivedWal: '000000010000000000000002',
      lastArchivedTime: '2026-12-08T01:00:00.000Z',
      lastFailedWal: '000000010000000000000003',
      lastFailedTime: '2026-12-08T01:00:10.000Z',
      error: "HostConnectError: unable to connect to '198.18.1.1:18333': [111] Connection refused",
    };
    m.record('ns', 'db', { ...primary, archiver } as never, null);
    expect(await series(r)).toContain(
      'homeops_database_wal_archive_failing{reason="RepositoryUnreachable"} 1',
    );
    expect(await series(r)).toContain(
      `homeops_database_wal_last_archived_timestamp_seconds{} ${Date.parse('2026-12-08T01:00:00Z') / 1000}`,
    );
    m.record(
      'ns',
      'db',
      { ...primary, archiver: { ...archiver, lastArchivedTime: '2026-12-08T01:00:20.000Z' } } as never,
      null,
    );
    const now = (await series(r)).filter((l) => l.includes('archive_failing'));
    expect(now).toEqual(['homeops_database_wal_archive_failing{reason="none"} 0']);
  });
});
