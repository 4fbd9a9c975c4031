import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cacheTierObject, REDIS_INFO } from '../../../test/support/objects.ts';
import { CacheMetrics } from './metrics.ts';
import { parseInfo, type RedisProbe } from './probe.ts';
import type { Observation } from './status.ts';

const probe = (hits: number): RedisProbe => {
  const info = parseInfo(REDIS_INFO);
  return {
    info: { ...info, keyspaceHits: hits },
    config: { set: {}, refused: {} },
    rotation: { action: { kind: 'none' }, hashes: [] },
  } as unknown as RedisProbe;
};
const seen = (hits: number): Observation => ({
  replicas: 1,
  readyReplicas: 1,
  writer: 'cache-redis-0',
  members: [{ name: 'cache-redis-0', ordinal: 0, probe: probe(hits) }],
});
const series = async (r: Registry) =>
  (await r.metrics()).split('\n').filter((l) => l.startsWith('homeops_cache_'));

describe('CacheMetrics', () => {
  it("counts the interval's hits from the last visit, not across a restart", () => {
    const m = new CacheMetrics(new Registry());
    const t = cacheTierObject();
    const first = seen(90);
    m.update(t, first);
    expect(first.interval).toBeUndefined(); // nothing to compare with yet
    const second = seen(130);
    m.update(t, second);
    expect(second.interval?.hits).toBe(40);
    const restarted = seen(5);
    m.update(t, restarted);
    expect(restarted.interval).toBeUndefined();
  });

  it('forgets a tier: its series and its counters go', async () => {
    const registry = new Registry();
    const m = new CacheMetrics(registry);
    const t = cacheTierObject();
    m.update(t, seen(90));
    m.update(t, seen(100));
    expect((await series(registry)).some((l) => l.includes('name="cache"'))).toBe(true);
    m.forget('ns', 'cache');
    expect(await series(registry)).toEqual([]);
    // A tier of the same name made again starts with no interval from the old one.
    const again = seen(200);
    m.update(t, again);
    expect(again.interval).toBeUndefined();
  });
});
