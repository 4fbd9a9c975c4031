/**
 * ReplicaSet (homeops.io, not apps/v1): streaming read replicas of a HomeOpsDatabase, with
 * replication lag measured and a read Service that routes only to replicas within maxLagSeconds.
 * Use `kubectl get replicasets.homeops.io` or the short name `hors`.
 */
import { z } from 'zod';
import {
  ageColumn,
  baseStatus,
  celRules,
  dnsLabel,
  healthCheckInterval,
  objectMeta,
  phaseColumn,
  readyColumn,
  resourceRequirements,
  scheduling,
  storage,
} from './common.ts';

export const replicaSetSpec = z.object({
  databaseRef: celRules(
    z.object({ name: dnsLabel.describe('The HomeOpsDatabase in the same namespace to replicate.') }),
    [
      {
        rule: 'self == oldSelf',
        message: 'databaseRef is immutable: create a new ReplicaSet to follow another database',
      },
    ],
  ),
  replicas: z.number().int().min(0).max(16).default(1),
  maxLagSeconds: z
    .number()
    .gt(0)
    .max(86400)
    .default(5)
    .describe('Replicas lagging more than this are taken out of the read Service (the guide: 5 s).'),
  fallbackToPrimary: z
    .boolean()
    .default(false)
    .describe(
      'When every member is over maxLagSeconds (or none is Ready), the read Service routes to the primary instead of nowhere. Off by default: reads then fail rather than load the primary.',
    ),
  healthCheckIntervalSeconds: healthCheckInterval(
    'How often lag is measured; a member leaves the read Service at most this long after crossing maxLagSeconds.',
  ),
  storage: storage.prefault({}),
  resources: resourceRequirements.optional(),
  scheduling: scheduling.optional(),
});

export const replicaMember = z.object({
  name: z.string(),
  ready: z.boolean(),
  inReadService: z.boolean().describe('Whether the read Service routes to this replica now.'),
  lagSeconds: z
    .number()
    .min(0)
    .optional()
    .describe(
      'How old the newest change the member has not replayed is: 0 when it has replayed all the WAL the primary has written; absent when not measured.',
    ),
  lagBytes: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("The primary's current WAL position minus the member's replay position."),
  state: z
    .string()
    .optional()
    .describe(
      'pg_stat_replication.state (streaming, catchup...), or NotStreaming, Starting, BaseBackupFailed and the like.',
    ),
  message: z
    .string()
    .max(1024)
    .optional()
    .describe('Why the member is not streaming or not in the read Service.'),
});

export const replicaSetStatus = z.object({
  ...baseStatus,
  replicas: z.number().int().min(0).optional(),
  readyReplicas: z.number().int().min(0).optional(),
  selector: z.string().optional().describe('Label selector of the replica pods, for the scale subresource.'),
  readEndpoint: z.string().optional().describe('host:port of the read Service.'),
  maxLagSeconds: z.number().min(0).optional().describe('Largest measured lag among the members.'),
  readServiceTarget: z
    .enum(['Members', 'Primary', 'None'])
    .optional()
    .describe(
      'Where the read Service routes: the members within the bound, the primary (fallbackToPrimary), or nowhere.',
    ),
  members: z.array(replicaMember).max(16).optional(),
});

export const replicaSet = z.object({
  apiVersion: z.literal('homeops.io/v1alpha1'),
  kind: z.literal('ReplicaSet'),
  metadata: objectMeta,
  spec: replicaSetSpec,
  status: replicaSetStatus.optional(),
});

export type ReplicaSet = z.infer<typeof replicaSet>;
export type ReplicaSetSpec = z.infer<typeof replicaSetSpec>;
export type ReplicaSetStatus = z.infer<typeof replicaSetStatus>;

export const replicaSetKind = {
  kind: 'ReplicaSet',
  plural: 'replicasets',
  singular: 'replicaset',
  shortNames: ['hors'],
  names: {
    max: 44,
    why: 'the StatefulSet NAME-replica labels its pods with NAME-replica-<10-character revision hash>, and a label value has at most 63',
  },
  schema: replicaSet,
  spec: replicaSetSpec,
  status: replicaSetStatus,
  printerColumns: [
    readyColumn,
    phaseColumn,
    { name: 'Replicas', type: 'integer', jsonPath: '.spec.replicas' },
    { name: 'Ready-Replicas', type: 'integer', jsonPath: '.status.readyReplicas' },
    {
      name: 'Max-Lag',
      type: 'number',
      jsonPath: '.status.maxLagSeconds',
      description: 'Largest replication lag (s).',
    },
    ageColumn,
  ],
  scale: {
    specReplicasPath: '.spec.replicas',
    statusReplicasPath: '.status.replicas',
    labelSelectorPath: '.status.selector',
  },
} as const;
