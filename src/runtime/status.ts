/**
 * Status and child writes that happen only when something changed: a converged, idle
 * resource causes no write request at all. Status goes to the /status subresource by
 * server-side apply, and flips of conditions become Events.
 *
 * Each writer of a status owns its part, under its own field manager: the controller its
 * phase, figures and conditions; the job results theirs (`Writer.as('homeops-operator-jobs')`).
 * A writer always applies its whole part (server-side apply removes what the manager owned and
 * left out) and never another's fields: top-level status keys belong to one writer; conditions
 * (a list keyed by `type`) are shared, each type owned by one writer. Whether a write is due is
 * decided against the writer's own fields, read from the object's managedFields, so one writer's
 * fields never make another write.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Condition } from '../api/v1alpha1/common.ts';
import type { KubeClient } from './client.ts';
import { type ConditionPolarity, conditionEvent, DEFAULT_POLARITY } from './conditions.ts';
import { KubeApiError } from './errors.ts';
import type { EventInput, EventRecorder } from './events.ts';
import { ownedPart, statusNeedsWrite, statusOwnership } from './ownership.ts';
import type { KubeObject, OwnerReference, ResourceType } from './types.ts';

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

/**
 * The annotation that carries a digest of what was last applied to a child. The cache check is
 * "every desired field has its value on the live object", which cannot see a field the builders
 * no longer set (a removed resources block, a pooler's keys dropped from a ConfigMap): with the
 * digest among the desired fields, any change to the desired object, removals included, fails
 * the check and is applied, and server-side apply removes what the field manager left out.
 */
export const APPLIED_DIGEST = 'homeops.io/applied-digest';

/** `desired` with APPLIED_DIGEST set to the digest of the rest of it. */
export function withAppliedDigest(desired: KubeObject): KubeObject {
  const { [APPLIED_DIGEST]: _, ...annotations } = desired.metadata.annotations ?? {};
  const bare = {
    ...desired,
    metadata: { ...desired.metadata, annotations: Object.keys(annotations).length ? annotations : undefined },
  };
  return {
    ...desired,
    metadata: { ...desired.metadata, annotations: { ...annotations, [APPLIED_DIGEST]: digest(bare) } },
  };
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

/** How long a write may go unseen by the cache before the cache is trusted again. */
const UNSEEN_TTL_MS = 15_000;

export class Writer {
  readonly client: KubeClient;
  readonly fieldManager: string;
  private readonly events: EventRecorder | undefined;
  private readonly log: Logger;
  /**
   * Writes the cache has not shown yet (client-go's "expectations"): by object, the cached
   * resourceVersion a write was made over and a digest of what was written. While the cache
   * still holds that version, the same write is not made again: a resource woken by one
   * child's event would otherwise re-apply its other children and its status, whose own
   * events are still on their way.
   */
  private readonly unseen = new Map<
    string,
    { over: string | undefined; wrote: string; at: number; made: string | undefined }
  >();
  /** The writers of other field managers (`as`): one each, so their unseen writes are kept too. */
  private readonly others: Map<string, Writer>;

  constructor(
    client: KubeClient,
    fieldManager: string,
    log: Logger,
    events?: EventRecorder,
    others = new Map<string, Writer>(),
  ) {
    this.client = client;
    this.fieldManager = fieldManager;
    this.log = log;
    this.events = events;
    this.others = others;
    others.set(fieldManager, this);
  }

  /**
   * Applies a child unless the cached `live` object already has every field of `desired`.
   * Returns whether a write was made.
   */
  async applyChild(type: ResourceType, desired: KubeObject, live: KubeObject | undefined): Promise<boolean> {
    const key = `${type.apiVersion}/${type.kind}/${desired.metadata.namespace}/${desired.metadata.name}`;
    // Set by applyChildren before fields kept from the live object; here for a direct call.
    if (desired.metadata.annotations?.[APPLIED_DIGEST] === undefined) desired = withAppliedDigest(desired);
    if (live && isSubset(desired, live)) {
      // The cache has it: forget the write, or a later deletion (a pruned child) would look
      // like the same not-yet-seen creation and never be made again.
      this.unseen.delete(key);
      return false;
    }
    if (this.cacheBehind(key, live, desired)) return false;
    const made = await this.client.apply(type, desired, this.fieldManager);
    this.wrote(key, live, desired, made);
    this.log.debug(
      { kind: desired.kind, name: desired.metadata.name },
      live ? 'updated child' : 'created child',
    );
    return true;
  }

  /**
   * Deletes a child (gone already is fine) and forgets its unseen write: made again later, it
   * must not be taken for the same creation still on its way to the cache (a controller that
   * does not apply a child it finds in the cache never shows the writer that it was seen).
   */
  async deleteChild(type: ResourceType, namespace: string, name: string): Promise<void> {
    this.unseen.delete(`${type.apiVersion}/${type.kind}/${namespace}/${name}`);
    await this.client.delete(type, namespace, name).catch((e) => {
      if (!(e instanceof KubeApiError && e.notFound)) throw e;
    });
  }

  /**
   * An Event about `obj` for a change a user acts on that is not a condition's flip (a member
   * leaving a Service). Best effort, like every Event.
   */
  async event(obj: KubeObject, e: EventInput): Promise<void> {
    await this.events?.record(obj, e);
  }

  /**
   * The same writer under another field manager: a second owner of a shared status. The same
   * object on every call (its unseen writes must outlive one reconcile).
   */
  as(fieldManager: string): Writer {
    return (
      this.others.get(fieldManager) ??
      new Writer(this.client, fieldManager, this.log, this.events, this.others)
    );
  }

  /** This writer's part of `obj`'s cached status. */
  ownStatus(obj: KubeObject): Record<string, unknown> {
    return ownedPart((obj.status ?? {}) as Record<string, unknown>, statusOwnership(obj, this.fieldManager));
  }

  /**
   * Writes this writer's part of the status of `obj` (all of it: a field left out is removed)
   * when it differs from the cached object, and records an Event for each of its conditions
   * whose status flipped. Returns whether a write was made.
   */
  async applyStatus(
    type: ResourceType,
    obj: KubeObject,
    status: Record<string, unknown>,
    polarity: ConditionPolarity = DEFAULT_POLARITY,
  ): Promise<boolean> {
    const current = (obj.status ?? {}) as Record<string, unknown>;
    const clean = JSON.parse(JSON.stringify(status)) as Record<string, unknown>;
    if (!statusNeedsWrite(current, clean, statusOwnership(obj, this.fieldManager))) return false;
    const key = `${type.apiVersion}/${type.kind}/${obj.metadata.namespace}/${obj.metadata.name}/status`;
    if (this.cacheBehind(key, obj, clean)) return false;
    const made = await this.client.apply(
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
    this.wrote(key, obj, clean, made);
    if (this.events) {
      const before = (current.conditions as Condition[] | undefined) ?? [];
      for (const c of (clean.conditions as Condition[] | undefined) ?? []) {
        const e = conditionEvent(
          before.find((b) => b.type === c.type),
          c,
          polarity,
        );
        if (e) await this.events.record(obj, e);
      }
    }
    return true;
  }

  /**
   * True when the same write was made over the version the cache still holds, or the cache
   * holds a version older than the one the write made (another writer's change, made before
   * this write and seen first: the status of an object with two writers).
   */
  private cacheBehind(key: string, live: KubeObject | undefined, content: unknown): boolean {
    const u = this.unseen.get(key);
    if (!u) return false;
    const seen = live?.metadata.resourceVersion;
    if (
      Date.now() - u.at < UNSEEN_TTL_MS &&
      u.wrote === digest(content) &&
      (u.over === seen || olderVersion(seen, u.made))
    )
      return true;
    this.unseen.delete(key); // the cache moved on (to this write or past it): trust it again
    return false;
  }

  private wrote(
    key: string,
    live: KubeObject | undefined,
    content: unknown,
    made: KubeObject | undefined,
  ): void {
    const now = Date.now();
    if (this.unseen.size >= 10_000)
      for (const [k, u] of this.unseen) if (now - u.at >= UNSEEN_TTL_MS) this.unseen.delete(k);
    this.unseen.set(key, {
      over: live?.metadata.resourceVersion,
      wrote: digest(content),
      at: now,
      made: made?.metadata?.resourceVersion,
    });
  }
}

/**
 * True when resourceVersion `a` is older than `b`. Both are etcd revisions (integers) on every
 * API server this runs on; resourceVersions are opaque by the API's contract, so anything else
 * (or either missing) is never called older, and the cache is trusted.
 */
export function olderVersion(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}

/** A short sha256 of a value's JSON: enough to tell two writes or two states apart. */
export function digest(content: unknown): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('base64url').slice(0, 22);
}
