import { describe, expect, it } from 'vitest';
import {
  type HomeOpsDatabase,
  homeOpsDatabaseSpec,
  type ReplicaSet,
  replicaSetSpec,
} from '../../api/v1alpha1/index.ts';
import { buildReadService, buildReplicaConfigMap, buildReplicaStatefulSet } from './builders.ts';
import { nextMeasurementMs } from './controller.ts';
import { lagSeconds, lsnBytes, parseLsn } from './lag.ts';
import { ordinalOf, READ_LABEL, slotName, slotOrdinal, slotPrefix } from './names.ts';
import {
  decideMembers,
  type MemberView,
  type Observation,
  REJOIN_FRACTION,
  replicaSetStatus,
} from './status.ts';

const db: HomeOpsDatabase = {
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: { name: 'db', namespace: 'ns', uid: 'd' },
  spec: homeOpsDatabaseSpec.parse({ postgres: { parameters: { max_connections: '300' } } }),
};
const rs = (over: Record<string, unknown> = {}, name = 'reads'): ReplicaSet => ({
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'ReplicaSet',
  metadata: { name, namespace: 'ns', uid: 'r', generation: 2 },
  spec: replicaSetSpec.parse({ databaseRef: { name: 'db' }, replicas: 2, ...over }),
});

describe('slot names', () => {
  it('are valid slot names, one per ordinal, and recognised only for their ReplicaSet', () => {
    expect(slotName(rs(), 0)).toBe('hors_reads_0');
    expect(slotOrdinal(rs(), 'hors_reads_12')).toBe(12);
    expect(slotOrdinal(rs(), 'hors_reads_x')).toBeUndefined();
    expect(slotOrdinal(rs({}, 'reads-2'), 'hors_reads_2_0')).toBe(0);
    expect(slotOrdinal(rs(), 'hors_reads_2_0')).toBeUndefined();
    const long = rs({}, `${'a'.repeat(30)}-${'b'.repeat(32)}`);
    const other = rs({}, `${'a'.repeat(30)}-${'b'.repeat(31)}c`);
    expect(slotName(long, 15)).toMatch(/^[a-z0-9_]{1,63}$/);
    expect(slotPrefix(long)).not.toBe(slotPrefix(other));
  });
  it('maps pod names to ordinals', () => {
    expect(ordinalOf(rs(), 'reads-replica-3')).toBe(3);
    expect(ordinalOf(rs(), 'reads-replica-03')).toBeUndefined();
    expect(ordinalOf(rs(), 'other-replica-3')).toBeUndefined();
  });
});

describe('WAL positions', () => {
  it('parses LSNs and never gives negative lag', () => {
    expect(parseLsn('1/0')).toBe(4294967296n);
    expect(lsnBytes('0/3000148', '0/3000000')).toBe(0x148);
    expect(lsnBytes('0/3000000', '0/3000148')).toBe(0);
    expect(() => parseLsn('nope')).toThrow(/not a WAL position/);
  });
});

describe('lag in seconds', () => {
  const base = {
    caughtUpAtFirst: false,
    caughtUpAfterMs: undefined,
    waitedMs: 1000,
    nowOnPrimaryMs: 100_000,
  };
  it.each<[string, Parameters<typeof lagSeconds>[0], number | undefined]>([
    [
      'caught up at once: 0, however old the last commit (an idle primary)',
      { ...base, caughtUpAtFirst: true, replayedAtMs: 0 },
      0,
    ],
    ['caught up while watched: the time it took', { ...base, caughtUpAfterMs: 300, replayedAtMs: 0 }, 0.3],
    ['stuck: now minus the last replayed commit', { ...base, replayedAtMs: 88_000 }, 12],
    ['never below the time waited', { ...base, replayedAtMs: 99_900 }, 1],
    ['nothing replayed since start: not measured', { ...base, replayedAtMs: undefined }, undefined],
  ])('%s', (_, input, want) => {
    expect(lagSeconds(input).lagSeconds).toBe(want);
  });
});

const member = (over: Partial<MemberView> = {}): MemberView => ({
  name: 'reads-replica-0',
  pod: true,
  podReady: true,
  wasIn: true,
  replication: { applicationName: 'reads-replica-0', state: 'streaming', replayLsn: '0/1' },
  measurement: { replayLsn: '0/1', paused: false, lagSeconds: 0, lagBytes: 0 },
  ...over,
});
const lagOf = (s: number) => ({
  measurement: { replayLsn: '0/1', paused: false, lagSeconds: s, lagBytes: 10 },
});

describe('decideMembers: who is in the read Service', () => {
  const reached = { primaryReached: true };
  it.each<[string, Partial<MemberView>, typeof reached, boolean, string]>([
    ['streaming within the bound', {}, reached, true, 'streaming'],
    ['over the bound: out', lagOf(5.1), reached, false, 'streaming'],
    ['at the bound: stays', lagOf(5), reached, true, 'streaming'],
    [
      'out, under the bound but above the rejoin mark: stays out',
      { ...lagOf(4.5), wasIn: false },
      reached,
      false,
      'streaming',
    ],
    [
      'out, at the rejoin mark: back in',
      { ...lagOf(5 * REJOIN_FRACTION), wasIn: false },
      reached,
      true,
      'streaming',
    ],
    [
      'no pg_stat_replication row: named, no number',
      { replication: undefined, measurement: undefined },
      reached,
      false,
      'NotStreaming',
    ],
    ['pod not Ready', { podReady: false }, reached, false, 'Starting'],
    [
      'pod failing',
      { podReady: false, problem: { reason: 'BaseBackupFailed', message: 'password authentication failed' } },
      reached,
      false,
      'BaseBackupFailed',
    ],
    [
      'primary not reached: unchanged (in)',
      { measurement: undefined },
      { primaryReached: false },
      true,
      'Unknown',
    ],
    [
      'primary not reached: unchanged (out)',
      { measurement: undefined, wasIn: false },
      { primaryReached: false },
      false,
      'Unknown',
    ],
    [
      'member not reached: unchanged',
      { measurement: undefined, measureError: 'timeout' },
      reached,
      true,
      'streaming',
    ],
  ])('%s', (_, over, o, wantIn, state) => {
    const [d] = decideMembers([member(over)], o, 5);
    expect(d!.in).toBe(wantIn);
    expect(d!.state).toBe(state);
    if (state === 'NotStreaming') expect(d!.lagSeconds).toBeUndefined();
  });
});

describe('replicaSetStatus', () => {
  const o = (members: MemberView[], over: Partial<Observation> = {}): Observation => ({
    database: { state: 'Ready', message: 'ok' },
    primaryReached: true,
    members,
    replicas: members.length,
    readyReplicas: members.filter((m) => m.podReady).length,
    ...over,
  });
  const status = (r: ReplicaSet, obs: Observation, prev = {}) =>
    replicaSetStatus(r, obs, decideMembers(obs.members, obs, r.spec.maxLagSeconds), prev);
  const cond = (s: ReturnType<typeof status>, t: string) => s.conditions?.find((c) => c.type === t);
  const two = [
    member(),
    member({
      name: 'reads-replica-1',
      replication: { applicationName: 'reads-replica-1', state: 'streaming' },
    }),
  ];

  it('Ready with both members in; scale fields for the scale subresource', () => {
    const s = status(rs(), o(two));
    expect(cond(s, 'Ready')?.status).toBe('True');
    expect(cond(s, 'LagExceeded')?.status).toBe('False');
    expect(s.selector).toBe('homeops.io/replicaset=reads,homeops.io/role=replica');
    expect(s.readEndpoint).toBe('reads-ro.ns.svc:5432');
    expect(s.members?.map((m) => m.inReadService)).toEqual([true, true]);
    expect(s.readServiceTarget).toBe('Members');
  });
  it.each<[string, Observation, string]>([
    [
      'missing database',
      o([], { database: { state: 'Missing', message: 'HomeOpsDatabase db not found' } }),
      'DatabaseNotFound',
    ],
    [
      'primary not ready',
      o([], { database: { state: 'NotReady', message: 'waiting' }, primaryReached: false }),
      'PrimaryNotReady',
    ],
    [
      'a member failing its base backup',
      o([
        member(),
        member({
          name: 'reads-replica-1',
          podReady: false,
          problem: { reason: 'BaseBackupFailed', message: 'auth' },
        }),
      ]),
      'BaseBackupFailed',
    ],
    ['one member lagging', o([member(), member({ name: 'reads-replica-1', ...lagOf(9) })]), 'LagExceeded'],
    [
      'every member lagging',
      o([member(lagOf(9)), member({ name: 'reads-replica-1', ...lagOf(9) })]),
      'AllMembersLagging',
    ],
  ])('Ready False: %s', (_, obs, reason) => {
    const s = status(rs(), obs);
    expect(cond(s, 'Ready')).toMatchObject({ status: 'False', reason });
  });
  it('says when every member is out and where the read Service then routes', () => {
    const obs = o([member(lagOf(9)), member({ name: 'reads-replica-1', ...lagOf(9) })]);
    expect(status(rs(), obs).readServiceTarget).toBe('None');
    expect(cond(status(rs(), obs), 'Ready')?.message).toMatch(/routes nowhere/);
    expect(status(rs({ fallbackToPrimary: true }), obs).readServiceTarget).toBe('Primary');
    expect(cond(status(rs(), obs), 'LagExceeded')).toMatchObject({ status: 'True' });
  });
  it('keeps figures that moved less than the band: nothing to write', () => {
    const first = status(rs(), o(two));
    const again = status(rs(), o([member(lagOf(0.3)), two[1]!]), first);
    expect(again).toEqual(first);
    const moved = status(rs(), o([member(lagOf(3)), two[1]!]), first);
    expect(moved.members?.[0]?.lagSeconds).toBe(3);
  });
  it('leaves lag out for a member not measured, rather than guess', () => {
    const s = status(rs(), o([member({ replication: undefined, measurement: undefined })]));
    expect(s.members?.[0]).not.toHaveProperty('lagSeconds');
    expect(s.maxLagSeconds).toBeUndefined();
  });
});

interface Sts {
  replicas: number;
  persistentVolumeClaimRetentionPolicy: { whenScaled: string };
  template: {
    metadata: { labels: Record<string, string> };
    spec: { containers: { securityContext: unknown }[]; volumes: { secret?: { secretName: string } }[] };
  };
}

describe('builders', () => {
  const plan = { replicas: 2, readFromPrimary: false, secretsDigest: 'x' };
  it("gives members the primary's settings and their own slots", () => {
    const cm = buildReplicaConfigMap(rs(), db);
    const data = cm.data as Record<string, string>;
    expect(data['postgresql.conf']).toMatch(/^max_connections = 300$/m);
    expect(data['postgresql.conf']).toMatch(/^hot_standby = on$/m);
    expect(data['start.sh']).toContain(`slot="hors_reads_\${member##*-}"`);
    expect(data['start.sh']).toContain('pg_basebackup -h db-rw.ns.svc');
    expect(data['start.sh']).not.toMatch(/PGPASSWORD/);
  });
  it('runs the members non-root, read-only, with the replication Secret only', () => {
    const sts = buildReplicaStatefulSet(rs(), db, plan) as unknown as { spec: Sts };
    expect(sts.spec.replicas).toBe(2);
    const pod = sts.spec.template.spec;
    expect(pod.containers[0]?.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
    });
    expect(pod.volumes.filter((v) => v.secret).map((v) => v.secret!.secretName)).toEqual(['db-replication']);
    expect(sts.spec.persistentVolumeClaimRetentionPolicy.whenScaled).toBe('Delete');
    expect(sts.spec.template.metadata.labels).not.toHaveProperty(READ_LABEL);
  });
  it('routes the read Service to labelled members, or to the primary when the plan says', () => {
    expect((buildReadService(rs(), db, plan).spec as { selector: unknown }).selector).toEqual({
      'homeops.io/replicaset': 'reads',
      'homeops.io/role': 'replica',
      [READ_LABEL]: 'in',
    });
    expect(
      (buildReadService(rs(), db, { ...plan, readFromPrimary: true }).spec as { selector: unknown }).selector,
    ).toEqual({
      'homeops.io/database': 'db',
      'homeops.io/role': 'primary',
    });
  });
});

describe('nextMeasurementMs', () => {
  const d = (lagSeconds: number | undefined, inRead = true) => ({
    name: 'm',
    in: inRead,
    state: 'streaming',
    ...(lagSeconds !== undefined ? { lagSeconds } : {}),
  });
  const r = rs({ maxLagSeconds: 5, healthCheckIntervalSeconds: 30 });
  it.each<[string, ReturnType<typeof d>[], number]>([
    ['caught up: the interval', [d(0)], 30_000],
    ['a little behind: the interval', [d(0.5)], 30_000],
    ['behind: when it would reach the bound', [d(0), d(3)], 2_250],
    ['at the bound: soon, not in a busy loop', [d(5)], 1_000],
    ['already out: the interval', [d(9, false)], 30_000],
    ['not measured: the interval', [d(undefined)], 30_000],
  ])('%s', (_, decisions, want) => {
    expect(nextMeasurementMs(r, decisions)).toBe(want);
  });
});
