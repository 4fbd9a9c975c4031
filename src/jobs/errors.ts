/**
 * The jobs' errors: each carries a reason that becomes the job output's `reason`. Anything else
 * thrown is a server error (it has a SQLSTATE: QueryFailed) or a connection failure (a Node
 * system error code such as ECONNREFUSED, or none: ConnectionFailed).
 */
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
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && !/^E[A-Z]+$/.test(code) ? 'QueryFailed' : 'ConnectionFailed';
}
