/**
 * Test namespaces and their release: a namespace a test made goes away with the test even when
 * its operator was stopped first. No vitest import: the global setup uses it too.
 */
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesObject,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';

/** The label on every namespace a test makes: a later run finds what an earlier one left. */
export const TEST_NAMESPACE_LABEL = 'homeops.io/test';

/** The custom resources a namespace's deletion can wait on: they may carry the operator's finalizers. */
const HOMEOPS_PLURALS = ['homeopsdatabases', 'cachetiers', 'replicasets'] as const;

/**
 * Deletes a test's namespace so that it really goes, whether or not an operator is still running:
 * the deletion is asked for first (no finalizer can be added to an object once its namespace is
 * terminating), then every homeops object in it loses its finalizers. A test's operator is
 * usually stopped before this runs, and nobody else would remove them: the namespace would stay
 * Terminating, and a cluster-wide operator of a later test would find its objects.
 */
export async function releaseNamespace(kc: KubeConfig, name: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespace({ name }).catch(() => undefined);
  await dropFinalizers(kc, name);
}

/** Removes the finalizers of every homeops object in `namespace` (none left is fine). */
export async function dropFinalizers(kc: KubeConfig, namespace: string): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  for (const plural of HOMEOPS_PLURALS) {
    const list = (await custom
      .listNamespacedCustomObject({ group: 'homeops.io', version: 'v1alpha1', namespace, plural })
      .catch(() => undefined)) as { items?: KubernetesObject[] } | undefined;
    for (const o of list?.items ?? []) {
      if (!o.metadata?.finalizers?.length) continue;
      await custom
        .patchNamespacedCustomObject(
          {
            group: 'homeops.io',
            version: 'v1alpha1',
            namespace,
            plural,
            name: o.metadata.name!,
            body: [{ op: 'remove', path: '/metadata/finalizers' }],
          },
          setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
        )
        .catch(() => undefined);
    }
  }
}

/**
 * What an earlier run left: test namespaces stuck Terminating (their operator was stopped before
 * their finalizers ran, or the run was killed). Releases each; returns their names.
 */
export async function releaseLeftoverNamespaces(kc: KubeConfig): Promise<string[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const list = await core.listNamespace({ labelSelector: TEST_NAMESPACE_LABEL });
  const stuck = list.items.filter((n) => n.metadata?.deletionTimestamp).map((n) => n.metadata!.name!);
  for (const name of stuck) await dropFinalizers(kc, name);
  return stuck;
}
