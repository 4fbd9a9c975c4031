/** Every child a HomeOpsDatabase asks for, in the order they are applied. Pure. */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { buildBackupAccess, buildBackupRepoClaim, repoVolumeSpec } from './backup.ts';
import {
  buildConfigMap,
  buildHeadlessService,
  buildPrimaryPdb,
  buildRwService,
  buildStatefulSet,
} from './builders.ts';
import type { ParameterRecord } from './parameters.ts';
import { buildPoolerDeployment, buildPoolerPdb, buildPoolerService } from './pooler.ts';
import type { RecoveryPlan } from './recovery.ts';

/** Every child the spec asks for, in apply order; the pooler's only when it is enabled. */
export function buildChildren(
  db: HomeOpsDatabase,
  secretsDigest: string,
  images: DefaultImages = DEFAULT_IMAGES,
  /** What the parameter gate records on the ConfigMap (parameters.ts). */
  record: ParameterRecord = {},
  /**
   * What the cache already holds: the backup repository's PVC (made once, then only grown,
   * volumes.ts), and the backup Role (its RoleBinding is applied once the Role exists: the API
   * refuses a binding to a Role it cannot find unless the binder may `bind`, which the operator
   * is not given).
   */
  existing: { repo?: boolean; role?: boolean } = {},
  /** spec.bootstrap.recovery as decided (recovery.ts). */
  recovery?: RecoveryPlan,
  /** NAME-backup-s3, made from the user's Secrets (repository.ts: s3SecretFor). */
  s3Secret?: KubeObject,
): KubeObject[] {
  const out = [
    buildConfigMap(db, record, recovery),
    buildHeadlessService(db),
    buildRwService(db),
    buildStatefulSet(db, secretsDigest, images, recovery),
    buildPrimaryPdb(db),
  ];
  if (db.spec.backup)
    out.push(
      ...(existing.repo || !repoVolumeSpec(db) ? [] : [buildBackupRepoClaim(db)]),
      ...buildBackupAccess(db, !!existing.role),
    );
  if (s3Secret) out.push(s3Secret);
  if (db.spec.pooler.enabled) {
    out.push(buildPoolerDeployment(db, secretsDigest, images), buildPoolerService(db), buildPoolerPdb(db));
  }
  return out;
}
