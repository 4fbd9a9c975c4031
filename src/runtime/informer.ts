/**
 * An informer: a local cache of one kind, kept current by client-node's ListWatch (list, then
 * watch from the list's resourceVersion, relist on 410 Gone). ListWatch stops for good on any
 * other error; this wrapper restarts it with jittered exponential backoff, so a restarted API
 * server or a dropped connection only delays events. Handlers should only enqueue keys.
 *
 * Objects are trimmed before they are cached (client-go's SetTransform): `managedFields` and
 * the last-applied annotation are dropped, which is most of a StatefulSet's or a Pod's size,
 * except the status-subresource entries of server-side apply, by which a writer of a shared
 * status knows its own fields (see status.ts).
 */
import type { KubeConfig } from '@kubernetes/client-node';
// The modules themselves, not the package's index (which imports every generated API: see
// slimclient.ts).
import { ListWatch } from '@kubernetes/client-node/dist/cache.js';
import type { KubernetesObject } from '@kubernetes/client-node/dist/types.js';
import { Watch } from '@kubernetes/client-node/dist/watch.js';
import type { Logger } from 'pino';
import { cacheForm, UNREAD_FIELDS } from './cacheform.ts';
import type { KubeClient } from './client.ts';
import { errorText } from './errors.ts';
import { type KubeObject, type ResourceType, resourcePath } from './types.ts';

export type InformerEvent = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (event: InformerEvent, obj: T) => void;

export interface InformerOptions {
  /** Namespaces to watch; all when empty. */
  namespaces?: string[];
  labelSelector?: string;
  /** Backoff after a watch or list error: base and cap, in ms. */
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** client-node's Watch, with every event's object trimmed before the ListWatch caches it. */
class TrimmingWatch extends Watch {
  private readonly unread: readonly string[];
  constructor(kubeConfig: KubeConfig, unread: readonly string[]) {
    super(kubeConfig);
    this.unread = unread;
  }

  override watch(
    path: string,
    queryParams: Record<string, string | number | boolean | undefined>,
    callback: (phase: string, apiObj: KubernetesObject, watchObj?: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    return super.watch(
      path,
      queryParams,
      (phase, obj, raw) => callback(phase, cacheForm(obj, this.unread), raw),
      done,
    );
  }
}

/** A watch healthy this long starts its backoff over (client-go's reflector: 2 minutes). */
export const BACKOFF_RESET_MS = 120_000;

/** Failures that count toward the next delay: none after a watch stayed healthy long enough. */
export function failuresBefore(failures: number, healthyForMs: number): number {
  return healthyForMs >= BACKOFF_RESET_MS ? 0 : failures;
}

/** The delay before relisting after `failures` failures: doubling from `base` to `cap`, jittered ±50 %. */
export function relistDelay(failures: number, base: number, cap: number, random = Math.random): number {
  return Math.min(cap, base * 2 ** failures) * (0.5 + random());
}

export class Informer<T extends KubeObject = KubeObject> {
  private readonly watches: ListWatch<KubernetesObject>[] = [];
  private readonly handlers: InformerHandler<T>[] = [];
  private stopped = false;
  private synced = false;
  private resolveSynced!: () => void;
  private readonly syncedPromise = new Promise<void>((r) => {
    this.resolveSynced = r;
  });
  private readonly failures = new Map<number, number>();
  /** Per namespace: whether the last list succeeded; when the last (re)start listed and watched. */
  private readonly listed: boolean[] = [];
  private readonly healthyAt: (number | undefined)[] = [];
  private readonly starting: boolean[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Times a watch was restarted after an error, and full lists made (first sync and relists). */
  restarts = 0;
  lists = 0;

  private readonly client: KubeClient;
  readonly type: ResourceType;
  private readonly log: Logger;
  private readonly opts: InformerOptions;

  constructor(
    kubeConfig: KubeConfig,
    client: KubeClient,
    type: ResourceType,
    log: Logger,
    opts: InformerOptions = {},
  ) {
    this.client = client;
    this.type = type;
    this.log = log;
    this.opts = opts;
    const unread = UNREAD_FIELDS[type.kind] ?? [];
    const watch = new TrimmingWatch(kubeConfig, unread);
    const namespaces = type.namespaced && opts.namespaces?.length ? opts.namespaces : [undefined];
    namespaces.forEach((ns, i) => {
      const lw = new ListWatch<KubernetesObject>(
        resourcePath(type, ns),
        watch,
        () => {
          this.lists++;
          this.listed[i] = false;
          return this.client.list<T>(type, ns, { labelSelector: opts.labelSelector }).then((l) => {
            this.listed[i] = true;
            return { ...l, items: l.items.map((o) => cacheForm(o as never, unread)) };
          }) as never;
        },
        false,
        opts.labelSelector,
      );
      // The owner index first, so that handlers (and the reconciles they enqueue) see it current.
      lw.on('add', (o) => this.index(o as unknown as T));
      lw.on('update', (o) => this.index(o as unknown as T));
      lw.on('delete', (o) => this.unindex(o as unknown as T));
      lw.on('add', (o) => this.emit('add', o as unknown as T));
      lw.on('update', (o) => this.emit('update', o as unknown as T));
      lw.on('delete', (o) => this.emit('delete', o as unknown as T));
      lw.on('error', (err) => this.restart(i, lw, err));
      this.watches.push(lw);
    });
  }

  get hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves once the first list of every namespace is in the cache. */
  waitForSync(): Promise<void> {
    return this.syncedPromise;
  }

  on(handler: InformerHandler<T>): void {
    this.handlers.push(handler);
  }

  /**
   * Lists and starts watching; resolves when a list of every namespace has succeeded and is in
   * the cache. A failed list is retried with backoff: an informer is never called synced on an
   * empty cache, so no controller starts (and writes status) from one.
   */
  async start(): Promise<void> {
    this.stopped = false;
    for (const [i, lw] of this.watches.entries()) await this.firstSync(i, lw);
    if (this.stopped) return;
    this.synced = true;
    this.resolveSynced();
  }

  private async firstSync(i: number, lw: ListWatch<KubernetesObject>): Promise<void> {
    this.starting[i] = true;
    try {
      while (!this.stopped) {
        let err: unknown;
        try {
          await lw.start(); // resolves after the list and the watch, or after a list error
        } catch (e) {
          err = e;
        }
        if (this.listed[i]) {
          this.healthyAt[i] = Date.now();
          if (err !== undefined) this.restart(i, lw, err, true); // listed; the watch failed to start
          return;
        }
        const delay = this.nextDelay(i);
        this.log.warn(
          { kind: this.type.kind, retryInMs: Math.round(delay) },
          'list failed; not synced, retrying',
        );
        await new Promise((r) => setTimeout(r, delay));
      }
    } finally {
      this.starting[i] = false;
    }
  }

  /** The next backoff of namespace `i`: grows per failure, starts over after a healthy spell. */
  private nextDelay(i: number): number {
    // How long it was healthy before this failure; failing from now until a start succeeds.
    const since = this.healthyAt[i];
    this.healthyAt[i] = undefined;
    const n = failuresBefore(this.failures.get(i) ?? 0, since === undefined ? 0 : Date.now() - since);
    this.failures.set(i, n + 1);
    return relistDelay(n, this.opts.backoffBaseMs ?? 500, this.opts.backoffMaxMs ?? 30_000);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all(this.watches.map((w) => w.stop()));
  }

  get(namespace: string | undefined, name: string): T | undefined {
    for (const lw of this.watches) {
      const o = lw.get(name, this.type.namespaced ? namespace : undefined);
      if (o) return o as unknown as T;
    }
    return undefined;
  }

  list(namespace?: string): T[] {
    return this.watches.flatMap((lw) => lw.list(namespace) as unknown as T[]);
  }

  /**
   * The cached objects with an ownerReference to `uid` (client-go's indexer, one index): what a
   * reconcile needs of its children without scanning the namespace. At 1,000 databases in one
   * namespace, scanning 8,000 children on every reconcile was the operator's largest CPU cost.
   */
  owned(uid: string): T[] {
    const m = this.byOwner.get(uid);
    return m ? [...m.values()] : [];
  }

  /** ownerReference uid → (namespace/name → object), and each object's owners as indexed. */
  private readonly byOwner = new Map<string, Map<string, T>>();
  private readonly ownersOf = new Map<string, string[]>();

  private index(obj: T): void {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    const owners = (obj.metadata.ownerReferences ?? []).map((r) => r.uid);
    const before = this.ownersOf.get(key) ?? [];
    for (const uid of before) if (!owners.includes(uid)) this.drop(uid, key);
    for (const uid of owners) {
      const m = this.byOwner.get(uid) ?? new Map<string, T>();
      this.byOwner.set(uid, m);
      m.set(key, obj);
    }
    if (owners.length) this.ownersOf.set(key, owners);
    else this.ownersOf.delete(key);
  }

  private unindex(obj: T): void {
    const key = `${obj.metadata.namespace ?? ''}/${obj.metadata.name}`;
    for (const uid of this.ownersOf.get(key) ?? []) this.drop(uid, key);
    this.ownersOf.delete(key);
  }

  private drop(uid: string, key: string): void {
    const m = this.byOwner.get(uid);
    m?.delete(key);
    if (m && !m.size) this.byOwner.delete(uid);
  }

  private emit(event: InformerEvent, obj: T): void {
    for (const h of this.handlers) {
      try {
        h(event, obj);
      } catch (e) {
        this.log.error({ err: errorText(e), kind: this.type.kind }, 'informer handler threw');
      }
    }
  }

  private restart(i: number, lw: ListWatch<KubernetesObject>, err: unknown, force = false): void {
    // firstSync retries a failed first list itself; a watch that fails once listed is restarted here.
    if (this.stopped || (this.starting[i] && !this.listed[i] && !force)) return;
    const delay = this.nextDelay(i);
    this.log.warn(
      { kind: this.type.kind, err: errorText(err), retryInMs: Math.round(delay) },
      'watch failed; restarting',
    );
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.stopped) return;
      this.restarts++;
      lw.start()
        .then(() => {
          // Listed and watching again: healthy from now. The backoff is not reset here: only a
          // watch that stays healthy (failuresBefore) starts it over, so a list that keeps
          // failing, or a watch that fails at once, backs off further each time.
          if (!this.stopped && this.listed[i]) this.healthyAt[i] = Date.now();
        })
        .catch((e) => this.restart(i, lw, e));
    }, delay);
    this.timers.add(timer);
  }
}
