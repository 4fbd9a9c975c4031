/**
 * What an informer keeps of an object: trimmed of what no controller reads (managedFields but
 * status applies, the last-applied annotation, a pod's spec), its repeated strings shared. At
 * 1,000 databases the caches are most of the operator's memory.
 */
import type { KubernetesObject } from '@kubernetes/client-node/dist/types.js';

export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * Top-level fields of a kind that no controller reads, dropped before caching. A pod's spec is
 * most of its size; controllers read its labels, deletion and status (readiness, waiting
 * reasons, IP), never its spec: what a pod should run is in the StatefulSet or Job that made it.
 * Whoever needs a pod's spec reads the pod with the client.
 */
export const UNREAD_FIELDS: Readonly<Record<string, readonly string[]>> = { Pod: ['spec'] };

/**
 * What the cache keeps of an object: no managedFields but status applies, no last-applied copy,
 * and none of `unread` (UNREAD_FIELDS of its kind).
 */
export function trim<T extends KubernetesObject>(obj: T, unread: readonly string[] = []): T {
  const meta = obj?.metadata as (KubernetesObject['metadata'] & Record<string, unknown>) | undefined;
  if (!meta) return obj;
  for (const f of unread) delete (obj as Record<string, unknown>)[f];
  const managed = meta.managedFields as { operation?: string; subresource?: string }[] | undefined;
  if (managed) {
    const keep = managed.filter((m) => m.operation === 'Apply' && m.subresource === 'status');
    if (keep.length) meta.managedFields = keep as never;
    else delete meta.managedFields;
  }
  if (meta.annotations?.[LAST_APPLIED] !== undefined) {
    const { [LAST_APPLIED]: _, ...rest } = meta.annotations;
    if (Object.keys(rest).length) meta.annotations = rest;
    else delete meta.annotations;
  }
  return obj;
}

/** Keys whose values are unique to an object (or a moment): never worth sharing. */
export const UNIQUE_KEYS = new Set([
  'uid',
  'resourceVersion',
  'creationTimestamp',
  'deletionTimestamp',
  'lastTransitionTime',
  'lastHeartbeatTime',
  'lastProbeTime',
  'lastUpdateTime',
  'startTime',
  'startedAt',
  'finishedAt',
  'time',
  'containerID',
]);

/**
 * One copy of each repeated string in the caches. JSON.parse gives every object its own copy of
 * its namespace, labels, images, field managers and start scripts: at 1,000 databases 27 of the
 * heap's 59 MiB of strings were such copies ("homeops-operator" alone 27,001 times). Values
 * under UNIQUE_KEYS are skipped; the table is emptied when it grows past `max` (what is cached
 * keeps its shared copies; later objects share anew), so it cannot grow with churn.
 */
export class Interner {
  private table = new Map<string, string>();
  private readonly max: number;
  constructor(max = 100_000) {
    this.max = max;
  }

  get size(): number {
    return this.table.size;
  }

  /** The shared copy of `s`. */
  string(s: string): string {
    const had = this.table.get(s);
    if (had !== undefined) return had;
    if (this.table.size >= this.max) this.table = new Map();
    this.table.set(s, s);
    return s;
  }

  /** Replaces, in place, every string of `value` (but UNIQUE_KEYS') by its shared copy. */
  walk<T>(value: T): T {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v = value[i];
        if (typeof v === 'string') value[i] = this.string(v);
        else if (v && typeof v === 'object') this.walk(v);
      }
    } else if (value && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      for (const k of Object.keys(o)) {
        const v = o[k];
        if (typeof v === 'string') {
          if (!UNIQUE_KEYS.has(k)) o[k] = this.string(v);
        } else if (v && typeof v === 'object') this.walk(v);
      }
    }
    return value;
  }
}

/** The operator's one table: a namespace's name is shared across every kind's cache. */
export const interner = new Interner();

/** What an informer caches: the object trimmed, its strings shared. */
export const cacheForm = <T extends KubernetesObject>(obj: T, unread: readonly string[] = []): T =>
  interner.walk(trim(obj, unread));
