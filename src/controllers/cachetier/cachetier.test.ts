import { describe, expect, it } from 'vitest';
import { type CacheTier, cacheTierSpec } from '../../api/v1alpha1/index.ts';
import {
  buildAuthSecret,
  buildOperatorSecret,
  buildRedisConfigMap,
  buildRedisStatefulSet,
  buildTtlConfigMap,
  restartChecksum,
} from './builders.ts';
import { readPassword } from './controller.ts';
import { tierLabels } from './names.ts';
import { aclPasswords, parseInfo, type RedisProbe } from './probe.ts';
import { liveSettings, redisBytes, renderRedisConf } from './redisconf.ts';
import { passwordHash, rotationStep } from './rotation.ts';
import { type MemberObservation, type Observation, tierStatus } from './status.ts';

const tier = (spec: Record<string, unknown> = {}): CacheTier => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'CacheTier',
  metadata: { name: 'cache', namespace: 'ns', uid: 'u', generation: 4 },
  spec: cacheTierSpec.parse(spec),
});

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

describe('readPassword', () => {
  const secret = (data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  it('takes a password, and names what is wrong without the value', () => {
    expect(readPassword(secret({ password: 'abc' }))).toEqual({ password: 'abc' });
    expect(readPassword(secret({ pass: 'abc' }))).toMatchObject({ reason: 'InvalidSecret' });
    const bad = readPassword(secret({ password: 'a "quoted" one' }));
    expect(bad).toMatchObject({ reason: 'InvalidSecret' });
    expect(JSON.stringify(bad)).not.toContain('quoted');
  });
});

const INFO = `# Server\r\nredis_version:7.0.15\r\n# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nmaxmemory:2097152\r\n# Persistence\r\nloading:0\r\nrdb_changes_since_last_save:5\r\nrdb_last_bgsave_status:ok\r\naof_enabled:1\r\naof_last_bgrewrite_status:ok\r\naof_last_write_status:ok\r\n# Stats\r\nkeyspace_hits:90\r\nkeyspace_misses:10\r\nevicted_keys:7\r\n# Replication\r\nrole:master\r\n# Keyspace\r\ndb0:keys=12,expires=0,avg_ttl=0\r\ndb1:keys=3,expires=0,avg_ttl=0\r\n`;

describe('parseInfo', () => {
  it('reads the figures status needs', () => {
    expect(parseInfo(INFO)).toMatchObject({
      role: 'master',
      usedMemory: 1048576,
      maxMemory: 2097152,
      keys: 15,
      evictedKeys: 7,
      connectedClients: 3,
      aofEnabled: true,
      aofLastWriteStatus: 'ok',
      loading: false,
    });
  });
});

describe('tierStatus', () => {
  const probe = (
    over: Partial<ReturnType<typeof parseInfo>> = {},
    refused: Record<string, string> = {},
  ): RedisProbe => ({
    info: { ...parseInfo(INFO), ...over },
    config: { set: {}, refused },
    rotation: { action: { kind: 'none' }, hashes: [] },
  });
  const W = 'cache-redis-0';
  /** The standalone member observed as `m`. */
  const one = (m: Partial<MemberObservation>, o: Partial<Observation> = {}): Observation => ({
    replicas: 1,
    readyReplicas: 1,
    writer: W,
    members: [{ name: W, ordinal: 0, ...m }],
    ...o,
  });
  const up = one({ probe: probe() });
  const cond = (s: ReturnType<typeof tierStatus>, t: string) => s.conditions?.find((c) => c.type === t);
  it.each<[string, Observation, string]>([
    ['up', up, 'Ready'],
    [
      'no Secret',
      {
        replicas: 0,
        readyReplicas: 0,
        members: [],
        secretProblem: { reason: 'SecretNotFound', message: 'x' },
      },
      'SecretNotFound',
    ],
    ['pod starting', one({}, { readyReplicas: 0 }), 'Provisioning'],
    [
      'pod failing',
      one({ podIssue: { reason: 'ImagePullBackOff', message: 'x' } }, { readyReplicas: 0 }),
      'ImagePullBackOff',
    ],
    ['unreachable', one({ probeError: { reason: 'ConnectionFailed', message: 'x' } }), 'ConnectionFailed'],
    ['loading', one({ probe: probe({ loading: true }) }), 'Loading'],
    ['a value refused', one({ probe: probe({}, { maxmemory: 'ERR bad' }) }), 'ConfigRefused'],
  ])('%s', (_, o, reason) => {
    expect(cond(tierStatus(tier(), o, {}), 'Ready')?.reason).toBe(reason);
  });
  it('says MemoryPressure above 90 % and PersistenceFailing on a failed write', () => {
    const s = tierStatus(
      tier(),
      one({ probe: probe({ usedMemory: 1_950_000, aofLastWriteStatus: 'err' }) }),
      {},
    );
    expect(cond(s, 'MemoryPressure')?.status).toBe('True');
    expect(cond(s, 'PersistenceFailing')).toMatchObject({ status: 'True', message: 'AOF write status err' });
    expect(s.phase).toBe('Degraded');
    expect(cond(s, 'ConfigApplied')?.status).toBe('True');
  });
  it('gives the hit ratio of the last interval only, absent without lookups', () => {
    expect(tierStatus(tier(), { ...up, interval: { hits: 3, misses: 1, evicted: 0 } }, {}).hitRatio).toBe(
      0.75,
    );
    expect(
      tierStatus(tier(), { ...up, interval: { hits: 0, misses: 0, evicted: 0 } }, {}),
    ).not.toHaveProperty('hitRatio');
    expect(tierStatus(tier(), up, {})).not.toHaveProperty('hitRatio');
  });
  it('keeps memory figures that moved less than the band: an idle Redis writes nothing', () => {
    const first = tierStatus(tier(), up, {});
    const again = tierStatus(tier(), one({ probe: probe({ usedMemory: 1_060_000 }) }), first);
    expect(again).toEqual(first);
  });
  it('names the member and the reason of a refused value', () => {
    const s = tierStatus(tier(), one({ probe: probe({}, { maxmemory: 'ERR Invalid argument' }) }), {});
    expect(cond(s, 'ConfigApplied')).toMatchObject({
      status: 'False',
      message: 'cache-redis-0 refused maxmemory: ERR Invalid argument',
    });
    expect(s.config?.refused).toEqual({ maxmemory: 'ERR Invalid argument' });
  });
});

describe('password rotation', () => {
  const a = passwordHash('old');
  const b = passwordHash('new');
  it.each<[string, string[], number | undefined, number, ReturnType<typeof rotationStep>['kind']]>([
    ['steady', [b], undefined, 0, 'none'],
    ['a new password in the Secret: accept it beside the old', [a], undefined, 0, 'add'],
    ['both accepted, within the grace', [a, b], 1000, 1000 + 299_000, 'wait'],
    ['both accepted, grace over: drop the old', [a, b], 1000, 1000 + 300_000, 'finish'],
    ['both accepted, no record (operator restarted): a full grace from now', [a, b], undefined, 5000, 'wait'],
  ])('%s', (_, live, since, now, kind) => {
    expect(rotationStep(live, b, since, now, 300_000).kind).toBe(kind);
  });
  it("reads the hashes from ACL GETUSER's reply, and hashes as Redis does (SHA-256 hex)", () => {
    expect(aclPasswords(['flags', ['on'], 'passwords', [a, b], 'commands', '+@all'])).toEqual([a, b]);
    expect(aclPasswords(null)).toEqual([]);
    expect(passwordHash('foo')).toBe('2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae');
  });
});

describe('tierStatus, replicated', () => {
  const t = tier({ mode: 'replicated', replicas: 3 });
  const info = (over: Partial<ReturnType<typeof parseInfo>>): RedisProbe => ({
    info: { ...parseInfo(INFO), ...over },
    config: { set: {}, refused: {} },
    rotation: { action: { kind: 'none' }, hashes: [] },
  });
  const writerInfo = info({
    role: 'master',
    replOffset: 5000,
    replicas: [
      { ip: '198.18.0.11', state: 'online', offset: 5000, lagSeconds: 0 },
      { ip: '198.18.0.12', state: 'online', offset: 4000, lagSeconds: 12 },
    ],
  });
  const replica = (i: number, linkUp: boolean, inReadService: boolean): MemberObservation => ({
    name: `cache-redis-${i}`,
    ordinal: i,
    podIP: `198.18.0.1${i}`,
    probe: info({ role: 'slave', linkUp, replicaOffset: 4000 }),
    lagBytes: 1000,
    inReadService,
  });
  const o = (members: MemberObservation[]): Observation => ({
    replicas: 3,
    readyReplicas: 3,
    writer: 'cache-redis-0',
    members: [{ name: 'cache-redis-0', ordinal: 0, podIP: '198.18.0.10', probe: writerInfo }, ...members],
  });
  const cond = (s: ReturnType<typeof tierStatus>, type: string) => s.conditions?.find((c) => c.type === type);
  it('names each lagging replica: a link down, an old ack', () => {
    const s = tierStatus(t, o([replica(1, false, false), replica(2, true, true)]), {});
    expect(cond(s, 'ReplicaLagging')).toMatchObject({
      status: 'True',
      message: 'cache-redis-1: link to the writer down; cache-redis-2: last ack 12 s ago',
    });
    expect(cond(s, 'Reconciling')).toMatchObject({ status: 'True', reason: 'Linking' });
    expect(s.members).toEqual([
      { name: 'cache-redis-0', role: 'writer' },
      { name: 'cache-redis-1', role: 'replica', linkUp: false, lagBytes: 1000, inReadService: false },
      { name: 'cache-redis-2', role: 'replica', linkUp: true, lagBytes: 1000, inReadService: true },
    ]);
    expect(s).toMatchObject({ writer: 'cache-redis-0', readEndpoint: 'cache-ro.ns.svc:6379' });
  });
  it('waits for a failover with the reason, not Ready', () => {
    const s = tierStatus(
      t,
      { ...o([]), waiting: { reason: 'WriterUnreachable', message: 'writer cache-redis-0 does not answer' } },
      {},
    );
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason: 'WriterUnreachable' });
  });
  it('says unknown for a member that did not answer, with why', () => {
    const s = tierStatus(
      t,
      o([
        { name: 'cache-redis-1', ordinal: 1, probeError: { reason: 'ConnectionFailed', message: 'timeout' } },
      ]),
      {},
    );
    expect(s.members?.[1]).toEqual({ name: 'cache-redis-1', role: 'unknown', message: 'timeout' });
  });
});

describe('parseInfo, replication', () => {
  it("reads a writer's replicas and a replica's link", () => {
    const w = parseInfo(
      '# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=198.18.0.12,port=6379,state=online,offset=4242,lag=1\r\nmaster_repl_offset:4300\r\n',
    );
    expect(w).toMatchObject({
      role: 'master',
      replOffset: 4300,
      replicas: [{ ip: '198.18.0.12', state: 'online', offset: 4242, lagSeconds: 1 }],
    });
    expect(w).not.toHaveProperty('linkUp');
    const r = parseInfo(
      'role:slave\r\nmaster_host:cache.ns.svc\r\nmaster_link_status:down\r\nmaster_link_down_since_seconds:-1\r\nslave_repl_offset:1\r\nmaster_repl_offset:0\r\n',
    );
    expect(r).toMatchObject({
      role: 'slave',
      masterHost: 'cache.ns.svc',
      linkUp: false,
      linkDownSinceSeconds: -1,
      replicaOffset: 1,
      replicas: [],
    });
  });
});
