/**
 * Runs asked for by annotation (`homeops.io/run`): one Job now, then the annotation goes; and the
 * removal of an annotation that is an instruction, once it is carried out.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { MERGE_PATCH } from '../../runtime/client.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { Resources } from '../../runtime/types.ts';
import { RUN_ANNOTATION } from './names.ts';
import type { Db } from './observe.ts';
import { BACKUP_TYPES, backupSchedule, benchArgs, buildRunJob, type Schedule } from './schedules.ts';

/**
 * `homeops.io/run: rollover|refresh|maintain|bench`: one Job now from the schedule's
 * template (benchmarks also without a schedule), then the annotation is removed so it runs
 * once. Waits (annotation kept) while the database is not Ready; an unknown value is named in
 * a Warning Event and removed.
 */
export async function runNow(
  db: Db,
  ctx: ReconcileContext,
  wanted: Schedule[],
  ready: boolean,
  operatorImage: string,
) {
  const value = db.metadata.annotations?.[RUN_ANNOTATION];
  if (!value) return 'none';
  const bench: Schedule = {
    id: 'bench',
    kind: 'bench',
    schedule: '',
    args: benchArgs(db),
    viaPooler: true,
  };
  // Each backup type on demand, scheduled or not; `backup` alone is one full backup.
  const backups = db.spec.backup ? BACKUP_TYPES.map((type) => backupSchedule(db, type, '')) : [];

  const runnable = [
    ...wanted.filter((s) => s.kind !== 'backup'),
    ...(wanted.some((s) => s.kind === 'bench') ? [] : [bench]),
    ...backups,
  ];
  const matching = runnable.filter(
    (s) =>
      s.id === value ||
      (s.kind === value && s.kind !== 'backup') ||
      (value === 'backup' && s.id === 'backup-full'),
  );
  if (!matching.length) {
    await ctx.writer.event(db, {
      type: 'Warning',
      reason: 'UnknownRun',
      note: `${RUN_ANNOTATION}: "${value}" names no job of this database: one of ${[...new Set([...runnable.map((s) => s.id), ...(backups.length ? ['backup'] : [])])].join(', ')}`,
      action: 'Run',
    });
    await removeAnnotation(db, ctx, RUN_ANNOTATION);
    return 'none';
  }
  if (!ready) return 'waiting';
  // Named by the object version that carries the annotation: a second reconcile that sees the
  // same version (the removal not yet in the cache) makes the same Job, not a second run.
  const suffix = createHash('sha256')
    .update(`${value}/${db.metadata.resourceVersion}`)
    .digest('hex')
    .slice(0, 8);
  for (const s of matching) {
    const job = buildRunJob(db, s, operatorImage, suffix);
    await ctx.writer.applyChild(Resources.Job, job, undefined);
    await ctx.writer.event(db, {
      type: 'Normal',
      reason: 'RunStarted',
      note: `${RUN_ANNOTATION}: ${value}: Job ${job.metadata.name}`,
      action: 'Run',
    });
  }
  await removeAnnotation(db, ctx, RUN_ANNOTATION);
  return 'started';
}

export async function removeAnnotation(db: Db, ctx: ReconcileContext, key: string) {
  await ctx.client.patch(
    Resources.HomeOpsDatabase,
    db.metadata.namespace!,
    db.metadata.name!,
    { metadata: { annotations: { [key]: null } } },
    MERGE_PATCH,
  );
}

/**
 * A database with spec.backup and no backup yet gets its first full backup as soon as it is
 * Ready (point-in-time recovery needs a base backup; waiting for the weekly schedule would
 * leave a week without one). Once: the Job's name is fixed, and a failed one stays until the
 * schedule's next backup succeeds. True when it made the Job.
 */
export async function firstBackup(
  db: Db,
  ctx: ReconcileContext,
  runs: { kind: string }[],
  prev: HomeOpsDatabaseStatus,
  operatorImage: string,
): Promise<boolean> {
  if (!db.spec.backup || prev.backup?.lastSuccessful || runs.some((r) => r.kind === 'backup')) return false;
  const job = buildRunJob(db, backupSchedule(db, 'full', ''), operatorImage, 'initial');
  if (ctx.cache.get(Resources.Job, db.metadata.namespace, job.metadata.name!)) return false;
  await ctx.writer.applyChild(Resources.Job, job, undefined);
  await ctx.writer.event(db, {
    type: 'Normal',
    reason: 'BackupStarted',
    note: `the first full backup: Job ${job.metadata.name}`,
    action: 'Backup',
  });
  return true;
}
