/**
 * Status and child writes that happen only when something changed: a converged, idle
 * resource causes no write request at all. Status goes to the /status subresource by
 * server-side apply under the operator's field manager, always whole (a manager's apply
 * removes the fields it owned and left out), and flips of conditions become Events.
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Condition } from '../api/v1alpha1/common.ts';
import type { KubeClient, KubeObject, OwnerReference, ResourceType } from './client.ts';
import type { EventRecorder } from './events.ts';

/** True when every field set in `desired` has the same value in `live` (extra live fields are fine). */
export function isSubset(desired: unknown, live: unknown): boolean {
  if (desired === live) return true;
  if (Array.isArray(desired)) {
    return (
      Array.isArray(live) && desired.length === live.length && desired.every((d, i) => isSubset(d, live[i]))
    );
  }
  if (desired && typeof desired === 'object') {
    if (!live || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired).every(
      ([k, v]) => v === undefined || isSubset(v, (live as Record<string, unknown>)[k]),
    );
  }
  // The API server writes numbers in int-or-string fields and quantities back as it parsed them.
  if (typeof desired === 'number' && typeof live === 'string') return String(desired) === live;
  return false;
}

/** A controller ownerReference to `owner`, so the garbage collector deletes the child with it. */
export function ownerRef(owner: KubeObject): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export interface ConditionPolarity {
  /** Condition types whose True is bad news (an Event of type Warning when they turn True). */
  abnormalTrue: ReadonlySet<string>;
}

export const DEFAULT_POLARITY: ConditionPolarity = {
  abnormalTrue: new Set(['Stalled', 'Degraded']),
};

export class Writer {
  readonly client: KubeClient;
  readonly fieldManager: string;
  private readonly events: EventRecorder | undefined;
  private readonly log: Logger;

  constructor(client: KubeClient, fieldManager: string, log: Logger, events?: EventRecorder) {
    this.client = client;
    this.fieldManager = fieldManager;
    this.log = log;
    this.events = events;
  }

  /**
   * Applies a child unless the cached `live` object already has every field of `desired`.
   * Returns whether a write was made.
   */
  async applyChild(type: ResourceType, desired: KubeObject, live: KubeObject | undefined): Promise<boolean> {
    if (live && isSubset(desired, live)) return false;
    await this.client.apply(type, desired, this.fieldManager);
    this.log.debug(
      { kind: desired.kind, name: desired.metadata.name },
      live ? 'updated child' : 'created child',
    );
    return true;
  }

  /**
   * Writes `status` for `obj` when it differs from the cached status, and records an Event for
   * each condition whose status flipped. Returns whether a write was made.
   */
  async applyStatus(
    type: ResourceType,
    obj: KubeObject,
    status: Record<string, unknown>,
    polarity: ConditionPolarity = DEFAULT_POLARITY,
  ): Promise<boolean> {
    const current = (obj.status ?? {}) as Record<string, unknown>;
    const clean = JSON.parse(JSON.stringify(status)) as Record<string, unknown>;
    if (isDeepStrictEqual(clean, current)) return false;
    await this.client.apply(
      type,
      {
        apiVersion: obj.apiVersion,
        kind: obj.kind,
        metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace },
        status: clean,
      },
      this.fieldManager,
      { subresource: 'status' },
    );
    if (this.events) {
      const before = (current.conditions as Condition[] | undefined) ?? [];
      for (const c of (clean.conditions as Condition[] | undefined) ?? []) {
        const prev = before.find((b) => b.type === c.type);
        if (prev?.status === c.status) continue;
        if (!prev && c.status !== 'True') continue; // a condition that starts out False is no news
        const bad = polarity.abnormalTrue.has(c.type) ? c.status === 'True' : c.status !== 'True';
        await this.events.record(obj, {
          type: bad ? 'Warning' : 'Normal',
          reason: c.reason,
          note: c.message,
          action: c.type,
        });
      }
    }
    return true;
  }
}
