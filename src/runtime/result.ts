/** What a reconcile returns, and the two kinds of failure the error policy tells apart. */

export interface Result {
  /** Reconcile this key again after this long, even if nothing changes (periodic checks). */
  requeueAfterMs?: number;
}

export const done = (): Result => ({});
export const requeueAfter = (ms: number): Result => ({ requeueAfterMs: ms });

/**
 * A failure that retrying cannot fix (an invalid spec, a missing referenced object that the
 * user must create): the resource gets Stalled=True with this reason, and no hot retry.
 * The key is reconciled again when the resource (or a watched object) changes, and, with
 * `recheckAfterMs`, after that long: an object the user has yet to make is not in the operator's
 * label-scoped caches, so its creation wakes nothing.
 */
export class TerminalError extends Error {
  readonly reason: string;
  readonly recheckAfterMs: number | undefined;
  constructor(reason: string, message: string, opts: { recheckAfterMs?: number } = {}) {
    super(message);
    this.name = 'TerminalError';
    this.reason = reason;
    this.recheckAfterMs = opts.recheckAfterMs;
  }
}
