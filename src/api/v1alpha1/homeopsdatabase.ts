/**
 * HomeOpsDatabase: a PostgreSQL (TimescaleDB where the image has it) primary, its PgBouncer
 * pooler, and the Jobs that keep the guide's schema, partitions, aggregates and benchmarks in
 * shape. Defaults are the settings of the HomeOps database optimization guide.
 */
import { z } from 'zod';
import { archivingStatus, backupSpec, backupStatus, bootstrapSpec, recoveryStatus } from './backup.ts';
import {
  ageColumn,
  baseStatus,
  calendarInterval,
  celRules,
  cronSchedule,
  identifier,
  image,
  k8sMeta,
  localObjectRef,
  objectMeta,
  phaseColumn,
  qualifiedName,
  readyColumn,
  resourceRequirements,
  scheduling,
  storage,
} from './common.ts';

/**
 * postgresql.conf settings the operator owns: changing them through spec.postgres.parameters
 * would break replication, the pooler, probes or the volume layout.
 */
export const OPERATOR_OWNED_PARAMETERS = [
  'listen_addresses',
  'port',
  'data_directory',
  'hba_file',
  'ident_file',
  'config_file',
  'external_pid_file',
  'unix_socket_directories',
  'wal_level',
  'hot_standby',
  'primary_conninfo',
  'primary_slot_name',
  'restore_command',
  'archive_mode',
  'archive_command',
  'shared_preload_libraries',
  'ssl',
  'ssl_cert_file',
  'ssl_key_file',
  'ssl_ca_file',
  'password_encryption',
  // Directives, not settings: `include = 'FILE'` would read another file into the configuration.
  'include',
  'include_dir',
  'include_if_exists',
  // Code and files from paths in the container: libraries loaded into every session or the
  // archiver, and key and certificate files the operator does not mount.
  'dynamic_library_path',
  'local_preload_libraries',
  'session_preload_libraries',
  'archive_library',
  'ssl_crl_file',
  'ssl_crl_dir',
  'ssl_dh_params_file',
  'ssl_passphrase_command',
  'krb_server_keyfile',
] as const;

/**
 * A setting's name as PostgreSQL reads it (case-insensitive): a word, or a custom placeholder
 * `extension.word` (one dot).
 */
export const PARAMETER_NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/;

const celStringList = (items: readonly string[]) => `[${items.map((i) => `'${i}'`).join(', ')}]`;

/** An extension as spec.postgres.extensions writes it: `name` or `name@version`. */
export const EXTENSION_ENTRY = /^[a-z_][a-z0-9_-]*(@[A-Za-z0-9._+-]+)?$/;

const postgresFields = z.object({
  image: image
    .optional()
    .describe(
      "PostgreSQL image. Defaults to the operator's --postgres-image (docker.io/library/postgres:15), or its --timescale-image when timescale is enabled. See the image contract in the README.",
    ),
  timescale: z
    .enum(['auto', 'enabled', 'disabled'])
    .default('auto')
    .describe(
      'auto detects the timescaledb extension on the running server and falls back to native partitioning and materialized views without it; enabled requires it; disabled never uses it.',
    ),
  extensions: k8sMeta(
    celRules(
      z
        .array(z.string().min(1).max(127).regex(EXTENSION_ENTRY))
        .max(64)
        .default([])
        .describe(
          'Extensions made in the application database (CREATE EXTENSION as the superuser, before Ready), each `name` or `name@version`, such as [pg_stat_statements, timescaledb, vector]. The operator preloads the libraries that need it (timescaledb, pg_stat_statements, pg_cron...). One the image lacks is reported as ExtensionUnavailable; none is ever dropped: one removed from the list stays installed, and timescaledb stays preloaded while installed.',
        ),
      [
        {
          rule: "self.all(e, self.filter(f, f.split('@')[0] == e.split('@')[0]).size() == 1)",
          message: 'extensions: each extension at most once',
          check: (l) => new Set(l.map((e) => e.split('@')[0])).size === l.length,
        },
      ],
    ),
    { 'x-kubernetes-list-type': 'atomic' },
  ),
  storage: storage.prefault({}),
  resources: resourceRequirements.optional(),
  scheduling: scheduling.optional(),
  runAsUser: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      'The uid PostgreSQL runs as; it must have a passwd entry in the image (initdb needs one). Defaults to 999 (postgres:15 and the local image), or 1000 for timescaledb-ha images.',
    ),
  parameters: k8sMeta(
    celRules(
      z
        .record(z.string().max(63), z.string().max(1024))
        .default({})
        .describe(
          'postgresql.conf settings merged over the guide defaults. Settings the operator owns are refused.',
        ),
      [
        {
          rule: `self.all(k, k.matches('${PARAMETER_NAME.source.replaceAll('\\', '\\\\')}'))`,
          message:
            "parameters: a name is a PostgreSQL setting's name: letters, digits and '_', starting with a letter or '_', with at most one '.' (extension.setting)",
          check: (p) => Object.keys(p).every((k) => PARAMETER_NAME.test(k)),
        },
        {
          // PostgreSQL reads names case-insensitively: `Port` is `port`.
          rule: `self.all(k, !(k.lowerAscii() in ${celStringList(OPERATOR_OWNED_PARAMETERS)}))`,
          message: `parameters may not set settings the operator owns, nor include files or load code from paths (${OPERATOR_OWNED_PARAMETERS.join(', ')}, in any case): remove them`,
          check: (p) =>
            Object.keys(p).every(
              (k) => !(OPERATOR_OWNED_PARAMETERS as readonly string[]).includes(k.toLowerCase()),
            ),
        },
        {
          rule: "self.all(k, !self[k].matches('\\\\p{Cc}'))",
          message:
            'parameters: a value may not hold control characters (a line break would start another setting in postgresql.conf)',
          check: (p) => Object.values(p).every((v) => !/\p{Cc}/u.test(v)),
        },
      ],
    ),
    { maxProperties: 256 },
  ),
});

export const postgresSpec = celRules(postgresFields, [
  {
    rule: "!(self.timescale == 'disabled' && self.extensions.exists(e, e.split('@')[0] == 'timescaledb'))",
    message: 'postgres.timescale is disabled but postgres.extensions lists timescaledb: remove one of them',
    fieldPath: '.extensions',
    check: (p) =>
      !(p.timescale === 'disabled' && p.extensions.some((e) => e.split('@')[0] === 'timescaledb')),
  },
]);

export const databaseSpec = celRules(
  z.object({
    name: identifier.default('homeops').describe('Name of the application database.'),
    owner: identifier.default('homeops').describe('Application role that owns the database.'),
  }),
  [
    {
      rule: 'self == oldSelf',
      message: 'database name and owner are immutable: create a new HomeOpsDatabase to rename them',
    },
  ],
);

export const poolerSpec = celRules(
  z.object({
    enabled: z.boolean().default(true),
    image: image.optional().describe("PgBouncer image. Defaults to the operator's --pgbouncer-image."),
    instances: z.number().int().min(0).max(16).default(2).describe('PgBouncer replicas.'),
    poolMode: z.enum(['session', 'transaction', 'statement']).default('transaction'),
    maxClientConn: z.number().int().min(1).max(100000).default(100),
    defaultPoolSize: z.number().int().min(1).max(10000).default(20),
    minPoolSize: z.number().int().min(0).max(10000).default(5),
    reservePoolSize: z.number().int().min(0).max(10000).default(5),
    reservePoolTimeoutSeconds: z.number().int().min(0).max(3600).default(10),
    maxDbConnections: z.number().int().min(1).max(10000).default(50),
    maxUserConnections: z.number().int().min(1).max(10000).default(30),
    resources: resourceRequirements.optional(),
    scheduling: scheduling.optional(),
  }),
  [
    {
      rule: 'self.minPoolSize <= self.defaultPoolSize',
      message:
        'pooler.minPoolSize must not exceed pooler.defaultPoolSize: lower minPoolSize or raise defaultPoolSize',
      fieldPath: '.minPoolSize',
      check: (p) => p.minPoolSize <= p.defaultPoolSize,
    },
    {
      rule: 'self.defaultPoolSize + self.reservePoolSize <= self.maxDbConnections',
      message:
        'pooler.defaultPoolSize + pooler.reservePoolSize must not exceed pooler.maxDbConnections: lower the pool sizes or raise maxDbConnections',
      fieldPath: '.maxDbConnections',
      check: (p) => p.defaultPoolSize + p.reservePoolSize <= p.maxDbConnections,
    },
    {
      rule: 'self.maxUserConnections <= self.maxDbConnections',
      message: 'pooler.maxUserConnections must not exceed pooler.maxDbConnections',
      fieldPath: '.maxUserConnections',
      check: (p) => p.maxUserConnections <= p.maxDbConnections,
    },
  ],
);

export const migrationsSpec = z.object({
  builtin: z
    .boolean()
    .default(true)
    .describe('Apply the HomeOps reference schema shipped with the operator.'),
  configMaps: k8sMeta(
    z
      .array(localObjectRef)
      .max(32)
      .default([])
      .describe(
        'Extra migration sets, applied in this order after the builtin one; in each ConfigMap, keys in name order.',
      ),
    { 'x-kubernetes-list-type': 'atomic' },
  ),
});

export const partitionedTable = z.object({
  table: qualifiedName.describe('Partitioned table, such as financial.transactions.'),
  column: identifier.describe('Partition key column (a date or timestamp).'),
  interval: z
    .enum(['daily', 'weekly', 'monthly', 'yearly'])
    .default('yearly')
    .describe('Partition period, in UTC: days, ISO weeks (from Monday), calendar months or years.'),
  premake: z
    .number()
    .int()
    .min(1)
    .max(24)
    .default(2)
    .describe('Partitions kept ready ahead of the current one.'),
  retention: calendarInterval
    .optional()
    .describe('Partitions wholly older than this are detached and dropped; kept forever when absent.'),
});

export const partitioningSpec = z.object({
  schedule: cronSchedule.default('0 0 * * *'),
  tables: k8sMeta(z.array(partitionedTable).max(64).default([]), {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['table'],
  }),
});

export const hypertable = z.object({
  table: qualifiedName,
  timeColumn: identifier.default('time'),
  chunkInterval: calendarInterval
    .default('1 day')
    .describe('Chunk interval; without TimescaleDB, the period of the native range partitions.'),
  compressAfter: calendarInterval
    .optional()
    .describe('Compress chunks wholly older than this (TimescaleDB TSL builds only).'),
  retainFor: calendarInterval
    .optional()
    .describe(
      'Drop chunks (partitions without TimescaleDB) wholly older than this: a policy with TSL, the rollover job otherwise.',
    ),
  spacePartition: z
    .object({ column: identifier, partitions: z.number().int().min(1).max(1024) })
    .optional()
    .describe('Hash space partitioning on a second column (add_dimension).'),
});

export const timeseriesSpec = z.object({
  hypertables: k8sMeta(z.array(hypertable).max(64).default([]), {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['table'],
  }),
});

export const aggregate = z.object({
  name: qualifiedName.describe('Continuous aggregate, or materialized view without TimescaleDB.'),
  schedule: cronSchedule.default('0 * * * *'),
  startOffset: calendarInterval.default('1 day'),
  endOffset: calendarInterval.default('1 hour'),
  concurrently: z
    .boolean()
    .default(true)
    .describe('Refresh materialized views CONCURRENTLY when they have a unique index and are populated.'),
});

export const aggregatesSpec = k8sMeta(z.array(aggregate).max(64).default([]), {
  'x-kubernetes-list-type': 'map',
  'x-kubernetes-list-map-keys': ['name'],
});

export const maintenanceSpec = z.object({
  schedule: cronSchedule.default('0 2 * * 0'),
  analyze: z.boolean().default(true),
  vacuum: z.boolean().default(true),
});

export const benchmarkScenario = z.object({
  name: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/),
  query: z
    .string()
    .min(1)
    .max(16384)
    .describe('A read-only SQL statement; it runs in a READ ONLY transaction.'),
  params: z.array(z.string().max(1024)).max(32).default([]),
  targetMs: z.number().positive().max(600000),
});

export const benchmarksSpec = z.object({
  schedule: cronSchedule.optional().describe('When to run the benchmarks; only on demand when absent.'),
  builtin: z.boolean().default(true).describe("Run the guide's four scenarios."),
  scenarios: k8sMeta(z.array(benchmarkScenario).max(32).default([]), {
    'x-kubernetes-list-type': 'map',
    'x-kubernetes-list-map-keys': ['name'],
  }),
  iterations: z.number().int().min(1).max(100000).default(100),
  warmup: z.number().int().min(0).max(10000).default(10),
  concurrency: z.number().int().min(1).max(64).default(1),
  regressionThreshold: z
    .number()
    .min(1)
    .max(100)
    .default(1.5)
    .describe(
      'p95 over baseline p95 above which a run is a regression (minor > 1.5, major > 2, critical > 3).',
    ),
});

/** A PostgreSQL memory setting as postgresql.conf writes it: 64MB, 1GB, 512kB. */
const pgMemory = z
  .string()
  .regex(/^[1-9][0-9]{0,6}(kB|MB|GB)$/, 'a size such as 64MB, 1GB or 512kB')
  .max(10);

export const embeddingsSpec = celRules(
  z.object({
    dimensions: celRules(
      z
        .number()
        .int()
        .min(1)
        .max(2000)
        .default(384)
        .describe(
          'Dimensions of media.item_embeddings.embedding (vector(N)); HNSW indexes take up to 2,000. Fixed once set: the stored vectors have this size.',
        ),
      [
        {
          rule: 'self == oldSelf',
          message: 'embeddings.dimensions cannot change: the stored vectors have the old size',
        },
      ],
    ),
    m: z
      .number()
      .int()
      .min(2)
      .max(100)
      .default(16)
      .describe("HNSW index: links per node (pgvector's default 16)."),
    efConstruction: z
      .number()
      .int()
      .min(4)
      .max(1000)
      .default(64)
      .describe("HNSW index: candidate list size while building (pgvector's default 64); at least 2 x m."),
    efSearch: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(40)
      .describe(
        "hnsw.ef_search of the similarity benchmark (pgvector's default 40), set per transaction; applications set it the same way.",
      ),
    maintenanceWorkMem: pgMemory
      .default('256MB')
      .describe(
        "maintenance_work_mem for the index build only, set in the migration's session (never globally). Keep it under the primary's memory limit.",
      ),
    targetMs: z
      .number()
      .positive()
      .max(600000)
      .default(10)
      .describe('p95 target of the similar-media-items benchmark scenario.'),
  }),
  [
    {
      rule: 'self.efConstruction >= 2 * self.m',
      message: 'embeddings.efConstruction must be at least 2 x embeddings.m (pgvector refuses a smaller one)',
      fieldPath: '.efConstruction',
      check: (e) => e.efConstruction >= 2 * e.m,
    },
  ],
);

export const monitoringSpec = z.object({
  intervalSeconds: z.number().int().min(5).max(3600).default(30),
  slowQueryMs: z.number().positive().max(3600000).default(1000),
  connectionUsagePercent: z.number().min(1).max(100).default(80),
  indexScanRatio: z.number().min(0).max(1).default(0.8),
  deadTupleRatio: z.number().min(0).max(1).default(0.1),
  cacheHitRatio: z.number().min(0).max(1).default(0.95),
});

export const homeOpsDatabaseSpec = celRules(
  z.object({
    postgres: postgresSpec.prefault({}),
    database: databaseSpec.prefault({}),
    pooler: poolerSpec.prefault({}),
    migrations: migrationsSpec.prefault({}),
    partitioning: partitioningSpec.prefault({}),
    timeseries: timeseriesSpec.prefault({}),
    aggregates: aggregatesSpec,
    maintenance: maintenanceSpec.prefault({}),
    benchmarks: benchmarksSpec.prefault({}),
    embeddings: embeddingsSpec
      .prefault({})
      .describe(
        "The guide's embeddings (phase 3), made when postgres.extensions lists vector and migrations.builtin is on: media.item_embeddings with an HNSW index (cosine), and the similar-media-items benchmark scenario.",
      ),
    monitoring: monitoringSpec.prefault({}),
    bootstrap: bootstrapSpec.optional(),
    backup: backupSpec
      .optional()
      .describe(
        'Continuous WAL archiving and scheduled backups with pgBackRest. Absent: no archiving and no backups. The operator owns archive_mode, archive_command and archive_timeout.',
      ),
  }),
  [
    {
      rule: "!has(self.backup) || !self.postgres.parameters.exists(k, k.lowerAscii() == 'archive_timeout')",
      message:
        'postgres.parameters.archive_timeout: with spec.backup the operator sets it from backup.archiveTimeoutSeconds: remove it from parameters',
      fieldPath: '.postgres.parameters',
      check: (s) =>
        !s.backup || !Object.keys(s.postgres.parameters).some((k) => k.toLowerCase() === 'archive_timeout'),
    },
  ],
);

const ratio = z.number().min(0).max(1);

export const homeOpsDatabaseStatus = z.object({
  ...baseStatus,
  endpoints: z
    .object({
      primary: z.string().optional().describe('host:port of the primary (the -rw Service).'),
      pooler: z.string().optional().describe('host:port of PgBouncer.'),
    })
    .optional(),
  secrets: z
    .object({
      superuser: z.string().optional(),
      app: z.string().optional(),
      replication: z.string().optional(),
      pooler: z.string().optional(),
    })
    .optional()
    .describe('Names of the generated Secrets (never their contents).'),
  extensions: z
    .array(z.object({ name: z.string(), version: z.string() }))
    .max(256)
    .optional()
    .describe(
      'Extensions installed in the application database (pg_extension), as the last probe read them.',
    ),
  timescale: z
    .object({
      available: z.boolean(),
      version: z.string().optional(),
      license: z.enum(['apache', 'timescale']).optional(),
    })
    .optional(),
  primary: z
    .object({
      responseMs: z
        .number()
        .min(0)
        .optional()
        .describe(
          'Median of the last five probes (SELECT 1), in ms; moves when it doubles, halves or changes by 5 ms. The exact last value is the metric homeops_database_response_seconds.',
        ),
      connections: z
        .object({
          active: z.number().int().min(0),
          idle: z.number().int().min(0),
          total: z.number().int().min(0),
          max: z.number().int().min(0),
          usagePercent: z.number().min(0),
        })
        .optional()
        .describe(
          'As measured when the total last left its band (2 connections or 10 %, whichever is larger) or max changed; the exact values are the metrics. HighConnectionUsage is judged on every probe.',
        ),
      cacheHitRatio: ratio.optional(),
      slowQueries: z.number().int().min(0).optional(),
      tablesLowIndexUsage: z.number().int().min(0).optional(),
      tablesHighDeadTuples: z.number().int().min(0).optional(),
    })
    .optional(),
  pooler: z
    .object({
      readyInstances: z.number().int().min(0).optional(),
      clientsActive: z
        .number()
        .int()
        .min(0)
        .optional()
        .describe(
          'This and the next three: as measured when they last moved by more than 2 or 10 % (whichever is larger), or to or from zero; the exact values are the metrics.',
        ),
      clientsWaiting: z.number().int().min(0).optional(),
      serversActive: z.number().int().min(0).optional(),
      serversIdle: z.number().int().min(0).optional(),
      maxWaitSeconds: z.number().min(0).optional(),
    })
    .optional(),
  migrations: z
    .object({
      applied: z.number().int().min(0).optional().describe('Migrations recorded as applied, all sets.'),
      sets: z
        .array(z.string())
        .max(34)
        .optional()
        .describe('Each set applied up to its last migration, as SET/VERSION_name.'),
      lastApplied: z.string().optional().describe('The last migration applied, as SET/VERSION_name.'),
      job: z.string().optional().describe('The migration Job of the current inputs.'),
      result: z.enum(['Running', 'Succeeded', 'Failed']).optional(),
      lastRunTime: z
        .string()
        .optional()
        .describe('When the last migration Job ended (one running keeps the time of the one before).'),
      failedMigration: z.string().optional().describe('file:line of the statement that failed.'),
    })
    .optional(),
  partitions: z
    .array(
      z.object({
        table: z.string(),
        count: z
          .number()
          .int()
          .min(0)
          .describe("Partitions (pg_inherits), or a hypertable's chunks, after the last rollover."),
        ahead: z.number().int().min(0).optional().describe('Partitions wholly in the future.'),
        oldest: z.string().optional().describe('The oldest partition kept.'),
        newest: z.string().optional(),
        lastRolloverTime: z.string().optional(),
        result: z.enum(['Succeeded', 'Failed']).optional(),
        message: z.string().optional().describe("The last rollover's error, when it failed."),
        skipped: z
          .array(z.string())
          .max(8)
          .optional()
          .describe(
            'What the spec asks for that this server cannot do, and why (compressAfter on an Apache-only TimescaleDB).',
          ),
      }),
    )
    .max(64)
    .optional(),
  schedules: z
    .array(
      z.object({
        name: z.string().describe('rollover, refresh[-HASH], maintain or bench.'),
        cronJob: z.string(),
        schedule: z.string(),
        suspended: z.boolean().describe('Suspended while the database is not Ready.'),
        lastScheduleTime: z.string().optional(),
        lastSuccessfulTime: z.string().optional(),
        lastRun: z
          .object({
            job: z.string(),
            result: z.enum(['Running', 'Succeeded', 'Failed']),
            time: z.string().optional(),
            summary: z.string().optional().describe("From the Job's termination message."),
          })
          .optional(),
        lastFailure: z
          .object({ job: z.string(), time: z.string().optional(), reason: z.string(), message: z.string() })
          .optional(),
      }),
    )
    .max(70)
    .optional(),
  backup: backupStatus.optional(),
  archiving: archivingStatus.optional(),
  recovery: recoveryStatus.optional(),
  benchmarks: z
    .object({
      lastRunTime: z.string().optional(),
      job: z.string().optional(),
      passed: z.boolean().optional(),
      baseline: z
        .object({ job: z.string(), runTime: z.string().optional(), pinned: z.boolean().optional() })
        .optional()
        .describe('The run the ratios compare with: the first successful one, or one pinned by annotation.'),
      scenarios: z
        .array(
          z.object({
            name: z.string(),
            p50Ms: z.number().min(0).optional(),
            p95Ms: z.number().min(0),
            p99Ms: z.number().min(0).optional(),
            targetMs: z.number().min(0),
            passed: z.boolean(),
            baselineP95Ms: z.number().min(0).optional(),
            ratio: z.number().min(0).optional().describe('p95 over the baseline p95.'),
            regression: z.enum(['minor', 'major', 'critical']).optional(),
            recallAt10: z
              .number()
              .min(0)
              .max(1)
              .optional()
              .describe(
                'Share of the exact top 10 (the same query without the approximate index) that the timed query returned; approximate scenarios only.',
              ),
          }),
        )
        .max(40)
        .optional(),
    })
    .optional(),
});

export const homeOpsDatabase = z.object({
  apiVersion: z.literal('homeops.io/v1alpha1'),
  kind: z.literal('HomeOpsDatabase'),
  metadata: objectMeta,
  spec: homeOpsDatabaseSpec.prefault({}),
  status: homeOpsDatabaseStatus.optional(),
});

export type HomeOpsDatabase = z.infer<typeof homeOpsDatabase>;
export type HomeOpsDatabaseSpec = z.infer<typeof homeOpsDatabaseSpec>;
export type HomeOpsDatabaseStatus = z.infer<typeof homeOpsDatabaseStatus>;

export const homeOpsDatabaseKind = {
  kind: 'HomeOpsDatabase',
  plural: 'homeopsdatabases',
  singular: 'homeopsdatabase',
  shortNames: ['hodb'],
  names: {
    max: 52,
    why: 'the StatefulSet NAME labels its pod with NAME-<10-character revision hash>, and a label value has at most 63',
  },
  schema: homeOpsDatabase,
  spec: homeOpsDatabaseSpec,
  status: homeOpsDatabaseStatus,
  printerColumns: [
    readyColumn,
    phaseColumn,
    {
      name: 'Conn%',
      type: 'number',
      jsonPath: '.status.primary.connections.usagePercent',
      description: 'Connection usage of the primary.',
    },
    {
      name: 'Pool-Waiting',
      type: 'integer',
      jsonPath: '.status.pooler.clientsWaiting',
      description: 'Clients waiting for a server connection in PgBouncer.',
    },
    ageColumn,
  ],
} as const;
