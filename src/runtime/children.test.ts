import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { applyChildren } from './children.ts';
import type { ReconcileContext } from './controller.ts';
import { APPLIED_DIGEST, withAppliedDigest } from './status.ts';
import { type KubeObject, Resources, type ResourceType } from './types.ts';

const owner: KubeObject = {
  apiVersion: 'homeops.io/v1alpha1',
  kind: 'HomeOpsDatabase',
  metadata: { name: 'db', namespace: 'ns', uid: 'owner-uid' },
};
const labels = { 'homeops.io/database': 'db' };
const child = (
  kind: string,
  apiVersion: string,
  name: string,
  extra: Partial<KubeObject['metadata']> = {},
): KubeObject => ({
  apiVersion,
  kind,
  metadata: {
    name,
    namespace: 'ns',
    labels,
    ownerReferences: [
      {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'HomeOpsDatabase',
        name: 'db',
        uid: 'owner-uid',
        controller: true,
      },
    ],
    ...extra,
  },
});

/** A reconcile context over an in-memory cache that records what would be written. */
function fakeCtx(live: KubeObject[]) {
  const applied: string[] = [];
  const deleted: string[] = [];
  const ctx = {
    log: pino({ level: 'silent' }),
    reconcileId: 't',
    cache: {
      get: (type: ResourceType, ns: string | undefined, name: string) =>
        live.find((o) => o.kind === type.kind && o.metadata.namespace === ns && o.metadata.name === name),
      list: (type: ResourceType, ns?: string) =>
        live.filter((o) => o.kind === type.kind && (!ns || o.metadata.namespace === ns)),
      owned: (type: ResourceType, uid: string) =>
        live.filter((o) => o.kind === type.kind && o.metadata.ownerReferences?.some((r) => r.uid === uid)),
    },
    writer: {
      applyChild: async (_t: ResourceType, d: KubeObject) => {
        applied.push(`${d.kind}/${d.metadata.name}`);
        return true;
      },
      deleteChild: async (type: ResourceType, _ns: string, name: string) => {
        deleted.push(`${type.kind}/${name}`);
      },
    },
  } as unknown as ReconcileContext;
  return { ctx, applied, deleted };
}

const opts = { prune: [Resources.ConfigMap, Resources.Deployment], selector: labels };

describe('applyChildren', () => {
  it('applies every desired child and prunes what is labelled, controlled by the owner, and no longer desired', async () => {
    const { ctx, applied, deleted } = fakeCtx([
      child('ConfigMap', 'v1', 'db-config'),
      child('ConfigMap', 'v1', 'db-pooler-config'),
      child('Deployment', 'apps/v1', 'db-pooler'),
      // Not the owner's, not labelled, or of a kind not pruned: left alone.
      child('ConfigMap', 'v1', 'other', {
        ownerReferences: [{ apiVersion: 'v1', kind: 'X', name: 'x', uid: 'other', controller: true }],
      }),
      child('ConfigMap', 'v1', 'unlabelled', { labels: {} }),
      child('Secret', 'v1', 'db-app'),
    ]);
    const r = await applyChildren(ctx, owner, [child('ConfigMap', 'v1', 'db-config')], opts);
    expect(applied).toEqual(['ConfigMap/db-config']);
    expect(deleted.sort()).toEqual(['ConfigMap/db-pooler-config', 'Deployment/db-pooler']);
    expect(r).toEqual({ waiting: false, pruned: deleted });
  });

  it('waits for a child still being deleted, and applies the rest', async () => {
    const { ctx, applied, deleted } = fakeCtx([
      child('ConfigMap', 'v1', 'db-config', { deletionTimestamp: '2026-01-01T00:00:00Z' }),
    ]);
    const r = await applyChildren(
      ctx,
      owner,
      [child('ConfigMap', 'v1', 'db-config'), child('Deployment', 'apps/v1', 'db-pooler')],
      opts,
    );
    expect(r.waiting).toBe(true);
    expect(applied).toEqual(['Deployment/db-pooler']);
    expect(deleted).toEqual([]);
  });

  it('keeps the fields the live object must keep', async () => {
    const live = { ...child('Deployment', 'apps/v1', 'db-pooler'), spec: { immutable: 'live' } };
    const { ctx } = fakeCtx([live]);
    const desired = { ...child('Deployment', 'apps/v1', 'db-pooler'), spec: { immutable: 'new', other: 1 } };
    await applyChildren(ctx, owner, [desired], {
      ...opts,
      keep: (d, l) => {
        (d.spec as Record<string, unknown>).immutable = (l.spec as Record<string, unknown>).immutable;
      },
    });
    expect(desired.spec).toEqual({ immutable: 'live', other: 1 });
  });

  it('digests what the builders made, before fields kept from the live object', async () => {
    const live = { ...child('StatefulSet', 'apps/v1', 'db'), spec: { volumeClaimTemplates: ['defaulted'] } };
    const { ctx } = fakeCtx([live]);
    const seen: KubeObject[] = [];
    (ctx.writer as unknown as { applyChild: unknown }).applyChild = async (_t: unknown, d: KubeObject) =>
      seen.push(d);
    const built = () => ({
      ...child('StatefulSet', 'apps/v1', 'db'),
      spec: { volumeClaimTemplates: ['as built'] },
    });
    await applyChildren(ctx, owner, [built()], { ...opts, prune: [] });
    // The server's defaults on the kept field do not change the digest: no apply on every pass.
    expect(seen[0]!.metadata.annotations?.[APPLIED_DIGEST]).toBe(
      withAppliedDigest(built()).metadata.annotations?.[APPLIED_DIGEST],
    );
    expect((seen[0]!.spec as { volumeClaimTemplates: string[] }).volumeClaimTemplates).toEqual(['defaulted']);
  });
});
