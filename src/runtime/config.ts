/**
 * The operator's own configuration, from flags (--name=value) over environment variables
 * (HOMEOPS_NAME), validated with zod so that a typo stops the process with a clear message.
 */

import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { DEFAULT_IMAGES, DEFAULT_OPERATOR_IMAGE } from '../images.ts';

const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0'])])
  .transform((v) => v === true || v === 'true' || v === '1');

export const runtimeConfigSchema = z.object({
  namespaces: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean),
    )
    .describe('Namespaces to watch, comma-separated; all when empty.'),
  concurrency: z.coerce.number().int().min(1).max(64).default(8),
  controllerConcurrency: z
    .string()
    .default('')
    .transform((s, ctx) => {
      const out: Record<string, number> = {};
      for (const part of s
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean)) {
        const m = /^([a-z0-9-]+)=([0-9]+)$/.exec(part);
        if (!m || Number(m[2]) < 1 || Number(m[2]) > 64) {
          ctx.addIssue({ code: 'custom', message: `"${part}" is not controller=N with N from 1 to 64` });
          continue;
        }
        out[m[1]!] = Number(m[2]);
      }
      return out;
    })
    .describe(
      'Reconcile concurrency per controller, such as homeopsdatabase=4; --concurrency for the others.',
    ),
  probeConcurrency: z.coerce
    .number()
    .int()
    .min(1)
    .max(256)
    .default(8)
    .describe(
      'Databases probed at once (each probe is two short connections). At 1,000 databases and a 30 s interval, about 33 probes a second are due.',
    ),
  kubeApiQps: z.coerce
    .number()
    .min(0)
    .default(200)
    .describe('Client-side requests per second to the API server; 0 turns the limit off.'),
  kubeApiBurst: z.coerce.number().int().min(1).default(400),
  metricsPort: z.coerce.number().int().min(0).max(65535).default(8080),
  healthPort: z.coerce.number().int().min(0).max(65535).default(8081),
  bindAddress: z.string().default('0.0.0.0'),
  leaderElect: bool.default(true),
  leaderElectionNamespace: z.string().default('homeops-system'),
  leaderElectionId: z.string().default('homeops-operator-leader'),
  leaseDurationSeconds: z.coerce.number().positive().default(15),
  renewDeadlineSeconds: z.coerce.number().positive().default(10),
  retryPeriodSeconds: z.coerce.number().positive().default(2),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
  kubeconfig: z.string().optional(),
  endpointMap: z
    .string()
    .optional()
    .describe(
      'JSON file mapping Service host:port to a reachable host:port (local runs, where pods are simulated).',
    ),
  serviceAddresses: z
    .enum(['dns', 'cluster-ip'])
    .default('dns')
    .describe(
      'How the operator dials Services: dns (in a pod) or cluster-ip (out of the cluster on a machine with kube-proxy).',
    ),
  postgresImage: z.string().min(1).default(DEFAULT_IMAGES.postgres),
  timescaleImage: z.string().min(1).default(DEFAULT_IMAGES.timescale),
  pgbouncerImage: z.string().min(1).default(DEFAULT_IMAGES.pgbouncer),
  redisImage: z.string().min(1).default(DEFAULT_IMAGES.redis),
  operatorImage: z
    .string()
    .min(1)
    .default(DEFAULT_OPERATOR_IMAGE)
    .describe("The operator's own image: its Jobs run its `job` command (the chart sets the running image)."),
  identity: z.string().default(() => `${hostname()}_${randomBytes(4).toString('hex')}`),
});

export type RuntimeConfig = z.infer<typeof runtimeConfigSchema>;

const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
const envName = (key: string) => `HOMEOPS_${key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`;

/** Reads the configuration; throws an Error listing every bad or unknown setting. */
export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): RuntimeConfig {
  const keys = Object.keys(runtimeConfigSchema.shape);
  const raw: Record<string, unknown> = {};
  for (const key of keys) if (env[envName(key)] !== undefined) raw[key] = env[envName(key)];
  const unknown: string[] = [];
  for (const arg of argv) {
    const m = /^--([a-z][a-z-]*)(?:=(.*))?$/.exec(arg);
    const key = m ? camel(m[1]!) : undefined;
    if (!m || !key || !keys.includes(key)) {
      unknown.push(arg);
      continue;
    }
    raw[key] = m[2] ?? 'true';
  }
  const parsed = runtimeConfigSchema.safeParse(raw);
  const problems = [
    ...unknown.map((a) => `unknown flag ${a}`),
    ...(parsed.success ? [] : parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`)),
  ];
  if (problems.length || !parsed.success)
    throw new Error(`invalid configuration:\n  ${problems.join('\n  ')}`);
  return parsed.data;
}
