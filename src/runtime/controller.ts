/**
 * A controller: a work queue of object keys fed by informers, and workers that reconcile one
 * key at a time each. The error policy lives here, once: success forgets the key's backoff,
 * an ordinary error retries it rate-limited, a TerminalError sets Stalled and waits for a change.
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { trim } from './cacheform.ts';
import type { KubeClient } from './client.ts';
import { setCondition } from './conditions.ts';
import { errorText, isNamespaceTerminating } from './errors.ts';
import { addFinalizer, hasFinalizer, removeFinalizer } from './finalizers.ts';
import type { Informer } from './informer.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { type Result, TerminalError } from './result.ts';
import type { Writer } from './status.ts';
import type { KubeObject, ResourceType } from './types.ts';
import { type RateLimiter, WorkQueue } from './workqueue.ts';

/** Reads from the informer caches: what a reconcile knows of the cluster without a request. */
export interface CacheReader {
  get<T extends KubeObject = KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
  ): T | undefined;
  list<T extends KubeObject = KubeObject>(type: ResourceType, namespace?: string): T[];
  /** The cached objects of `type` with an ownerReference to `uid` (an index, not a scan). */
  owned<T extends KubeObject = KubeObject>(type: ResourceType, uid: string): T[];
}

/** Everything a reconcile may use: the cache, the client, the writer and its logger; not the Manager. */
export interface ReconcileContext {
  log: Logger;
  reconcileId: string;
  writer: Writer;
  client: KubeClient;
  cache: CacheReader;
}

export interface Reconciler<T extends KubeObject> {
  /** Drives the world toward `obj`'s spec; `obj` comes from the cache. */
  reconcile(obj: T, ctx: ReconcileContext): Promise<Result | undefined>;
  /**
   * With `finalizer` (or a retired one) set: runs once when `obj` is being deleted, before the
   * finalizer is removed. Only for work that must happen while the object still exists.
   */
  cleanup?(obj: T, ctx: ReconcileContext): Promise<Result | undefined>;
  finalizer?: string;
  /**
   * Finalizers an earlier version of the controller added and this one no longer needs: removed
   * from a live object when it is next reconciled, and from a deleting one after `cleanup`, so
   * that no object waits forever for a finalizer nobody handles.
   */
  retiredFinalizers?: readonly string[];
  /**
   * The object is gone from the cache: drop what is kept in memory for it (metrics series, last
   * measurements). No request: the object no longer exists.
   */
  forget?(key: { namespace: string | undefined; name: string }): void;
}

export interface ControllerOptions {
  name: string;
  concurrency: number;
  rateLimiter?: RateLimiter;
}

export const keyOf = (o: { metadata: { namespace?: string; name?: string } }) =>
  o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : `${o.metadata.name}`;

export function splitKey(key: string): { namespace: string | undefined; name: string } {
  const i = key.indexOf('/');
  return i < 0 ? { namespace: undefined, name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}

export class Controller<T extends KubeObject> {
  readonly queue: WorkQueue;
  readonly name: string;
  private readonly type: ResourceType;
  private readonly informer: Informer<T>;
  private readonly reconciler: Reconciler<T>;
  private readonly writer: Writer;
  private readonly cache: CacheReader;
  private readonly parse: (<O extends KubeObject>(obj: O) => O) | undefined;
  private readonly metrics: RuntimeMetrics;
  private readonly log: Logger;
  private readonly concurrency: number;
  private workers: Promise<void>[] = [];
  private active = 0;
  /** UIDs whose cleanup has run, so that a stale cache never runs it twice. */
  private readonly cleanedUp = new Set<string>();

  constructor(
    opts: ControllerOptions,
    type: ResourceType,
    informer: Informer<T>,
    reconciler: Reconciler<T>,
    writer: Writer,
    metrics: RuntimeMetrics,
    log: Logger,
    cache: CacheReader,
    parse?: <O extends KubeObject>(obj: O) => O,
  ) {
    this.cache = cache;
    this.parse = parse;
    this.name = opts.name;
    this.type = type;
    this.informer = informer;
    this.reconciler = reconciler;
    this.writer = writer;
    this.metrics = metrics;
    this.log = log.child({ controller: opts.name });
    this.concurrency = opts.concurrency;
    const labels = { name: opts.name, controller: opts.name };
    this.queue = new WorkQueue(opts.rateLimiter, {
      onDepth: (d) => metrics.workqueueDepth.set(labels, d),
      onAdd: () => metrics.workqueueAdds.inc(labels),
      onRetry: () => metrics.workqueueRetries.inc(labels),
      onQueued: (s) => metrics.workqueueQueueDuration.observe(labels, s),
    });
    metrics.maxConcurrentReconciles.set({ controller: opts.name }, opts.concurrency);
    metrics.activeWorkers.set({ controller: opts.name }, 0);
  }

  /** Starts the workers; call after the informers have synced. */
  start(): void {
    for (const o of this.informer.list()) this.queue.add(keyOf(o));
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.work());
  }

  /** Stops taking keys and waits for the reconciles in flight. */
  async stop(): Promise<void> {
    await this.queue.shutDownWithDrain();
    await Promise.all(this.workers);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.active++;
      this.metrics.activeWorkers.set({ controller: this.name }, this.active);
      const end = this.metrics.workqueueWorkDuration.startTimer({ name: this.name, controller: this.name });
      try {
        await this.process(key);
      } finally {
        end();
        this.active--;
        this.metrics.activeWorkers.set({ controller: this.name }, this.active);
        this.queue.done(key);
      }
    }
  }

  private async process(key: string): Promise<void> {
    const reconcileId = randomBytes(6).toString('hex');
    const log = this.log.child({ key, reconcileId });
    const { namespace, name } = splitKey(key);
    const obj = this.informer.get(namespace, name);
    if (!obj)
      for (const uid of this.cleanedUp)
        if (!this.informer.list().some((o) => o.metadata.uid === uid)) this.cleanedUp.delete(uid);
    const ctx: ReconcileContext = {
      log,
      reconcileId,
      writer: this.writer,
      client: this.writer.client,
      cache: this.cache,
    };
    const endTimer = this.metrics.reconcileTime.startTimer({ controller: this.name });
    let result: 'success' | 'error' | 'requeue_after' | 'terminal' = 'success';
    try {
      if (!obj) {
        log.debug('gone from the cache; nothing to do');
        this.reconciler.forget?.({ namespace, name });
        this.queue.forget(key);
        return;
      }
      const r = await this.step(obj, ctx);
      this.queue.forget(key);
      if (r?.requeueAfterMs !== undefined) {
        result = 'requeue_after';
        this.queue.addAfter(key, r.requeueAfterMs);
      }
    } catch (err) {
      this.metrics.reconcileErrors.inc({ controller: this.name });
      if (err instanceof TerminalError) {
        result = 'terminal';
        this.queue.forget(key);
        if (err.recheckAfterMs !== undefined) this.queue.addAfter(key, err.recheckAfterMs);
        log.error(
          { reason: err.reason, err: errorText(err) },
          'reconcile failed terminally; waiting for a change',
        );
        if (obj)
          await this.markStalled(obj, err).catch((e) =>
            isNamespaceTerminating(e) ? undefined : log.error({ err: errorText(e) }, 'could not set Stalled'),
          );
      } else if (isNamespaceTerminating(err)) {
        // Its namespace is going: the object's own deletion comes next; retrying only adds load.
        this.queue.forget(key);
        log.debug('namespace is being deleted; not retrying');
      } else {
        result = 'error';
        log.warn({ err: errorText(err) }, 'reconcile failed; retrying with backoff');
        this.queue.addRateLimited(key);
      }
    } finally {
      endTimer();
      this.metrics.reconcileTotal.inc({ controller: this.name, result });
    }
  }

  /** Finalizer handling around the reconciler: add before side effects, clean up once on delete. */
  private async step(obj: T, ctx: ReconcileContext): Promise<Result | undefined> {
    const finalizer = this.reconciler.finalizer;
    const retired = (this.reconciler.retiredFinalizers ?? []).filter((f) => hasFinalizer(obj, f));
    if (obj.metadata.deletionTimestamp) {
      const held = [...(finalizer && hasFinalizer(obj, finalizer) ? [finalizer] : []), ...retired];
      if (!held.length) return undefined;
      const uid = obj.metadata.uid!;
      if (!this.cleanedUp.has(uid)) {
        const r = await this.reconciler.cleanup?.(obj, ctx);
        if (r?.requeueAfterMs !== undefined) return r; // cleanup not finished yet
        this.cleanedUp.add(uid);
      }
      await removeFinalizer(this.writer.client, this.type, obj, held);
      ctx.log.info({ finalizers: held }, 'cleanup done; finalizer removed');
      return undefined;
    }
    let current = obj;
    if (retired.length) {
      const patched = await removeFinalizer(this.writer.client, this.type, obj, retired);
      if (!patched) return undefined;
      current = trim(patched as never) as T;
      ctx.log.info({ finalizers: retired }, 'removed a finalizer this version no longer uses');
    }
    if (finalizer && !hasFinalizer(current, finalizer)) {
      // Go on with the object the patch returned: a trip to the back of the queue for the
      // finalizer's own update event costs a new resource seconds when the queue is long.
      current = trim((await addFinalizer(this.writer.client, this.type, current, finalizer)) as never) as T;
    }
    return this.reconciler.reconcile(this.parse ? this.parse(current) : current, ctx);
  }

  private async markStalled(obj: T, err: TerminalError): Promise<void> {
    // Only the controller's own part: another writer's fields stay theirs.
    const status = this.writer.ownStatus(obj);
    const gen = obj.metadata.generation;
    let conditions = setCondition(
      status.conditions as never,
      { type: 'Stalled', status: 'True', reason: err.reason, message: err.message },
      gen,
    );
    conditions = setCondition(
      conditions,
      { type: 'Ready', status: 'False', reason: err.reason, message: err.message },
      gen,
    );
    conditions = setCondition(
      conditions,
      { type: 'Reconciling', status: 'False', reason: err.reason, message: 'stalled' },
      gen,
    );
    await this.writer.applyStatus(this.type, obj, {
      ...status,
      phase: 'Failed',
      observedGeneration: gen,
      conditions,
    });
  }
}
