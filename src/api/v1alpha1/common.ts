/**
 * Building blocks shared by the three homeops.io/v1alpha1 kinds.
 *
 * Every schema here is the single source of truth for three things at once: the TypeScript
 * type (z.infer), the validation the operator runs on what it reads, and the CRD's OpenAPI
 * schema (see ../crdgen.ts). Rules that Kubernetes must enforce at admission are written as
 * CEL with `celRule`, which also attaches the same check to the zod schema where it can be
 * checked on one object (transition rules, which compare with the old object, cannot).
 */
import { z } from 'zod';

export const GROUP = 'homeops.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CATEGORY = 'homeops';

/** A CEL rule for `x-kubernetes-validations`; `check` mirrors it in zod when it can. */
export interface CelRule<T> {
  rule: string;
  message: string;
  /** JSON path (relative to the object the rule is on) the error points at. */
  fieldPath?: string;
  /** Rules that use oldSelf are transition rules: only the API server can check them. */
  check?: (value: T) => boolean;
}

/**
 * Attaches CEL rules to a schema (for the CRD) and the same checks as zod refinements (for the
 * operator and unit tests). Call it last on a schema: zod metadata does not survive cloning.
 */
export function celRules<S extends z.ZodType>(schema: S, rules: CelRule<z.output<S>>[]): S {
  let out = schema;
  for (const r of rules) {
    if (r.check) {
      const check = r.check;
      const path = r.fieldPath?.replace(/^\./, '').split('.');
      out = out.refine((v) => check(v as z.output<S>), {
        message: r.message,
        ...(path ? { path } : {}),
      }) as S;
    }
  }
  const validations = rules.map(({ rule, message, fieldPath }) => ({
    rule,
    message,
    ...(fieldPath ? { fieldPath } : {}),
  }));
  const previous = z.globalRegistry.get(out) ?? {};
  return out.meta({ ...previous, 'x-kubernetes-validations': validations }) as S;
}

/** Adds Kubernetes-specific keys (list types, preserve-unknown-fields...) to a schema's OpenAPI. */
export function k8sMeta<S extends z.ZodType>(schema: S, meta: Record<string, unknown>): S {
  const previous = z.globalRegistry.get(schema) ?? {};
  return schema.meta({ ...previous, ...meta }) as S;
}

// ---- Scalars --------------------------------------------------------------------------------

/** A DNS-1123 label: the name of a Kubernetes object that also becomes a hostname. */
export const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS-1123 label: lower case letters, digits and -');

/** A container image reference. */
export const image = z.string().min(1).max(512).regex(/^\S+$/, 'an image reference has no spaces');

/**
 * A Kubernetes resource quantity (storage size, memory, CPU), as the API server parses it.
 * Used as a string: storage sizes are compared with CEL's quantity() library.
 */
export const QUANTITY_PATTERN = '^[0-9]+(\\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$';
export const quantity = z
  .string()
  .max(32)
  .regex(new RegExp(QUANTITY_PATTERN), 'must be a Kubernetes quantity such as 10Gi, 512Mi or 500m');

/** CPU and memory as Kubernetes writes them: either a number or a quantity string. */
export const intOrQuantity = z.union([
  z.string().max(32).regex(new RegExp(QUANTITY_PATTERN)),
  z.number().int(),
]);

/**
 * A Go duration ("30s", "15m", "1h30m"), the form CEL's duration() reads, used for TTLs,
 * timeouts and offsets that are at most days long.
 */
export const goDuration = z
  .string()
  .max(32)
  .regex(/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/, 'must be a duration such as 30s, 15m, 1h or 1h30m');

/**
 * A calendar interval in PostgreSQL's own notation ("1 day", "7 days", "6 months", "2 years"),
 * passed to the server as an interval; used where months and years matter (retention).
 */
export const INTERVAL_PATTERN = '^[1-9][0-9]{0,4} (minute|hour|day|week|month|year)s?$';
export const calendarInterval = z
  .string()
  .max(32)
  .regex(
    new RegExp(INTERVAL_PATTERN),
    'must be an interval such as "1 day", "7 days", "6 months" or "2 years"',
  );

/** A standard 5-field cron schedule, or one of the @-macros Kubernetes CronJobs accept. */
const CRON = '^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|[^ ]+( +[^ ]+){4})$';
/**
 * A standard 5-field cron schedule (as CronJobs take it), checked at admission by a CEL rule
 * with a message: a 6-field one (seconds first, as some in-process schedulers take) is refused,
 * never read as something else.
 */
export const cronSchedule = celRules(z.string().min(1).max(128), [
  {
    rule: `self.matches('${CRON}')`,
    message:
      'must be a standard 5-field cron schedule (minute hour day-of-month month day-of-week) such as "0 2 * * 0", or @daily; a 6-field schedule (with seconds) is not accepted',
    check: (v) => new RegExp(CRON).test(v),
  },
]);

/** A schema-qualified PostgreSQL relation name, such as financial.transactions. */
export const qualifiedName = z
  .string()
  .max(127)
  .regex(
    /^[a-z_][a-z0-9_]{0,62}\.[a-z_][a-z0-9_]{0,62}$/,
    'must be a schema-qualified lower-case name such as financial.transactions',
  );

/** An unqualified PostgreSQL identifier (column, role, database). */
export const identifier = z
  .string()
  .max(63)
  .regex(/^[a-z_][a-z0-9_]*$/, 'must be a lower-case SQL identifier: letters, digits and _');

// ---- Shared objects -------------------------------------------------------------------------

export const resourceRequirements = z
  .object({
    requests: z.record(z.string(), intOrQuantity).optional(),
    limits: z.record(z.string(), intOrQuantity).optional(),
  })
  .describe('CPU and memory requests and limits of the main container, as in a Pod spec.');

/** One toleration, as in a Pod spec. */
export const toleration = z.object({
  key: z.string().max(317).optional(),
  operator: z.enum(['Exists', 'Equal']).optional(),
  value: z.string().max(63).optional(),
  effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
  tolerationSeconds: z.number().int().optional(),
});

/**
 * Where a component's pods may run, copied into its pod template as it is. `affinity` is a Pod
 * spec's affinity, checked by the API server when the pod template is written.
 */
export const scheduling = z
  .object({
    nodeSelector: z.record(z.string().max(317), z.string().max(63)).optional(),
    tolerations: z.array(toleration).max(32).optional(),
    affinity: k8sMeta(z.record(z.string(), z.unknown()), {
      'x-kubernetes-preserve-unknown-fields': true,
    }).optional(),
  })
  .describe('Node selection for the pods: nodeSelector, tolerations and affinity, as in a Pod spec.');

export const storage = celRules(
  z.object({
    size: quantity.default('10Gi').describe('Size of the volume. It can grow but never shrink.'),
    storageClassName: z
      .string()
      .max(253)
      .optional()
      .describe('StorageClass of the PVC; the default class when absent.'),
    reclaimPolicy: z
      .enum(['Retain', 'Delete'])
      .default('Retain')
      .describe(
        'Retain keeps the PVCs when the resource is deleted (nothing is lost by accident); Delete removes them.',
      ),
  }),
  [
    {
      rule: '!has(oldSelf.size) || quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0',
      message: 'storage.size can only grow: set it to the current size or larger',
      fieldPath: '.size',
    },
  ],
);

/** How often a controller measures what it runs (5 s to 1 h, 30 s by default). */
export const healthCheckInterval = (what: string) =>
  z.number().int().min(5).max(3600).default(30).describe(what);

export const secretKeyRef = z.object({
  name: dnsLabel.describe('Name of a Secret in the same namespace.'),
});

export const localObjectRef = z.object({
  name: dnsLabel.describe('Name of an object in the same namespace.'),
});

// ---- Status ---------------------------------------------------------------------------------

/** metav1.Condition, as kstatus, Flux and Argo CD read it. */
export const condition = z.object({
  type: z
    .string()
    .max(316)
    .regex(/^([a-z0-9.-]+\/)?[A-Za-z0-9_.-]+$/),
  status: z.enum(['True', 'False', 'Unknown']),
  observedGeneration: z.number().int().min(0).optional(),
  lastTransitionTime: z.string().describe('When status last changed (RFC 3339).'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/),
  message: z.string().max(32768),
});
export type Condition = z.infer<typeof condition>;

export const conditions = k8sMeta(z.array(condition).max(32), {
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['type'],
});

/** The phases every kind reports; conditions carry the detail. */
export const phase = z.enum(['Pending', 'Provisioning', 'Ready', 'Degraded', 'Failed', 'Deleting']);
export type Phase = z.infer<typeof phase>;

/** Status fields every kind has. Measured fields are added by each kind and are optional. */
export const baseStatus = {
  observedGeneration: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe('The metadata.generation this status describes.'),
  phase: phase.optional(),
  conditions: conditions.optional(),
};

/** Standard object metadata as the operator reads it (the API server validates the rest). */
export const objectMeta = z
  .object({
    name: z.string().optional(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    generation: z.number().int().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    deletionTimestamp: z.string().optional(),
    finalizers: z.array(z.string()).optional(),
  })
  .loose();

/** The printer columns every kind starts with. */
export const readyColumn = {
  name: 'Ready',
  type: 'string',
  jsonPath: '.status.conditions[?(@.type=="Ready")].status',
};
export const phaseColumn = { name: 'Phase', type: 'string', jsonPath: '.status.phase' };
export const ageColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };

/**
 * What a kind's name must be for every child the operator makes from it to be valid, checked at
 * admission (rules on the object's root, where CEL may read metadata.name) with a message that
 * says the limit and why. Objects admitted before a rule existed keep working (the API server
 * ratchets unchanged fields), and the operator does not re-check names it already runs.
 */
export interface NameRules {
  /** The longest name, and the child that sets it. */
  max: number;
  why: string;
}

export function nameValidations({ max, why }: NameRules): { rule: string; message: string }[] {
  return [
    {
      rule: `self.metadata.name.size() <= ${max}`,
      message: `metadata.name: at most ${max} characters: ${why}`,
    },
    {
      rule: "self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$')",
      message:
        "metadata.name: start with a letter and use only lowercase letters, digits and '-' (no dots): it names Services, which must be DNS-1035 labels",
    },
  ];
}
