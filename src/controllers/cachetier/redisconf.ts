/**
 * redis.conf from a CacheTier spec, in two parts: the settings that need a restart (redis.conf,
 * whose checksum rolls the pods) and the ones Redis takes at runtime (live.conf, included by
 * redis.conf, applied with CONFIG SET to the running server and read again at any restart). Pure.
 */
import type { CacheTierSpec } from '../../api/v1alpha1/index.ts';
import {
  AUTH_DIR,
  CONFIG_DIR,
  DATA_DIR,
  OPERATOR_AUTH_DIR,
  OPERATOR_USER,
  REDIS_PORT,
  RUN_DIR,
} from './names.ts';

/** Bytes of a Redis size: k/m/g are powers of 1000, kb/mb/gb of 1024 (Redis's own rule). */
export function redisBytes(size: string): number {
  const m = /^([0-9]+)(b|kb|mb|gb|k|m|g)?$/.exec(size);
  if (!m) throw new Error(`not a Redis size: ${size}`);
  const unit = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[m[2] ?? 'b']!;
  return Number(m[1]) * unit;
}

/**
 * The settings Redis changes at runtime, as CONFIG GET writes them back (sizes in bytes), so a
 * live value and a wanted one compare as strings.
 */
export function liveSettings(spec: CacheTierSpec): Record<string, string> {
  return {
    maxmemory: String(redisBytes(spec.maxMemory)),
    'maxmemory-policy': spec.maxMemoryPolicy,
    timeout: String(spec.timeoutSeconds),
    'tcp-keepalive': String(spec.tcpKeepaliveSeconds),
    appendfsync: spec.persistence.appendFsync,
    'auto-aof-rewrite-percentage': String(spec.persistence.autoAofRewritePercentage),
    'auto-aof-rewrite-min-size': String(redisBytes(spec.persistence.autoAofRewriteMinSize)),
  };
}

/**
 * The settings that need a restart: a change here rolls the pods (their checksum). In mode
 * replicated, `writerHost` is the writer Service's name: every member starts as its replica.
 */
export function renderRedisConf(spec: CacheTierSpec, writerHost?: string): string {
  return [
    '# Written by homeops-operator: the settings that need a restart. live.conf holds those',
    '# the operator also applies at runtime (CONFIG SET); auth.conf is written at start from the Secret.',
    `port ${REDIS_PORT}`,
    'bind * -::*',
    'protected-mode no',
    `dir ${DATA_DIR}`,
    `appendonly ${spec.persistence.appendOnly ? 'yes' : 'no'}`,
    'save 3600 1 300 100 60 10000',
    'loglevel notice',
    'logfile ""',
    ...(spec.mode === 'replicated' && writerHost
      ? [
          '# mode replicated: every member starts as a replica of the writer Service, never as a',
          '# writer. Only the operator promotes one (REPLICAOF NO ONE, not written back), so a member',
          '# that restarts, the old writer included, cannot come back as a second writer.',
          `replicaof ${writerHost} ${REDIS_PORT}`,
          'replica-read-only yes',
          'repl-diskless-sync-delay 1',
        ]
      : []),
    `include ${CONFIG_DIR}/live.conf`,
    `include ${RUN_DIR}/auth.conf`,
    '',
  ].join('\n');
}

export function renderLiveConf(spec: CacheTierSpec): string {
  const lines = Object.entries(liveSettings(spec)).map(([k, v]) => `${k} ${v}`);
  return `# Written by homeops-operator: applied at runtime with CONFIG SET, and read at every start.\n${lines.join('\n')}\n`;
}

/**
 * The container's command: the password from the Secret into auth.conf in a memory volume
 * (requirepass, and masterauth for replicas), never on a command line, then redis-server.
 */
export function renderRedisStartScript(): string {
  return `#!/bin/sh
# Written by homeops-operator: starts Redis without the image's entrypoint.
set -eu
if ! command -v redis-server >/dev/null 2>&1; then PATH="$PATH:/usr/bin:/usr/local/bin"; fi
if ! command -v redis-server >/dev/null 2>&1; then
  msg="homeops: the image has no redis-server on PATH ($PATH)"
  echo "$msg" >&2
  echo "$msg" > /dev/termination-log 2>/dev/null || true
  exit 78
fi
umask 077
password=$(cat ${AUTH_DIR}/password)
operator=$(cat ${OPERATOR_AUTH_DIR}/password)
# The default user (applications), and the operator's own user: INFO, CONFIG and ACL SETUSER
# (and REPLICAOF, FAILOVER: it elects the writer) only, no key, so that it can add a new password beside the old one while clients switch.
printf 'requirepass "%s"\\nmasterauth "%s"\\nuser ${OPERATOR_USER} on >%s resetkeys resetchannels -@all +ping +info +client|setname +config|get +config|set +acl|getuser +acl|setuser +replicaof +failover\\n' \\
  "$password" "$password" "$operator" > ${RUN_DIR}/auth.conf
unset password operator
exec redis-server ${CONFIG_DIR}/redis.conf
`;
}
