import { describe, expect, it } from 'vitest';
import { aclPasswords } from './probe.ts';
import { passwordHash, rotationStep } from './rotation.ts';

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
