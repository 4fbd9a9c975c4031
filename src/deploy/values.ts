/**
 * The chart's values as a zod schema: `npm run gen:chart` writes values.schema.json from it (Helm
 * refuses values that do not match), and a test parses the chart's values.yaml with it, so the
 * defaults, the schema and the templates cannot drift apart.
 */
import { z } from 'zod';
import { DEFAULT_THRESHOLDS } from './alerts.ts';

const labels = z.record(z.string(), z.string());
const quantity = z.union([z.string(), z.number()]);
const resources = z
  .object({
    requests: z.record(z.string(), quantity).optional(),
    limits: z.record(z.string(), quantity).optional(),
  })
  .strict();
const obj = z.record(z.string(), z.unknown());

const thresholds = z
  .object(
    Object.fromEntries(Object.keys(DEFAULT_THRESHOLDS).map((k) => [k, z.number().nonnegative()])) as Record<
      keyof typeof DEFAULT_THRESHOLDS,
      z.ZodNumber
    >,
  )
  .strict();

export const chartValues = z
  .object({
    nameOverride: z.string(),
    fullnameOverride: z.string(),
    image: z
      .object({
        repository: z.string().min(1),
        tag: z.string().describe("Defaults to the chart's appVersion."),
        pullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']),
      })
      .strict(),
    imagePullSecrets: z.array(z.object({ name: z.string() }).strict()),
    replicaCount: z.number().int().min(1).describe('Two or more: one leads, the others wait on the Lease.'),
    watchNamespaces: z
      .array(z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/))
      .describe(
        'Empty: every namespace (ClusterRole). Otherwise a Role in each of these, and no ClusterRole.',
      ),
    crds: z
      .object({
        install: z.boolean().describe('Template the CRDs, so `helm upgrade` updates them.'),
        keep: z
          .boolean()
          .describe('helm.sh/resource-policy: keep: `helm uninstall` leaves the CRDs and every resource.'),
      })
      .strict(),
    operator: z
      .object({
        logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']),
        concurrency: z.number().int().min(1).max(64),
        kubeApiQps: z.number().min(0),
        kubeApiBurst: z.number().int().min(1),
        leaseDurationSeconds: z.number().int().min(1),
        renewDeadlineSeconds: z.number().int().min(1),
        retryPeriodSeconds: z.number().int().min(1),
        images: z
          .object({
            postgres: z.string(),
            timescale: z.string(),
            pgbouncer: z.string(),
            redis: z.string(),
          })
          .strict()
          .describe("Images used where a resource names none; empty: the operator's defaults."),
        extraArgs: z.array(z.string()),
      })
      .strict(),
    serviceAccount: z.object({ create: z.boolean(), name: z.string(), annotations: labels }).strict(),
    rbac: z.object({ create: z.boolean() }).strict(),
    resources,
    podDisruptionBudget: z.object({ enabled: z.boolean(), minAvailable: z.number().int().min(0) }).strict(),
    podAnnotations: labels,
    podLabels: labels,
    nodeSelector: labels,
    tolerations: z.array(obj),
    affinity: obj,
    priorityClassName: z.string(),
    metrics: z
      .object({
        port: z.number().int().min(1).max(65535),
        service: z.object({ enabled: z.boolean() }).strict(),
      })
      .strict(),
    serviceMonitor: z
      .object({
        enabled: z.boolean(),
        interval: z.string(),
        scrapeTimeout: z.string(),
        additionalLabels: labels.describe(
          "kube-prometheus-stack's Prometheus selects monitors with its release label.",
        ),
      })
      .strict(),
    prometheusRule: z
      .object({
        enabled: z.boolean(),
        additionalLabels: labels,
        runbookBaseUrl: z.string().url(),
        disabled: z.array(z.string()).describe('Alerts left out, by name (HomeOpsCacheDown, ...).'),
        thresholds,
      })
      .strict(),
    grafanaDashboard: z
      .object({
        enabled: z.boolean(),
        namespace: z.string().describe("Where Grafana's sidecar looks; empty: the release's namespace."),
        additionalLabels: labels.describe(
          'grafana_dashboard: "1" is always set (the sidecar\'s default label).',
        ),
      })
      .strict(),
  })
  .strict();

export type ChartValues = z.infer<typeof chartValues>;

/** values.schema.json: JSON Schema draft 7, which Helm validates values against. */
export function valuesJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(chartValues, { target: 'draft-7', io: 'input' }) as Record<string, unknown>;
}
