import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { Interner, trim, UNREAD_FIELDS } from './cacheform.ts';

describe('trim: what the cache keeps', () => {
  it('drops managedFields but status applies, and the last-applied annotation', () => {
    const obj = {
      metadata: {
        name: 'x',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"big":1}', keep: 'me' },
        managedFields: [
          { manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:spec': {} } },
          { manager: 'homeops-operator', operation: 'Apply', fieldsV1: { 'f:spec': {} } },
          {
            manager: 'homeops-operator',
            operation: 'Apply',
            subresource: 'status',
            fieldsV1: { 'f:status': {} },
          },
          { manager: 'kube-controller-manager', operation: 'Update', subresource: 'status' },
        ],
      },
      spec: { replicas: 1 },
    };
    const t = trim(structuredClone(obj));
    expect(t.metadata.annotations).toEqual({ keep: 'me' });
    expect(t.metadata.managedFields).toEqual([obj.metadata.managedFields[2]]);
    expect(t.spec).toEqual({ replicas: 1 });
  });

  it('leaves no empty fields behind', () => {
    const t = trim({
      metadata: {
        name: 'y',
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' },
        managedFields: [{ manager: 'm', operation: 'Update' }],
      },
    });
    expect(t.metadata).toEqual({ name: 'y' });
  });

  it("drops a kind's unread fields: a pod keeps its labels, deletion and status, not its spec", () => {
    const pod = {
      metadata: { name: 'p', labels: { a: 'b' }, deletionTimestamp: 't' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
      status: { podIP: '198.18.0.9', conditions: [{ type: 'Ready', status: 'True' }] },
    };
    const t = trim(structuredClone(pod) as never, UNREAD_FIELDS.Pod);
    expect(t).toEqual({ metadata: pod.metadata, status: pod.status });
    // Other kinds keep their spec.
    expect((trim(structuredClone(pod) as never, UNREAD_FIELDS.StatefulSet) as typeof pod).spec).toEqual(
      pod.spec,
    );
  });
});

describe('Interner: one copy of repeated strings', () => {
  it('leaves every value equal, and skips the values unique to an object', () => {
    const i = new Interner();
    const obj = {
      metadata: { name: 'db-1', namespace: 'ns', uid: 'u-1', resourceVersion: '7', labels: { a: 'b' } },
      spec: { containers: [{ image: 'x:1', args: ['a', 'b'] }] },
      status: { conditions: [{ type: 'Ready', lastTransitionTime: '2026-12-02T06:00:00Z' }] },
    };
    const copy = structuredClone(obj);
    expect(i.walk(copy)).toEqual(obj);
    // db-1, ns, b (a label value and an arg), x:1, a, Ready; not the uid, the
    // resourceVersion or the time.
    expect(i.size).toBe(6);
    i.walk(structuredClone(obj));
    expect(i.size).toBe(6);
  });

  it('empties its table when it is full, so that churn cannot grow it', () => {
    const i = new Interner(3);
    for (const s of ['a', 'b', 'c']) i.string(s);
    expect(i.size).toBe(3);
    expect(i.string('d')).toBe('d');
    expect(i.size).toBe(1);
    expect(i.string('a')).toBe('a');
  });
});

describe("the owner index: a reconcile's children without a scan", () => {
  it('follows adds, owner changes and deletes', async () => {
    const { Informer } = await import('./informer.ts');
    const { Resources } = await import('./types.ts');
    // Never started: no configuration or client is used.
    const inf = new Informer({} as never, {} as never, Resources.ConfigMap, pino({ level: 'silent' }));
    const feed = inf as unknown as { index(o: unknown): void; unindex(o: unknown): void };
    const cm = (name: string, ...owners: string[]) => ({
      metadata: { name, namespace: 'ns', ownerReferences: owners.map((uid) => ({ uid })) },
    });
    feed.index(cm('a', 'db1'));
    feed.index(cm('b', 'db1', 'db2'));
    feed.index(cm('c'));
    const names = (uid: string) => inf.owned(uid).map((o) => o.metadata.name);
    expect(names('db1').sort()).toEqual(['a', 'b']);
    expect(names('db2')).toEqual(['b']);
    feed.index(cm('a', 'db2')); // its owner changed
    expect(names('db1')).toEqual(['b']);
    expect(names('db2').sort()).toEqual(['a', 'b']);
    feed.unindex(cm('b'));
    expect(names('db1')).toEqual([]);
    expect(names('db2')).toEqual(['a']);
  });
});
