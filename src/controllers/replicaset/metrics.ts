/** Exact per-member figures for Prometheus (status keeps them steady within a band). */
import type { Registry } from 'prom-client';
import { ObjectGauges } from '../../common/series.ts';
import type { MemberDecision } from './status.ts';

const member = ['member'] as const;

export class ReplicaMetrics {
  private readonly series: ObjectGauges<'lagSeconds' | 'lagBytes' | 'inReadService'>;

  constructor(registry: Registry) {
    this.series = new ObjectGauges(registry, {
      lagSeconds: {
        name: 'homeops_replica_lag_seconds',
        help: 'Age of the oldest change the member has not replayed (0 when caught up); absent when not measured',
        labels: member,
      },
      lagBytes: {
        name: 'homeops_replica_lag_bytes',
        help: "The primary's WAL position minus the member's replay position",
        labels: member,
      },
      inReadService: {
        name: 'homeops_replica_in_read_service',
        help: '1 when the read Service routes to the member',
        labels: member,
      },
    });
  }

  /** The members' figures now: a member gone has no series, one not measured no lag series. */
  set(namespace: string, name: string, decisions: readonly MemberDecision[]): void {
    this.series.record(namespace, name, (set) => {
      for (const d of decisions) {
        set('lagSeconds', d.lagSeconds, { member: d.name });
        set('lagBytes', d.lagBytes, { member: d.name });
        set('inReadService', d.in ? 1 : 0, { member: d.name });
      }
    });
  }

  forget(namespace: string, name: string): void {
    this.series.forget(namespace, name);
  }
}
