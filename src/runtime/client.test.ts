import { createServer } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { Counter } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kubeConfigFor } from '../../test/support/localapi.ts';
import { KubeClient } from './client.ts';
import { retryDelay } from './retry.ts';
import { Resources } from './types.ts';

const arrivals: string[] = [];
const server = createServer((req, res) => {
  arrivals.push(req.url ?? '');
  res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"items":[],"metadata":{}}');
});
let kc: KubeConfig;

beforeAll(async () => {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  kc = kubeConfigFor(server);
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

describe('KubeClient retries, as client-go', () => {
  /** A server that answers each request with the next of `answers` (the last one repeats). */
  async function scripted(answers: { status: number; headers?: Record<string, string>; hang?: boolean }[]) {
    const seen: string[] = [];
    const srv = createServer((req, res) => {
      seen.push(`${req.method} ${req.url}`);
      const a = answers[Math.min(seen.length - 1, answers.length - 1)]!;
      if (a.hang) return; // never answers
      res
        .writeHead(a.status, { 'Content-Type': 'application/json', ...a.headers })
        .end(a.status < 300 ? '{"metadata":{"name":"x"}}' : `{"reason":"R${a.status}","message":"m"}`);
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const k = kubeConfigFor(srv);
    const throttled = new Counter({
      name: `t_${seen.length}_${Math.random().toString(36).slice(2)}`,
      help: 'h',
      labelNames: ['code'] as const,
      registers: [],
    });
    const client = new KubeClient(k, { userAgent: 't', throttled });
    return { client, seen, throttled, close: () => new Promise((r) => srv.close(r)) };
  }
  const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'ns' } };

  it('sends any verb again after a 429 or a 503 with Retry-After: the server did not process it', async () => {
    const s = await scripted([
      { status: 429, headers: { 'Retry-After': '0' } },
      { status: 503, headers: { 'Retry-After': '0' } },
      { status: 201 },
    ]);
    await expect(s.client.create(Resources.ConfigMap, obj)).resolves.toMatchObject({
      metadata: { name: 'x' },
    });
    expect(s.seen).toEqual(Array(3).fill('POST /api/v1/namespaces/ns/configmaps'));
    expect((await s.throttled.get()).values.map((v) => [v.labels.code, v.value])).toEqual([
      ['429', 1],
      ['503', 1],
    ]);
    await s.close();
  });

  it('does not send a POST again after a 5xx without Retry-After: it may have been processed', async () => {
    const s = await scripted([{ status: 500 }, { status: 201 }]);
    await expect(s.client.create(Resources.ConfigMap, obj)).rejects.toMatchObject({ code: 500 });
    expect(s.seen).toHaveLength(1);
    await s.close();
  });

  it('sends a GET again after a 5xx, a few times', async () => {
    const s = await scripted([{ status: 500 }, { status: 502 }, { status: 200 }]);
    await expect(s.client.get(Resources.ConfigMap, 'ns', 'x')).resolves.toMatchObject({
      metadata: { name: 'x' },
    });
    expect(s.seen).toHaveLength(3);
    const always = await scripted([{ status: 500 }]);
    await expect(always.client.get(Resources.ConfigMap, 'ns', 'x')).rejects.toMatchObject({ code: 500 });
    expect(always.seen).toHaveLength(4); // the first and 3 retries
    await s.close();
    await always.close();
  });

  it('ends a call the server never answers at its deadline', async () => {
    const s = await scripted([{ status: 200, hang: true }]);
    await expect(
      s.client.request({
        method: 'PUT',
        path: '/api/v1/namespaces/ns/configmaps/x',
        body: obj,
        timeoutMs: 300,
      }),
    ).rejects.toThrow(/timed out|deadline/);
    await s.close();
  });

  it.each([
    ['POST', 429, undefined, 0, 1000],
    ['POST', 429, '3', 0, 3000],
    ['PUT', 429, '600', 0, 10_000], // bounded
    ['POST', 503, '2', 0, 2000],
    ['POST', 503, undefined, 0, undefined],
    ['POST', 500, undefined, 0, undefined],
    ['POST', 429, '1', 10, undefined], // 10 retries made
    ['GET', 409, undefined, 0, undefined],
    ['GET', 404, undefined, 0, undefined],
  ] as const)('retryDelay(%s, %s, Retry-After %s, attempt %s) = %s', (method, status, after, attempt, ms) => {
    expect(retryDelay(method, status, after, attempt)).toBe(ms);
  });
});
