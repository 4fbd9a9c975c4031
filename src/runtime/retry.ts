export const MAX_THROTTLE_RETRIES = 10;
/** The longest Retry-After honoured for one wait (the server's own hint is 1 s under APF). */
export const MAX_RETRY_AFTER_MS = 10_000;
/** GETs that failed on the connection or with a 5xx: retried this many times. */
export const MAX_GET_RETRIES = 3;

/**
 * How long to wait before sending a request again after `status`, or undefined for no retry.
 * A 429, or a 5xx that carries Retry-After, was not processed by the server: any verb is sent
 * again after the time it asks for (1 s when it names none), bounded. Another 5xx may have been
 * processed: only a GET goes again.
 */
export function retryDelay(
  method: string,
  status: number,
  retryAfter: string | undefined,
  attempt: number,
): number | undefined {
  const seconds =
    retryAfter !== undefined && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : undefined;
  if (status === 429 || (status >= 500 && seconds !== undefined))
    return attempt < MAX_THROTTLE_RETRIES ? Math.min(MAX_RETRY_AFTER_MS, (seconds ?? 1) * 1000) : undefined;
  if (status >= 500) return retryBackoff(method, attempt);
  return undefined;
}

/** Jittered backoff for a GET that failed on the connection or with a 5xx (200 ms doubling), or none. */
export function retryBackoff(method: string, attempt: number, random = Math.random): number | undefined {
  if (method !== 'GET' || attempt >= MAX_GET_RETRIES) return undefined;
  return 200 * 2 ** attempt * (0.5 + random());
}

/** One answer: status, body, and the server's Retry-After, if any. */
export interface Response1 {
  status: number;
  text: string;
  retryAfter: string | undefined;
}

/** A whole call, retries and waits included (client-go has none by default; a hung call must end). */
export const DEFAULT_DEADLINE_MS = 60_000;
/** One attempt's socket timeout. */
export const ATTEMPT_TIMEOUT_MS = 30_000;
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
