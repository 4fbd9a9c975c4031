/**
 * The operator's logger. Secrets are never logged on purpose; the redaction is the second line:
 * a field that can carry one (a password, a URI with credentials, a Secret's data, an auth
 * header) is censored wherever an object lands in a log line, up to three levels deep.
 */
import pino, { type DestinationStream, type Logger } from 'pino';

const SECRET_KEYS = ['password', 'passwd', 'uri', 'token', 'data', 'stringData', 'authorization', 'auth'];

/** The redaction paths: each secret-bearing key at the top and under one or two levels of objects. */
export const REDACT_PATHS = SECRET_KEYS.flatMap((k) => [k, `*.${k}`, `*.*.${k}`]);

export function makeLogger(level: string, identity: string, destination?: DestinationStream): Logger {
  const options = { level, base: { identity }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  return destination ? pino(options, destination) : pino(options);
}
