/** Names and labels of a ReplicaSet's children and of its members' replication slots: one place. */
import { createHash } from 'node:crypto';
import type { ReplicaSet } from '../../api/v1alpha1/index.ts';
import { OWNER_LABEL, ROLE_LABEL } from '../../common/labels.ts';
import { MANAGED_BY } from '../../runtime/types.ts';

/** The label only the read Service selects: set by the operator on members within the lag bound. */
export const READ_LABEL = 'homeops.io/read-service';
export const READ_LABEL_VALUE = 'in';

export function rsNames(rs: ReplicaSet) {
  const n = rs.metadata.name!;
  return {
    statefulSet: `${n}-replica`,
    headlessService: `${n}-replica-hl`,
    readService: `${n}-ro`,
    config: `${n}-replica-config`,
    pdb: `${n}-replica`,
    pod: (ordinal: number) => `${n}-replica-${ordinal}`,
    pvc: (ordinal: number) => `data-${n}-replica-${ordinal}`,
  };
}

/** The ordinal of a member pod's name, or undefined when it is not one of `rs`'s. */
export function ordinalOf(rs: ReplicaSet, podName: string): number | undefined {
  const prefix = `${rs.metadata.name}-replica-`;
  if (!podName.startsWith(prefix)) return undefined;
  const rest = podName.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

export function rsLabels(rs: ReplicaSet, component: 'replica' | 'config') {
  return {
    'app.kubernetes.io/name': 'postgresql',
    'app.kubernetes.io/instance': rs.metadata.name!,
    'app.kubernetes.io/component': component,
    ...MANAGED_BY,
    [OWNER_LABEL.ReplicaSet]: rs.metadata.name!,
  };
}

/** The members' pods (the StatefulSet's selector, and the scale subresource's). */
export const rsSelector = (rs: ReplicaSet) => ({
  [OWNER_LABEL.ReplicaSet]: rs.metadata.name!,
  [ROLE_LABEL]: 'replica',
});

/**
 * The prefix of the members' physical replication slots on the primary: `hors_<name>_`, the
 * name's dashes as underscores (slot names allow [a-z0-9_], at most 63 characters). A long name
 * is cut and made unique with a hash of it. The member with ordinal i uses `<prefix><i>`.
 */
export function slotPrefix(rs: ReplicaSet): string {
  const base = `hors_${rs.metadata.name!.replaceAll('-', '_').replaceAll('.', '_')}`;
  if (base.length <= 52) return `${base}_`;
  const hash = createHash('sha256').update(rs.metadata.name!).digest('hex').slice(0, 8);
  return `${base.slice(0, 43)}_${hash}_`;
}

export const slotName = (rs: ReplicaSet, ordinal: number) => `${slotPrefix(rs)}${ordinal}`;

/** The ordinal of one of `rs`'s slots, or undefined for any other slot. */
export function slotOrdinal(rs: ReplicaSet, slot: string): number | undefined {
  const prefix = slotPrefix(rs);
  if (!slot.startsWith(prefix)) return undefined;
  const rest = slot.slice(prefix.length);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}
