/** Names of children made from a resource's name plus a suffix, within a Kubernetes limit. */
import { createHash } from 'node:crypto';

/**
 * `BASE-SUFFIX` when it fits in `max` characters; else BASE cut short with a 5-character digest
 * of the whole BASE before the suffix, so that two long names with a common prefix never map to
 * the same child.
 */
export function fitName(base: string, suffix: string, max: number): string {
  if (base.length + 1 + suffix.length <= max) return `${base}-${suffix}`;
  const digest = createHash('sha256').update(base).digest('hex').slice(0, 5);
  return `${base.slice(0, max - suffix.length - digest.length - 2)}-${digest}-${suffix}`;
}
