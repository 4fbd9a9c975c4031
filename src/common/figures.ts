/**
 * Figures as status shows them: rounded so that a measurement that wobbles does not rewrite the
 * status on every probe (the exact values are the metrics). Pure; used by every kind's status.
 */

/** Keeps `previous` while `next` is within `tolerance` of it: rounding that does not flap. */
export function sticky(
  previous: number | undefined,
  next: number,
  tolerance: number,
  digits: number,
): number {
  const rounded = Number(next.toFixed(digits));
  if (previous !== undefined && Math.abs(previous - next) <= tolerance) return previous;
  return rounded;
}

/**
 * A count as status shows it: the previous one while the new one is within 2 or 10 % of it,
 * whichever is larger; always the new one to or from zero (a first waiting client is news). A
 * busy database's connection and client counts move on every probe; the exact values are the
 * metrics.
 */
export function steadyCount(previous: number | undefined, next: number): number {
  if (previous === undefined || previous === 0 || next === 0) return next;
  return Math.abs(next - previous) <= Math.max(2, previous * 0.1) ? previous : next;
}

export function median(xs: readonly number[]): number | undefined {
  if (!xs.length) return undefined;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1]! + s[mid]!) / 2;
}
