/**
 * Generates the CustomResourceDefinitions from the zod schemas, so that the CRDs in crds/ can
 * never drift from the types the operator uses. Pure: no I/O (src/cmd/gen-crds.ts writes files).
 *
 * z.toJSONSchema gives draft 2020-12 JSON Schema; Kubernetes wants a *structural* OpenAPI v3
 * schema, so `toStructural` rewrites the few constructs that differ.
 */
import { z } from 'zod';
import { nameValidations } from './v1alpha1/common.ts';
import { CATEGORY, GROUP, KINDS, VERSION } from './v1alpha1/index.ts';

type JsonSchema = Record<string, unknown>;

const SAFE_INT = Number.MAX_SAFE_INTEGER;

/** Rewrites a JSON Schema node (recursively) into the structural form Kubernetes accepts. */
export function toStructural(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  for (const [key, value] of Object.entries(node)) {
    switch (key) {
      case '$schema':
      case 'propertyNames': // keys of a map are always strings in Kubernetes
        break;
      case 'additionalProperties':
        // `false` is the default meaning of a structural schema (unknown fields are pruned);
        // `{}` (any value) is said with x-kubernetes-preserve-unknown-fields instead.
        if (value !== false && Object.keys(value as JsonSchema).length > 0)
          out[key] = toStructural(value as JsonSchema);
        break;
      case 'minimum':
      case 'maximum':
        // zod writes ±2^53-1 for every integer; they say nothing and only add noise.
        if (Math.abs(value as number) !== SAFE_INT) out[key] = value;
        break;
      case 'properties':
        out[key] = Object.fromEntries(
          Object.entries(value as Record<string, JsonSchema>).map(([k, v]) => [k, toStructural(v)]),
        );
        break;
      case 'items':
        out[key] = toStructural(value as JsonSchema);
        break;
      case 'anyOf': {
        const branches = value as JsonSchema[];
        const types = new Set(branches.map((b) => b.type));
        if (types.size === 2 && types.has('string') && types.has('integer')) {
          // A Kubernetes quantity (cpu: 1 or cpu: 500m).
          out['x-kubernetes-int-or-string'] = true;
        } else {
          throw new Error(`cannot express anyOf of ${[...types].join('|')} structurally`);
        }
        break;
      }
      case 'exclusiveMinimum':
        // OpenAPI v3.0 writes an exclusive bound as a boolean beside minimum.
        out.minimum = value;
        out.exclusiveMinimum = true;
        break;
      case 'exclusiveMaximum':
        out.maximum = value;
        out.exclusiveMaximum = true;
        break;
      default:
        out[key] = value;
    }
  }
  if (out.format === 'date-time') delete out.pattern;
  if (out.type === 'object' && !out.properties && !out.additionalProperties) {
    out['x-kubernetes-preserve-unknown-fields'] = true;
  }
  return out;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The value a default of `value` at `node` becomes once the nested defaults apply. The API
 * server checks a default against the node's CEL rules as written, without applying nested
 * defaults first, so `default: {}` on an object whose rules read its fields is refused.
 */
export function expandDefault(node: JsonSchema, value: unknown): unknown {
  if (!isPlainObject(value) || !isPlainObject(node.properties)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const [key, child] of Object.entries(node.properties as Record<string, JsonSchema>)) {
    if (key in out) out[key] = expandDefault(child, out[key]);
    else if ('default' in child) out[key] = expandDefault(child, child.default);
  }
  return out;
}

/** Rewrites every object default in a schema tree to its expanded form. */
export function expandDefaults(node: JsonSchema): JsonSchema {
  const out: JsonSchema = { ...node };
  if (isPlainObject(node.properties)) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties as Record<string, JsonSchema>).map(([k, v]) => [k, expandDefaults(v)]),
    );
  }
  if (isPlainObject(node.items)) out.items = expandDefaults(node.items as JsonSchema);
  if ('default' in out) out.default = expandDefault(out, out.default);
  return out;
}

export function openApiSchema(schema: z.ZodType): JsonSchema {
  return expandDefaults(
    toStructural(z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as JsonSchema),
  );
}

type Kind = (typeof KINDS)[number];

export function buildCrd(kind: Kind): JsonSchema {
  const spec = openApiSchema(kind.spec);
  const status = openApiSchema(kind.status);
  // ReplicaSet has a required databaseRef, so its spec is required and has no default.
  const specRequired = kind.kind === 'ReplicaSet';
  if (!specRequired) spec.default = expandDefault(spec, {});
  const subresources: JsonSchema = { status: {} };
  if ('scale' in kind) subresources.scale = { ...kind.scale };
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${kind.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/name': 'homeops-operator', 'app.kubernetes.io/part-of': 'homeops' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: kind.kind,
        listKind: `${kind.kind}List`,
        plural: kind.plural,
        singular: kind.singular,
        shortNames: [...kind.shortNames],
        categories: [CATEGORY],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources,
          additionalPrinterColumns: kind.printerColumns.map((c) => ({ ...c })),
          schema: {
            openAPIV3Schema: {
              type: 'object',
              description: kind.schema.description,
              properties: {
                apiVersion: { type: 'string' },
                kind: { type: 'string' },
                metadata: { type: 'object' },
                spec,
                status,
              },
              ...(specRequired ? { required: ['spec'] } : {}),
              'x-kubernetes-validations': nameValidations(kind.names),
            },
          },
        },
      ],
    },
  };
}

/** All CRDs, keyed by the file name they are written to under crds/. */
export function buildCrds(): Map<string, JsonSchema> {
  return new Map(KINDS.map((k) => [`${GROUP}_${k.plural}.yaml`, buildCrd(k)]));
}
