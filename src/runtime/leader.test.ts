import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeClient, RequestSpec } from './client.ts';
import { KubeApiError } from './errors.ts';
import { LeaderElector } from './leader.ts';
import { RuntimeMetrics } from './metrics.ts';

/** A Lease API whose PUTs (renewals) hang forever once `hangAfter` of them went through. */
function leaseApi(hangAfter: number) {
  let lease: Record<string, unknown> | undefined;
  const sent: string[] = [];
  let puts = 0;
  const client = {
    request: async (spec: RequestSpec) => {
      sent.push(`${spec.method} timeout=${spec.timeoutMs !== undefined}`);
      if (spec.method === 'GET') {
        if (!lease) throw new KubeApiError(404, 'NotFound', 'not found', 'GET', spec.path);
        return structuredClone(lease);
      }
      if (spec.method === 'PUT' && ++puts > hangAfter) return new Promise(() => {}); // a dead connection
      lease = {
        ...(spec.body as object),
        metadata: { name: 'l', namespace: 'ns', resourceVersion: String(sent.length) },
      };
      return structuredClone(lease);
    },
  } as unknown as KubeClient;
  return { client, sent };
}

describe('LeaderElector', () => {
  it('gives up leadership at the renew deadline while a renewal hangs, and every call has a deadline', async () => {
    const api = leaseApi(1);
    const events: string[] = [];
    const elector = new LeaderElector(
      api.client,
      {
        namespace: 'ns',
        name: 'l',
        identity: 'me',
        leaseDurationMs: 1500,
        renewDeadlineMs: 500,
        retryPeriodMs: 50,
      },
      new RuntimeMetrics(),
      pino({ level: 'silent' }),
    );
    const lost = new Promise<void>((resolve) =>
      elector.run(
        () => events.push('started'),
        () => {
          events.push('stopped');
          resolve();
        },
      ),
    );
    await lost;
    expect(events).toEqual(['started', 'stopped']);
    expect(elector.isLeader).toBe(false);
    // The renewal that hung is still pending: leadership ended without waiting for it.
    expect(api.sent.filter((s) => s.startsWith('PUT')).length).toBe(2);
    expect(api.sent.every((s) => s.endsWith('timeout=true'))).toBe(true);
    // It does not run for leadership again: the process exits and restarts as a standby.
    const before = api.sent.length;
    await new Promise((r) => setTimeout(r, 200));
    expect(api.sent.length).toBe(before);
    await elector.release();
  });
});
