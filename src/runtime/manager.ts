/**
 * The manager: one per process. It owns the API client, the shared informers (one per kind),
 * the controllers, leader election, the metrics and health endpoints, and graceful shutdown.
 * Controllers are declared with `manager.controller(name).for(kind).owns(child)...complete(r)`.
 */
import { createServer, type Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { ControllerBuilder } from './builder.ts';
import { KubeClient } from './client.ts';
import type { RuntimeConfig } from './config.ts';
import type { CacheReader } from './controller.ts';
import { errorText } from './errors.ts';
import { EventRecorder } from './events.ts';
import { Informer } from './informer.ts';
import { LeaderElector } from './leader.ts';
import { RuntimeMetrics } from './metrics.ts';
import { Writer } from './status.ts';
import type { KubeObject, ResourceType } from './types.ts';
import { TokenBucket } from './workqueue.ts';

export const FIELD_MANAGER = 'homeops-operator';
export const USER_AGENT = 'homeops-operator';

/** What the manager needs of a controller. */
interface Runnable {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
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
  /** The process's exit code once stopped: 1 after a lost lease, else 0. */
  exitCode = 0;
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
      throttled: this.metrics.restClientThrottled,
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
          .catch((e) => this.log.error({ err: errorText(e), kind: type.kind }, 'informer failed to start'));
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
        // Like controller-runtime: a process that lost its lease stops, with a non-zero exit, and
        // its Deployment restarts it. Reconciles still running are not waited for past a short
        // grace: another process may take the lease once it expires.
        this.exitCode = 1;
        const slack = (this.config.leaseDurationSeconds - this.config.renewDeadlineSeconds) * 1000;
        void this.stop('lost the leader lease', Math.max(500, slack / 2));
      },
    );
  }

  /**
   * Graceful shutdown: stop taking work, finish reconciles in flight, release the lease. With
   * `graceMs`, `stopped` resolves by then whatever is still running (the process then exits).
   */
  stop(why = 'stop requested', graceMs?: number): Promise<void> {
    if (graceMs !== undefined) setTimeout(() => this.resolveStopped(), graceMs).unref();
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
