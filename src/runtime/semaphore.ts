/** Bounds how many of something run at once (probes of many databases, for example). */
export class Semaphore {
  private available: number;
  private readonly waiting: (() => void)[] = [];
  constructor(size: number) {
    this.available = size;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.available > 0) this.available--;
    else await new Promise<void>((r) => this.waiting.push(r));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.available++;
    }
  }
}
