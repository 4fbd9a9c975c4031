/**
 * Applying a resource's children, for every kind: each desired child is applied only where the
 * cache differs; a child still being deleted (left by an earlier resource of the same name) is
 * waited for; fields that cannot change after creation are kept from the live object; and
 * children no longer desired are pruned, found by their labels and controller ownerReference in
 * the cache, not by a second list the builders would have to keep in step.
 */
import type { ReconcileContext } from './controller.ts';
import { withAppliedDigest } from './status.ts';
import { type KubeObject, type ResourceType, resourceOf } from './types.ts';

export interface ApplyChildrenOptions {
  /** Kinds to prune: an object of these kinds, labelled with `selector`, controlled by the owner and not desired, is deleted. */
  prune: readonly ResourceType[];
  selector: Readonly<Record<string, string>>;
  /**
   * Copies into `desired` what must stay as it is on `live`, beyond what Kubernetes makes
   * immutable for every owner (a StatefulSet's volumeClaimTemplates, kept here always).
   */
  keep?: (desired: KubeObject, live: KubeObject) => void;
}

export interface ApplyChildrenResult {
  /** Some desired child is still being deleted: its deletion event brings the owner back. */
  waiting: boolean;
  /** Children deleted because they are no longer desired, as Kind/name. */
  pruned: string[];
}

const id = (kind: string, name: string | undefined) => `${kind}/${name}`;

export async function applyChildren(
  ctx: ReconcileContext,
  owner: KubeObject,
  desired: readonly KubeObject[],
  opts: ApplyChildrenOptions,
): Promise<ApplyChildrenResult> {
  const ns = owner.metadata.namespace;
  let waiting = false;
  // Applied at once, not one after another: a new resource's children cost one round trip,
  // not nine (nothing orders them: a pod waits for its ConfigMap and Secrets by itself).
  const applies: Promise<boolean>[] = [];
  for (const built of desired) {
    // The digest of what the builders made, before fields are kept from the live object: those
    // change once the server has defaulted them, and would make every later check fail.
    const child = withAppliedDigest(built);
    const type = resourceOf(child.apiVersion, child.kind);
    const live = ctx.cache.get(type, child.metadata.namespace ?? ns, child.metadata.name!);
    if (live?.metadata.deletionTimestamp) {
      waiting = true;
      continue;
    }
    if (live) {
      keepImmutable(child, live);
      opts.keep?.(child, live);
    }
    applies.push(ctx.writer.applyChild(type, child, live));
  }
  await settleAll(applies);
  const wanted = new Set(desired.map((d) => id(d.kind, d.metadata.name)));
  const pruned: string[] = [];
  for (const type of opts.prune) {
    // The owner's children from the cache's owner index: no scan of the namespace.
    for (const live of ctx.cache.owned(type, owner.metadata.uid!)) {
      const labels = live.metadata.labels ?? {};
      if (
        wanted.has(id(type.kind, live.metadata.name)) ||
        live.metadata.deletionTimestamp ||
        !Object.entries(opts.selector).every(([k, v]) => labels[k] === v) ||
        !(live.metadata.ownerReferences ?? []).some((r) => r.controller && r.uid === owner.metadata.uid)
      )
        continue;
      await ctx.writer.deleteChild(type, ns!, live.metadata.name!);
      pruned.push(id(type.kind, live.metadata.name));
      ctx.log.info({ kind: type.kind, name: live.metadata.name }, 'no longer desired: deleted');
    }
  }
  return { waiting, pruned };
}

/**
 * Fields the API server refuses to change: a StatefulSet's volumeClaimTemplates stay as they
 * were made (a larger size is applied to the PVCs instead: volumes.ts).
 */
function keepImmutable(desired: KubeObject, live: KubeObject): void {
  if (desired.kind === 'StatefulSet' && desired.apiVersion === 'apps/v1')
    (desired.spec as Record<string, unknown>).volumeClaimTemplates = (
      live.spec as Record<string, unknown>
    ).volumeClaimTemplates;
}

/** Waits for every promise; throws the first rejection once all have settled (none left running). */
async function settleAll<T>(promises: Promise<T>[]): Promise<T[]> {
  const results = await Promise.allSettled(promises);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return results.map((r) => (r as PromiseFulfilledResult<T>).value);
}
