/**
 * The jobs' errors: each carries a reason that becomes the job output's `reason`. Anything else
 * thrown is classified by the operator's one classifier (src/pg/errors.ts), coarsely: a failure
 * to get or keep a session (refused, unreachable, lost, authentication, unknown database) is
 * ConnectionFailed; anything the server answered is QueryFailed.
 */
import { classifyPgError, isConnectionFailure } from '../pg/errors.ts';

export class JobError<R extends string = string> extends Error {
  readonly reason: R;
  constructor(reason: R, message: string) {
    super(message);
    this.name = new.target.name;
    this.reason = reason;
  }
}

export function failureReason(e: unknown): string {
  if (e instanceof JobError) return e.reason;
  return isConnectionFailure(classifyPgError(e).reason) ? 'ConnectionFailed' : 'QueryFailed';
}
