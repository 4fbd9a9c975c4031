import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { ReplicaMetrics } from './metrics.ts';

describe('ReplicaMetrics', () => {
  it('exports each member, drops a member that left, and gives no lag for one not measured', async () => {
    const registry = new Registry();
    const m = new ReplicaMetrics(registry);
    m.set('ns', 'reads', [
      { name: 'reads-replica-0', in: true, state: 'streaming', lagSeconds: 0.2, lagBytes: 512 },
      { name: 'reads-replica-1', in: false, state: 'streaming', lagSeconds: 9, lagBytes: 4096 },
    ]);
    let text = await registry.metrics();
    expect(text).toContain(
      'homeops_replica_lag_seconds{namespace="ns",name="reads",member="reads-replica-1"} 9',
    );
    expect(text).toContain(
      'homeops_replica_in_read_service{namespace="ns",name="reads",member="reads-replica-1"} 0',
    );
    m.set('ns', 'reads', [{ name: 'reads-replica-0', in: true, state: 'NotStreaming' }]);
    text = await registry.metrics();
    expect(text).not.toContain('reads-replica-1');
    expect(text).not.toMatch(/homeops_replica_lag_seconds\{[^}]*reads-replica-0/);
    expect(text).toContain(
      'homeops_replica_in_read_service{namespace="ns",name="reads",member="reads-replica-0"} 1',
    );
    m.forget('ns', 'reads');
    expect(await registry.metrics()).not.toContain('reads-replica');
  });
});
