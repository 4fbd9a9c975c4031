/** Errors of the Kubernetes API, as the operator tells them apart. */
export class KubeApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly method: string;
  readonly path: string;
  constructor(code: number, reason: string, message: string, method: string, path: string) {
    super(message);
    this.name = 'KubeApiError';
    this.code = code;
    this.reason = reason;
    this.method = method;
    this.path = path;
  }
  get notFound(): boolean {
    return this.code === 404;
  }
  get conflict(): boolean {
    return this.code === 409;
  }
  get invalid(): boolean {
    return this.code === 422;
  }
  /** 403 because the namespace is being deleted: nothing more can be made in it. */
  get namespaceTerminating(): boolean {
    return this.code === 403 && /because it is being terminated/.test(this.message);
  }
}

/**
 * A refusal because the object's namespace is being deleted, directly or as the cause of another
 * error: expected while a namespace goes (its objects' deletion comes next), never retried and
 * never a warning.
 */
export function isNamespaceTerminating(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if (e instanceof KubeApiError && e.namespaceTerminating) return true;
  return false;
}

/**
 * What a log line says of an error: its name and message, nothing else. A client's error object
 * carries more than its message: ioredis' has the command and its arguments (an `AUTH` or
 * `ACL SETUSER` holds a password), pg's the query parameters' context; logged whole, pino would
 * write every enumerable field. The one way errors reach the operator's logs.
 */
export function errorText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.name && e.name !== 'Error' ? `${e.name}: ${e.message}` : e.message;
  const m = (e as { message?: unknown } | null)?.message;
  return typeof m === 'string' ? m : String(e);
}
