/**
 * A CacheTier's passwords: the applications' (the generated Secret, made once, or the user's
 * `auth.secretRef`) and the operator's own ACL user's (always generated); and the rotation of
 * the applications' one as status and Events tell it.
 */
import { adoptByLabel } from '../../runtime/adopt.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { ensureSecrets } from '../../runtime/secrets.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { buildAuthSecret, buildOperatorSecret } from './builders.ts';
import type { Tier } from './members.ts';
import { tierLabels, tierNames } from './names.ts';
import type { Failure, Observation } from './status.ts';

export interface Passwords {
  password: string;
  operator: string;
}

/** The password from a Secret's data, or why it cannot be used (never the value). */
export function readPassword(secret: KubeObject): { password: string } | Failure {
  const name = secret.metadata.name;
  const raw = (secret.data as Record<string, string> | undefined)?.password;
  if (!raw) return { reason: 'InvalidSecret', message: `Secret ${name} has no "password" key` };
  const password = Buffer.from(raw, 'base64').toString('utf8');
  if (/[\s"'\\]/.test(password))
    return {
      reason: 'InvalidSecret',
      message: `Secret ${name}: the password contains whitespace, quotes or backslashes`,
    };
  return { password };
}

/**
 * The passwords, making the generated Secrets once. The user's `auth.secretRef` is labelled so
 * that the operator's cache holds it, but not owned: deleting the tier leaves it. Undefined when
 * a Secret was just made (its event brings the tier back).
 */
export async function ensurePasswords(
  t: Tier,
  ctx: ReconcileContext,
): Promise<Passwords | Failure | undefined> {
  const ns = t.metadata.namespace!;
  const n = tierNames(t);
  const secretLabels = tierLabels(t, 'secret');
  const wanted = [{ name: n.operatorSecret, labels: secretLabels, build: () => buildOperatorSecret(t) }];
  if (!t.spec.auth.secretRef)
    wanted.push({ name: n.authSecret, labels: secretLabels, build: () => buildAuthSecret(t) });
  const made = await ensureSecrets(ctx, t, wanted);
  if (!made) return undefined;
  let secret = made[1];
  if (t.spec.auth.secretRef) {
    secret = await adoptByLabel(ctx, Resources.Secret, ns, n.authSecret);
    if (!secret)
      return {
        reason: 'SecretNotFound',
        message: `Secret ${n.authSecret} (auth.secretRef) not found in ${ns}`,
      };
  }
  const p = readPassword(secret!);
  const op = readPassword(made[0]!);
  if ('reason' in p) return p;
  if ('reason' in op) return op;
  return { password: p.password, operator: op.password };
}

/**
 * The rotation as status shows it, from the writer's step (the others follow the same rule on
 * their own ACLs), and its Events once per tier.
 */
export async function reportRotation(t: Tier, ctx: ReconcileContext, o: Observation): Promise<void> {
  const graceMs = t.spec.auth.rotationGraceSeconds * 1000;
  const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
  const probed = o.members.filter((m) => m.probe);
  const step = (probed.find((m) => m.name === o.writer) ?? probed[0])?.probe?.rotation.action;
  const event = (reason: string, note: string) =>
    ctx.writer.event(t, { type: 'Normal', reason, note, action: 'RotatePassword' });
  if (step?.kind === 'add') {
    const now = Date.now();
    o.rotation = { since: iso(now), until: iso(now + graceMs) };
    await event(
      'PasswordRotationStarted',
      `Redis accepts the new password of Secret ${tierNames(t).authSecret} beside the old one until ${o.rotation.until}`,
    );
  } else if (step?.kind === 'wait') o.rotation = { since: iso(step.sinceMs), until: iso(step.untilMs) };
  else if (step?.kind === 'finish') await event('PasswordRotated', 'the old password is no longer accepted');
}
