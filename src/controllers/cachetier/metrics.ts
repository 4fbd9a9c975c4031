/**
 * A CacheTier's figures over time: the keyspace counters' change since the last visit (the
 * interval's hit ratio and evictions), each replica's lag behind the writer, and the
 * homeops_cache_* series. Kept in memory by tier (namespace/name) and dropped by `forget`.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Tier } from './members.ts';
import { memberPodName } from './names.ts';
import type { Observation } from './status.ts';

type Counters = { hits: number; misses: number; evicted: number };
/** Members a tier can have (the API's maximum), for series left by a scale-down. */
const MAX_MEMBERS = 9;

export class CacheMetrics {
  /** Keyspace counters at the last visit, per `namespace/name/member`. */
  private readonly counters = new Map<string, Counters>();
  private readonly gauges: Record<
    'used' | 'max' | 'keys' | 'clients' | 'hitRatio' | 'evicted' | 'up' | 'writer' | 'offset' | 'lag',
    Gauge<'namespace' | 'name' | 'member'>
  >;

  constructor(registry: Registry) {
    const g = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ['namespace', 'name', 'member'] as const, registers: [registry] });
    this.gauges = {
      up: g('homeops_cache_up', '1 when the member answered INFO'),
      used: g('homeops_cache_memory_used_bytes', 'used_memory'),
      max: g('homeops_cache_memory_max_bytes', 'maxmemory'),
      keys: g('homeops_cache_keys', 'Keys in all databases'),
      clients: g('homeops_cache_connected_clients', 'connected_clients'),
      hitRatio: g(
        'homeops_cache_hit_ratio',
        'Hits over lookups during the last interval, all members (member="")',
      ),
      evicted: g('homeops_cache_evicted_keys_total', 'evicted_keys since the server started'),
      writer: g('homeops_cache_writer', '1 for the member the writer Service routes to'),
      offset: g(
        'homeops_cache_replication_offset_bytes',
        'master_repl_offset (writer) or slave_repl_offset (replica)',
      ),
      lag: g('homeops_cache_replica_lag_bytes', "The writer's replication offset minus the replica's"),
    };
  }

  /**
   * Adds to `o` what needs the last visit or the writer's figures (the interval's counters, each
   * replica's lag in bytes) and sets the series.
   */
  update(t: Tier, o: Observation): void {
    const ns = t.metadata.namespace!;
    const writer = o.members.find((m) => m.name === o.writer);
    let sum: Observation['interval'];
    for (const m of o.members) {
      const labels = { namespace: ns, name: t.metadata.name!, member: m.name };
      this.gauges.writer.set(labels, m.name === o.writer ? 1 : 0);
      if (!m.probe) {
        this.gauges.up.set(labels, 0);
        continue;
      }
      const i = m.probe.info;
      const key = `${ns}/${t.metadata.name}/${m.name}`;
      const before = this.counters.get(key);
      const now = { hits: i.keyspaceHits, misses: i.keyspaceMisses, evicted: i.evictedKeys };
      // A restart resets the counters: no interval figure across one.
      if (before && now.hits >= before.hits && now.misses >= before.misses && now.evicted >= before.evicted) {
        sum ??= { hits: 0, misses: 0, evicted: 0 };
        sum.hits += now.hits - before.hits;
        sum.misses += now.misses - before.misses;
        sum.evicted += now.evicted - before.evicted;
      }
      this.counters.set(key, now);
      const offset = i.role === 'master' ? i.replOffset : (i.replicaOffset ?? 0);
      if (m.name !== o.writer && writer?.probe && i.role === 'slave')
        m.lagBytes = Math.max(0, writer.probe.info.replOffset - offset);
      this.gauges.up.set(labels, 1);
      this.gauges.used.set(labels, i.usedMemory);
      this.gauges.max.set(labels, i.maxMemory);
      this.gauges.keys.set(labels, i.keys);
      this.gauges.clients.set(labels, i.connectedClients);
      this.gauges.evicted.set(labels, i.evictedKeys);
      this.gauges.offset.set(labels, offset);
      if (m.lagBytes !== undefined) this.gauges.lag.set(labels, m.lagBytes);
      else this.gauges.lag.remove(labels);
    }
    if (sum) o.interval = sum;
    const lookups = (sum?.hits ?? 0) + (sum?.misses ?? 0);
    const tierLabels = { namespace: ns, name: t.metadata.name!, member: '' };
    if (lookups > 0) this.gauges.hitRatio.set(tierLabels, sum!.hits / lookups);
    else this.gauges.hitRatio.remove(tierLabels);
    // Members gone by a scale-down leave no series behind.
    for (let i = o.members.length; i < MAX_MEMBERS; i++)
      this.removeMember(ns, t.metadata.name!, memberPodName(t.metadata.name!, i));
  }

  /** The tier is gone: its counters and every series of it. */
  forget(namespace: string, name: string): void {
    for (const k of this.counters.keys()) if (k.startsWith(`${namespace}/${name}/`)) this.counters.delete(k);
    for (let i = 0; i < MAX_MEMBERS; i++) this.removeMember(namespace, name, memberPodName(name, i));
    this.removeMember(namespace, name, '');
  }

  private removeMember(namespace: string, name: string, member: string): void {
    for (const g of Object.values(this.gauges)) g.remove({ namespace, name, member });
  }
}
