import { describe, expect, it } from 'vitest';
import { writerLostSince } from './failover.ts';

const t = (s: number) => new Date(Date.UTC(2026, 11, 3, 10, 0, s)).toISOString();
const ms = (s: number) => Date.parse(t(s));

describe('the failover clock', () => {
  it.each([
    // [status, memory, now, expected]: a new leader (no memory) goes on from status
    ['new leader: from status', t(10), undefined, ms(30), ms(10)],
    [
      'this process saw the last answer, status not written yet',
      undefined,
      { at: ms(12), answered: true },
      ms(30),
      ms(12),
    ],
    ['status written from the same answer', t(12), { at: ms(12), answered: true }, ms(30), ms(12)],
    [
      'status older than an answer this process saw: left from an earlier loss',
      t(5),
      { at: ms(20), answered: true },
      ms(30),
      ms(20),
    ],
    [
      'nothing known: from the first visit that found none',
      undefined,
      { at: ms(25), answered: false },
      ms(30),
      ms(25),
    ],
    ['nothing at all', undefined, undefined, ms(30), ms(30)],
    ['a status time in the future is not trusted', t(40), undefined, ms(30), ms(30)],
    ['an unreadable status is not trusted', 'yesterday', { at: ms(25), answered: false }, ms(30), ms(25)],
  ] as const)('%s', (_why, status, memory, now, expected) => {
    expect(writerLostSince(status, memory, now)).toBe(expected);
  });
});
