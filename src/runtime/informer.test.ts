import { createServer } from 'node:http';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { eventually } from '../../test/support/kube.ts';
import { kubeConfigFor } from '../../test/support/localapi.ts';
import { KubeClient } from './client.ts';
import { BACKOFF_RESET_MS, failuresBefore, Informer, relistDelay } from './informer.ts';
import { Resources } from './types.ts';

/** An API server whose lists answer 403 `failures` times, then one ConfigMap; watches stay open. */
async function apiServer(failures: number, watchFailures = 0) {
  const lists: { synced: boolean }[] = [];
  const watches: number[] = [];
  let informer: Informer | undefined;
  const srv = createServer((req, res) => {
    if (req.url?.includes('watch=true')) {
      watches.push(watches.length);
      if (watches.length <= watchFailures)
        return void res.writeHead(403, { 'Content-Type': 'application/json' }).end('{"reason":"Forbidden"}');
      res.writeHead(200, { 'Content-Type': 'application/json' }).flushHeaders();
      return; // an open watch with no events
    }
    lists.push({ synced: informer?.hasSynced ?? false });
    if (lists.length <= failures)
      return void res
        .writeHead(403, { 'Content-Type': 'application/json' })
        .end('{"reason":"Forbidden","message":"configmaps is forbidden"}');
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(
      JSON.stringify({
        metadata: { resourceVersion: '7' },
        items: [
          {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: { name: 'a', namespace: 'ns', resourceVersion: '7' },
          },
        ],
      }),
    );
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const kc = kubeConfigFor(srv);
  const make = () => {
    informer = new Informer(
      kc,
      new KubeClient(kc, { userAgent: 't' }),
      Resources.ConfigMap,
      pino({ level: 'silent' }),
      {
        namespaces: ['ns'],
        backoffBaseMs: 5,
        backoffMaxMs: 20,
      },
    );
    return informer;
  };
  const close = () => {
    srv.closeAllConnections();
    return new Promise((r) => srv.close(r));
  };
  return { make, lists, watches, close };
}

describe('Informer sync', () => {
  it('is not synced while its list fails, and syncs on the first list that succeeds', async () => {
    const api = await apiServer(3);
    const inf = api.make();
    await inf.start();
    expect(api.lists.map((l) => l.synced)).toEqual([false, false, false, false]);
    expect(inf.hasSynced).toBe(true);
    expect(inf.list().map((o) => o.metadata.name)).toEqual(['a']);
    await inf.stop();
    await api.close();
  });

  it('watches again when its first watch fails right after the list', async () => {
    const api = await apiServer(0, 1);
    const inf = api.make();
    await inf.start();
    expect(inf.hasSynced).toBe(true);
    // The failed watch is restarted (a relist and a new watch), never left dead.
    await eventually(() => api.watches.length >= 2, 5000, 10);
    await inf.stop();
    await api.close();
  });
});

describe('relist backoff', () => {
  it('doubles from the base to the cap, jittered', () => {
    const mid = () => 0.5; // no jitter
    expect([0, 1, 2, 3, 10].map((n) => relistDelay(n, 500, 30_000, mid))).toEqual([
      500, 1000, 2000, 4000, 30_000,
    ]);
    expect(relistDelay(0, 500, 30_000, () => 0)).toBe(250);
    expect(relistDelay(0, 500, 30_000, () => 0.999)).toBeCloseTo(749.5);
  });

  it('starts over only after a watch stayed healthy for the reset time', () => {
    expect(failuresBefore(6, 0)).toBe(6); // failing again at once: keeps growing
    expect(failuresBefore(6, BACKOFF_RESET_MS - 1)).toBe(6);
    expect(failuresBefore(6, BACKOFF_RESET_MS)).toBe(0);
  });
});
