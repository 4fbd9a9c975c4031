/** Exact live figures for Prometheus (status carries rounded ones), labelled by namespace and name. */
import { Gauge, Histogram, type Registry } from 'prom-client';
import type { PoolerMeasurement, PrimaryMeasurement } from './prober.ts';

type L = 'namespace' | 'name';

export class DatabaseMetrics {
  readonly up: Gauge<L>;
  readonly poolerUp: Gauge<L>;
  readonly response: Gauge<L>;
  readonly connections: Gauge<L | 'state'>;
  readonly maxConnections: Gauge<L>;
  readonly cacheHit: Gauge<L>;
  readonly deadTuples: Gauge<L | 'table'>;
  readonly indexScan: Gauge<L | 'table'>;
  readonly slowQueries: Gauge<L>;
  readonly poolerClients: Gauge<L | 'state'>;
  readonly poolerServers: Gauge<L | 'state'>;
  readonly poolerMaxWait: Gauge<L>;
  /** How long a round of probes takes (the wait for a probe slot included): not per database. */
  readonly probeDuration: Histogram<'result'>;
  private readonly tables = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    const g = <T extends string>(name: string, help: string, extra: T[] = []) =>
      new Gauge<L | T>({ name, help, labelNames: ['namespace', 'name', ...extra], registers: [registry] });
    this.probeDuration = new Histogram({
      name: 'homeops_probe_duration_seconds',
      help: 'Time to probe one database (primary and pooler), waiting for a probe slot included',
      labelNames: ['result'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
      registers: [registry],
    });
    this.up = g('homeops_database_up', '1 when the primary answered the last probe');
    this.poolerUp = g('homeops_pooler_up', '1 when PgBouncer answered the last probe');
    this.response = g('homeops_database_response_seconds', 'SELECT 1 round trip of the last probe');
    this.connections = g('homeops_database_connections', 'Client connections by state', ['state']);
    this.maxConnections = g('homeops_database_max_connections', 'max_connections of the primary');
    this.cacheHit = g(
      'homeops_database_cache_hit_ratio',
      'Buffer cache hit ratio of the application database',
    );
    this.deadTuples = g('homeops_database_dead_tuple_ratio', 'Dead tuples over all tuples, per table', [
      'table',
    ]);
    this.indexScan = g('homeops_database_index_scan_ratio', 'Index scans over all scans, per busy table', [
      'table',
    ]);
    this.slowQueries = g(
      'homeops_database_slow_queries',
      'Statements whose mean time exceeds spec.monitoring.slowQueryMs',
    );
    this.poolerClients = g('homeops_pooler_clients', 'PgBouncer clients by state', ['state']);
    this.poolerServers = g('homeops_pooler_servers', 'PgBouncer server connections by state', ['state']);
    this.poolerMaxWait = g(
      'homeops_pooler_max_wait_seconds',
      'Longest wait of a client for a server connection',
    );
  }

  primary(ns: string, name: string, m: PrimaryMeasurement | undefined): void {
    const l = { namespace: ns, name };
    this.up.set(l, m ? 1 : 0);
    if (!m) return;
    this.response.set(l, m.responseMs / 1000);
    for (const state of ['active', 'idle'] as const)
      this.connections.set({ ...l, state }, m.connections[state]);
    this.connections.set({ ...l, state: 'total' }, m.connections.total);
    this.maxConnections.set(l, m.connections.max);
    if (m.cacheHitRatio !== undefined) this.cacheHit.set(l, m.cacheHitRatio);
    if (m.slowQueries !== undefined) this.slowQueries.set(l, m.slowQueries);
    const key = `${ns}/${name}`;
    const seen = new Set<string>();
    for (const t of m.tables) {
      seen.add(t.table);
      this.deadTuples.set({ ...l, table: t.table }, t.deadTupleRatio);
      if (t.indexScanRatio !== undefined) this.indexScan.set({ ...l, table: t.table }, t.indexScanRatio);
    }
    for (const gone of this.tables.get(key) ?? []) {
      if (!seen.has(gone)) {
        this.deadTuples.remove({ ...l, table: gone });
        this.indexScan.remove({ ...l, table: gone });
      }
    }
    this.tables.set(key, seen);
  }

  pooler(ns: string, name: string, m: PoolerMeasurement | undefined): void {
    const l = { namespace: ns, name };
    this.poolerUp.set(l, m ? 1 : 0);
    if (!m) return;
    this.poolerClients.set({ ...l, state: 'active' }, m.clientsActive);
    this.poolerClients.set({ ...l, state: 'waiting' }, m.clientsWaiting);
    this.poolerServers.set({ ...l, state: 'active' }, m.serversActive);
    this.poolerServers.set({ ...l, state: 'idle' }, m.serversIdle);
    this.poolerMaxWait.set(l, m.maxWaitSeconds);
  }

  /** Drops every series of a deleted database. */
  forget(ns: string, name: string): void {
    const l = { namespace: ns, name };
    for (const m of [
      this.up,
      this.poolerUp,
      this.response,
      this.maxConnections,
      this.cacheHit,
      this.slowQueries,
      this.poolerMaxWait,
    ])
      m.remove(l);
    for (const state of ['active', 'idle', 'total']) this.connections.remove({ ...l, state });
    for (const state of ['active', 'waiting']) this.poolerClients.remove({ ...l, state });
    for (const state of ['active', 'idle']) this.poolerServers.remove({ ...l, state });
    for (const table of this.tables.get(`${ns}/${name}`) ?? []) {
      this.deadTuples.remove({ ...l, table });
      this.indexScan.remove({ ...l, table });
    }
    this.tables.delete(`${ns}/${name}`);
  }
}
