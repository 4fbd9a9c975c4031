/**
 * Finalizers: added before any external side effect, removed with a JSON patch guarded by a
 * `test` op, so that a concurrent change to the list makes the patch fail instead of dropping
 * someone else's finalizer.
 */
import { JSON_PATCH, KubeApiError, type KubeClient, type KubeObject, type ResourceType } from './client.ts';

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

export async function removeFinalizer(
  client: KubeClient,
  type: ResourceType,
  obj: KubeObject,
  finalizer: string,
): Promise<void> {
  const i = obj.metadata.finalizers?.indexOf(finalizer) ?? -1;
  if (i < 0) return;
  try {
    await client.patch(
      type,
      obj.metadata.namespace,
      obj.metadata.name!,
      [
        { op: 'test', path: `/metadata/finalizers/${i}`, value: finalizer },
        { op: 'remove', path: `/metadata/finalizers/${i}` },
      ],
      JSON_PATCH,
    );
  } catch (e) {
    // Gone already: the last finalizer was removed and the object deleted; nothing left to do.
    if (!(e instanceof KubeApiError && e.notFound)) throw e;
  }
}
