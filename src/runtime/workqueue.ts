/**
 * A rate-limited work queue with client-go's semantics: a key waiting in the queue is there
 * once however often it is added; a key being processed is never handed to a second worker
 * (an add while it is processed marks it dirty, and it is queued again when `done`); failed
 * keys come back after a per-key exponential backoff combined with a global token bucket.
 */

export interface RateLimiter {
  /** How long to wait before the key may be processed again. */
  when(key: string): number;
  forget(key: string): void;
  retries(key: string): number;
}

/** Per-key exponential backoff: base * 2^failures, capped (client-go: 5 ms to 1000 s). */
export class ExponentialBackoff implements RateLimiter {
  private readonly failures = new Map<string, number>();
  private readonly baseMs: number;
  private readonly maxMs: number;
  constructor(baseMs = 5, maxMs = 1000_000) {
    this.baseMs = baseMs;
    this.maxMs = maxMs;
  }
  when(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return Math.min(this.baseMs * 2 ** n, this.maxMs);
  }
  forget(key: string): void {
    this.failures.delete(key);
  }
  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }
}

/** A global token bucket (client-go: 10 per second, burst 100) shared by all keys. */
export class TokenBucket implements RateLimiter {
  private tokens: number;
  private last: number;
  private readonly perSecond: number;
  private readonly burst: number;
  private readonly now: () => number;
  constructor(perSecond = 10, burst = 100, now: () => number = Date.now) {
    this.perSecond = perSecond;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }
  when(): number {
    const t = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((t - this.last) / 1000) * this.perSecond);
    this.last = t;
    this.tokens -= 1;
    return this.tokens >= 0 ? 0 : (-this.tokens / this.perSecond) * 1000;
  }
  forget(): void {}
  retries(): number {
    return 0;
  }
}

/** The longest wait of several limiters (client-go's MaxOfRateLimiter). */
export class MaxOf implements RateLimiter {
  private readonly limiters: RateLimiter[];
  constructor(...limiters: RateLimiter[]) {
    this.limiters = limiters;
  }
  when(key: string): number {
    return Math.max(...this.limiters.map((l) => l.when(key)));
  }
  forget(key: string): void {
    for (const l of this.limiters) l.forget(key);
  }
  retries(key: string): number {
    return Math.max(...this.limiters.map((l) => l.retries(key)));
  }
}

export const defaultRateLimiter = () =>
  new MaxOf(new ExponentialBackoff(5, 1000_000), new TokenBucket(10, 100));

export interface QueueHooks {
  onDepth?(depth: number): void;
  onAdd?(): void;
  onRetry?(): void;
  /** Seconds a key waited in the queue before a worker took it. */
  onQueued?(seconds: number): void;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly addedAt = new Map<string, number>();
  private readonly delayed = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: ((key: string | undefined) => void)[] = [];
  private shuttingDown = false;
  private drainedResolve?: () => void;
  readonly rateLimiter: RateLimiter;
  private readonly hooks: QueueHooks;

  constructor(rateLimiter: RateLimiter = defaultRateLimiter(), hooks: QueueHooks = {}) {
    this.rateLimiter = rateLimiter;
    this.hooks = hooks;
  }

  get length(): number {
    return this.queue.length;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  add(key: string): void {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.hooks.onAdd?.();
    this.dirty.add(key);
    if (this.processing.has(key)) return; // queued again by done()
    this.addedAt.set(key, performance.now());
    const waiter = this.waiters.shift();
    if (waiter) {
      this.take(key);
      waiter(key);
      return;
    }
    this.queue.push(key);
    this.hooks.onDepth?.(this.queue.length);
  }

  /** Adds the key after `ms`; an earlier pending add of the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + ms;
    const pending = this.delayed.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.delayed.delete(key);
      this.add(key);
    }, ms);
    timer.unref?.();
    this.delayed.set(key, { at, timer });
  }

  addRateLimited(key: string): void {
    this.hooks.onRetry?.();
    this.addAfter(key, this.rateLimiter.when(key));
  }

  forget(key: string): void {
    this.rateLimiter.forget(key);
  }

  /** The next key, waiting for one; undefined once the queue is shut down and empty. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) {
      this.hooks.onDepth?.(this.queue.length);
      this.take(key);
      return Promise.resolve(key);
    }
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Marks the key processed; if it was added meanwhile, it is queued again. */
  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key)) {
      this.dirty.delete(key);
      this.add(key);
    }
    if (this.shuttingDown && this.processing.size === 0) this.drainedResolve?.();
  }

  /** Stops accepting keys; pending delayed adds are dropped; waiting workers get undefined. */
  shutDown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.delayed.values()) clearTimeout(timer);
    this.delayed.clear();
    this.queue.length = 0;
    this.dirty.clear();
    for (const w of this.waiters.splice(0)) w(undefined);
  }

  /** Shuts down and resolves once no key is being processed. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainedResolve = resolve;
    });
  }

  private take(key: string): void {
    this.dirty.delete(key);
    this.processing.add(key);
    const at = this.addedAt.get(key);
    this.addedAt.delete(key);
    if (at !== undefined) this.hooks.onQueued?.((performance.now() - at) / 1000);
  }
}
