/**
 * A small JSON client for the Kubernetes API. Requests go through Node's https with the
 * KubeConfig's credentials; bodies are sent as they are. (client-node's typed serializer drops
 * fields whose model names differ from the JSON ones, and server-side apply needs the object
 * exactly as built.) Every request is counted in rest_client_requests_total{code,method}.
 */

import { request as httpRequest } from 'node:http';
import { Agent, request as httpsRequest, type RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Counter, Histogram } from 'prom-client';
import { KubeApiError } from './errors.ts';
import {
  ATTEMPT_TIMEOUT_MS,
  DEFAULT_DEADLINE_MS,
  type Response1,
  retryBackoff,
  retryDelay,
  safeJson,
  sleep,
} from './retry.ts';
import { type KubeObject, type ObjectList, type ResourceType, resourcePath } from './types.ts';

export const JSON_PATCH = 'application/json-patch+json';
export const MERGE_PATCH = 'application/merge-patch+json';
export const APPLY_PATCH = 'application/apply-patch+yaml';

export interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** The whole call's deadline, retries included (default 60 s). */
  timeoutMs?: number;
}

export interface KubeClientOptions {
  userAgent: string;
  requests?: Counter<'code' | 'method' | 'host'>;
  /** Request latency, as client-go's rest_client_request_duration_seconds{verb}. */
  latency?: Histogram<'verb'>;
  /**
   * Client-side rate limit, as client-go's QPS and burst (a TokenBucket): each request first
   * waits what `when()` says. Off when absent. The operator's defaults (--kube-api-qps 200,
   * --kube-api-burst 400) are forty times client-go's 5/10, whose throttling makes some operators
   * take many minutes to react at a few hundred objects.
   */
  limiter?: { when(): number };
  /** Requests sent again because the server throttled them (429, or 5xx with Retry-After). */
  throttled?: Counter<'code'>;
}

class StaleSocket extends Error {
  constructor(cause: Error) {
    super(cause.message, { cause });
  }
}

/** Connections kept open to the API server, at most; requests beyond them wait for one. */
const MAX_SOCKETS = 64;

export class KubeClient {
  private readonly server: URL;
  readonly kubeConfig: KubeConfig;
  private readonly opts: KubeClientOptions;
  /**
   * One keep-alive agent for the credentials in use. client-node's own agent (from
   * applyToHTTPSOptions) is an `https.Agent` without keepAlive: every request would open a new
   * TLS connection, a handshake's CPU on both ends (at 1,000 databases, the largest cost in the
   * operator's profile, and a load on the API server). Rebuilt when the credentials change
   * (a rotated client certificate); not used behind a proxy, whose agent client-node makes.
   */
  private agent?: { key: string; agent: Agent };

  constructor(kubeConfig: KubeConfig, opts: KubeClientOptions) {
    this.kubeConfig = kubeConfig;
    this.opts = opts;
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('the kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
  }

  private keepAliveAgent(o: RequestOptions): Agent {
    const key = [o.ca, o.cert, o.key, o.pfx, o.passphrase, o.rejectUnauthorized, o.servername]
      .map((v) => String(v))
      .join('|');
    if (this.agent?.key !== key) {
      this.agent?.agent.destroy();
      this.agent = {
        key,
        agent: new Agent({
          keepAlive: true,
          maxSockets: MAX_SOCKETS,
          ca: o.ca,
          cert: o.cert,
          key: o.key,
          pfx: o.pfx,
          passphrase: o.passphrase,
          ...(o.rejectUnauthorized !== undefined ? { rejectUnauthorized: o.rejectUnauthorized } : {}),
          ...(o.servername ? { servername: o.servername } : {}),
        }),
      };
    }
    return this.agent.agent;
  }

  /** Closes the kept-alive connections (at shutdown). */
  close(): void {
    this.agent?.agent.destroy();
    this.agent = undefined;
  }

  /**
   * One call, retried as client-go's rest client retries: a 429, or a 5xx with Retry-After (the
   * server did not process it: API Priority and Fairness, an apiserver shutting down), after the
   * time the server asks for (bounded), up to 10 times, for every verb; other 5xx and connection
   * errors only for GET, with jittered backoff, 3 times. Every call has a deadline (`timeoutMs`,
   * 60 s by default) that no attempt or wait runs past.
   */
  async request<T>(spec: RequestSpec): Promise<T> {
    const deadline = Date.now() + (spec.timeoutMs ?? DEFAULT_DEADLINE_MS);
    const wait = this.opts.limiter?.when() ?? 0;
    if (wait > 0) await sleep(Math.min(wait, Math.max(0, deadline - Date.now())));
    for (let attempt = 0; ; attempt++) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${spec.method} ${spec.path}: no answer within the call's deadline`);
      let res: Response1;
      try {
        res = await this.attempt(spec, Math.min(ATTEMPT_TIMEOUT_MS, left));
      } catch (e) {
        const backoff = retryBackoff(spec.method, attempt);
        if (backoff === undefined || Date.now() + backoff >= deadline) throw e;
        await sleep(backoff);
        continue;
      }
      const retryIn = retryDelay(spec.method, res.status, res.retryAfter, attempt);
      if (retryIn !== undefined && Date.now() + retryIn < deadline) {
        this.opts.throttled?.inc({ code: String(res.status) });
        await sleep(retryIn);
        continue;
      }
      const parsed = res.text ? safeJson(res.text) : undefined;
      if (res.status < 200 || res.status >= 300) {
        const st = (parsed ?? {}) as { reason?: string; message?: string };
        throw new KubeApiError(
          res.status,
          st.reason ?? 'Unknown',
          st.message ?? res.text,
          spec.method,
          spec.path,
        );
      }
      return parsed as T;
    }
  }

  /** One attempt: the request sent (again on a stale kept-alive socket), its answer read. */
  private async attempt(spec: RequestSpec, timeoutMs: number): Promise<Response1> {
    const url = new URL(spec.path, this.server);
    for (const [k, v] of Object.entries(spec.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = spec.body === undefined ? undefined : JSON.stringify(spec.body);
    const options: RequestOptions = {
      method: spec.method,
      headers: {
        Accept: 'application/json',
        'User-Agent': this.opts.userAgent,
        ...(body !== undefined
          ? {
              'Content-Type': spec.contentType ?? 'application/json',
              'Content-Length': Buffer.byteLength(body),
            }
          : {}),
      },
    };
    await this.kubeConfig.applyToHTTPSOptions(options);
    if (url.protocol === 'https:' && !this.kubeConfig.getCurrentCluster()?.proxyUrl)
      options.agent = this.keepAliveAgent(options);
    const endTimer = this.opts.latency?.startTimer({ verb: spec.method });
    const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
    // A kept-alive connection the server has closed meanwhile (a restarted API server) fails
    // with ECONNRESET on its next request: that request never reached the server, and is sent
    // again (Node's documented pattern, `req.reusedSocket`).
    const send1 = () =>
      new Promise<Response1>((resolve, reject) => {
        const req = send(url, options, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              retryAfter: res.headers['retry-after'],
            }),
          );
          res.on('error', reject);
        });
        req.setTimeout(timeoutMs, () =>
          req.destroy(
            new Error(`${spec.method} ${spec.path}: timed out after ${Math.round(timeoutMs / 1000)}s`),
          ),
        );
        req.on('error', (e: NodeJS.ErrnoException) =>
          reject(req.reusedSocket && e.code === 'ECONNRESET' ? new StaleSocket(e) : e),
        );
        if (body !== undefined) req.write(body);
        req.end();
      });
    // Each dead kept-alive connection fails once and is dropped; after a restart the pool may
    // hold several, so try until a request goes out on a live or new one.
    const sendRetrying = async (): Promise<Response1> => {
      for (let attempt = 0; ; attempt++) {
        try {
          return await send1();
        } catch (e) {
          if (!(e instanceof StaleSocket) || attempt >= MAX_SOCKETS) throw e;
        }
      }
    };
    const res = await sendRetrying().catch((e: Error) => {
      this.opts.requests?.inc({ code: '<error>', method: spec.method, host: this.server.host });
      throw e instanceof StaleSocket ? e.cause : e;
    });
    endTimer?.();
    this.opts.requests?.inc({ code: String(res.status), method: spec.method, host: this.server.host });
    return res;
  }

  get<T extends KubeObject>(type: ResourceType, namespace: string | undefined, name: string): Promise<T> {
    return this.request<T>({ method: 'GET', path: resourcePath(type, namespace, name) });
  }

  /** Lists all pages of a collection. */
  async list<T extends KubeObject>(
    type: ResourceType,
    namespace?: string,
    query: Record<string, string | undefined> = {},
  ): Promise<ObjectList<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion: string | undefined;
    do {
      const page = await this.request<ObjectList<T>>({
        method: 'GET',
        path: resourcePath(type, namespace),
        query: { ...query, limit: 500, continue: cont },
      });
      items.push(...page.items.map((i) => ({ ...i, apiVersion: type.apiVersion, kind: type.kind })));
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
    } while (cont);
    return { items, metadata: { resourceVersion } };
  }

  create<T extends KubeObject>(type: ResourceType, obj: KubeObject): Promise<T> {
    return this.request<T>({ method: 'POST', path: resourcePath(type, obj.metadata.namespace), body: obj });
  }

  /** Server-side apply of `obj` (or of its status with subresource 'status'). */
  apply<T extends KubeObject>(
    type: ResourceType,
    obj: KubeObject,
    fieldManager: string,
    opts: { subresource?: 'status'; force?: boolean } = {},
  ): Promise<T> {
    return this.request<T>({
      method: 'PATCH',
      path: resourcePath(type, obj.metadata.namespace, obj.metadata.name, opts.subresource),
      query: { fieldManager, force: opts.force ?? true },
      body: obj,
      contentType: APPLY_PATCH,
    });
  }

  patch<T extends KubeObject>(
    type: ResourceType,
    namespace: string | undefined,
    name: string,
    body: unknown,
    contentType: string,
    subresource?: string,
  ): Promise<T> {
    return this.request<T>({
      method: 'PATCH',
      path: resourcePath(type, namespace, name, subresource),
      body,
      contentType,
    });
  }

  delete(type: ResourceType, namespace: string | undefined, name: string, propagationPolicy = 'Background') {
    return this.request<unknown>({
      method: 'DELETE',
      path: resourcePath(type, namespace, name),
      body: { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy },
    });
  }
}
