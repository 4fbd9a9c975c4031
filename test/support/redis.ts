/** A test's or benchmark's Redis client: no retries, no offline queue surprises, short timeouts. */
import { Redis } from 'ioredis';

/** Not connected yet (lazyConnect): `await r.connect()`; errors surface as the commands'. */
export function redisClient(host: string, password: string | undefined, timeoutMs: number): Redis {
  const r = new Redis({
    host,
    port: 6379,
    ...(password !== undefined ? { password } : {}),
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    retryStrategy: () => null,
  });
  r.on('error', () => {});
  return r;
}
