/** Helpers for integration tests against the real local API server. */
import { randomBytes } from 'node:crypto';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  PatchStrategy,
} from '@kubernetes/client-node';
import { inject } from 'vitest';
import { releaseNamespace, TEST_NAMESPACE_LABEL } from './namespaces.ts';

export { releaseNamespace } from './namespaces.ts';

export const FIELD_MANAGER = 'homeops-tests';

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('kubeconfig'));
  return kc;
}

/** A namespace of its own for one test file; `cleanup` deletes it (see `releaseNamespace`). */
export async function testNamespace(kc: KubeConfig, prefix: string) {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name, labels: { [TEST_NAMESPACE_LABEL]: prefix } } } });
  return { name, cleanup: () => releaseNamespace(kc, name) };
}

/**
 * Waits for the namespace's default ServiceAccount: the ServiceAccount admission plugin refuses
 * pods until kube-controller-manager has made it (slower right after an API server restart).
 */
export async function waitForServiceAccount(kc: KubeConfig, namespace: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await eventually(() => core.readNamespacedServiceAccount({ name: 'default', namespace }), 120_000);
}

/** Server-side apply of any object with the tests' field manager. */
export async function apply<T extends KubernetesObject>(kc: KubeConfig, obj: T): Promise<T> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  return api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
}

/** The status code and message of a failed API call, for asserting on admission errors. */
export async function rejection(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof ApiException) {
      const body = typeof e.body === 'string' ? JSON.parse(e.body) : e.body;
      return { code: e.code, message: String(body?.message ?? e.message) };
    }
    throw e;
  }
  throw new Error('expected the API server to refuse the request, but it accepted it');
}

type Truthy<T> = Exclude<T, undefined | null | false | 0 | ''>;

/** Retries `fn` until it returns a truthy value (or stops throwing), or fails after `timeoutMs`. */
export async function eventually<T>(
  fn: () => Promise<T> | T,
  timeoutMs = 60_000,
  intervalMs = 250,
): Promise<Truthy<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as Truthy<T>;
      last = new Error(`condition still false: ${JSON.stringify(v)}`);
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Runs the pinned kubectl against the local cluster; resolves with stdout. */
export async function kubectl(...args: string[]): Promise<string> {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { join } = await import('node:path');
  const { stdout } = await promisify(execFile)(
    join(inject('kubectlPath'), 'kubectl'),
    ['--kubeconfig', inject('kubeconfig'), ...args],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  return stdout;
}

export { KWOK_SCHEDULING, onKwok } from './kwok.ts';
