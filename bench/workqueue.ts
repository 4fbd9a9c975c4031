/**
 * Work queue throughput: adds per second of new keys, the cost of a duplicate add (dedupe) with
 * 10,000 keys waiting, and the rate at which workers drain the queue.
 *   node bench/workqueue.ts
 */
import { WorkQueue } from '../src/runtime/workqueue.ts';

const KEYS: number = 10_000;
const keys = Array.from({ length: KEYS }, (_, i) => `namespace-${i % 50}/object-${i}`);
const noLimit = { when: () => 0, forget: () => {}, retries: () => 0 };

function timed(label: string, ops: number, fn: () => void) {
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  console.log(
    `${label.padEnd(44)} ${(ops / (ms / 1000)).toExponential(2).padStart(10)} ops/s  (${((ms * 1e6) / ops).toFixed(0)} ns/op)`,
  );
}

for (let round = 0; round < 3; round++) {
  const q = new WorkQueue(noLimit);
  console.log(`round ${round + 1}`);
  timed(`add ${KEYS} new keys`, KEYS, () => {
    for (const k of keys) q.add(k);
  });
  const dupes = 1_000_000;
  timed(`add ${dupes} duplicates over ${KEYS} waiting keys`, dupes, () => {
    for (let i = 0; i < dupes; i++) q.add(keys[i % KEYS]!);
  });
  if (q.length !== KEYS) throw new Error(`dedupe failed: ${q.length} keys queued`);
  const t0 = performance.now();
  let n = 0;
  for (;;) {
    if (q.length === 0) break;
    const k = await q.get();
    q.done(k!);
    n++;
  }
  const ms = performance.now() - t0;
  console.log(`${'get + done (drain)'.padEnd(44)} ${(n / (ms / 1000)).toExponential(2).padStart(10)} ops/s`);
}
console.log(`heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB`);
