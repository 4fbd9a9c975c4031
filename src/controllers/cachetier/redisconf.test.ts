import { describe, expect, it } from 'vitest';
import { cacheTierObject as tier } from '../../../test/support/objects.ts';
import {
  buildAuthSecret,
  buildOperatorSecret,
  buildRedisConfigMap,
  buildRedisStatefulSet,
  buildTtlConfigMap,
  restartChecksum,
} from './builders.ts';
import { tierLabels } from './names.ts';
import { liveSettings, redisBytes, renderRedisConf } from './redisconf.ts';

describe('redis.conf', () => {
  it("reads sizes Redis's way: k/m/g in 1000s, kb/mb/gb in 1024s", () => {
    expect(redisBytes('2gb')).toBe(2 * 1024 ** 3);
    expect(redisBytes('2g')).toBe(2e9);
    expect(redisBytes('512kb')).toBe(524288);
    expect(redisBytes('100')).toBe(100);
    expect(() => redisBytes('2 GB')).toThrow();
  });
  it("carries the guide's policy: 2gb, allkeys-lru, AOF everysec, timeout and keepalive", () => {
    const live = liveSettings(tier().spec);
    expect(live).toMatchObject({
      maxmemory: String(2 * 1024 ** 3),
      'maxmemory-policy': 'allkeys-lru',
      appendfsync: 'everysec',
      timeout: '300',
      'tcp-keepalive': '60',
    });
    const conf = renderRedisConf(tier().spec);
    expect(conf).toMatch(/^appendonly yes$/m);
    expect(conf).toMatch(/^include \/etc\/redis\/live.conf$/m);
    expect(conf).not.toMatch(/requirepass/);
  });
  it('rolls the pods for a restart setting, not for a live one or a password (rotated live)', () => {
    const base = restartChecksum(tier());
    expect(
      restartChecksum(tier({ maxMemory: '1gb', maxMemoryPolicy: 'allkeys-lfu', timeoutSeconds: 10 })),
    ).toBe(base);
    expect(restartChecksum(tier({ persistence: { appendOnly: false } }))).not.toBe(base);
    expect(
      (buildRedisConfigMap(tier({ maxMemory: '1gb' })).data as Record<string, string>)['live.conf'],
    ).toContain(`maxmemory ${1024 ** 3}`);
  });
  it('runs Redis non-root with a read-only root and the password from a file', () => {
    const sts = buildRedisStatefulSet(tier()) as unknown as {
      spec: { template: { spec: { containers: { securityContext: unknown; command: string[] }[] } } };
    };
    const c = sts.spec.template.spec.containers[0]!;
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      runAsUser: 999,
    });
    expect(c.command.join(' ')).not.toMatch(/pass/);
    expect((buildAuthSecret(tier()).stringData as { password: string }).password).toMatch(
      /^[A-Za-z0-9_-]{43}$/,
    );
    expect(buildTtlConfigMap(tier()).data).toMatchObject({ session: '900', realtime: '30' });
  });

  it("gives its Secrets the labels the controller passes to ensureSecrets (the cache's and the adoption's)", () => {
    for (const s of [buildAuthSecret(tier()), buildOperatorSecret(tier())])
      expect(s.metadata.labels).toEqual(tierLabels(tier(), 'secret'));
  });
});
