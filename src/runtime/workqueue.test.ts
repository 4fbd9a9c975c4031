import { describe, expect, it } from 'vitest';
import { ExponentialBackoff, MaxOf, TokenBucket, WorkQueue } from './workqueue.ts';

const noLimit = { when: () => 0, forget: () => {}, retries: () => 0 };

describe('WorkQueue', () => {
  it('collapses repeated adds of a waiting key', async () => {
    const q = new WorkQueue(noLimit);
    for (let i = 0; i < 1000; i++) q.add('ns/a');
    q.add('ns/b');
    expect(q.length).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
  });

  it('never hands a key to two workers; an add while processing queues it once more after done', async () => {
    const q = new WorkQueue(noLimit);
    q.add('k');
    const key = await q.get();
    q.add('k');
    q.add('k');
    expect(q.length).toBe(0); // not handed out while processing
    q.done(key!);
    expect(q.length).toBe(1);
    expect(await q.get()).toBe('k');
    q.done('k');
    expect(q.length).toBe(0);
  });

  it('wakes a waiting worker on add', async () => {
    const q = new WorkQueue(noLimit);
    const next = q.get();
    q.add('late');
    expect(await next).toBe('late');
  });

  it('addAfter delivers later, and an earlier pending add wins', async () => {
    const q = new WorkQueue(noLimit);
    q.addAfter('k', 50);
    q.addAfter('k', 5_000);
    expect(q.length).toBe(0);
    await new Promise((r) => setTimeout(r, 80));
    expect(q.length).toBe(1);
    q.shutDown();
  });

  it('shutDown releases waiting workers and refuses new keys', async () => {
    const q = new WorkQueue(noLimit);
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add('x');
    expect(q.length).toBe(0);
  });

  it('shutDownWithDrain waits for in-flight keys', async () => {
    const q = new WorkQueue(noLimit);
    q.add('k');
    const key = await q.get();
    let drained = false;
    const p = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    await new Promise((r) => setTimeout(r, 10));
    expect(drained).toBe(false);
    q.done(key!);
    await p;
    expect(drained).toBe(true);
  });
});

describe('rate limiters', () => {
  it('backs off exponentially per key and resets on forget', () => {
    const b = new ExponentialBackoff(5, 1000_000);
    expect([b.when('a'), b.when('a'), b.when('a'), b.when('a')]).toEqual([5, 10, 20, 40]);
    expect(b.when('b')).toBe(5);
    expect(b.retries('a')).toBe(4);
    b.forget('a');
    expect(b.when('a')).toBe(5);
  });

  it('caps the backoff', () => {
    const b = new ExponentialBackoff(5, 1000_000);
    let last = 0;
    for (let i = 0; i < 40; i++) last = b.when('a');
    expect(last).toBe(1000_000);
  });

  it('lets a burst through the token bucket, then spaces keys at the rate', () => {
    let now = 0;
    const bucket = new TokenBucket(10, 3, () => now);
    expect([bucket.when(), bucket.when(), bucket.when()]).toEqual([0, 0, 0]);
    expect(bucket.when()).toBeCloseTo(100);
    now += 1000; // refills 10 tokens, capped at the burst of 3
    expect(bucket.when()).toBe(0);
  });

  it('MaxOf takes the longest wait', () => {
    const now = 0;
    const l = new MaxOf(new ExponentialBackoff(5, 1000), new TokenBucket(1, 1, () => now));
    expect(l.when('a')).toBe(5);
    expect(l.when('a')).toBe(1000); // the bucket is empty: 1 token per second
  });
});
