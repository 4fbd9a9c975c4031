/**
 * The set-up most live test files share: the CRDs installed, a namespace of their own (with its
 * default ServiceAccount), a client as the test's admin, an operator Manager running the
 * controllers a file needs, and the HomeOpsDatabase helpers. Torn down by `stop`.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { HomeOpsDatabaseStatus } from '../../src/api/v1alpha1/index.ts';
import { KubeClient } from '../../src/runtime/client.ts';
import type { Manager } from '../../src/runtime/manager.ts';
import { type KubeObject, Resources } from '../../src/runtime/types.ts';
import { cond } from './conditions.ts';
import { installCrds } from './crds.ts';
import { eventually, kubeConfig, onKwok, testNamespace, waitForServiceAccount } from './kube.ts';
import { testManager } from './operator.ts';

export type Db = KubeObject & { status?: HomeOpsDatabaseStatus };

export interface TestEnv {
  kc: KubeConfig;
  ns: Awaited<ReturnType<typeof testNamespace>>;
  client: KubeClient;
}

/** CRDs, a namespace `PREFIX-xxxxxx` whose ServiceAccount exists, and an admin client. */
export async function testEnv(prefix: string): Promise<TestEnv> {
  const kc = kubeConfig();
  await installCrds(kc);
  const ns = await testNamespace(kc, prefix);
  await waitForServiceAccount(kc, ns.name);
  return { kc, ns, client: new KubeClient(kc, { userAgent: 'homeops-tests' }) };
}

/** A Manager as the operator's ServiceAccount in the test's namespace, with `controllers` registered and started. */
export async function startOperator(
  env: TestEnv,
  identity: string,
  ...controllers: ((m: Manager) => unknown)[]
): Promise<Manager> {
  const manager = testManager(env.ns.name, identity);
  for (const register of controllers) register(manager);
  await manager.start();
  return manager;
}

/** The operator (if started) stopped, then the namespace deleted: for `afterAll`. */
export async function stop(env: TestEnv | undefined, manager?: Manager): Promise<void> {
  await manager?.stop();
  await env?.ns.cleanup();
}

/** HomeOpsDatabases in the test's namespace: read, made on kwok, waited for by condition. */
export function databases(env: TestEnv) {
  const get = (name: string) => env.client.get<Db>(Resources.HomeOpsDatabase, env.ns.name, name);
  return {
    get,
    /** Made with a 5 s probe interval and one pooler instance unless `spec` says otherwise; its pods are kwok's. */
    create: (name: string, spec: Record<string, unknown> = {}) =>
      env.client.create<Db>(Resources.HomeOpsDatabase, {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'HomeOpsDatabase',
        metadata: { name, namespace: env.ns.name },
        spec: onKwok({
          monitoring: { intervalSeconds: 5 },
          ...spec,
          pooler: { instances: 1, ...((spec.pooler as object | undefined) ?? {}) },
        }),
      }),
    /** The database once its condition `type` has `status`. */
    until: (name: string, type: string, status: string, timeout = 90_000) =>
      eventually(async () => {
        const o = await get(name);
        return cond(o, type)?.status === status ? o : undefined;
      }, timeout),
  };
}
