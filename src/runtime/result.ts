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
 * The key is reconciled again when the resource (or a watched object) changes.
 */
export class TerminalError extends Error {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(message);
    this.name = 'TerminalError';
    this.reason = reason;
  }
}
