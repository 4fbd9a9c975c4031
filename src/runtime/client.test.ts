import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from './client.ts';
import { Resources } from './types.ts';

const arrivals: string[] = [];
const server = createServer((req, res) => {
  arrivals.push(req.url ?? '');
  res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"items":[],"metadata":{}}');
});
let kc: KubeConfig;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [
      {
        name: 'c',
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
});
afterAll(() => new Promise((r) => server.close(r)));

describe('KubeClient rate limit', () => {
  it('asks the limiter before every request, and sends them all', async () => {
    arrivals.length = 0;
    const asked: number[] = [];
    // A limiter that lets three through at once and holds the others back a moment.
    const limiter = {
      when: () => {
        asked.push(asked.length);
        return asked.length <= 3 ? 0 : 20;
      },
    };
    const client = new KubeClient(kc, { userAgent: 't', limiter });
    await Promise.all(Array.from({ length: 7 }, () => client.list(Resources.ConfigMap, 'ns')));
    expect(asked).toHaveLength(7);
    expect(arrivals).toHaveLength(7);
  });

  it('sends at once without a limiter', async () => {
    arrivals.length = 0;
    const client = new KubeClient(kc, { userAgent: 't' });
    await Promise.all(Array.from({ length: 7 }, () => client.list(Resources.ConfigMap, 'ns')));
    expect(arrivals).toHaveLength(7);
  });
});
