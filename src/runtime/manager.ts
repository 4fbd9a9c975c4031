/**
 * The manager: one per process. It owns the API client, the shared informers (one per kind),
 * the controllers, leader election, the metrics and health endpoints, and graceful shutdown.
 * Controllers are declared with `manager.controller(name).for(kind).owns(child)...complete(r)`.
 */
import { createServer, type Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import { KubeClient, type KubeObject, type ResourceType } from './client.ts';
import type { RuntimeConfig } from './config.ts';
import { type CacheReader, Controller, keyOf, type Reconciler } from './controller.ts';
import { EventRecorder } from './events.ts';
import { Informer } from './informer.ts';
import { LeaderElector } from './leader.ts';
import { RuntimeMetrics } from './metrics.ts';
import { TerminalError } from './result.ts';
import { digest, Writer } from './status.ts';
import { type RateLimiter, TokenBucket } from './workqueue.ts';

export const FIELD_MANAGER = 'homeops-operator';
export const USER_AGENT = 'homeops-operator';

type MapFn = (obj: KubeObject) => string[];

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

/** What the manager needs of a controller. */
interface Runnable {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
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

  /** Any other kind, mapped to the keys of the `for` objects it concerns. */
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

export class Manager {
  readonly config: RuntimeConfig;
  readonly log: Logger;
  readonly metrics: RuntimeMetrics;
  readonly client: KubeClient;
  readonly writer: Writer;
  readonly events: EventRecorder;
  private readonly kubeConfig: KubeConfig;
  private readonly informers = new Map<string, Informer<KubeObject>>();
  private readonly selectors = new Map<string, string | undefined>();
  private readonly controllers: Runnable[] = [];
  private readonly servers: Server[] = [];
  private elector?: LeaderElector;
  private controllersStarted = false;
  private informersStarted = false;
  private stopping?: Promise<void>;
  /** Resolves when the manager has stopped (SIGTERM, lost lease, or stop()). */
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;

  constructor(config: RuntimeConfig, kubeConfig: KubeConfig, log: Logger) {
    this.config = config;
    this.kubeConfig = kubeConfig;
    this.log = log;
    this.metrics = new RuntimeMetrics();
    this.client = new KubeClient(kubeConfig, {
      userAgent: `${USER_AGENT}/${config.identity}`,
      requests: this.metrics.restClientRequests,
      latency: this.metrics.restClientLatency,
      ...(config.kubeApiQps > 0 ? { limiter: new TokenBucket(config.kubeApiQps, config.kubeApiBurst) } : {}),
    });
    this.events = new EventRecorder(this.client, 'homeops.io/homeops-operator', config.identity, log);
    this.writer = new Writer(this.client, FIELD_MANAGER, log, this.events);
    this.stopped = new Promise((r) => {
      this.resolveStopped = r;
    });
  }

  /**
   * The shared informer of a kind (created on first use, started by start()). A label selector
   * given at first use scopes the cache (for example, only the pods the operator made).
   */
  informer<T extends KubeObject>(type: ResourceType, opts: { labelSelector?: string } = {}): Informer<T> {
    const key = `${type.apiVersion}/${type.kind}`;
    let inf = this.informers.get(key);
    if (inf && opts.labelSelector !== undefined && opts.labelSelector !== this.selectors.get(key))
      // One informer per kind: a second, different scope would be silently ignored.
      throw new Error(
        `the ${type.kind} informer exists with selector "${this.selectors.get(key) ?? ''}"; ask for it with that one`,
      );
    if (!inf) {
      inf = new Informer(this.kubeConfig, this.client, type, this.log, {
        namespaces: this.config.namespaces,
        ...(opts.labelSelector ? { labelSelector: opts.labelSelector } : {}),
      });
      this.informers.set(key, inf);
      // Asked for after start(): it starts now (a read can await inf.waitForSync()), instead of
      // staying empty forever with no error.
      if (this.informersStarted)
        inf
          .start()
          .catch((e) => this.log.error({ err: String(e), kind: type.kind }, 'informer failed to start'));
      this.selectors.set(key, opts.labelSelector);
    }
    return inf as unknown as Informer<T>;
  }

  /** The caches as reconciles see them (an informer asked for late starts at once, above). */
  readonly cache: CacheReader = {
    get: <T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string) =>
      this.informer<T>(type).get(namespace, name),
    list: <T extends KubeObject>(type: ResourceType, namespace?: string) =>
      this.informer<T>(type).list(namespace),
    owned: <T extends KubeObject>(type: ResourceType, uid: string) => this.informer<T>(type).owned(uid),
  };

  controller<T extends KubeObject>(name: string): ControllerBuilder<T> {
    return new ControllerBuilder<T>(this, name);
  }

  addController(c: Runnable): void {
    this.controllers.push(c);
  }

  /**
   * Ready once the caches are synced, leader or not (as controller-runtime): a standby with warm
   * caches is what a Deployment should wait for, so a rolling update (maxUnavailable 0) and
   * `helm --wait` go on while only the leader reconciles. Leadership is in
   * leader_election_master_status and the Lease.
   */
  get ready(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced);
  }

  /** Serves /metrics and the probes, syncs the caches, then reconciles (once leader). */
  async start(): Promise<void> {
    await this.serve();
    this.informersStarted = true;
    await Promise.all([...this.informers.values()].map((i) => i.start()));
    this.log.info({ informers: this.informers.size }, 'caches synced');
    if (!this.config.leaderElect) {
      this.startControllers();
      return;
    }
    this.elector = new LeaderElector(
      this.client,
      {
        namespace: this.config.leaderElectionNamespace,
        name: this.config.leaderElectionId,
        identity: this.config.identity,
        leaseDurationMs: this.config.leaseDurationSeconds * 1000,
        renewDeadlineMs: this.config.renewDeadlineSeconds * 1000,
        retryPeriodMs: this.config.retryPeriodSeconds * 1000,
      },
      this.metrics,
      this.log,
    );
    this.elector.run(
      () => this.startControllers(),
      () => {
        // Like controller-runtime: a process that lost its lease stops, and its Deployment restarts it.
        void this.stop('lost the leader lease');
      },
    );
  }

  /** Graceful shutdown: stop taking work, finish reconciles in flight, release the lease. */
  stop(why = 'stop requested'): Promise<void> {
    if (!this.stopping) {
      this.stopping = (async () => {
        this.log.info({ why }, 'shutting down');
        await Promise.all(this.controllers.map((c) => c.stop()));
        await this.elector?.release();
        await Promise.all([...this.informers.values()].map((i) => i.stop()));
        await Promise.all(this.servers.map((s) => new Promise((r) => s.close(r))));
        this.client.close();
        this.resolveStopped();
      })();
    }
    return this.stopping;
  }

  /** Stops on SIGTERM and SIGINT. */
  handleSignals(): void {
    for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => void this.stop(sig));
  }

  private startControllers(): void {
    if (this.controllersStarted) return;
    this.controllersStarted = true;
    for (const c of this.controllers) c.start();
    this.log.info({ controllers: this.controllers.map((c) => c.name) }, 'controllers started');
  }

  private async serve(): Promise<void> {
    const listen = (port: number, handler: Parameters<typeof createServer>[1]) =>
      new Promise<void>((resolve, reject) => {
        if (port === 0 && this.config.metricsPort === 0 && this.config.healthPort === 0) return resolve();
        const server = createServer(handler);
        server.once('error', reject);
        server.listen(port, this.config.bindAddress, () => resolve());
        this.servers.push(server);
      });
    await listen(this.config.metricsPort, (req, res) => {
      if (req.url === '/metrics') {
        this.metrics.registry
          .metrics()
          .then((text) => {
            res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
            res.end(text);
          })
          .catch(() => res.writeHead(500).end());
        return;
      }
      res.writeHead(404).end();
    });
    await listen(this.config.healthPort, (req, res) => {
      if (req.url === '/healthz') return void res.writeHead(200).end('ok');
      if (req.url === '/readyz')
        return void (this.ready ? res.writeHead(200).end('ok') : res.writeHead(503).end('not ready'));
      res.writeHead(404).end();
    });
  }
}
