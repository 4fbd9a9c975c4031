/**
 * Password rotation without dropping a client: when the Secret gets a new password, Redis's
 * default user accepts it beside the old one(s) (`ACL SETUSER default on >NEW`); clients move
 * to the new one while both work; after `auth.rotationGraceSeconds` the old ones are removed
 * (`ACL SETUSER default resetpass >NEW`). The operator decides from the password hashes ACL
 * GETUSER shows (SHA-256, Redis's own form), so it needs no copy of an old password, and
 * manages Redis meanwhile as its own ACL user. Pure.
 */
import { createHash } from 'node:crypto';

export const passwordHash = (password: string) => createHash('sha256').update(password).digest('hex');

export type RotationAction =
  | { kind: 'none' }
  | { kind: 'add' }
  | { kind: 'wait'; sinceMs: number; untilMs: number }
  | { kind: 'finish' };

/**
 * The next step, from the hashes Redis accepts for the default user, the wanted password's
 * hash, when the rotation started (from status; undefined when none is recorded) and the grace.
 */
export function rotationStep(
  live: readonly string[],
  wanted: string,
  sinceMs: number | undefined,
  nowMs: number,
  graceMs: number,
): RotationAction {
  if (!live.includes(wanted)) return { kind: 'add' };
  if (live.length === 1) return { kind: 'none' };
  const since = sinceMs ?? nowMs; // both accepted, no record (the operator restarted): a full grace
  return nowMs - since >= graceMs
    ? { kind: 'finish' }
    : { kind: 'wait', sinceMs: since, untilMs: since + graceMs };
}
