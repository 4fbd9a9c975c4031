/**
 * Objects the user made that the operator reads: caches hold only what carries the operator's
 * label, so such an object is read directly once, then labelled (not owned: deleting the
 * operator's resource leaves it) so that the cache holds it from then on and its changes wake
 * its user.
 */
import { MERGE_PATCH } from './client.ts';
import type { ReconcileContext } from './controller.ts';
import { KubeApiError } from './errors.ts';
import { type KubeObject, MANAGED_BY, MANAGED_BY_LABEL, type ResourceType } from './types.ts';

/** The object from the cache, else one direct read; undefined when it does not exist. */
export async function cachedOrGet<T extends KubeObject>(
  ctx: ReconcileContext,
  type: ResourceType,
  namespace: string | undefined,
  name: string,
): Promise<T | undefined> {
  return (
    ctx.cache.get<T>(type, namespace, name) ??
    (await ctx.client.get<T>(type, namespace, name).catch((e) => {
      if (e instanceof KubeApiError && e.notFound) return undefined;
      throw e;
    }))
  );
}

/** `cachedOrGet`, and the operator's label on an object that lacks it. */
export async function adoptByLabel<T extends KubeObject>(
  ctx: ReconcileContext,
  type: ResourceType,
  namespace: string,
  name: string,
): Promise<T | undefined> {
  const found = await cachedOrGet<T>(ctx, type, namespace, name);
  if (found && found.metadata.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY[MANAGED_BY_LABEL])
    await ctx.client.patch(type, namespace, name, { metadata: { labels: MANAGED_BY } }, MERGE_PATCH);
  return found;
}
