/**
 * What is already on users' clusters must not change under them. A StatefulSet's or
 * Deployment's `spec.selector` is immutable: an apply that changes it is refused by the API
 * server, and the operator would be stuck on every object made by an earlier release. These
 * are the selectors and owner labels as released (v0.1); a rename of a label key fails here
 * before it fails on a user's cluster. New labels may be added to pod templates, never removed
 * from a selector.
 */
import { describe, expect, it } from 'vitest';
import { buildRedisStatefulSet, buildTierChildren } from '../../src/controllers/cachetier/builders.ts';
import { buildChildren } from '../../src/controllers/homeopsdatabase/children.ts';
import { buildReplicaChildren } from '../../src/controllers/replicaset/builders.ts';
import type { KubeObject } from '../../src/runtime/types.ts';
import { cacheTierObject, databaseObject, homeDatabaseObject, replicaSetObject } from '../support/objects.ts';

type Workload = KubeObject & {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: { metadata: { labels: Record<string, string> } };
  };
};
const workloads = (children: KubeObject[]) =>
  Object.fromEntries(
    children
      .filter((c) => c.kind === 'StatefulSet' || c.kind === 'Deployment')
      .map((c) => [`${c.kind}/${c.metadata.name}`, (c as Workload).spec.selector.matchLabels]),
  );
const MANAGED = { 'app.kubernetes.io/managed-by': 'homeops-operator' };

describe('released selectors and owner labels', () => {
  it('HomeOpsDatabase: the primary and the pooler', () => {
    const db = homeDatabaseObject({ pooler: { enabled: true } });
    expect(workloads(buildChildren(db, 'digest'))).toEqual({
      'StatefulSet/home': { 'homeops.io/database': 'home', 'homeops.io/role': 'primary' },
      'Deployment/home-pooler': { 'homeops.io/database': 'home', 'homeops.io/role': 'pooler' },
    });
  });

  it('ReplicaSet: the members', () => {
    const plan = { replicas: 2, readFromPrimary: false, secretsDigest: 'x' };
    expect(workloads(buildReplicaChildren(replicaSetObject(), databaseObject, plan))).toEqual({
      'StatefulSet/reads-replica': { 'homeops.io/replicaset': 'reads', 'homeops.io/role': 'replica' },
    });
  });

  it('CacheTier: the Redis members', () => {
    expect(workloads(buildTierChildren(cacheTierObject()))).toEqual({
      'StatefulSet/cache-redis': { 'homeops.io/cache': 'cache', 'homeops.io/role': 'redis' },
    });
  });

  it('every child carries its owner label and the managed-by label; pods match their selector', () => {
    const all = [
      ...buildChildren(homeDatabaseObject({ pooler: { enabled: true } }), 'digest'),
      ...buildReplicaChildren(replicaSetObject(), databaseObject, {
        replicas: 1,
        readFromPrimary: false,
        secretsDigest: 'x',
      }),
      ...buildTierChildren(cacheTierObject()),
      buildRedisStatefulSet(cacheTierObject({ mode: 'replicated', replicas: 3 })),
    ];
    for (const c of all) {
      const labels = c.metadata.labels ?? {};
      expect(labels, `${c.kind}/${c.metadata.name}`).toMatchObject(MANAGED);
      expect(
        ['homeops.io/database', 'homeops.io/replicaset', 'homeops.io/cache'].some((k) => labels[k]),
        `${c.kind}/${c.metadata.name} names its owner`,
      ).toBe(true);
      const w = c as Workload;
      if (w.spec?.template && w.spec.selector?.matchLabels)
        expect(w.spec.template.metadata.labels, `${c.kind}/${c.metadata.name}`).toMatchObject(
          w.spec.selector.matchLabels,
        );
    }
  });
});
