/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go does it: acquire or renew
 * every retry period with optimistic concurrency (resourceVersion); a lease held by another
 * identity counts as expired only when this process has seen it unchanged for the lease
 * duration (local observation, immune to clock skew); losing the ability to renew within the
 * renew deadline means leadership is lost; release on shutdown hands over at once.
 */
import type { Logger } from 'pino';
import type { KubeClient } from './client.ts';
import { errorText, KubeApiError } from './errors.ts';
import { microTime } from './events.ts';
import type { RuntimeMetrics } from './metrics.ts';
import { type KubeObject, Resources, resourcePath } from './types.ts';

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
  /** Fires at the renew deadline unless a renewal lands first. */
  private watchdog?: NodeJS.Timeout;
  /** Leadership was lost: this elector does not run for it again (the process exits). */
  private lostOnce = false;
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
    clearTimeout(this.watchdog);
    if (!this.leader || !this.lease) return;
    this.leader = false;
    this.metrics.leaderStatus.set({ name: this.opts.name }, 0);
    try {
      await this.client.request({
        method: 'PUT',
        path: resourcePath(Resources.Lease, this.opts.namespace, this.opts.name),
        timeoutMs: this.opts.retryPeriodMs * 2,
        body: {
          ...this.lease,
          spec: { ...this.lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() },
        },
      });
      this.log.info('released the lease');
    } catch (err) {
      this.log.warn({ err: errorText(err) }, 'could not release the lease');
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    try {
      await this.tryAcquireOrRenew();
    } catch (err) {
      this.log.debug({ err: errorText(err) }, 'lease update failed');
    }
    if (this.leader && Date.now() - this.lastRenew > this.opts.renewDeadlineMs)
      this.lose('could not renew the lease within the renew deadline: leadership lost');
    if (!this.stopped && (this.leader || !this.lostOnce))
      this.timer = setTimeout(() => void this.tick(), this.opts.retryPeriodMs);
  }

  /**
   * Leadership ends here, once: by the watchdog at the renew deadline (a renewal hung on a dead
   * connection must not keep a leader reconciling while the lease expires and a standby takes
   * it), by another holder seen, or by a tick that found the deadline passed.
   */
  private lose(message: string, fields: Record<string, unknown> = {}): void {
    clearTimeout(this.watchdog);
    if (!this.leader) return;
    this.leader = false;
    this.lostOnce = true;
    this.metrics.leaderStatus.set({ name: this.opts.name }, 0);
    this.log.error(fields, message);
    this.onStopped?.();
  }

  /**
   * How long one request may take, asked when it is sent: a quarter of what is left of the
   * renew deadline (a leader; of the whole deadline otherwise), at least a retry period, never
   * past the deadline. A request hung on a dead connection then leaves time for a whole new
   * attempt (a GET and a PUT, each possibly throttled once) before the deadline.
   */
  private attemptMs(): number {
    const left = this.leader
      ? this.lastRenew + this.opts.renewDeadlineMs - Date.now()
      : this.opts.renewDeadlineMs;
    return Math.max(250, Math.min(left, Math.max(this.opts.retryPeriodMs, left / 4)));
  }

  private async tryAcquireOrRenew(): Promise<void> {
    const now = Date.now();
    const durationSeconds = Math.round(this.opts.leaseDurationMs / 1000);
    const path = resourcePath(Resources.Lease, this.opts.namespace, this.opts.name);
    let lease: Lease | undefined;
    try {
      lease = await this.client.request<Lease>({ method: 'GET', path, timeoutMs: this.attemptMs() });
    } catch (err) {
      if (!(err instanceof KubeApiError && err.notFound)) throw err;
    }
    if (!lease) {
      this.lease = await this.client.request<Lease>({
        method: 'POST',
        path: resourcePath(Resources.Lease, this.opts.namespace),
        timeoutMs: this.attemptMs(),
        body: {
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
      this.lose('another process holds the lease: leadership lost', { holder: spec.holderIdentity });
      return;
    }
    const mine = spec.holderIdentity === this.opts.identity;
    this.lease = await this.client.request<Lease>({
      method: 'PUT',
      path,
      timeoutMs: this.attemptMs(),
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
    if (this.stopped) return;
    this.lastRenew = now;
    clearTimeout(this.watchdog);
    this.watchdog = setTimeout(
      () => this.lose('could not renew the lease within the renew deadline: leadership lost'),
      Math.max(0, now + this.opts.renewDeadlineMs - Date.now()),
    );
    if (this.leader) return;
    this.leader = true;
    this.metrics.leaderStatus.set({ name: this.opts.name }, 1);
    this.log.info('became leader');
    this.onStarted?.();
  }
}
