/**
 * A CacheTier's figures over time: the keyspace counters' change since the last visit (the
 * interval's hit ratio and evictions), each replica's lag behind the writer, and the
 * homeops_cache_* series. Kept in memory by tier (namespace/name) and dropped by `forget`.
 */
import type { Registry } from 'prom-client';
import { ObjectGauges } from '../../common/series.ts';
import type { Tier } from './members.ts';
import type { Observation } from './status.ts';

type Counters = { hits: number; misses: number; evicted: number };
const member = ['member'] as const;
const def = (name: string, help: string) => ({ name, help, labels: member });

export class CacheMetrics {
  /** Keyspace counters at the last visit, per `namespace/name/member`. */
  private readonly counters = new Map<string, Counters>();
  private readonly series: ObjectGauges<
    'used' | 'max' | 'keys' | 'clients' | 'hitRatio' | 'evicted' | 'up' | 'writer' | 'offset' | 'lag'
  >;

  constructor(registry: Registry) {
    this.series = new ObjectGauges(registry, {
      up: def('homeops_cache_up', '1 when the member answered INFO'),
      used: def('homeops_cache_memory_used_bytes', 'used_memory'),
      max: def('homeops_cache_memory_max_bytes', 'maxmemory'),
      keys: def('homeops_cache_keys', 'Keys in all databases'),
      clients: def('homeops_cache_connected_clients', 'connected_clients'),
      hitRatio: def(
        'homeops_cache_hit_ratio',
        'Hits over lookups during the last interval, all members (member="")',
      ),
      evicted: def('homeops_cache_evicted_keys_total', 'evicted_keys since the server started'),
      writer: def('homeops_cache_writer', '1 for the member the writer Service routes to'),
      offset: def(
        'homeops_cache_replication_offset_bytes',
        'master_repl_offset (writer) or slave_repl_offset (replica)',
      ),
      lag: def('homeops_cache_replica_lag_bytes', "The writer's replication offset minus the replica's"),
    });
  }

  /**
   * Adds to `o` what needs the last visit or the writer's figures (the interval's counters, each
   * replica's lag in bytes) and sets the series.
   */
  update(t: Tier, o: Observation): void {
    const ns = t.metadata.namespace!;
    const writer = o.members.find((m) => m.name === o.writer);
    const name = t.metadata.name!;
    let sum: Observation['interval'];
    this.series.record(ns, name, (set) => {
      for (const m of o.members) {
        const member = { member: m.name };
        set('writer', m.name === o.writer ? 1 : 0, member);
        set('up', m.probe ? 1 : 0, member);
        if (!m.probe) continue;
        const i = m.probe.info;
        const key = `${ns}/${name}/${m.name}`;
        const before = this.counters.get(key);
        const now = { hits: i.keyspaceHits, misses: i.keyspaceMisses, evicted: i.evictedKeys };
        // A restart resets the counters: no interval figure across one.
        if (
          before &&
          now.hits >= before.hits &&
          now.misses >= before.misses &&
          now.evicted >= before.evicted
        ) {
          sum ??= { hits: 0, misses: 0, evicted: 0 };
          sum.hits += now.hits - before.hits;
          sum.misses += now.misses - before.misses;
          sum.evicted += now.evicted - before.evicted;
        }
        this.counters.set(key, now);
        const offset = i.role === 'master' ? i.replOffset : (i.replicaOffset ?? 0);
        if (m.name !== o.writer && writer?.probe && i.role === 'slave')
          m.lagBytes = Math.max(0, writer.probe.info.replOffset - offset);
        set('used', i.usedMemory, member);
        set('max', i.maxMemory, member);
        set('keys', i.keys, member);
        set('clients', i.connectedClients, member);
        set('evicted', i.evictedKeys, member);
        set('offset', offset, member);
        set('lag', m.lagBytes, member);
      }
      const lookups = (sum?.hits ?? 0) + (sum?.misses ?? 0);
      set('hitRatio', lookups > 0 ? sum!.hits / lookups : undefined, { member: '' });
    });
    if (sum) o.interval = sum;
    // Members gone by a scale-down keep no counters.
    const members = new Set(o.members.map((m) => `${ns}/${name}/${m.name}`));
    for (const k of this.counters.keys())
      if (k.startsWith(`${ns}/${name}/`) && !members.has(k)) this.counters.delete(k);
  }

  /** The tier is gone: its counters and every series of it. */
  forget(namespace: string, name: string): void {
    for (const k of this.counters.keys()) if (k.startsWith(`${namespace}/${name}/`)) this.counters.delete(k);
    this.series.forget(namespace, name);
  }
}
