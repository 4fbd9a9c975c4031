import { describe, expect, it } from 'vitest';
import { nextRestart, type RollMember } from './roll.ts';
import { type MemberView, planTopology, type TopologyInput } from './topology.ts';

const IP = (i: number) => `198.18.0.${10 + i}`;
/** Member i: a writer (offset o), a replica of member `of` (offset o, link up), or silent. */
const writer = (i: number, offset = 100, label?: string): MemberView => ({
  name: `r-${i}`,
  ordinal: i,
  podIP: IP(i),
  reachable: true,
  role: 'master',
  offset,
  ...(label ? { label } : {}),
});
const replica = (i: number, of: number | string, offset = 100, linkUp = true): MemberView => ({
  name: `r-${i}`,
  ordinal: i,
  podIP: IP(i),
  reachable: true,
  role: 'slave',
  masterHost: typeof of === 'number' ? IP(of) : of,
  linkUp,
  offset,
});
const silent = (i: number): MemberView => ({ name: `r-${i}`, ordinal: i, reachable: false, offset: 0 });
const plan = (members: MemberView[], over: Partial<TopologyInput> = {}) =>
  planTopology({ members, elected: 'r-0', nowMs: 100_000, failoverAfterMs: 15_000, ...over });

describe('planTopology', () => {
  it('bootstrap: every member starts as a replica of the empty writer Service; the first is promoted', () => {
    const p = plan([replica(0, 'cache.ns.svc', 0, false), replica(1, 'cache.ns.svc', 0, false)], {
      elected: undefined,
    });
    expect(p).toMatchObject({ writer: 'r-0', promote: { reason: 'Bootstrap' }, repoint: ['r-1'] });
    expect(p.labels).toEqual({ 'r-0': 'writer', 'r-1': null });
  });
  it('steady: labels only, replicas linked to the writer are in NAME-ro', () => {
    const p = plan([writer(0, 100, 'writer'), replica(1, 0), replica(2, 0, 90, false)]);
    expect(p).toEqual({
      writer: 'r-0',
      demote: [],
      repoint: [],
      labels: { 'r-0': 'writer', 'r-1': 'replica', 'r-2': null },
    });
  });
  it('the writer unreachable: nothing moves before failoverAfter, then the replica furthest ahead is promoted', () => {
    const members = [silent(0), replica(1, 0, 90), replica(2, 0, 120)];
    const early = plan(members, { writerLostSinceMs: 90_000 });
    expect(early.writer).toBeUndefined();
    expect(early.waiting).toMatchObject({ reason: 'WriterUnreachable', failoverAtMs: 105_000 });
    expect(early.labels).toEqual({});
    const late = plan(members, { writerLostSinceMs: 85_000 });
    expect(late).toMatchObject({
      writer: 'r-2',
      promote: { reason: 'Failover', from: 'r-0', offset: 120 },
      repoint: ['r-1'],
    });
    expect(late.labels).toEqual({ 'r-0': null, 'r-1': null, 'r-2': 'writer' });
  });
  it('the old writer back as a writer beside the promoted one: it is demoted, never two writers', () => {
    const p = plan([writer(0, 500), replica(1, 2), writer(2, 130, 'writer')], { elected: 'r-2' });
    expect(p).toMatchObject({ writer: 'r-2', demote: ['r-0'] });
    expect(p.labels).toEqual({ 'r-0': null, 'r-1': 'replica', 'r-2': 'writer' });
  });
  it('the writer restarted (its offset reset): a replica ahead of it is promoted at once, without waiting', () => {
    const p = plan([replica(0, 'cache.ns.svc', 0, false), replica(1, 0, 300, false)], {
      writerLostSinceMs: 99_000,
    });
    expect(p).toMatchObject({
      writer: 'r-1',
      promote: { reason: 'Failover', from: 'r-0' },
      repoint: ['r-0'],
    });
  });
  it('the whole tier restarted (every offset reset): the elected writer again, its data is the latest', () => {
    const p = plan([replica(0, 'cache.ns.svc', 0, false), replica(1, 'cache.ns.svc', 0, false)], {
      elected: 'r-1',
    });
    expect(p).toMatchObject({ writer: 'r-1', promote: { reason: 'WriterRestarted' } });
  });
  it('nobody answers: no writer, and why', () => {
    expect(plan([silent(0), silent(1)], { elected: undefined }).waiting?.reason).toBe('NoMemberAnswers');
    expect(plan([silent(0), silent(1)], { writerLostSinceMs: 0 }).waiting?.reason).toBe('NoMemberAnswers');
  });
  it('a failover prefers a member a scale-down keeps', () => {
    const p = plan([silent(0), replica(1, 0, 90), { ...replica(2, 0, 120), leaving: true }], {
      writerLostSinceMs: 0,
    });
    expect(p.writer).toBe('r-1');
  });
  it('one writer that is not the elected one (promoted by hand, or the operator stopped mid-way) is accepted', () => {
    const p = plan([replica(0, 1), writer(1, 100)]);
    expect(p).toMatchObject({ writer: 'r-1', demote: [], repoint: [] });
    expect(p.promote).toBeUndefined();
  });
});

describe('nextRestart', () => {
  const m = (i: number, outdated: boolean, settled = true, offset = 100): RollMember => ({
    name: `r-${i}`,
    ordinal: i,
    outdated,
    settled,
    offset,
    podIP: IP(i),
  });
  it.each<[string, RollMember[], string, ReturnType<typeof nextRestart>]>([
    ['nothing outdated', [m(0, false), m(1, false)], 'r-0', { kind: 'none' }],
    [
      'replicas first, highest ordinal first',
      [m(0, true), m(1, true), m(2, true)],
      'r-1',
      {
        kind: 'delete',
        name: 'r-2',
      },
    ],
    [
      'one at a time',
      [m(0, true), m(1, false, false), m(2, true)],
      'r-0',
      {
        kind: 'wait',
        message: 'restart waits for r-1 to be up and linked',
      },
    ],
    [
      'the writer last, after a switchover to the replica furthest ahead',
      [m(0, true), m(1, false, true, 90), m(2, false, true, 99)],
      'r-0',
      {
        kind: 'switchover',
        from: 'r-0',
        to: 'r-2',
        toIP: IP(2),
        why: 'restart',
      },
    ],
    ['a lone writer is simply restarted', [m(0, true)], 'r-0', { kind: 'delete', name: 'r-0' }],
  ])('%s', (_, members, w, step) => {
    expect(nextRestart(members, w, members.length)).toEqual(step);
  });
  it('a scale-down that removes the writer switches over to a member that stays first', () => {
    const members = [m(0, false, true, 90), m(1, false, true, 95), m(2, false)];
    expect(nextRestart(members, 'r-2', 2)).toEqual({
      kind: 'switchover',
      from: 'r-2',
      to: 'r-1',
      toIP: IP(1),
      why: 'scale-down',
    });
    expect(nextRestart(members, 'r-0', 2)).toEqual({ kind: 'none' });
  });
});
