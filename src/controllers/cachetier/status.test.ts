import { describe, expect, it } from 'vitest';
import { REDIS_INFO as INFO, cacheTierObject as tier } from '../../../test/support/objects.ts';
import { parseInfo, type RedisProbe } from './probe.ts';
import { type MemberObservation, type Observation, tierStatus } from './status.ts';

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
    expect(s.writerLostSince).toBeUndefined();
    // The clock's start is in status while no writer answers, for a leader that comes next.
    const lost = tierStatus(t, { ...o([]), writerLostSince: '2026-12-03T10:00:12.000Z' }, {});
    expect(lost.writerLostSince).toBe('2026-12-03T10:00:12.000Z');
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
