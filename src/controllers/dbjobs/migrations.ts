/**
 * The migrations of a database: their inputs (the builtin set and the listed ConfigMaps), one
 * Job per set of inputs made once the database is Ready, the Jobs of older inputs pruned.
 */
import { createHash } from 'node:crypto';
import type { HomeOpsDatabaseStatus } from '../../api/v1alpha1/index.ts';
import { ownerName } from '../../common/labels.ts';
import { BUILTIN_DIR, loadMigrationSet } from '../../jobs/migrate.ts';
import { adoptByLabel } from '../../runtime/adopt.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { buildMigrationJob, type ConfigMapData, migrationInputs } from './builders.ts';
import { HASH_LABEL, JOB_LABEL, jobName } from './names.ts';
import { type Db, type Job, jobView, podsOf } from './observe.ts';
import { type MigrationObservation, migrationStatus } from './status.ts';

/** The digest of the builtin set shipped with this operator (its files' checksums). */
export function builtinDigest(): string {
  const set = loadMigrationSet(BUILTIN_DIR, 'builtin');
  return createHash('sha256')
    .update(set.map((m) => `${m.version}:${m.checksum}`).join('\n'))
    .digest('hex');
}

/**
 * The listed ConfigMaps' data. A user's ConfigMap gets the operator's label (not an owner:
 * deleting the database leaves it), so that the label-scoped cache holds it and its change
 * brings the database back; until then it is read directly.
 */
export async function migrationConfigMaps(
  db: Db,
  ctx: ReconcileContext,
): Promise<Map<string, ConfigMapData>> {
  const ns = db.metadata.namespace!;
  const out = new Map<string, ConfigMapData>();
  for (const { name } of db.spec.migrations.configMaps) {
    const cm = await adoptByLabel<KubeObject & { data?: ConfigMapData }>(ctx, Resources.ConfigMap, ns, name);
    if (cm) out.set(name, cm.data ?? {});
  }
  return out;
}

/** The migration Job of the current inputs (made once the database is Ready), older ones pruned. */
export async function migrations(
  db: Db,
  ctx: ReconcileContext,
  ready: boolean,
  opts: { operatorImage: string; builtinDigest: string },
) {
  const ns = db.metadata.namespace!;
  const o: MigrationObservation = { databaseReady: ready };
  const data = await migrationConfigMaps(db, ctx);
  const inputs = migrationInputs(db, (name) => data.get(name), opts.builtinDigest);
  if ('missing' in inputs) o.missing = inputs.missing;
  else {
    const name = jobName(db, 'migrate', inputs.hash);
    let job = ctx.cache.get<Job>(Resources.Job, ns, name);
    if (!job && ready) {
      const desired = buildMigrationJob(db, inputs.hash, inputs.summary, opts.operatorImage);
      await ctx.writer.applyChild(Resources.Job, desired, undefined);
      job = desired as Job;
      ctx.log.info({ job: name, inputs: inputs.summary }, 'migration Job made');
    }
    if (job) {
      o.job = jobView(job, podsOf(ctx, job));
      // One migration Job per database: those of older inputs go (their pods with them).
      for (const old of ctx.cache.owned<Job>(Resources.Job, db.metadata.uid!))
        if (
          ownerName('HomeOpsDatabase', old) === db.metadata.name &&
          old.metadata.labels?.[JOB_LABEL] === 'migrate' &&
          old.metadata.labels?.[HASH_LABEL] !== inputs.hash &&
          !old.metadata.deletionTimestamp
        )
          await ctx.writer.deleteChild(Resources.Job, ns, old.metadata.name!);
    }
  }
  return { status: migrationStatus(o, (db.status ?? {}) as HomeOpsDatabaseStatus), missing: !!o.missing };
}
