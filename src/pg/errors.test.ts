import { describe, expect, it } from 'vitest';
import { failureReason } from '../jobs/errors.ts';
import { classifyPgError, PgError } from './errors.ts';

describe('classifyPgError: one classifier for the prober and the jobs', () => {
  it.each([
    [{ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:1' }, 'ConnectionRefused', true],
    [{ code: 'EHOSTUNREACH', message: 'connect EHOSTUNREACH 198.19.0.7:5432' }, 'ConnectionTimeout', true],
    [new Error('timeout expired'), 'ConnectionTimeout', true],
    [new Error('Connection terminated unexpectedly'), 'ConnectionTimeout', true],
    [
      { code: '28P01', message: 'password authentication failed for user "x"' },
      'AuthenticationFailed',
      false,
    ],
    [{ code: '3D000', message: 'database "nope" does not exist' }, 'DatabaseMissing', false],
    [
      { code: '57P01', message: 'terminating connection due to administrator command' },
      'ConnectionLost',
      true,
    ],
    [{ code: '57P03', message: 'the database system is starting up' }, 'ConnectionLost', true],
    [{ code: '08006', message: 'connection failure' }, 'ConnectionLost', true],
    // A protocol refusal is the server's answer, not a lost connection: no retry.
    [{ code: '08P01', message: 'unsupported startup parameter: statement_timeout' }, 'QueryFailed', false],
    [{ code: '42P01', message: 'relation "x" does not exist' }, 'QueryFailed', false],
    [new PgError('DatabaseMissing', 'gone'), 'DatabaseMissing', false],
  ])('%j is %s', (err, reason, retryable) => {
    expect(classifyPgError(err)).toMatchObject({ reason, retryable });
  });

  it('gives the jobs the same answer, coarser: every failure to get or keep a session is ConnectionFailed', () => {
    for (const code of ['28P01', '3D000', '08006', '57P01', 'ECONNREFUSED', 'EHOSTUNREACH'])
      expect(failureReason(Object.assign(new Error(code), { code })), code).toBe('ConnectionFailed');
    for (const code of ['42P01', '08P01', '23505'])
      expect(failureReason(Object.assign(new Error(code), { code })), code).toBe('QueryFailed');
  });
});
