/** Exact live figures for Prometheus (status carries rounded ones), labelled by namespace and name. */
import { Histogram, type Registry } from 'prom-client';
import { ObjectGauges } from '../../common/series.ts';
import { archivingCondition, failing } from './archiving.ts';
import type { PoolerMeasurement, PrimaryMeasurement } from './prober.ts';

const state = ['state'] as const;
const table = ['table'] as const;

export class DatabaseMetrics {
  /** How long a round of probes takes (the wait for a probe slot included): not per database. */
  readonly probeDuration: Histogram<'result'>;
  private readonly series;

  constructor(registry: Registry) {
    this.probeDuration = new Histogram({
      name: 'homeops_probe_duration_seconds',
      help: 'Time to probe one database (primary and pooler), waiting for a probe slot included',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    });
    this.series = new ObjectGauges(registry, {
      up: { name: 'homeops_database_up', help: '1 when the primary answered the last probe' },
      poolerUp: { name: 'homeops_pooler_up', help: '1 when PgBouncer answered the last probe' },
      response: { name: 'homeops_database_response_seconds', help: 'SELECT 1 round trip of the last probe' },
      connections: {
        name: 'homeops_database_connections',
        help: 'Client connections by state',
        labels: state,
      },
      maxConnections: { name: 'homeops_database_max_connections', help: 'max_connections of the primary' },
      cacheHit: {
        name: 'homeops_database_cache_hit_ratio',
        help: 'Buffer cache hit ratio of the application database',
      },
      deadTuples: {
        name: 'homeops_database_dead_tuple_ratio',
        help: 'Dead tuples over all tuples, per table',
        labels: table,
      },
      indexScan: {
        name: 'homeops_database_index_scan_ratio',
        help: 'Index scans over all scans, per busy table',
        labels: table,
      },
      slowQueries: {
        name: 'homeops_database_slow_queries',
        help: 'Statements whose mean time exceeds spec.monitoring.slowQueryMs',
      },
      poolerClients: { name: 'homeops_pooler_clients', help: 'PgBouncer clients by state', labels: state },
      poolerServers: {
        name: 'homeops_pooler_servers',
        help: 'PgBouncer server connections by state',
        labels: state,
      },
      archiveFailing: {
        name: 'homeops_database_wal_archive_failing',
        help: "1 while the primary's last WAL archive attempt failed (spec.backup), with the condition's reason",
        labels: ['reason'],
      },
      lastArchived: {
        name: 'homeops_database_wal_last_archived_timestamp_seconds',
        help: 'When the primary last archived a WAL segment (pg_stat_archiver)',
      },
      poolerMaxWait: {
        name: 'homeops_pooler_max_wait_seconds',
        help: 'Longest wait of a client for a server connection',
      },
    });
  }

  /**
   * The database's series from its last probe: `up` 0 and nothing else for a primary that did
   * not answer (no stale figures), no pooler series when the pooler is off (`pooler` null).
   */
  record(
    ns: string,
    name: string,
    primary: PrimaryMeasurement | undefined,
    pooler: PoolerMeasurement | undefined | null,
  ): void {
    this.series.record(ns, name, (set) => {
      set('up', primary ? 1 : 0);
      if (primary) {
        set('response', primary.responseMs / 1000);
        for (const s of ['active', 'idle', 'total'] as const)
          set('connections', primary.connections[s], { state: s });
        set('maxConnections', primary.connections.max);
        set('cacheHit', primary.cacheHitRatio);
        set('slowQueries', primary.slowQueries);
        for (const t of primary.tables) {
          set('deadTuples', t.deadTupleRatio, { table: t.table });
          set('indexScan', t.indexScanRatio, { table: t.table });
        }
        const a = primary.archiver;
        if (a) {
          const failed = failing(a);
          set('archiveFailing', failed ? 1 : 0, { reason: failed ? archivingCondition(a).reason : 'none' });
          if (a.lastArchivedTime) set('lastArchived', Date.parse(a.lastArchivedTime) / 1000);
        }
      }
      if (pooler === null) return;
      set('poolerUp', pooler ? 1 : 0);
      if (!pooler) return;
      set('poolerClients', pooler.clientsActive, { state: 'active' });
      set('poolerClients', pooler.clientsWaiting, { state: 'waiting' });
      set('poolerServers', pooler.serversActive, { state: 'active' });
      set('poolerServers', pooler.serversIdle, { state: 'idle' });
      set('poolerMaxWait', pooler.maxWaitSeconds);
    });
  }

  /** Drops every series of a deleted database. */
  forget(ns: string, name: string): void {
    this.series.forget(ns, name);
  }
}
