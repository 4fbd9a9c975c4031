import { describe, expect, it } from 'vitest';
import { REDIS_INFO } from '../../../test/support/objects.ts';
import { parseInfo } from './probe.ts';

describe('parseInfo', () => {
  it('reads the figures status needs', () => {
    expect(parseInfo(REDIS_INFO)).toMatchObject({
      role: 'master',
      usedMemory: 1048576,
      maxMemory: 2097152,
      keys: 15,
      evictedKeys: 7,
      connectedClients: 3,
      aofEnabled: true,
      aofLastWriteStatus: 'ok',
      loading: false,
    });
  });
});

describe('parseInfo, replication', () => {
  it("reads a writer's replicas and a replica's link", () => {
    const w = parseInfo(
      '# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=198.18.0.12,port=6379,state=online,offset=4242,lag=1\r\nmaster_repl_offset:4300\r\n',
    );
    expect(w).toMatchObject({
      role: 'master',
      replOffset: 4300,
      replicas: [{ ip: '198.18.0.12', state: 'online', offset: 4242, lagSeconds: 1 }],
    });
    expect(w).not.toHaveProperty('linkUp');
    const r = parseInfo(
      'role:slave\r\nmaster_host:cache.ns.svc\r\nmaster_link_status:down\r\nmaster_link_down_since_seconds:-1\r\nslave_repl_offset:1\r\nmaster_repl_offset:0\r\n',
    );
    expect(r).toMatchObject({
      role: 'slave',
      masterHost: 'cache.ns.svc',
      linkUp: false,
      linkDownSinceSeconds: -1,
      replicaOffset: 1,
      replicas: [],
    });
  });
});
