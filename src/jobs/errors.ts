/**
 * The jobs' errors: each carries a reason that becomes the job output's `reason`. Anything else
 * thrown is a connection failure (a Node system error such as ECONNREFUSED, no code at all, or
 * a SQLSTATE of getting or keeping a session: connection exception 08, invalid authorization
 * 28, unknown database 3D000, operator intervention 57P) or else a failed query.
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
  return typeof code === 'string' && !/^(E[A-Z]+|08|28|3D000|57P)/.test(code)
    ? 'QueryFailed'
    : 'ConnectionFailed';
}
