import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildApiDocs } from './apidocs.ts';
import { renderCrd } from './crdfile.ts';
import { buildCrds, expandDefault, toStructural } from './crdgen.ts';

const crdDir = join(import.meta.dirname, '..', '..', 'crds');

type Node = Record<string, unknown>;

/** Walks every schema node with its path. */
function* nodes(node: Node, path = ''): Generator<[string, Node]> {
  yield [path, node];
  for (const [k, v] of Object.entries((node.properties as Record<string, Node>) ?? {}))
    yield* nodes(v, `${path}.${k}`);
  if (node.items) yield* nodes(node.items as Node, `${path}[]`);
  if (node.additionalProperties && typeof node.additionalProperties === 'object')
    yield* nodes(node.additionalProperties as Node, `${path}{}`);
}

const crds = buildCrds();
const version = (crd: Node) => ((crd.spec as Node).versions as Node[])[0]!;
const rootSchema = (crd: Node) => (version(crd).schema as Node).openAPIV3Schema as Node;

describe('generated CRDs', () => {
  it.each([...crds.keys()])('crds/%s is up to date with the zod schemas (run npm run gen:crds)', (file) => {
    const committed = readFileSync(join(crdDir, file), 'utf8');
    expect(committed).toBe(renderCrd(crds.get(file)));
  });

  it('docs/api.md is up to date with the zod schemas (run npm run gen:crds)', () => {
    expect(readFileSync(join(crdDir, '..', 'docs', 'api.md'), 'utf8')).toBe(buildApiDocs());
  });

  it.each([...crds.keys()])(
    '%s is structural: every node has a type, no JSON Schema-only keywords',
    (file) => {
      for (const [path, node] of nodes(rootSchema(crds.get(file)!))) {
        const typed = node.type !== undefined || node['x-kubernetes-int-or-string'] === true;
        expect(typed, `${path} has no type`).toBe(true);
        for (const forbidden of ['$schema', 'propertyNames', 'anyOf', 'oneOf', 'allOf', '$ref', 'const']) {
          expect(node[forbidden], `${path} has ${forbidden}`).toBeUndefined();
        }
        expect(node.additionalProperties === false, `${path} has additionalProperties: false`).toBe(false);
        if (node.properties && node.additionalProperties)
          throw new Error(`${path} has properties and additionalProperties`);
      }
    },
  );

  it('names the three kinds in group homeops.io and category homeops', () => {
    const names = [...crds.values()].map((c) => (c.spec as Node).names as Node);
    expect(names.map((n) => n.kind)).toEqual(['HomeOpsDatabase', 'CacheTier', 'ReplicaSet']);
    expect(names.map((n) => n.shortNames)).toEqual([['hodb'], ['ctier'], ['hors']]);
    for (const n of names) expect(n.categories).toEqual(['homeops']);
    for (const c of crds.values()) expect((c.spec as Node).group).toBe('homeops.io');
  });

  it('gives ReplicaSet the scale subresource and every kind the status subresource', () => {
    const rs = crds.get('homeops.io_replicasets.yaml')!;
    expect(version(rs).subresources).toEqual({
      status: {},
      scale: {
        specReplicasPath: '.spec.replicas',
        statusReplicasPath: '.status.replicas',
        labelSelectorPath: '.status.selector',
      },
    });
    for (const c of crds.values()) expect(version(c).subresources).toHaveProperty('status');
  });

  it('keys conditions by type so server-side apply merges them', () => {
    for (const c of crds.values()) {
      const conditions = ((rootSchema(c).properties as Node).status as Node).properties as Node;
      expect(conditions.conditions).toMatchObject({
        'x-kubernetes-list-type': 'map',
        'x-kubernetes-list-map-keys': ['type'],
      });
    }
  });

  it('carries the admission rules as CEL', () => {
    const text = readFileSync(join(crdDir, 'homeops.io_homeopsdatabases.yaml'), 'utf8');
    expect(text).toContain('self.minPoolSize <= self.defaultPoolSize');
    expect(text).toContain('quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0');
    expect(readFileSync(join(crdDir, 'homeops.io_replicasets.yaml'), 'utf8')).toContain(
      'databaseRef is immutable',
    );
  });
});

describe('toStructural', () => {
  it('turns string|integer into int-or-string and refuses other unions', () => {
    expect(toStructural({ anyOf: [{ type: 'string' }, { type: 'integer' }] })).toEqual({
      'x-kubernetes-int-or-string': true,
    });
    expect(() => toStructural({ anyOf: [{ type: 'string' }, { type: 'boolean' }] })).toThrow(/anyOf/);
  });

  it('drops additionalProperties: false and the safe-integer bounds zod writes', () => {
    expect(
      toStructural({
        type: 'object',
        properties: { n: { type: 'integer', minimum: 0, maximum: Number.MAX_SAFE_INTEGER } },
        additionalProperties: false,
      }),
    ).toEqual({ type: 'object', properties: { n: { type: 'integer', minimum: 0 } } });
  });

  it('writes exclusive bounds the OpenAPI v3.0 way', () => {
    expect(toStructural({ type: 'number', exclusiveMinimum: 0 })).toEqual({
      type: 'number',
      minimum: 0,
      exclusiveMinimum: true,
    });
  });
});

describe('expandDefault', () => {
  it('fills an object default with the nested defaults, so CEL rules on it can read them', () => {
    const node = {
      type: 'object',
      properties: {
        a: { type: 'integer', default: 1 },
        b: { type: 'object', default: {}, properties: { c: { type: 'string', default: 'x' } } },
        d: { type: 'string' },
      },
    };
    expect(expandDefault(node, {})).toEqual({ a: 1, b: { c: 'x' } });
    expect(expandDefault(node, { a: 2, b: {} })).toEqual({ a: 2, b: { c: 'x' } });
  });
});
