/**
 * CacheTier: Redis with the guide's memory, eviction and persistence policy, and the guide's
 * cache hierarchy (TTL policies) published to applications in a ConfigMap.
 */
import { z } from 'zod';
import {
  ageColumn,
  baseStatus,
  celRules,
  goDuration,
  healthCheckInterval,
  image,
  objectMeta,
  phaseColumn,
  readyColumn,
  resourceRequirements,
  scheduling,
  secretKeyRef,
  storage,
} from './common.ts';

/** A size in Redis's own notation ("2gb", "64mb", "512kb", or bytes). */
export const redisSize = z
  .string()
  .max(32)
  .regex(/^[0-9]+(b|kb|mb|gb|k|m|g)?$/, 'must be a Redis size such as 2gb, 64mb or 512kb');

export const MAX_MEMORY_POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
] as const;

/** A TTL range: the guide gives ranges for query results, API responses and aggregations. */
const ttlRange = (min: string, max: string) =>
  celRules(z.object({ min: goDuration.default(min), max: goDuration.default(max) }), [
    { rule: 'duration(self.min) <= duration(self.max)', message: 'a TTL range needs min <= max' },
  ]);

export const ttlPolicies = z
  .object({
    session: goDuration.default('15m'),
    preferences: goDuration.default('1h'),
    configs: goDuration.default('24h'),
    queryResults: ttlRange('5m', '60m').prefault({}),
    apiResponses: ttlRange('1m', '15m').prefault({}),
    realtime: goDuration.default('30s'),
    aggregations: ttlRange('1h', '6h').prefault({}),
  })
  .describe("The guide's cache hierarchy, published to applications in the <name>-ttl ConfigMap.");

export const persistenceSpec = z.object({
  appendOnly: z.boolean().default(true),
  appendFsync: z.enum(['everysec', 'always', 'no']).default('everysec'),
  autoAofRewritePercentage: z.number().int().min(0).max(10000).default(100),
  autoAofRewriteMinSize: redisSize.default('64mb'),
  storage: storage.prefault({ size: '5Gi' }),
});

export const cacheTierSpec = celRules(
  z.object({
    image: image.optional().describe('Redis image; docker.io/library/redis:7 when absent.'),
    mode: z.enum(['standalone', 'replicated']).default('standalone'),
    replicas: z
      .number()
      .int()
      .min(1)
      .max(9)
      .default(1)
      .describe('Redis instances; more than one needs mode replicated.'),
    failoverAfterSeconds: z
      .number()
      .int()
      .min(2)
      .max(3600)
      .default(15)
      .describe(
        'mode replicated: how long the writer may be unreachable before the operator promotes the replica with the highest replication offset.',
      ),
    maxMemory: redisSize.default('2gb'),
    maxMemoryPolicy: z.enum(MAX_MEMORY_POLICIES).default('allkeys-lru'),
    timeoutSeconds: z.number().int().min(0).max(86400).default(300),
    tcpKeepaliveSeconds: z.number().int().min(0).max(86400).default(60),
    persistence: persistenceSpec.prefault({}),
    auth: z
      .object({
        secretRef: secretKeyRef.optional().describe('Secret with a "password" key; generated when absent.'),
        rotationGraceSeconds: z
          .number()
          .int()
          .min(0)
          .max(86400)
          .default(300)
          .describe(
            'After the Secret gets a new password, how long Redis accepts both the old and the new one (clients switch over meanwhile).',
          ),
      })
      .prefault({}),
    ttlPolicies: ttlPolicies.prefault({}),
    healthCheckIntervalSeconds: healthCheckInterval(
      'How often INFO is read and the live settings are checked.',
    ),
    resources: resourceRequirements.optional(),
    scheduling: scheduling.optional(),
  }),
  [
    {
      rule: "self.mode == 'replicated' || self.replicas == 1",
      message: 'replicas > 1 needs mode: replicated (standalone runs exactly one Redis)',
      fieldPath: '.replicas',
      check: (s) => s.mode === 'replicated' || s.replicas === 1,
    },
  ],
);

const cacheMember = z.object({
  name: z.string(),
  role: z
    .enum(['writer', 'replica', 'unknown'])
    .describe('From INFO; unknown when the member did not answer.'),
  linkUp: z.boolean().optional().describe("A replica's link to the writer (master_link_status)."),
  lagBytes: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("The writer's replication offset minus the replica's."),
  inReadService: z.boolean().optional().describe('Selected by the NAME-ro Service.'),
  message: z.string().optional(),
});

export const cacheTierStatus = z.object({
  ...baseStatus,
  endpoint: z.string().optional().describe('host:port of the Redis Service (the writer).'),
  readEndpoint: z.string().optional().describe('mode replicated: host:port of NAME-ro, the replicas.'),
  writer: z
    .string()
    .optional()
    .describe('mode replicated: the member the writer Service routes to, as the operator elected it.'),
  writerLostSince: z
    .string()
    .optional()
    .describe(
      "mode replicated, while no writer answers: when one last did (the failover clock's start; an operator that becomes leader goes on from it). Absent while a writer answers.",
    ),
  members: z.array(cacheMember).max(9).optional(),
  authSecret: z.string().optional().describe('Name of the Secret holding the password.'),
  rotation: z
    .object({
      since: z.string().describe('When Redis started accepting the new password beside the old one(s).'),
      until: z.string().describe('When the old password(s) will be removed.'),
    })
    .optional()
    .describe('A password rotation in progress: both passwords are accepted.'),
  replicas: z.number().int().min(0).optional(),
  readyReplicas: z.number().int().min(0).optional(),
  memory: z
    .object({
      usedBytes: z.number().int().min(0),
      maxBytes: z.number().int().min(0).optional(),
      usedPercent: z.number().min(0).optional(),
      usedHuman: z.string().optional(),
    })
    .optional(),
  hitRatio: z
    .number()
    .min(0)
    .max(1)
    .optional()
    .describe('Hits over lookups during the last interval (absent when there was no lookup).'),
  evictedPerInterval: z.number().int().min(0).optional().describe('Keys evicted during the last interval.'),
  config: z
    .object({
      applied: z
        .record(z.string(), z.string())
        .optional()
        .describe('The live settings as the running Redis has them.'),
      refused: z
        .record(z.string(), z.string())
        .optional()
        .describe('Settings Redis refused, with its error.'),
    })
    .optional(),
  keys: z.number().int().min(0).optional(),
  evictedKeys: z.number().int().min(0).optional(),
  connectedClients: z.number().int().min(0).optional(),
  persistence: z
    .object({
      aofEnabled: z.boolean().optional(),
      lastAofRewriteStatus: z.string().optional(),
      lastBgsaveStatus: z.string().optional(),
      lastAofWriteStatus: z.string().optional(),
      changesSinceLastSave: z.number().int().min(0).optional(),
    })
    .optional(),
});

export const cacheTier = z.object({
  apiVersion: z.literal('homeops.io/v1alpha1'),
  kind: z.literal('CacheTier'),
  metadata: objectMeta,
  spec: cacheTierSpec.prefault({}),
  status: cacheTierStatus.optional(),
});

export type CacheTier = z.infer<typeof cacheTier>;
export type CacheTierSpec = z.infer<typeof cacheTierSpec>;
export type CacheTierStatus = z.infer<typeof cacheTierStatus>;

export const cacheTierKind = {
  kind: 'CacheTier',
  plural: 'cachetiers',
  singular: 'cachetier',
  shortNames: ['ctier'],
  names: {
    max: 46,
    why: 'the StatefulSet NAME-redis labels its pods with NAME-redis-<10-character revision hash>, and a label value has at most 63',
  },
  schema: cacheTier,
  spec: cacheTierSpec,
  status: cacheTierStatus,
  printerColumns: [
    readyColumn,
    phaseColumn,
    {
      name: 'Memory',
      type: 'string',
      jsonPath: '.status.memory.usedHuman',
      description: 'Memory used by Redis.',
    },
    { name: 'Hit-Ratio', type: 'number', jsonPath: '.status.hitRatio', description: 'Keyspace hit ratio.' },
    {
      name: 'Writer',
      type: 'string',
      jsonPath: '.status.writer',
      description: 'The elected writer (replicated).',
    },
    ageColumn,
  ],
} as const;
