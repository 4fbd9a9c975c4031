/**
 * From measurements to status: the guide's alert thresholds as conditions (True = the alert is
 * on), and the figures status carries, rounded with hysteresis so that an idle database, whose
 * response time wobbles by microseconds, causes no status write. Pure.
 */
import type { HomeOpsDatabaseSpec, HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { steadyCount, sticky } from '../../common/figures.ts';
import type { ConditionInput } from '../../runtime/conditions.ts';
import type { PoolerMeasurement, PrimaryMeasurement } from './prober.ts';

/** Conditions whose True means trouble (Events of type Warning when they turn True). */
export const ALERT_CONDITIONS = [
  'SlowQueries',
  'HighConnectionUsage',
  'LowIndexUsage',
  'HighDeadTuples',
  'LowCacheHitRatio',
] as const;

export function thresholdConditions(
  m: PrimaryMeasurement,
  mon: HomeOpsDatabaseSpec['monitoring'],
): ConditionInput[] {
  const lowIndex = m.tables.filter(
    (t) => t.indexScanRatio !== undefined && t.indexScanRatio < mon.indexScanRatio,
  );
  const dead = m.tables.filter((t) => t.deadTupleRatio > mon.deadTupleRatio);
  const list = (ts: { table: string }[]) =>
    ts
      .slice(0, 5)
      .map((t) => t.table)
      .join(', ') + (ts.length > 5 ? `, and ${ts.length - 5} more` : '');
  const cond = (
    type: string,
    on: boolean,
    reason: string,
    onMsg: string,
    offMsg: string,
  ): ConditionInput => ({
    type,
    status: on ? 'True' : 'False',
    reason: on ? reason : 'WithinThreshold',
    message: on ? onMsg : offMsg,
  });
  const out: ConditionInput[] = [
    cond(
      'HighConnectionUsage',
      m.connections.usagePercent > mon.connectionUsagePercent,
      'ConnectionUsageHigh',
      `${m.connections.total} of ${m.connections.max} connections in use (${m.connections.usagePercent.toFixed(0)}% > ${mon.connectionUsagePercent}%): scale the pool or look for connection leaks`,
      `connection usage at most ${mon.connectionUsagePercent}%`,
    ),
    cond(
      'LowIndexUsage',
      lowIndex.length > 0,
      'IndexUsageLow',
      `${lowIndex.length} table(s) with index-scan ratio < ${mon.indexScanRatio}: ${list(lowIndex)}`,
      `index-scan ratio at least ${mon.indexScanRatio} on every busy table`,
    ),
    cond(
      'HighDeadTuples',
      dead.length > 0,
      'DeadTuplesHigh',
      `${dead.length} table(s) with dead tuples > ${mon.deadTupleRatio * 100}%: ${list(dead)}`,
      `dead tuples at most ${mon.deadTupleRatio * 100}%`,
    ),
  ];
  if (m.cacheHitRatio !== undefined) {
    out.push(
      cond(
        'LowCacheHitRatio',
        m.cacheHitRatio < mon.cacheHitRatio,
        'CacheHitRatioLow',
        `cache hit ratio ${m.cacheHitRatio.toFixed(3)} < ${mon.cacheHitRatio}`,
        `cache hit ratio at least ${mon.cacheHitRatio}`,
      ),
    );
  }
  if (m.slowQueries !== undefined) {
    out.push(
      cond(
        'SlowQueries',
        m.slowQueries > 0,
        'SlowQueriesDetected',
        `${m.slowQueries} statement(s) with mean time > ${mon.slowQueryMs} ms (pg_stat_statements)`,
        `no statement with mean time > ${mon.slowQueryMs} ms`,
      ),
    );
  }
  return out;
}

type Primary = NonNullable<HomeOpsDatabaseStatus['primary']>;
type Pooler = NonNullable<HomeOpsDatabaseStatus['pooler']>;

export function primaryStatus(
  m: PrimaryMeasurement,
  prev: Primary | undefined,
  mon: HomeOpsDatabaseSpec['monitoring'],
): Primary {
  const p = prev ?? {};
  // Response time (the controller passes the median of the last probes): steady until it
  // doubles, halves or moves by 5 ms, whichever is larger. A SELECT 1 on a loaded node jitters by
  // tens of ms (1,000 databases on one server moved it past a 50 % band 333 times in an idle
  // minute); status moves only on a change worth reading. The exact last value is the
  // homeops_database_response_seconds metric.
  const rt = sticky(p.responseMs, m.responseMs, Math.max(5, p.responseMs ?? 0), 1);
  // Connections move together, when the total leaves its band (steadyCount) or max changes.
  const c = m.connections;
  const pc = p.connections;
  const connections =
    pc && pc.max === c.max && steadyCount(pc.total, c.total) === pc.total
      ? pc
      : { ...c, usagePercent: Number(c.usagePercent.toFixed(0)) };
  return {
    responseMs: rt,
    connections,
    ...(m.cacheHitRatio !== undefined
      ? { cacheHitRatio: sticky(p.cacheHitRatio, m.cacheHitRatio, 0.005, 3) }
      : {}),
    ...(m.slowQueries !== undefined ? { slowQueries: m.slowQueries } : {}),
    tablesLowIndexUsage: m.tables.filter(
      (t) => t.indexScanRatio !== undefined && t.indexScanRatio < mon.indexScanRatio,
    ).length,
    tablesHighDeadTuples: m.tables.filter((t) => t.deadTupleRatio > mon.deadTupleRatio).length,
  };
}

export function poolerStatus(
  m: PoolerMeasurement,
  readyInstances: number | undefined,
  prev: Pooler | undefined,
): Pooler {
  return {
    ...(readyInstances !== undefined ? { readyInstances } : {}),
    clientsActive: steadyCount(prev?.clientsActive, m.clientsActive),
    clientsWaiting: steadyCount(prev?.clientsWaiting, m.clientsWaiting),
    serversActive: steadyCount(prev?.serversActive, m.serversActive),
    serversIdle: steadyCount(prev?.serversIdle, m.serversIdle),
    maxWaitSeconds: sticky(prev?.maxWaitSeconds, m.maxWaitSeconds, 0.5, 1),
  };
}
