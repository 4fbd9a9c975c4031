/**
 * How a controller is declared: `manager.controller(name).for(kind).owns(child).watches(other,
 * map).complete(reconciler)`, and which informer events wake which keys (predicates: a status
 * the controller wrote itself, or a child's status nobody reads, wakes nobody).
 */
import type { ZodType } from 'zod';
import { Controller, keyOf, type Reconciler } from './controller.ts';
import type { Manager } from './manager.ts';
import { TerminalError } from './result.ts';
import { digest } from './status.ts';
import { type KubeObject, MANAGED_SELECTOR, type ResourceType } from './types.ts';
import type { RateLimiter } from './workqueue.ts';

export type MapFn = (obj: KubeObject) => string[];

/** What of an object, when changed, calls for a reconcile (everything but status). */
export function fingerprint(obj: KubeObject): string {
  const m = obj.metadata;
  return JSON.stringify([
    m.generation,
    m.labels,
    m.annotations,
    m.deletionTimestamp,
    m.finalizers,
    m.ownerReferences,
  ]);
}

/** Parses an object with its kind's schema; metadata and status are kept as they came. */
export function parseWith(schema: ZodType) {
  return <T extends KubeObject>(obj: T): T => {
    const parsed = schema.safeParse(obj);
    if (!parsed.success)
      throw new TerminalError(
        'InvalidSpec',
        parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      );
    return { ...(parsed.data as object), metadata: obj.metadata, status: obj.status } as unknown as T;
  };
}

export class ControllerBuilder<T extends KubeObject> {
  private forType?: ResourceType;
  private schema?: ZodType;
  private readonly owned: { type: ResourceType; reads?: (child: KubeObject) => unknown }[] = [];
  private readonly watched: { type: ResourceType; map: MapFn }[] = [];
  private readonly cached: ResourceType[] = [];
  private concurrency?: number;
  private rateLimiter?: RateLimiter;
  private readonly manager: Manager;
  private readonly name: string;

  constructor(manager: Manager, name: string) {
    this.manager = manager;
    this.name = name;
  }

  /**
   * The kind this controller reconciles. With a schema (the API's zod schema of the kind), the
   * reconciler is handed the parsed object, and one that does not parse is Stalled with reason
   * InvalidSpec here, once, for every kind.
   */
  for(type: ResourceType, opts: { schema?: ZodType } = {}): this {
    this.forType = type;
    this.schema = opts.schema;
    return this;
  }

  /**
   * Children whose controller ownerReference points at a `for` object enqueue their owner: when
   * made or deleted, when anything but their status changes (a hand edit to put back), and when
   * what `reads` picks from their status changes (what the owner's observe step reads, such as
   * a StatefulSet's readyReplicas). The rest of a child's status (a PDB's counts, a StatefulSet's
   * revisions) wakes nobody: at 1,000 databases those updates outnumber everything else.
   */
  owns(type: ResourceType, opts: { reads?: (child: KubeObject) => unknown } = {}): this {
    this.owned.push({ type, reads: opts.reads });
    return this;
  }

  /**
   * Kinds the reconciler reads (or watches) of the operator's own objects only: their caches
   * hold what carries the managed-by label, not every Secret or pod of the cluster. Owned kinds
   * are cached so without being named here.
   */
  caches(...types: ResourceType[]): this {
    this.cached.push(...types);
    return this;
  }

  /** Any other kind, mapped to the keys of the `for` objects it concerns (a kind named in `caches` is watched through that lean cache). */
  watches(type: ResourceType, map: MapFn): this {
    this.watched.push({ type, map });
    return this;
  }

  withConcurrency(n: number): this {
    this.concurrency = n;
    return this;
  }

  withRateLimiter(r: RateLimiter): this {
    this.rateLimiter = r;
    return this;
  }

  complete(reconciler: Reconciler<T>): Controller<T> {
    const forType = this.forType;
    if (!forType) throw new Error(`controller ${this.name}: call .for(kind) first`);
    const m = this.manager;
    // Lean caches first, so that a watch of one of these kinds shares it.
    for (const type of [...this.owned.map((o) => o.type), ...this.cached])
      m.informer(type, { labelSelector: MANAGED_SELECTOR });
    const informer = m.informer<T>(forType);
    const controller = new Controller<T>(
      {
        name: this.name,
        concurrency: m.config.controllerConcurrency[this.name] ?? this.concurrency ?? m.config.concurrency,
        rateLimiter: this.rateLimiter,
      },
      forType,
      informer,
      reconciler,
      m.writer,
      m.metrics,
      m.log,
      m.cache,
      this.schema ? parseWith(this.schema) : undefined,
    );
    // Like controller-runtime's GenerationChanged|Labels|Annotations predicates: the status the
    // controller itself writes does not bring the object back for another reconcile.
    const seen = new Map<string, string>();
    informer.on((event, obj) => {
      const key = keyOf(obj);
      if (event === 'delete') {
        seen.delete(key);
        controller.queue.add(key);
        return;
      }
      const print = fingerprint(obj);
      if (event === 'update' && seen.get(key) === print) return;
      seen.set(key, print);
      controller.queue.add(key);
    });
    for (const { type, reads } of this.owned) {
      const prints = new Map<string, string>();
      m.informer(type).on((event, child) => {
        const childKey = keyOf(child);
        if (event === 'delete') prints.delete(childKey);
        else {
          const { status, metadata, ...rest } = child;
          const { resourceVersion, managedFields, ...meta } = metadata;
          const print = digest([meta, rest, reads?.(child) ?? null]);
          if (event === 'update' && prints.get(childKey) === print) return;
          prints.set(childKey, print);
        }
        for (const ref of child.metadata.ownerReferences ?? []) {
          if (ref.controller && ref.kind === forType.kind && ref.apiVersion === forType.apiVersion) {
            controller.queue.add(
              keyOf({ metadata: { namespace: child.metadata.namespace, name: ref.name } }),
            );
          }
        }
      });
    }
    for (const { type, map } of this.watched) {
      m.informer(type).on((_event, obj) => {
        for (const key of map(obj)) controller.queue.add(key);
      });
    }
    m.addController(controller);
    return controller;
  }
}
