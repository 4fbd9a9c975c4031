/**
 * A fault-injecting proxy between an operator and the real API server: plain HTTP on loopback
 * in front, the API server's HTTPS behind (the operator's token passes through). Each request
 * is first shown to `fault`, which may answer it itself (429 with Retry-After, 503, a 500, a
 * connection that never answers) instead of forwarding it. Every request is recorded with what
 * it got, in order.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';

export interface Seen {
  method: string;
  url: string;
  /** The status the operator got; 0 for a connection left hanging. */
  status: number;
  injected: boolean;
}

export type Fault = { status: number; retryAfter?: number } | { hang: true } | undefined;

export interface FaultProxy {
  seen: Seen[];
  /** A kubeconfig for the proxy with `token`. */
  kubeConfig(token: string): KubeConfig;
  close(): Promise<void>;
}

export async function startFaultProxy(
  upstream: URL,
  fault: (req: { method: string; url: string; n: number }) => Fault,
): Promise<FaultProxy> {
  const seen: Seen[] = [];
  const hanging = new Set<ServerResponse>();
  let n = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    const f = fault({ method, url, n: n++ });
    if (f && 'hang' in f) {
      hanging.add(res);
      seen.push({ method, url, status: 0, injected: true });
      req.resume();
      return;
    }
    if (f) {
      seen.push({ method, url, status: f.status, injected: true });
      req.resume();
      res
        .writeHead(f.status, {
          'Content-Type': 'application/json',
          ...(f.retryAfter !== undefined ? { 'Retry-After': String(f.retryAfter) } : {}),
        })
        .end(
          JSON.stringify({
            kind: 'Status',
            status: 'Failure',
            reason: 'Injected',
            message: `injected ${f.status}`,
            code: f.status,
          }),
        );
      return;
    }
    const up = httpsRequest(
      new URL(url, upstream),
      { method, headers: { ...req.headers, host: upstream.host }, rejectUnauthorized: false },
      (r) => {
        seen.push({ method, url, status: r.statusCode ?? 0, injected: false });
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    seen,
    kubeConfig(token: string) {
      const kc = new KubeConfig();
      kc.loadFromOptions({
        clusters: [{ name: 'proxy', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
        users: [{ name: 'op', token }],
        contexts: [{ name: 'proxy', cluster: 'proxy', user: 'op' }],
        currentContext: 'proxy',
      });
      return kc;
    },
    close: () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      return new Promise((r) => server.close(() => r()));
    },
  };
}
