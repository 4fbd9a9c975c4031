/**
 * What a running Redis says of itself (INFO), and its live settings brought to the spec
 * (CONFIG GET, then CONFIG SET where they differ). One short connection per probe, with
 * timeouts; the password is never logged.
 */
import { Redis } from 'ioredis';
import type { Endpoint } from '../../pg/client.ts';
import { passwordHash, type RotationAction } from './rotation.ts';

export interface RedisInfo {
  role: string;
  usedMemory: number;
  maxMemory: number;
  keyspaceHits: number;
  keyspaceMisses: number;
  evictedKeys: number;
  keys: number;
  connectedClients: number;
  aofEnabled: boolean;
  aofLastWriteStatus?: string;
  aofLastRewriteStatus?: string;
  lastBgsaveStatus?: string;
  changesSinceLastSave: number;
  loading: boolean;
  /** master_repl_offset: the writer's position, or what a replica has received. */
  replOffset: number;
  /** A replica's: master_host, master_link_status up, master_link_down_since_seconds, slave_repl_offset. */
  masterHost?: string;
  linkUp?: boolean;
  linkDownSinceSeconds?: number;
  replicaOffset?: number;
  /** The writer's: its replicas as it sees them (ip, state, offset, lag = seconds since the last ack). */
  replicas: { ip: string; state: string; offset: number; lagSeconds: number }[];
}

/** INFO's text as fields. Pure. */
export function parseInfo(text: string): RedisInfo {
  const f = new Map<string, string>();
  let keys = 0;
  const replicas: RedisInfo['replicas'] = [];
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0 || line.startsWith('#')) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    if (/^db[0-9]+$/.test(k)) keys += Number(/keys=([0-9]+)/.exec(v)?.[1] ?? 0);
    else if (/^slave[0-9]+$/.test(k)) {
      const kv = Object.fromEntries(v.split(',').map((p) => p.split('=') as [string, string]));
      replicas.push({
        ip: kv.ip ?? '',
        state: kv.state ?? 'unknown',
        offset: Number(kv.offset ?? 0),
        lagSeconds: Number(kv.lag ?? 0),
      });
    } else f.set(k, v);
  }
  const n = (k: string) => Number(f.get(k) ?? 0);
  return {
    role: f.get('role') ?? 'unknown',
    usedMemory: n('used_memory'),
    maxMemory: n('maxmemory'),
    keyspaceHits: n('keyspace_hits'),
    keyspaceMisses: n('keyspace_misses'),
    evictedKeys: n('evicted_keys'),
    keys,
    connectedClients: n('connected_clients'),
    aofEnabled: f.get('aof_enabled') === '1',
    ...(f.has('aof_last_write_status') ? { aofLastWriteStatus: f.get('aof_last_write_status') } : {}),
    ...(f.has('aof_last_bgrewrite_status')
      ? { aofLastRewriteStatus: f.get('aof_last_bgrewrite_status') }
      : {}),
    ...(f.has('rdb_last_bgsave_status') ? { lastBgsaveStatus: f.get('rdb_last_bgsave_status') } : {}),
    changesSinceLastSave: n('rdb_changes_since_last_save'),
    loading: f.get('loading') === '1',
    replOffset: n('master_repl_offset'),
    ...(f.get('role') === 'slave'
      ? {
          masterHost: f.get('master_host') ?? '',
          linkUp: f.get('master_link_status') === 'up',
          linkDownSinceSeconds: n('master_link_down_since_seconds'),
          replicaOffset: n('slave_repl_offset'),
        }
      : {}),
    replicas,
  };
}

export interface ConfigResult {
  /** Settings changed by this probe, name → value. */
  set: Record<string, string>;
  /** Settings Redis refused, name → its error. */
  refused: Record<string, string>;
}

export interface RedisProbe {
  info: RedisInfo;
  config: ConfigResult;
  /** The rotation step taken (or none), and the password hashes the default user has after it. */
  rotation: { action: RotationAction; hashes: string[] };
}

/** The `passwords` of ACL GETUSER's flat reply. */
export function aclPasswords(reply: unknown): string[] {
  if (!Array.isArray(reply)) return [];
  const i = reply.indexOf('passwords');
  const v = i >= 0 ? reply[i + 1] : undefined;
  return Array.isArray(v) ? v.map(String) : [];
}

/** A Redis answers INFO in milliseconds; one that does not within this is unreachable. */
export const PROBE_TIMEOUT_MS = 3000;

export type RedisTarget = Endpoint & { username: string; password: string };

/**
 * One short connection as the operator's ACL user, closed after `fn`; errors are fn's. The
 * whole exchange (connect, AUTH, fn) has one deadline: a hung server (frozen, cut off) accepts
 * TCP and never answers, and each step's own timeout would add up.
 */
export async function withRedis<T>(
  target: RedisTarget,
  timeoutMs: number,
  fn: (r: Redis) => Promise<T>,
): Promise<T> {
  const r = new Redis({
    host: target.host,
    port: target.port,
    username: target.username,
    password: target.password,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: true,
    lazyConnect: true,
    retryStrategy: () => null,
    connectionName: 'homeops-operator-probe',
  });
  r.on('error', () => {}); // surfaces as the command's error
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${target.host}:${target.port} did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([
      (async () => {
        await r.connect();
        return fn(r);
      })(),
      deadline,
    ]);
  } finally {
    clearTimeout(timer);
    r.disconnect();
  }
}

/**
 * As the operator's ACL user: INFO; each wanted live setting compared with CONFIG GET and set
 * where it differs; then the default user's password brought to `password` (rotationStep).
 */
export async function probeRedis(
  target: RedisTarget,
  wanted: Record<string, string>,
  auth: { password: string; decide: (hashes: string[]) => RotationAction },
  timeoutMs = PROBE_TIMEOUT_MS,
): Promise<RedisProbe> {
  return withRedis(target, timeoutMs, async (r) => {
    const info = parseInfo(await r.info());
    const config: ConfigResult = { set: {}, refused: {} };
    for (const [k, v] of Object.entries(wanted)) {
      const live = (await r.config('GET', k)) as string[];
      if (live[1] === v) continue;
      try {
        await r.config('SET', k, v);
        config.set[k] = v;
      } catch (e) {
        config.refused[k] = String((e as Error).message ?? e);
      }
    }
    let hashes = aclPasswords(await r.call('ACL', 'GETUSER', 'default'));
    const action = auth.decide(hashes);
    if (action.kind === 'add' || action.kind === 'finish') {
      // The password is an argument of the command, never logged.
      await r.call(
        'ACL',
        'SETUSER',
        'default',
        'on',
        ...(action.kind === 'finish' ? ['resetpass'] : []),
        `>${auth.password}`,
      );
      hashes = aclPasswords(await r.call('ACL', 'GETUSER', 'default'));
    }
    // A replica authenticates to the writer with masterauth: the current password once this
    // member accepts it (the writer is probed first, so it accepts it too). Never logged.
    const masterauth = (await r.config('GET', 'masterauth')) as string[];
    if (hashes.includes(passwordHash(auth.password)) && masterauth[1] !== auth.password)
      await r.config('SET', 'masterauth', auth.password);
    return { info, config, rotation: { action, hashes } };
  });
}

/** REPLICAOF host port, or REPLICAOF NO ONE (promote) when host is undefined. */
export async function replicaOf(target: RedisTarget, host: string | undefined, timeoutMs = PROBE_TIMEOUT_MS) {
  await withRedis(target, timeoutMs, (r) =>
    host ? r.call('REPLICAOF', host, String(target.port)) : r.call('REPLICAOF', 'NO', 'ONE'),
  );
}

/**
 * A switchover: FAILOVER TO the replica; the writer pauses its clients until the replica has
 * caught up, then they swap roles (Redis 6.2+). Resolves once the writer reports it is a replica.
 */
export async function switchover(target: RedisTarget, to: string, timeoutMs = 10_000) {
  await withRedis(target, timeoutMs + 5000, async (r) => {
    await r.call('FAILOVER', 'TO', to, String(target.port), 'TIMEOUT', String(timeoutMs));
    const deadline = Date.now() + timeoutMs + 2000;
    while (Date.now() < deadline) {
      if (parseInfo(await r.info('replication')).role === 'slave') return;
      await new Promise((ok) => setTimeout(ok, 100));
    }
    throw new Error(`FAILOVER TO ${to}: the writer still reports role master`);
  });
}
