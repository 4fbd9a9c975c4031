/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: acquire or renew
 * every retry period with optimistic concurrency (resourceVersion); a lease held by another
 * identity counts as expired only when this process has seen it unchanged for the lease
 * duration (local observation, immune to clock skew); losing the ability to renew within the
 * renew deadline means leadership is lost; release on shutdown hands over at once.
 */
import type { Logger } from 'pino';
import type { KubeClient } from './client.ts';
import { KubeApiError } from './errors.ts';
import { microTime } from './events.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { type KubeObject, Resources } from './types.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

interface LeaseSpec {
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

type Lease = KubeObject & { spec?: LeaseSpec };

export class LeaderElector {
  private readonly client: KubeClient;
  private readonly opts: LeaderElectionOptions;
  private readonly log: Logger;
  private readonly metrics: RuntimeMetrics;
  private leader = false;
  private stopped = false;
  private timer?: NodeJS.Timeout;
  private lastRenew = 0;
  private observed?: { record: string; at: number };
  private lease?: Lease;
  private onStarted?: () => void;
  private onStopped?: () => void;

  constructor(client: KubeClient, opts: LeaderElectionOptions, metrics: RuntimeMetrics, log: Logger) {
    this.client = client;
    this.opts = opts;
    this.metrics = metrics;
    this.log = log.child({ lease: `${opts.namespace}/${opts.name}`, identity: opts.identity });
    metrics.leaderStatus.set({ name: opts.name }, 0);
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Runs the election loop; `started` is called on becoming leader, `stopped` on losing it. */
  run(started: () => void, stopped: () => void): void {
    this.onStarted = started;
    this.onStopped = stopped;
    void this.tick();
  }

  /** Stops the loop and, if leader, releases the lease so that another process takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leader || !this.lease) return;
    this.leader = false;
    this.metrics.leaderStatus.set({ name: this.opts.name }, 0);
    try {
      await this.client.request({
        method: 'PUT',
        path: `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases/${this.opts.name}`,
        body: {
          ...this.lease,
          spec: { ...this.lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
        },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: String(err) }, 'could not release the lease');
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      this.log.debug({ err: String(err) }, 'lease update failed');
    }
    if (this.leader && Date.now() - this.lastRenew > this.opts.renewDeadlineMs) {
      this.leader = false;
      this.metrics.leaderStatus.set({ name: this.opts.name }, 0);
      this.log.error('could not renew the lease within the renew deadline: leadership lost');
      this.onStopped?.();
      return;
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs);
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    const durationSeconds = Math.round(this.opts.leaseDurationMs / 1000);
    let lease: Lease | undefined;
    try {
      lease = await this.client.get<Lease>(Resources.Lease, this.opts.namespace, this.opts.name);
    } catch (err) {
      if (!(err instanceof KubeApiError && err.notFound)) throw err;
    }
    if (!lease) {
      this.lease = await this.client.create<Lease>(Resources.Lease, {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: this.opts.name, namespace: this.opts.namespace },
        spec: {
          holderIdentity: this.opts.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: microTime(),
          renewTime: microTime(),
          leaseTransitions: 0,
        },
      });
      this.becameLeader(now);
      return;
    }
    const spec = lease.spec ?? {};
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime]);
    if (this.observed?.record !== record) this.observed = { record, at: now };
    const heldByOther = !!spec.holderIdentity && spec.holderIdentity !== this.opts.identity;
    const expired = now - this.observed.at > (spec.leaseDurationSeconds ?? durationSeconds) * 1000;
    if (heldByOther && !expired) {
      if (this.leader) {
        this.leader = false;
        this.metrics.leaderStatus.set({ name: this.opts.name }, 0);
        this.log.error({ holder: spec.holderIdentity }, 'another process holds the lease: leadership lost');
        this.onStopped?.();
      }
      return;
    }
    const mine = spec.holderIdentity === this.opts.identity;
    this.lease = await this.client.request<Lease>({
      method: 'PUT',
      path: `/apis/coordination.k8s.io/v1/namespaces/${this.opts.namespace}/leases/${this.opts.name}`,
      body: {
        ...lease,
        spec: {
          holderIdentity: this.opts.identity,
          leaseDurationSeconds: durationSeconds,
          acquireTime: mine ? spec.acquireTime : microTime(),
          renewTime: microTime(),
          leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
        },
      },
    });
    this.becameLeader(now);
  }

  private becameLeader(now: number): void {
    this.lastRenew = now;
    if (this.leader) return;
    this.leader = true;
    this.metrics.leaderStatus.set({ name: this.opts.name }, 1);
    this.log.info('became leader');
    this.onStarted?.();
  }
}
