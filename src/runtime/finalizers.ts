/**
 * Finalizers: added before any external side effect, removed with a JSON patch guarded by a
 * `test` op, so that a concurrent change to the list makes the patch fail instead of dropping
 * someone else's finalizer.
 */
import { JSON_PATCH, type KubeClient } from './client.ts';
import { KubeApiError } from './errors.ts';
import type { KubeObject, ResourceType } from './types.ts';

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.finalizers?.includes(finalizer) ?? false;
}

export async function addFinalizer(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  finalizer: string,
): Promise<KubeObject> {
  const current = obj.metadata.finalizers;
  const ops = current
    ? [
        { op: 'test', path: '/metadata/finalizers', value: current },
        { op: 'add', path: '/metadata/finalizers/-', value: finalizer },
      ]
    : [
        { op: 'test', path: '/metadata/resourceVersion', value: obj.metadata.resourceVersion },
        { op: 'add', path: '/metadata/finalizers', value: [finalizer] },
      ];
  return client.patch(type, obj.metadata.namespace, obj.metadata.name!, ops, JSON_PATCH);
}

/** Removes `finalizers` (those `obj` has) in one patch; the object as patched, if it still exists. */
export async function removeFinalizer(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  finalizers: string | readonly string[],
): Promise<KubeObject | undefined> {
  const list = obj.metadata.finalizers ?? [];
  // From the last index down, so that each remove leaves the earlier indices as they were.
  const at = [...new Set(typeof finalizers === 'string' ? [finalizers] : finalizers)]
    .map((f) => list.indexOf(f))
    .filter((i) => i >= 0)
    .sort((a, b) => b - a);
  if (!at.length) return obj;
  try {
    return await client.patch(
      type,
      obj.metadata.namespace,
      obj.metadata.name!,
      at.flatMap((i) => [
        { op: 'test', path: `/metadata/finalizers/${i}`, value: list[i] },
        { op: 'remove', path: `/metadata/finalizers/${i}` },
      ]),
      JSON_PATCH,
    );
  } catch (e) {
    // Gone already: the last finalizer was removed and the object deleted; nothing left to do.
    if (!(e instanceof KubeApiError && e.notFound)) throw e;
    return undefined;
  }
}
