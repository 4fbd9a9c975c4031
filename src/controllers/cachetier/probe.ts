/**
 * What a running Redis says of itself (INFO), and its live settings brought to the spec
 * (CONFIG GET, then CONFIG SET where they differ). One short connection per probe, with
 * timeouts; the password is never logged.
 */
import { Redis } from 'ioredis';
import type { Endpoint } from '../../pg/client.ts';
import type { RotationAction } from './rotation.ts';

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
}

/** INFO's text as fields. Pure. */
export function parseInfo(text: string): RedisInfo {
  const f = new Map<string, string>();
  let keys = 0;
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i < 0 || line.startsWith('#')) continue;
    const k = line.slice(0, i);
    const v = line.slice(i + 1);
    if (/^db[0-9]+$/.test(k)) keys += Number(/keys=([0-9]+)/.exec(v)?.[1] ?? 0);
    else f.set(k, v);
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

/**
 * As the operator's ACL user: INFO; each wanted live setting compared with CONFIG GET and set
 * where it differs; then the default user's password brought to `password` (rotationStep).
 */
export async function probeRedis(
  target: Endpoint & { username: string; password: string },
  wanted: Record<string, string>,
  auth: { password: string; decide: (hashes: string[]) => RotationAction },
  timeoutMs = 5000,
): Promise<RedisProbe> {
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
  try {
    await r.connect();
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
    return { info, config, rotation: { action, hashes } };
  } finally {
    r.disconnect();
  }
}
