/**
 * The generated CRDs on the real API server: they install as structural schemas, the samples
 * are accepted, the server's defaults equal the zod defaults, and bad specs are refused with the
 * CEL messages.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi, type KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { cacheTier, homeOpsDatabase, replicaSet } from '../../src/api/v1alpha1/index.ts';
import { installCrds } from '../support/crds.ts';
import { apply, kubeConfig, kubectl, rejection, testNamespace } from '../support/kube.ts';

const samplesDir = join(import.meta.dirname, '..', '..', 'manifests', 'samples');
const plural = {
  HomeOpsDatabase: 'homeopsdatabases',
  CacheTier: 'cachetiers',
  ReplicaSet: 'replicasets',
} as const;
type Kind = keyof typeof plural;

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;
let custom: CustomObjectsApi;

beforeAll(async () => {
  kc = kubeConfig();
  await installCrds(kc);
  ns = await testNamespace(kc, 'crds');
  custom = kc.makeApiClient(CustomObjectsApi);
});
afterAll(() => ns?.cleanup());

const create = (kind: Kind, name: string, spec: unknown) =>
  custom.createNamespacedCustomObject({
    group: 'homeops.io',
    version: 'v1alpha1',
    namespace: ns.name,
    plural: plural[kind],
    body: { apiVersion: 'homeops.io/v1alpha1', kind, metadata: { name }, spec },
  });
const get = (kind: Kind, name: string) =>
  custom.getNamespacedCustomObject({
    group: 'homeops.io',
    version: 'v1alpha1',
    namespace: ns.name,
    plural: plural[kind],
    name,
  });

describe('samples', () => {
  const files = readdirSync(samplesDir).filter((f) => f.endsWith('.yaml'));
  it.each(files)('%s is accepted', async (file) => {
    const doc = parse(readFileSync(join(samplesDir, file), 'utf8')) as KubernetesObject;
    const created = await apply(kc, { ...doc, metadata: { ...doc.metadata, namespace: ns.name } });
    expect(created.metadata?.uid).toBeTruthy();
  });

  it('gets the same defaults from the API server as from the zod schemas', async () => {
    const schemas = { HomeOpsDatabase: homeOpsDatabase, CacheTier: cacheTier, ReplicaSet: replicaSet };
    for (const kind of Object.keys(plural) as Kind[]) {
      const spec = kind === 'ReplicaSet' ? { databaseRef: { name: 'db' } } : {};
      await create(kind, `defaults-${kind.toLowerCase()}`, spec);
      const server = (await get(kind, `defaults-${kind.toLowerCase()}`)) as { spec: unknown };
      const local = schemas[kind].parse({ apiVersion: 'homeops.io/v1alpha1', kind, metadata: {}, spec });
      expect(server.spec, kind).toEqual(local.spec);
    }
  });

  it('lists all three kinds in the homeops category', async () => {
    // kubectl resolves categories from its discovery cache (~/.kube/cache, kept for hours and
    // shared by every kubectl on the machine): refresh it, or a cache made before the CRDs
    // existed answers "no resource type homeops".
    await kubectl('api-resources', '--cached=false', '-o', 'name');
    const out = await kubectl('get', 'homeops', '-n', ns.name, '-o', 'name');
    expect(out).toContain('homeopsdatabase.homeops.io/homeops');
    expect(out).toContain('cachetier.homeops.io/cache');
    expect(out).toContain('replicaset.homeops.io/homeops-read');
  });

  it('answers to the short names and to replicasets.homeops.io, apart from apps/v1', async () => {
    expect(await kubectl('get', 'hodb,ctier,hors', '-n', ns.name, '-o', 'name')).toContain(
      'replicaset.homeops.io/homeops-read',
    );
    expect(await kubectl('get', 'replicasets.homeops.io', '-n', ns.name, '-o', 'name')).toContain(
      'homeops-read',
    );
    expect(await kubectl('get', 'replicasets.apps', '-n', ns.name, '-o', 'name')).toBe('');
  });
});

describe('admission', () => {
  it.each([
    [
      'HomeOpsDatabase',
      { pooler: { minPoolSize: 25 } },
      'pooler.minPoolSize must not exceed pooler.defaultPoolSize',
    ],
    ['HomeOpsDatabase', { pooler: { defaultPoolSize: 48 } }, 'must not exceed pooler.maxDbConnections'],
    [
      'HomeOpsDatabase',
      { postgres: { parameters: { wal_level: 'minimal' } } },
      'parameters may not set settings the operator owns',
    ],
    ['HomeOpsDatabase', { pooler: { poolMode: 'bogus' } }, 'Unsupported value: "bogus"'],
    // PostgreSQL reads names case-insensitively: the deny-list too.
    [
      'HomeOpsDatabase',
      { postgres: { parameters: { Port: '5433' } } },
      'may not set settings the operator owns',
    ],
    ['HomeOpsDatabase', { postgres: { parameters: { include: '/etc/passwd' } } }, 'nor include files'],
    [
      'HomeOpsDatabase',
      { postgres: { parameters: { 'work mem': '4MB' } } },
      "a name is a PostgreSQL setting's name",
    ],
    ['HomeOpsDatabase', { postgres: { parameters: { work_mem: '4MB\nport = 1' } } }, 'control characters'],
    ['HomeOpsDatabase', { postgres: { storage: { size: '10 gigs' } } }, 'spec.postgres.storage.size'],
    [
      'HomeOpsDatabase',
      { partitioning: { tables: [{ table: 'a.b', column: 'd', retention: 'forever' }] } },
      'retention',
    ],
    [
      'HomeOpsDatabase',
      { postgres: { extensions: ['vector', 'vector@0.7.0'] } },
      'extensions: each extension at most once',
    ],
    ['HomeOpsDatabase', { postgres: { extensions: ['Vector; DROP'] } }, 'spec.postgres.extensions[0]'],
    [
      'HomeOpsDatabase',
      { postgres: { timescale: 'disabled', extensions: ['timescaledb@2.19.3'] } },
      'postgres.timescale is disabled but postgres.extensions lists timescaledb',
    ],
    ['CacheTier', { replicas: 3 }, 'replicas > 1 needs mode: replicated'],
    [
      'CacheTier',
      { ttlPolicies: { queryResults: { min: '2h', max: '5m' } } },
      'a TTL range needs min <= max',
    ],
    ['ReplicaSet', { databaseRef: { name: 'db' }, maxLagSeconds: 0 }, 'spec.maxLagSeconds'],
    ['ReplicaSet', { replicas: 1 }, 'spec.databaseRef: Required value'],
  ] as [Kind, unknown, string][])('%s %j is refused', async (kind, spec, message) => {
    const err = await rejection(create(kind, `bad-${Math.random().toString(36).slice(2, 8)}`, spec));
    expect(err.code).toBe(422);
    expect(err.message).toContain(message);
  });

  it.each([
    ['HomeOpsDatabase', 52, {}],
    ['CacheTier', 46, {}],
    ['ReplicaSet', 44, { databaseRef: { name: 'db' } }],
  ] as [Kind, number, unknown][])(
    'admits a %s name of %i characters, the longest whose children are all valid, and no longer',
    async (kind, max, spec) => {
      const name = (n: number) => `n${Math.random().toString(36).slice(2, 8)}`.padEnd(n, 'x');
      await expect(create(kind, name(max), spec)).resolves.toBeTruthy();
      const long = await rejection(create(kind, name(max + 1), spec));
      expect(long.code).toBe(422);
      expect(long.message).toContain(`metadata.name: at most ${max} characters`);
      for (const bad of ['9lives', 'has.dot']) {
        const err = await rejection(create(kind, bad, spec));
        expect(err.code).toBe(422);
        expect(err.message).toContain('DNS-1035');
      }
    },
  );

  it('refuses to shrink storage', async () => {
    await create('HomeOpsDatabase', 'shrink', { postgres: { storage: { size: '20Gi' } } });
    const err = await rejection(
      apply(kc, {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'HomeOpsDatabase',
        metadata: { name: 'shrink', namespace: ns.name },
        spec: { postgres: { storage: { size: '10Gi' } } },
      } as KubernetesObject),
    );
    expect(err.message).toContain('storage.size can only grow');
    // Growing is fine.
    await apply(kc, {
      apiVersion: 'homeops.io/v1alpha1',
      kind: 'HomeOpsDatabase',
      metadata: { name: 'shrink', namespace: ns.name },
      spec: { postgres: { storage: { size: '30Gi' } } },
    } as KubernetesObject);
  });

  it('refuses to change a ReplicaSet databaseRef', async () => {
    await create('ReplicaSet', 'follow', { databaseRef: { name: 'one' } });
    const err = await rejection(
      apply(kc, {
        apiVersion: 'homeops.io/v1alpha1',
        kind: 'ReplicaSet',
        metadata: { name: 'follow', namespace: ns.name },
        spec: { databaseRef: { name: 'two' } },
      } as KubernetesObject),
    );
    expect(err.message).toContain('databaseRef is immutable');
  });

  it('scales a ReplicaSet through the scale subresource', async () => {
    await create('ReplicaSet', 'scaled', { databaseRef: { name: 'one' }, replicas: 1 });
    await kubectl('scale', 'replicasets.homeops.io/scaled', '-n', ns.name, '--replicas=3');
    const got = (await get('ReplicaSet', 'scaled')) as { spec: { replicas: number } };
    expect(got.spec.replicas).toBe(3);
  });
});
