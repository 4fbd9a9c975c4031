/** Every child a HomeOpsDatabase asks for, in the order they are applied. Pure. */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { DEFAULT_IMAGES, type DefaultImages } from '../../images.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { buildBackupAccess, buildBackupRepoClaim } from './backup.ts';
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
  /** The backup repository's PVC exists: it is made once, then only grown (volumes.ts). */
  repoExists = false,
  /** spec.bootstrap.recovery as decided (recovery.ts). */
  recovery?: RecoveryPlan,
): KubeObject[] {
  const out = [
    buildConfigMap(db, record, recovery),
    buildHeadlessService(db),
    buildRwService(db),
    buildStatefulSet(db, secretsDigest, images, recovery),
    buildPrimaryPdb(db),
  ];
  if (db.spec.backup) out.push(...(repoExists ? [] : [buildBackupRepoClaim(db)]), ...buildBackupAccess(db));
  if (db.spec.pooler.enabled) {
    out.push(buildPoolerDeployment(db, secretsDigest, images), buildPoolerService(db), buildPoolerPdb(db));
  }
  return out;
}
