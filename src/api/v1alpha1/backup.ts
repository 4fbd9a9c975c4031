/**
 * spec.backup of a HomeOpsDatabase: continuous WAL archiving and scheduled physical backups with
 * pgBackRest, into a repository on a volume of its own. status.backup (the backups' writer) and
 * status.archiving (the database's health writer, from pg_stat_archiver) report them.
 */
import { z } from 'zod';
import { celRules, cronSchedule, dnsLabel, secretKeyRef, storage } from './common.ts';

/** host or host:port, as an S3 endpoint is written (no scheme: it is always https). */
export const S3_ENDPOINT_PATTERN = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?$/;

export const s3Repository = z.object({
  endpoint: z
    .string()
    .max(259)
    .regex(S3_ENDPOINT_PATTERN)
    .describe(
      'The S3 endpoint, host or host:port (always HTTPS): s3.eu-west-1.amazonaws.com, minio.storage.svc:9000, 198.18.1.1:8333.',
    ),
  bucket: z
    .string()
    .min(3)
    .max(63)
    .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/)
    .describe('The bucket (it must exist; the operator never creates or deletes one).'),
  region: z
    .string()
    .min(1)
    .max(63)
    .regex(/^[a-z0-9-]+$/)
    .default('us-east-1'),
  path: z
    .string()
    .max(512)
    .regex(/^\/[A-Za-z0-9._/-]*$/)
    .optional()
    .describe("The repository's path in the bucket. Default: /homeops/NAMESPACE/NAME, one per database."),
  uriStyle: z
    .enum(['host', 'path'])
    .default('host')
    .describe(
      'host: BUCKET.ENDPOINT (AWS); path: ENDPOINT/BUCKET (most self-hosted stores, and any endpoint given as an IP address).',
    ),
  credentials: secretKeyRef.describe(
    'A Secret with the keys accessKeyId and secretAccessKey. A change to it is used by the next archive-push and backup, without a restart.',
  ),
  caSecretRef: z
    .object({
      name: dnsLabel.describe('Name of a Secret in the same namespace.'),
      key: z
        .string()
        .max(253)
        .regex(/^[-._a-zA-Z0-9]+$/)
        .default('ca.crt'),
    })
    .optional()
    .describe(
      "A CA bundle (PEM) the endpoint's certificate is verified against, for a private CA. Default: the system CAs.",
    ),
});
export type S3Repository = z.infer<typeof s3Repository>;

export const backupRepository = celRules(
  z.object({
    volume: storage
      .optional()
      .describe(
        "A PersistentVolumeClaim of the repository's own (NAME-backup-repo), mounted in the primary's pod: backups and archived WAL live there, apart from the data volume. Retain (the default) keeps it when the database is deleted, so a database can still be recovered from it. The default repository when s3 is absent.",
      ),
    s3: s3Repository
      .optional()
      .describe('An S3-compatible object store: backups and archived WAL are sent there over HTTPS.'),
  }),
  [
    {
      rule: '!(has(self.volume) && has(self.s3))',
      message: 'backup.repository: volume or s3, not both',
      check: (r) => !(r.volume && r.s3),
    },
  ],
);
export const backupSchedules = celRules(
  z.object({
    full: cronSchedule
      .optional()
      .describe('When to take a full backup (5-field cron, UTC). Default: "0 1 * * 0", Sundays at 01:00.'),
    diff: cronSchedule
      .optional()
      .describe('When to take a differential backup (changes since the last full).'),
    incr: cronSchedule
      .optional()
      .describe('When to take an incremental backup (changes since the last backup of any type).'),
  }),
  [
    {
      rule: '!(has(self.full) && has(self.diff) && self.full == self.diff) && !(has(self.full) && has(self.incr) && self.full == self.incr) && !(has(self.diff) && has(self.incr) && self.diff == self.incr)',
      message:
        'backup.schedules: two backup types on the same schedule would start together and one would wait for the other: give each its own',
      check: (s) => {
        const set = [s.full, s.diff, s.incr].filter((x) => x !== undefined);
        return new Set(set).size === set.length;
      },
    },
  ],
);

export const backupRetention = z.object({
  full: z
    .number()
    .int()
    .min(1)
    .max(9999)
    .default(2)
    .describe(
      "Full backups kept (fullType: count), or days they are kept (fullType: time). pgBackRest's expire applies it after each backup; the WAL older than the oldest full kept goes with it.",
    ),
  fullType: z.enum(['count', 'time']).default('count'),
});

export const backupSpec = z.object({
  repository: backupRepository.prefault({}),
  schedules: backupSchedules.prefault({}),
  retention: backupRetention.prefault({}),
  archiveTimeoutSeconds: z
    .number()
    .int()
    .min(10)
    .max(3600)
    .default(60)
    .describe(
      'archive_timeout: a WAL segment is switched and archived at least this often when there are writes, which bounds the data a lost volume can cost (the RPO).',
    ),
});
export type BackupSpec = z.infer<typeof backupSpec>;

/** The default full schedule when the spec names none. */
export const DEFAULT_FULL_SCHEDULE = '0 1 * * 0';

const backupInfo = z.object({
  label: z.string().describe("pgBackRest's backup label."),
  type: z.enum(['full', 'diff', 'incr']),
  startTime: z.string(),
  stopTime: z.string(),
  walStart: z.string().optional(),
  walStop: z.string().optional(),
  lsnStop: z.string().optional().describe('The LSN at which the backup is consistent.'),
});

export const backupStatus = z
  .object({
    lastSuccessful: backupInfo
      .extend({
        job: z.string().optional(),
        databaseBytes: z.number().int().min(0).optional().describe('Size of the database the backup copied.'),
        repositoryBytes: z
          .number()
          .int()
          .min(0)
          .optional()
          .describe('What the backup takes in the repository.'),
      })
      .optional(),
    lastFailed: z
      .object({ job: z.string(), time: z.string().optional(), reason: z.string(), message: z.string() })
      .optional(),
    firstRecoverabilityPoint: z
      .string()
      .optional()
      .describe('The earliest time a recovery can target: the end of the oldest backup kept.'),
    backups: z
      .array(backupInfo)
      .max(32)
      .optional()
      .describe("The backups in the repository after the last backup Job (pgBackRest's info), newest last."),
    walArchived: z
      .object({ min: z.string(), max: z.string() })
      .optional()
      .describe('The oldest and newest WAL segment in the repository, as the last backup Job read them.'),
  })
  .describe('Backups, as the last backup Job read them from the repository (pgbackrest info).');

export const archivingStatus = z
  .object({
    lastArchivedWal: z.string().optional(),
    lastArchivedTime: z.string().optional(),
    lastFailedWal: z.string().optional(),
    lastFailedTime: z.string().optional(),
  })
  .describe("WAL archiving, from the primary's pg_stat_archiver at the last probe.");

/** pg_lsn as PostgreSQL writes it: two hex numbers, 0/16B3748. */
export const LSN_PATTERN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

export const recoverySpec = celRules(
  z.object({
    source: dnsLabel.describe(
      'The HomeOpsDatabase (in this namespace) whose backup repository is restored: its volume is mounted read-only in the new primary (ReadWriteOnce: the two pods share a node).',
    ),
    target: celRules(
      z
        .object({
          time: z.iso
            .datetime({ offset: true })
            .optional()
            .describe('Replay WAL up to this moment (RFC 3339) and stop there.'),
          lsn: z.string().regex(LSN_PATTERN).optional().describe('Replay WAL up to this LSN.'),
        })
        .prefault({})
        .describe('Where recovery stops; neither: all the WAL the repository has (latest).'),
      [
        {
          rule: '!(has(self.time) && has(self.lsn))',
          message: 'bootstrap.recovery.target: time or lsn, not both',
          check: (t) => !(t.time && t.lsn),
        },
      ],
    ),
  }),
  [{ rule: 'self == oldSelf', message: 'bootstrap.recovery is immutable: it says how the data was made' }],
);

export const bootstrapSpec = z.object({
  recovery: recoverySpec
    .optional()
    .describe(
      "Make the new database from a backup instead of initdb: the operator picks the last backup that ended before the target (never a later one instead), restores it, replays WAL to the target, promotes, and sets the new database's own passwords. A target before the first recoverable point, or a source without backups, is Stalled with a reason; nothing is made.",
    ),
});
export type RecoverySpec = z.infer<typeof recoverySpec>;

export const recoveryStatus = z
  .object({ source: z.string(), backup: z.string(), target: z.string() })
  .describe('How this database was made: the backup restored, of which source, to which target.');
