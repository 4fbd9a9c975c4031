/**
 * Which part of a shared status a writer owns, read from the object's managedFields: each
 * writer decides whether a write is due against its own fields only, so one writer's fields
 * never make another write (see Writer in status.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Condition } from '../api/v1alpha1/common.ts';
import type { KubeObject } from './types.ts';

/** The status fields a field manager owns: top-level keys, and condition types. */
export interface StatusOwnership {
  keys: Set<string>;
  conditions: Set<string>;
}

export interface ManagedFieldsEntry {
  manager?: string;
  operation?: string;
  subresource?: string;
  fieldsV1?: Record<string, unknown>;
}

/** What `manager` owns of `obj.status`, from its server-side-apply entry on the status subresource. */
export function statusOwnership(obj: KubeObject, manager: string): StatusOwnership {
  const owned: StatusOwnership = { keys: new Set(), conditions: new Set() };
  const entries = (obj.metadata.managedFields ?? []) as ManagedFieldsEntry[];
  for (const e of entries) {
    if (e.manager !== manager || e.operation !== 'Apply' || e.subresource !== 'status') continue;
    const status = (e.fieldsV1?.['f:status'] ?? {}) as Record<string, unknown>;
    for (const [f, sub] of Object.entries(status)) {
      if (!f.startsWith('f:')) continue;
      const key = f.slice(2);
      owned.keys.add(key);
      if (key !== 'conditions') continue;
      for (const k of Object.keys((sub ?? {}) as Record<string, unknown>)) {
        if (!k.startsWith('k:')) continue;
        const type = (JSON.parse(k.slice(2)) as { type?: string }).type;
        if (type) owned.conditions.add(type);
      }
    }
  }
  return owned;
}

/** The fields of `status` that `owned` names: a writer's own part of a shared status. */
export function ownedPart(status: Record<string, unknown>, owned: StatusOwnership): Record<string, unknown> {
  const part: Record<string, unknown> = {};
  for (const k of owned.keys) {
    if (k === 'conditions') {
      const conds = ((status.conditions as Condition[] | undefined) ?? []).filter((c) =>
        owned.conditions.has(c.type),
      );
      if (conds.length) part.conditions = conds;
    } else if (status[k] !== undefined) part[k] = status[k];
  }
  return part;
}

/**
 * True when applying `part` as the writer that owns `owned` would change `current`: one of its
 * values differs, or a field it owned is no longer in it (the apply would remove it). Other
 * writers' keys and conditions are not looked at.
 */
export function statusNeedsWrite(
  current: Record<string, unknown>,
  part: Record<string, unknown>,
  owned: StatusOwnership,
): boolean {
  for (const [k, v] of Object.entries(part)) {
    if (k === 'conditions') continue;
    if (!isDeepStrictEqual(v, current[k])) return true;
  }
  const conds = (part.conditions as Condition[] | undefined) ?? [];
  const live = (current.conditions as Condition[] | undefined) ?? [];
  for (const c of conds)
    if (
      !isDeepStrictEqual(
        c,
        live.find((l) => l.type === c.type),
      )
    )
      return true;
  for (const k of owned.keys) if (k !== 'conditions' && !(k in part) && current[k] !== undefined) return true;
  for (const t of owned.conditions)
    if (!conds.some((c) => c.type === t) && live.some((l) => l.type === t)) return true;
  return false;
}
