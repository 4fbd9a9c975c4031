import { describe, expect, it } from 'vitest';
import { replicaSetObject as rs } from '../../../test/support/objects.ts';
import type { ReplicaSet } from '../../api/v1alpha1/index.ts';
import {
  decideMembers,
  type MemberView,
  type Observation,
  REJOIN_FRACTION,
  replicaSetStatus,
} from './status.ts';

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
