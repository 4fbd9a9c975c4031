import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client.ts';
import { APPLIED_DIGEST, isSubset, olderVersion, ownerRef, Writer, withAppliedDigest } from './status.ts';
import { type KubeObject, Resources } from './types.ts';

describe('isSubset', () => {
  it('is true when every desired field has the live value, whatever else live has', () => {
    const live = {
      metadata: { name: 'a', uid: 'u', labels: { x: '1', y: '2' } },
      spec: { replicas: 1, other: true },
    };
    expect(isSubset({ metadata: { name: 'a', labels: { x: '1' } }, spec: { replicas: 1 } }, live)).toBe(true);
  });

  it('sees a changed value, a missing field and a different list', () => {
    const live = { spec: { replicas: 1, ports: [{ port: 5432 }] } };
    expect(isSubset({ spec: { replicas: 2 } }, live)).toBe(false);
    expect(isSubset({ spec: { selector: {} } }, live)).toBe(false);
    expect(isSubset({ spec: { ports: [{ port: 5432 }, { port: 6432 }] } }, live)).toBe(false);
  });

  it('takes a number for the same int-or-string the API server stored', () => {
    expect(isSubset({ cpu: 1 }, { cpu: '1' })).toBe(true);
  });
});

describe('ownerRef', () => {
  it('makes a controller owner reference', () => {
    const owner = {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: 'db', uid: 'u1' },
    };
    expect(ownerRef(owner)).toEqual({
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      name: 'db',
      uid: 'u1',
      controller: true,
      blockOwnerDeletion: true,
    });
  });
});

describe('Writer: a write the cache has not shown yet is not made twice', () => {
  const setup = () => {
    const applied: unknown[] = [];
    const client = {
      apply: async (_t: unknown, obj: unknown) => {
        applied.push(obj);
        return obj;
      },
    } as unknown as KubeClient;
    return { applied, writer: new Writer(client, 'homeops-operator', pino({ level: 'silent' })) };
  };
  const cm = (v: string) => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'c', namespace: 'n' },
    data: { v },
  });
  const cached = (v: string, resourceVersion: string) => ({
    ...withAppliedDigest(cm(v)),
    metadata: { ...withAppliedDigest(cm(v)).metadata, resourceVersion },
  });

  it('skips the same apply while the cache holds the version it was made over', async () => {
    const { applied, writer } = setup();
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), undefined)).toBe(true);
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), undefined)).toBe(false); // not cached yet
    expect(await writer.applyChild(Resources.ConfigMap, cm('2'), undefined)).toBe(true); // a new desire
    expect(await writer.applyChild(Resources.ConfigMap, cm('2'), cached('2', '5'))).toBe(false); // seen
    // A hand edit after the cache caught up is put back, and put back again after another edit.
    expect(await writer.applyChild(Resources.ConfigMap, cm('2'), cached('9', '6'))).toBe(true);
    expect(await writer.applyChild(Resources.ConfigMap, cm('2'), cached('8', '8'))).toBe(true);
    expect(applied).toHaveLength(4);
    // Seen, then deleted (pruned): made again at once, not taken for the same unseen creation.
    expect(await writer.applyChild(Resources.ConfigMap, cm('2'), undefined)).toBe(true);
    expect(applied).toHaveLength(5);
  });

  it('applies a desired object that lost a field: the digest annotation tells it from the live one', async () => {
    const { applied, writer } = setup();
    const two = { ...cm('1'), data: { v: '1', w: '2' } };
    const live = {
      ...withAppliedDigest(two),
      metadata: { ...withAppliedDigest(two).metadata, resourceVersion: '3' },
    };
    expect(await writer.applyChild(Resources.ConfigMap, two, live)).toBe(false);
    // `w` is no longer desired: every desired field is still on the live object, yet it is applied.
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), live)).toBe(true);
    expect(applied).toHaveLength(1);
    expect((applied[0] as KubeObject).metadata.annotations?.[APPLIED_DIGEST]).toBe(
      withAppliedDigest(cm('1')).metadata.annotations?.[APPLIED_DIGEST],
    );
    // The digest does not depend on an annotation already set, and differs for different content.
    expect(withAppliedDigest(withAppliedDigest(cm('1')))).toEqual(withAppliedDigest(cm('1')));
    expect(withAppliedDigest(cm('1')).metadata.annotations?.[APPLIED_DIGEST]).not.toBe(
      withAppliedDigest(cm('2')).metadata.annotations?.[APPLIED_DIGEST],
    );
  });

  it('makes a child again that was created, seen, and deleted', async () => {
    const { applied, writer } = setup();
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), undefined)).toBe(true);
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), cached('1', '5'))).toBe(false);
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), undefined)).toBe(true);
    expect(applied).toHaveLength(2);
  });

  it('makes a child again that it deleted, though no apply ever showed it seen', async () => {
    const { applied, writer } = setup();
    (writer.client as unknown as { delete: () => Promise<void> }).delete = async () => {};
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), undefined)).toBe(true);
    // A controller that finds the child in its cache does not apply it again; it deletes it
    // (a Job of older inputs), then wants it back within the unseen window.
    await writer.deleteChild(Resources.ConfigMap, 'n', 'c');
    expect(await writer.applyChild(Resources.ConfigMap, cm('1'), undefined)).toBe(true);
    expect(applied).toHaveLength(2);
  });

  it('skips the same status write over the same cached version', async () => {
    const { applied, writer } = setup();
    const db = {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: 'd', namespace: 'n', resourceVersion: '1' },
    };
    expect(await writer.applyStatus(Resources.HomeOpsDatabase, db, { phase: 'Ready' })).toBe(true);
    expect(await writer.applyStatus(Resources.HomeOpsDatabase, db, { phase: 'Ready' })).toBe(false);
    expect(await writer.applyStatus(Resources.HomeOpsDatabase, db, { phase: 'Degraded' })).toBe(true);
    expect(
      await writer.applyStatus(
        Resources.HomeOpsDatabase,
        { ...db, metadata: { ...db.metadata, resourceVersion: '2' }, status: { phase: 'Degraded' } },
        { phase: 'Degraded' },
      ),
    ).toBe(false);
    expect(applied).toHaveLength(2);
  });

  it('a second writer of the status skips its write while the cache shows a version older than its own', async () => {
    // The API server answers each status apply with the object at the next revision.
    let rev = 10;
    const applied: unknown[] = [];
    const client = {
      apply: async (_t: unknown, obj: KubeObject) => {
        applied.push(obj);
        return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++rev) } };
      },
    } as unknown as KubeClient;
    const main = new Writer(client, 'homeops-operator', pino({ level: 'silent' }));
    const db = (resourceVersion: string, status: Record<string, unknown> = {}) => ({
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: 'd', namespace: 'n', resourceVersion },
      status,
    });
    // The jobs' writer is the same object on every call: what it wrote outlives one reconcile.
    expect(main.as('homeops-operator-jobs')).toBe(main.as('homeops-operator-jobs'));
    expect(main.as('homeops-operator')).toBe(main);
    const jobs = () => main.as('homeops-operator-jobs');
    expect(
      await jobs().applyStatus(Resources.HomeOpsDatabase, db('9'), { migrations: { result: 'Running' } }),
    ).toBe(true); // made revision 11
    // The cache then shows revision 10: the main writer's change, made between the version the
    // jobs' write was made over (9) and the one it made (11), seen first. Not the same write.
    expect(
      await jobs().applyStatus(Resources.HomeOpsDatabase, db('10', { phase: 'Ready' }), {
        migrations: { result: 'Running' },
      }),
    ).toBe(false);
    // A revision at or past its own write is trusted: its content is what counts.
    expect(
      await jobs().applyStatus(Resources.HomeOpsDatabase, db('11', { migrations: { result: 'Running' } }), {
        migrations: { result: 'Running' },
      }),
    ).toBe(false);
    expect(
      await jobs().applyStatus(Resources.HomeOpsDatabase, db('12', {}), {
        migrations: { result: 'Running' },
      }),
    ).toBe(true); // someone removed it after: put back
    expect(applied).toHaveLength(2);
  });

  it.each([
    ['9', '10', true],
    ['10', '10', false],
    ['11', '10', false],
    ['99999999999999999998', '99999999999999999999', true],
    [undefined, '10', false],
    ['abc', '10', false],
    ['9', 'x9', false],
  ] as const)('olderVersion(%s, %s) = %s', (a, b, older) => {
    expect(olderVersion(a, b)).toBe(older);
  });
});
