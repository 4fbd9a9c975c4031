/** Exact per-member figures for Prometheus (status keeps them steady within a band). */
import { Gauge, type Registry } from 'prom-client';
import type { MemberDecision } from './status.ts';

type L = 'namespace' | 'name' | 'member';

export class ReplicaMetrics {
  readonly lagSeconds: Gauge<L>;
  readonly lagBytes: Gauge<L>;
  readonly inReadService: Gauge<L>;
  /** Members with series, by namespace/name: removed ones lose theirs. */
  private readonly known = new Map<string, Set<string>>();

  constructor(registry: Registry) {
    const g = (name: string, help: string) =>
      new Gauge<L>({ name, help, labelNames: ['namespace', 'name', 'member'], registers: [registry] });
    this.lagSeconds = g(
      'homeops_replica_lag_seconds',
      'Age of the oldest change the member has not replayed (0 when caught up); absent when not measured',
    );
    this.lagBytes = g(
      'homeops_replica_lag_bytes',
      "The primary's WAL position minus the member's replay position",
    );
    this.inReadService = g('homeops_replica_in_read_service', '1 when the read Service routes to the member');
  }

  /** The members' figures now; a member not measured has no lag series, not a stale one. */
  set(namespace: string, replicaset: string, decisions: readonly MemberDecision[]): void {
    const key = `${namespace}/${replicaset}`;
    const before = this.known.get(key) ?? new Set<string>();
    const now = new Set(decisions.map((d) => d.name));
    for (const gone of before) if (!now.has(gone)) this.remove(namespace, replicaset, gone);
    for (const d of decisions) {
      const l = { namespace, name: replicaset, member: d.name };
      if (d.lagSeconds !== undefined) this.lagSeconds.set(l, d.lagSeconds);
      else this.lagSeconds.remove(l);
      if (d.lagBytes !== undefined) this.lagBytes.set(l, d.lagBytes);
      else this.lagBytes.remove(l);
      this.inReadService.set(l, d.in ? 1 : 0);
    }
    this.known.set(key, now);
  }

  forget(namespace: string, replicaset: string): void {
    const key = `${namespace}/${replicaset}`;
    for (const m of this.known.get(key) ?? []) this.remove(namespace, replicaset, m);
    this.known.delete(key);
  }

  private remove(namespace: string, replicaset: string, member: string): void {
    const l = { namespace, name: replicaset, member };
    this.lagSeconds.remove(l);
    this.lagBytes.remove(l);
    this.inReadService.remove(l);
  }
}
