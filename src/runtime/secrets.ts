/**
 * Secrets a resource needs, for every kind: created once from the builder (CSPRNG passwords),
 * never rewritten; one the user made first is adopted (the owner's reference and the operator's
 * label added, its data left alone). The Secret cache holds only the operator's own (a label
 * selector), so a Secret missing from it is looked for with one direct read: rare, only until
 * it is adopted or made.
 */
import { KubeApiError, type KubeObject, MERGE_PATCH } from './client.ts';
import type { ReconcileContext } from './controller.ts';
import { MANAGED_BY, MANAGED_BY_LABEL, Resources } from './types.ts';

/**
 * The live Secrets, in the order asked for (one just made is the object the API server
 * returned); undefined when one turned out to exist already but is not in the cache yet (its
 * watch event brings the owner back).
 */
export async function ensureSecrets(
  ctx: ReconcileContext,
  owner: KubeObject,
  wanted: readonly { name: string; build: () => KubeObject }[],
): Promise<KubeObject[] | undefined> {
  const ns = owner.metadata.namespace;
  // One Secret's round trips do not wait for another's.
  const found = await Promise.all(
    wanted.map(async ({ name, build }) => {
      const live =
        ctx.cache.get(Resources.Secret, ns, name) ??
        (await ctx.client.get(Resources.Secret, ns, name).catch((e) => {
          if (e instanceof KubeApiError && e.notFound) return undefined;
          throw e;
        }));
      if (!live) {
        try {
          const made = await ctx.client.create<KubeObject>(Resources.Secret, build());
          ctx.log.info({ secret: name }, 'generated Secret');
          return made;
        } catch (e) {
          if (!(e instanceof KubeApiError && e.conflict)) throw e;
          return undefined; // 409: made meanwhile, the cache is behind; its event brings the owner back
        }
      }
      const owned = (live.metadata.ownerReferences ?? []).some((r) => r.uid === owner.metadata.uid);
      const labelled = live.metadata.labels?.[MANAGED_BY_LABEL] === MANAGED_BY[MANAGED_BY_LABEL];
      if (!owned || !labelled) {
        // A Secret the user made first (or one retained from an earlier resource): adopt it.
        await ctx.client.patch(
          Resources.Secret,
          ns,
          name,
          {
            metadata: {
              labels: MANAGED_BY,
              ...(owned
                ? {}
                : {
                    ownerReferences: [
                      ...(live.metadata.ownerReferences ?? []),
                      ...(build().metadata.ownerReferences ?? []),
                    ],
                  }),
            },
          },
          MERGE_PATCH,
        );
        ctx.log.info({ secret: name }, 'adopted existing Secret');
      }
      return live;
    }),
  );
  const out = found.filter((s): s is KubeObject => !!s);
  const missing = out.length < found.length;
  return missing ? undefined : out;
}
