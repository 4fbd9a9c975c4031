/** Names, labels and paths of a HomeOpsDatabase's Jobs: one place, so builders and reconcile agree. */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { OWNER_LABEL } from '../../common/labels.ts';
import { fitName } from '../../common/names.ts';
import { MANAGED_BY } from '../../runtime/types.ts';

/** The second writer of a HomeOpsDatabase's status: the Jobs' results, beside the health. */
export const JOBS_FIELD_MANAGER = 'homeops-operator-jobs';
/** Any new value runs the migrations again with the same inputs (after a failure). */
export const RETRY_MIGRATIONS = 'homeops.io/retry-migrations';
/** A Job's inputs: the digest in its name, and what went into it. */
export const INPUTS_ANNOTATION = 'homeops.io/inputs';
export const JOB_LABEL = 'homeops.io/job';
export const HASH_LABEL = 'homeops.io/inputs-hash';
/** A scheduled job's schedule id (its CronJob's suffix), on the CronJob and its Jobs. */
export const SCHEDULE_LABEL = 'homeops.io/schedule';
/** `homeops.io/run: rollover|refresh|maintain|bench`: one run now; the operator removes it. */
export const RUN_ANNOTATION = 'homeops.io/run';
/** `homeops.io/benchmark-baseline: latest`: the last run becomes the baseline; removed after. */
export const BASELINE_ANNOTATION = 'homeops.io/benchmark-baseline';
/** The operator image's user (its Dockerfile's, and hack/images.sh's). */
export const OPERATOR_UID = 1000;
export const MIGRATIONS_DIR = '/etc/homeops/migrations';
export const APP_SECRET_DIR = '/etc/homeops/secrets/app';

export type JobKind = 'migrate' | 'rollover' | 'refresh' | 'maintain' | 'bench' | 'backup';

/** `NAME-migrate-HASH`, within the 63 characters a Job's name may have (its pods' label). */
export const jobName = (db: HomeOpsDatabase, job: JobKind, hash: string) =>
  fitName(db.metadata.name!, `${job}-${hash}`, 63);

/** A migration set's name from its ConfigMap's (set names are [a-z0-9-]). */
export const setName = (configMap: string) => configMap.replace(/\./g, '-');

export function jobLabels(db: HomeOpsDatabase, job: JobKind) {
  return {
    'app.kubernetes.io/name': 'homeops-job',
    'app.kubernetes.io/instance': db.metadata.name!,
    'app.kubernetes.io/component': job,
    ...MANAGED_BY,
    [OWNER_LABEL.HomeOpsDatabase]: db.metadata.name!,
    [JOB_LABEL]: job,
  };
}
