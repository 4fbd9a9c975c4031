/**
 * One classifier for every PostgreSQL and PgBouncer error the operator meets, so that the
 * prober's conditions, the jobs' results and the lag probe to come name a failure the same way.
 * Only failures to get or keep a session are retried.
 */

/** Why talking to a server failed, as a condition or job reason. */
export type PgFailure =
  | 'ConnectionRefused'
  | 'ConnectionTimeout'
  | 'ConnectionLost'
  | 'AuthenticationFailed'
  | 'DatabaseMissing'
  | 'QueryFailed';

export interface Classified {
  reason: PgFailure;
  /** Worth another try soon: the server may be starting, restarting or unreachable for a moment. */
  retryable: boolean;
  message: string;
}

/** A failure already classified (what withClient throws). */
export class PgError extends Error {
  readonly reason: PgFailure;
  constructor(reason: PgFailure, message: string) {
    super(message);
    this.name = new.target.name;
    this.reason = reason;
  }
}

const UNREACHABLE = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/**
 * A pg error (SQLSTATE in `code`), a Node socket error (E... in `code`) or a bare Error, as a
 * reason. SQLSTATE classes: 28 invalid authorization; 3D000 unknown database; 57P operator
 * intervention (shutdown, the server starting up) and 08000/08003/08006 a lost connection, both
 * retryable; anything else the server said (08P01 included: a protocol refusal such as an
 * unsupported startup parameter) is QueryFailed.
 */
export function classifyPgError(err: unknown): Classified {
  if (err instanceof PgError)
    return { reason: err.reason, retryable: retryableReason(err.reason), message: err.message };
  const e = err as { code?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const message = String(e?.message ?? err);
  const is = (reason: PgFailure): Classified => ({ reason, retryable: retryableReason(reason), message });
  if (code === '28P01' || code === '28000' || /password authentication failed|SASL/i.test(message))
    return is('AuthenticationFailed');
  if (code === '3D000') return is('DatabaseMissing');
  if (code === 'ECONNREFUSED' || /ECONNREFUSED/.test(message)) return is('ConnectionRefused');
  if (code?.startsWith('57P') || code === '08000' || code === '08003' || code === '08006')
    return is('ConnectionLost');
  if (
    (code && UNREACHABLE.has(code)) ||
    /timeout expired|timed out|terminated unexpectedly|Connection terminated/i.test(message)
  )
    return is('ConnectionTimeout');
  return is('QueryFailed');
}

function retryableReason(reason: PgFailure): boolean {
  return reason === 'ConnectionRefused' || reason === 'ConnectionTimeout' || reason === 'ConnectionLost';
}

/** Whether a reason means no session could be had or kept (the jobs' coarse ConnectionFailed). */
export function isConnectionFailure(reason: PgFailure): boolean {
  return reason !== 'QueryFailed';
}
