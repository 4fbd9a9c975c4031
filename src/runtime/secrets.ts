/**
 * Secrets a resource needs, for every kind: created once from the builder (CSPRNG passwords),
 * never rewritten; one the user made first is adopted (the builder's labels added, its data left
 * alone). The Secret cache holds only the operator's own (a label selector), so a Secret missing
 * from it is looked for with one direct read: rare, only until it is adopted or made.
 *
 * Ownership follows `owned` (default true): an owned Secret carries the owner's reference and is
 * garbage-collected with it; one that must outlive its owner (credentials of retained volumes)
 * carries none, so no finalizer is needed to keep it. A change of `owned` adds or removes the
 * reference.
 */
import { cachedOrGet } from './adopt.ts';
import { MERGE_PATCH } from './client.ts';
import type { ReconcileContext } from './controller.ts';
import { KubeApiError } from './errors.ts';
import { ownerRef } from './status.ts';
import { type KubeObject, Resources } from './types.ts';

/**
 * The live Secrets, in the order asked for (one just made is the object the API server
 * returned); undefined when one turned out to exist already but is not in the cache yet (its
 * watch event brings the owner back).
 */
export async function ensureSecrets(
  ctx: ReconcileContext,
  owner: KubeObject,
  /** Each Secret: its name, the labels it carries (its cache selects on them), and its builder (run only to make it). */
  wanted: readonly { name: string; labels: Record<string, string>; build: () => KubeObject }[],
  { owned = true }: { owned?: boolean } = {},
): Promise<KubeObject[] | undefined> {
  const ns = owner.metadata.namespace;
  // One Secret's round trips do not wait for another's.
  const found = await Promise.all(
    wanted.map(async ({ name, labels, build }) => {
      const live = await cachedOrGet(ctx, Resources.Secret, ns, name);
      if (!live) {
        const secret = build();
        secret.metadata.ownerReferences = owned ? [ownerRef(owner)] : undefined;
        try {
          const made = await ctx.client.create<KubeObject>(Resources.Secret, secret);
          ctx.log.info({ secret: name }, 'generated Secret');
          return made;
        } catch (e) {
          if (!(e instanceof KubeApiError && e.conflict)) throw e;
          return undefined; // 409: made meanwhile, the cache is behind; its event brings the owner back
        }
      }
      const refs = live.metadata.ownerReferences ?? [];
      const isOwned = refs.some((r) => r.uid === owner.metadata.uid);
      const labelled = Object.entries(labels).every(([k, v]) => live.metadata.labels?.[k] === v);
      if (isOwned !== owned || !labelled) {
        // A Secret the user made first, one retained from an earlier resource, or one whose
        // owner's reclaim policy changed: adopt it, or let it go.
        const patched = await ctx.client.patch<KubeObject>(
          Resources.Secret,
          ns,
          name,
          {
            metadata: {
              labels,
              ...(isOwned === owned
                ? {}
                : {
                    ownerReferences: owned
                      ? [...refs, ownerRef(owner)]
                      : refs.filter((r) => r.uid !== owner.metadata.uid),
                  }),
            },
          },
          MERGE_PATCH,
        );
        ctx.log.info({ secret: name, owned }, labelled ? 'ownership changed' : 'adopted existing Secret');
        return patched;
      }
      return live;
    }),
  );
  const out = found.filter((s): s is KubeObject => !!s);
  const missing = out.length < found.length;
  return missing ? undefined : out;
}
